'use strict'

// Runs a node script inside a private network + mount namespace (as root): only loopback exists,
// IPv6 beyond ::1 is unreachable, and files bind-mounted over /etc make the test's own DNS server
// the system resolver. Tests that need it skip with a reason, or fail when CI=true.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')

const UNSHARE_FLAGS = ['--mount', '--net', '--pid', '--fork', '--kill-child', '--mount-proc']

let cachedReason
/** Why namespaces cannot be used here, or null. */
function namespaceUnavailableReason() {
  if (cachedReason !== undefined) return cachedReason
  cachedReason = null
  if (process.platform !== 'linux') cachedReason = `needs Linux (this is ${process.platform})`
  else if (process.getuid() !== 0) cachedReason = 'needs root for unshare --mount --net'
  else {
    const probe = spawnSync('unshare', [...UNSHARE_FLAGS, 'sh', '-c', 'ip link set lo up'], { encoding: 'utf8', timeout: 10000 })
    if (probe.error || probe.status !== 0) cachedReason = `unshare failed: ${probe.error ? probe.error.message : probe.stderr.trim()}`
  }
  return cachedReason
}

/** `describe` that runs only where namespaces work; elsewhere skips loudly (fails under CI=true). */
function describeInNamespace(title, body) {
  const reason = namespaceUnavailableReason()
  if (!reason) return describe(title, body)
  if (process.env.CI === 'true') {
    return describe(title, () => test('can run in a network namespace (required in CI)', () => {
      throw new Error(`namespace tests cannot run: ${reason}`)
    }))
  }
  console.warn(`SKIPPED "${title}": ${reason}`)
  return describe.skip(title, body)
}

/**
 * Runs `node script` in a new namespace. `etc` maps file names under /etc to their content, or to
 * null to make the file missing. Resolves with {code, stdout, stderr}.
 */
function runInNamespace({ script, args = [], etc = {}, env = {}, timeout = 30000 }) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ipv4-force-ns-'))
  const lines = ['set -e', 'ip link set lo up']
  const missing = Object.keys(etc).filter((name) => etc[name] === null)
  if (missing.length > 0) {
    // A file cannot be unmounted away: give the namespace a private copy of /etc without it.
    lines.push(`cp -a /etc "${tmp}/etc"`, ...missing.map((n) => `rm -f "${tmp}/etc/${n}"`), `mount --bind "${tmp}/etc" /etc`)
  }
  for (const [name, content] of Object.entries(etc)) {
    if (content === null) continue
    fs.writeFileSync(path.join(tmp, name), content)
    lines.push(`mount --bind "${tmp}/${name}" "/etc/${name}"`)
  }
  lines.push(`exec "${process.execPath}" "$@"`)
  return new Promise((resolve) => {
    const child = spawn('unshare', [...UNSHARE_FLAGS, 'sh', '-c', lines.join('\n'), 'sh', script, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      fs.rmSync(tmp, { recursive: true, force: true })
      resolve({ code, signal, stdout, stderr })
    })
  })
}

module.exports = { namespaceUnavailableReason, describeInNamespace, runInNamespace }
