'use strict'

// Shared by the bench's modules: child-process bookkeeping, timing and statistics helpers.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const PKG = path.resolve(__dirname, '..')
const INNER = 'IPV4_FORCE_BENCH_INNER'
const SCALE = Number(process.env.BENCH_SCALE || 1)
/** The namespace's temp directory (set by namespace.js for the process it starts inside). */
const TMP = process.env[INNER]

/** Timed windows, scaled by BENCH_SCALE. */
const ms = (x) => Math.max(50, Math.round(x * SCALE))

const children = new Set()

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

/** Ends the children on exit and on the usual signals (call once, in the process that owns them). */
function cleanupOnExit() {
  process.on('exit', cleanup)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      cleanup()
      process.exit(1)
    })
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const now = () => performance.now()
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]

/** CPU seconds used so far by process `pid`. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100 // utime + stime, in USER_HZ (100)
}

let seq = 0
const fresh = (tag, zone = 'bench.test') => `${tag}${++seq}.${zone}`

// Runs `fn(key)` for every key, `n` times round-robin; returns { key: [results] }.
async function rounds(n, keys, fn) {
  const out = {}
  for (let i = 0; i < n; i++) {
    for (const k of keys) (out[k] = out[k] || []).push(await fn(k))
  }
  return out
}

function runJson(args, env = {}) {
  const res = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } })
  if (res.status !== 0) throw new Error(`${args.join(' ')} failed (${res.status}): ${res.stderr}`)
  return JSON.parse(res.stdout.trim().split('\n').pop())
}

function progress(what, started) {
  process.stderr.write(`  [${((now() - started) / 1000).toFixed(0)} s] ${what} done\n`)
}

module.exports = {
  PKG, INNER, SCALE, TMP, ms, children, cleanup, cleanupOnExit,
  sleep, now, median, quantile, cpuSeconds, fresh, rounds, runJson, progress,
}
