'use strict'

// `npm run bench`: ipv4-force against dns.lookup, dns.promises.resolve4 and cacheable-lookup@7,
// answered by a local dnsmasq. Everything runs inside a private network + mount namespace
// (`unshare -m -n`, root needed) whose only interface is loopback and whose /etc/resolv.conf and
// /etc/hosts are bind-mounted temp files naming 127.0.0.1:53: the system resolver *is* the
// benchmark's dnsmasq, so lookup(), dns.lookup and patchNet() use it, and no query can leave.
//
// The run prints one table and exits 0 even when a target is missed (it is a report); it exits
// non-zero only when the bench itself cannot run.
//
// Helpers, each run as its own process: tcp-server.js (connect target), slow-dns.js (delayed zones
// that dnsmasq forwards to), memory.js (RSS check), load-time.js (require() time).
//
// Environment knobs: BENCH_SCALE=0.5 shortens every timed window (default 1); UV_THREADPOOL_SIZE
// and TOKIO_WORKER_THREADS (read by the addon's tokio runtime) pass through and are printed.

const { spawn, spawnSync, execFileSync } = require('node:child_process')
const dns = require('node:dns')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const PKG = path.resolve(__dirname, '..')
const DNSMASQ = '/usr/sbin/dnsmasq'
const INNER = 'IPV4_FORCE_BENCH_INNER'
const SCALE = Number(process.env.BENCH_SCALE || 1)
const SLOW_DNS_PORT = 5300
const SLOW_DNS_DELAY = 200 // ms: *.slow.bench.test, for the threadpool check
const RTT_DNS_DELAY = 20 // ms: *.rtt.bench.test, cold lookups with a network-like round trip

// ---------------------------------------------------------------------------------------------
// Outer process: prepare the namespace's files and re-execute inside `unshare -m -n`.

function outer() {
  if (process.platform !== 'linux' || process.getuid() !== 0) {
    console.error('bench: needs Linux and root (it runs inside `unshare -m -n` with a private dnsmasq).')
    process.exit(2)
  }
  waitForDnsmasq()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipv4-force-bench-'))
  fs.writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n')
  fs.writeFileSync(path.join(dir, 'hosts'), '127.0.0.1 localhost\n::1 localhost ip6-localhost\n')
  // Set up the namespace before node starts, so that every resolver in the inner process
  // (c-ares default channel, glibc, hickory) only ever sees the private configuration.
  const setup = [
    'set -e',
    'ip link set lo up',
    `mount --bind "${dir}/resolv.conf" /etc/resolv.conf`,
    `mount --bind "${dir}/hosts" /etc/hosts`,
    // Many short connections in the connect benchmark: keep ephemeral ports reusable.
    'echo "1024 65000" > /proc/sys/net/ipv4/ip_local_port_range',
    'echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse',
    'exec "$@"',
  ].join('\n')
  const res = spawnSync(
    'unshare',
    ['--mount', '--net', '--propagation', 'private', '--', 'sh', '-c', setup, 'sh',
      process.execPath, ...process.execArgv, '--expose-gc', __filename],
    { stdio: 'inherit', env: { ...process.env, [INNER]: dir } },
  )
  fs.rmSync(dir, { recursive: true, force: true })
  if (res.error) {
    console.error(`bench: cannot run unshare: ${res.error.message}`)
    process.exit(2)
  }
  process.exit(res.status === null ? 1 : res.status)
}

function waitForDnsmasq() {
  const deadline = Date.now() + 300_000
  let told = false
  while (!fs.existsSync(DNSMASQ)) {
    if (Date.now() > deadline) {
      console.error(`bench: ${DNSMASQ} not found (install the Debian package dnsmasq-base).`)
      process.exit(2)
    }
    if (!told) console.error(`bench: waiting for ${DNSMASQ} (dnsmasq-base being installed?)`)
    told = true
    execFileSync('sleep', ['2'])
  }
}

// ---------------------------------------------------------------------------------------------
// Inner process: dnsmasq, the measurements, the table.

