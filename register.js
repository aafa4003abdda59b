'use strict'

// `node -r ipv4-force/register app.js` or `NODE_OPTIONS=--require=ipv4-force/register`:
// patch every socket with no code change. Environment:
//   IPV4_FORCE=0                      turns it off
//   IPV4_FORCE_HOSTS=a.com,*.b.com    limits it to those hosts
//   IPV4_FORCE_WARNINGS=0             no IPV4_FORCE_IPV6_ONLY warning
//   IPV4_FORCE_CHECK=DATABASE_URL,…   checks the targets those variables hold at start-up, in the
//                                     background: one `ipv4-force:` line each on stderr

const off = (name) => ['0', 'false', 'off', 'no'].includes((process.env[name] || '').trim().toLowerCase())

if (!off('IPV4_FORCE')) {
  const list = (name) => (process.env[name] || '').split(',').map((h) => h.trim()).filter(Boolean)
  const hosts = list('IPV4_FORCE_HOSTS')
  const options = {}
  if (hosts.length > 0) options.hosts = hosts
  if (off('IPV4_FORCE_WARNINGS')) options.warnings = false
  require('./index.js').patchNet(options)
  // The main thread checks; worker threads that load this file too do not repeat it.
  const checks = process.env.IPV4_FORCE_CHECK
  if (checks && require('node:worker_threads').isMainThread) {
    const { startPreflight, targetsFromEnv } = require('./lib/preflight.js')
    startPreflight(targetsFromEnv(checks))
  }
}
