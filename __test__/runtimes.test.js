'use strict'

// Bun and Deno as runtimes: the end-to-end scenario of namespace.test.js (the same servers and
// the same client.js) run under each, in a private namespace where IPv6 is unreachable, with a
// real DNS server as the system resolver, a real PostgreSQL and a test CA. Each runtime runs the
// client unpatched (the control), with patchNet() and in its zero-code form (`bun --preload
// ipv4-force/register`, `deno run --require <repo>/register.js`). The driver is
// fixtures/runtimes/driver.js.
//
// Both runtimes are devDependencies (helpers/runtimes.js finds their binaries). Needs root and
// unshare. Without them, or without a runtime, the tests are skipped with a warning, except when
// CI=true: then they fail.
//
// Unlike Node under --dns-result-order=ipv6first, Bun and Deno reach a dual-stack name over IPv4
// by themselves here (they try the A record too). What shows that ipv4-force answered is the DNS
// server's log (no AAAA query for the names connected to) and the IPv6-only diagnosis.

const path = require('node:path')
const { namespaceGate, runDriver } = require('./helpers/netns')
const { findRuntime } = require('./helpers/runtimes')

const DRIVER = path.join(__dirname, 'fixtures', 'runtimes', 'driver.js')
// --ipc: PostgreSQL's System V segment goes with the namespace.
const UNSHARE_FLAGS = ['--mount', '--net', '--pid', '--ipc', '--fork', '--kill-child', '--mount-proc']
const RESOLV_CONF = 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n'
const HOSTS = '127.0.0.1 localhost\n::1 localhost ip6-localhost\n'
const RUN_TIMEOUT_MS = 120_000
const RUNTIMES = ['bun', 'deno']
const V6ONLY_IPV6 = '2406:da18::5'

// Dual-stack client paths (A 127.0.0.1 + AAAA) through node:net, node:tls, node:http(s) and pg:
// [name in client.js, whether it exposes the client socket's peer].
const NET_PATHS = [
  ['net.connect(options)', true],
  ['net.createConnection(port, host)', true],
  ['new net.Socket().connect(port, host)', true],
  ['socket.connect(options)', true],
  ['tls.connect', true],
  ['http.get', true],
  ['https.get', true],
  ['pg.Client', true],
  ['Sequelize#authenticate', false],
]
const V6ONLY = 'IPv6-only net.connect(port, v6only.test)'
const SUPABASE = 'IPv6-only pg to Supabase direct host'
const V6ONLY_FETCH = 'IPv6-only fetch http://v6only.test'
const TLS_CONTROL = 'control: tls.connect to 127.0.0.1 (certificate names api.dual.test)'
const ZERO_CODE = { bun: 'bun --preload ipv4-force/register', deno: 'deno run -A --require <repo>/register.js' }

const gate = namespaceGate('__test__/runtimes.test.js', { flags: UNSHARE_FLAGS })
const found = Object.fromEntries(RUNTIMES.map((runtime) => [runtime, findRuntime(runtime)]))
const runnable = RUNTIMES.filter((runtime) => !found[runtime].reason)
const ci = process.env.CI === 'true'
for (const runtime of RUNTIMES) {
  if (found[runtime].reason && !ci) console.warn(`SKIPPED ${runtime} in __test__/runtimes.test.js: ${found[runtime].reason}. Set CI=true to make this a failure.`)
}

let run = null
beforeAll(async () => {
  if (!gate.ready() || runnable.length === 0) return
  const bins = Object.fromEntries(runnable.map((runtime) => [runtime, found[runtime].bin]))
  run = await runDriver({
    script: DRIVER,
    etc: { 'resolv.conf': RESOLV_CONF, hosts: HOSTS },
    env: { NS_RUNTIMES: JSON.stringify(bins) },
    tag: 'runtimes',
    timeout: RUN_TIMEOUT_MS,
    folderMode: 0o755, // postgres (not root) must reach its data directory inside
    flags: UNSHARE_FLAGS,
  })
}, RUN_TIMEOUT_MS + 10_000)

function report(runtime, mode) {
  const r = run.runs[runtime][mode]
  if (!r || !r.results) throw new Error(`no ${runtime} ${mode} client report: ${JSON.stringify(r).slice(0, 6000)}`)
  return r
}
const resultOf = (runtime, mode, name) => report(runtime, mode).results[name]