const children = new Set()
const TMP = process.env[INNER]

// Children (dnsmasq's shell, the servers) also exit by themselves when their stdin closes, which
// happens whenever this process ends, however it ends.
function cleanup() {
  for (const child of children) {
    try {
      if (child.stdin) child.stdin.end()
      else child.kill('SIGTERM')
    } catch {
      // already gone
    }
  }
}
process.on('exit', cleanup)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    cleanup()
    process.exit(1)
  })
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const now = () => performance.now()
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]

function startDnsmasq({ port, logFile, logQueries }) {
  const args = [
    '--no-daemon', '--no-resolv', '--no-hosts', `--port=${port}`,
    '--listen-address=127.0.0.1', '--bind-interfaces', '--cache-size=10000', '--local-ttl=300',
    // Every name under bench.test has A 127.0.0.1 (TTL 300 s, --local-ttl); --local makes the
    // domain authoritative here, so AAAA queries get NODATA at once instead of REFUSED.
    '--address=/bench.test/127.0.0.1', '--local=/bench.test/',
    // ...except slow.bench.test, forwarded to slow-dns.js (answers after SLOW_DNS_DELAY ms).
    `--server=/slow.bench.test/127.0.0.1#${SLOW_DNS_PORT}`, `--server=/rtt.bench.test/127.0.0.1#${SLOW_DNS_PORT}`,
    '--dns-forward-max=10000',
    `--log-facility=${logFile}`, '--pid-file=',
  ]
  if (logQueries) args.push('--log-queries')
  // dnsmasq runs under a small shell that kills it when our end of its stdin closes, so that it
  // cannot outlive this process even if we are killed; the shell prints dnsmasq's pid first.
  const script = '"$@" & pid=$!; echo $pid; cat >/dev/null; kill $pid'
  const child = spawn('sh', ['-c', script, 'sh', DNSMASQ, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => {
    if (stderr.length < 10_000) stderr += d
  })
  children.add(child)
  child.on('exit', () => children.delete(child))
  const dm = { child, pid: null, port, logFile, stderr: () => stderr }
  dm.started = new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve((dm.pid = Number(String(d).trim()))))
    child.on('exit', (code) => reject(new Error(`dnsmasq exited (${code}):\n${stderr}`)))
  })
  dm.stop = () => child.stdin.end()
  return dm
}

async function waitReady(dm) {
  await dm.started
  const r = new dns.promises.Resolver({ timeout: 200, tries: 1 })
  r.setServers([`127.0.0.1:${dm.port}`])
  for (let i = 0; i < 50; i++) {
    try {
      await r.resolve4('ready.bench.test')
      return
    } catch {
      await sleep(100)
    }
  }
  throw new Error(`dnsmasq on port ${dm.port} did not answer:\n${dm.stderr()}`)
}

/** Total queries dnsmasq has answered since it started (its SIGUSR1 statistics). */
async function queryCount(dm) {
  const offset = fs.statSync(dm.logFile).size
  process.kill(dm.pid, 'SIGUSR1')
  for (let i = 0; i < 300; i++) {
    await sleep(5)
    const fd = fs.openSync(dm.logFile, 'r')
    const size = fs.fstatSync(fd).size
    const buf = Buffer.alloc(size - offset)
    fs.readSync(fd, buf, 0, buf.length, offset)
    fs.closeSync(fd)
    const m = /queries forwarded (\d+), queries answered locally (\d+)\n/.exec(buf.toString())
    if (m) return Number(m[1]) + Number(m[2])
  }
  throw new Error('dnsmasq did not report its statistics')
}

