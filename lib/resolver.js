'use strict'

// Resolvers: one native resolver per distinct configuration while something uses it (its cache
// lives behind it, in Rust, shared by every caller and worker thread of the process), and the
// bookkeeping of lookups that need a query.

const dgram = require('node:dgram')
const net = require('node:net')
const { isMainThread } = require('node:worker_threads')
const native = require('./native.js')
const { invalidArgType, callFailureError, lookupFailure, own } = require('./errors.js')
const { RESOLVER_OPTIONS, checkResolverOptions } = require('./resolver-options.js')

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
      if (hit.expires > Date.now()) {
        threadCacheHits++
        return hit
      }
      this.front.delete(hostname)
    }
    let outcome
    try {
      if (threadCacheHits > 0) flushThreadCacheHits()
      outcome = lookups().lookup(this.native, hostname)
    } catch (err) {
      // A Rust panic, caught at the FFI boundary, arrives as a thrown Error.
      return lookupFailure('EINTERNAL', hostname, 'queryA', `internal error in ipv4-force, please report it: ${err.message}`)
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

  /**
   * The one address this thread's cache holds for `hostname`, or null (a name with several
   * addresses, or none cached here). A peek: a caller that uses it says so (countThreadCacheHit).
   */
  knownSingleAddress(hostname) {
    const hit = this.front.get(hostname)
    return hit !== undefined && hit.addresses.length === 1 && hit.expires > Date.now() ? hit.addresses[0] : null
  }

  /** A lookup answered from knownSingleAddress, for stats(). */
  countThreadCacheHit() {
    threadCacheHits++
  }

  clearCache() {
    this.front.clear()
    this.native.clearCache()
  }
}

// Lookups this thread answered from `front` (they never reach the addon), told to the addon's
// process-wide counters in bulk: before this thread's next call into it, and by stats().
let threadCacheHits = 0

function flushThreadCacheHits() {
  native.noteThreadCacheHits(threadCacheHits)
  threadCacheHits = 0
}

// Lookups that need a query: started with one native call, settled in batches. Two ways to learn
// that lookups have finished, both without a libuv threadpool thread:
// - main thread: one threadsafe function, weak, so a ref'd timer keeps the event loop alive
//   while lookups are pending (a napi async call per lookup would cost more than the lookup);
// - worker threads: the addon writes a byte to a socket this thread's event loop watches (see
//   watchWakeUps). Not a threadsafe function there: with Node < 24.14 one pending when a worker
//   is terminated can corrupt memory (nodejs/node#58484). The socket is ref'd only while lookups
//   are pending.
// The JS fallback answers in the asking thread's own event loop, so it uses the first way everywhere.
class PendingLookups {
  constructor() {
    this.pending = new Map()
    this.nextId = 0
    if (isMainThread || native.backend === 'node') {
      this.source = new native.LookupDispatcher((finished) => this.settle(finished))
      this.keepAlive = setInterval(() => {}, 0x7fffffff)
    } else {
      this.source = new native.CompletionQueue()
      this.keepAlive = watchWakeUps(this.source, () => this.settle(this.source.takeNow()))
    }
    this.keepAlive.unref()
  }

  /** The outcome when it needs no query; otherwise a promise of it (never rejected). */
  lookup(nativeResolver, hostname) {
    const id = (this.nextId = (this.nextId + 1) >>> 0)
    const now = this.source.lookup(nativeResolver, id, hostname)
    if (now !== null) return now
    if (this.pending.size === 0) this.keepAlive.ref()
    return new Promise((resolve) => this.pending.set(id, resolve))
  }

  settle(finished) {
    for (const { id, outcome } of finished) {
      const resolve = this.pending.get(id)
      if (resolve === undefined) continue // cannot happen; never throw inside the native callback
      this.pending.delete(id)
      resolve(outcome)
    }
    if (this.pending.size === 0) this.keepAlive.unref()
  }
}

// The socket a worker's CompletionQueue wakes; `onWake` runs on each wake-up. Unix: one end of a
// socket pair the addon made, adopted by fd. Windows: libuv cannot adopt a socket by fd there, so
// this thread binds a UDP socket on loopback and the addon sends datagrams to it from a port it
// names; datagrams from anywhere else are ignored.
function watchWakeUps(queue, onWake) {
  if (process.platform !== 'win32') {
    const socket = new net.Socket({ fd: queue.takeWakeFd(), readable: true, writable: false })
    socket.on('data', onWake)
    return socket
  }
  const socket = dgram.createSocket('udp4')
  let from = null
  socket.on('message', (_msg, sender) => {
    if (sender.address === '127.0.0.1' && sender.port === from) onWake()
  })
  // Binding completes on a later tick: the addon then sends one datagram for the lookups that
  // finished in the meantime.
  socket.bind(0, '127.0.0.1', () => {
    from = queue.wakeByDatagram(socket.address().port)
  })
  return socket
}

let threadLookups = null
function lookups() {
  if (threadLookups === null) threadLookups = new PendingLookups()
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
    // Checked above; the addon's own refusal only guards its conversion.
    const made = native.createResolver(picked)
    if (typeof made.code === 'string') throw callFailureError(made)
    resolver = new Resolver(made)
    resolvers.set(key, new WeakRef(resolver))
    forgetResolver.register(resolver, key)
  }
  resolverByOptions.set(options, resolver)
  return resolver
}

function clearCache() {
  for (const ref of resolvers.values()) ref.deref()?.clearCache()
}

/** Counters since the process started, this thread's own cache hits included (see index.d.ts). */
function stats() {
  if (threadCacheHits > 0) flushThreadCacheHits()
  return { ...native.stats() }
}

module.exports = { Resolver, resolverFor, isAnswer, clearCache, stats }
