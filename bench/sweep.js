'use strict'

// `npm run bench -- --cores 1,2[,4,...] [--tokio 1,2,4]`: the hot and cold lookup comparisons
// (rows 1 and 2a/2b of the full bench), once per core count, each in a fresh namespace pinned with
// `taskset` to the first N usable CPUs. Everything in it (node, dnsmasq, slow-dns.js) shares those
// cores, as on a machine of that size. The addon sizes its tokio runtime from the cores it may use
// (affinity included), so each column also shows the worker count that size gets by default;
// `--tokio` repeats every core count with TOKIO_WORKER_THREADS set to each value instead.

const os = require('node:os')

const { median } = require('./util.js')
const { runInNamespace, usableCpus } = require('./namespace.js')
const { LABEL, fmtRate, machine } = require('./table.js')

const SWEEP_INNER = '--sweep-inner'
const IMPLS = ['ipv4', 'dnsLookup', 'resolve4', 'cacheable']

/** Inside one pinned namespace: prints one JSON line of medians. */
async function inner() {
  const scenarios = require('./scenarios.js')
  const { tokioWorkers } = require('./table.js')
  const ctx = await scenarios.setup()
  const h = await scenarios.hot(ctx, 3)
  const c = await scenarios.cold(ctx, 3, { rtt: false })
  const medians = (runs) => Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]))
  const out = {
    cores: os.availableParallelism(),
    tokio: tokioWorkers(),
    hotSeq: medians(h.seq),
    hotPar: medians(h.par),
    cold: medians(c.cold),
    coldCpu: Object.fromEntries(Object.entries(c.coldDetail).map(([k, d]) => [k, median(d.map((r) => r.nodeCpu))])),
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

/** Runs the sweep and prints its table; `script` is bench/index.js. */
function outer(script, coreCounts, tokioList) {
  const cpus = usableCpus()
  const runs = []
  for (const n of coreCounts) {
    if (n > cpus.length) {
      console.error(`bench: skipping ${n} cores: this process may use ${cpus.length} (${cpus.join(',')})`)
      continue
    }
    for (const tokio of tokioList) {
      const pinned = cpus.slice(0, n)
      process.stderr.write(`bench: ${n} core(s) (CPU ${pinned.join(',')})${tokio ? `, TOKIO_WORKER_THREADS=${tokio}` : ''}\n`)
      const res = runInNamespace(script, [SWEEP_INNER], {
        cpus: pinned,
        env: tokio ? { TOKIO_WORKER_THREADS: String(tokio) } : {},
        capture: true,
      })
      if (res.status !== 0) {
        console.error(`bench: the run on ${n} cores failed (${res.status})`)
        process.exit(1)
      }
      runs.push({ n, cpus: pinned, ...JSON.parse(res.stdout.trim().split('\n').pop()) })
    }
  }
  if (!runs.length) process.exit(2)
  printSweep(runs)
}

function printSweep(runs) {
  console.log(`core sweep: ${machine()}, Linux ${os.release()}, Node ${process.version}`)
  console.log('each column: a fresh private namespace pinned with taskset to the first N usable CPUs (node, dnsmasq and ' +
    'the helper servers all share them); medians of 3 interleaved runs\n')
  const heads = runs.map((r) => `${r.n} core${r.n > 1 ? 's' : ''}, tokio ${r.tokio.split(' ')[0]}`)
  const rows = []
  const section = (metric, key, fmt = fmtRate) => {
    for (const k of IMPLS) {
      const vals = runs.map((r) => r[key][k])
      if (vals.every((v) => v === undefined)) continue
      const first = vals[0]
      const last = vals[vals.length - 1]
      rows.push([k === 'ipv4' ? metric : '', LABEL[k], ...vals.map((v) => (v === undefined ? '-' : fmt(v))),
        runs.length > 1 && first ? `${(last / first).toFixed(2)}x` : '-'])
    }
  }
  const ratio = (metric, key, against) => rows.push([metric, '', ...runs.map((r) => `${(r[key].ipv4 / r[key][against]).toFixed(2)}x`), '-'])
  section('hot, sequential await (ops/s)', 'hotSeq')
  section('hot, 100 concurrent (ops/s)', 'hotPar')
  ratio('  ipv4-force ÷ cacheable-lookup', 'hotPar', 'cacheable')
  section('cold, 100 in flight (ops/s)', 'cold')
  ratio('  ipv4-force ÷ resolve4 (2a)', 'cold', 'resolve4')
  ratio('  ipv4-force ÷ dns.lookup (2b)', 'cold', 'dnsLookup')
  section('cold: node process CPU (cores)', 'coldCpu', (x) => x.toFixed(2))
  const header = ['metric', 'implementation', ...heads, `${heads.length > 1 ? 'last ÷ first' : ''}`]
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) => '| ' + cells.map((c, i) => (i < 2 ? String(c).padEnd(width[i]) : String(c).padStart(width[i]))).join(' | ') + ' |'
  console.log(line(header))
  console.log('|' + width.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|')
  for (const r of rows) console.log(line(r))
  console.log('\ntokio worker threads per column: ' + runs.map((r) => `${r.n} core${r.n > 1 ? 's' : ''}: ${r.tokio}`).join('; '))
}

/** `--cores 1,2` / `--tokio 1,2` from argv: { cores: [1, 2] | null, tokio: [null] | [1, 2] }. */
function parseArgs(argv) {
  const list = (name) => {
    const i = argv.indexOf(name)
    if (i < 0) return null
    const values = String(argv[i + 1] || '').split(',').map(Number)
    if (!values.length || values.some((v) => !Number.isInteger(v) || v < 1)) {
      console.error(`bench: ${name} takes a list of positive integers, e.g. ${name} 1,2,4`)
      process.exit(2)
    }
    return values
  }
  return { cores: list('--cores'), tokio: list('--tokio') || [null] }
}

module.exports = { SWEEP_INNER, inner, outer, parseArgs }
