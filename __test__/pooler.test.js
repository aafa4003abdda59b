'use strict'

// `ipv4-force check` finding a Supabase project's pooler (issue 22), end to end: the real CLI with
// the system resolver configuration, inside a private network namespace, against a test DNS server
// and PostgreSQL-speaking stand-ins for Supavisor on 127.0.0.x:5432 (fixtures/pooler/run.js sets
// them up, helpers/pg-pooler.js speaks the protocol). Nothing leaves loopback.
//
// Needs root and unshare: skipped with a warning elsewhere, failed when CI=true.

const path = require('node:path')
const { namespaceGate, runDriver } = require('./helpers/netns')

const SCRIPT = path.join(__dirname, 'fixtures', 'pooler', 'run.js')
const gate = namespaceGate('__test__/pooler.test.js')

const CANDIDATES = 34 // aws-0 and aws-1 in 17 regions
const FOUND = 'postgres://postgres.abcdefghijkl:[YOUR-PASSWORD]@aws-1-eu-west-2.pooler.supabase.com:5432/postgres'
const TEMPLATE = 'postgres://postgres.nonenonenone:[YOUR-PASSWORD]@aws-0-[REGION].pooler.supabase.com:5432/postgres'
const SECRETS = ['w0rd', 'pa%24s', '$s@', 'hunter2']

let run = null

