'use strict'

// The measurements of `npm run bench`, one function per section of the table. Each takes the
// context from setup() (the DNS server, the implementations, the results so far), adds its rows
// and notes to ctx.results, and returns its raw figures (the core sweep reuses hot() and cold()).

const dns = require('node:dns')
const fs = require('node:fs')
const path = require('node:path')

const { PKG, TMP, ms, median, now, fresh, rounds, runJson, progress } = require('./util.js')
const { SLOW_DNS_PORT, SLOW_DNS_DELAY, RTT_DNS_DELAY, startDnsmasq, waitReady, queryCount, startSlowDns, dnsmasqHeadroom, dedupLogged } = require('./dns-servers.js')
const { awaitLoop, callbackLoop, coldRun, startTcpServer, startConnectClient } = require('./load.js')
const { LABEL, row, fmtRate, fmtInt, fmtMb, fmtMsPlain, fmtMs, pct } = require('./table.js')
const { threadpoolCheck } = require('./threadpool-p99.js')
const { threadpoolBatch } = require('./threadpool-batch.js')

const HOT = 'hot.bench.test'

/** The DNS servers and the four implementations, all asking the namespace's dnsmasq. */
async function setup() {
  await startSlowDns()
  const dm = startDnsmasq({ port: 53, logFile: path.join(TMP, 'dnsmasq.log') })
  await waitReady(dm)

  const api = require(PKG)
  const { default: CacheableLookup } = await import('cacheable-lookup')
  const clVersion = JSON.parse(fs.readFileSync(path.join(PKG, 'node_modules', 'cacheable-lookup', 'package.json'), 'utf8')).version
  const resolver = new dns.promises.Resolver()
  resolver.setServers(['127.0.0.1'])
  const cl = new CacheableLookup({ resolver: new dns.promises.Resolver() })
  cl.servers = ['127.0.0.1']
  // cacheable-lookup honours hints: ADDRCONFIG (which net.connect passes) from its own scan of the
  // non-internal interfaces, and this namespace has only lo: tell it IPv4 is configured.
  cl._iface = { has4: true, has6: false }
  return { started: now(), results: { rows: [], notes: [] }, dm, api, ...api, cl, clVersion, resolver }
}

// Each later section starts from a clean heap: the cold runs leave cacheable-lookup's cache with
// ~100k names (TTL 300 s) in the old generation, and the garbage collection that costs slowed every
// allocation-heavy path measured after it (connects by name cost ~4 µs more, whichever lookup they used).
function cleanSlate({ cl, api }) {
  cl.clear()
  api.clearCache()
  global.gc()
}

// 1. Hot lookups -----------------------------------------------------------------------------
async function hot(ctx, n = 5) {
  const { results, started, resolveIPv4, lookup, resolver, cl } = ctx
  // 1. Hot lookups -----------------------------------------------------------------------------
  const HOT = 'hot.bench.test'
  await resolveIPv4(HOT)
  await cl.lookupAsync(HOT)
  const hotErrors = { dnsLookup: 0, resolve4: 0 }
  const hotOps = {
    ipv4: () => resolveIPv4(HOT),
    // The uncached references may time out under load (UDP drops): counted, not fatal.
    dnsLookup: () => dns.promises.lookup(HOT).catch(() => hotErrors.dnsLookup++),
    resolve4: () => resolver.resolve4(HOT).catch(() => hotErrors.resolve4++),
    cacheable: () => cl.lookupAsync(HOT),
  }
  const hotCb = {
    ipv4: lookup,
    dnsLookup: dns.lookup,
    resolve4: null,
    cacheable: cl.lookup,
  }
  const hotMs = (k) => ms(k === 'ipv4' || k === 'cacheable' ? 300 : 150)
  const hotSeq = await rounds(n, Object.keys(hotOps), (k) => awaitLoop(hotOps[k], hotMs(k)))
  const hotPar = await rounds(n, Object.keys(hotOps), (k) => awaitLoop(hotOps[k], hotMs(k), 100, 16))
  const hotCbR = await rounds(n, ['ipv4', 'dnsLookup', 'cacheable'], (k) => callbackLoop(hotCb[k], HOT, hotMs(k)))
  results.rows.push(
    row('1a hot, sequential await (ops/s)', hotSeq, fmtRate, 'cacheable', '>= 2x cacheable', (r) => r >= 2),
    row('1b hot, 100 concurrent (ops/s)', hotPar, fmtRate, 'cacheable', '>= 2x cacheable', (r) => r >= 2),
    row('1c hot, lookup() callback (ops/s)', hotCbR, fmtRate, 'cacheable', '>= 2x cacheable', (r) => r >= 2),
  )
  results.notes.push('1: ipv4-force = resolveIPv4() / lookup(); cacheable-lookup = lookupAsync() / lookup(), both answered ' +
    'from their cache; dns.lookup / resolve4 query dnsmasq every time (no cache), shown for scale' +
    (hotErrors.dnsLookup + hotErrors.resolve4 ? ` (failures: dns.lookup ${hotErrors.dnsLookup}, resolve4 ${hotErrors.resolve4})` : '') + '.')
  progress('hot lookups', started)
  return { seq: hotSeq, par: hotPar, cb: hotCbR }
}

