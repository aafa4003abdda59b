'use strict'

// The hand-written API over the generated loader (binding.js). Addresses are decided in Rust;
// this file adapts them to Node's callback and socket conventions.

const net = require('node:net')
const dns = require('node:dns')
const { debuglog, promisify } = require('node:util')
const { isMainThread } = require('node:worker_threads')
const native = require('./native.js')

const { NativeResolver, LookupDispatcher, CompletionQueue } = native
const debug = debuglog('ipv4-force')

// Node marks the `[options, cb]` array that net.connect / http.Agent / undici pass to
// Socket#connect with this symbol; an array without it would be taken for an options object.
const kNormalizedArgs = Object.getOwnPropertySymbols(net._normalizeArgs([]))[0]

const RESOLVER_OPTIONS = ['nameservers', 'timeout', 'attempts', 'fallback', 'maxTtl', 'errorTtl']
const PATCH_OPTIONS = [...RESOLVER_OPTIONS, 'hosts', 'allowIPv6Literals', 'dnsLookup']

// ---------------------------------------------------------------------------------------------
// Errors shaped like Node's

function describeReceived(actual) {
  if (actual === null) return 'null'
  if (typeof actual === 'function') return `function ${actual.name}`
  if (typeof actual === 'object') return 'an instance of ' + (actual.constructor?.name ?? 'Object')
  return `type ${typeof actual} (${String(actual).slice(0, 25)})`
}

function invalidArgType(name, expected, actual) {
  const err = new TypeError(`The "${name}" argument must be ${expected}. Received ${describeReceived(actual)}`)
  err.code = 'ERR_INVALID_ARG_TYPE'
  return err
}

function invalidArgValue(name, why) {
  const err = new TypeError(`The "${name}" option is invalid: ${why}`)
  err.code = 'ERR_INVALID_ARG_VALUE'
  return err
}

function outOfRange(name, why) {
  const err = new RangeError(`The value of "${name}" is out of range. ${why}`)
  err.code = 'ERR_OUT_OF_RANGE'
  return err
}

function lookupError({ code, message, hostname, syscall }) {
  const err = new Error(message)
  err.code = code
  err.hostname = hostname
  err.syscall = syscall
  return err
}

// Options of ipv4-force itself are read from own properties only: a property added to
// Object.prototype (prototype pollution) must never redirect lookups.
function own(options, key) {
  return Object.prototype.hasOwnProperty.call(options, key) ? options[key] : undefined
}

// ---------------------------------------------------------------------------------------------
// Answers are delivered in a later iteration of the event loop, as getaddrinfo's are: never in the
// tick of the call that asked, nor before the setImmediate callbacks queued after that call. (With
// a cached answer delivered sooner, `tls.connect(…signal)` then `setImmediate(() => ac.abort())`
// reaches a Node bug that aborts the process: test-tls-connect-abort-controller; unpatched Node only
// gets there with an IP literal.) An answer waits in `incoming` until the next check phase, then in
// `ready` until the one after; one setImmediate per phase serves every answer.

let incoming = []
let ready = []
let scheduled = false

function deliverLater(callback, err, address, family) {
  incoming.push(callback, err, address, family)
  if (!scheduled) {
    scheduled = true
    setImmediate(deliverReady)
  }
}

