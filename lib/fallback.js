'use strict'

// The backend used where this package has no native addon (Windows, FreeBSD, an unusual
// architecture, a platform package npm skipped): the same interface as the addon's classes, backed
// by Node's own resolvers. patchNet() keeps forcing IPv4 with the same patch logic; what is lost is
// hickory (the lookup is getaddrinfo with family 4, or c-ares for explicit `nameservers`), the
// shared TTL cache, and `diagnose()`.

const dns = require('node:dns')
const net = require('node:net')

const backend = 'node'
// Captured at load: patchNet() later replaces dns.lookup with a function that calls this backend.
const systemLookup = dns.lookup

function failure(code, hostname, detail, syscall = 'getaddrinfo') {
  return { code, hostname, syscall, message: `${syscall} ${code} ${hostname}${detail ? `: ${detail}` : ''}` }
}

// ---------------------------------------------------------------------------------------------
// The addon's advice and option rules, in JS for this backend: src/advice.rs and
// src/binding/options.rs say the same, and __test__/fallback.test.js checks that both backends
// give the same messages and refusals.

const IPV6_LITERAL_REMEDY = 'If a library resolved a hostname to this address itself, make it use dns.lookup ' +
  '(which ipv4-force answers with IPv4) or give it an IPv4 address; otherwise connect by hostname or IPv4 ' +
  'address, or pass allowIPv6Literals: true to patchNet().'

function supabaseProjectRef(hostname) {
  const labels = hostname.replace(/\.$/, '').split('.')
  const [db, project, supabase, co] = labels
  const direct = labels.length === 4 && /^db$/i.test(db) && /^supabase$/i.test(supabase) && /^co$/i.test(co)
  return direct && /^[A-Za-z0-9]+$/.test(project) ? project : null
}

function supabasePooler(project) {
  return 'use the session pooler instead, ' +
    `postgres://postgres.${project}:[YOUR-PASSWORD]@aws-0-[REGION].pooler.supabase.com:5432/postgres ` +
    "([REGION] is your project's region, under Connect in the Supabase dashboard; port 6543 for " +
    "transaction mode), or enable Supabase's IPv4 add-on"
}

function ipv6OnlyAdvice(hostname, ipv6Seen) {
  const seen = ipv6Seen ? `the name resolves only to IPv6 (${ipv6Seen})` : 'the name has no A record'
  const project = supabaseProjectRef(hostname)
  const endpoint = project !== null
    ? `This is a Supabase direct host, which is IPv6-only: ${supabasePooler(project)}`
    : 'Use an IPv4 endpoint of this service (for a Supabase database, the session pooler aws-0-[REGION].pooler.supabase.com)'
  return `no IPv4 address: ${seen}, and ipv4-force is connecting over IPv4 only because this network cannot ` +
    `reach IPv6. ${endpoint}, or run on a network with working IPv6.`
}

function ipv6OnlyFailure(hostname, ipv6Seen) {
  if (ipv6Seen) noteIPv6Only(hostname, ipv6Seen)
  return failure('ENODATA', hostname, ipv6OnlyAdvice(hostname, ipv6Seen), 'lookup')
}

// IPv6-only hosts seen, for the once-per-host warning and stats(). Per thread: this backend keeps
// no process-wide state (each worker thread warns once per host itself).
const ipv6OnlyHosts = new Map()
const MAX_IPV6_ONLY_HOSTS = 4096

function hostKey(hostname) {
  return hostname.replace(/\.$/, '').toLowerCase()
}

function noteIPv6Only(hostname, address) {
  const key = hostKey(hostname)
  if (!ipv6OnlyHosts.has(key) && ipv6OnlyHosts.size < MAX_IPV6_ONLY_HOSTS) ipv6OnlyHosts.set(key, { address, reported: false })
}

function firstIpv6OnlyWarning(hostname) {
  const host = ipv6OnlyHosts.get(hostKey(hostname))
  if (host === undefined || host.reported) return null
  host.reported = true
  return `connections to ${hostname} fail with ENODATA: ${ipv6OnlyAdvice(hostname, host.address)} ` +
    '(Given once per host, in case a library reported the failure without this explanation.)'
}

function ipv6LiteralFailure(address) {
  return failure('EAFNOSUPPORT', address,
    `${address} is an IPv6 address and ipv4-force is forcing IPv4 (this network cannot reach IPv6). ${IPV6_LITERAL_REMEDY}`, 'connect')
}

// "10.0.0.2", "10.0.0.2:5353", "[fd00::1]:53" as c-ares' setServers wants them; null otherwise.
function parseNameserver(text) {
  if (net.isIP(text)) return text
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text)
  const plain = /^([^:]+):(\d{1,5})$/.exec(text)
  const [, ip, port] = bracketed || plain || []
  return ip && net.isIP(ip) && Number(port) <= 65535 ? text : null
}

function optionFailure(code, message) {
  return { code, message }
}

function count(value, name) {
  if (value === undefined || (Number.isInteger(value) && value >= 1 && value <= 0xffffffff)) return null
  return optionFailure('ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be an integer >= 1 and <= 4294967295. Received ${value}`)
}

function seconds(value, name) {
  if (value === undefined || value >= 0) return null
  return optionFailure('ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be a number of seconds >= 0 (Infinity allowed). Received ${value}`)
}

/** A resolver for these (type-checked) options, or {code, message} when one is out of range. */
function createResolver(options = {}) {
  const { nameservers } = options
  if (nameservers !== undefined) {
    if (nameservers.length === 0) return optionFailure('ERR_INVALID_ARG_VALUE', 'The "options.nameservers" option is invalid: it must not be empty')
    const bad = nameservers.find((text) => parseNameserver(text) === null)
    if (bad !== undefined) {
      return optionFailure('ERR_INVALID_ARG_VALUE',
        `The "options.nameservers" option is invalid: nameserver ${JSON.stringify(bad)} is not an IP address with an optional port`)
    }
  }
  return count(options.timeout, 'options.timeout') ?? count(options.attempts, 'options.attempts') ??
    seconds(options.maxTtl, 'options.maxTtl') ?? seconds(options.errorTtl, 'options.errorTtl') ?? new NativeResolver(options)
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
    if (net.isIPv6(hostname)) return ipv6LiteralFailure(hostname)
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
      if (code !== 'ENOTFOUND' && code !== 'ENODATA') return done(failure(code, hostname, err.message))
      // Tell an IPv6-only name from a missing one, for the ENODATA advice.
      ipv6((seen) => done(seen ? ipv6OnlyFailure(hostname, seen) : failure(code, hostname, err && err.message)))
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
  firstIpv6OnlyWarning,
  NativeResolver,
  createResolver,
  LookupDispatcher,
  ipv6OnlyFailure,
  ipv6LiteralFailure,
  diagnose,
  diagnoseInBackground,
  findSupabasePooler,
  redactTarget,
}