// 2d. Following the system's files ----------------------------------------------------------
// The same cold load in fresh processes, the files checked on every lookup that needs a query
// (IPV4_FORCE_CONFIG_CHECK_MS=0, as glibc stats resolv.conf) against the default (once a
// second): the difference is what a check costs, and what the default saves.
async function configCheck(ctx, n = 3) {
  const { results, started } = ctx
  const probe = (mode) => {
    const env = mode === 'every' ? { IPV4_FORCE_CONFIG_CHECK_MS: '0' } : {}
    return runJson([path.join(__dirname, 'config-check.js'), PKG, `cc-${mode}-${Date.now()}`, String(ms(1000))], env)
  }
  const runs = await rounds(n, ['interval', 'every'], async (mode) => probe(mode))
  const rates = { ipv4: runs.every.map((r) => r.rate), interval: runs.interval.map((r) => r.rate) }
  results.rows.push(row('2d cold, files checked on every lookup (ops/s)', rates, fmtRate, 'interval', 'info', null))
  const cpu = (mode) => median(runs[mode].map((r) => r.cpuUsPerLookup))
  results.notes.push(`2d: ipv4-force column = /etc/resolv.conf and /etc/hosts checked (stat) on every lookup that needs a ` +
    `query; reference = the default, at most once a second (${median(runs.interval.map((r) => r.checks))} checks per run). ` +
    `CPU per cold lookup ${cpu('every').toFixed(1)} µs vs ${cpu('interval').toFixed(1)} µs: a check costs about ` +
    `${Math.max(0, cpu('every') - cpu('interval')).toFixed(1)} µs per lookup, ` +
    'so the default spends that once a second, whatever the lookup rate.')
  progress('config check', started)
}

// 2e. hickory's path: the pooled UDP sockets against a socket per query -----------------------
// With the first nameserver down, every question goes through hickory's pool (the direct query
// serves only the first nameserver). The same cold load in fresh processes, with the sockets
// pooled (the default) and with IPV4_FORCE_UDP_POOL=0 (a socket per query, as hickory's own
// provider binds them): what the custom provider still earns.
async function poolPath(ctx, n = 3) {
  const { results, started } = ctx
  const probe = (mode) => runJson([path.join(__dirname, 'pool-path.js'), PKG, `pp-${mode}-${Date.now()}`, String(ms(1000))],
    mode === 'perQuery' ? { IPV4_FORCE_UDP_POOL: '0' } : {})
  const runs = await rounds(n, ['pooled', 'perQuery'], async (mode) => probe(mode))
  const rates = { ipv4: runs.pooled.map((r) => r.rate), perQuery: runs.perQuery.map((r) => r.rate) }
  results.rows.push(row('2e cold, first nameserver down: hickory pool (ops/s)', rates, fmtRate, 'perQuery', 'info', null))
  const cpu = (mode) => median(runs[mode].map((r) => r.cpuUsPerLookup))
  results.notes.push('2e: first nameserver dead (127.0.0.1:9), second = dnsmasq: every lookup through hickory\'s pool, 100 in flight. ' +
    `ipv4-force column = UDP sockets pooled while busy (udp provider in lookup/transport/pool.rs); reference = a socket per query ` +
    `(IPV4_FORCE_UDP_POOL=0, as hickory's own provider). CPU per cold lookup ${cpu('pooled').toFixed(1)} µs vs ` +
    `${cpu('perQuery').toFixed(1)} µs.`)
  progress('pool path', started)
}

