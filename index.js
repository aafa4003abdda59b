'use strict'

// The hand-written API over the generated loader (binding.js). Addresses are decided in Rust;
// this file adapts them to Node's callback and socket conventions.

const net = require('node:net')
const { debuglog } = require('node:util')
const { isMainThread } = require('node:worker_threads')
const { NativeResolver, LookupDispatcher, CompletionQueue } = require('./native.js')

const debug = debuglog('ipv4-force')

// Node marks the `[options, cb]` array that net.connect / http.Agent / undici pass to
// Socket#connect with this symbol; an array without it would be taken for an options object.
const kNormalizedArgs = Object.getOwnPropertySymbols(net._normalizeArgs([]))[0]

const RESOLVER_OPTIONS = ['nameservers', 'timeout', 'attempts', 'fallback', 'maxTtl', 'errorTtl']
const PATCH_OPTIONS = [...RESOLVER_OPTIONS, 'hosts', 'allowIPv6Literals']

// ---------------------------------------------------------------------------------------------
// Errors shaped like Node's

function invalidArgType(name, expected, actual) {
  const received = actual === null ? 'null' : `type ${typeof actual}`
  const err = new TypeError(`The "${name}" argument must be ${expected}. Received ${received}`)
  err.code = 'ERR_INVALID_ARG_TYPE'
  return err
}

function invalidArgValue(name, why) {
  const err = new TypeError(`The "${name}" option is invalid: ${why}`)
  err.code = 'ERR_INVALID_ARG_VALUE'
  return err
}

function lookupError({ code, message, hostname, syscall }) {
  const err = new Error(message)
  err.code = code
  err.hostname = hostname
  err.syscall = syscall
  return err
}

// ---------------------------------------------------------------------------------------------
// Resolvers: one native resolver per distinct configuration (the cache lives behind it, in Rust,
// shared by every caller and worker thread in the process).

// Hot answers are also kept in this thread (from the second lookup of a name on), so a repeated
// lookup costs a Map read instead of a call into Rust. An entry lives at most FRONT_MAX_AGE_MS (and
// never past its TTL), so an answer refreshed in Rust, or cleared by another thread's
// clearCache(), is seen within a second.
const FRONT_MAX_AGE_MS = 1000
const FRONT_MAX_ENTRIES = 2048

class Resolver {
  constructor(native) {
    this.native = native
    this.front = new Map()
  }

  /**
   * The outcome — `{addresses}` or a failure — when it needs no query; otherwise a promise of it
   * (never rejected: failures are outcomes, so their codes survive).
   */
  lookup(hostname) {
    const hit = this.front.get(hostname)
    if (hit !== undefined) {
      if (hit.expires > Date.now()) return hit
      this.front.delete(hostname)
    }
    let outcome
    try {
      outcome = lookups().lookup(this.native, hostname)
    } catch (err) {
      // A Rust panic, caught at the FFI boundary, arrives as a thrown Error.
      return {
        code: 'EINTERNAL',
        message: `queryA EINTERNAL ${hostname}: internal error in ipv4-force, please report it: ${err.message}`,
        hostname,
        syscall: 'queryA',
      }
    }
    // A fresh answer is kept in Rust only; this thread keeps a name once it is asked for again,
    // so one-off names never fill this cache (nor make V8 grow its young generation).
    if (outcome instanceof Promise) return outcome
    return this.remember(hostname, outcome)
  }

  /** Keeps a hot answer in this thread; returns the outcome. */
  remember(hostname, outcome) {
    if (!isAnswer(outcome) || !(outcome.ttlMs > 0)) return outcome
    if (this.front.size >= FRONT_MAX_ENTRIES) this.front.clear()
    outcome.expires = Date.now() + Math.min(outcome.ttlMs, FRONT_MAX_AGE_MS)
    this.front.set(hostname, outcome)
    return outcome
  }

  clearCache() {
    this.front.clear()
    this.native.clearCache()
  }
}

