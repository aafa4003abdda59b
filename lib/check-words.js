'use strict'

// The words of `ipv4-force check`: the addon's check (src/check) returns facts and codes (the
// verdict, which next step applies and with what, the lookups' and the connect's outcomes, the
// pooler probes' answers), and this module turns them into the report diagnose() and
// findSupabasePooler() return: the summary, hint, tcp4 message, DNS error messages and each pooler
// candidate's detail. Shared remedies come from advice.js.

const { lookupMessage, supabasePooler, IPV6_LITERAL_REMEDY, SUPABASE_IPV4_ADD_ON, TRANSACTION_PORT } = require('./advice.js')

/** The message Supavisor sends for a tenant (or user) it does not know. */
const TENANT_NOT_FOUND = 'Tenant or user not found'

// Rust's `{:.N}`: ties round to even (toFixed rounds them up), so the words keep their old digits.
function fixed(x, digits) {
  const scale = 10 ** digits
  const scaled = x * scale
  const tie = Number.isInteger(scaled * 2) && !Number.isInteger(scaled) && scaled / scale === x
  if (!tie) return x.toFixed(digits)
  const down = Math.floor(scaled)
  return ((down % 2 === 0 ? down : down + 1) / scale).toFixed(digits)
}

/** `28 ms`, `1.2 s`. */
function duration(ms) {
  return ms < 1000 ? `${fixed(ms, 0)} ms` : `${fixed(ms / 1000, 1)} s`
}

/**
 * What a pooler search tried: "34 poolers asked (aws-0, aws-1 in 17 regions) in 1.2 s:
 * 30 tenant-not-found, 4 no-address".
 */
function searchSummary({ asked, shards, regions, ms, counts }) {
  const counted = counts.map(({ verdict, count }) => `${count} ${verdict}`).join(', ')
  return `${asked} poolers asked (${shards.join(', ')} in ${regions} region${regions === 1 ? '' : 's'}) in ${duration(ms)}: ${counted}`
}

/**
 * What the search found, as a remedy (no trailing period). `direct`: for a direct host, where the
 * IPv4 add-on is the other way.
 */
function poolerRemedy(remedy, direct) {
  const addOn = direct ? SUPABASE_IPV4_ADD_ON : ''
  switch (remedy.kind) {
    case 'notFound':
      return `${supabasePooler(remedy.project)}. No pooler answered for this project: ${searchSummary(remedy.tried)}; ` +
        'take the region from the dashboard, or check the project ref'
    case 'found':
      return `use the session pooler that serves this project, ${remedy.pooler} (it answered this check's startup ` +
        `message for the project's user with a password request): ${remedy.url} (port ${TRANSACTION_PORT} for ` +
        `transaction mode)${addOn}`
    case 'several':
      return `use the session pooler; ${remedy.urls.length} poolers answered for this project, so take the one the ` +
        `Supabase dashboard shows under Connect: ${remedy.urls.join(' or ')} (port ${TRANSACTION_PORT} for ` +
        `transaction mode)${addOn}`
    default:
      throw new Error(`ipv4-force: unknown pooler remedy ${remedy.kind}`)
  }
}

/** The next step for an IPv6-only host; a Supabase direct host's remedy once its search has run. */
function ipv6OnlyNextStep(host, { supabaseRef, ipv6Route, pooler }) {
  const remedy = supabaseRef !== null
    ? `This is a Supabase direct host, served over IPv6 only: ${pooler ? poolerRemedy(pooler, true) : supabasePooler(supabaseRef)}.`
    : 'Forcing IPv4 cannot help: there is no IPv4 address to connect to. Use an IPv4 endpoint of this service ' +
      '(ask the provider for one, or put an IPv4 proxy in front of it).'
  const where = ipv6Route
    ? ' This machine has an IPv6 route, so connecting over IPv6 may work from here (leave this host out of ' +
      'patchNet({ hosts })), but not from a deploy without IPv6.'
    : ' Alternatively, run the app on a network with working IPv6.'
  return remedy + where
}

