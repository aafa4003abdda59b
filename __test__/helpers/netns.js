'use strict'

// Private namespaces (unshare, as root) for the tests: only loopback exists, IPv6 beyond ::1 is
// unreachable, and files bind-mounted over /etc make the test's own DNS server the system
// resolver. Here: the probe (can this machine run `unshare <flags>`?), the rule every namespace
// test follows (skip with a warning giving the reason, but fail when CI=true), and runInNamespace,
// which runs a node script in such a namespace.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')

const UNSHARE_FLAGS = ['--mount', '--net', '--pid', '--fork', '--kill-child', '--mount-proc']

const cachedReasons = new Map()
/**
 * Why `unshare <flags>` cannot be used here, or null. `flags` are the ones the test really runs
 * unshare with (probed by bringing up `lo` inside); `commands` are further programs it needs on
 * PATH (e.g. redis-server).
 */
function namespaceUnavailableReason({ flags = UNSHARE_FLAGS, commands = [] } = {}) {
  const key = JSON.stringify([flags, commands])
  if (!cachedReasons.has(key)) cachedReasons.set(key, probe(flags, commands))
  return cachedReasons.get(key)
}

function probe(flags, commands) {
  if (process.platform !== 'linux') return `needs Linux namespaces (this is ${process.platform})`
  if (process.getuid() !== 0) return `needs root (unshare ${flags.join(' ')} and bind mounts over /etc)`
  for (const cmd of commands) {
    if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd]).status !== 0) return `${cmd} is not installed`
  }
  const run = spawnSync('unshare', [...flags, 'sh', '-c', 'ip link set lo up'], { encoding: 'utf8', timeout: 10000 })
  if (run.error) return `cannot run unshare: ${run.error.message}`
  if (run.status !== 0) return `unshare ${flags.join(' ')} failed (${run.signal || `exit ${run.status}`}): ${run.stderr.trim()}`
  return null
}

/**
 * The rule for tests that need a namespace (`options` as for namespaceUnavailableReason): where it
 * works they run; elsewhere they are skipped with a console.warn giving the reason, except when
 * CI=true: then they run and fail. `what` names the tests in messages. Returns
 *   reason:  as namespaceUnavailableReason; skipped: whether the tests are skipped;
 *   test:    jest's `test`, or `test.skip` when skipping;
 *   ready(): to call first in beforeAll (or in the test): true to go on, false when skipping;
 *            throws the reason when CI=true and the namespace cannot be used.
 */
function namespaceGate(what, options) {
  const reason = namespaceUnavailableReason(options)
  const skipped = reason !== null && process.env.CI !== 'true'
  if (skipped) console.warn(`SKIPPED ${what}: ${reason}. Set CI=true to make this a failure.`)
  return {
    reason,
    skipped,
    test: skipped ? test.skip : test,
    ready() {
      if (reason !== null && !skipped) throw new Error(`${what} cannot run (required when CI=true): ${reason}`)
      return !skipped
    },
  }
}

/** `describe` under the rule of namespaceGate; with CI=true, one failing test stands for the body. */
function describeInNamespace(title, body, options) {
  const gate = namespaceGate(`"${title}"`, options)
  if (gate.reason === null) return describe(title, body)
  if (gate.skipped) return describe.skip(title, body)
  return describe(title, () => test('can run in a network namespace (required in CI)', gate.ready))
}

/**
 * Runs `node script` in a new namespace (`unshare <flags>`). `etc` maps file names under /etc to
 * their content, or to null to make the file missing. With `privateEtc`, /etc is a private copy
 * whose files the script may rewrite, replace by rename, or turn into symlinks (a bind-mounted
 * file can only be rewritten in place). Resolves with {code, signal, stdout, stderr}.
 */
function runInNamespace({ script, args = [], etc = {}, env = {}, timeout = 30000, flags = UNSHARE_FLAGS, privateEtc = false }) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ipv4-force-ns-'))
  const lines = ['set -e', 'ip link set lo up']
  const missing = Object.keys(etc).filter((name) => etc[name] === null)
  if (privateEtc) {
    lines.push(`cp -a /etc "${tmp}/etc"`, `touch "${tmp}/etc/.ipv4-force-private"`, `mount --bind "${tmp}/etc" /etc`)
    for (const [name, content] of Object.entries(etc)) {
      const file = path.join(tmp, 'etc', name)
      lines.push(`rm -f "${file}"`)
      if (content !== null) {
        fs.writeFileSync(path.join(tmp, `${name}.initial`), content)
        lines.push(`cp "${tmp}/${name}.initial" "${file}"`)
      }
    }
    etc = {}
  } else if (missing.length > 0) {
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
    const child = spawn('unshare', [...flags, 'sh', '-c', lines.join('\n'), 'sh', script, ...args], {
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

/**
 * Runs a fixture driver (fixtures/<name>/driver.js) in a namespace (`flags` as for runInNamespace;
 * `env` added to its environment), with a scratch folder of its
 * own in NS_TMP (created with `folderMode`, removed afterwards), and returns the JSON object the
 * driver printed last. Fails with the driver's stderr when it printed none, and when its set-up
 * reported errors.
 */
async function runDriver({ script, etc, tag, timeout, folderMode = 0o700, args, privateEtc, flags, env = {} }) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `ipv4-force-${tag}-`))
  fs.chmodSync(tmp, folderMode)
  try {
    const out = await runInNamespace({ script, args, etc, env: { ...env, NS_TMP: tmp }, timeout, privateEtc, flags })
    let run
    try {
      run = JSON.parse(out.stdout.trim().split('\n').pop())
    } catch {
      throw new Error(`driver printed no JSON (exit ${out.code}, ${out.signal}):\n${out.stderr.slice(-6000)}`)
    }
    if (Object.keys(run.setupErrors).length > 0) throw new Error(`setup failed: ${JSON.stringify(run.setupErrors)}`)
    return run
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

module.exports = { namespaceUnavailableReason, namespaceGate, describeInNamespace, runInNamespace, runDriver }