// Lookups that need a query settle in batches. Main thread: one threadsafe function tells this
// thread whenever lookups have finished (a napi async call per lookup would cost more than the
// lookup). It is weak, so a ref'd timer keeps the event loop alive while lookups are pending.
class MainThreadLookups {
  constructor() {
    this.pending = new Map()
    this.nextId = 0
    this.dispatcher = new LookupDispatcher((finished) => settleFinished(this.pending, finished, this))
    this.keepAlive = setInterval(() => {}, 0x7fffffff)
    this.keepAlive.unref()
  }

  lookup(native, hostname) {
    const id = (this.nextId = (this.nextId + 1) >>> 0)
    const now = this.dispatcher.lookup(native, id, hostname)
    if (now !== null) return now
    if (this.pending.size === 0) this.keepAlive.ref()
    return new Promise((resolve) => this.pending.set(id, resolve))
  }

  settled() {
    if (this.pending.size === 0) this.keepAlive.unref()
  }
}

// In worker threads, lookups settle through a CompletionQueue (one libuv work item collecting
// every finished lookup) instead of a threadsafe function: with Node < 24.14, a threadsafe
// function pending when a worker is terminated can corrupt memory (nodejs/node#58484).
class WorkerThreadLookups {
  constructor() {
    this.queue = new CompletionQueue()
    this.pending = new Map()
    this.nextId = 0
    this.waiting = false
  }

  lookup(native, hostname) {
    const id = (this.nextId = (this.nextId + 1) >>> 0)
    const now = this.queue.lookup(native, id, hostname)
    if (now !== null) return now
    const promise = new Promise((resolve) => this.pending.set(id, resolve))
    this.collect()
    return promise
  }

  // Keeps one wait outstanding while lookups are pending, none otherwise (so the thread can exit).
  collect() {
    if (this.waiting || this.pending.size === 0) return
    this.waiting = true
    this.queue.wait().then((finished) => {
      this.waiting = false
      settleFinished(this.pending, finished, this)
    })
  }

  settled() {
    this.collect()
  }
}

function settleFinished(pending, finished, owner) {
  for (const { id, outcome } of finished) {
    const resolve = pending.get(id)
    if (resolve === undefined) continue // cannot happen; never throw inside the native callback
    pending.delete(id)
    resolve(outcome)
  }
  owner.settled()
}

let threadLookups = null
function lookups() {
  if (threadLookups === null) threadLookups = isMainThread ? new MainThreadLookups() : new WorkerThreadLookups()
  return threadLookups
}

function isAnswer(outcome) {
  return outcome.addresses !== undefined
}

// One resolver per distinct configuration; the shared cache lives behind it, in Rust.
const resolvers = new Map()
let systemResolver = null
// Callers that pass the same options object on every call skip re-reading it: an options object
// is read once, so pass a new object to change settings.
const resolverByOptions = new WeakMap()

function resolverFor(options) {
  if (options === undefined || options === null) {
    if (systemResolver === null) systemResolver = resolverFor({})
    return systemResolver
  }
  if (typeof options !== 'object') throw invalidArgType('options', 'an object', options)
  const known = resolverByOptions.get(options)
  if (known) return known
  const picked = {}
  for (const key of RESOLVER_OPTIONS) if (options[key] !== undefined) picked[key] = options[key]
  checkResolverOptions(picked)
  const key = JSON.stringify(picked)
  let resolver = resolvers.get(key)
  if (!resolver) {
    try {
      resolver = new Resolver(new NativeResolver(picked))
    } catch (e) {
      throw invalidArgValue('nameservers', e.message)
    }
    resolvers.set(key, resolver)
  }
  resolverByOptions.set(options, resolver)
  return resolver
}