// 2. Cold lookups ----------------------------------------------------------------------------
async function cold(ctx, n = 3, { rtt = true } = {}) {
  const { results, started, dm, resolveIPv4, resolver, cl } = ctx
  const coldOps = {
    ipv4: (name) => resolveIPv4(name),
    dnsLookup: (name) => dns.promises.lookup(name),
    resolve4: (name) => resolver.resolve4(name),
    cacheable: (name) => cl.lookupAsync(name),
  }
  for (const k of Object.keys(coldOps)) await coldRun(dm, coldOps[k], `warm-${k}-`, ms(150)) // warm-up
  const coldDetail = {}
  const cold = await rounds(n, Object.keys(coldOps), async (k) => {
    const r = await coldRun(dm, coldOps[k], `cold-${k}-`, ms(1000))
    ;(coldDetail[k] = coldDetail[k] || []).push(r)
    return r.rate
  })
  if (!rtt) {
    progress('cold lookups', started)
    return { cold, coldDetail }
  }
  // The same with a network-like round trip: dnsmasq forwards *.rtt.bench.test to slow-dns.js.
  const coldRtt = await rounds(n, Object.keys(coldOps), async (k) => (await coldRun(dm, coldOps[k], `rtt-${k}-`, ms(800), 100, 'rtt.bench.test')).rate)
  results.rows.push(
    row('2a cold, 100 in flight (ops/s)', cold, fmtRate, 'resolve4', '>= 1x resolve4', (r) => r >= 1),
    row('2b   ... same, vs dns.lookup', cold, fmtRate, 'dnsLookup', '>= 3x dns.lookup', (r) => r >= 3),
    row(`2c cold, 100 in flight, ${RTT_DNS_DELAY} ms DNS RTT (ops/s)`, coldRtt, fmtRate, 'dnsLookup', '>= 3x dns.lookup', (r) => r >= 3),
  )
  const detail = (k) => {
    const d = coldDetail[k]
    const errors = d.reduce((a, r) => a + r.errors, 0)
    const err = d.find((r) => r.firstError)?.firstError
    return `${LABEL[k]}: ${median(d.map((r) => r.queriesPerOp)).toFixed(2)} q/lookup, node CPU ` +
      `${pct(median(d.map((r) => r.nodeCpu)))}, dnsmasq CPU ${pct(median(d.map((r) => r.dnsmasqCpu)))}` +
      (errors ? `, ${errors} errors (${err.code || err.message})` : '')
  }
  results.notes.push('2: every name new (n<seq>.bench.test); per implementation: DNS queries per lookup, CPU of the node ' +
    'process and of dnsmasq (100% = one core) during the run:')
  for (const k of Object.keys(coldOps)) results.notes.push(`     ${detail(k)}`)
  results.notes.push(`   2c: *.rtt.bench.test, forwarded by dnsmasq to bench/slow-dns.js, which answers after ${RTT_DNS_DELAY} ms ` +
    `(100 in flight allow at most ${fmtRate(100000 / RTT_DNS_DELAY)}/s; dns.lookup is held to 2 getaddrinfo at a time by libuv). ` +
    'The async resolvers are all bound by the round trip (and the JS server) here, so they come out about equal.')
  progress('cold lookups', started)
  return { cold, coldDetail }
}

