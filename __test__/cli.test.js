'use strict'

// `ipv4-force check` / `resolve`, run as the real command (a child process) against this test's
// own DNS server (--dns 127.0.0.1:PORT) and TCP servers on loopback; then once with the system
// configuration, inside a private network namespace where /etc/resolv.conf points at a DNS
// server on 127.0.0.1:53 (root only: skipped with a warning otherwise, failed when CI=true).
// Nothing here sends a packet beyond loopback.

const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { startDnsServer, freePort } = require('./helpers/dns-server')
const { namespaceGate, runInNamespace } = require('./helpers/netns')

const REPO = path.resolve(__dirname, '..')
const CLI = path.join(REPO, 'cli.js')
const { version } = require('../package.json')
const { diagnose, formatReport } = require('../lib/diagnose.js')

const ZONE = {
  'dual.test': { A: ['127.0.0.1'], AAAA: ['2406:da18::1'] },
  'v6only.test': { AAAA: ['2406:da18::5'] },
  'db.abcdefghijkl.supabase.co': { AAAA: ['2406:da18::7'] },
  'empty.test': {},
  'servfail.test': { rcode: 'SERVFAIL' },
}

const POOLER = 'postgres://postgres.abcdefghijkl:[YOUR-PASSWORD]@aws-0-[REGION].pooler.supabase.com:5432/postgres'

// A password with an escaped '$' (%24) and a raw '@': none of its pieces may ever be printed.
const PASSWORD = 's3cr%24t@pa55'
const SECRET_PIECES = ['s3cr', 'pa55', '%24', '$t@']
const withPassword = (rest, scheme = 'postgres') => `${scheme}://app:${PASSWORD}@${rest}`

let dns
let server // accepts and closes every connection
let openPort
let closedPort

function cli(args, { timeout = 20_000 } = {}) {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { cwd: REPO, timeout }, (err, stdout, stderr) => {
      resolve({ status: child.exitCode, signal: child.signalCode, stdout, stderr })
    })
  })
}

// `check` / `resolve` through the test DNS server.
const run = (...args) => cli([...args, '--dns', dns.address])

const oneLine = (text) => text.replace(/\s+/g, ' ')

function expectNoSecret(result) {
  for (const piece of SECRET_PIECES) {
    expect(result.stdout).not.toContain(piece)
    expect(result.stderr).not.toContain(piece)
  }
}

function expectUsageError(result, message) {
  expect(result).toMatchObject({ status: 2, stdout: '' })
  expect(result.stderr).toMatch(/^ipv4-force: /)
  expect(result.stderr).toContain('Usage:')
  if (message) expect(result.stderr).toContain(message)
  expectNoSecret(result)
}

function parseJson(result) {
  expect(result.stderr).toBe('')
  return JSON.parse(result.stdout)
}

beforeAll(async () => {
  dns = await startDnsServer({ host: '127.0.0.1', port: 0, zone: ZONE })
  server = net.createServer((socket) => socket.end())
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  openPort = server.address().port
  closedPort = await freePort()
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
  await dns.close()
})