beforeAll(async () => {
  if (!gate.ready()) return
  run = await runDriver({
    script: SCRIPT,
    etc: { 'resolv.conf': 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n', 'nsswitch.conf': 'hosts: files dns\n' },
    tag: 'pooler',
    timeout: 150_000,
    folderMode: 0o755,
  })
}, 160_000)

const oneLine = (text) => text.replace(/\s+/g, ' ')

function runOf(name) {
  const r = run.runs.find((x) => x.name === name)
  if (!r) throw new Error(`no run named ${name}`)
  for (const secret of SECRETS) {
    expect(r.stdout).not.toContain(secret)
    expect(r.stderr).not.toContain(secret)
  }
  return r
}

function reportOf(name) {
  const r = runOf(name)
  expect(r.stderr).toBe('')
  return JSON.parse(r.stdout)
}

const byHost = (candidates) => Object.fromEntries(candidates.map((c) => [c.host, c]))

describe('a Supabase direct host without IPv4: the pooler that serves the project', () => {
  gate.test('the CLI names the pooler and prints the exact string to paste, with port 6543 for transaction mode', () => {
    const r = runOf('found')
    expect(r.status).toBe(1) // the direct host is still unreachable from here
    expect(r.stdout).toContain(`\n  ${FOUND}\n`) // alone on its line, whole
    const out = oneLine(r.stdout)
    expect(out).toContain('Verdict: ipv6-only')
    expect(out).toContain('use the session pooler that serves this project, aws-1-eu-west-2.pooler.supabase.com')
    expect(out).toContain('6543')
    expect(out).toMatch(new RegExp(`pooler search ${CANDIDATES} poolers asked as postgres\\.abcdefghijkl in [\\d.]+ m?s: 33 tenant-not-found, 1 serves`))
    expect(out).toContain('aws-1-eu-west-2.pooler.supabase.com (127.0.0.3, TLS): serves, asks for a password (SASL: SCRAM-SHA-256)')
    expect(out).not.toContain('[REGION]')
  })

  gate.test('--json lists every candidate with its verdict; the URL keeps its database and (redacted) query', () => {
    const report = reportOf('found-json')
    expect(report.verdict).toBe('ipv6-only')
    const { pooler } = report
    expect(pooler).toMatchObject({ project: 'abcdefghijkl', user: 'postgres.abcdefghijkl', urlProbe: null })
    expect(pooler.connectionString).toBe(
      'postgresql://postgres.abcdefghijkl:[YOUR-PASSWORD]@aws-1-eu-west-2.pooler.supabase.com:5432/mydb?sslmode=require&password=****')
    expect(pooler.connectionStrings).toEqual([pooler.connectionString])
    expect(report.hint).toContain(pooler.connectionString)
    const { search } = pooler
    expect(search.limits).toEqual({ perProbeMs: 3000, totalMs: 5000, inFlight: 8 })
    expect(search.candidates).toHaveLength(CANDIDATES)
    const hosts = byHost(search.candidates)
    expect(Object.keys(hosts)).toHaveLength(CANDIDATES)
    expect(hosts['aws-1-eu-west-2.pooler.supabase.com']).toMatchObject({
      shard: 'aws-1', region: 'eu-west-2', port: 5432, address: '127.0.0.3', tls: true, verdict: 'serves',
    })
    for (const c of search.candidates) {
      if (c.host === 'aws-1-eu-west-2.pooler.supabase.com') continue
      expect(c).toMatchObject({ verdict: 'tenant-not-found', detail: 'FATAL XX000: Tenant or user not found', tls: false })
      expect(c.host).toBe(`${c.shard}-${c.region}.pooler.supabase.com`)
    }
    expect(search.ms).toBeLessThan(5000)
    console.log(`pooler search, ${CANDIDATES} candidates, 8 in flight, on loopback: ${search.ms} ms`)
  })

  gate.test('two poolers answer: both strings are listed, none is picked', () => {
    const report = reportOf('two')
    const { pooler } = report
    expect(pooler.connectionString).toBeNull()
    expect(pooler.connectionStrings).toEqual([
      'postgres://postgres.twotwotwotwo:[YOUR-PASSWORD]@aws-0-us-east-1.pooler.supabase.com:5432/postgres',
      'postgres://postgres.twotwotwotwo:[YOUR-PASSWORD]@aws-1-ap-south-1.pooler.supabase.com:5432/postgres',
    ])
    expect(pooler.search.candidates.filter((c) => c.verdict === 'serves').map((c) => c.address)).toEqual(['127.0.0.4', '127.0.0.5'])
    expect(oneLine(report.hint)).toContain('2 poolers answered for this project')
    const text = runOf('two-text').stdout
    expect(text).toContain('Connection strings (session mode, port 5432; one of these):')
    for (const url of pooler.connectionStrings) expect(text).toContain(`\n  ${url}`)
  })

  gate.test('none found: the template as before, and what was tried', () => {
    const report = reportOf('none')
    expect(report.pooler.connectionStrings).toEqual([])
    expect(report.pooler.connectionString).toBeNull()
    expect(report.pooler.search.candidates.every((c) => c.verdict === 'tenant-not-found')).toBe(true)
    expect(report.hint).toContain(TEMPLATE)
    expect(report.hint).toMatch(new RegExp(`No pooler answered for this project: ${CANDIDATES} poolers asked \\(aws-0, aws-1 in 17 regions\\) in [\\d.]+ m?s: ${CANDIDATES} tenant-not-found;`))
    const text = runOf('none-text')
    expect(text.stdout).toContain(TEMPLATE)
    expect(text.stdout).not.toContain('Connection string')
  })

  gate.test('--region narrows the search to that region; an unknown region is a usage error', () => {
    const found = reportOf('region').pooler
    expect(found.search.region).toBe('eu-west-2')
    expect(found.search.candidates.map((c) => c.host)).toEqual([
      'aws-0-eu-west-2.pooler.supabase.com', 'aws-1-eu-west-2.pooler.supabase.com'])
    expect(found.connectionString).toBe(FOUND)
    const elsewhere = reportOf('region-elsewhere').pooler
    expect(elsewhere.search.candidates).toHaveLength(2)
    expect(elsewhere.connectionStrings).toEqual([])
    const bad = runOf('region-unknown')
    expect(bad.status).toBe(2)
    expect(bad.stdout).toBe('')
    expect(bad.stderr).toContain("The argument 'region' must be one of Supabase's regions")
    expect(bad.stderr).toContain('mars-north-1')
    expect(bad.stderr).toContain('Usage:')
  })

  gate.test('a candidate that accepts and never answers: reported as a timeout, and the time limit holds', () => {
    const slow = runOf('slow')
    const report = JSON.parse(slow.stdout)
    const { search } = report.pooler
    const hang = byHost(search.candidates)['aws-0-eu-central-1.pooler.supabase.com']
    expect(hang).toMatchObject({ verdict: 'timeout', address: '127.0.0.6', tls: null })
    expect(hang.detail).toContain('waiting for the answer to the SSLRequest')
    expect(hang.ms).toBeGreaterThanOrEqual(2900)
    expect(hang.ms).toBeLessThan(3500)
    expect(search.ms).toBeLessThan(5500) // the total limit is 5 s
    expect(slow.ms).toBeLessThan(9000) // the whole command, node start-up included
    expect(report.pooler.connectionString).toBe(
      'postgres://postgres.slowslowslow:[YOUR-PASSWORD]@aws-0-us-east-1.pooler.supabase.com:5432/postgres')

    const short = JSON.parse(runOf('slow-short-timeout').stdout).pooler.search
    expect(short.limits.perProbeMs).toBe(800)
    const hangShort = byHost(short.candidates)['aws-0-eu-central-1.pooler.supabase.com']
    expect(hangShort.verdict).toBe('timeout')
    expect(hangShort.ms).toBeLessThan(1300)
    expect(short.ms).toBeLessThan(2500)
  })

  gate.test('every candidate hangs: the total limit (5 s) ends the search, the rest is reported as not tried', () => {
    const r = runOf('all-silent')
    const report = JSON.parse(r.stdout)
    const { candidates, ms } = report.pooler.search
    const count = (verdict) => candidates.filter((c) => c.verdict === verdict).length
    expect(candidates).toHaveLength(CANDIDATES)
    // 8 at a time: 8 time out at 3 s, the next 8 at the 5 s limit, the other 18 never start.
    expect(count('timeout')).toBe(16)
    expect(count('not-tried')).toBe(18)
    expect(candidates.filter((c) => c.verdict === 'not-tried').every((c) => c.address === null && c.ms === 0)).toBe(true)
    expect(ms).toBeGreaterThanOrEqual(4900)
    expect(ms).toBeLessThan(5600)
    expect(r.ms).toBeLessThan(9000)
    expect(report.hint).toContain('16 timeout, 18 not-tried')
  })

  gate.test('findSupabasePooler(): the same search, for a preflight', () => {
    const { search, notDirect } = run.api
    expect(search.candidates).toHaveLength(CANDIDATES)
    expect(search.connectionString).toBe(FOUND.replace(/\/postgres$/, '/app'))
    expect(notDirect.code).toBe('ERR_INVALID_ARG_VALUE')
  })
})

describe('a pooler URL: "Tenant or user not found" explained', () => {
  gate.test('a bare "postgres" user: the user name lacks .<ref>', () => {
    const text = runOf('bare-user')
    expect(text.status).toBe(1)
    const out = oneLine(text.stdout)
    expect(out).toContain('Verdict: tenant-not-found')
    expect(out).toContain('the pooler answers the user name postgres with "FATAL XX000: Tenant or user not found"')
    expect(out).toContain('must be <role>.<project ref>')
    expect(out).toContain('without the project ref')
    const report = reportOf('bare-user-json')
    expect(report.ok).toBe(false)
    expect(report.pooler).toMatchObject({
      project: null,
      user: 'postgres',
      search: null,
      connectionString: null,
      urlProbe: { host: 'aws-1-eu-west-2.pooler.supabase.com', tls: true, verdict: 'tenant-not-found', address: '127.0.0.3' },
    })
  })

  gate.test('the wrong shard: the pooler that does serve the project, and its string', () => {
    const report = reportOf('wrong-shard')
    expect(report.verdict).toBe('tenant-not-found')
    expect(report.pooler.urlProbe).toMatchObject({ host: 'aws-0-eu-west-2.pooler.supabase.com', verdict: 'tenant-not-found' })
    expect(report.pooler.search.candidates).toHaveLength(CANDIDATES)
    expect(report.pooler.connectionString).toBe(FOUND)
    expect(oneLine(report.hint)).toContain('aws-0-eu-west-2.pooler.supabase.com does not serve this project (wrong shard or region')
    expect(report.hint).toContain(FOUND)
    expect(runOf('wrong-shard-text').stdout).toContain(`\n  ${FOUND}\n`)
  })

  gate.test('the right pooler: reachable, and it knows the user', () => {
    const r = runOf('right-pooler')
    expect(r.status).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report).toMatchObject({ verdict: 'reachable', ok: true })
    expect(report.pooler).toMatchObject({ project: 'abcdefghijkl', search: null, urlProbe: { verdict: 'serves', tls: true } })
    expect(report.summary).toContain('the pooler knows the user name postgres.abcdefghijkl')
  })
})