function checkResolverOptions(o) {
  if (o.nameservers !== undefined && !(Array.isArray(o.nameservers) && o.nameservers.every((s) => typeof s === 'string'))) {
    throw invalidArgType('options.nameservers', 'an array of strings', o.nameservers)
  }
  for (const name of ['timeout', 'attempts']) {
    const v = o[name]
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
      throw invalidArgValue(name, `expected a non-negative integer, got ${String(v)}`)
    }
  }
  for (const name of ['maxTtl', 'errorTtl']) {
    const v = o[name]
    if (v !== undefined && !(typeof v === 'number' && v >= 0)) {
      throw invalidArgValue(name, `expected a number of seconds >= 0, got ${String(v)}`)
    }
  }
  if (o.fallback !== undefined && typeof o.fallback !== 'boolean') {
    throw invalidArgType('options.fallback', 'a boolean', o.fallback)
  }
}

// ---------------------------------------------------------------------------------------------
// resolveIPv4 and lookup

function settle(outcome) {
  return isAnswer(outcome) ? outcome.addresses.slice() : Promise.reject(lookupError(outcome))
}

function resolveWith(resolver, hostname) {
  const outcome = resolver.lookup(hostname)
  if (outcome instanceof Promise) return outcome.then(settle)
  return isAnswer(outcome) ? Promise.resolve(outcome.addresses.slice()) : Promise.reject(lookupError(outcome))
}

/**
 * The IPv4 addresses of `hostname` (A records, /etc/hosts, IPv4 literals), never an empty array.
 */
function resolveIPv4(hostname, options) {
  if (typeof hostname !== 'string') return Promise.reject(invalidArgType('hostname', 'of type string', hostname))
  let resolver
  try {
    resolver = resolverFor(options)
  } catch (err) {
    return Promise.reject(err)
  }
  return resolveWith(resolver, hostname)
}

// Answers a dns.lookup-style callback from an outcome, always asynchronously (as dns.lookup does).
function answer(outcome, all, callback) {
  if (!isAnswer(outcome)) {
    process.nextTick(callback, lookupError(outcome))
  } else if (all) {
    process.nextTick(callback, null, outcome.addresses.map((address) => ({ address, family: 4 })))
  } else {
    process.nextTick(callback, null, outcome.addresses[0], 4)
  }
}

function lookupWith(resolver, hostname, all, callback) {
  const outcome = resolver.lookup(hostname)
  if (!(outcome instanceof Promise)) return answer(outcome, all, callback)
  outcome.then(
    (later) => answer(later, all, callback),
    // Resolver#lookup never rejects by design; this is a last guard so a callback is always called.
    (err) => process.nextTick(callback, err),
  )
}

function lookupFrom(resolver, hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options
    options = {}
  }
  if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback)
  if (typeof hostname !== 'string') throw invalidArgType('hostname', 'of type string', hostname)
  const all = options !== null && typeof options === 'object' && options.all === true
  lookupWith(resolver || resolverFor(), hostname, all, callback)
}

/**
 * A drop-in for dns.lookup that only ever answers IPv4, with the system configuration.
 * lookup(hostname[, options], callback); options may be a family number or {all, family, hints…}.
 */
function lookup(hostname, options, callback) {
  lookupFrom(null, hostname, options, callback)
}

/** A dns.lookup drop-in bound to resolver options (nameservers, timeout…). */
function createLookup(resolverOptions) {
  const resolver = resolverFor(resolverOptions)
  return function lookup(hostname, options, callback) {
    lookupFrom(resolver, hostname, options, callback)
  }
}

function clearCache() {
  for (const resolver of resolvers.values()) resolver.clearCache()
}

// ---------------------------------------------------------------------------------------------
// patchNet: a lookup injected into every Socket#connect by hostname

let patch = null

