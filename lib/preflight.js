'use strict'

// The start-up preflight: IPV4_FORCE_CHECK=DATABASE_URL,REDIS_URL (register) or
// patchNet({ check: [...] }). Each target is checked as `ipv4-force check` checks it, in the
// background, and gets one line on stderr: "ok" with the IPv4 address connected to, or the verdict
// and what to do. It never holds the process: the checks run in Rust and report through a weak
// threadsafe function, and the time limit's timer is unref'd, so a script that is done exits at
// once, with or without its lines.

const { diagnoseInBackground, redactTarget } = require('./native.js')
const { invalidArgType } = require('./errors.js')
const { sentence } = require('./diagnose.js')
const { wordReport } = require('./check-words.js')

// Per DNS attempt and for the TCP connect (`check --timeout`); the Supabase pooler search has its
// own limit of a few seconds.
const CHECK_TIMEOUT_MS = 3000
// Past this, a target still unchecked gets its line anyway, saying so.
const PREFLIGHT_LIMIT_MS = 15000

/** `check` as given to patchNet: null when absent, else an array of {label, target}. */
function checkTargets(check, name) {
  if (check === undefined) return null
  if (!Array.isArray(check) || !check.every((t) => typeof t === 'string')) {
    throw invalidArgType(name, 'an array of strings (URLs or host:port)', check)
  }
  return check.map((target) => ({ label: null, target }))
}

/** IPV4_FORCE_CHECK's targets: the value of each variable it names (null when unset or empty). */
function targetsFromEnv(names, env = process.env) {
  return names
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
    .map((name) => ({ label: name, target: (env[name] || '').trim() || null }))
}

function startPreflight(targets, options = {}, write = (line) => process.stderr.write(`${line}\n`)) {
  if (targets.length === 0) return
  // After the code that loaded us has run on: even the native calls wait for the next turn.
  setImmediate(() => {
    const pending = new Set()
    for (const item of targets) {
      if (item.target === null) {
        write(`ipv4-force: ${item.label} is not set (named in IPV4_FORCE_CHECK), nothing to check`)
        continue
      }
      pending.add(item)
      diagnoseInBackground(item.target, { ...options, timeout: CHECK_TIMEOUT_MS }, (outcome) => {
        if (!pending.delete(item)) return // already reported as unfinished
        write(lineFor(item, outcome))
      })
    }
    if (pending.size === 0) return
    setTimeout(() => {
      for (const item of pending) write(`${head(item, redactTarget(item.target))} not checked: no verdict within ${PREFLIGHT_LIMIT_MS / 1000} s`)
      pending.clear()
    }, PREFLIGHT_LIMIT_MS).unref()
  })
}

function head(item, shown) {
  return item.label === null ? `ipv4-force: ${shown}` : `ipv4-force: ${item.label} ${shown}`
}

/** The one line for a target (from the check's facts): ok and the address, or the verdict and the remedy. */
function lineFor(item, facts) {
  if (typeof facts.verdict !== 'string') {
    return `${head(item, redactTarget(item.target))} not checked: ${facts.message}`
  }
  const outcome = wordReport(facts)
  const start = head(item, outcome.target)
  if (outcome.ok) {
    const tcp = outcome.tcp4
    if (tcp.attempted && tcp.ok) return `${start} ok: connected over IPv4 to ${tcp.address} in ${tcp.ms} ms`
    return `${start} ok: resolves to IPv4 ${outcome.a.join(', ')} (no port given, no connection tried)`
  }
  return `${start} ${outcome.verdict}: ${sentence(outcome.summary)} Next step: ${sentence(outcome.hint)}`
}

module.exports = { startPreflight, checkTargets, targetsFromEnv, lineFor }