/** CPU seconds used so far by process `pid`. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100 // utime + stime, in USER_HZ (100)
}

let seq = 0
const fresh = (tag, zone = 'bench.test') => `${tag}${++seq}.${zone}`

// --- load generators ------------------------------------------------------------------------

/** ops/s of `await op()` in `concurrency` loops for `ms` (the clock is read every `batch` ops). */
async function awaitLoop(op, ms, concurrency = 1, batch = 128) {
  let n = 0
  const t0 = now()
  const end = t0 + ms
  const worker = async () => {
    do {
      for (let k = 0; k < batch; k++) await op()
      n += batch
    } while (now() < end)
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return (n * 1000) / (now() - t0)
}

/** ops/s of a dns.lookup-style function called again from its own callback, for `ms`. */
function callbackLoop(fn, name, ms, batch = 128) {
  return new Promise((resolve, reject) => {
    let n = 0
    const t0 = now()
    const end = t0 + ms
    const next = (err) => {
      if (err) return reject(err)
      if (++n % batch === 0 && now() >= end) return resolve((n * 1000) / (now() - t0))
      fn(name, next)
    }
    fn(name, next)
  })
}

/**
 * Keeps `concurrency` calls of `op(freshName)` in flight until stopped; counts completions and
 * failures. Returns { stop(): Promise<{ ops, errors, seconds }> }.
 */
function openLoad(op, tag, concurrency, zone, rampMs = 0) {
  let stopped = false
  let ops = 0
  let errors = 0
  let firstError = null
  const t0 = now()
  const worker = async (i) => {
    // A ramp spreads the first calls over rampMs, as requests arriving at a server would be,
    // instead of starting them all in the same millisecond (and finishing them all in the next).
    if (rampMs > 0) await sleep((i * rampMs) / concurrency)
    while (!stopped) {
      try {
        await op(fresh(tag, zone))
      } catch (err) {
        errors++
        firstError = firstError || err
      }
      ops++
    }
  }
  const all = Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)))
  return {
    async stop() {
      stopped = true
      await all
      return { ops, errors, firstError, seconds: (now() - t0) / 1000 }
    },
    count: () => ops,
  }
}

/** Cold lookups for `ms` with `concurrency` in flight, plus what they cost dnsmasq and us. */
async function coldRun(dm, op, tag, ms, concurrency = 100, zone = 'bench.test') {
  const q0 = await queryCount(dm)
  const d0 = cpuSeconds(dm.pid)
  const c0 = process.cpuUsage()
  const load = openLoad(op, tag, concurrency, zone)
  await sleep(ms)
  const { ops, errors, firstError, seconds } = await load.stop()
  const c1 = process.cpuUsage(c0)
  const d1 = cpuSeconds(dm.pid)
  const q1 = await queryCount(dm)
  return {
    rate: ops / seconds,
    errors,
    firstError,
    queriesPerOp: (q1 - q0) / ops,
    nodeCpu: (c1.user + c1.system) / 1e6 / seconds,
    dnsmasqCpu: (d1 - d0) / seconds,
  }
}

// --- the measurements -----------------------------------------------------------------------