describe('what the poolers received', () => {
  gate.test('no password byte, ever: no PasswordMessage, nothing after the first answer', () => {
    for (const pooler of run.poolers) {
      expect({ host: pooler.host, passwordMessages: pooler.passwordMessages, after: pooler.after })
        .toEqual({ host: pooler.host, passwordMessages: 0, after: [] })
    }
  })

  gate.test('an SSLRequest, then one startup message per connection; TLS where the pooler asked for it', () => {
    const [none, tlsPooler, md5, sasl, silent] = run.poolers
    // The check's own TCP connect to a pooler URL's host sends nothing: 2 runs name
    // aws-0-eu-west-2 (127.0.0.2), 3 name aws-1-eu-west-2 (127.0.0.3).
    for (const [pooler, tcpChecks] of [[none, 2], [tlsPooler, 3], [md5, 0], [sasl, 0]]) {
      expect(pooler.startups.length).toBeGreaterThan(0)
      expect(pooler.sslRequests).toBe(pooler.startups.length)
      expect(pooler.connections).toBe(pooler.startups.length + tcpChecks)
    }
    expect(tlsPooler.tlsHandshakes).toBe(tlsPooler.sslRequests)
    expect(tlsPooler.startups.every((s) => s.tls)).toBe(true)
    expect(none.startups.every((s) => !s.tls)).toBe(true)
    expect(new Set(none.startups.map((s) => s.user))).toEqual(new Set([
      'postgres.abcdefghijkl', 'postgres.twotwotwotwo', 'postgres.nonenonenone', 'postgres.slowslowslow']))
    expect(new Set(none.startups.map((s) => s.database))).toEqual(new Set(['postgres', 'mydb', 'app']))
    expect(silent.connections).toBe(2 + 16) // the slow runs, and the run where every pooler hangs
    expect(silent.startups).toEqual([])
  })
})

