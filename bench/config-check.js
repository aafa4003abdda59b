'use strict'

// Cold-lookup probe for the cost of following the system's files, run in a fresh process (the
// check interval is read when the addon first resolves): `IPV4_FORCE_CONFIG_CHECK_MS=0` stats
// /etc/resolv.conf and /etc/hosts on every lookup that needs a query, the default once a second.
// Keeps 100 lookups of new names in flight for `ms`. Prints one JSON line: rate, CPU per lookup,
// and the checks done. Usage: node config-check.js <pkg> <tag> <ms>

const [pkgDir, tag, durationMs] = process.argv.slice(2)
const { resolveIPv4, stats } = require(pkgDir)

async function main() {
  await resolveIPv4(`${tag}-warm.bench.test`)
  let n = 0
  let ops = 0
  let stopped = false
  const worker = async () => {
    while (!stopped) {
      await resolveIPv4(`${tag}-${n++}.bench.test`)
      ops++
    }
  }
  const checks0 = stats().configChecks
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const all = Promise.all(Array.from({ length: 100 }, worker))
  await new Promise((resolve) => setTimeout(resolve, Number(durationMs)))
  stopped = true
  await all
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
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
