'use strict'

// Nothing a caller passes takes the process down, and the getaddrinfo fallback cannot start a
// thread per lookup. Each case runs in a child process, so a regression (a Rust panic reaching
// Node is a SIGABRT that try/catch cannot stop) fails the test instead of killing jest.

const path = require('node:path')
const { execFile } = require('node:child_process')
const { namespaceGate, runInNamespace } = require('./helpers/netns')

const REPO = path.resolve(__dirname, '..')
const HELPERS = path.join(__dirname, 'helpers', 'dns-server.js')
const FIXTURES = path.join(__dirname, 'fixtures', 'safety')

// Runs `body` (an async function's source, given `pkg`, `startDnsServer` and `print`) in a child.
function child(body, env = {}) {
  const script = `
    const pkg = require(${JSON.stringify(REPO)})
    const { startDnsServer } = require(${JSON.stringify(HELPERS)})
    const print = (v) => console.log('RESULT ' + JSON.stringify(v))
    ;(${body})(pkg, startDnsServer, print).then(() => process.exit(0), (e) => { console.error(e); process.exit(2) })
  `
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script], { env: { ...process.env, ...env }, timeout: 30000 }, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '))
      resolve({ code: err ? err.code : 0, signal: err ? err.signal : null, stderr, result: line && JSON.parse(line.slice(7)) })
    })
  })
}

describe('no abort', () => {
  test('maxTtl / errorTtl of Number.MAX_VALUE or 2^64 s mean "forever", in every entry point', async () => {
    const run = await child(`async (pkg, startDnsServer, print) => {
      const dns = await startDnsServer({ zone: { 'a.test': { A: ['127.0.0.1'] } } })
      const base = { nameservers: [dns.address], timeout: 300, attempts: 1 }
      const out = {}
      out.resolve = await pkg.resolveIPv4('a.test', { ...base, maxTtl: Number.MAX_VALUE, errorTtl: Number.MAX_VALUE })
      out.failure = await pkg.resolveIPv4('nx.test', { ...base, errorTtl: 2 ** 64 }).catch((e) => e.code)
      out.lookup = await new Promise((resolve) => pkg.createLookup({ ...base, maxTtl: 1e300 })('a.test', {}, (e, a) => resolve(e ? e.code : a)))
      pkg.patchNet({ ...base, errorTtl: Number.MAX_VALUE, maxTtl: Infinity })
      pkg.unpatchNet()
      print(out)
      await dns.close()
    }`)
    expect(run).toMatchObject({ code: 0, signal: null })
    expect(run.result).toEqual({ resolve: ['127.0.0.1'], failure: 'ENOTFOUND', lookup: '127.0.0.1' })
  })

  test('a Unicode name with only AAAA records gets ENODATA, not an abort while the message is built', async () => {
    const run = await child(`async (pkg, startDnsServer, print) => {
      const { domainToASCII } = require('node:url')
      const zone = {}
      for (const n of ['üüüüüüüüüü.example', 'dü.abcdefghij.supabase.co']) zone[domainToASCII(n)] = { AAAA: ['2406:da18::9'] }
      const dns = await startDnsServer({ zone })
      const opts = { nameservers: [dns.address], timeout: 300, attempts: 1 }
      const out = []
      for (const n of ['üüüüüüüüüü.example', 'dü.abcdefghij.supabase.co']) {
        out.push(await pkg.resolveIPv4(n, opts).catch((e) => [e.code, e.message.includes(n), e.message.includes('2406:da18::9')]))
        out.push(await new Promise((resolve) => pkg.createLookup(opts)(n, {}, (e) => resolve(e && e.code))))
      }
      print(out)
      await dns.close()
    }`)
    expect(run).toMatchObject({ code: 0, signal: null })
    expect(run.result).toEqual([['ENODATA', true, true], 'ENODATA', ['ENODATA', true, true], 'ENODATA'])
  })

  test('a panic while a finished lookup is handed to JS is EINTERNAL for that lookup, and the process goes on', async () => {
    const run = await child(`async (pkg, startDnsServer, print) => {
      const dns = await startDnsServer({ zone: {} })
      const opts = { nameservers: [dns.address], timeout: 300, attempts: 1, errorTtl: 0 }
      const out = {}
      out.settle = await pkg.resolveIPv4('nx.test', opts).catch((e) => e.code)
      out.after = await pkg.resolveIPv4('other.test', opts).catch((e) => e.code)
      print(out)
      await dns.close()
    }`, { IPV4_FORCE_TEST_PANIC: 'settle:nx.test' })
    expect(run).toMatchObject({ code: 0, signal: null })
    expect(run.result).toMatchObject({ settle: 'EINTERNAL', after: 'ENOTFOUND' })
  })

  test('diagnose and redaction panics are caught too', async () => {
    const diag = await child(`async (pkg, startDnsServer, print) => {
      const err = await pkg.diagnose('boom.test', { nameservers: ['127.0.0.1:1'] }).catch((e) => e)
      print({ code: err.code })
    }`, { IPV4_FORCE_TEST_PANIC: 'diagnose:boom.test' })
    expect(diag).toMatchObject({ code: 0, signal: null, result: { code: 'EINTERNAL' } })
    const redact = await child(`async (pkg, startDnsServer, print) => {
      print(require(${JSON.stringify(path.join(REPO, 'lib', 'diagnose.js'))}).redactTarget('postgres://u:secret@h'))
    }`, { IPV4_FORCE_TEST_PANIC: 'redact:postgres://u:secret@h' })
    expect(redact).toMatchObject({ code: 0, signal: null })
    expect(redact.result).not.toContain('secret')
    // The pooler search (findSupabasePooler, for a preflight): the panic is caught before any query.
    const pooler = await child(`async (pkg, startDnsServer, print) => {
      const { findSupabasePooler } = require(${JSON.stringify(path.join(REPO, 'lib', 'diagnose.js'))})
      const err = await findSupabasePooler('db.boom.supabase.co', { nameservers: ['127.0.0.1:1'] }).catch((e) => e)
      print({ code: err.code })
    }`, { IPV4_FORCE_TEST_PANIC: 'find_pooler:db.boom.supabase.co' })
    expect(pooler).toMatchObject({ code: 0, signal: null, result: { code: 'EINTERNAL' } })
  })
})

