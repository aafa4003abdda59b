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

// Both backends return the same facts, and lib/advice.js words them for both: nothing is copied.
describe('the fallback backend gives the facts the addon gives', () => {
  const fallback = require('../lib/fallback.js')
  const addon = require('../binding.js')

  test.each([
    ['db.warnwarnwarn.supabase.co', '2406:da18::7'],
    ['API.warn.example.com.', '2001:db8::7'],
  ])('an IPv6-only host (%p, %p) is reported once, whatever its spelling', (hostname, seen) => {
    const other = hostname.toLowerCase().replace(/\.$/, '')
    for (const backend of [fallback, addon]) {
      expect(backend.firstIpv6OnlyReport(hostname)).toBeNull()
      backend.noteIpv6Only(hostname, seen)
      expect({ ...backend.firstIpv6OnlyReport(other) }).toEqual({ ipv6Seen: seen })
      expect(backend.firstIpv6OnlyReport(hostname)).toBeNull()
    }
  })

  test('the same options and IPv6 literals are refused with the same errors without the addon', async () => {
    // The options as source text: NaN and -Infinity have no JSON.
    const refused = `[{ timeout: 0 }, { timeout: 4294967296 }, { attempts: -1 }, { attempts: 2.5 }, { maxTtl: -1 },
      { errorTtl: -Infinity }, { timeout: NaN }, { maxTtl: -1e21 }, { attempts: 1e-7 },
      { nameservers: [] }, { nameservers: ['127.0.0.1', 'nope'] }, { timeout: '1' }]`
    const script = `const { resolveIPv4, backend } = require(process.argv[1])
      const calls = ${refused}.map((o) => resolveIPv4('localhost', o)).concat(resolveIPv4('2001:db8::1'))
      Promise.all(calls.map((call) => call.then(() => null, (e) => [e.name, e.code, e.message, e.syscall])))
        .then((errors) => console.log(JSON.stringify({ backend, errors })))`
    const withoutAddon = JSON.parse((await run(['-e', script, tmp])).stdout)
    const withAddon = JSON.parse((await run(['-e', script, ROOT])).stdout)
    expect([withoutAddon.backend, withAddon.backend]).toEqual(['node', 'native'])
    expect(withoutAddon.errors).toEqual(withAddon.errors)
    const literal = withAddon.errors.pop()
    expect(withAddon.errors.every((e) => e !== null && /^ERR_/.test(e[1]))).toBe(true)
    expect(withAddon.errors[0]).toEqual(['RangeError', 'ERR_OUT_OF_RANGE',
      'The value of "options.timeout" is out of range. It must be an integer >= 1 and <= 4294967295. Received 0', null])
    expect(withAddon.errors[9]).toEqual(['TypeError', 'ERR_INVALID_ARG_VALUE', 'The "options.nameservers" option is invalid: it must not be empty', null])
    expect(literal).toEqual(['Error', 'EAFNOSUPPORT', expect.stringMatching(/^connect EAFNOSUPPORT 2001:db8::1: 2001:db8::1 is an IPv6 address .* allowIPv6Literals/), 'connect'])
  })

  test('createResolver accepts what the addon accepts', () => {
    const options = { nameservers: ['127.0.0.1:5353', '[::1]:53'], timeout: 1, attempts: 1, maxTtl: Infinity, errorTtl: 0 }
    expect(fallback.createResolver(options)).toBeInstanceOf(fallback.NativeResolver)
    expect(addon.createResolver(options)).toBeInstanceOf(addon.NativeResolver)
  })
})