for (const runtime of RUNTIMES) {
  const { reason, version, expected } = found[runtime]
  if (reason && ci) {
    test(`${runtime} can run here (required when CI=true)`, () => {
      throw new Error(`${runtime} cannot run: ${reason}`)
    })
    continue
  }
  const describeHere = reason || gate.skipped ? describe.skip : describe

  describeHere(`${runtime} ${version || ''}`.trim(), () => {
    test('is the version package.json pins', () => {
      expect(version).toBe(expected)
    })

    test('unpatched (control): it asks for AAAA records, and an IPv6-only name fails with a connect error', () => {
      const r = report(runtime, 'unpatched')
      expect(r).toMatchObject({ exit: 0, patched: false })
      expect(r.runtime).toBe(`${runtime} ${version}`)
      expect(run.dnsQueries[runtime].unpatched['db.dual.test']).toContain('AAAA')
      const v6 = resultOf(runtime, 'unpatched', V6ONLY)
      expect(v6.ok).toBe(false)
      expect(v6.code).not.toBe('ENODATA')
      expect(v6.message).toContain(V6ONLY_IPV6)
    })

    for (const [mode, how] of [['patched', 'patchNet()'], ['register', ZERO_CODE[runtime]]]) {
      describe(`${mode} (${how})`, () => {
        test('runs with the patch installed', () => {
          expect(report(runtime, mode)).toMatchObject({ exit: 0, patched: true, runtime: `${runtime} ${version}` })
        })

        test('net, tls, http, https, pg and Sequelize reach the dual-stack name over IPv4, and only its A record was asked for', () => {
          for (const [name, hasSocket] of NET_PATHS) {
            const r = resultOf(runtime, mode, name)
            expect({ name, ...r }).toMatchObject({ name, ok: true })
            if (hasSocket) expect({ name, remoteAddress: r.remoteAddress }).toEqual({ name, remoteAddress: '127.0.0.1' })
            if (r.serverSaw !== undefined) expect({ name, serverSaw: r.serverSaw }).toEqual({ name, serverSaw: '127.0.0.1' })
          }
          expect(run.dnsQueries[runtime][mode]['db.dual.test']).toEqual(['A'])
        })

        test('a pg query runs, seen by PostgreSQL as coming from 127.0.0.1', () => {
          expect(resultOf(runtime, mode, 'pg.Client')).toEqual({ ok: true, remoteAddress: '127.0.0.1', serverSaw: '127.0.0.1' })
        })

        test('fetch works over http and https', () => {
          expect(resultOf(runtime, mode, 'fetch http')).toEqual({ ok: true, serverSaw: '127.0.0.1' })
          expect(resultOf(runtime, mode, 'fetch https')).toEqual({ ok: true, serverSaw: '127.0.0.1' })
        })

        test('https verifies the certificate (test CA), and still rejects one for another name', () => {
          expect(resultOf(runtime, mode, 'tls.connect')).toMatchObject({ ok: true, authorized: true, subjectaltname: 'DNS:api.dual.test' })
          expect(resultOf(runtime, mode, 'https.get')).toMatchObject({ ok: true, authorized: true })
          expect(resultOf(runtime, mode, TLS_CONTROL)).toMatchObject({ ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
        })

        test('a unix socket is left alone and still works', () => {
          expect(resultOf(runtime, mode, 'unix socket net.connect({path})')).toEqual({ ok: true })
        })

        test('an IPv6-only name fails with ENODATA naming the host and its IPv6 address', () => {
          const r = resultOf(runtime, mode, V6ONLY)
          expect(r).toMatchObject({ ok: false, code: 'ENODATA' })
          expect(r.message).toContain('v6only.test')
          expect(r.message).toContain(V6ONLY_IPV6)
        })

        test('pg to an IPv6-only Supabase direct host fails with ENODATA pointing to the pooler', () => {
          const r = resultOf(runtime, mode, SUPABASE)
          expect(r).toMatchObject({ ok: false, code: 'ENODATA' })
          expect(r.message).toContain('db.abcdefghijkl.supabase.co')
          expect(r.message).toContain('pooler.supabase.com')
        })

        // What the README says: global fetch is the runtime's own HTTP client here, not node:net.
        test('global fetch is the runtime\'s own: an IPv6-only name gets its error, not the diagnosis', () => {
          const r = resultOf(runtime, mode, V6ONLY_FETCH)
          expect(r.ok).toBe(false)
          expect(r.code).not.toBe('ENODATA')
        })
      })
    }

    test('IPV4_FORCE_HOSTS: the names it lists are forced, the others keep the runtime\'s own lookup', () => {
      const r = report(runtime, 'hosts')
      expect(r).toMatchObject({ exit: 0, patched: true })
      for (const [name] of NET_PATHS) expect({ name, ...resultOf(runtime, 'hosts', name) }).toMatchObject({ name, ok: true })
      expect(run.dnsQueries[runtime].hosts['db.dual.test']).toEqual(['A'])
      // v6only.test is not listed: the runtime resolves it (AAAA) and fails to connect itself.
      const v6 = resultOf(runtime, 'hosts', V6ONLY)
      expect(v6.ok).toBe(false)
      expect(v6.code).not.toBe('ENODATA')
      expect(v6.message).toContain(V6ONLY_IPV6)
      expect(run.dnsQueries[runtime].hosts['v6only.test']).toContain('AAAA')
    })

    if (runtime === 'deno') {
      test('--allow-net=<name>: a name ipv4-force leaves alone keeps Deno\'s permission by name; a forced one is checked by its IPv4 address', () => {
        const r = run.denoAllowNet
        if (!r || !r.results) throw new Error(`allow-net.cjs did not report: ${JSON.stringify(r).slice(0, 4000)}`)
        expect(r.results['db.dual.test']).toEqual({ ok: true, remoteAddress: '127.0.0.1' })
        expect(r.results['api.dual.test']).toMatchObject({ ok: false, name: 'NotCapable' })
        expect(r.results['api.dual.test'].message).toContain('127.0.0.1')
      })
    }
  })
}