async function inner() {
  const started = now()
  const ms = (x) => Math.max(50, Math.round(x * SCALE))
  const results = { rows: [], notes: [] }

  await startSlowDns()
  const dmLog = path.join(TMP, 'dnsmasq.log')
  const dm = startDnsmasq({ port: 53, logFile: dmLog })
  await waitReady(dm)

  const api = require(PKG)
  const { resolveIPv4, lookup, patchNet, unpatchNet } = api
  const { default: CacheableLookup } = await import('cacheable-lookup')
  const clVersion = JSON.parse(fs.readFileSync(path.join(PKG, 'node_modules', 'cacheable-lookup', 'package.json'), 'utf8')).version
  const resolver = new dns.promises.Resolver()
  resolver.setServers(['127.0.0.1'])
  const cl = new CacheableLookup({ resolver: new dns.promises.Resolver() })
  cl.servers = ['127.0.0.1']
  // cacheable-lookup honours hints: ADDRCONFIG (which net.connect passes) from its own scan of the
  // non-internal interfaces, and this namespace has only lo: tell it IPv4 is configured.
  cl._iface = { has4: true, has6: false }

  printHeader(clVersion)

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
  const hotSeq = await rounds(5, Object.keys(hotOps), (k) => awaitLoop(hotOps[k], hotMs(k)))
  const hotPar = await rounds(5, Object.keys(hotOps), (k) => awaitLoop(hotOps[k], hotMs(k), 100, 16))
  const hotCbR = await rounds(5, ['ipv4', 'dnsLookup', 'cacheable'], (k) => callbackLoop(hotCb[k], HOT, hotMs(k)))
  results.rows.push(
    row('1a hot, sequential await (ops/s)', hotSeq, fmtRate, 'cacheable', '>= 2x cacheable', (r) => r >= 2),
    row('1b hot, 100 concurrent (ops/s)', hotPar, fmtRate, 'cacheable', '>= 2x cacheable', (r) => r >= 2),
    row('1c hot, lookup() callback (ops/s)', hotCbR, fmtRate, 'cacheable', '>= 2x cacheable', (r) => r >= 2),
  )
  results.notes.push('1: ipv4-force = resolveIPv4() / lookup(); cacheable-lookup = lookupAsync() / lookup(), both answered ' +
    'from their cache; dns.lookup / resolve4 query dnsmasq every time (no cache), shown for scale' +
    (hotErrors.dnsLookup + hotErrors.resolve4 ? ` (failures: dns.lookup ${hotErrors.dnsLookup}, resolve4 ${hotErrors.resolve4})` : '') + '.')
  progress('hot lookups', started)

  // 2. Cold lookups ----------------------------------------------------------------------------
  const coldOps = {
    ipv4: (name) => resolveIPv4(name),
    dnsLookup: (name) => dns.promises.lookup(name),
    resolve4: (name) => resolver.resolve4(name),
    cacheable: (name) => cl.lookupAsync(name),
  }
  for (const k of Object.keys(coldOps)) await coldRun(dm, coldOps[k], `warm-${k}-`, ms(150)) // warm-up
  const coldDetail = {}
  const cold = await rounds(3, Object.keys(coldOps), async (k) => {
    const r = await coldRun(dm, coldOps[k], `cold-${k}-`, ms(1000))
    ;(coldDetail[k] = coldDetail[k] || []).push(r)
    return r.rate
  })
  // The same with a network-like round trip: dnsmasq forwards *.rtt.bench.test to slow-dns.js.
  const coldRtt = await rounds(3, Object.keys(coldOps), async (k) => (await coldRun(dm, coldOps[k], `rtt-${k}-`, ms(800), 100, 'rtt.bench.test')).rate)
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

  // dnsmasq headroom: two independent c-ares clients in separate processes at once.
  const headroom = await dnsmasqHeadroom(dm, ms(1000))
  results.notes.push(`   dnsmasq headroom: 2 separate node processes running resolve4 (100 in flight each) together got ` +
    `${fmtRate(headroom.rate)} ops/s with dnsmasq at ${pct(headroom.dnsmasqCpu)} CPU ` +
    `(vs ${fmtRate(median(cold.resolve4))} from one): ${headroom.dnsmasqCpu < 0.8 ? 'dnsmasq is not the bottleneck (below one core; the 2 node processes are)' : 'dnsmasq may be near its limit'}.`)
  progress('dnsmasq headroom', started)

  // Each later section starts from a clean heap: the cold runs leave cacheable-lookup's cache with
  // ~100k names (TTL 300 s) in the old generation, and the garbage collection that costs slowed every
  // allocation-heavy path measured after it (connects by name cost ~4 µs more, whichever lookup they used).
  const cleanSlate = () => {
    cl.clear()
    api.clearCache()
    global.gc()
  }
  cleanSlate()

  // 3. Connect through patchNet() ----------------------------------------------------------------
  const server = await startTcpServer()
  const CONNECT_NAME = 'connect.bench.test'
  const connectOpts = {
    ipv4: { host: CONNECT_NAME, port: server.port },
    dnsLookup: { host: CONNECT_NAME, port: server.port },
    cacheable: { host: CONNECT_NAME, port: server.port, lookup: cl.lookup },
    byIp: { host: '127.0.0.1', port: server.port },
    byIpPatched: { host: '127.0.0.1', port: server.port },
  }
  const withPatch = async (k, fn) => {
    if (k === 'ipv4' || k === 'byIpPatched') patchNet()
    try {
      return await fn()
    } finally {
      unpatchNet()
    }
  }
  await resolveIPv4(CONNECT_NAME)
  for (const k of Object.keys(connectOpts)) await withPatch(k, () => connectLoop(connectOpts[k], ms(100), 1))
  const cpuPerConn = {}
  const measureConnect = async (k, concurrency) => {
    const c0 = process.cpuUsage()
    const t0 = now()
    const rate = await withPatch(k, () => connectLoop(connectOpts[k], ms(k === 'dnsLookup' ? 300 : 500), concurrency))
    const c = process.cpuUsage(c0)
    const key = `${k}/${concurrency}`
    ;(cpuPerConn[key] = cpuPerConn[key] || []).push((c.user + c.system) / (rate * ((now() - t0) / 1000)))
    return rate
  }
  const connSeq = await rounds(5, Object.keys(connectOpts), (k) => measureConnect(k, 1))
  const connPar = await rounds(5, Object.keys(connectOpts), (k) => measureConnect(k, 50))
  const cpuNote = (c) => ['ipv4', 'byIp', 'byIpPatched', 'cacheable', 'dnsLookup']
    .map((k) => `${{ ipv4: 'patchNet by name', byIp: 'by IP', byIpPatched: 'patchNet by IP', cacheable: 'cacheable', dnsLookup: 'dns.lookup' }[k]} ` +
      `${median(cpuPerConn[`${k}/${c}`]).toFixed(1)}`).join(', ')
  results.rows.push(
    row('3a connect by name, sequential (conn/s)', connSeq, fmtRate, 'byIp', '>= 0.9x by IP', (r) => r >= 0.9),
    row('3b connect by name, 50 parallel (conn/s)', connPar, fmtRate, 'byIp', '>= 0.9x by IP', (r) => r >= 0.9),
  )
  results.notes.push(`3: net.connect() + resetAndDestroy() on 'connect' (see connectOnce), to a server in a separate node process (its accept/close ` +
    'work stays off the measured event loop and CPU). ipv4-force = by name with patchNet(); dns.lookup = by name, ' +
    'unpatched; cacheable = by name with { lookup: cacheable.lookup }; reference = by IP, unpatched. ' +
    `By IP with patchNet() active: ${fmtRate(median(connSeq.byIpPatched))} sequential, ${fmtRate(median(connPar.byIpPatched))} parallel.`,
  `   client CPU µs per connection (less noisy than conn/s on a shared machine), sequential: ${cpuNote(1)}; ` +
    `50 parallel: ${cpuNote(50)}.`)
  progress('connect', started)

  // 4. In-flight de-duplication ------------------------------------------------------------------
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

  cleanSlate()
  // 5. Threadpool ----------------------------------------------------------------------------------
  const tp = await threadpoolCheck(resolveIPv4, resolver, ms)
  const slowLabel = `${SLOW_DNS_DELAY} ms DNS`
  results.rows.push(
    row(`5a readFile p99, main thread, 1000 in flight, ${slowLabel}`, tp.slow.main.p99, fmtMs, 'idle', '<= 1.5x idle', (r) => r <= 1.5),
    row(`5b readFile p99, worker thread, 1000 in flight, ${slowLabel}`, tp.slow.worker.p99, fmtMs, 'idle', '<= 1.5x idle', (r) => r <= 1.5),
    row('5c readFile p99, main thread, CPU saturated (instant DNS)', tp.fast.main.p99, fmtMs, 'idle', 'info', null),
    row('5d readFile p99, worker thread, CPU saturated (instant DNS)', tp.fast.worker.p99, fmtMs, 'idle', 'info', null),
  )
  const p50s = (t) => `idle ${fmtMs(t.p50.idle)}, ipv4-force ${fmtMs(t.p50.ipv4)}, dns.lookup ${fmtMs(t.p50.dnsLookup)}, resolve4 ${fmtMs(t.p50.resolve4)}`
  const rates = (t) => `ipv4-force ${fmtRate(t.rate.ipv4)}, dns.lookup ${fmtRate(t.rate.dnsLookup)}, resolve4 ${fmtRate(t.rate.resolve4)}`
  results.notes.push(
    '5: fs.promises.readFile of a 1 KiB file once per ms, timed, on the main thread and at the same time in a worker thread ' +
      `(own event loop: it sees the libuv threadpool, size ${process.env.UV_THREADPOOL_SIZE || 4}, and CPU contention, not the ` +
      'main thread\'s event-loop work). resolve4 (c-ares, no threadpool either) is the control for event-loop/CPU contention.',
    `   instant DNS: lookups/s ${rates(tp.fast)}; p50 worker ${p50s(tp.fast.worker)}; p50 main ${p50s(tp.fast.main)}.`,
    `   5a/5b, ${slowLabel} (*.slow.bench.test, answered by bench/slow-dns.js, which ipv4-force and resolve4 ask directly; ` +
      'dns.lookup through dnsmasq): the lookups wait on the network, ' +
      `which is what "in flight" means for a server; their first calls are spread over ${SLOW_DNS_DELAY} ms, as arriving requests ` +
      `would be, not all started in one millisecond. dns.lookup gets only 4 in flight there (libuv runs at most 2 getaddrinfo at once ` +
      `and 1000 queued 200 ms lookups would take minutes to drain): lookups/s ${rates(tp.slow)}; p50 worker ${p50s(tp.slow.worker)}; ` +
      `p50 main ${p50s(tp.slow.main)}.`,
    '   5c/5d, instant DNS: 1000 in flight then means as many lookups per second as 2 cores allow, so every thread competes ' +
      'for the CPU; shown for the contention it causes (info: no resolver can keep p99 at idle while saturating the machine, ' +
      'as the c-ares control shows).',
  )
  if (tp.failures.length) results.notes.push(`   lookup failures under load: ${tp.failures.join('; ')}.`)
  progress('threadpool', started)

  // 6. Memory, size, load time ------------------------------------------------------------------------
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
  printTable(results)
  console.log(`\n(total ${((now() - started) / 1000).toFixed(0)} s)`)
  cleanup()
}

