'use strict'

// The bench's private world: a network + mount namespace (`unshare -m -n`, root needed) whose only
// interface is loopback and whose /etc/resolv.conf and /etc/hosts are bind-mounted temp files
// naming 127.0.0.1:53. The system resolver *is* the benchmark's dnsmasq, so lookup(), dns.lookup
// and patchNet() use it, and no query can leave. Optionally pinned to some CPUs with `taskset`:
// everything started inside (node, dnsmasq, the helper servers) inherits the affinity.

const { spawnSync, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { INNER } = require('./util.js')
const { DNSMASQ } = require('./dns-servers.js')

function checkCanRun() {
  if (process.platform !== 'linux' || process.getuid() !== 0) {
    console.error('bench: needs Linux and root (it runs inside `unshare -m -n` with a private dnsmasq).')
    process.exit(2)
  }
  waitForDnsmasq()
}

/** The CPUs this process may run on (its affinity), e.g. [0, 1]. */
function usableCpus() {
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))
  if (!m) return Array.from({ length: os.availableParallelism() }, (_, i) => i)
  return m[1].split(',').flatMap((part) => {
    const [a, b = a] = part.split('-').map(Number)
    return Array.from({ length: b - a + 1 }, (_, i) => a + i)
  })
}

/**
 * Runs `node <script> <args>` inside a fresh namespace; `cpus` (a list of CPU ids) pins it and
 * all it starts. Returns spawnSync's result (stdout captured when `capture`).
 */
function runInNamespace(script, args = [], { cpus = null, env = {}, capture = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipv4-force-bench-'))
  fs.writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n')
  fs.writeFileSync(path.join(dir, 'hosts'), '127.0.0.1 localhost\n::1 localhost ip6-localhost\n')
  // Set up the namespace before node starts, so that every resolver in the inner process
  // (c-ares default channel, glibc, hickory) only ever sees the private configuration.
  const setup = [
    'set -e',
    'ip link set lo up',
    `mount --bind "${dir}/resolv.conf" /etc/resolv.conf`,
    `mount --bind "${dir}/hosts" /etc/hosts`,
    // Many short connections in the connect benchmark: keep ephemeral ports reusable.
    'echo "1024 65000" > /proc/sys/net/ipv4/ip_local_port_range',
    'echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse',
    'exec "$@"',
  ].join('\n')
  const unshare = ['unshare', '--mount', '--net', '--propagation', 'private', '--', 'sh', '-c', setup, 'sh',
    process.execPath, ...process.execArgv, '--expose-gc', script, ...args]
  const argv = cpus ? ['taskset', '-c', cpus.join(','), ...unshare] : unshare
  const res = spawnSync(argv[0], argv.slice(1), {
    stdio: ['inherit', capture ? 'pipe' : 'inherit', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...env, [INNER]: dir },
  })
  fs.rmSync(dir, { recursive: true, force: true })
  if (res.error) {
    console.error(`bench: cannot run ${argv[0]}: ${res.error.message}`)
    process.exit(2)
  }
  return res
}

function waitForDnsmasq() {
  const deadline = Date.now() + 300_000
  let told = false
  while (!fs.existsSync(DNSMASQ)) {
    if (Date.now() > deadline) {
      console.error(`bench: ${DNSMASQ} not found (install the Debian package dnsmasq-base).`)
      process.exit(2)
    }
    if (!told) console.error(`bench: waiting for ${DNSMASQ} (dnsmasq-base being installed?)`)
    told = true
    execFileSync('sleep', ['2'])
  }
}

module.exports = { checkCanRun, usableCpus, runInNamespace }
