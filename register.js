'use strict'

// `node -r ipv4-force/register app.js` or `NODE_OPTIONS=--require=ipv4-force/register`:
// patch every socket with no code change. IPV4_FORCE=0 turns it off; IPV4_FORCE_HOSTS=a.com,*.b.com
// limits it to those hosts.

const setting = (process.env.IPV4_FORCE || '').trim().toLowerCase()
if (!['0', 'false', 'off', 'no'].includes(setting)) {
  const hosts = (process.env.IPV4_FORCE_HOSTS || '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean)
  require('./index.js').patchNet(hosts.length > 0 ? { hosts } : undefined)
}
