'use strict'

// The hand-written API over the generated loader (binding.js). Addresses are decided in Rust;
// lib/ adapts them to Node's callback and socket conventions:
//   lib/errors.js    errors shaped like Node's, own-property option reads
//   lib/advice.js    what a failed lookup tells a person, worded from the backend's facts
//   lib/resolver-options.js  the resolver options, checked and refused in Node's words
//   lib/resolver.js  one resolver per configuration, lookups pending on the addon
//   lib/lookup.js    resolveIPv4, lookup/createLookup (dns.lookup's rules), answer delivery
//   lib/patch/       patchNet: options, the forced lookup, dns.lookup, Socket#connect, shared state
//   lib/diagnose.js  diagnose() and the report `ipv4-force check` prints, worded by lib/check-words.js
//   lib/native.js    the addon, or lib/fallback.js where this platform has none

const native = require('./lib/native.js')
const { resolveIPv4, lookup, createLookup } = require('./lib/lookup.js')
const { clearCache, stats } = require('./lib/resolver.js')
const { patchNet, unpatchNet, isPatched } = require('./lib/patch/index.js')

module.exports = {
  /** 'native' (the Rust addon), or 'node' where this platform has no addon (Node's own resolvers). */
  backend: native.backend === 'node' ? 'node' : 'native',
  resolveIPv4,
  lookup,
  createLookup,
  patchNet,
  unpatchNet,
  isPatched,
  clearCache,
  /** Counters since the process started (see index.d.ts). */
  stats,
  diagnose: require('./lib/diagnose.js').diagnose,
}
