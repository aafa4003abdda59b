'use strict'

// Loads the compiled addon through the napi-rs loader, with an error that names the platform
// when this package has no binary for it.

try {
  module.exports = require('./binding.js')
} catch (cause) {
  const err = new Error(
    `ipv4-force has no native addon for this platform: ${process.platform}-${process.arch} ` +
      `(Node ${process.version}). The package ships ipv4-force.linux-x64-gnu.node (linux-x64, glibc). ` +
      'Reinstall it if your platform is that one; otherwise build it from source with Rust: npm run build.',
  )
  err.code = 'ERR_IPV4_FORCE_NO_NATIVE_ADDON'
  err.cause = cause
  throw err
}