// The next steps that need no parameter, by kind.
const STEPS = {
  givePort: 'patchNet() will make the app connect to it over IPv4. Give a port (host:port, or a URL) to test a ' +
    'TCP connection too.',
  ipv6Literal: `patchNet() refuses IPv6 literals (EAFNOSUPPORT). ${IPV6_LITERAL_REMEDY}`,
  checkHostname: 'Check the hostname: the record may not exist yet, or the name only carries other records ' +
    '(CNAME to nowhere, MX, TXT).',
  checkSpelling: 'Check the hostname for typos. If it should exist, the DNS server in use may not know it: ' +
    'compare with another resolver (--dns 1.1.1.1).',
  checkDns: 'Check the DNS configuration (/etc/resolv.conf, or the --dns server) and try again; compare with ' +
    'another resolver (--dns 1.1.1.1).',
  checkPort: 'Check the port, that the service is running, and that it listens on IPv4 (0.0.0.0), not only on ' +
    'IPv6 or on another interface.',
  checkFirewall: "Check firewalls, security groups and IP allow-lists for this machine's IPv4 address; try a " +
    'longer --timeout.',
  checkRoute: 'This machine has no IPv4 route to that address: check the network (a private address outside ' +
    'this network, a VPN that is down, or a machine without IPv4).',
  checkNetwork: 'Check the network and the service, then run the check again.',
}

/** What to do next, from the hint's facts. */
function hintText(hint, host) {
  switch (hint.kind) {
    case 'patchNet':
      return 'patchNet() (or `node -r ipv4-force/register app.js`) will make the app connect to it over IPv4, as ' +
        'this check did.' +
        (hint.ipv6Unreachable
          ? ` Without it, Node may pick ${host}'s IPv6 address, which this machine cannot reach (ENETUNREACH).`
          : '')
    case 'ipv6Only':
      return ipv6OnlyNextStep(host, hint)
    case 'userWithoutRef':
      return 'The pooler routes a connection to a project by its user name, which must be <role>.<project ref> ' +
        '(postgres.<ref>: the <ref> of db.<ref>.supabase.co, under Connect in the Supabase dashboard); this ' +
        `URL's user name is "${hint.user}", without the project ref, hence "${TENANT_NOT_FOUND}"`
    case 'projectNotFound':
      return `No pooler serves the project ref "${hint.project}" (${searchSummary(hint.tried)}) and neither does ` +
        `${hint.host}: check the project ref in the user name (postgres.<ref>), and that the project is not paused`
    case 'wrongHost':
      return `${hint.host} does not serve this project (wrong shard or region: aws-0 and aws-1 poolers both ` +
        `exist); ${poolerRemedy(hint.remedy, false)}`
    default:
      if (Object.hasOwn(STEPS, hint.kind)) return STEPS[hint.kind]
      throw new Error(`ipv4-force: unknown hint ${hint.kind}`)
  }
}

// What a probe that timed out was waiting for, by stage.
const WAITING = {
  dns: 'the DNS answer',
  connect: 'the TCP connect',
  'ssl-answer': 'the answer to the SSLRequest',
  'tls-handshake': 'the TLS handshake',
  'startup-answer': 'the answer to the startup message',
}

// Why a probe's connection ended early, by step: `cause` is the system's account, null when the
// server closed it.
function closedWhy({ step, cause }) {
  switch (step) {
    case 'send-ssl-request': return `sending the SSLRequest: ${cause}`
    case 'read-ssl-answer': return cause === null ? 'closed after the SSLRequest' : `reading the SSLRequest's answer: ${cause}`
    case 'build-startup': return `the startup message could not be built: ${cause}`
    case 'send-startup': return `sending the startup message: ${cause}`
    default: return cause === null ? 'closed without answering' : cause
  }
}

// A message tag as shown: the character when printable, else its byte.
const printable = (tag) => (tag > 0x20 && tag < 0x7f ? String.fromCharCode(tag) : `\\x${tag.toString(16).padStart(2, '0')}`)

