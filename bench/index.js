'use strict'

// `npm run bench`: ipv4-force against dns.lookup, dns.promises.resolve4 and cacheable-lookup@7,
// answered by a local dnsmasq, inside a private network namespace (namespace.js). The run prints
// one table and exits 0 even when a target is missed (it is a report); it exits non-zero only when
// the bench itself cannot run.
//
// `npm run bench -- --cores 1,2` runs the hot and cold comparisons once per core count instead,
// pinned with taskset, and prints how each implementation scales (sweep.js).
//
// Modules: namespace.js (the namespace), dns-servers.js (dnsmasq, slow-dns.js), load.js (load
// generators), scenarios.js (the table's sections), threadpool-batch.js / threadpool-p99.js
// (section 5), table.js (output), util.js; profile.js is a cold-lookup load to run under perf.
// Helpers run as their own processes: tcp-server.js (connect target), slow-dns.js (delayed zones),
// memory.js (RSS), load-time.js (require() time).
//
// Environment knobs: BENCH_SCALE=0.5 shortens every timed window (default 1); UV_THREADPOOL_SIZE
// and TOKIO_WORKER_THREADS (read by the addon when it loads) pass through and are printed.

const { INNER, now, cleanup, cleanupOnExit } = require('./util.js')

async function full() {
  const scenarios = require('./scenarios.js')
  const { printHeader, printTable } = require('./table.js')
  const ctx = await scenarios.setup()
  printHeader(ctx.clVersion)
  await scenarios.hot(ctx)
  const { cold } = await scenarios.cold(ctx)
  await scenarios.headroom(ctx, cold)
  await scenarios.configCheck(ctx)
  await scenarios.poolPath(ctx)
  scenarios.cleanSlate(ctx)
  await scenarios.connect(ctx)
  await scenarios.dedup(ctx)
  scenarios.cleanSlate(ctx)
  await scenarios.threadpool(ctx)
  await scenarios.memory(ctx)
  printTable(ctx.results)
  console.log(`\n(total ${((now() - ctx.started) / 1000).toFixed(0)} s)`)
  cleanup()
}

const sweep = require('./sweep.js')

if (!process.env[INNER]) {
  const { checkCanRun, runInNamespace } = require('./namespace.js')
  const args = sweep.parseArgs(process.argv.slice(2))
  checkCanRun()
  if (args.cores) sweep.outer(__filename, args.cores, args.tokio)
  else {
    const res = runInNamespace(__filename)
    process.exit(res.status === null ? 1 : res.status)
  }
} else {
  cleanupOnExit()
  const run = process.argv.includes(sweep.SWEEP_INNER) ? sweep.inner : full
  run().then(() => cleanup(), (err) => {
    console.error(err)
    cleanup()
    process.exit(1) // a load loop or the probe worker may still be running
  })
}