// Runs `fn(key)` for every key, `n` times round-robin; returns { key: [results] }.
async function rounds(n, keys, fn) {
  const out = {}
  for (let i = 0; i < n; i++) {
    for (const k of keys) (out[k] = out[k] || []).push(await fn(k))
  }
  return out
}

// Closed with a reset (SO_LINGER 0): a FIN close leaves a TIME_WAIT socket per connection, and
// with tens of thousands of those the kernel's ephemeral-port search makes connect() cost vary by
// 2x from run to run, which swamps the few µs the lookup adds. The close is the same in every variant.
function connectOnce(opts) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(opts)
    socket.once('connect', () => {
      socket.resetAndDestroy()
      resolve()
    })
    socket.once('error', reject)
  })
}

function connectLoop(opts, ms, concurrency) {
  return awaitLoop(() => connectOnce(opts), ms, concurrency, 8)
}

async function startTcpServer() {
  const child = spawn(process.execPath, [path.join(__dirname, 'tcp-server.js')], { stdio: ['pipe', 'pipe', 'inherit'] })
  children.add(child)
  const port = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('\n')) resolve(Number(out.trim()))
    })
    child.on('exit', (code) => reject(new Error(`tcp-server exited (${code})`)))
  })
  return {
    port,
    close() {
      child.stdin.end()
      children.delete(child)
    },
  }
}