/** dnsmasq headroom: two independent c-ares clients in separate processes at once. */
async function headroom(ctx, coldRates) {
  const { results, started, dm } = ctx
  const h = await dnsmasqHeadroom(dm, ms(1000))
  results.notes.push(`   dnsmasq headroom: 2 separate node processes running resolve4 (100 in flight each) together got ` +
    `${fmtRate(h.rate)} ops/s with dnsmasq at ${pct(h.dnsmasqCpu)} CPU ` +
    `(vs ${fmtRate(median(coldRates.resolve4))} from one): ${h.dnsmasqCpu < 0.8 ? 'dnsmasq is not the bottleneck (below one core; the 2 node processes are)' : 'dnsmasq may be near its limit'}.`)
  progress('dnsmasq headroom', started)
}

// 3. Connect through patchNet() ----------------------------------------------------------------
// Each variant runs in a process of its own (connect-client.js), as a server runs: patched or not
// from start-up. Rounds alternate between the variants.
async function connect(ctx) {
  const { results, started } = ctx
  const server = await startTcpServer()
  const VARIANTS = ['ipv4', 'dnsLookup', 'cacheable', 'byIp', 'byIpPatched', 'ipv4Observed']
  const clients = {}
  for (const k of VARIANTS) clients[k] = await startConnectClient(k, server.port)
  const cpuPerConn = {}
  const measureConnect = async (k, concurrency) => {
    const { rate, cpuUs } = await clients[k].round(ms(k === 'dnsLookup' ? 300 : 500), concurrency)
    ;(cpuPerConn[`${k}/${concurrency}`] ||= []).push(cpuUs)
    return rate
  }
  const connSeq = await rounds(5, VARIANTS, (k) => measureConnect(k, 1))
  const connPar = await rounds(5, VARIANTS, (k) => measureConnect(k, 50))
  for (const k of VARIANTS) clients[k].close()
  const cpuNote = (c) => ['ipv4', 'ipv4Observed', 'byIp', 'byIpPatched', 'cacheable', 'dnsLookup']
    .map((k) => `${{ ipv4: 'patchNet by name', ipv4Observed: 'with a lookup subscriber', byIp: 'by IP', byIpPatched: 'patchNet by IP', cacheable: 'cacheable', dnsLookup: 'dns.lookup' }[k]} ` +
      `${median(cpuPerConn[`${k}/${c}`]).toFixed(1)}`).join(', ')
  results.rows.push(
    row('3a connect by name, sequential (conn/s)', connSeq, fmtRate, 'byIp', '>= 0.9x by IP', (r) => r >= 0.9),
    row('3b connect by name, 50 parallel (conn/s)', connPar, fmtRate, 'byIp', '>= 0.9x by IP', (r) => r >= 0.9),
    row('3c connect by name, a lookup subscriber (conn/s)', { ipv4: connSeq.ipv4Observed, unobserved: connSeq.ipv4 }, fmtRate,
      'unobserved', 'info', null),
  )
  results.notes.push(`3: net.connect() + resetAndDestroy() on 'connect' (see connectOnce), to a server in a separate node process (its accept/close ` +
    'work stays off the measured event loop and CPU). ipv4-force = by name with patchNet(); dns.lookup = by name, ' +
    'unpatched; cacheable = by name with { lookup: cacheable.lookup }; reference = by IP, unpatched. ' +
    `By IP with patchNet() active: ${fmtRate(median(connSeq.byIpPatched))} sequential, ${fmtRate(median(connPar.byIpPatched))} parallel. ` +
    'Each variant runs in its own process, patched (or not) from start-up as a server would be. ' +
    '3c: sequential, patchNet() with a subscriber to the ipv4-force:lookup diagnostics channel (every lookup published) ' +
    'against the same without one (3a).',
  `   client CPU µs per connection (less noisy than conn/s on a shared machine), sequential: ${cpuNote(1)}; ` +
    `50 parallel: ${cpuNote(50)}.`)
  progress('connect', started)
  server.close()
}

