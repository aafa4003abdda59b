'use strict'

// The Socket#connect wrapper: the arguments passed on to Node's connect, changed only where
// dns.lookup does not answer a connection (IPv6 literals, a caller's own lookup, `dnsLookup: false`,
// Deno), plus the one-address fast path.

const net = require('node:net')
const dns = require('node:dns')
const os = require('node:os')
const native = require('../native.js')
const { deliverLater } = require('../lookup.js')
const { lookupError, lookupFailure } = require('../errors.js')
const { forcedOrError, warnIPv6Only, withDebugLine, lookupChannel, logged } = require('./forced-lookup.js')

// Node marks the `[options, cb]` array that net.connect / http.Agent / undici pass to
// Socket#connect with this symbol; an array without it would be taken for an options object.
const kNormalizedArgs = Object.getOwnPropertySymbols(net._normalizeArgs([]))[0]

// Whether Socket#connect here finds its lookup through the dns module at connect time (Node, Bun),
// so that replacing dns.lookup reaches every connection by name.
const NET_READS_DNS_LOOKUP = netReadsDnsLookup()

// Deno's node:net takes `lookup` from node:dns once, when it loads (ext/node/polyfills/net.ts:
// `const { lookup: dnsLookup } = ...("node:dns")`, then `options.lookup || dnsLookup`), so a
// replaced dns.lookup never reaches it: a connection there is given the lookup itself.
function netReadsDnsLookup() {
  return typeof process.versions.deno !== 'string'
}

