'use strict'

// resolveIPv4, and lookups in dns.lookup's calling convention: Node's argument rules, answers
// delivered in a later phase of the event loop.

const dns = require('node:dns')
const { resolverFor, isAnswer } = require('./resolver.js')
const { invalidArgType, invalidArgValue, lookupError } = require('./errors.js')

// ---------------------------------------------------------------------------------------------
// Answers are delivered in the check phase (setImmediate) queued at the end of the tick that asked,
// as getaddrinfo's arrive in a later phase: never inside the call, nor before the setImmediate
// callbacks queued in the same tick. (With a cached answer delivered sooner, `tls.connect(…signal)`
// then `setImmediate(() => ac.abort())` reaches a Node bug that aborts the process:
// test-tls-connect-abort-controller; unpatched Node only gets there with an IP literal.) One
// nextTick and one setImmediate serve every answer given in the same tick.

let collecting = []
let tickQueued = false

function deliverLater(callback, err, address, family) {
  collecting.push(callback, err, address, family)
  if (!tickQueued) {
    tickQueued = true
    process.nextTick(queueDelivery)
  }
}

function queueDelivery() {
  tickQueued = false
  const batch = collecting
  collecting = []
  setImmediate(deliver, batch, 0)
}

function deliver(batch, from) {
  for (let i = from; i < batch.length; i += 4) {
    try {
      batch[i](batch[i + 1], batch[i + 2], batch[i + 3])
    } catch (err) {
      // As with separate callbacks, one that throws does not cost the others their answer.
      if (i + 4 < batch.length) setImmediate(deliver, batch, i + 4)
      throw err
    }
  }
}

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

// `observe(hostname, outcome, cached)`, when given, sees each outcome before the callback does
// (the patch's IPv6-only warning and lookup events).
function lookupWith(resolver, hostname, all, callback, observe) {
  const outcome = resolver.lookup(hostname)
  if (!(outcome instanceof Promise)) {
    if (observe !== undefined) observe(hostname, outcome, true)
    return answer(outcome, all, callback)
  }
  outcome.then(
    (later) => {
      if (observe !== undefined) observe(hostname, later, false)
      answer(later, all, callback)
    },
    // Resolver#lookup never rejects by design; this is a last guard so a callback is always called.
    (err) => deliverLater(callback, err),
  )
}

const DNS_ORDERS = ['verbatim', 'ipv4first', 'ipv6first']
const DNS_FAMILIES = [0, 4, 6]
const DNS_HINTS = dns.ADDRCONFIG | dns.ALL | dns.V4MAPPED

/**
 * `{callback, all, family}` when Node's dns.lookup would accept these arguments, null when it would throw
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


function noop() {}

module.exports = { resolveIPv4, lookup, createLookup, lookupWith, deliverLater, acceptedLookupCall, nodeDnsLookup, noop }