// 4. In-flight de-duplication ------------------------------------------------------------------
async function dedup(ctx) {
  const { results, started, dm, resolveIPv4, lookup, resolver, cl } = ctx
  const dedup = {}
  const countQueries = async (fn) => {
    const q0 = await queryCount(dm)
    await fn()
    return (await queryCount(dm)) - q0
  }
  const thousand = (f) => Promise.allSettled(Array.from({ length: 1000 }, f))
  dedup.ipv4 = [await countQueries(() => { const n = fresh('dedup-ipv4-'); return thousand(() => resolveIPv4(n)) })]
  dedup.dnsLookup = [await countQueries(() => { const n = fresh('dedup-gai-'); return thousand(() => dns.promises.lookup(n)) })]
  dedup.resolve4 = [await countQueries(() => { const n = fresh('dedup-cares-'); return thousand(() => resolver.resolve4(n)) })]
  dedup.cacheable = [await countQueries(() => { const n = fresh('dedup-cl-'); return thousand(() => cl.lookupAsync(n)) })]
  const dedupCb = {
    ipv4: [await countQueries(() => {
      const n = fresh('dedup-cb-')
      return thousand(() => new Promise((resolve, reject) => lookup(n, (e) => (e ? reject(e) : resolve()))))
    })],
  }
  // Cross-check with a second dnsmasq that logs every query, through an explicit nameserver.
  const logged = await dedupLogged(resolveIPv4)
  results.rows.push(
    row('4a de-dup: queries for 1000x resolveIPv4(1 cold name)', dedup, fmtInt, null, '= 1 query', () => dedup.ipv4[0] === 1),
    row('4b de-dup: queries for 1000x lookup(1 cold name)', dedupCb, fmtInt, null, '= 1 query', () => dedupCb.ipv4[0] === 1),
    row('4c de-dup: same via nameservers option (--log-queries)', { ipv4: [logged.count] }, fmtInt, null, '= 1 query', () => logged.count === 1),
  )
  results.notes.push('4: queries counted by dnsmasq (SIGUSR1 statistics, all types); 4c counts `query[...]` lines of a ' +
    `second dnsmasq started with --log-queries: ${logged.lines.join('; ') || 'none'}`)
  progress('de-dup', started)
}

