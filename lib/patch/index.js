'use strict'

// patchNet: every lookup of a connection, and dns.lookup, answered with IPv4
//
// Node's Socket#connect resolves a name with `options.lookup || dns.lookup`, read from the dns
// module at connect time. So the patch replaces dns.lookup (and dns.promises.lookup) with an IPv4
// lookup that accepts and rejects exactly what Node's does, and Node keeps doing everything
// else: validation, Happy Eyeballs over the A records, 'lookup' events, timeouts. The connect
// wrapper only steps in where dns.lookup is not used: IPv6 literals, a caller's own lookup, and
// `dnsLookup: false`.
//
//   options.js        the options, checked, and the configuration they make
//   forced-lookup.js  the IPv4 lookup of a forced name (debug line, warning, lookup events)
//   dns-lookup.js     dns.lookup and dns.promises.lookup while patched
//   connect.js        the Socket#connect wrapper
//   state.js          the state shared by copies of this package

const net = require('node:net')
const dns = require('node:dns')
const { promisify } = require('node:util')
const { startPreflight } = require('../preflight.js')
const { patchConfig, preflightOptions } = require('./options.js')
const { makeDnsLookup, makePromisesLookup, installDnsLookup, setIfCurrent } = require('./dns-lookup.js')
const { connectArgs, knownAddressLookup } = require('./connect.js')
const { STATE_VERSION, installedPatch, currentPatch, setPatch } = require('./state.js')

/**
 * Makes every TCP connection by hostname in this process, and dns.lookup, resolve to IPv4
 * through ipv4-force. Idempotent: a second call keeps one wrapper and takes the new options.
 * Returns unpatchNet.
 */
function patchNet(options) {
  const config = patchConfig(options)
  if (config.check !== null) startPreflight(config.check, preflightOptions(options))
  const installed = installedPatch()
  if (installed !== null && installed.version !== STATE_VERSION) return leaveOtherCopysPatch(installed)
  const patch = currentPatch()
  if (patch) {
    patch.config = config
    installDnsLookup(patch)
    return unpatchNet
  }
  const original = net.Socket.prototype.connect
  const state = {
    version: STATE_VERSION,
    config,
    active: true,
    original,
    wrapper: null,
    previousLookup: dns.lookup,
    previousPromisesLookup: dns.promises.lookup,
    installedLookup: null,
    installedPromisesLookup: null,
    knownAddressLookup: null,
    fastHost: null,
    fastAddress: null,
  }
  state.wrapper = function connect() {
    return original.apply(this, state.active ? connectArgs(this, arguments, state) : arguments)
  }
  state.installedLookup = makeDnsLookup(state)
  state.knownAddressLookup = knownAddressLookup(state)
  state.installedPromisesLookup = makePromisesLookup(state)
  // util.promisify(dns.lookup) resolves with {address, family}, as with Node's own.
  Object.defineProperty(state.installedLookup, promisify.custom, { value: state.installedPromisesLookup })
  net.Socket.prototype.connect = state.wrapper
  installDnsLookup(state)
  setPatch(state)
  return unpatchNet
}

/**
 * Restores Socket#connect, dns.lookup and dns.promises.lookup exactly as they were. Returns false
 * when this copy's patch is not in place (nothing patched, or another copy's patch).
 */
function unpatchNet() {
  const state = currentPatch()
  if (!state) return false
  setPatch(null)
  // Wrappers installed after ours stay in place; ours become pass-throughs.
  state.active = false
  if (net.Socket.prototype.connect === state.wrapper) net.Socket.prototype.connect = state.original
  setIfCurrent(dns, 'lookup', state.installedLookup, state.previousLookup)
  setIfCurrent(dns.promises, 'lookup', state.installedPromisesLookup, state.previousPromisesLookup)
  return true
}

/** Whether connections are patched, by this copy of the package or another. */
function isPatched() {
  return installedPatch() !== null
}

// Another copy of ipv4-force, whose state this copy does not know (another version, in a
// monorepo with two installed), patched first: its patch stays as it is (connections are forced
// by it), this call changes nothing, and says so once. Its unpatch, like this copy's unpatchNet(),
// leaves the other copy's patch alone and answers false.
let otherCopyWarned = false
function leaveOtherCopysPatch(installed) {
  if (!otherCopyWarned) {
    otherCopyWarned = true
    const which = typeof installed.version === 'number' ? `state version ${installed.version}` : 'an unversioned state'
    process.emitWarning(
      `another copy of ipv4-force (${which}; this one has ${STATE_VERSION}) already patched this process: its patch ` +
        'stays in place and forces connections as it was configured; this patchNet() call changes nothing. Install ' +
        'one version of ipv4-force (npm ls ipv4-force), or call patchNet() from the copy that patched first.',
      { code: 'IPV4_FORCE_OTHER_COPY' },
    )
  }
  return () => false
}

module.exports = { patchNet, unpatchNet, isPatched }
