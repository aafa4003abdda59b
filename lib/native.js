'use strict'

// Loads the compiled addon through the napi-rs loader. Where this package has no binary for the
// platform, the JS fallback (lib/fallback.js, Node's own resolvers) takes its place with one warning,
// unless IPV4_FORCE_REQUIRE_NATIVE=1 asks for the addon or nothing.

function platformName() {
  const libc = process.platform === 'linux' ? (process.report?.getReport().header.glibcVersionRuntime ? '-gnu' : '-musl') : ''
  return `${process.platform}-${process.arch}${libc}`
}

const noAddon = () => `ipv4-force has no native addon for this platform: ${platformName()} (Node ${process.version})`

function noAddonError(cause) {
  const err = new Error(
    `${noAddon()}. ` +
      'Reinstall without --no-optional / --omit=optional so npm can add the platform package, ' +
      'or build it from source with Rust: npm run build.',
  )
  err.code = 'ERR_IPV4_FORCE_NO_NATIVE_ADDON'
  err.cause = cause
  return err
}

try {
  module.exports = require('../binding.js')
} catch (cause) {
  const err = noAddonError(cause)
  if (/^(1|true|yes)$/i.test(process.env.IPV4_FORCE_REQUIRE_NATIVE || '')) throw err
  // Once per process: worker threads load this file again.
  if (require('node:worker_threads').isMainThread) process.emitWarning(
    `${noAddon()}. IPv4 is still forced, through Node's own resolver (dns.lookup with ` +
      'family 4); the Rust resolver, its cache and `ipv4-force check` are not available. ' +
      'Set IPV4_FORCE_REQUIRE_NATIVE=1 to make this an error.',
    { code: 'IPV4_FORCE_NO_NATIVE_ADDON' },
  )
  module.exports = require('./fallback.js')
}