function deliverReady() {
  const batch = ready
  ready = incoming
  incoming = []
  scheduled = ready.length > 0
  if (scheduled) setImmediate(deliverReady)
  for (let i = 0; i < batch.length; i += 4) {
    try {
      batch[i](batch[i + 1], batch[i + 2], batch[i + 3])
    } catch (err) {
      // As with separate callbacks, one that throws does not cost the others their answer.
      ready = batch.slice(i + 4).concat(ready)
      if (!scheduled && ready.length > 0) {
        scheduled = true
        setImmediate(deliverReady)
      }
      throw err
    }
  }
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
  constructor(nativeResolver) {
    this.native = nativeResolver
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

  lookup(nativeResolver, hostname) {
    const id = (this.nextId = (this.nextId + 1) >>> 0)
    const now = this.dispatcher.lookup(nativeResolver, id, hostname)
    if (now !== null) return now
    if (this.pending.size === 0) this.keepAlive.ref()
    return new Promise((resolve) => this.pending.set(id, resolve))
  }

  settled() {
    if (this.pending.size === 0) this.keepAlive.unref()
  }
}

// Worker threads: the addon writes a byte to a socket this thread's event loop watches whenever
// finished lookups wait in the CompletionQueue. Not a threadsafe function: with Node < 24.14 one
// pending when a worker is terminated can corrupt memory (nodejs/node#58484). Not a libuv work
// item either: a worker waiting on lookups would hold a threadpool thread that fs, zlib and crypto
// need. The socket is ref'd only while lookups are pending, so the worker can exit otherwise.
class WorkerThreadLookups {
  constructor() {
    this.queue = new CompletionQueue()
    this.pending = new Map()
    this.nextId = 0
    this.wakeups = new net.Socket({ fd: this.queue.takeWakeFd(), readable: true, writable: false })
    this.wakeups.on('data', () => this.collect())
    this.wakeups.unref()
  }

  lookup(nativeResolver, hostname) {
    const id = (this.nextId = (this.nextId + 1) >>> 0)
    const now = this.queue.lookup(nativeResolver, id, hostname)
    if (now !== null) return now
    if (this.pending.size === 0) this.wakeups.ref()
    return new Promise((resolve) => this.pending.set(id, resolve))
  }

  collect() {
    const finished = this.queue.takeNow()
    if (finished.length > 0) settleFinished(this.pending, finished, this)
  }

  settled() {
    if (this.pending.size === 0) this.wakeups.unref()
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
  if (threadLookups === null) {
    // The JS fallback answers in this thread's own event loop: its dispatcher serves workers too.
    const dispatched = isMainThread || native.backend === 'node'
    threadLookups = dispatched ? new MainThreadLookups() : new WorkerThreadLookups()
  }
  return threadLookups
}

function isAnswer(outcome) {
  return outcome.addresses !== undefined
}

// One resolver per distinct configuration while something uses it: the map holds them weakly, so
// a configuration nobody refers to any more (and its cache in Rust) is freed.
const resolvers = new Map()
const forgetResolver = new FinalizationRegistry((key) => {
  const ref = resolvers.get(key)
  if (ref !== undefined && ref.deref() === undefined) resolvers.delete(key)
})
let systemResolver = null
// Callers that pass the same options object on every call skip re-reading it: an options object
// is read once, so pass a new object to change settings.
const resolverByOptions = new WeakMap()

function resolverFor(options) {
  if (options === undefined || options === null) {
    if (systemResolver === null) systemResolver = resolverFor({})
    return systemResolver
  }
  if (typeof options !== 'object') throw invalidArgType('options', 'of type object', options)
  const known = resolverByOptions.get(options)
  if (known) return known
  // No prototype: the addon reads options by name, and must not find an inherited one.
  const picked = Object.create(null)
  for (const key of RESOLVER_OPTIONS) {
    const value = own(options, key)
    if (value !== undefined) picked[key] = value
  }
  checkResolverOptions(picked)
  const key = JSON.stringify(picked)
  let resolver = resolvers.get(key)?.deref()
  if (!resolver) {
    let nativeResolver
    try {
      nativeResolver = new NativeResolver(picked)
    } catch (e) {
      // A panic caught in Rust: a bug in ipv4-force, not a bad option.
      if (e.message.startsWith('EINTERNAL')) throw Object.assign(new Error(e.message), { code: 'EINTERNAL' })
      throw invalidArgValue('options', e.message)
    }
    resolver = new Resolver(nativeResolver)
    resolvers.set(key, new WeakRef(resolver))
    forgetResolver.register(resolver, key)
  }
  resolverByOptions.set(options, resolver)
  return resolver
}

// Types and ranges, checked once for every entry point. Numbers must be finite; `Infinity` is
// documented for the two TTL bounds ("keep as long as the DNS says").
function checkResolverOptions(o) {
  if (o.nameservers !== undefined && !(Array.isArray(o.nameservers) && o.nameservers.every((s) => typeof s === 'string'))) {
    throw invalidArgType('options.nameservers', 'an array of strings', o.nameservers)
  }
  for (const name of ['timeout', 'attempts']) {
    const v = o[name]
    if (v === undefined) continue
    if (typeof v !== 'number') throw invalidArgType(`options.${name}`, 'of type number', v)
    if (!(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
      throw outOfRange(`options.${name}`, `It must be an integer >= 0 and <= 4294967295. Received ${String(v)}`)
    }
  }
  for (const name of ['maxTtl', 'errorTtl']) {
    const v = o[name]
    if (v === undefined) continue
    if (typeof v !== 'number') throw invalidArgType(`options.${name}`, 'of type number', v)
    if (!(v >= 0)) throw outOfRange(`options.${name}`, `It must be a number of seconds >= 0 (Infinity allowed). Received ${String(v)}`)
  }
  if (o.fallback !== undefined && typeof o.fallback !== 'boolean') {
    throw invalidArgType('options.fallback', 'of type boolean', o.fallback)
  }
}

// ---------------------------------------------------------------------------------------------
// resolveIPv4 and lookup

function resolveWith(resolver, hostname) {
  const outcome = resolver.lookup(hostname)
  if (outcome instanceof Promise) return outcome.then(settle)
  return settle(outcome)
}

function settle(outcome) {
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

// Answers a dns.lookup-style callback from an outcome, in a later turn of the event loop.
function answer(outcome, all, callback) {
  if (!isAnswer(outcome)) deliverLater(callback, lookupError(outcome))
  else if (all) deliverLater(callback, null, outcome.addresses.map((address) => ({ address, family: 4 })))
  else deliverLater(callback, null, outcome.addresses[0], 4)
}

function lookupWith(resolver, hostname, all, callback) {
  const outcome = resolver.lookup(hostname)
  if (!(outcome instanceof Promise)) return answer(outcome, all, callback)
  outcome.then(
    (later) => answer(later, all, callback),
    // Resolver#lookup never rejects by design; this is a last guard so a callback is always called.
    (err) => deliverLater(callback, err),
  )
}

const DNS_ORDERS = ['verbatim', 'ipv4first', 'ipv6first']
const DNS_FAMILIES = [0, 4, 6]
const DNS_HINTS = dns.ADDRCONFIG | dns.ALL | dns.V4MAPPED

/**
 * `{callback, all}` when Node's dns.lookup would accept these arguments, null when it would throw
 * (the caller then lets Node's own dns.lookup throw its own error). Mirrors lib/dns.js.
 */
function acceptedLookupCall(hostname, options, callback) {
  if (hostname && typeof hostname !== 'string') return null
  if (typeof options === 'function') return { callback: options, all: false, family: 0 }
  if (typeof callback !== 'function') return null
  if (typeof options === 'number') return DNS_FAMILIES.includes(options) ? { callback, all: false, family: options } : null
  if (options !== undefined && typeof options !== 'object') return null
  if (options === undefined || options === null) return { callback, all: false, family: 0 }
  const { hints, family, all, verbatim, order } = options
  if (hints != null && !(typeof hints === 'number' && ((hints >>> 0) & ~DNS_HINTS) === 0)) return null
  if (family != null && family !== 'IPv4' && family !== 'IPv6' && !DNS_FAMILIES.includes(family)) return null
  if (all != null && typeof all !== 'boolean') return null
  if (verbatim != null && typeof verbatim !== 'boolean') return null
  if (order != null && !DNS_ORDERS.includes(order)) return null
  return { callback, all: all === true, family: family === 'IPv6' || family === 6 ? 6 : family === 'IPv4' ? 4 : family || 0 }
}

// Lets Node's dns.lookup throw its own error for arguments it rejects. With an IP literal for a
// name and callbacks that do nothing, it sends no query.
function throwNodeLookupError(hostname, options, callback) {
  const probe = hostname && typeof hostname !== 'string' ? hostname : '0.0.0.0'
  if (typeof options === 'function') nodeDnsLookup(probe, noop)
  else nodeDnsLookup(probe, options, typeof callback === 'function' ? noop : callback)
  throw invalidArgValue('options', 'not accepted by dns.lookup')
}
const nodeDnsLookup = dns.lookup

function lookupFrom(resolver, hostname, options, callback) {
  const call = acceptedLookupCall(hostname, options, callback)
  if (call === null) throwNodeLookupError(hostname, options, callback)
  if (typeof hostname !== 'string') throw invalidArgType('hostname', 'of type string', hostname)
  lookupWith(resolver || resolverFor(), hostname, call.all, call.callback)
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
  for (const ref of resolvers.values()) ref.deref()?.clearCache()
}

// ---------------------------------------------------------------------------------------------
// patchNet: every lookup of a connection, and dns.lookup, answered with IPv4
//
// Node's Socket#connect resolves a name with `options.lookup || dns.lookup`, read from the dns
// module at connect time. So the patch replaces dns.lookup (and dns.promises.lookup) with an IPv4
// lookup that accepts and rejects exactly what Node's does, and Node keeps doing everything
// else: validation, Happy Eyeballs over the A records, 'lookup' events, timeouts. The connect
// wrapper only steps in where dns.lookup is not used: IPv6 literals, a caller's own lookup, and
// `dnsLookup: false`.

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
  if (typeof options !== 'object') throw invalidArgType('options', 'of type object', options)
  for (const key of Object.keys(options)) {
    if (!PATCH_OPTIONS.includes(key)) throw invalidArgValue(key, `unknown option (known: ${PATCH_OPTIONS.join(', ')})`)
  }
  for (const name of ['allowIPv6Literals', 'dnsLookup']) {
    const value = own(options, name)
    if (value !== undefined && typeof value !== 'boolean') throw invalidArgType(`options.${name}`, 'of type boolean', value)
  }
  const resolver = resolverFor(options)
  return {
    resolver,
    isForced: hostMatcher(own(options, 'hosts')),
    allowIPv6Literals: own(options, 'allowIPv6Literals') === true,
    dnsLookup: own(options, 'dnsLookup') !== false,
    forcedLookup: makeForcedLookup(resolver),
  }
}

// The IPv4 lookup for one resolver, with NODE_DEBUG=ipv4-force's one line per forced lookup.
function makeForcedLookup(resolver) {
  const logged = debug.enabled // NODE_DEBUG is read once, at start-up
  return function ipv4ForceLookup(hostname, all, callback) {
    lookupWith(resolver, hostname, all, logged ? withDebugLine(hostname, callback) : callback)
  }
}

// NODE_DEBUG=ipv4-force: one line per forced lookup, `host -> address`, nothing else.
function withDebugLine(hostname, callback) {
  return (err, address, family) => {
    if (err) debug('%s -> %s', hostname, err.code)
    else debug('%s -> %s', hostname, Array.isArray(address) ? address.map((a) => a.address).join(',') : address)
    callback(err, address, family)
  }
}

// Decides for one name whether ipv4-force answers it; a `hosts` function that throws fails the
// lookup (delivered as the connection's 'error') instead of throwing out of connect().
function forcedOrError(config, hostname, callback) {
  try {
    return config.isForced(hostname)
  } catch (err) {
    deliverLater(callback, err)
    return null
  }
}

/** dns.lookup while patched: Node's checks and literals, IPv4 answers for forced names. */
function makeDnsLookup(state) {
  return function lookup(hostname, options, callback) {
    const previous = state.previousLookup
    if (!state.active) return previous.apply(this, arguments)
    const call = acceptedLookupCall(hostname, options, callback)
    // Invalid arguments get Node's own error; empty names, IP literals and explicit requests for
    // IPv6 (a udp6 socket, a library resolving both families itself) Node's own answer.
    if (call === null || call.family === 6 || !hostname || net.isIP(hostname) !== 0) return previous.apply(this, arguments)
    const config = state.config
    const forced = forcedOrError(config, hostname, call.callback)
    if (forced === null) return {}
    if (!forced) return previous.apply(this, arguments)
    config.forcedLookup(hostname, call.all, call.callback)
    return {}
  }
}

/** dns.promises.lookup while patched (and util.promisify(dns.lookup)). */
function makePromisesLookup(state) {
  return function lookup(hostname, options) {
    const previous = state.previousPromisesLookup
    if (!state.active) return previous.apply(this, arguments)
    const call = typeof options === 'function' ? null : acceptedLookupCall(hostname, options, noop)
    if (call === null || call.family === 6 || !hostname || net.isIP(hostname) !== 0) return previous.apply(this, arguments)
    return new Promise((resolve, reject) => {
      const forced = forcedOrError(state.config, hostname, reject)
      if (forced === null) return
      if (!forced) return resolve(previous.call(this, hostname, options))
      state.config.forcedLookup(hostname, call.all, (err, address, family) => {
        if (err) reject(err)
        else resolve(call.all ? address : { address, family })
      })
    })
  }
}

function noop() {}

// The same lookup in Socket#connect's calling convention, for `dnsLookup: false`.
function connectLookup(config) {
  return function ipv4ForceLookup(hostname, dnsOptions, callback) {
    const forced = forcedOrError(config, hostname, callback)
    if (forced === null) return
    if (forced) config.forcedLookup(hostname, Boolean(dnsOptions && dnsOptions.all), callback)
    else nodeDnsLookup(hostname, dnsOptions, callback)
  }
}

// A caller's own lookup (options.lookup) is called exactly as Node would call it; then valid IPv6
// answers are dropped. Anything else passes unchanged, so Node judges bad answers itself.
function ipv4FromCallerLookup(callerLookup, isForced) {
  return function ipv4FilteredLookup(hostname, dnsOptions, callback) {
    let forced
    try {
      forced = isForced(hostname)
    } catch (err) {
      return deliverLater(callback, err)
    }
    if (!forced) return callerLookup.call(this, hostname, dnsOptions, callback)
    const all = Boolean(dnsOptions && dnsOptions.all)
    const reply = debug.enabled ? withDebugLine(hostname, callback) : callback
    callerLookup.call(this, hostname, dnsOptions, (err, address, family) => {
      if (err || (all && !Array.isArray(address))) return callback(err, address, family)
      if (all) {
        const kept = withoutIPv6(address)
        return kept === null ? callback(ipv6OnlyError(hostname, address.find(isValidIPv6Entry).address)) : reply(null, kept)
      }
      if (!(net.isIPv6(address) && (family === 4 || family === 6))) return reply(err, address, family)
      // One IPv6 address where IPv4 was wanted: ask for the whole list, as Happy Eyeballs would.
      callerLookup.call(this, hostname, Object.assign({}, dnsOptions, { all: true }), (err2, list) => {
        const ipv4 = !err2 && Array.isArray(list) && list.find((a) => a && net.isIPv4(a.address))
        if (ipv4) reply(null, ipv4.address, 4)
        else callback(ipv6OnlyError(hostname, address))
      })
    })
  }
}

function isValidIPv6Entry(entry) {
  return entry !== null && typeof entry === 'object' && net.isIPv6(entry.address) && (entry.family === 4 || entry.family === 6)
}

// The answer list without its valid IPv6 entries (the others are left for Node to judge); null
// when IPv6 entries were all there was to connect to.
function withoutIPv6(addresses) {
  const kept = addresses.filter((entry) => !isValidIPv6Entry(entry))
  if (kept.length === addresses.length) return addresses
  return kept.some((entry) => entry && net.isIPv4(entry.address)) ? kept : null
}

function ipv6OnlyError(hostname, ipv6) {
  const failure = native.ipv6OnlyFailure(hostname, ipv6)
  return lookupError(failure)
}

// A refused IPv6 literal fails the connection the way a failed connect does (an async 'error',
// no 'lookup' event: Node emits none for literals), after Node has checked the other options.
function refuseIPv6Literal(socket, literal, port) {
  return function refuseLookup() {
    const err = new Error(
      `connect EAFNOSUPPORT ${literal}: ${literal} is an IPv6 address and ipv4-force is forcing IPv4 ` +
        '(this network cannot reach IPv6). If a library resolved a hostname to this address itself, ' +
        'make it use dns.lookup (which ipv4-force answers with IPv4) or give it an IPv4 address; ' +
        'otherwise connect by hostname or IPv4 address, or pass allowIPv6Literals: true to patchNet().',
    )
    err.code = 'EAFNOSUPPORT'
    err.errno = -97
    err.syscall = 'connect'
    err.address = literal
    if (port !== undefined) err.port = port
    process.nextTick(() => socket.destroy(err))
  }
}

// ::ffff:a.b.c.d, in any spelling (the URL parser writes IPv6 canonically), → a.b.c.d.
function mappedIPv4(literal) {
  let canonical
  try {
    canonical = new URL(`http://[${literal}]/`).hostname
  } catch {
    return null
  }
  const m = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(canonical)
  if (m === null) return null
  const hi = parseInt(m[1], 16)
  const lo = parseInt(m[2], 16)
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`
}

// Options for Node with some properties replaced: an object inheriting from the caller's, so
// every property is read as Node reads it (inherited ones and getters too), and the caller's
// object is never changed.
function withOptions(options, cb, changes) {
  const derived = Object.create(options)
  for (const key of Object.keys(changes)) {
    Object.defineProperty(derived, key, { value: changes[key], enumerable: true, writable: true, configurable: true })
  }
  const args = [derived, cb]
  args[kNormalizedArgs] = true
  return [args]
}

/** The arguments to pass on to Node's Socket#connect: the originals unless something must change. */
function connectArgs(socket, args, state) {
  const config = state.config
  const first = args[0]
  const fromNode = Array.isArray(first) && first[kNormalizedArgs] === true
  let options
  if (fromNode) options = first[0]
  else if (first !== null && typeof first === 'object') options = first
  // (port, host): dns.lookup does the work unless the host is an IPv6 literal.
  else if (config.dnsLookup && !(typeof args[1] === 'string' && args[1].includes(':'))) return args
  else options = net._normalizeArgs(args)[0]
  if (options === null || typeof options !== 'object' || options.path) return args // IPC: untouched
  const host = options.host || 'localhost' // Node's own default
  if (typeof host !== 'string') return args
  const rewritten = (changes) => withOptions(options, (fromNode ? first : net._normalizeArgs(args))[1], changes)

  if (host.includes(':') && net.isIPv6(host)) {
    const inner = mappedIPv4(host)
    if (inner !== null) return rewritten({ host: inner })
    if (config.allowIPv6Literals) return args
    // Not an IP to Node, so it checks every option and then calls the refusing lookup.
    return rewritten({ host: `[${host}]`, lookup: refuseIPv6Literal(socket, host, options.port) })
  }
  const callerLookup = options.lookup
  if (callerLookup != null && callerLookup !== state.installedLookup && callerLookup !== state.previousLookup) {
    // Not a function: Node throws ERR_INVALID_ARG_TYPE itself.
    if (typeof callerLookup !== 'function') return args
    return rewritten({ lookup: ipv4FromCallerLookup(callerLookup, config.isForced) })
  }
  if (net.isIP(host) !== 0) return args
  // dns.lookup answers a connection's lookup, except when it asks for IPv6: a connection by name
  // is IPv4 whatever family it names.
  const family = options.family
  if (config.dnsLookup && family !== 6 && family !== 'IPv6') return args
  return rewritten({ lookup: config.connectLookup })
}

/**
 * Makes every TCP connection by hostname in this process, and dns.lookup, resolve to IPv4
 * through ipv4-force. Idempotent: a second call keeps one wrapper and takes the new options.
 * Returns unpatchNet.
 */
function patchNet(options) {
  const config = patchConfig(options)
  config.connectLookup = connectLookup(config)
  if (patch) {
    patch.config = config
    installDnsLookup(patch)
    return unpatchNet
  }
  const original = net.Socket.prototype.connect
  const state = {
    config,
    active: true,
    original,
    wrapper: null,
    previousLookup: dns.lookup,
    previousPromisesLookup: dns.promises.lookup,
    installedLookup: null,
    installedPromisesLookup: null,
  }
  state.wrapper = function connect(...args) {
    return original.apply(this, state.active ? connectArgs(this, args, state) : args)
  }
  state.installedLookup = makeDnsLookup(state)
  state.installedPromisesLookup = makePromisesLookup(state)
  // util.promisify(dns.lookup) resolves with {address, family}, as with Node's own.
  Object.defineProperty(state.installedLookup, promisify.custom, { value: state.installedPromisesLookup })
  net.Socket.prototype.connect = state.wrapper
  installDnsLookup(state)
  patch = state
  return unpatchNet
}

// dns.lookup and dns.promises.lookup are ours while `dnsLookup` is on; off, they are what they were.
function installDnsLookup(state) {
  const on = state.config.dnsLookup
  setIfCurrent(dns, 'lookup', on ? state.previousLookup : state.installedLookup, on ? state.installedLookup : state.previousLookup)
  setIfCurrent(dns.promises, 'lookup', on ? state.previousPromisesLookup : state.installedPromisesLookup,
    on ? state.installedPromisesLookup : state.previousPromisesLookup)
}

// If something replaced the function after us, leave its replacement in place.
function setIfCurrent(object, key, expected, value) {
  if (object[key] === expected) object[key] = value
}

/** Restores Socket#connect, dns.lookup and dns.promises.lookup exactly as they were. Returns false when nothing was patched. */
function unpatchNet() {
  if (!patch) return false
  const state = patch
  patch = null
  // Wrappers installed after ours stay in place; ours become pass-throughs.
  state.active = false
  if (net.Socket.prototype.connect === state.wrapper) net.Socket.prototype.connect = state.original
  setIfCurrent(dns, 'lookup', state.installedLookup, state.previousLookup)
  setIfCurrent(dns.promises, 'lookup', state.installedPromisesLookup, state.previousPromisesLookup)
  return true
}

function isPatched() {
  return patch !== null
}

module.exports = {
  /** 'native' (the Rust addon), or 'node' where this platform has no addon (Node's own resolvers). */
  backend: native.backend === 'node' ? 'node' : 'native',
  resolveIPv4,
  lookup,
  createLookup,
  patchNet,
  unpatchNet,
  isPatched,
  clearCache,
  diagnose: require('./diagnose.js').diagnose,
}