// A caller's own lookup (options.lookup) is called exactly as Node would call it; then valid IPv6
// answers are dropped. Anything else passes unchanged, so Node judges bad answers itself.
function ipv4FromCallerLookup(callerLookup, config) {
  return function ipv4FilteredLookup(hostname, dnsOptions, callback) {
    const forced = forcedOrError(config, hostname, callback)
    if (forced === null) return
    if (!forced) return callerLookup.call(this, hostname, dnsOptions, callback)
    const all = Boolean(dnsOptions && dnsOptions.all)
    const reply = logged ? withDebugLine(hostname, callback) : callback
    callerLookup.call(this, hostname, dnsOptions, (err, address, family) => {
      if (err || (all && !Array.isArray(address))) return callback(err, address, family)
      if (all) {
        const kept = withoutIPv6(address)
        return kept === null ? callback(ipv6OnlyError(config, hostname, address.find(isValidIPv6Entry).address)) : reply(null, kept)
      }
      if (!(net.isIPv6(address) && (family === 4 || family === 6))) return reply(err, address, family)
      // One IPv6 address where IPv4 was wanted: ask for the whole list, as Happy Eyeballs would.
      callerLookup.call(this, hostname, Object.assign({}, dnsOptions, { all: true }), (err2, list) => {
        const ipv4 = !err2 && Array.isArray(list) && list.find((a) => a && net.isIPv4(a.address))
        if (ipv4) reply(null, ipv4.address, 4)
        else callback(ipv6OnlyError(config, hostname, address))
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

// A caller's own lookup found `hostname` IPv6-only: the ENODATA error, and the warning.
function ipv6OnlyError(config, hostname, ipv6) {
  native.noteIpv6Only(hostname, ipv6)
  if (config.warnings) warnIPv6Only(hostname)
  return lookupError(lookupFailure('ENODATA', hostname, 'lookup', undefined, ipv6))
}

// A refused IPv6 literal fails the connection the way a failed connect does (an async 'error',
// no 'lookup' event: Node emits none for literals), after Node has checked the other options.
function refuseIPv6Literal(socket, literal, port) {
  return function refuseLookup() {
    const err = lookupError(lookupFailure('EAFNOSUPPORT', literal, 'connect'))
    // Node's errno for the code: negative, and this platform's number (97 on Linux, 47 on macOS).
    err.errno = -os.constants.errno.EAFNOSUPPORT
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
// object is never changed. A property the caller's options do not have at all is set by plain
// assignment (defineProperty would turn the object into a slow dictionary), one they have (maybe
// as an accessor) is shadowed with defineProperty.
function withOptions(options, cb, changes) {
  const derived = Object.create(options)
  for (const key of Object.keys(changes)) {
    if (key in options) Object.defineProperty(derived, key, { value: changes[key], enumerable: true, writable: true, configurable: true })
    else derived[key] = changes[key]
  }
  const args = [derived, cb]
  args[kNormalizedArgs] = true
  return [args]
}

/** The arguments to pass on to Node's Socket#connect: the originals unless something must change. */
function connectArgs(socket, args, state) {
  const config = state.config
  const viaDnsLookup = config.dnsLookup && NET_READS_DNS_LOOKUP
  const first = args[0]
  const fromNode = Array.isArray(first) && first[kNormalizedArgs] === true
  let options
  if (fromNode) options = first[0]
  else if (first !== null && typeof first === 'object') options = first
  // (port, host): dns.lookup does the work unless the host is an IPv6 literal.
  else if (viaDnsLookup && !(typeof args[1] === 'string' && args[1].includes(':'))) return args
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
  if (callerLookup != null && callerLookup !== state.installedLookup) {
    // Node's own dns.lookup, taken before the patch (a library that loaded first): the patch's.
    if (callerLookup === state.previousLookup) return rewritten({ lookup: config.connectLookup })
    // Not a function: Node throws ERR_INVALID_ARG_TYPE itself.
    if (typeof callerLookup !== 'function') return args
    return rewritten({ lookup: ipv4FromCallerLookup(callerLookup, config) })
  }
  const family = options.family
  if (family == null && hasOneAddress(state, host, options)) return rewritten({ family: 4, lookup: state.knownAddressLookup })
  if (net.isIP(host) !== 0) return args
  // dns.lookup answers a connection's lookup, except when it asks for IPv6: a connection by name
  // is IPv4 whatever family it names.
  if (viaDnsLookup && family !== 6 && family !== 'IPv6') return args
  if (!NET_READS_DNS_LOOKUP && notForced(config, host)) return args
  return rewritten({ lookup: config.connectLookup })
}

// Where the lookup must be given to the connection (Deno): a name ipv4-force leaves alone keeps the
// runtime's own lookup (in Deno, the one that lets `--allow-net=<name>` cover its addresses). A
// `hosts` function that throws is not decided here: the given lookup reports it.
function notForced(config, host) {
  try {
    return !config.isForced(host)
  } catch {
    return false
  }
}

// The one-address fast path: a name this thread knows to have a single A record is connected with
// `family: 4` and a lookup that answers from that knowledge, so Node takes its one-address path
// instead of Happy Eyeballs' list handling, and the answer skips dns.lookup's argument handling.
// Nothing a user sees changes: for a single address Node connects directly either way, with the
// same 'lookup' event and no autoSelectFamilyAttemptedAddresses. Names with several addresses,
// anything not in this thread's cache, and a dns.lookup that someone wrapped after the patch (a
// tracer must still see every lookup) keep Node's path through dns.lookup.
function hasOneAddress(state, host, options) {
  const config = state.config
  // dns.lookup checks `hints`; NODE_DEBUG=ipv4-force's line per lookup comes from its path too.
  // A subscriber to the lookup events must see every lookup too.
  if (!config.dnsLookup || dns.lookup !== state.installedLookup || options.localAddress || options.hints || logged ||
    lookupChannel.hasSubscribers) return false
  const address = config.resolver.knownSingleAddress(host)
  if (address === null) return false
  try {
    if (!config.isForced(host)) return false
  } catch {
    return false // dns.lookup reports the error
  }
  // Node calls the lookup within this connect() call; it reads the address from here.
  state.fastHost = host
  state.fastAddress = address
  return true
}

// The fast path's lookup, in Socket#connect's calling convention (Node asks with family 4).
function knownAddressLookup(state) {
  return function ipv4ForceLookup(hostname, dnsOptions, callback) {
    const resolver = state.config.resolver
    const address = hostname === state.fastHost ? state.fastAddress : resolver.knownSingleAddress(hostname)
    state.fastHost = null
    if (address === null) return state.config.forcedLookup(hostname, false, callback)
    resolver.countThreadCacheHit()
    deliverLater(callback, null, address, 4)
  }
}

module.exports = { connectArgs, knownAddressLookup }
