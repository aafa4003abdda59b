'use strict'

// diagnose(target): why a connection to a host fails from this machine, and what to do. The
// probes run in Rust (src/check, exported by src/binding/diagnose.rs) and return facts;
// check-words.js words them into the report; this file checks the argument types and lays the
// report out for a person.

const { diagnose: nativeDiagnose, findSupabasePooler: nativeFindPooler, redactTarget } = require('./native.js')
const { checkResolverOptions } = require('./resolver-options.js')
const { invalidArgType, invalidArgValue, callFailureError, own } = require('./errors.js')
const { wordReport, wordSearch } = require('./check-words.js')

// The options are typed in binding.d.ts (generated from src/binding/diagnose.rs) and re-exported by
// index.d.ts as DiagnoseOptions; the worded report is index.d.ts's Report.
const OPTIONS = ['timeout', 'nameservers', 'fallback', 'region']

function checkOptions(options, known = OPTIONS) {
  // No prototype: the addon reads options by name, and must not find one on Object.prototype.
  const picked = Object.create(null)
  if (options === undefined || options === null) return picked
  if (typeof options !== 'object' || Array.isArray(options)) throw invalidArgType('options', 'of type object', options)
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw invalidArgValue(key, `unknown option (known: ${known.join(', ')})`)
    if (own(options, key) !== undefined) picked[key] = options[key]
  }
  // The region's value is checked in Rust, against the list of Supabase's regions.
  for (const key of ['region', 'database']) {
    if (picked[key] !== undefined && typeof picked[key] !== 'string') throw invalidArgType(key, 'of type string', picked[key])
  }
  const resolver = Object.fromEntries(Object.entries(picked).filter(([key]) => key !== 'region' && key !== 'database'))
  checkResolverOptions(resolver)
  return picked
}

/**
 * Checks whether `target` can be reached over IPv4 from this machine, and why not.
 * `target`: `host`, `host:port`, `[ipv6]:port`, or a URL (postgres://, postgresql://, mysql://,
 * redis://, rediss://, mongodb://, http://, https://; the scheme's default port when none is given).
 * Rejects only for bad arguments (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`,
 * `ERR_OUT_OF_RANGE`; messages never show a password); every finding, good or bad, is in the
 * report, which has every key (null for "none") in a fixed order.
 */
async function diagnose(target, options) {
  if (typeof target !== 'string') throw invalidArgType('target', 'of type string', target)
  const picked = checkOptions(options)
  const outcome = await nativeDiagnose(target, picked)
  if (typeof outcome.verdict !== 'string') {
    const err = callFailureError(outcome)
    err.target = redactTarget(target)
    throw err
  }
  return wordReport(outcome)
}

/**
 * Which Supabase pooler serves the project of a direct host `db.<ref>.supabase.co`: each
 * `aws-<0|1>-<region>.pooler.supabase.com` is resolved and asked, over IPv4, for a PostgreSQL
 * session as `postgres.<ref>` (never with a password). For a start-up preflight; the check runs
 * the same search. Options: timeout, nameservers, fallback (as for diagnose), region, database.
 */
async function findSupabasePooler(host, options) {
  if (typeof host !== 'string') throw invalidArgType('host', 'of type string', host)
  const picked = checkOptions(options, [...OPTIONS, 'database'])
  const outcome = await nativeFindPooler(host, picked)
  if (!Array.isArray(outcome.candidates)) {
    const err = callFailureError(outcome)
    err.host = redactTarget(host)
    throw err
  }
  return wordSearch(outcome)
}

// ---------------------------------------------------------------------------------------------
// Human output

const WIDTH = 100

// Wraps on spaces only (a connection string is never cut); keeps the line's own indentation.
function wrap(text, indent) {
  const lead = /^ */.exec(text)[0]
  const lines = []
  let line = lead
  for (const word of text.slice(lead.length).split(' ')) {
    if (line.trim() && line.length + 1 + word.length > WIDTH) {
      lines.push(line)
      line = indent + word
    } else {
      line = line.trim() ? `${line} ${word}` : line + word
    }
  }
  lines.push(line)
  return lines.join('\n')
}

