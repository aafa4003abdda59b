'use strict'

// Where the package has no native addon for the platform (Windows, FreeBSD, a platform package npm
// skipped), it still loads, warns once, and forces IPv4 through Node's own resolvers. Simulated
// with a copy of the package without its .node file.

const fs = require('node:fs')
const os = require('node:os')
const net = require('node:net')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { startDnsServer } = require('./helpers/dns-server')

const ROOT = path.join(__dirname, '..')
const SCENARIO = path.join(__dirname, 'fixtures', 'fallback', 'scenario.js')

let tmp
let dns
let server

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ipv4-force-no-addon-'))
  const { files } = require('../package.json')
  for (const file of files.filter((f) => f.endsWith('.js') || f.endsWith('/')).concat('package.json')) {
    fs.cpSync(path.join(ROOT, file), path.join(tmp, file), { recursive: true })
  }
  dns = await startDnsServer({
    host: '127.0.0.1',
    port: 0,
    zone: {
      'dual.test': { A: ['127.0.0.1'], AAAA: ['::1'] },
      'multi.test': { A: ['127.0.0.2', '127.0.0.1'] },
      'v6only.test': { AAAA: ['2406:da18::5'] },
    },
  })
  server = net.createServer((s) => s.end())
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
})

afterAll(async () => {
  fs.rmSync(tmp, { recursive: true, force: true })
  await dns.close()
  await new Promise((resolve) => server.close(resolve))
})

function run(args, env = {}) {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env: { ...process.env, ...env }, timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr })
    })
  })
}

test('without the addon: one warning, and patchNet() still forces IPv4 with the same errors', async () => {
  expect(fs.readdirSync(tmp).some((f) => f.endsWith('.node'))).toBe(false)
  const r = await run([SCENARIO, tmp, dns.address, String(server.address().port)])
  expect(r.stderr.match(/IPV4_FORCE_NO_NATIVE_ADDON/g)).toHaveLength(1)
  expect(r.stderr).toContain(`${process.platform}-${process.arch}`)
  expect(r.stderr).toContain('IPV4_FORCE_REQUIRE_NATIVE=1')
  const result = JSON.parse(r.stdout)
  expect(result).toMatchObject({
    backend: 'node',
    dual: { address: '127.0.0.1' },
    failover: { address: '127.0.0.1', attempted: 2 },
    ipv6Only: { code: 'ENODATA' },
    ipv6Literal: 'EAFNOSUPPORT',
    resolved: ['127.0.0.1'],
    inWorker: ['127.0.0.1'],
  })
  expect(result.ipv6Only.message).toContain('resolves only to IPv6 (2406:da18::5)')
  // The diagnosis reaches the person here too: one warning however many attempts, the lookup
  // events, and this thread's counters.
  expect(result.ipv6OnlyAgain).toBe('ENODATA')
  expect(r.stderr.match(/\[IPV4_FORCE_IPV6_ONLY\] Warning: connections to v6only\.test fail with ENODATA/g)).toHaveLength(1)
  expect(result.events.map((e) => [e.hostname, e.addresses || e.error, e.backend])).toEqual([
    ['dual.test', ['127.0.0.1'], 'node'],
    ['multi.test', ['127.0.0.2', '127.0.0.1'], 'node'],
    ['v6only.test', 'ENODATA', 'node'],
    ['v6only.test', 'ENODATA', 'node'],
  ])
  expect(result.stats).toMatchObject({ lookups: 5, queriesSent: 5, ipv6OnlyHosts: 1, configChecks: 0 })
})

test('IPV4_FORCE_REQUIRE_NATIVE=1 makes the missing addon an error', async () => {
  const r = await run(['-e', `try { require(${JSON.stringify(tmp)}) } catch (e) { console.log(e.code) }`], { IPV4_FORCE_REQUIRE_NATIVE: '1' })
  expect(r.stdout.trim()).toBe('ERR_IPV4_FORCE_NO_NATIVE_ADDON')
})

test('with the addon, the backend is native', () => {
  expect(require('..').backend).toBe('native')
})

// The fallback's JS copy of the addon's advice and option rules (src/advice.rs,
// src/binding/options.rs) must say exactly what the addon says.
describe('the fallback backend words advice and refusals as the addon does', () => {
  const fallback = require('../lib/fallback.js')
  const addon = require('../binding.js')

  test.each([
    ['db.abcdefghijklmnop.supabase.co', '2406:da18::5'],
    ['DB.Abc123.SUPABASE.CO.', null],
    ['api.example.com', '2001:db8::1'],
    ['x.db.abc.supabase.co', null],
  ])('ipv6OnlyFailure(%p, %p)', (hostname, seen) => {
    expect(fallback.ipv6OnlyFailure(hostname, seen)).toEqual({ ...addon.ipv6OnlyFailure(hostname, seen) })
  })

  test.each([
    ['db.warnwarnwarn.supabase.co', '2406:da18::7'],
    ['api.warn.example.com', '2001:db8::7'],
  ])('firstIpv6OnlyWarning(%p), once noted with %p', (hostname, seen) => {
    for (const backend of [fallback, addon]) expect(backend.firstIpv6OnlyWarning(hostname)).toBeNull()
    fallback.ipv6OnlyFailure(hostname, seen)
    addon.ipv6OnlyFailure(hostname, seen)
    const warning = fallback.firstIpv6OnlyWarning(hostname)
    expect(warning).toContain(seen)
    expect(warning).toBe(addon.firstIpv6OnlyWarning(hostname))
    for (const backend of [fallback, addon]) expect(backend.firstIpv6OnlyWarning(hostname)).toBeNull()
  })

  test('ipv6LiteralFailure', () => {
    expect(fallback.ipv6LiteralFailure('2001:db8::1')).toEqual({ ...addon.ipv6LiteralFailure('2001:db8::1') })
  })

  test.each([
    [{ timeout: 0 }], [{ timeout: 4294967296 }], [{ attempts: -1 }], [{ attempts: 2.5 }], [{ maxTtl: -1 }],
    [{ errorTtl: Number.NEGATIVE_INFINITY }], [{ timeout: Number.NaN }], [{ maxTtl: -1e21 }], [{ attempts: 1e-7 }], [{ nameservers: [] }], [{ nameservers: ['127.0.0.1', 'nope'] }],
  ])('createResolver(%p) refuses', (options) => {
    const refusal = fallback.createResolver(options)
    expect(refusal.code).toMatch(/^ERR_/)
    expect(refusal).toEqual({ ...addon.createResolver(options) })
  })

  test('createResolver accepts what the addon accepts', () => {
    const options = { nameservers: ['127.0.0.1:5353', '[::1]:53'], timeout: 1, attempts: 1, maxTtl: Infinity, errorTtl: 0 }
    expect(fallback.createResolver(options)).toBeInstanceOf(fallback.NativeResolver)
    expect(addon.createResolver(options)).toBeInstanceOf(addon.NativeResolver)
  })
})