describe('the start-up preflight (IPV4_FORCE_CHECK through register)', () => {
  gate.test('a Supabase direct host without IPv4: its one line carries the string to paste', () => {
    const { stdout, stderr } = run.preflight
    expect(stdout).toBe('ready\n')
    for (const secret of SECRETS) expect(stderr).not.toContain(secret)
    const lines = stderr.trim().split('\n')
    expect(lines).toHaveLength(2)
    const direct = lines.find((l) => l.startsWith('ipv4-force: DATABASE_URL '))
    expect(direct).toContain(' ipv6-only: ')
    expect(direct).toContain(FOUND)
    expect(direct).toContain('6543')
  })

  gate.test('a healthy pooler URL: "ok", and nothing probed (a TCP connect, no startup message)', () => {
    const lines = run.preflight.stderr.trim().split('\n')
    expect(lines).toContainEqual(expect.stringMatching(
      /^ipv4-force: POOLER_URL postgres:\/\/\*\*\*\*@aws-0-us-east-1\.pooler\.supabase\.com:5432\/postgres ok: connected over IPv4 to 127\.0\.0\.4:5432 in [\d.]+ ms$/))
    const md5 = run.preflight.poolers.find((p) => p.host === '127.0.0.4')
    // The search for abcdefghijkl asks every pooler, this one included; the URL's own user never.
    expect(md5.startups.map((s) => s.user)).toEqual(['postgres.abcdefghijkl'])
    expect(md5.connections).toBe(2)
    expect(run.preflight.poolers.flatMap((p) => p.startups).every((s) => s.user === 'postgres.abcdefghijkl')).toBe(true)
    // Never a password: nothing after the pooler's first answer.
    expect(run.preflight.poolers.flatMap((p) => p.after)).toEqual([])
  })
})
