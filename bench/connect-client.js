'use strict'

// One connect variant of section 3, in a process of its own, as a server runs: patched (or not)
// from start-up, never toggled, its connect code shaped by one kind of options only. Toggling the
// patch and switching lookups in one process made Node's connect path polymorphic and slowed every
// by-name variant by ~10 µs a connection (measured: 0.77x in one process, 0.85x in separate ones,
// same code).
//
// Usage: node connect-client.js <variant> <port>. Reads one line per round from stdin,
// "<ms> <concurrency>", runs connectLoop for that long and writes {rate, cpuUs} as one JSON line.
// Variants: ipv4 (patchNet, by name), dnsLookup (unpatched, by name), cacheable (by name with
// cacheable-lookup's lookup), byIp (unpatched), byIpPatched (patchNet, by IP), ipv4Observed
// (patchNet, by name, with a subscriber to the ipv4-force:lookup diagnostics channel).

const readline = require('node:readline')
const { PKG } = require('./util.js')
const { connectLoop } = require('./load.js')

const CONNECT_NAME = 'connect.bench.test'

async function optionsFor(variant, port) {
  switch (variant) {
    case 'ipv4':
      require(PKG).patchNet()
      return { host: CONNECT_NAME, port }
    case 'ipv4Observed':
      require(PKG).patchNet()
      require('node:diagnostics_channel').subscribe('ipv4-force:lookup', () => {})
      return { host: CONNECT_NAME, port }
    case 'byIpPatched':
      require(PKG).patchNet()
      return { host: '127.0.0.1', port }
    case 'dnsLookup':
      return { host: CONNECT_NAME, port }
    case 'cacheable': {
      const { default: CacheableLookup } = await import('cacheable-lookup')
      const cl = new CacheableLookup()
      cl.servers = ['127.0.0.1']
      cl._iface = { has4: true, has6: false } // see setup() in scenarios.js
      return { host: CONNECT_NAME, port, lookup: cl.lookup }
    }
    case 'byIp':
      return { host: '127.0.0.1', port }
    default:
      throw new Error(`connect-client: unknown variant ${variant}`)
  }
}

async function main() {
  const [variant, port] = process.argv.slice(2)
  const opts = await optionsFor(variant, Number(port))
  await connectLoop(opts, 100, 1) // warm-up: the name is cached, the code compiled
  const lines = readline.createInterface({ input: process.stdin })
  process.stdout.write('ready\n')
  for await (const line of lines) {
    const [ms, concurrency] = line.split(' ').map(Number)
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    const rate = await connectLoop(opts, ms, concurrency)
    const c = process.cpuUsage(c0)
    const seconds = (performance.now() - t0) / 1000
    process.stdout.write(`${JSON.stringify({ rate, cpuUs: (c.user + c.system) / (rate * seconds) })}\n`)
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
