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

function ipv6OnlyFailure(hostname, ipv6Seen) {
  const seen = ipv6Seen ? `the name resolves only to IPv6 (${ipv6Seen})` : 'the name has no A record'
  return failure('ENODATA', hostname,
    `no IPv4 address: ${seen}, and ipv4-force is connecting over IPv4 only because this network cannot ` +
      'reach IPv6. Use an IPv4 endpoint of this service (for a Supabase database, the session pooler ' +
      'aws-0-[REGION].pooler.supabase.com), or run on a network with working IPv6.', 'lookup')
}

// "10.0.0.2", "10.0.0.2:5353", "[fd00::1]:53" as c-ares' setServers wants them.
function parseNameserver(text) {
  if (net.isIP(text)) return text
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text)
  const plain = /^([^:]+):(\d{1,5})$/.exec(text)
  const [, ip, port] = bracketed || plain || []
  if (!ip || !net.isIP(ip) || Number(port) > 65535) throw new Error(`not a nameserver address: ${JSON.stringify(text)}`)
  return text
}

class NativeResolver {
  constructor(options = {}) {
    this.resolver = null
    if (options.nameservers !== undefined) {
      if (options.nameservers.length === 0) throw new Error('nameservers must not be empty')
      this.resolver = new dns.Resolver({
        timeout: options.timeout === undefined ? -1 : Math.max(options.timeout, 1),
        tries: options.attempts === undefined ? 4 : Math.max(options.attempts, 1),
      })
      this.resolver.setServers(options.nameservers.map(parseNameserver))
    }
  }

  clearCache() {}

  // The outcome of an IP literal, which needs no query; null for a name.
  known(hostname) {
    if (net.isIPv4(hostname)) return { addresses: [hostname], ttlMs: 0 }
    if (net.isIPv6(hostname)) {
      return failure('EAFNOSUPPORT', hostname,
        'this is an IPv6 address and ipv4-force only connects over IPv4; use the service\'s IPv4 address or hostname', 'connect')
    }
    return null
  }

  // Calls back, always asynchronously, with an outcome: {addresses, ttlMs} or a failure.
  lookup(hostname, done) {
    const ipv4 = (callback) => this.resolver
      ? this.resolver.resolve4(hostname, callback)
      : systemLookup(hostname, { family: 4, all: true }, (err, list) => callback(err, list && list.map((a) => a.address)))
    const ipv6 = (callback) => this.resolver
      ? this.resolver.resolve6(hostname, (err, list) => callback(err ? null : list[0]))
      : systemLookup(hostname, { family: 6 }, (err, address) => callback(err ? null : address))
    ipv4((err, addresses) => {
      if (!err && addresses.length > 0) return done({ addresses, ttlMs: 0 })
      const code = err ? err.code : 'ENODATA'
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

// Without the addon's parser: everything between "//" and "@", and any query or fragment, hidden.
function redactTarget(text) {
  return String(text).replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^@/?#]*@/i, '$1****@').replace(/[?#].*$/s, '?****')
}

module.exports = { backend, NativeResolver, LookupDispatcher, ipv6OnlyFailure, diagnose, redactTarget }