function hostMatcher(hosts) {
  if (hosts === undefined) return () => true
  if (typeof hosts === 'function') return (host) => Boolean(hosts(host))
  if (!Array.isArray(hosts) || !hosts.every((h) => typeof h === 'string')) {
    throw invalidArgType('options.hosts', 'an array of strings or a function', hosts)
  }
  const exact = new Set()
  const suffixes = []
  for (const h of hosts.map((h) => h.toLowerCase().replace(/\.$/, ''))) {
    if (h.startsWith('*.')) suffixes.push(h.slice(1))
    else exact.add(h)
  }
  return (host) => {
    const name = host.toLowerCase().replace(/\.$/, '')
    return exact.has(name) || suffixes.some((suffix) => name.endsWith(suffix))
  }
}

function patchConfig(options) {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object') throw invalidArgType('options', 'an object', options)
  for (const key of Object.keys(options)) {
    if (!PATCH_OPTIONS.includes(key)) throw invalidArgValue(key, `unknown option (known: ${PATCH_OPTIONS.join(', ')})`)
  }
  if (options.allowIPv6Literals !== undefined && typeof options.allowIPv6Literals !== 'boolean') {
    throw invalidArgType('options.allowIPv6Literals', 'a boolean', options.allowIPv6Literals)
  }
  const resolver = resolverFor(options)
  return {
    resolver,
    isForced: hostMatcher(options.hosts),
    allowIPv6Literals: options.allowIPv6Literals === true,
    forcedLookup: makeForcedLookup(resolver),
  }
}

function makeForcedLookup(resolver) {
  const logged = debug.enabled // NODE_DEBUG is read once, at start-up
  return function ipv4ForceLookup(hostname, dnsOptions, callback) {
    if (typeof dnsOptions === 'function') {
      callback = dnsOptions
      dnsOptions = {}
    }
    const all = Boolean(dnsOptions && dnsOptions.all)
    lookupWith(resolver, hostname, all, logged ? withDebugLine(hostname, callback) : callback)
  }
}

// NODE_DEBUG=ipv4-force: one line per forced connect, `host -> address`, nothing else.
function withDebugLine(hostname, callback) {
  return (err, address, family) => {
    if (err) debug('%s -> %s', hostname, err.code)
    else debug('%s -> %s', hostname, Array.isArray(address) ? address.map((a) => a.address).join(',') : address)
    callback(err, address, family)
  }
}

// The caller's own lookup decides; only its IPv4 answers are kept.
function wrapCallerLookup(callerLookup) {
  return function ipv4FilteredLookup(hostname, dnsOptions, callback) {
    const all = Boolean(dnsOptions && dnsOptions.all)
    callerLookup(hostname, Object.assign({}, dnsOptions, { family: 4, all: true }), (err, addresses) => {
      if (err) return callback(err)
      const list = (Array.isArray(addresses) ? addresses : [{ address: addresses, family: net.isIP(addresses) }])
        .filter((a) => a && net.isIPv4(a.address))
      if (list.length === 0) {
        return callback(lookupError({
          code: 'ENODATA',
          hostname,
          syscall: 'lookup',
          message: `lookup ENODATA ${hostname}: the connection's own lookup function returned no IPv4 address, and ipv4-force only connects over IPv4`,
        }))
      }
      const reply = debug.enabled ? withDebugLine(hostname, callback) : callback
      if (all) reply(null, list.map((a) => ({ address: a.address, family: 4 })))
      else reply(null, list[0].address, 4)
    })
  }
}

function ipv6LiteralLookup(literal) {
  return function refuseIPv6Literal(_hostname, _dnsOptions, callback) {
    callback(lookupError({
      code: 'EAFNOSUPPORT',
      hostname: literal,
      syscall: 'connect',
      message: `connect EAFNOSUPPORT ${literal}: this is an IPv6 address and ipv4-force is forcing IPv4 ` +
        '(this network cannot reach IPv6). Connect to the service by hostname or IPv4 address, ' +
        'or pass allowIPv6Literals: true to patchNet().',
    }))
  }
}