// 5. Threadpool ----------------------------------------------------------------------------------
async function threadpool(ctx) {
  const { results, started, resolveIPv4, resolver } = ctx
  const b = threadpoolBatch(PKG, SLOW_DNS_PORT, 9)
  const tp = await threadpoolCheck(resolveIPv4, resolver, ms)
  const slowLabel = `${SLOW_DNS_DELAY} ms DNS`
  const batchLabel = `${b.batch} reads, pool of ${b.poolSize}`
  results.rows.push(
    row(`5a fs batch, main thread, ${batchLabel} (1000 waiting)`, b.main, fmtMs, 'idle', '<= 1.2x idle', (r) => r <= 1.2),
    row(`5b fs batch, ${b.workers} worker threads, each with ${b.inFlight.worker.ipv4} waiting`, b.worker, fmtMs, 'idle', '<= 1.2x idle', (r) => r <= 1.2),
    row(`5c readFile p99, main thread, 1000 in flight, ${slowLabel}`, tp.slow.main.p99, fmtMs, 'idle', 'info', null),
    row(`5d readFile p99, worker thread, 1000 in flight, ${slowLabel}`, tp.slow.worker.p99, fmtMs, 'idle', 'info', null),
    row('5e readFile p99, main thread, CPU saturated (instant DNS)', tp.fast.main.p99, fmtMs, 'idle', 'info', null),
    row('5f readFile p99, worker thread, CPU saturated (instant DNS)', tp.fast.worker.p99, fmtMs, 'idle', 'info', null),
  )
  const ended = Object.entries(b.ended).filter(([k]) => k !== 'idle')
    .map(([k, v]) => `${LABEL[k]} ${fmtInt(median(v))}`).join(', ')
  const batchErrors = Object.entries(b.errors).filter(([, n]) => n > 0).map(([k, n]) => `${LABEL[k]} ${n}`)
  results.notes.push(
    `5a/5b: a fixed batch of ${b.batch} fs.promises.readFile (${b.fileSize >> 10} KiB, ${b.lanes} at a time), timed on the ` +
      `main thread and at the same time in each of ${b.workers} worker threads (5b: their mean), in a separate process whose libuv ` +
      `threadpool has ${b.poolSize} thread${b.poolSize > 1 ? 's' : ''} (UV_THREADPOOL_SIZE=${b.poolSize}), while lookups wait on bench/slow-dns.js ` +
      `(${SLOW_DNS_DELAY} ms): ${b.inFlight.main.ipv4} on the main thread and ${b.inFlight.worker.ipv4} in each worker thread ` +
      `(dns.lookup: ${b.inFlight.main.dnsLookup} and ${b.inFlight.worker.dnsLookup}; getaddrinfo runs one at a time there, so ` +
      'more would only queue). The batch starts once every lookup is sent and lasts less than the server\'s delay, so the ' +
      'lookups cost no CPU during it: what it measures is the pool. A lookup that holds the pool\'s thread while it waits ' +
      `stalls the reads queued behind it for up to ${SLOW_DNS_DELAY} ms (capped at 2 s); one that does not leaves the batch ` +
      `at its idle time. Medians of ${b.main.idle.length} interleaved rounds; lookups that ended during the batch (median, ` +
      `all threads): ${ended}` +
      (batchErrors.length ? `; failed lookups: ${batchErrors.join(', ')}` : '') + '.',
  )
  const p50s = (t) => `idle ${fmtMs(t.p50.idle)}, ipv4-force ${fmtMs(t.p50.ipv4)}, dns.lookup ${fmtMs(t.p50.dnsLookup)}, resolve4 ${fmtMs(t.p50.resolve4)}`
  const rates = (t) => `ipv4-force ${fmtRate(t.rate.ipv4)}, dns.lookup ${fmtRate(t.rate.dnsLookup)}, resolve4 ${fmtRate(t.rate.resolve4)}`
  results.notes.push(
    '5c-5f: fs.promises.readFile of a 1 KiB file once per ms, timed, on the main thread and at the same time in a worker thread ' +
      `(own event loop: it sees the libuv threadpool, size ${process.env.UV_THREADPOOL_SIZE || 4}, and CPU contention, not the ` +
      'main thread\'s event-loop work). resolve4 (c-ares, no threadpool either) is the control for event-loop/CPU contention.',
    `   instant DNS: lookups/s ${rates(tp.fast)}; p50 worker ${p50s(tp.fast.worker)}; p50 main ${p50s(tp.fast.main)}.`,
    `   5c/5d, ${slowLabel} (*.slow.bench.test, answered by bench/slow-dns.js, which ipv4-force and resolve4 ask directly; ` +
      'dns.lookup through dnsmasq): the lookups wait on the network, ' +
      `which is what "in flight" means for a server; their first calls are spread over ${SLOW_DNS_DELAY} ms, as arriving requests ` +
      `would be, not all started in one millisecond. dns.lookup gets only 4 in flight there (libuv runs at most 2 getaddrinfo at once ` +
      `and 1000 queued 200 ms lookups would take minutes to drain): lookups/s ${rates(tp.slow)}; p50 worker ${p50s(tp.slow.worker)}; ` +
      `p50 main ${p50s(tp.slow.main)}.`,
    '   5e/5f, instant DNS: 1000 in flight then means as many lookups per second as 2 cores allow, so every thread competes ' +
      'for the CPU; shown for the contention it causes (info: no resolver can keep p99 at idle while saturating the machine, ' +
      'as the c-ares control shows).',
  )
  if (tp.failures.length) results.notes.push(`   lookup failures under load: ${tp.failures.join('; ')}.`)
  progress('threadpool', started)
}

