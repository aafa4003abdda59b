'use strict'

// Memory check, in a fresh process (run with --expose-gc): RSS before and after 1 M hot and
// 100 k cold lookups. Prints one JSON line. Usage: node --expose-gc memory.js <pkg> <hot> <prefix>

const [pkgDir, hotName, coldPrefix, hotArg, coldArg] = process.argv.slice(2)
const HOT = Number(hotArg || 1_000_000)
const COLD = Number(coldArg || 100_000)
const IN_FLIGHT = 100

const { resolveIPv4 } = require(pkgDir)

const MB = 1024 * 1024
function settle() {
  for (let i = 0; i < 3; i++) global.gc()
  return process.memoryUsage()
}

async function main() {
  // Warm up: resolver built, hot name cached, code paths compiled.
  await resolveIPv4(hotName)
  for (let i = 0; i < 10_000; i++) await resolveIPv4(hotName)
  await Promise.all(Array.from({ length: 200 }, (_, i) => resolveIPv4(`${coldPrefix}-w${i}.bench.test`)))
  const before = settle()

  let t0 = performance.now()
  for (let i = 0; i < HOT; i++) await resolveIPv4(hotName)
  const hotMs = performance.now() - t0
  const afterHot = settle()

  t0 = performance.now()
  let next = 0
  let errors = 0
  let peakRss = 0
  async function worker() {
    while (next < COLD) {
      const i = next++
      try {
        await resolveIPv4(`${coldPrefix}-${i}.bench.test`)
      } catch {
        errors++
      }
      if ((i & 4095) === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss())
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  const coldMs = performance.now() - t0
  const after = settle()

  process.stdout.write(JSON.stringify({
    rssBefore: before.rss / MB,
    rssAfterHot: afterHot.rss / MB,
    rssAfter: after.rss / MB,
    peakRss: Math.max(peakRss, after.rss) / MB,
    heapBefore: before.heapUsed / MB,
    heapAfter: after.heapUsed / MB,
    hotMs,
    coldMs,
    errors,
  }) + '\n')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
