'use strict'

// The IPv4 lookup a patched connection or dns.lookup gets for a forced name, with what goes with
// it: NODE_DEBUG=ipv4-force's line, the once-per-host IPv6-only warning, and the lookup events.

const diagnosticsChannel = require('node:diagnostics_channel')
const { performance } = require('node:perf_hooks')
const { debuglog } = require('node:util')
const native = require('../native.js')
const { isAnswer } = require('../resolver.js')
const { lookupWith, deliverLater, nodeDnsLookup } = require('../lookup.js')
const { lookupError } = require('../errors.js')
const { ipv6OnlyWarning } = require('../advice.js')

const debug = debuglog('ipv4-force')
// NODE_DEBUG is read once, at start-up: whether each forced lookup logs a line.
const logged = debug.enabled

// Every forced lookup is published here, as undici publishes its requests: {hostname, addresses}
// or {hostname, error}, with cached, duration (ms) and backend. Without a subscriber the cost is
// one hasSubscribers read per lookup.
const lookupChannel = diagnosticsChannel.channel('ipv4-force:lookup')

const BACKEND = native.backend === 'node' ? 'node' : 'native'

const IPV6_ONLY_WARNING = 'IPV4_FORCE_IPV6_ONLY'

// The IPv4 lookup for one resolver, with NODE_DEBUG=ipv4-force's one line per forced lookup, the
// IPv6-only warning, and the lookup events.
function makeForcedLookup(resolver, warnings) {
  const observe = warnings ? warnIfIPv6Only : undefined
  return function ipv4ForceLookup(hostname, all, callback) {
    const reply = logged ? withDebugLine(hostname, callback) : callback
    lookupWith(resolver, hostname, all, reply, lookupChannel.hasSubscribers ? publishing(performance.now(), observe) : observe)
  }
}

function warnIfIPv6Only(hostname, outcome) {
  if (outcome.code === 'ENODATA') warnIPv6Only(hostname)
}

// The first time in the process (any thread: the set is the addon's) that a connection finds
// `hostname` IPv6-only: one warning, with the error's own advice, for when a library reports the
// failure without it (grpc-js, ioredis Cluster). Node's --no-warnings and
// --disable-warning=IPV4_FORCE_IPV6_ONLY apply.
function warnIPv6Only(hostname) {
  const report = native.firstIpv6OnlyReport(hostname)
  if (report !== null) process.emitWarning(ipv6OnlyWarning(hostname, report.ipv6Seen), { code: IPV6_ONLY_WARNING })
}

// Only while someone subscribes: the event for one lookup, then the warning.
function publishing(started, observe) {
  return (hostname, outcome, cached) => {
    const duration = performance.now() - started
    lookupChannel.publish(isAnswer(outcome)
      ? { hostname, addresses: outcome.addresses.slice(), cached, duration, backend: BACKEND }
      : { hostname, error: lookupError(outcome), cached, duration, backend: BACKEND })
    if (observe !== undefined) observe(hostname, outcome)
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

// The same lookup in Socket#connect's calling convention, for `dnsLookup: false`.
function connectLookup(config) {
  return function ipv4ForceLookup(hostname, dnsOptions, callback) {
    const forced = forcedOrError(config, hostname, callback)
    if (forced === null) return
    if (forced) config.forcedLookup(hostname, Boolean(dnsOptions && dnsOptions.all), callback)
    else nodeDnsLookup(hostname, dnsOptions, callback)
  }
}

module.exports = { makeForcedLookup, connectLookup, forcedOrError, warnIPv6Only, withDebugLine, lookupChannel, logged }
