'use strict'

// A deliberately slow DNS server for the threadpool check: every *.slow.bench.test has A
// 127.0.0.1, answered after DELAY ms, so that lookups can be "in flight" without burning CPU.
// Runs in its own process (dnsmasq forwards slow.bench.test here). Prints "ready" once listening.
// Usage: node slow-dns.js <port> <delay ms>

const { startDnsServer } = require('../__test__/helpers/dns-server.js')

const [port, delayMs] = process.argv.slice(2).map(Number)

startDnsServer({
  port,
  tcp: false,
  zone: { '*.slow.bench.test': { A: ['127.0.0.1'], ttl: 300, delayMs } },
}).then(
  () => process.stdout.write('ready\n'),
  (err) => {
    console.error(`slow-dns: ${err.message}`)
    process.exit(1)
  },
)
process.stdin.on('data', () => {})
process.stdin.on('end', () => process.exit(0))