/** What a pooler probe saw, in words (the server's error as it is). `host`: the pooler asked. */
function seenText(seen, host) {
  switch (seen.kind) {
    case 'noAddress': return `${seen.nodata ? 'ENODATA: ' : ''}${host} has no A record`
    case 'lookupFailed': return lookupMessage(seen.error)
    case 'connectFailed': return `connect ${seen.code} ${seen.address}: ${seen.osError}`
    case 'tlsFailed': return `the TLS handshake failed: ${seen.cause ?? 'no TLS configuration'}`
    case 'closed': return `the connection ended before an answer (${closedWhy(seen)})`
    case 'timedOut': return `no answer within ${seen.ms} ms (waiting for ${WAITING[seen.stage]})`
    case 'notTried': return "not tried: the search's time limit ran out first"
    case 'authOk': return 'accepted the user without a password (AuthenticationOk)'
    case 'authCleartext': return 'asks for a password (cleartext)'
    case 'authMd5': return 'asks for a password (MD5)'
    case 'authSasl':
      return seen.mechanisms.length === 0 ? 'asks for a password (SASL)' : `asks for a password (SASL: ${seen.mechanisms.join(', ')})`
    case 'authOther': return `asks for authentication (${seen.method})`
    case 'serverError': {
      const head = [seen.severity, seen.code].filter(Boolean).join(' ')
      return head ? `${head}: ${seen.message}` : seen.message
    }
    case 'otherMessage':
      return `answered with a '${printable(seen.tag)}' message instead of an authentication request or an error`
    case 'malformed': return `answered with something that is not PostgreSQL: ${seen.cause}`
    case 'oversized': return `answered with something that is not PostgreSQL: more than ${seen.limit} bytes without a whole message`
    default:
      throw new Error(`ipv4-force: unknown pooler answer ${seen.kind}`)
  }
}

/** A pooler candidate as reported (index.d.ts `PoolerCandidate`): its facts, and what it saw in words. */
function wordCandidate({ host, port, shard, region, address, tls, verdict, seen, ms }) {
  return { host, port, shard, region, address, tls, verdict, detail: seenText(seen, host), ms }
}

/** A pooler search as reported (index.d.ts `PoolerSearch`). */
const wordSearch = (search) => ({ ...search, candidates: search.candidates.map(wordCandidate) })

/** The report's pooler (index.d.ts `PoolerReport`), or null. */
function wordPooler(pooler) {
  if (pooler === null) return null
  return {
    ...pooler,
    urlProbe: pooler.urlProbe === null ? null : wordCandidate(pooler.urlProbe),
    search: pooler.search === null ? null : wordSearch(pooler.search),
  }
}

/** What the TCP connect did, or why it was not tried. `timeoutMs`: the limit it ran under. */
function tcpMessage(tcp4, timeoutMs) {
  if (tcp4.skipped === 'no-port') return 'not tested: no port given (use host:port or a URL)'
  if (tcp4.skipped === 'no-address') return 'not tested: no IPv4 address to connect to'
  if (tcp4.ok) return `connected to ${tcp4.address}`
  if (tcp4.osError !== null) return `connect ${tcp4.error} ${tcp4.address}: ${tcp4.osError}`
  return `connect ETIMEDOUT ${tcp4.address}: no answer within ${timeoutMs} ms`
}

/** Up to three addresses, then how many more. */
function listed(addresses) {
  const shown = addresses.slice(0, 3).join(', ')
  return addresses.length > 3 ? `${shown} and ${addresses.length - 3} more` : shown
}

