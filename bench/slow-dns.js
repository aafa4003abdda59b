'use strict'

// Deliberately slow DNS zones, in their own process (dnsmasq forwards them here), so that lookups
// can be "in flight" without burning CPU: `node slow-dns.js <port> slow=200 rtt=20` answers every
// *.slow.bench.test after 200 ms and every *.rtt.bench.test after 20 ms, with A 127.0.0.1 (TTL 300 s;
// AAAA: NODATA, after the same delay). Prints "ready" once listening; exits when stdin closes.

const { startDnsServer } = require('../__test__/helpers/dns-server.js')

const [port, ...zones] = process.argv.slice(2)
const zone = {}
for (const spec of zones) {
  const [label, delay] = spec.split('=')
  zone[`*.${label}.bench.test`] = { A: ['127.0.0.1'], ttl: 300, delayMs: Number(delay) }
}

startDnsServer({ port: Number(port), tcp: false, zone }).then(
  () => process.stdout.write('ready\n'),
  (err) => {
    console.error(`slow-dns: ${err.message}`)
    process.exit(1)
  },
)
process.stdin.on('data', () => {})
process.stdin.on('end', () => process.exit(0))