async function startSlowDns() {
  const child = spawn(process.execPath,
    [path.join(__dirname, 'slow-dns.js'), String(SLOW_DNS_PORT), `slow=${SLOW_DNS_DELAY}`, `rtt=${RTT_DNS_DELAY}`],
    { stdio: ['pipe', 'pipe', 'inherit'] })
  children.add(child)
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve)
    child.on('exit', (code) => reject(new Error(`slow-dns exited (${code})`)))
  })
}

async function dnsmasqHeadroom(dm, windowMs) {
  const script = `
    const dns = require('node:dns')
    const r = new dns.promises.Resolver(); r.setServers(['127.0.0.1'])
    let n = 0, stop = false, seq = 0
    const tag = process.argv[1]
    const w = async () => { while (!stop) { await r.resolve4(tag + (++seq) + '.bench.test'); n++ } }
    // Start together: wait for the parent's go byte.
    process.stdin.once('data', async () => {
      const t0 = performance.now()
      const all = Promise.all(Array.from({ length: 100 }, w))
      setTimeout(async () => { stop = true; await all; console.log(n / ((performance.now() - t0) / 1000)); process.exit(0) }, ${windowMs})
    })
    console.log('ready')`
  const procs = [0, 1].map((i) => {
    const child = spawn(process.execPath, ['-e', script, `head${i}-`], { stdio: ['pipe', 'pipe', 'inherit'] })
    children.add(child)
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    const ready = new Promise((resolve) => child.stdout.on('data', () => out.includes('ready') && resolve()))
    const done = new Promise((resolve) => child.on('exit', () => {
      children.delete(child)
      resolve(Number(out.split('\n')[1]))
    }))
    return { child, ready, done }
  })
  await Promise.all(procs.map((p) => p.ready))
  const d0 = cpuSeconds(dm.pid)
  const t0 = now()
  for (const p of procs) p.child.stdin.write('g')
  const rates = await Promise.all(procs.map((p) => p.done))
  const seconds = (now() - t0) / 1000
  return { rate: rates.reduce((a, b) => a + b, 0), dnsmasqCpu: (cpuSeconds(dm.pid) - d0) / seconds }
}

