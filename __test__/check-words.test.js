'use strict'

// lib/check-words.js: the words of `ipv4-force check`, from the facts the addon's check returns
// (src/check/verdict.rs asserts the facts; these tables assert the words, which used to be built
// in Rust and must read exactly as they did). No addon needed: facts in, text out.

const { wordReport, wordSearch, hintText, tcpMessage, searchSummary, duration, poolerRemedy, seenText } = require('../lib/check-words.js')
const { supabasePooler, IPV6_LITERAL_REMEDY } = require('../lib/advice.js')

const FOUND_URL = 'postgres://postgres.abc:[YOUR-PASSWORD]@aws-1-eu-west-3.pooler.supabase.com:5432/app?sslmode=require'
const TRIED = { asked: 34, shards: ['aws-0', 'aws-1'], regions: 17, ms: 25, counts: [{ verdict: 'tenant-not-found', count: 34 }] }
const TRIED_WORDS = '34 poolers asked (aws-0, aws-1 in 17 regions) in 25 ms: 34 tenant-not-found'

const tcpSkipped = (skipped) => ({ attempted: false, address: null, ok: false, ms: null, error: null, skipped, osError: null })
const tcpConnected = { attempted: true, address: '127.0.0.1:5432', ok: true, ms: 0.3, error: null, skipped: null, osError: null }
const tcpFailed = (error, osError = null) => ({ ...tcpConnected, ok: false, error, osError })

// Facts as the addon returns them (binding.d.ts CheckFacts), for a host name with a port.
function facts(over = {}) {
  return {
    target: 'x.test:5432',
    host: 'x.test',
    port: 5432,
    endpoint: 'x.test:5432',
    ipLiteral: false,
    a: ['127.0.0.1'],
    aError: null,
    aaaa: [],
    aaaaError: null,
    ipv6Route: false,
    ipv6Source: null,
    ipv6RouteDetail: 'ENETUNREACH: no route to 2001:4860:4860::8888',
    tcp4: tcpConnected,
    connectTimeoutMs: 1500,
    verdict: 'reachable',
    ok: true,
    hint: { kind: 'patchNet', ipv6Unreachable: false },
    pooler: null,
    ...over,
  }
}

const nodata = (hostname) => ({ code: 'ENODATA', hostname, syscall: 'queryA', detail: '', ipv6Seen: null })
const PATCH_NET = 'patchNet() (or `node -r ipv4-force/register app.js`) will make the app connect to it over IPv4, as this check did.'

