'use strict'

// What ipv4-force tells a person, worded once, here, for both backends: the addon (src/) and the
// JS fallback (lib/fallback.js) return codes and facts (the hostname, an IPv6 address seen), and
// these functions turn them into the messages a person reads.

const TRANSACTION_PORT = 6543

/** `db.<ref>.supabase.co` → `<ref>`: the direct-connection host Supabase serves over IPv6 only. */
function supabaseProjectRef(hostname) {
  const labels = String(hostname).replace(/\.$/, '').split('.')
  const [db, project, supabase, co] = labels
  const direct = labels.length === 4 && /^db$/i.test(db) && /^supabase$/i.test(supabase) && /^co$/i.test(co)
  return direct && /^[A-Za-z0-9]+$/.test(project) ? project : null
}

/** After a remedy for a Supabase direct host: the other way to IPv4. */
const SUPABASE_IPV4_ADD_ON = ", or enable Supabase's IPv4 add-on"

/** The way to a Supabase project's database over IPv4 (no trailing period). */
function supabasePooler(project) {
  return 'use the session pooler instead, ' +
    `postgres://postgres.${project}:[YOUR-PASSWORD]@aws-0-[REGION].pooler.supabase.com:5432/postgres ` +
    "([REGION] is your project's region, under Connect in the Supabase dashboard; port " +
    `${TRANSACTION_PORT} for transaction mode)${SUPABASE_IPV4_ADD_ON}`
}

/** After "ENODATA <host>: " when a host has no IPv4 address at all. */
function ipv6OnlyAdvice(hostname, ipv6Seen) {
  const seen = ipv6Seen ? `the name resolves only to IPv6 (${ipv6Seen})` : 'the name has no A record'
  const project = supabaseProjectRef(hostname)
  const endpoint = project !== null
    ? `This is a Supabase direct host, which is IPv6-only: ${supabasePooler(project)}`
    : 'Use an IPv4 endpoint of this service (for a Supabase database, the session pooler aws-0-[REGION].pooler.supabase.com)'
  return `no IPv4 address: ${seen}, and ipv4-force is connecting over IPv4 only because this network cannot ` +
    `reach IPv6. ${endpoint}, or run on a network with working IPv6.`
}

/**
 * The warning given once per IPv6-only host a connection (or a patched dns.lookup) found: the
 * error's own advice, for when a library swallows the error.
 */
function ipv6OnlyWarning(hostname, ipv6Seen) {
  return `connections to ${hostname} fail with ENODATA: ${ipv6OnlyAdvice(hostname, ipv6Seen)} ` +
    '(Given once per host, in case a library reported the failure without this explanation.)'
}

/** What to do about a connection to an IPv6 literal, which ipv4-force refuses. */
const IPV6_LITERAL_REMEDY = 'If a library resolved a hostname to this address itself, make it use dns.lookup ' +
  '(which ipv4-force answers with IPv4) or give it an IPv4 address; otherwise connect by hostname or IPv4 ' +
  'address, or pass allowIPv6Literals: true to patchNet().'

/** After "EAFNOSUPPORT <address>: " when a connection or lookup names an IPv6 literal. */
function ipv6LiteralAdvice(address) {
  return `${address} is an IPv6 address and ipv4-force is forcing IPv4 (this network cannot reach IPv6). ` +
    IPV6_LITERAL_REMEDY
}

/**
 * A failed lookup's message, as Node shapes it (`<syscall> <code> <hostname>: …`), from its facts:
 * `{code, hostname, syscall, detail?, ipv6Seen?}`. ENODATA (no IPv4 address) and EAFNOSUPPORT (an
 * IPv6 literal) carry what to do; other codes carry the backend's own account of what failed.
 */
function lookupMessage({ code, hostname, syscall, detail, ipv6Seen }) {
  const head = `${syscall} ${code} ${hostname}`
  const why = code === 'ENODATA' ? ipv6OnlyAdvice(hostname, ipv6Seen)
    : code === 'EAFNOSUPPORT' ? ipv6LiteralAdvice(hostname)
      : detail
  return why ? `${head}: ${why}` : head
}

module.exports = {
  TRANSACTION_PORT,
  SUPABASE_IPV4_ADD_ON,
  IPV6_LITERAL_REMEDY,
  supabaseProjectRef,
  supabasePooler,
  ipv6OnlyAdvice,
  ipv6OnlyWarning,
  ipv6LiteralAdvice,
  lookupMessage,
}
