'use strict'

// The patch's state, shared by every copy of this package in the process (two versions in
// node_modules): it lives on net.Socket.prototype under a registered symbol, so a second copy finds
// the first one's wrapper and reuses it instead of wrapping connect and dns.lookup twice. The state
// carries the version of its layout: a copy that knows another layout never reads or writes it
// (see patchNet in ./index.js).

const net = require('node:net')

// Bump when the state's fields, or what they hold, change.
const STATE_VERSION = 1
const kPatch = Symbol.for('ipv4-force.patch')

/** The patch in place, from any copy: null, or a state object with its `version`. */
function installedPatch() {
  return net.Socket.prototype[kPatch] ?? null
}

/** This copy's kind of state, or null (none, or another copy's layout). */
function currentPatch() {
  const state = installedPatch()
  return state !== null && state.version === STATE_VERSION ? state : null
}

function setPatch(state) {
  Object.defineProperty(net.Socket.prototype, kPatch, { value: state, configurable: true, writable: true, enumerable: false })
}

module.exports = { STATE_VERSION, installedPatch, currentPatch, setPatch }