// ::ffff:a.b.c.d (any spelling) → a.b.c.d; other addresses → null. Decided in Rust.
function mappedIPv4(literal) {
  let outcome = null
  try {
    outcome = resolverFor().native.answerNow(literal)
  } catch {
    // a panic caught in Rust: treat the literal as plain IPv6
  }
  return outcome !== null && isAnswer(outcome) ? outcome.addresses[0] : null
}

// Cheap tests first (this runs on every connect): an IPv4 literal starts with a digit, an IPv6
// literal holds a colon; most hosts are names and skip both regular expressions.
function isIPv4Literal(host) {
  const first = host.charCodeAt(0)
  return first >= 0x30 && first <= 0x39 && net.isIPv4(host)
}

function isIPv6Literal(host) {
  return host.includes(':') && net.isIPv6(host)
}

/** The arguments to pass on: the originals when nothing changes, else normalized ones with the change. */
function rewriteConnectArgs(args, config) {
  const fromNode = Array.isArray(args[0]) && args[0][kNormalizedArgs] === true
  const normalized = fromNode ? args[0] : net._normalizeArgs(args)
  const options = normalized[0]
  if (options === null || typeof options !== 'object' || options.path) return args // IPC: untouched
  const host = options.host || 'localhost' // Node's own default
  if (typeof host !== 'string' || isIPv4Literal(host)) return args

  let change
  if (isIPv6Literal(host)) {
    const inner = mappedIPv4(host)
    if (inner) change = { host: inner }
    else if (config.allowIPv6Literals) return args
    // Node skips lookup for IP literals: a non-IP placeholder routes the refusal through lookup,
    // so the error arrives the way every connect error does (async 'error', connect callback).
    else change = { host: `[${host}]`, lookup: ipv6LiteralLookup(host) }
  } else {
    if (!config.isForced(host)) return args
    const callerLookup = typeof options.lookup === 'function' ? options.lookup : null
    // family 4 as well: the answer is IPv4 whatever the caller asked, and Node then takes its
    // one-address path instead of Happy Eyeballs' list handling (about 1 µs less per connect).
    change = { lookup: callerLookup ? wrapCallerLookup(callerLookup) : config.forcedLookup, family: 4 }
  }
  // Positional arguments were turned into a fresh options object just above: ours to change.
  // Otherwise the object is the caller's (tls.connect keeps using its own): change a copy.
  if (!fromNode && (typeof args[0] !== 'object' || args[0] === null)) {
    Object.assign(options, change)
    return [normalized]
  }
  // Object.assign, not spread: in Node 20 an object spread costs ~0.8 µs here, a tenth of that.
  const copy = [Object.assign({}, options, change), normalized[1]]
  copy[kNormalizedArgs] = true
  return [copy]
}

/**
 * Makes every TCP connection by hostname in this process resolve to IPv4 through ipv4-force.
 * Idempotent: a second call keeps one wrapper and takes the new options. Returns unpatchNet.
 */
function patchNet(options) {
  const config = patchConfig(options)
  if (patch) {
    patch.config = config
    return unpatchNet
  }
  const original = net.Socket.prototype.connect
  const state = { config, active: true, original, wrapper: null }
  state.wrapper = function connect(...args) {
    return original.apply(this, state.active ? rewriteConnectArgs(args, state.config) : args)
  }
  net.Socket.prototype.connect = state.wrapper
  patch = state
  return unpatchNet
}

/** Restores Socket#connect exactly as it was. Returns false when nothing was patched. */
function unpatchNet() {
  if (!patch) return false
  const state = patch
  patch = null
  state.active = false
  // If something wrapped connect after us, leave its wrapper in place: ours is now a pass-through.
  if (net.Socket.prototype.connect === state.wrapper) net.Socket.prototype.connect = state.original
  return true
}

function isPatched() {
  return patch !== null
}

module.exports = {
  resolveIPv4,
  lookup,
  createLookup,
  patchNet,
  unpatchNet,
  isPatched,
  clearCache,
  diagnose: require('./diagnose.js').diagnose,
}
