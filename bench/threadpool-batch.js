'use strict'

// Section 5's targets: does waiting on lookups take libuv threadpool threads from fs? Measured by
// the time a fixed batch of fs operations takes, not by latency percentiles.
//
// Run in its own process with a one-thread pool (UV_THREADPOOL_SIZE=1: the size is fixed when the
// pool first starts, so only a fresh process can choose it). The main thread and WORKERS worker
// threads each start lookups that wait on bench/slow-dns.js (every answer after 200 ms); once they
// are sent, all run the same batch at once: BATCH reads of a 256 KiB file, BATCH_LANES at a time
// per thread. A lookup that holds the pool's thread while it waits stalls every read queued behind
// it, so the batch takes a multiple of its idle time (until the lookups end; capped at
// BATCH_CAP_MS); a lookup that does not leaves it at its idle time. The batch is short (≈ 55 ms
// idle on 2 vCPUs) and starts SEND_MS after the lookups, once they are sent and the server has
// taken them, so they cost no CPU during it: the ratio measures the pool, not CPU contention. (With a pool of 2 on 2 vCPUs, one held thread hardly
// shows: the reads then wait on the CPU more than on the pool.) A lookup that ends is replaced.
//
// The worker threads wait on lookups themselves (each keeps IN_FLIGHT.worker in flight), because a
// worker thread collects its lookups differently from the main thread (index.js).
//
// Usage (inside the bench namespace): node threadpool-batch.js <pkg> <slow dns port> <rounds>;
// prints one JSON line. From scenarios.js: threadpoolBatch().

const dns = require('node:dns')
const fsp = require('node:fs/promises')
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads')

const POOL_SIZE = 1
const WORKERS = 2
const BATCH = 120
const BATCH_LANES = 4
const FILE_SIZE = 256 << 10
const BATCH_CAP_MS = 2000
const SEND_MS = 100 // time for every lookup to be sent (and the server to take them) before the batch starts
const IN_FLIGHT = {
  main: { ipv4: 1000, resolve4: 1000, dnsLookup: 4 },
  worker: { ipv4: 100, resolve4: 100, dnsLookup: 1 },
}
// dns.lookup gets only a few in flight: libuv runs one getaddrinfo at a time on a pool of 1 (half
// the pool, rounded up), the rest only queue, and 1000 queued 200 ms lookups would take minutes.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
let seq = 0 // names are never reused: a cached answer would not wait

function lookupOps(pkg, port) {
  const { resolveIPv4 } = require(pkg)
  const direct = { nameservers: [`127.0.0.1:${port}`] }
  const resolver = new dns.promises.Resolver()
  resolver.setServers([`127.0.0.1:${port}`])
  return {
    ipv4: (name) => resolveIPv4(name, direct),
    resolve4: (name) => resolver.resolve4(name),
    // The system resolver: the namespace's dnsmasq, which forwards *.slow.bench.test to slow-dns.js.
    dnsLookup: (name) => dns.promises.lookup(name),
  }
}

/** Keeps `n` calls of `op` on fresh names in flight until stop(). */
function startLoad(op, n, tag) {
  let stopped = false
  let ops = 0
  let errors = 0
  const loop = async () => {
    while (!stopped) {
      try {
        await op(`${tag}${++seq}.slow.bench.test`)
      } catch {
        errors++
      }
      ops++
    }
  }
  const all = Promise.all(Array.from({ length: n }, loop))
  return {
    count: () => ops,
    async stop() {
      stopped = true
      await all
      return { ops, errors }
    },
  }
}

/** The batch: { ms (capped at BATCH_CAP_MS), done (resolves when every read has finished) }. */
function runBatch(file) {
  const t0 = performance.now()
  let next = 0
  const lane = async () => {
    while (next++ < BATCH) await fsp.readFile(file)
  }
  const done = Promise.all(Array.from({ length: BATCH_LANES }, lane)).then(() => performance.now() - t0)
  let timer
  const capped = Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, BATCH_CAP_MS, BATCH_CAP_MS)))])
  return { ms: capped.finally(() => clearTimeout(timer)), done }
}