// 6. Memory, size, load time ------------------------------------------------------------------------
async function memory(ctx) {
  const { results } = ctx
  const server = await startTcpServer() // the connect soak's target
  // Each in a fresh process: two identical rounds of 1M hot + 100k cold lookups per implementation,
  // and of 100k connects through patchNet() (by name) and unpatched (by IP, the control).
  const memRun = (impl) => runJson(['--expose-gc', path.join(__dirname, 'memory.js'), PKG, HOT, 'mem', impl, String(server.port)])
  const mem = { ipv4: memRun('ipv4-force'), resolve4: memRun('resolve4'), cacheable: memRun('cacheable-lookup') }
  const soak = { ipv4: memRun('connect'), byIp: memRun('connect-by-ip') }
  server.close()
  const growth = (m, from, to = 'after', key = 'rss') => m[to][key] - m[from][key]
  const cells = (runs, from, to, key) => Object.fromEntries(Object.entries(runs).map(([k, m]) => [k, [growth(m, from, to, key)]]))
  results.rows.push(
    row('6a RSS growth, 1M hot + 100k cold, round 2 (MB)', cells(mem, 'before'), fmtMb, null, '< 20 MB',
      () => growth(mem.ipv4, 'before') < 20),
    row('6b   ... round 1, fresh process (MB)', cells(mem, 'atStart', 'before'), fmtMb, null, 'info', null),
    row('6c   ... round 1, outside the V8 heap (MB)', cells(mem, 'atStart', 'before', 'native'), fmtMb, null, 'info', null),
    row('6d RSS growth, 100k connects via patchNet, round 2 (MB)', {
      ipv4: [growth(soak.ipv4, 'before')],
      byIp: [growth(soak.byIp, 'before')],
    }, fmtMb, null, '< 20 MB', () => growth(soak.ipv4, 'before') < 20),
  )
  const nodeFiles = fs.readdirSync(PKG).filter((f) => f.endsWith('.node'))
  const nodeSize = nodeFiles.reduce((a, f) => a + fs.statSync(path.join(PKG, f)).size, 0)
  results.rows.push(row(`6e addon size (${nodeFiles.join(', ')})`, { ipv4: [nodeSize / 1024 / 1024] }, fmtMb, null, 'info', null))
  const loads = []
  for (let i = 0; i < 5; i++) loads.push(runJson([path.join(__dirname, 'load-time.js'), PKG, fresh('load-')]))
  results.rows.push(row('6f require() time, fresh process (ms)', { ipv4: [median(loads.map((l) => l.requireMs))] }, fmtMsPlain, null, 'info', null))
  const memNote = (m) => `${fmtMb(m.atStart.rss)} -> ${fmtMb(m.before.rss)} -> ${fmtMb(m.after.rss)} MB (V8 young generation ` +
    `${fmtMb(m.atStart.young)} -> ${fmtMb(m.before.young)} -> ${fmtMb(m.after.young)} MB; outside the V8 heap ` +
    `${fmtMb(m.atStart.native)} -> ${fmtMb(m.before.native)} -> ${fmtMb(m.after.native)} MB; ${m.errors} errors, ${(m.ms / 1000).toFixed(1)} s a round)`
  results.notes.push(`6: RSS at start -> after round 1 -> after round 2, in a fresh process each (settled by 3 full GCs): ` +
    `ipv4-force ${memNote(mem.ipv4)}; resolve4 (the 100k cold lookups only: it has no cache) ${memNote(mem.resolve4)}; cacheable-lookup ${memNote(mem.cacheable)}; ` +
    `100k patched connects by name ${memNote(soak.ipv4)}; 100k unpatched connects by IP ${memNote(soak.byIp)}.`,
  '   Round 1 includes V8 growing its young generation (semi-spaces from 1 to 16 MB, never given back) under this ' +
    'allocation rate, whatever does the allocating: Node\'s own resolve4 and unpatched connects by IP show it too. ' +
    'Round 2 repeats the same work: its growth is what the work retains (a leak or an unbounded cache would show there). ' +
    `6d's reference column is unpatched connects by IP, round 2 (round 1: ipv4-force ${fmtMb(growth(soak.ipv4, 'atStart', 'before'))}, ` +
    `by IP ${fmtMb(growth(soak.byIp, 'atStart', 'before'))} MB). First resolveIPv4 after require (runtime start + resolv.conf + 1 query): ` +
    `${fmtMsPlain(median(loads.map((l) => l.firstLookupMs)))} ms (median of 5).`)
}

module.exports = {
  configCheck, poolPath, HOT, setup, cleanSlate, hot, cold, headroom, connect, dedup, threadpool, memory }
