'use strict'

// The backend used where this package has no native addon (Windows, FreeBSD, an unusual
// architecture, a platform package npm skipped): the same interface as the addon's classes, backed
// by Node's own resolvers. patchNet() keeps forcing IPv4 with the same patch logic; what is lost is
// hickory (the lookup is getaddrinfo with family 4, or c-ares for explicit `nameservers`), the
// shared TTL cache, and `diagnose()`.

const dns = require('node:dns')
const net = require('node:net')
const { lookupFailure } = require('./errors.js')

const backend = 'node'
// Captured at load: patchNet() later replaces dns.lookup with a function that calls this backend.
const systemLookup = dns.lookup

// Failures are the same facts the addon returns (lookupFailure); lib/advice.js words both
// backends' failures.
function ipv6OnlyFailure(hostname, ipv6Seen) {
  noteIpv6Only(hostname, ipv6Seen)
  return lookupFailure('ENODATA', hostname, 'lookup', undefined, ipv6Seen)
}

// IPv6-only hosts seen, for the once-per-host warning and stats(). Per thread: this backend keeps
// no process-wide state (each worker thread warns once per host itself).
const ipv6OnlyHosts = new Map()
const MAX_IPV6_ONLY_HOSTS = 4096

function hostKey(hostname) {
  return hostname.replace(/\.$/, '').toLowerCase()
}

function noteIpv6Only(hostname, address) {
  const key = hostKey(hostname)
  if (!ipv6OnlyHosts.has(key) && ipv6OnlyHosts.size < MAX_IPV6_ONLY_HOSTS) ipv6OnlyHosts.set(key, { address, reported: false })
}

function firstIpv6OnlyReport(hostname) {
  const host = ipv6OnlyHosts.get(hostKey(hostname))
  if (host === undefined || host.reported) return null
  host.reported = true
  return { ipv6Seen: host.address }
}

/** A resolver for these options (lib/resolver-options.js has checked them). */
function createResolver(options = {}) {
  return new NativeResolver(options)
}

class NativeResolver {
  constructor(options) {
    this.resolver = null
    if (options.nameservers !== undefined) {
      this.resolver = new dns.Resolver({
        timeout: options.timeout === undefined ? -1 : options.timeout,
        tries: options.attempts === undefined ? 4 : options.attempts,
      })
      this.resolver.setServers(options.nameservers)
    }
  }

  clearCache() {}

  // The outcome of an IP literal, which needs no query; null for a name.
  known(hostname) {
    if (net.isIPv4(hostname)) return { addresses: [hostname], ttlMs: 0 }
    if (net.isIPv6(hostname)) return lookupFailure('EAFNOSUPPORT', hostname, 'connect')
    return null
  }

  // Calls back, always asynchronously, with an outcome: {addresses, ttlMs} or a failure.
  lookup(hostname, done) {
    const ipv4 = (callback) => {
      if (this.resolver) counts.queriesSent++
      else counts.fallbacks++
      return this.resolver
        ? this.resolver.resolve4(hostname, callback)
        : systemLookup(hostname, { family: 4, all: true }, (err, list) => callback(err, list && list.map((a) => a.address)))
    }
    const ipv6 = (callback) => this.resolver
      ? this.resolver.resolve6(hostname, (err, list) => callback(err ? null : list[0]))
      : systemLookup(hostname, { family: 6 }, (err, address) => callback(err ? null : address))
    ipv4((err, addresses) => {
      if (!err && addresses.length > 0) return done({ addresses, ttlMs: 0 })
      const code = err ? err.code : 'ENODATA'
      if (code === 'ETIMEOUT') counts.timeouts++
      if (code !== 'ENOTFOUND' && code !== 'ENODATA') return done(lookupFailure(code, hostname, 'getaddrinfo', err.message))
      // Tell an IPv6-only name from a missing one, for the ENODATA advice.
      ipv6((seen) => done(seen ? ipv6OnlyFailure(hostname, seen) : lookupFailure(code, hostname, 'getaddrinfo', err && err.message)))
    })
  }
}

// Main thread and worker threads alike: outcomes come back through the callback given here, in
// the thread that asked (Node's resolvers answer in its own event loop).
class LookupDispatcher {
  constructor(onCompleted) {
    this.onCompleted = onCompleted
  }

  lookup(resolver, id, hostname) {
    counts.lookups++
    const now = resolver.known(hostname)
    if (now === null) resolver.lookup(hostname, (outcome) => this.onCompleted([{ id, outcome }]))
    return now
  }
}

async function diagnose() {
  return {
    code: 'ERR_IPV4_FORCE_NO_NATIVE_ADDON',
    message: `ipv4-force check needs the native addon, which this package has no build of for ${process.platform}-${process.arch}`,
  }
}

// The pooler search of `check`, for a preflight: needs the addon too.
const findSupabasePooler = diagnose

// Without the addon's parser: everything between "//" and "@", and any query or fragment, hidden.
function redactTarget(text) {
  return String(text).replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^@/?#]*@/i, '$1****@').replace(/[?#].*$/s, '?****')
}

// The preflight's check: needs the addon too (reported, as every outcome, a turn later).
function diagnoseInBackground(target, options, onReport) {
  diagnose().then(onReport)
}

// This thread's counters (this backend keeps no process-wide state). Lookups of explicit
// nameservers are c-ares queries; the others are getaddrinfo calls, counted as fallbacks. Node's
// resolvers read the system's files themselves: there is nothing to check or reload here.
const counts = { lookups: 0, cacheHits: 0, queriesSent: 0, timeouts: 0, fallbacks: 0 }

function noteThreadCacheHits(hits) {
  counts.lookups += hits
  counts.cacheHits += hits
}

function stats() {
  return { ...counts, ipv6OnlyHosts: ipv6OnlyHosts.size, configChecks: 0, configReloads: 0 }
}

module.exports = {
  backend,
  stats,
  noteThreadCacheHits,
  firstIpv6OnlyReport,
  noteIpv6Only,
  NativeResolver,
  createResolver,
  LookupDispatcher,
  diagnose,
  diagnoseInBackground,
  findSupabasePooler,
  redactTarget,
}