/** The verdict in one sentence, with what was seen (before any pooler probe's answer). */
function verdictSentence(facts, tcp, pooler) {
  const { host, endpoint, tcp4 } = facts
  const noRoute = facts.ipv6Route ? '' : ', and this machine has no IPv6 route'
  const connected = tcp4.address ?? endpoint
  switch (facts.verdict) {
    case 'reachable':
      return `${endpoint} accepts TCP connections over IPv4 (${facts.a[0]}, ${tcp4.ms ?? 0} ms)`
    case 'resolves':
      return `${host} resolves to ${listed(facts.a)} over IPv4; no port given, so no connection was tried`
    case 'ipv6-only':
      return facts.hint.kind === 'ipv6Literal'
        ? `${host} is an IPv6 address, and ipv4-force connects over IPv4 only${noRoute}`
        : `${host} is IPv6-only: it has AAAA records (${facts.aaaa[0]}) but no A record${noRoute}`
    case 'no-address':
      return `${host} exists but has no address records (neither A nor AAAA)`
    case 'not-found':
      return `${host} was not found: ${lookupMessage(facts.aError)}`
    case 'dns-failure':
      return `the DNS lookup of ${host} failed: ${lookupMessage(facts.aError)}`
    case 'port-closed': {
      if (facts.ipLiteral) return `nothing accepts connections on ${connected} over IPv4 (ECONNREFUSED)`
      const ip = tcp4.address === null ? '' : tcp4.address.slice(0, tcp4.address.lastIndexOf(':'))
      return `${host} resolves to ${ip}, but nothing accepts connections on port ${facts.port ?? 0} over IPv4 (ECONNREFUSED)`
    }
    case 'port-timeout':
      return `${connected} did not answer within ${facts.connectTimeoutMs} ms over IPv4 (timed out: filtered by a ` +
        'firewall, or the host is down)'
    case 'port-unreachable':
      return `${connected} is unreachable over IPv4 from this machine (${tcp4.error ?? 'UNKNOWN'})`
    case 'connect-failed':
      return `connecting to ${connected} over IPv4 failed: ${tcp.message}`
    case 'tenant-not-found':
      return `${endpoint} accepts connections over IPv4, but the pooler answers the user name ${pooler.user} ` +
        `with "${pooler.urlProbe.detail}"`
    default:
      throw new Error(`ipv4-force: unknown verdict ${facts.verdict}`)
  }
}

/**
 * The summary: the verdict's sentence, and what a pooler URL's own pooler answered. `tcp` and
 * `pooler`: the report's, worded.
 */
function summaryText(facts, tcp, pooler) {
  const base = verdictSentence(facts, tcp, pooler)
  const probe = pooler?.urlProbe
  if (!probe || facts.verdict === 'tenant-not-found') return base
  const user = pooler.user
  if (probe.verdict === 'serves') return `${base}; the pooler knows the user name ${user}: it ${probe.detail}`
  return `${base}; its answer to a PostgreSQL startup message for the user name ${user}: ${probe.verdict} (${probe.detail})`
}

const dnsError = (facts) => (facts === null ? null : { code: facts.code, message: lookupMessage(facts) })

/** The report diagnose() returns (index.d.ts `Report`, keys in this order) from the check's facts. */
function wordReport(facts) {
  const { attempted, address, ok, ms, error } = facts.tcp4
  const tcp4 = { attempted, address, ok, ms, error, message: tcpMessage(facts.tcp4, facts.connectTimeoutMs) }
  const pooler = wordPooler(facts.pooler)
  return {
    target: facts.target,
    host: facts.host,
    port: facts.port,
    a: facts.a,
    aError: dnsError(facts.aError),
    aaaa: facts.aaaa,
    aaaaError: dnsError(facts.aaaaError),
    ipv6Route: facts.ipv6Route,
    ipv6Source: facts.ipv6Source,
    ipv6RouteDetail: facts.ipv6RouteDetail,
    tcp4,
    verdict: facts.verdict,
    ok: facts.ok,
    summary: summaryText(facts, tcp4, pooler),
    hint: hintText(facts.hint, facts.host),
    pooler,
  }
}

module.exports = {
  wordReport,
  wordSearch,
  wordCandidate,
  seenText,
  summaryText,
  hintText,
  tcpMessage,
  poolerRemedy,
  searchSummary,
  duration,
  TENANT_NOT_FOUND,
}