async function dedupLogged(resolveIPv4) {
  const logFile = path.join(TMP, 'dnsmasq-queries.log')
  const dm2 = startDnsmasq({ port: 5353, logFile, logQueries: true })
  await waitReady(dm2)
  const name = fresh('dedup-logged-')
  const opts = { nameservers: ['127.0.0.1:5353'] }
  await Promise.all(Array.from({ length: 1000 }, () => resolveIPv4(name, opts)))
  await sleep(200) // let dnsmasq flush its log
  const lines = fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes(name) && /query\[/.test(l))
  dm2.stop()
  return { count: lines.length, lines: lines.map((l) => l.replace(/^.*?(query\[)/, '$1').trim()) }
}

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

function runJson(args) {
  const res = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 })
  if (res.status !== 0) throw new Error(`${args.join(' ')} failed (${res.status}): ${res.stderr}`)
  return JSON.parse(res.stdout.trim().split('\n').pop())
}

// --- output ---------------------------------------------------------------------------------

const LABEL = { ipv4: 'ipv4-force', dnsLookup: 'dns.lookup', resolve4: 'resolve4', cacheable: 'cacheable-lookup' }

/**
 * A table row from { key: [runs] }: medians per column, the ratio ipv4-force / `against`
 * (or `against` / ipv4-force when `lowerIsBetter`), and the verdict.
 */
function row(metric, values, fmt, against, target, pass, lowerIsBetter = false) {
  const med = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, median(v)]))
  const refKey = ['byIp', 'idle'].find((k) => k in med)
  let ratio = null
  if (against && med[against] && med.ipv4 !== undefined) ratio = med.ipv4 / med[against]
  const ok = pass === null ? null : pass(ratio)
  return {
    metric,
    ipv4: med.ipv4 !== undefined ? fmt(med.ipv4) : '-',
    dnsLookup: med.dnsLookup !== undefined ? fmt(med.dnsLookup) : '-',
    resolve4: med.resolve4 !== undefined ? fmt(med.resolve4) : '-',
    cacheable: med.cacheable !== undefined ? fmt(med.cacheable) : '-',
    reference: refKey ? `${fmt(med[refKey])} (${refKey === 'byIp' ? 'by IP' : 'idle'})` : '-',
    ratio: ratio === null ? '-' : `${ratio.toFixed(2)}x`,
    target,
    result: ok === null ? 'info' : ok ? 'PASS' : 'FAIL',
    lowerIsBetter,
  }
}