describe('summary and hint, by verdict', () => {
  test.each([
    [
      'reachable, with AAAA records this machine cannot reach',
      facts({ aaaa: ['2406:da18::1'], target: 'dual.test:5432', host: 'dual.test', endpoint: 'dual.test:5432', hint: { kind: 'patchNet', ipv6Unreachable: true } }),
      'dual.test:5432 accepts TCP connections over IPv4 (127.0.0.1, 0.3 ms)',
      `${PATCH_NET} Without it, Node may pick dual.test's IPv6 address, which this machine cannot reach (ENETUNREACH).`,
    ],
    ['reachable', facts(), 'x.test:5432 accepts TCP connections over IPv4 (127.0.0.1, 0.3 ms)', PATCH_NET],
    [
      'resolves (no port)',
      facts({ port: null, endpoint: 'x.test', a: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'], tcp4: tcpSkipped('no-port'), verdict: 'resolves', hint: { kind: 'givePort' } }),
      'x.test resolves to 10.0.0.1, 10.0.0.2, 10.0.0.3 and 2 more over IPv4; no port given, so no connection was tried',
      'patchNet() will make the app connect to it over IPv4. Give a port (host:port, or a URL) to test a TCP connection too.',
    ],
    [
      'an IPv6 literal',
      facts({ host: '::1', endpoint: '[::1]:5432', ipLiteral: true, a: [], aaaa: ['::1'], tcp4: tcpSkipped('no-address'), verdict: 'ipv6-only', ok: false, hint: { kind: 'ipv6Literal' } }),
      '::1 is an IPv6 address, and ipv4-force connects over IPv4 only, and this machine has no IPv6 route',
      `patchNet() refuses IPv6 literals (EAFNOSUPPORT). ${IPV6_LITERAL_REMEDY}`,
    ],
    [
      'IPv6-only, with an IPv6 route',
      facts({ host: 'v6only.test', a: [], aError: nodata('v6only.test'), aaaa: ['2406:da18::5'], ipv6Route: true, tcp4: tcpSkipped('no-address'), verdict: 'ipv6-only', ok: false, hint: { kind: 'ipv6Only', supabaseRef: null, ipv6Route: true, pooler: null } }),
      'v6only.test is IPv6-only: it has AAAA records (2406:da18::5) but no A record',
      'Forcing IPv4 cannot help: there is no IPv4 address to connect to. Use an IPv4 endpoint of this service (ask the provider for one, or put an IPv4 proxy in front of it). This machine has an IPv6 route, so connecting over IPv6 may work from here (leave this host out of patchNet({ hosts })), but not from a deploy without IPv6.',
    ],
    [
      'a Supabase direct host before the search: the template',
      facts({ host: 'db.abcdefghijkl.supabase.co', a: [], aError: nodata('db.abcdefghijkl.supabase.co'), aaaa: ['2406:da18::5'], tcp4: tcpSkipped('no-address'), verdict: 'ipv6-only', ok: false, hint: { kind: 'ipv6Only', supabaseRef: 'abcdefghijkl', ipv6Route: false, pooler: null } }),
      'db.abcdefghijkl.supabase.co is IPv6-only: it has AAAA records (2406:da18::5) but no A record, and this machine has no IPv6 route',
      `This is a Supabase direct host, served over IPv6 only: ${supabasePooler('abcdefghijkl')}. Alternatively, run the app on a network with working IPv6.`,
    ],
    [
      'no address records',
      facts({ a: [], aError: nodata('x.test'), tcp4: tcpSkipped('no-address'), verdict: 'no-address', ok: false, hint: { kind: 'checkHostname' } }),
      'x.test exists but has no address records (neither A nor AAAA)',
      'Check the hostname: the record may not exist yet, or the name only carries other records (CNAME to nowhere, MX, TXT).',
    ],
    [
      'not found',
      facts({ a: [], aError: { code: 'ENOTFOUND', hostname: 'x.test', syscall: 'queryA', detail: 'the name does not exist (NXDOMAIN)', ipv6Seen: null }, tcp4: tcpSkipped('no-address'), verdict: 'not-found', ok: false, hint: { kind: 'checkSpelling' } }),
      'x.test was not found: queryA ENOTFOUND x.test: the name does not exist (NXDOMAIN)',
      'Check the hostname for typos. If it should exist, the DNS server in use may not know it: compare with another resolver (--dns 1.1.1.1).',
    ],
    [
      'a DNS failure with no detail',
      facts({ a: [], aError: { code: 'ETIMEOUT', hostname: 'x.test', syscall: 'queryA', detail: '', ipv6Seen: null }, tcp4: tcpSkipped('no-address'), verdict: 'dns-failure', ok: false, hint: { kind: 'checkDns' } }),
      'the DNS lookup of x.test failed: queryA ETIMEOUT x.test',
      'Check the DNS configuration (/etc/resolv.conf, or the --dns server) and try again; compare with another resolver (--dns 1.1.1.1).',
    ],
    [
      'port closed, by name',
      facts({ tcp4: tcpFailed('ECONNREFUSED', 'Connection refused (os error 111)'), verdict: 'port-closed', ok: false, hint: { kind: 'checkPort' } }),
      'x.test resolves to 127.0.0.1, but nothing accepts connections on port 5432 over IPv4 (ECONNREFUSED)',
      'Check the port, that the service is running, and that it listens on IPv4 (0.0.0.0), not only on IPv6 or on another interface.',
    ],
    [
      'port closed, by address',
      facts({ host: '127.0.0.1', endpoint: '127.0.0.1:5432', ipLiteral: true, tcp4: tcpFailed('ECONNREFUSED', 'Connection refused (os error 111)'), verdict: 'port-closed', ok: false, hint: { kind: 'checkPort' } }),
      'nothing accepts connections on 127.0.0.1:5432 over IPv4 (ECONNREFUSED)',
      'Check the port, that the service is running, and that it listens on IPv4 (0.0.0.0), not only on IPv6 or on another interface.',
    ],
    [
      'timed out',
      facts({ tcp4: tcpFailed('ETIMEDOUT'), verdict: 'port-timeout', ok: false, hint: { kind: 'checkFirewall' } }),
      '127.0.0.1:5432 did not answer within 1500 ms over IPv4 (timed out: filtered by a firewall, or the host is down)',
      "Check firewalls, security groups and IP allow-lists for this machine's IPv4 address; try a longer --timeout.",
    ],
    [
      'unreachable',
      facts({ tcp4: tcpFailed('EHOSTUNREACH', 'No route to host (os error 113)'), verdict: 'port-unreachable', ok: false, hint: { kind: 'checkRoute' } }),
      '127.0.0.1:5432 is unreachable over IPv4 from this machine (EHOSTUNREACH)',
      'This machine has no IPv4 route to that address: check the network (a private address outside this network, a VPN that is down, or a machine without IPv4).',
    ],
    [
      'another connect failure',
      facts({ tcp4: tcpFailed('EACCES', 'Permission denied (os error 13)'), verdict: 'connect-failed', ok: false, hint: { kind: 'checkNetwork' } }),
      'connecting to 127.0.0.1:5432 over IPv4 failed: connect EACCES 127.0.0.1:5432: Permission denied (os error 13)',
      'Check the network and the service, then run the check again.',
    ],
  ])('%s', (_, given, summary, hint) => {
    const report = wordReport(given)
    expect({ summary: report.summary, hint: report.hint }).toEqual({ summary, hint })
  })
})

describe('the pooler search, in words', () => {
  const direct = (pooler) => hintText({ kind: 'ipv6Only', supabaseRef: 'abc', ipv6Route: false, pooler }, 'db.abc.supabase.co')
  const TAIL = ' Alternatively, run the app on a network with working IPv6.'

  test('a found pooler replaces the template, with the transaction port and the IPv4 add-on', () => {
    expect(direct({ kind: 'found', pooler: 'aws-1-eu-west-3.pooler.supabase.com', url: FOUND_URL })).toBe(
      'This is a Supabase direct host, served over IPv6 only: use the session pooler that serves this project, ' +
      "aws-1-eu-west-3.pooler.supabase.com (it answered this check's startup message for the project's user with a " +
      `password request): ${FOUND_URL} (port 6543 for transaction mode), or enable Supabase's IPv4 add-on.${TAIL}`,
    )
  })

  test('several poolers: the dashboard decides', () => {
    expect(poolerRemedy({ kind: 'several', urls: [FOUND_URL, 'u2'] }, true)).toBe(
      'use the session pooler; 2 poolers answered for this project, so take the one the Supabase dashboard shows ' +
      `under Connect: ${FOUND_URL} or u2 (port 6543 for transaction mode), or enable Supabase's IPv4 add-on`,
    )
  })

  test('no pooler found keeps the template and says what was tried (no add-on twice)', () => {
    expect(direct({ kind: 'notFound', project: 'abc', tried: TRIED })).toBe(
      `This is a Supabase direct host, served over IPv6 only: ${supabasePooler('abc')}. No pooler answered for this ` +
      `project: ${TRIED_WORDS}; take the region from the dashboard, or check the project ref.${TAIL}`,
    )
  })

  test.each([
    [{ asked: 2, shards: ['aws-0', 'aws-1'], regions: 1, ms: 1234, counts: [{ verdict: 'tenant-not-found', count: 2 }] },
      '2 poolers asked (aws-0, aws-1 in 1 region) in 1.2 s: 2 tenant-not-found'],
    [TRIED, TRIED_WORDS],
    [{ ...TRIED, counts: [{ verdict: 'tenant-not-found', count: 30 }, { verdict: 'no-address', count: 4 }] },
      '34 poolers asked (aws-0, aws-1 in 17 regions) in 25 ms: 30 tenant-not-found, 4 no-address'],
  ])('search summary %#', (tried, words) => {
    expect(searchSummary(tried)).toBe(words)
  })

  test.each([
    [27.6, '28 ms'], [0.4, '0 ms'], [26.5, '26 ms'], [27.5, '28 ms'], [999.4, '999 ms'],
    [1000, '1.0 s'], [1250, '1.2 s'], [1350, '1.4 s'], [12345, '12.3 s'],
  ])('duration(%p) as Rust formatted it: %s', (ms, words) => {
    expect(duration(ms)).toBe(words)
  })
})

describe('a pooler URL, in words', () => {
  const wrong = 'aws-0-eu-west-3.pooler.supabase.com'
  const probe = (verdict, seen) => ({ host: wrong, port: 5432, shard: 'aws-0', region: 'eu-west-3', address: '127.0.0.1', tls: false, verdict, seen, ms: 1 })
  const pooler = (user, urlProbe) => ({ project: null, user, urlProbe, search: null, connectionStrings: [], connectionString: null })
  const url = (user, hint, urlProbe) => facts({
    target: `postgres://****@${wrong}:5432/postgres`,
    host: wrong,
    endpoint: `${wrong}:5432`,
    verdict: urlProbe.verdict === 'tenant-not-found' ? 'tenant-not-found' : 'reachable',
    ok: urlProbe.verdict !== 'tenant-not-found',
    hint,
    pooler: pooler(user, urlProbe),
  })
  const NOT_FOUND = probe('tenant-not-found', { kind: 'serverError', severity: 'FATAL', code: 'XX000', message: 'Tenant or user not found' })

  test('a bare user name: the user name is the cause', () => {
    const r = wordReport(url('postgres', { kind: 'userWithoutRef', user: 'postgres' }, NOT_FOUND))
    expect(r.summary).toBe(`${wrong}:5432 accepts connections over IPv4, but the pooler answers the user name postgres with "FATAL XX000: Tenant or user not found"`)
    expect(r.hint).toBe(
      'The pooler routes a connection to a project by its user name, which must be <role>.<project ref> ' +
      '(postgres.<ref>: the <ref> of db.<ref>.supabase.co, under Connect in the Supabase dashboard); this URL\'s ' +
      'user name is "postgres", without the project ref, hence "Tenant or user not found"',
    )
  })

  test('the right ref on the wrong shard: the pooler that serves it, without the add-on', () => {
    const remedy = { kind: 'found', pooler: 'aws-1-eu-west-3.pooler.supabase.com', url: FOUND_URL }
    const r = wordReport(url('postgres.abc', { kind: 'wrongHost', host: wrong, remedy }, NOT_FOUND))
    expect(r.hint).toBe(
      `${wrong} does not serve this project (wrong shard or region: aws-0 and aws-1 poolers both exist); use the ` +
      "session pooler that serves this project, aws-1-eu-west-3.pooler.supabase.com (it answered this check's " +
      `startup message for the project's user with a password request): ${FOUND_URL} (port 6543 for transaction mode)`,
    )
  })

  test('a ref no pooler serves', () => {
    const r = wordReport(url('postgres.abc', { kind: 'projectNotFound', host: wrong, project: 'abc', tried: TRIED }, NOT_FOUND))
    expect(r.hint).toBe(
      `No pooler serves the project ref "abc" (${TRIED_WORDS}) and neither does ${wrong}: check the project ref in ` +
      'the user name (postgres.<ref>), and that the project is not paused',
    )
  })

  test('the right pooler: still reachable, and what it answered joins the summary', () => {
    const serves = wordReport(url('postgres.abc', { kind: 'patchNet', ipv6Unreachable: false }, probe('serves', { kind: 'authMd5' })))
    expect(serves.summary).toBe(`${wrong}:5432 accepts TCP connections over IPv4 (127.0.0.1, 0.3 ms); the pooler knows the user name postgres.abc: it asks for a password (MD5)`)
    const odd = wordReport(url('postgres.abc', { kind: 'patchNet', ipv6Unreachable: false }, probe('timeout', { kind: 'timedOut', stage: 'startup-answer', ms: 1000 })))
    expect(odd.summary).toBe(`${wrong}:5432 accepts TCP connections over IPv4 (127.0.0.1, 0.3 ms); its answer to a PostgreSQL startup message for the user name postgres.abc: timeout (no answer within 1000 ms (waiting for the answer to the startup message))`)
  })
})

describe('the TCP connect and the DNS errors, in words', () => {
  test.each([
    [tcpSkipped('no-port'), 'not tested: no port given (use host:port or a URL)'],
    [tcpSkipped('no-address'), 'not tested: no IPv4 address to connect to'],
    [tcpConnected, 'connected to 127.0.0.1:5432'],
    [tcpFailed('ECONNREFUSED', 'Connection refused (os error 111)'), 'connect ECONNREFUSED 127.0.0.1:5432: Connection refused (os error 111)'],
    [tcpFailed('ETIMEDOUT'), 'connect ETIMEDOUT 127.0.0.1:5432: no answer within 300 ms'],
  ])('%#: %s', (tcp4, words) => {
    expect(tcpMessage(tcp4, 300)).toBe(words)
  })

  test('the report has the public shape: every key, in order, the facts words only', () => {
    const aaaaError = { code: 'ESERVFAIL', hostname: 'x.test', syscall: 'queryA', detail: 'the server failed (SERVFAIL)', ipv6Seen: null }
    const r = wordReport(facts({
      a: [],
      aError: { ...nodata('x.test'), ipv6Seen: '2406:da18::1' },
      aaaaError,
      tcp4: tcpSkipped('no-address'),
      verdict: 'no-address',
      ok: false,
      hint: { kind: 'checkHostname' },
    }))
    expect(Object.keys(r)).toEqual([
      'target', 'host', 'port', 'a', 'aError', 'aaaa', 'aaaaError', 'ipv6Route', 'ipv6Source', 'ipv6RouteDetail',
      'tcp4', 'verdict', 'ok', 'summary', 'hint', 'pooler',
    ])
    expect(Object.keys(r.tcp4)).toEqual(['attempted', 'address', 'ok', 'ms', 'error', 'message'])
    expect(r.aError.code).toBe('ENODATA')
    expect(r.aError.message).toMatch(/^queryA ENODATA x\.test: no IPv4 address: the name resolves only to IPv6 \(2406:da18::1\)/)
    expect(r.aaaaError).toEqual({ code: 'ESERVFAIL', message: 'queryA ESERVFAIL x.test: the server failed (SERVFAIL)' })
  })
})

describe('what a pooler probe saw, in words', () => {
  const host = 'aws-0-eu-west-1.pooler.supabase.com'
  const error = (severity, code, message) => ({ kind: 'serverError', severity, code, message })
  test.each([
    [{ kind: 'authMd5' }, 'asks for a password (MD5)'],
    [{ kind: 'authSasl', mechanisms: ['SCRAM-SHA-256'] }, 'asks for a password (SASL: SCRAM-SHA-256)'],
    [{ kind: 'authSasl', mechanisms: [] }, 'asks for a password (SASL)'],
    [{ kind: 'authOk' }, 'accepted the user without a password (AuthenticationOk)'],
    [{ kind: 'authCleartext' }, 'asks for a password (cleartext)'],
    [{ kind: 'authOther', method: 'GSSAPI' }, 'asks for authentication (GSSAPI)'],
    [error('FATAL', 'XX000', 'Tenant or user not found'), 'FATAL XX000: Tenant or user not found'],
    [error('FATAL', '', 'tenant or user not found'), 'FATAL: tenant or user not found'],
    [error('FATAL', '53300', 'too many connections'), 'FATAL 53300: too many connections'],
    [error('', '', 'x'), 'x'],
    [{ kind: 'otherMessage', tag: 0x5a }, "answered with a 'Z' message instead of an authentication request or an error"],
    [{ kind: 'otherMessage', tag: 0 }, "answered with a '\\x00' message instead of an authentication request or an error"],
    [{ kind: 'malformed', cause: 'bad' }, 'answered with something that is not PostgreSQL: bad'],
    [{ kind: 'oversized', limit: 16384 }, 'answered with something that is not PostgreSQL: more than 16384 bytes without a whole message'],
    [{ kind: 'noAddress', nodata: false }, `${host} has no A record`],
    [{ kind: 'noAddress', nodata: true }, `ENODATA: ${host} has no A record`],
    [{ kind: 'lookupFailed', error: { code: 'ENOTFOUND', hostname: host, syscall: 'queryA', detail: 'the name does not exist (NXDOMAIN)', ipv6Seen: null } },
      `queryA ENOTFOUND ${host}: the name does not exist (NXDOMAIN)`],
    [{ kind: 'lookupFailed', error: { code: 'ETIMEOUT', hostname: host, syscall: 'queryA', detail: '', ipv6Seen: null } }, `queryA ETIMEOUT ${host}`],
    [{ kind: 'connectFailed', code: 'ECONNREFUSED', address: '127.0.0.1:5432', osError: 'Connection refused (os error 111)' },
      'connect ECONNREFUSED 127.0.0.1:5432: Connection refused (os error 111)'],
    [{ kind: 'tlsFailed', cause: 'bad record' }, 'the TLS handshake failed: bad record'],
    [{ kind: 'tlsFailed', cause: null }, 'the TLS handshake failed: no TLS configuration'],
    [{ kind: 'closed', step: 'read-answer', cause: 'EOF' }, 'the connection ended before an answer (EOF)'],
    [{ kind: 'closed', step: 'read-answer', cause: null }, 'the connection ended before an answer (closed without answering)'],
    [{ kind: 'closed', step: 'read-ssl-answer', cause: null }, 'the connection ended before an answer (closed after the SSLRequest)'],
    [{ kind: 'closed', step: 'read-ssl-answer', cause: 'reset' }, "the connection ended before an answer (reading the SSLRequest's answer: reset)"],
    [{ kind: 'closed', step: 'send-ssl-request', cause: 'EPIPE' }, 'the connection ended before an answer (sending the SSLRequest: EPIPE)'],
    [{ kind: 'closed', step: 'build-startup', cause: 'nul byte' }, 'the connection ended before an answer (the startup message could not be built: nul byte)'],
    [{ kind: 'closed', step: 'send-startup', cause: 'EPIPE' }, 'the connection ended before an answer (sending the startup message: EPIPE)'],
    [{ kind: 'timedOut', stage: 'startup-answer', ms: 1000 }, 'no answer within 1000 ms (waiting for the answer to the startup message)'],
    [{ kind: 'timedOut', stage: 'ssl-answer', ms: 300 }, 'no answer within 300 ms (waiting for the answer to the SSLRequest)'],
    [{ kind: 'timedOut', stage: 'dns', ms: 1 }, 'no answer within 1 ms (waiting for the DNS answer)'],
    [{ kind: 'notTried' }, "not tried: the search's time limit ran out first"],
  ])('%o', (seen, words) => {
    expect(seenText(seen, host)).toBe(words)
  })

  test('a search as reported: each candidate keeps its keys, in order, with `detail` for what it saw', () => {
    const facts = {
      project: 'abc', user: 'postgres.abc', region: 'eu-west-1',
      candidates: [{ host, port: 5432, shard: 'aws-0', region: 'eu-west-1', address: null, tls: null, verdict: 'no-address', seen: { kind: 'noAddress', nodata: true }, ms: 0.4 }],
      connectionStrings: [], connectionString: null, ms: 1.5, limits: { perProbeMs: 3000, totalMs: 5000, inFlight: 8 },
    }
    const search = wordSearch(facts)
    expect(Object.keys(search)).toEqual(['project', 'user', 'region', 'candidates', 'connectionStrings', 'connectionString', 'ms', 'limits'])
    expect(search.candidates).toEqual([
      { host, port: 5432, shard: 'aws-0', region: 'eu-west-1', address: null, tls: null, verdict: 'no-address', detail: `ENODATA: ${host} has no A record`, ms: 0.4 },
    ])
    expect(Object.keys(search.candidates[0])).toEqual(['host', 'port', 'shard', 'region', 'address', 'tls', 'verdict', 'detail', 'ms'])
  })
})
