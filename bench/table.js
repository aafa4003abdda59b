'use strict'

// The bench's output: table rows, the header that states the machine, number formats.

const { execFileSync } = require('node:child_process')
const os = require('node:os')
const path = require('node:path')

const { PKG, median } = require('./util.js')
const { DNSMASQ } = require('./dns-servers.js')

const LABEL = { ipv4: 'ipv4-force', dnsLookup: 'dns.lookup', resolve4: 'resolve4', cacheable: 'cacheable-lookup' }

/**
 * A table row from { key: [runs] }: medians per column, the ratio ipv4-force / `against`
 * (or `against` / ipv4-force when `lowerIsBetter`), and the verdict.
 */
function row(metric, values, fmt, against, target, pass, lowerIsBetter = false) {
  const med = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, median(v)]))
  const refKey = ['byIp', 'idle', 'interval', 'unobserved', 'perQuery'].find((k) => k in med)
  let ratio = null
  if (against && med[against] && med.ipv4 !== undefined) ratio = med.ipv4 / med[against]
  const ok = pass === null ? null : pass(ratio)
  return {
    metric,
    ipv4: med.ipv4 !== undefined ? fmt(med.ipv4) : '-',
    dnsLookup: med.dnsLookup !== undefined ? fmt(med.dnsLookup) : '-',
    resolve4: med.resolve4 !== undefined ? fmt(med.resolve4) : '-',
    cacheable: med.cacheable !== undefined ? fmt(med.cacheable) : '-',
    reference: refKey ? `${fmt(med[refKey])} (${{ byIp: 'by IP', idle: 'idle', interval: '1 s checks', unobserved: 'no subscriber', perQuery: 'per query' }[refKey]})` : '-',
    ratio: ratio === null ? '-' : `${ratio.toFixed(2)}x`,
    target,
    result: ok === null ? 'info' : ok ? 'PASS' : 'FAIL',
    lowerIsBetter,
  }
}


function printHeader(clVersion) {
  let head = ''
  try {
    head = execFileSync('git', ['-C', PKG, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    head = '?'
  }
  const dmVersion = execFileSync(DNSMASQ, ['--version'], { encoding: 'utf8' }).split('\n')[0].split('  ')[0]
  console.log('ipv4-force benchmark')
  console.log(`machine : ${machine()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${os.release()}`)
  console.log(`node    : ${process.version} (UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE || '4, default'}); ` +
    `tokio worker threads: ${tokioWorkers()}`)
  console.log(`package : ipv4-force ${require(path.join(PKG, 'package.json')).version} @ ${head}; cacheable-lookup ${clVersion}`)
  console.log(`dns     : ${dmVersion} on 127.0.0.1:53 in a private netns (lo only); resolv.conf -> 127.0.0.1; ` +
    'every *.bench.test = A 127.0.0.1, TTL 300 s, AAAA NODATA')
  console.log('figures : medians of 5 (hot, connect) or 3 (others) interleaved runs; ops/s = completed lookups per second\n')
}

/** CPU model and the cores this process may use (affinity), e.g. "Intel Xeon, 2 of 2 CPUs". */
function machine() {
  const cpus = os.cpus()
  return `${(cpus[0]?.model || '?').replace(/\((R|TM)\)/g, '').replace(/\s+/g, ' ').trim()}, ` +
    `${os.availableParallelism()} usable cores of ${cpus.length} CPUs`
}

/**
 * The addon's tokio worker count, as it sized its runtime (src/runtime.rs), with where it came
 * from. Call after the package is loaded.
 */
function tokioWorkers() {
  let n
  try {
    n = require(path.join(PKG, 'binding.js')).runtimeWorkerThreads?.()
  } catch {
    return 'none (no native addon)'
  }
  if (n === undefined) return '? (addon without runtimeWorkerThreads)'
  if (n === null) return "napi-rs's default runtime"
  const env = process.env.TOKIO_WORKER_THREADS
  return `${n} (${env ? `TOKIO_WORKER_THREADS=${env}` : `from ${os.availableParallelism()} usable core${os.availableParallelism() > 1 ? 's' : ''}`})`
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
  console.log('ratio = ipv4-force / the column named in target; for 5, ipv4-force / idle (batch time or p99; lower is better).\n')
  for (const n of notes) console.log(n)
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

module.exports = { LABEL, row, printHeader, printTable, machine, tokioWorkers, sig3, fmtRate, fmtInt, fmtMb, fmtMsPlain, fmtMs, pct }
