'use strict'

// Section 5's p99 rows (info): readFile latency percentiles on the main thread and in a worker
// thread while lookups are in flight. Kept beside the deterministic batch check
// (threadpool-batch.js) because p99 on a shared machine reflects scheduling noise more than the pool.

const dns = require('node:dns')
const fs = require('node:fs')
const path = require('node:path')

const { TMP, sleep, now, median, quantile } = require('./util.js')
const { SLOW_DNS_PORT, SLOW_DNS_DELAY } = require('./dns-servers.js')
const { openLoad } = require('./load.js')
const { LABEL } = require('./table.js')

// The readFile probe: one read of a 1 KiB file per millisecond (a steady, light load of its own),
// timing each read. The same loop runs on the main thread and in a worker thread: the worker has
// its own event loop, so its latencies show the libuv threadpool (shared by the process) and CPU
// contention without the main thread's event-loop work. Self-contained: its source is sent to the worker.
async function readFileProbe(file, ms) {
  const fsp = require('node:fs/promises')
  const lat = []
  const end = performance.now() + ms
  while (performance.now() < end) {
    const t = performance.now()
    await fsp.readFile(file)
    lat.push(performance.now() - t)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  return lat.sort((a, b) => a - b)
}

async function threadpoolCheck(resolveIPv4, resolver, ms) {
  const { Worker } = require('node:worker_threads')
  const file = path.join(TMP, 'small.txt')
  fs.writeFileSync(file, 'x'.repeat(1024))
  const probe = readFileProbe
  const worker = new Worker(`const probe = ${readFileProbe.toString()}
    const { parentPort } = require('node:worker_threads')
    parentPort.on('message', async ({ file, ms }) => parentPort.postMessage(await probe(file, ms)))`, { eval: true })
  const workerProbe = (windowMs) => new Promise((resolve) => {
    worker.once('message', resolve)
    worker.postMessage({ file, ms: windowMs })
  })
  // The slow zone is asked of bench/slow-dns.js directly by the two async resolvers (the same
  // server for both): through dnsmasq, forwarding 1000 outstanding queries cost dnsmasq ~200 µs of
  // CPU each, which made the harness the main load on the machine. dns.lookup can only use the
  // system resolver (dnsmasq, forwarding), with 4 in flight that costs little.
  const direct = { nameservers: [`127.0.0.1:${SLOW_DNS_PORT}`] }
  const directResolver = new dns.promises.Resolver()
  directResolver.setServers([`127.0.0.1:${SLOW_DNS_PORT}`])
  const fastOps = {
    idle: null,
    ipv4: (name) => resolveIPv4(name),
    dnsLookup: (name) => dns.promises.lookup(name),
    resolve4: (name) => resolver.resolve4(name),
  }
  const slowOps = { ...fastOps, ipv4: (name) => resolveIPv4(name, direct), resolve4: (name) => directResolver.resolve4(name) }
  // fast: dnsmasq answers at once, so 1000 in flight is a CPU-saturating loop.
  // slow: answers take SLOW_DNS_DELAY ms, so the lookups wait (the usual meaning of in flight).
  // dns.lookup gets only 4 in flight there: libuv runs at most 2 getaddrinfo at once (its
  // "slow I/O" cap), the rest only queue, and 1000 queued 200 ms lookups would take minutes to drain.
  const phases = [
    { phase: 'fast', ops: fastOps, zone: 'bench.test', concurrency: () => 1000, windowMs: ms(800) },
    { phase: 'slow', ops: slowOps, zone: 'slow.bench.test', concurrency: (k) => (k === 'dnsLookup' ? 4 : 1000), windowMs: ms(800) },
  ]
  await Promise.all([probe(file, 100), workerProbe(100)])
  const failures = []
  const out = { failures }
  for (const { phase, ops, zone, concurrency, windowMs } of phases) {
    const lat = { main: {}, worker: {} }
    const rate = {}
    for (let round = 0; round < 3; round++) {
      for (const [k, op] of Object.entries(ops)) {
        let load = null
        if (op) {
          load = openLoad(op, `tp-${k}-`, concurrency(k), zone, phase === 'slow' ? SLOW_DNS_DELAY : 0)
          await sleep(phase === 'slow' ? SLOW_DNS_DELAY + 50 : 30) // let them get in flight
        }
        const c0 = load ? load.count() : 0
        const t0 = now()
        const [m, w] = await Promise.all([probe(file, windowMs), workerProbe(windowMs)])
        if (load) {
          ;(rate[k] = rate[k] || []).push((load.count() - c0) / ((now() - t0) / 1000))
          const { errors, firstError } = await load.stop()
          if (errors) failures.push(`${phase} ${LABEL[k]}: ${errors} failed (${firstError.code || firstError.message})`)
        }
        ;(lat.main[k] = lat.main[k] || []).push(m)
        ;(lat.worker[k] = lat.worker[k] || []).push(w)
      }
    }
    const q = (where, x) => Object.fromEntries(Object.entries(lat[where]).map(([k, runs]) => [k, median(runs.map((l) => quantile(l, x)))]))
    const asRuns = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, [v]]))
    out[phase] = {
      main: { p99: asRuns(q('main', 0.99)), p50: q('main', 0.5) },
      worker: { p99: asRuns(q('worker', 0.99)), p50: q('worker', 0.5) },
      rate: Object.fromEntries(Object.entries(rate).map(([k, v]) => [k, median(v)])),
    }
  }
  await worker.terminate()
  return out
}

module.exports = { threadpoolCheck }