function printHeader(clVersion) {
  const cpus = os.cpus()
  let head = ''
  try {
    head = execFileSync('git', ['-C', PKG, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    head = '?'
  }
  const dmVersion = execFileSync(DNSMASQ, ['--version'], { encoding: 'utf8' }).split('\n')[0].split('  ')[0]
  console.log('ipv4-force benchmark')
  console.log(`machine : ${cpus[0]?.model || '?'}, ${os.availableParallelism()} cores (${cpus.length} CPUs), ` +
    `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${os.release()}`)
  console.log(`node    : ${process.version} (UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE || '4, default'}` +
    `${process.env.TOKIO_WORKER_THREADS ? `, TOKIO_WORKER_THREADS=${process.env.TOKIO_WORKER_THREADS}` : ''})`)
  console.log(`package : ipv4-force ${require(path.join(PKG, 'package.json')).version} @ ${head}; cacheable-lookup ${clVersion}`)
  console.log(`dns     : ${dmVersion} on 127.0.0.1:53 in a private netns (lo only); resolv.conf -> 127.0.0.1; ` +
    'every *.bench.test = A 127.0.0.1, TTL 300 s, AAAA NODATA')
  console.log('figures : medians of 5 (hot, connect) or 3 (others) interleaved runs; ops/s = completed lookups per second\n')
}

function printTable({ rows, notes }) {
  const cols = [
    ['metric', 'metric'], ['ipv4', 'ipv4-force'], ['dnsLookup', 'dns.lookup'], ['resolve4', 'dns.promises.resolve4'],
    ['cacheable', 'cacheable-lookup@7'], ['reference', 'reference'], ['ratio', 'ratio'], ['target', 'target'], ['result', 'PASS/FAIL'],
  ]
  const width = cols.map(([k, h]) => Math.max(h.length, ...rows.map((r) => String(r[k]).length)))
  const line = (cells) => '| ' + cells.map((c, i) => (i === 0 ? String(c).padEnd(width[i]) : String(c).padStart(width[i]))).join(' | ') + ' |'
  console.log(line(cols.map(([, h]) => h)))
  console.log('|' + width.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|')
  for (const r of rows) console.log(line(cols.map(([k]) => (k === 'result' && r.result === 'FAIL' ? '**FAIL**' : r[k]))))
  const failed = rows.filter((r) => r.result === 'FAIL').map((r) => r.metric.split(' ')[0])
  const passed = rows.filter((r) => r.result === 'PASS').length
  console.log(`\n${passed} PASS, ${failed.length} FAIL${failed.length ? ` (${failed.join(', ')})` : ''}`)
  console.log('ratio = ipv4-force / the column named in target; for 5, ipv4-force p99 / idle p99 (lower is better).\n')
  for (const n of notes) console.log(n)
}

function progress(what, started) {
  process.stderr.write(`  [${((now() - started) / 1000).toFixed(0)} s] ${what} done\n`)
}

function sig3(x) {
  if (!Number.isFinite(x)) return String(x)
  if (x === 0) return '0'
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x))))
  return x.toFixed(digits)
}
function fmtRate(x) {
  if (x >= 1e6) return `${sig3(x / 1e6)} M`
  if (x >= 1e3) return `${sig3(x / 1e3)} k`
  return sig3(x)
}
const fmtInt = (x) => String(Math.round(x))
const fmtMb = (x) => (Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2))
const fmtMsPlain = (x) => sig3(x)
const fmtMs = (x) => (x >= 1 ? `${sig3(x)} ms` : `${sig3(x * 1000)} µs`)
const pct = (x) => `${Math.round(x * 100)}%`

// ---------------------------------------------------------------------------------------------
// Entry point: the outer process re-executes this file inside the namespace.

if (!process.env[INNER]) outer()
else inner().catch((err) => {
  console.error(err)
  cleanup()
  process.exit(1) // a load loop or the probe worker may still be running
})
