'use strict'

// Cold-lookup load for profiling, in the bench's namespace with its dnsmasq:
//   perf record -g -- node bench/profile.js [ipv4|resolve4] [seconds]
// (an unstripped build shows the addon's functions: CARGO_PROFILE_RELEASE_STRIP=none npm run build).
// 100 lookups in flight, every name new; prints the rate and CPU use at the end.

const dns = require('node:dns')

const { INNER, PKG, TMP, cleanup, cleanupOnExit } = require('./util.js')

if (!process.env[INNER]) {
  const { checkCanRun, runInNamespace } = require('./namespace.js')
  checkCanRun()
  process.exit(runInNamespace(__filename, process.argv.slice(2)).status ?? 1)
} else {
  const { startDnsmasq, waitReady } = require('./dns-servers.js')
  const { coldRun } = require('./load.js')
  cleanupOnExit()
  ;(async () => {
    const dm = startDnsmasq({ port: 53, logFile: `${TMP}/dnsmasq.log` })
    await waitReady(dm)
    const [impl = 'ipv4', seconds = '5'] = process.argv.slice(2)
    const { resolveIPv4 } = require(PKG)
    const resolver = new dns.promises.Resolver()
    resolver.setServers(['127.0.0.1'])
    const op = impl === 'resolve4' ? (name) => resolver.resolve4(name) : (name) => resolveIPv4(name)
    await coldRun(dm, op, 'profile-warm-', 500)
    const r = await coldRun(dm, op, 'profile-', Number(seconds) * 1000)
    console.log(`${impl}: ${Math.round(r.rate)} lookups/s, node CPU ${Math.round(r.nodeCpu * 100)}%, ` +
      `dnsmasq CPU ${Math.round(r.dnsmasqCpu * 100)}%, ${r.errors} errors`)
    cleanup()
  })()
}