/** One thread's part (the main thread's, or a worker's through messages). */
function participant(pkg, port, file, role, tag) {
  const ops = lookupOps(pkg, port)
  let load = null
  let batch = null
  return {
    start(k) {
      if (k !== 'idle') load = startLoad(ops[k], IN_FLIGHT[role][k], `${tag}-${k}-`)
    },
    async batch() {
      const before = load ? load.count() : 0
      batch = runBatch(file)
      const ms = await batch.ms
      return { ms, ended: (load ? load.count() : 0) - before }
    },
    async stop() {
      const r = load ? await load.stop() : { ops: 0, errors: 0 }
      load = null
      await batch?.done
      return r
    },
  }
}

function workerMain() {
  const { pkg, port, file, tag } = workerData
  const me = participant(pkg, port, file, 'worker', tag)
  parentPort.on('message', async ({ cmd, k }) => {
    if (cmd === 'start') parentPort.postMessage(me.start(k) ?? null)
    else if (cmd === 'batch') parentPort.postMessage(await me.batch())
    else if (cmd === 'stop') parentPort.postMessage(await me.stop())
  })
}

async function main() {
  const [pkg, port, roundsArg] = process.argv.slice(2)
  const file = require('node:path').join(require('node:os').tmpdir(), `ipv4-force-bench-${process.pid}.txt`)
  await fsp.writeFile(file, Buffer.alloc(FILE_SIZE, 'x'))
  const workers = Array.from({ length: WORKERS }, (_, i) =>
    new Worker(__filename, { workerData: { pkg, port: Number(port), file, tag: `tpb-w${i}` } }))
  const ask = (w, msg) => new Promise((resolve) => {
    w.once('message', resolve)
    w.postMessage(msg)
  })
  const me = participant(pkg, Number(port), file, 'main', 'tpb-m')
  const keys = ['idle', 'ipv4', 'dnsLookup', 'resolve4']
  const out = { poolSize: Number(process.env.UV_THREADPOOL_SIZE), workers: WORKERS, batch: BATCH, lanes: BATCH_LANES,
    inFlight: IN_FLIGHT, fileSize: FILE_SIZE, main: {}, worker: {}, ended: {}, errors: {} }
  const round = async (k) => {
    me.start(k)
    await Promise.all(workers.map((w) => ask(w, { cmd: 'start', k })))
    await sleep(SEND_MS)
    const [m, ...ws] = await Promise.all([me.batch(), ...workers.map((w) => ask(w, { cmd: 'batch' }))])
    const stops = await Promise.all([me.stop(), ...workers.map((w) => ask(w, { cmd: 'stop' }))])
    return { m: m.ms, w: ws.reduce((a, x) => a + x.ms, 0) / ws.length, ended: [m, ...ws].reduce((a, x) => a + x.ended, 0), stops }
  }
  await round('idle') // warm-up: JIT, the pool's threads, the addon's runtime
  await round('ipv4')
  for (let i = 0; i < Number(roundsArg || 5); i++) {
    for (const k of keys) {
      const r = await round(k)
      ;(out.main[k] = out.main[k] || []).push(r.m)
      ;(out.worker[k] = out.worker[k] || []).push(r.w)
      ;(out.ended[k] = out.ended[k] || []).push(r.ended)
      out.errors[k] = (out.errors[k] || 0) + r.stops.reduce((a, s) => a + s.errors, 0)
    }
  }
  await Promise.all(workers.map((w) => w.terminate()))
  await fsp.rm(file, { force: true })
  process.stdout.write(JSON.stringify(out) + '\n')
}

/** Runs this file in a fresh process with the small pool; { main, worker: { key: [ms] }, ... }. */
function threadpoolBatch(pkg, port, rounds = 5) {
  const { spawnSync } = require('node:child_process')
  const res = spawnSync(process.execPath, [__filename, pkg, String(port), String(rounds)],
    { encoding: 'utf8', timeout: 300_000, env: { ...process.env, UV_THREADPOOL_SIZE: String(POOL_SIZE) } })
  if (res.status !== 0) throw new Error(`threadpool-batch.js failed (${res.status}): ${res.stderr}`)
  return JSON.parse(res.stdout.trim().split('\n').pop())
}

if (!isMainThread) workerMain()
else if (require.main === module) main().catch((err) => {
  console.error(err)
  process.exit(1)
})

module.exports = { threadpoolBatch, POOL_SIZE }
