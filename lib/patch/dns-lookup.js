'use strict'

// dns.lookup and dns.promises.lookup while patched: Node's own argument rules, literals and IPv6
// requests; ipv4-force's IPv4 lookup for forced names.

const net = require('node:net')
const dns = require('node:dns')
const { acceptedLookupCall, noop } = require('../lookup.js')
const { forcedOrError } = require('./forced-lookup.js')

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

module.exports = { makeDnsLookup, makePromisesLookup, installDnsLookup, setIfCurrent }