// In a private network namespace: arbitrary names may be IP literals, and `fallback` or the
// system configuration may be used; there, nothing but loopback exists and resolv.conf points at
// the fixture's own DNS server.
const gate = namespaceGate('safety tests in a network namespace')
const ETC = {
  'resolv.conf': 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n',
  hosts: '127.0.0.1 localhost\n',
}

describe('in a private network namespace', () => {
  beforeAll(() => gate.ready())

  gate.test('property: every export, arbitrary options and Unicode names: the process lives, every error has a code', async () => {
    const run = await runInNamespace({ script: path.join(FIXTURES, 'property.js'), args: [REPO, '150'], etc: ETC, timeout: 120000 })
    expect(run.signal).toBeNull()
    const summary = JSON.parse(run.stdout.trim().split('\n').pop())
    expect(summary).toMatchObject({ badCount: 0 })
    expect(run.code).toBe(0)
    // Lookups really ran (not only argument errors): IPv6-only names, CNAME loops, answers.
    expect(summary.stats.codes.ENODATA).toBeGreaterThan(0)
    expect(summary.stats.ok).toBeGreaterThan(0)
  }, 130000)

  gate.test('a fallback storm (600 lookups, DNS failing slowly) runs getaddrinfo on a few threads only', async () => {
    const run = await runInNamespace({ script: path.join(FIXTURES, 'storm.js'), args: [REPO, '400'], etc: ETC, timeout: 90000 })
    expect(run).toMatchObject({ code: 0, signal: null })
    const summary = JSON.parse(run.stdout.trim().split('\n').pop())
    expect(summary.codes).toEqual({ ENOTFOUND: 600 })
    // Before: a thread per lookup (over 400 here). Now: 8 getaddrinfo calls at once.
    expect(summary.max - summary.before).toBeLessThan(30)
  }, 100000)
})
