'use strict'

// Cold-lookup probe for the cost of following the system's files, run in a fresh process (the
// check interval is read when the addon first resolves): `IPV4_FORCE_CONFIG_CHECK_MS=0` stats
// /etc/resolv.conf and /etc/hosts on every lookup that needs a query, the default once a second.
// Keeps 100 lookups of new names in flight for `ms`. Prints one JSON line: rate, CPU per lookup,
// and the checks done. Usage: node config-check.js <pkg> <tag> <ms>

const [pkgDir, tag, durationMs] = process.argv.slice(2)
const { resolveIPv4, stats } = require(pkgDir)
const { openLoad } = require('./load.js')
const { sleep } = require('./util.js')

async function main() {
  await resolveIPv4(`${tag}-warm.bench.test`)
  const checks0 = stats().configChecks
  const c0 = process.cpuUsage()
  const load = openLoad(resolveIPv4, `${tag}-`, 100)
  await sleep(Number(durationMs))
  const { ops, errors, firstError, seconds } = await load.stop()
  if (errors > 0) throw firstError
  const cpu = process.cpuUsage(c0)
  process.stdout.write(JSON.stringify({
    rate: ops / seconds,
    cpuUsPerLookup: (cpu.user + cpu.system) / ops,
    checks: stats().configChecks - checks0,
    ops,
  }) + '\n')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
