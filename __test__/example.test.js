'use strict'

// examples/server.js against a real PostgreSQL and a real Redis reached by dual-stack names, in a
// private network namespace where IPv6 is unreachable and Node prefers IPv6 (the bug report's
// setup). The work happens in fixtures/example/run.js, inside the namespace; this file sets the
// namespace up, checks the JSON it prints, and cleans up whatever happens.
//
// Needs root, unshare, ip and redis-server. Without them the test is skipped with a warning,
// except when CI=true: there it fails.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { namespaceGate } = require('./helpers/netns')

const REPO = path.resolve(__dirname, '..')
const RUN = path.join(__dirname, 'fixtures', 'example', 'run.js')
const RUN_TIMEOUT_MS = 50_000
const UNSHARE_FLAGS = ['-m', '-n']

const gate = namespaceGate('__test__/example.test.js', { flags: UNSHARE_FLAGS, commands: ['redis-server'] })

// Ends processes run.js started and left behind (it was killed), after checking each is still ours.
function killLeftovers(tmp) {
  let pids = {}
  try {
    pids = JSON.parse(fs.readFileSync(path.join(tmp, 'pids.json'), 'utf8'))
  } catch { /* run.js started nothing */ }
  try {
    // Written by postgres itself as soon as it runs: its first line is the postmaster's pid.
    const postmaster = fs.readFileSync(path.join(tmp, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]
    if (/^\d+$/.test(postmaster)) pids.postgres = Number(postmaster)
  } catch { /* not started, or stopped */ }
  const expected = {
    postgres: 'postgres',
    redis: 'redis-server',
    example: 'examples/server.js',
    failing: 'examples/server.js',
    unpatched: 'sequelize',
  }
  for (const [name, pid] of Object.entries(pids)) {
    let cmdline = ''
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    } catch {
      continue // gone
    }
    if (!expected[name] || !cmdline.includes(expected[name])) continue // pid reused by something else
    try {
      process.kill(pid, 'SIGKILL')
      console.warn(`example.test: killed leftover ${name} (pid ${pid})`)
    } catch { /* already gone */ }
  }
}

function runInNamespace(tmp) {
  const resolvConf = path.join(tmp, 'resolv.conf')
  const hosts = path.join(tmp, 'hosts')
  fs.writeFileSync(resolvConf, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n')
  fs.writeFileSync(hosts, '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n')
  const script = 'ip link set lo up && mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/hosts && exec "$3" "$4"'
  const env = { ...process.env, NS_TMP: tmp }
  delete env.NODE_OPTIONS
  return new Promise((resolve) => {
    const child = spawn('unshare', [...UNSHARE_FLAGS, 'sh', '-c', script, 'sh', resolvConf, hosts, process.execPath, RUN], {
      cwd: REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c) => { stdout += c })
    child.stderr.on('data', (c) => { stderr += c })
    // sh execs node: child.pid is run.js, which stops postgres and redis on SIGTERM.
    let killer
    const timer = setTimeout(() => {
      stderr += `\n[example.test] no result after ${RUN_TIMEOUT_MS} ms: SIGTERM\n`
      child.kill('SIGTERM')
      killer = setTimeout(() => child.kill('SIGKILL'), 8000)
    }, RUN_TIMEOUT_MS)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(killer)
      let result = null
      try {
        result = JSON.parse(stdout.trim().split('\n').pop())
      } catch { /* reported below */ }
      resolve({ code, signal, result, stdout, stderr })
    })
  })
}

let tmp = null

afterAll(() => {
  if (!tmp) return
  killLeftovers(tmp)
  fs.rmSync(tmp, { recursive: true, force: true })
})

gate.test('the example app reaches dual-stack PostgreSQL and Redis over IPv4 where IPv6 is unreachable', async () => {
  if (!gate.ready()) return

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ipv4-force-example-'))
  fs.chmodSync(tmp, 0o755) // postgres runs as the postgres user and must reach its data dir inside
  const run = await runInNamespace(tmp)
  if (!run.result) {
    throw new Error(`run.js printed no result (exit ${run.code}, signal ${run.signal}):\n${run.stderr.slice(-6000)}\n${run.stdout.slice(-2000)}`)
  }
  const r = run.result
  const context = `\nrun.js stderr:\n${run.stderr.slice(-4000)}\nresult: ${JSON.stringify(r, null, 2)}`
  if (Object.keys(r.setupErrors).length > 0) throw new Error(`setup failed: ${JSON.stringify(r.setupErrors)}${context}`)

  // The problem: without ipv4-force, Sequelize (pg) and ioredis go for the AAAA record and fail.
  expect({ sequelize: r.unpatched.sequelize.code, ioredis: r.unpatched.ioredis.code }).toEqual({
    sequelize: 'ENETUNREACH',
    ioredis: 'ENETUNREACH',
  })
  expect(r.unpatched.sequelize.message).toContain('2406:da18::1')
  expect(r.dnsQueries.unpatched['db.dual.test']).toContain('AAAA')

  // The example (patchNet() on its first line) under the same flags: healthy, over IPv4.
  if (r.example.error) throw new Error(`example: ${r.example.error}${context}`)
  expect(r.example.health).toEqual({ status: 200, body: { status: 'ok' }, text: '{"status":"ok"}' })
  expect(r.dnsQueries.example).toEqual({ 'db.dual.test': ['A'], 'cache.dual.test': ['A'] })
  // Graceful shutdown on SIGTERM: exits 0, promptly.
  expect(r.example.shutdown).toMatchObject({ exit: 0, signal: null })
  expect(r.example.shutdown.ms).toBeLessThan(5000)

  // Wrong database password, Redis down: 503 with error codes, no credentials anywhere in the body.
  if (r.failing.error) throw new Error(`failing: ${r.failing.error}${context}`)
  expect(r.failing.health.status).toBe(503)
  expect(r.failing.health.body).toEqual({ status: 'error', db: '28P01', redis: 'ECONNREFUSED' })
  expect(r.failing.health.text).not.toContain(r.wrongPassword)
  expect(r.failing.health.text).not.toMatch(/postgres:\/\/|redis:\/\//)
  expect(r.failing.shutdown).toMatchObject({ exit: 0, signal: null })

  expect(run.code).toBe(0)
}, 75_000)