const sentence = (text) => (/[.!?]$/.test(text) ? text : `${text}.`)

function addresses(list, error, none) {
  if (list.length > 0) return list.join(', ')
  if (error && error.code === 'ENODATA') return 'none (ENODATA: no A record)'
  if (error) return `none (${error.message})`
  return none
}

function tcpLine(tcp4) {
  if (!tcp4.attempted) return tcp4.message
  if (tcp4.ok) return `connected to ${tcp4.address} in ${tcp4.ms} ms`
  return `${tcp4.error} after ${tcp4.ms} ms (${tcp4.address})`
}

function candidateLine(c) {
  const where = c.address ? ` (${c.address}${c.tls === true ? ', TLS' : ''})` : ''
  return `${c.host}${where}: ${c.verdict}, ${c.detail}`
}

// The pooler rows: the URL's own pooler, then the search: a count by verdict, and a line for each
// candidate that did not simply say "no" (serves, errors, timeouts); --json lists them all.
function poolerRows(pooler) {
  if (!pooler) return []
  const rows = []
  if (pooler.urlProbe) rows.push(['pooler', candidateLine(pooler.urlProbe)])
  const search = pooler.search
  if (search) {
    const counts = new Map()
    for (const c of search.candidates) counts.set(c.verdict, (counts.get(c.verdict) || 0) + 1)
    const tally = [...counts].map(([verdict, n]) => `${n} ${verdict}`).join(', ')
    const scope = search.region ? ` in ${search.region}` : ''
    const took = search.ms < 1000 ? `${Math.round(search.ms)} ms` : `${(search.ms / 1000).toFixed(1)} s`
    rows.push(['pooler search', `${search.candidates.length} poolers${scope} asked as ${search.user} in ${took}: ${tally}`])
    for (const c of search.candidates) {
      if (c.verdict !== 'tenant-not-found' && c.verdict !== 'no-address') rows.push(['', candidateLine(c)])
    }
  }
  return rows
}

/** The report as a person reads it: what was seen, the verdict, and the next step. */
function formatReport(report) {
  const rows = [
    ['host', report.host],
    ['port', report.port === null ? 'none given' : String(report.port)],
    ['A (IPv4)', addresses(report.a, report.aError, 'none')],
    ['AAAA (IPv6)', addresses(report.aaaa, report.aaaaError, 'none')],
    ['IPv6 route', `${report.ipv6Route ? 'yes' : 'no'} (${report.ipv6RouteDetail})`],
    ['TCP over IPv4', tcpLine(report.tcp4)],
    ...poolerRows(report.pooler),
  ]
  const label = Math.max(...rows.map(([name]) => name.length)) + 2
  return [
    `ipv4-force check ${report.target}`,
    '',
    ...rows.map(([name, value]) => wrap(`  ${name.padEnd(label)}${value}`, ' '.repeat(label + 2))),
    '',
    `Verdict: ${report.verdict}`,
    wrap(`  ${sentence(report.summary)}`, '  '),
    'Next step:',
    wrap(`  ${sentence(report.hint)}`, '  '),
    ...pasteLines(report.pooler),
  ].join('\n')
}

// The string to paste, alone on its line(s), so that it can be copied whole.
function pasteLines(pooler) {
  if (!pooler || pooler.connectionStrings.length === 0) return []
  const title = pooler.connectionStrings.length === 1 ? 'Connection string (session mode, port 5432):' : 'Connection strings (session mode, port 5432; one of these):'
  return ['', title, ...pooler.connectionStrings.map((url) => `  ${url}`)]
}

module.exports = { diagnose, findSupabasePooler, formatReport, redactTarget, sentence }