describe('check: verdicts and exit codes', () => {
  test('dual-stack host reachable over IPv4: exit 0, patchNet() named, password masked', async () => {
    const r = await run('check', withPassword(`dual.test:${openPort}/app`))
    expect(r.status).toBe(0)
    expect(r.stderr).toBe('')
    const out = oneLine(r.stdout)
    expect(r.stdout.split('\n')[0]).toBe(`ipv4-force check postgres://****@dual.test:${openPort}/app`)
    expect(out).toMatch(/A \(IPv4\) 127\.0\.0\.1 /)
    expect(out).toMatch(/AAAA \(IPv6\) 2406:da18::1 /)
    expect(out).toMatch(/IPv6 route (yes|no) \(/)
    expect(out).toMatch(new RegExp(`TCP over IPv4 connected to 127\\.0\\.0\\.1:${openPort} in [\\d.]+ ms`))
    expect(out).toContain('Verdict: reachable')
    expect(out).toContain('patchNet()')
    expectNoSecret(r)
  })

  test('--json: one object with the documented fields', async () => {
    const r = await run('check', withPassword(`dual.test:${openPort}/app`), '--json')
    expect(r.status).toBe(0)
    expectNoSecret(r)
    const report = parseJson(r)
    expect(Object.keys(report)).toEqual([
      'target', 'host', 'port', 'a', 'aError', 'aaaa', 'aaaaError', 'ipv6Route', 'ipv6Source',
      'ipv6RouteDetail', 'tcp4', 'verdict', 'ok', 'summary', 'hint', 'pooler',
    ])
    expect(report).toMatchObject({
      target: `postgres://****@dual.test:${openPort}/app`,
      host: 'dual.test',
      port: openPort,
      a: ['127.0.0.1'],
      aError: null,
      aaaa: ['2406:da18::1'],
      aaaaError: null,
      ipv6Route: expect.any(Boolean),
      tcp4: { attempted: true, address: `127.0.0.1:${openPort}`, ok: true, ms: expect.any(Number), error: null },
      verdict: 'reachable',
      ok: true,
      pooler: null,
    })
    expect(report.hint).toContain('patchNet()')
    expect(report.tcp4.ms).toBeGreaterThanOrEqual(0)
  })

  test('IPv6-only host: exit 1, said plainly, with what to do', async () => {
    const r = await run('check', 'v6only.test:443')
    expect(r.status).toBe(1)
    const out = oneLine(r.stdout)
    expect(out).toContain('Verdict: ipv6-only')
    expect(out).toContain('v6only.test is IPv6-only: it has AAAA records (2406:da18::5) but no A record')
    expect(out).toContain('A (IPv4) none (ENODATA: no A record)')
    expect(out).toContain('Use an IPv4 endpoint')
    expect(out).toContain('TCP over IPv4 not tested')
    expect(out).not.toContain('pooler.supabase.com')
  })

  test('Supabase direct host: the session-pooler connection string and port 6543', async () => {
    const r = await run('check', withPassword('db.abcdefghijkl.supabase.co:5432/postgres'))
    expect(r.status).toBe(1)
    expectNoSecret(r)
    const out = oneLine(r.stdout)
    expect(out).toContain('Verdict: ipv6-only')
    expect(out).toContain('Supabase direct host')
    expect(r.stdout).toContain(POOLER) // on one line, never wrapped
    expect(out).toContain('6543')

    const report = parseJson(await run('check', 'db.abcdefghijkl.supabase.co', '--json'))
    expect(report).toMatchObject({ verdict: 'ipv6-only', ok: false, a: [], aaaa: ['2406:da18::7'], port: null })
    expect(report.aError.code).toBe('ENODATA')
    expect(report.hint).toContain(POOLER)
    // The pooler search asked this test's DNS server about every candidate, which does not know
    // them (pooler.test.js has poolers that answer): nothing was connected to.
    const { search } = report.pooler
    expect(search.candidates).toHaveLength(34)
    expect(search.candidates.every((c) => c.verdict === 'no-address' && c.address === null)).toBe(true)
    expect(dns.countQueries('aws-1-eu-west-2.pooler.supabase.com', 'A')).toBeGreaterThan(0)
    expect(report.hint).toContain('No pooler answered for this project: 34 poolers asked')
  })

  test('--region: one of Supabase\'s regions, or a usage error', async () => {
    const report = parseJson(await run('check', 'db.abcdefghijkl.supabase.co', '--json', '--region', 'ap-south-1'))
    expect(report.pooler.search.candidates.map((c) => c.host)).toEqual([
      'aws-0-ap-south-1.pooler.supabase.com', 'aws-1-ap-south-1.pooler.supabase.com'])
    expectUsageError(await run('check', 'db.abcdefghijkl.supabase.co', '--region', 'eu-west-9'), 'eu-west-9')
    expectUsageError(await run('resolve', 'dual.test', '--region', 'eu-west-1'), '--region is an option of check')
    await expect(diagnose('dual.test', { region: 'nowhere' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' })
    await expect(diagnose('dual.test', { region: 1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
  })

  test('NXDOMAIN: exit 1, not-found, with what was seen', async () => {
    const r = await run('check', 'nope.test:5432')
    expect(r.status).toBe(1)
    const out = oneLine(r.stdout)
    expect(out).toContain('Verdict: not-found')
    expect(out).toContain('ENOTFOUND')
    expect(out).toContain('NXDOMAIN')
    const report = parseJson(await run('check', 'nope.test:5432', '--json'))
    expect(report).toMatchObject({ verdict: 'not-found', a: [], aError: { code: 'ENOTFOUND' }, tcp4: { attempted: false } })
  })

  test('a name without any address record: no-address', async () => {
    const report = parseJson(await run('check', 'empty.test:5432', '--json'))
    expect(report).toMatchObject({ verdict: 'no-address', ok: false, a: [], aaaa: [], aaaaError: null })
  })

  test('DNS failures: SERVFAIL, and a DNS server that does not answer', async () => {
    const r = await run('check', 'servfail.test:5432')
    expect(r.status).toBe(1)
    expect(oneLine(r.stdout)).toContain('Verdict: dns-failure')
    expect(r.stdout).toContain('ESERVFAIL')

    const dead = await freePort()
    const silent = await cli(['check', 'dual.test:5432', '--json', '--dns', `127.0.0.1:${dead}`, '--timeout', '300'])
    expect(silent.status).toBe(1)
    expect(parseJson(silent)).toMatchObject({ verdict: 'dns-failure', a: [], tcp4: { attempted: false } })
  })

  test('closed port: exit 1, port-closed, ECONNREFUSED', async () => {
    const r = await run('check', `dual.test:${closedPort}`)
    expect(r.status).toBe(1)
    const out = oneLine(r.stdout)
    expect(out).toContain('Verdict: port-closed')
    expect(out).toContain(`nothing accepts connections on port ${closedPort} over IPv4 (ECONNREFUSED)`)
    const report = parseJson(await run('check', `redis://:${PASSWORD}@dual.test:${closedPort}`, '--json'))
    expect(report).toMatchObject({
      target: `redis://****@dual.test:${closedPort}`,
      verdict: 'port-closed',
      tcp4: { attempted: true, ok: false, error: 'ECONNREFUSED', ms: expect.any(Number) },
    })
  })

  test('a bare host: DNS and route checks only, exit 0 when it has IPv4', async () => {
    const r = await run('check', 'dual.test')
    expect(r.status).toBe(0)
    expect(oneLine(r.stdout)).toContain('Verdict: resolves')
    expect(oneLine(r.stdout)).toContain('no port given')
    const report = parseJson(await run('check', 'dual.test', '--json'))
    expect(report).toMatchObject({ verdict: 'resolves', ok: true, port: null, tcp4: { attempted: false, ok: false } })
  })

  test('the scheme default port is used when a URL has none', async () => {
    for (const [url, port] of [['postgresql://dual.test/db', 5432], ['mysql://u@dual.test', 3306],
      ['rediss://dual.test', 6379], ['mongodb://dual.test/db', 27017], ['http://dual.test/', 80],
      ['https://dual.test', 443]]) {
      const report = parseJson(await run('check', url, '--json', '--timeout', '500'))
      expect([url, report.port, report.tcp4.address]).toEqual([url, port, `127.0.0.1:${port}`])
    }
  })

  test('IP literals: no DNS query; IPv6 literals are reported as such', async () => {
    const before = dns.queries.length
    const v4 = parseJson(await run('check', `127.0.0.1:${openPort}`, '--json'))
    expect(v4).toMatchObject({ verdict: 'reachable', a: ['127.0.0.1'], aaaa: [] })
    const r = await run('check', '[::1]:5432')
    expect(r.status).toBe(1)
    expect(oneLine(r.stdout)).toContain('Verdict: ipv6-only')
    expect(oneLine(r.stdout)).toContain('allowIPv6Literals')
    expect(dns.queries.length).toBe(before)
  })
})

describe('usage errors: exit 2, usage on stderr, never a password', () => {
  test.each([
    ['no command', [], 'no command given'],
    ['no target', ['check'], 'no TARGET given'],
    ['unknown flag', ['check', 'dual.test:1', '--frobnicate'], "Unknown option '--frobnicate'"],
    ['unknown command', ['frobnicate', 'dual.test'], 'unknown command "frobnicate"'],
    ['bad --timeout', ['check', 'dual.test:1', '--timeout', 'soon'], '--timeout takes a whole number'],
    ['--timeout without value', ['check', 'dual.test:1', '--timeout'], '--timeout'],
    ['two targets', ['check', withPassword('dual.test/a'), withPassword('dual.test/b')], 'one TARGET at a time'],
    ['port out of range', ['check', withPassword('dual.test:99999/app')], 'postgres://****@dual.test:99999/app'],
    ['unsupported scheme', ['check', withPassword('dual.test/x', 'ftp')], 'unsupported scheme "ftp"'],
    ['credentials without a scheme', ['check', `app:${PASSWORD}@dual.test:5432`], 'give a URL'],
    ['a "/" in the password', ['check', 'postgres://app:s3cr/pa55@dual.test/db'], "'@' after its host part"],
    ['several mongodb hosts', ['check', withPassword('a.test:1,b.test:2/db', 'mongodb')], 'several hosts'],
    ['a URL given to an option', ['check', `--json=${withPassword('dual.test/db')}`], '--json'],
    ['a URL given to resolve', ['resolve', withPassword('dual.test/db')], 'resolve takes a hostname'],
    ['a bad --dns server', ['check', 'dual.test:1', '--dns', 'dns.example'], 'is not an IP address'],
  ])('%s', async (_name, args, message) => {
    expectUsageError(await cli(args), message)
  })
})

// A credential in every shape a target may carry one. Rule: the whole userinfo is masked, and
// messages quote only the redacted target. Each shape runs through the real CLI, as text and as
// --json; the secret must not appear in stdout or stderr, whatever the verdict or error.
describe('a credential in any shape is never printed', () => {
  const SECRET = 'Zq9xK2mW7vLp'
  const shapes = () => [
    // [name, argument, exit status, what stands in its place]
    ['a port error quoting the rest of the target', `dual.test:5432?password=${SECRET}`, 2, '"5432?password=****"'],
    ['a port error, secret in a fragment', `dual.test:5432#password=${SECRET}`, 2, '#password=****'],
    ['a port error, secret after a ";"', `dual.test:5432;password=${SECRET}`, 2, ';password=****'],
    ['a token as the user name (https)', `https://ghp_${SECRET}@dual.test:${openPort}/x`, 0, 'https://****@dual.test'],
    ['a password as the user name (redis)', `redis://${SECRET}@dual.test:${closedPort}`, 1, 'redis://****@dual.test'],
    ['a token as the user name, no scheme', `${SECRET}@dual.test:5432`, 2, '****@dual.test:5432'],
    ['user:password, no scheme', `app:${SECRET}@dual.test:5432`, 2, '****@dual.test:5432'],
    ['#password= in the fragment', `redis://dual.test:${closedPort}#password=${SECRET}`, 1, '#password=****'],
    ['";password=" inside a query value', `mysql://app@dual.test:${openPort}/db?ssl=true;password=${SECRET}`, 0, 'ssl=true;password=****'],
    ['a password encoded inside another value', `postgres://dual.test:${openPort}/db?options=-c%20password%3D${SECRET}`, 0, 'options=****'],
    ['a scheme that is not one', `app:${SECRET}@dual.test://x`, 2, 'not a URL scheme'],
  ]

  function expectSecretHidden(r) {
    expect(r.stdout).not.toContain(SECRET)
    expect(r.stderr).not.toContain(SECRET)
  }

  test.each(shapes().map(([name]) => [name]))('%s', async (name) => {
    const [, target, status, masked] = shapes().find(([n]) => n === name)
    const text = await run('check', target, '--timeout', '2000')
    expect({ status: text.status, signal: text.signal }).toEqual({ status, signal: null })
    expectSecretHidden(text)
    expect(text.stdout + text.stderr).toContain(masked)
    const json = await run('check', target, '--json', '--timeout', '2000')
    expect(json.status).toBe(status)
    expectSecretHidden(json)
    if (status !== 2) expect(JSON.parse(json.stdout).target).toContain(masked)
  })

  test('given to an option, or to resolve', async () => {
    const asOption = await cli(['check', `--json=redis://dual.test#password=${SECRET}`])
    expect(asOption.status).toBe(2)
    expectSecretHidden(asOption)
    for (const host of [`dual.test?password=${SECRET}`, `dual.test;password=${SECRET}`]) {
      for (const args of [['resolve', host], ['resolve', host, '--json']]) {
        const r = await run(...args)
        expect(r.status).toBe(1)
        expectSecretHidden(r)
      }
    }
  })

  test('diagnose() rejects without the secret in its message or target', async () => {
    for (const [, target, status] of shapes()) {
      if (status !== 2) continue
      const err = await diagnose(target).catch((e) => e)
      expect(err).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' })
      expect(`${err.message} ${err.stack} ${err.target}`).not.toContain(SECRET)
    }
  })
})

describe('resolve, --help, --version', () => {
  test('resolve prints the IPv4 addresses, one a line', async () => {
    const r = await run('resolve', 'dual.test')
    expect(r).toMatchObject({ status: 0, stdout: '127.0.0.1\n', stderr: '' })
    expect(parseJson(await run('resolve', 'dual.test', '--json'))).toEqual({ host: 'dual.test', addresses: ['127.0.0.1'], error: null })
  })

  test('resolve: exit 1 with the error code', async () => {
    const nx = await run('resolve', 'nope.test')
    expect(nx).toMatchObject({ status: 1, stdout: '' })
    expect(nx.stderr).toMatch(/^ENOTFOUND: /)
    const v6 = await run('resolve', 'v6only.test')
    expect(v6).toMatchObject({ status: 1, stdout: '' })
    expect(v6.stderr).toMatch(/^ENODATA: .*2406:da18::5/)
    const bad = await run('resolve', 'bad..name')
    expect(bad.status).toBe(1)
    expect(bad.stderr).toMatch(/^ENOTFOUND: .*malformed hostname/)
  })

  test('--help and --version', async () => {
    const help = await cli(['--help'])
    expect(help).toMatchObject({ status: 0, stderr: '' })
    expect(help.stdout).toContain('ipv4-force check TARGET [--json] [--timeout MS] [--dns SERVER] [--region REGION]')
    expect(help.stdout).toContain('ipv4-force resolve HOST')
    expect(await cli(['--version'])).toMatchObject({ status: 0, stdout: `${version}\n`, stderr: '' })
  })

  test('the file is an executable script with a node shebang', () => {
    expect(fs.readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true)
  })
})

describe('diagnose() from code', () => {
  test('resolves to the same report the CLI prints', async () => {
    const report = await diagnose(`dual.test:${openPort}`, { nameservers: [dns.address], timeout: 2000 })
    expect(report).toMatchObject({ verdict: 'reachable', ok: true, a: ['127.0.0.1'], aaaa: ['2406:da18::1'] })
    const text = formatReport(report)
    expect(text).toContain('Verdict: reachable')
    expect(text.split('\n')[0]).toBe(`ipv4-force check dual.test:${openPort}`)
  })

  test('bad arguments reject with codes, and no password', async () => {
    await expect(diagnose(42)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
    await expect(diagnose('dual.test', { bogus: 1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' })
    await expect(diagnose('dual.test', { timeout: 0 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' })
    await expect(diagnose('dual.test', { nameservers: 'x' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
    await expect(diagnose('dual.test', { nameservers: ['nope'] })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' })
    const err = await diagnose(withPassword('dual.test:99999/app')).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', target: 'postgres://****@dual.test:99999/app' })
    for (const piece of SECRET_PIECES) expect(`${err.message} ${err.stack}`).not.toContain(piece)
  })
})

// ---------------------------------------------------------------------------------------------
// With the system configuration, in a private network namespace

const NETNS_FIXTURE = path.join(__dirname, 'fixtures', 'cli', 'netns-check.js')
const UNSHARE_FLAGS = ['--mount', '--net']

const netns = namespaceGate('the network-namespace tests of __test__/cli.test.js', { flags: UNSHARE_FLAGS })
const nsTest = netns.test

describe('in a private network namespace, with the system resolver configuration', () => {
  let result = null

  beforeAll(async () => {
    if (!netns.ready()) return
    const ns = await runInNamespace({
      script: NETNS_FIXTURE,
      flags: UNSHARE_FLAGS,
      etc: {
        'resolv.conf': 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n',
        // getaddrinfo (the library's fallback) must not reach a resolver daemon outside the namespace.
        'nsswitch.conf': 'hosts: files dns\n',
      },
      timeout: 60_000,
    })
    try {
      result = JSON.parse(ns.stdout.trim().split('\n').pop())
    } catch {
      throw new Error(`netns-check.js printed no result (${ns.signal || `exit ${ns.code}`}): ${ns.stdout}\n${ns.stderr}`)
    }
  }, 70_000)

  const runOf = (...args) => {
    const r = result.runs.find((x) => x.args.join(' ') === args.join(' '))
    if (!r) throw new Error(`no run of ${args.join(' ')}`)
    return r
  }

  nsTest('the system resolver was the test server: A and AAAA were asked on 127.0.0.1:53', () => {
    const asked = result.queries.filter((q) => q.name.toLowerCase() === 'dual.test').map((q) => q.type)
    expect(asked).toEqual(expect.arrayContaining(['A', 'AAAA']))
  })

  nsTest('dual-stack: reachable over IPv4, and no IPv6 route in the namespace', () => {
    const text = runOf('check', `postgres://app:pa%24s@w0rd@dual.test:${result.port}/app`)
    expect(text.status).toBe(0)
    expect(text.stdout).not.toContain('pa%24s')
    expect(text.stdout).not.toContain('w0rd')
    expect(oneLine(text.stdout)).toContain('IPv6 route no (ENETUNREACH: no route to 2001:4860:4860::8888)')
    expect(oneLine(text.stdout)).toContain('Verdict: reachable')
    const report = JSON.parse(runOf('check', `dual.test:${result.port}`, '--json').stdout)
    expect(report).toMatchObject({
      verdict: 'reachable',
      a: ['127.0.0.1'],
      aaaa: ['2406:da18:243:7412::1'],
      ipv6Route: false,
      ipv6Source: null,
      tcp4: { ok: true },
    })
    expect(report.hint).toContain('ENETUNREACH')
  })

  nsTest('Supabase direct host: IPv6-only, no IPv6 route, the pooler string', () => {
    const text = runOf('check', 'postgres://postgres:pa%24s@w0rd@db.abcdefghijkl.supabase.co:5432/postgres')
    expect(text.status).toBe(1)
    expect(text.stdout).not.toContain('w0rd')
    expect(text.stdout).toContain(POOLER)
    const report = JSON.parse(runOf('check', 'db.abcdefghijkl.supabase.co:5432', '--json').stdout)
    expect(report).toMatchObject({ verdict: 'ipv6-only', ipv6Route: false, aaaa: ['2406:da18::5'] })
    expect(report.summary).toContain('this machine has no IPv6 route')
    expect(report.hint).toContain(POOLER)
  })

  nsTest('an IPv4 address without a route: port-unreachable (ENETUNREACH)', () => {
    const r = runOf('check', 'v4unreachable.test:5432', '--json')
    expect(r.status).toBe(1)
    expect(JSON.parse(r.stdout)).toMatchObject({ verdict: 'port-unreachable', tcp4: { attempted: true, error: 'ENETUNREACH' } })
  })

  nsTest('NXDOMAIN through the system configuration: not-found', () => {
    const r = runOf('check', 'nope.test:5432', '--json')
    expect(r.status).toBe(1)
    expect(JSON.parse(r.stdout)).toMatchObject({ verdict: 'not-found', aError: { code: 'ENOTFOUND' } })
  })

  nsTest('resolve with the system configuration', () => {
    expect(runOf('resolve', 'dual.test')).toMatchObject({ status: 0, stdout: '127.0.0.1\n', stderr: '' })
  })
})
