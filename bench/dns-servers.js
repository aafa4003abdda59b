'use strict'

// The bench's DNS servers: dnsmasq (the namespace's system resolver, and a second one that logs
// queries) and bench/slow-dns.js (zones answered after a delay).

const { spawn } = require('node:child_process')
const dns = require('node:dns')
const fs = require('node:fs')
const path = require('node:path')

const { TMP, children, sleep, now, cpuSeconds, fresh } = require('./util.js')

const DNSMASQ = '/usr/sbin/dnsmasq'
const SLOW_DNS_PORT = 5300
const SLOW_DNS_DELAY = 200 // ms: *.slow.bench.test, for the threadpool check
const RTT_DNS_DELAY = 20 // ms: *.rtt.bench.test, cold lookups with a network-like round trip

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
  // Lower-cased: ipv4-force sends names in random letter case (0x20), and dnsmasq logs them as sent.
  const lines = fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => l.toLowerCase().includes(name) && /query\[/.test(l))
  dm2.stop()
  return { count: lines.length, lines: lines.map((l) => l.replace(/^.*?(query\[)/, '$1').trim()) }
}

// The readFile probe: one read of a 1 KiB file per millisecond (a steady, light load of its own),
// timing each read. The same loop runs on the main thread and in a worker thread: the worker has
// its own event loop, so its latencies show the libuv threadpool (shared by the process) and CPU

module.exports = {
  DNSMASQ, SLOW_DNS_PORT, SLOW_DNS_DELAY, RTT_DNS_DELAY,
  startDnsmasq, waitReady, queryCount, startSlowDns, dnsmasqHeadroom, dedupLogged,
}
