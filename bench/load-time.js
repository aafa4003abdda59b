'use strict'

// Load-time probe, run in a fresh process: how long require() of the package takes, and the
// first lookup after it (tokio runtime start, resolv.conf read, one query). Prints one JSON line.
// Usage: node load-time.js <pkg> <cold name>

const [pkgDir, name] = process.argv.slice(2)

const t0 = process.hrtime.bigint()
const { resolveIPv4 } = require(pkgDir)
const t1 = process.hrtime.bigint()
resolveIPv4(name).then(
  () => {
    const t2 = process.hrtime.bigint()
    process.stdout.write(JSON.stringify({ requireMs: Number(t1 - t0) / 1e6, firstLookupMs: Number(t2 - t1) / 1e6 }) + '\n')
  },
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
