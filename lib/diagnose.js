'use strict'

// diagnose(target): why a connection to a host fails from this machine, and what to do. The
// probes run in Rust (src/diagnose.rs); this file validates arguments, gives the report a stable
// shape (null for "none", fixed key order, for --json), and formats it for a person.

const { diagnose: nativeDiagnose, redactTarget } = require('./native.js')

const OPTIONS = ['timeout', 'nameservers', 'fallback']

/**
 * @typedef {'reachable' | 'resolves' | 'ipv6-only' | 'no-address' | 'not-found' | 'dns-failure'
 *   | 'port-closed' | 'port-timeout' | 'port-unreachable' | 'connect-failed'} Verdict
 *
 * @typedef {object} DnsError
 * @property {string} code     Node dns code: ENOTFOUND, ENODATA, ETIMEOUT, ESERVFAIL, ...
 * @property {string} message
 *
 * @typedef {object} Tcp4Probe
 * @property {boolean} attempted     false when there was no port or no IPv4 address
 * @property {string | null} address `ip:port` connected to (the first A record)
 * @property {boolean} ok
 * @property {number | null} ms      time to connect or to fail, in milliseconds
 * @property {string | null} error   ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, ...
 * @property {string} message        what happened, or why no connection was tried
 *
 * @typedef {object} Report
 * @property {string} target          the target as given, password shown as ****
 * @property {string} host
 * @property {number | null} port     null for a bare host (no TCP test)
 * @property {string[]} a             IPv4 addresses, as resolveIPv4 / patchNet() get them
 * @property {DnsError | null} aError
 * @property {string[]} aaaa          IPv6 addresses (same resolver configuration)
 * @property {DnsError | null} aaaaError   null when there is simply no AAAA record
 * @property {boolean} ipv6Route      whether this machine has a usable IPv6 route (no packet sent)
 * @property {string | null} ipv6Source   the IPv6 source address the kernel would use
 * @property {string} ipv6RouteDetail
 * @property {Tcp4Probe} tcp4
 * @property {Verdict} verdict
 * @property {boolean} ok             true for reachable / resolves (the CLI exits 0)
 * @property {string} summary         the verdict in one sentence, with what was seen
 * @property {string} hint            what to do next
 *
 * @typedef {object} DiagnoseOptions
 * @property {number} [timeout]       ms for the TCP connect (default 5000), also per DNS attempt
 * @property {string[]} [nameservers] DNS servers to ask instead of /etc/resolv.conf
 * @property {boolean} [fallback]     ask getaddrinfo when the Rust resolver cannot answer
 */

function invalidArgType(name, expected, actual) {
  const received = actual === null ? 'null' : Array.isArray(actual) ? 'an array' : `type ${typeof actual}`
  const err = new TypeError(`The "${name}" argument must be ${expected}. Received ${received}`)
  err.code = 'ERR_INVALID_ARG_TYPE'
  return err
}

function invalidArgValue(message) {
  const err = new TypeError(message)
  err.code = 'ERR_INVALID_ARG_VALUE'
  return err
}

function checkOptions(options) {
  // No prototype: the addon reads options by name, and must not find one on Object.prototype.
  const picked = Object.create(null)
  if (options === undefined || options === null) return picked
  if (typeof options !== 'object' || Array.isArray(options)) throw invalidArgType('options', 'an object', options)
  for (const key of Object.keys(options)) {
    if (!OPTIONS.includes(key)) {
      throw invalidArgValue(`The option "${key}" is unknown (known: ${OPTIONS.join(', ')})`)
    }
    if (options[key] !== undefined) picked[key] = options[key]
  }
  const { timeout, nameservers, fallback } = picked
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 1 && timeout <= 0xffffffff)) {
    throw invalidArgValue(`The option "timeout" must be a whole number of milliseconds >= 1, got ${String(timeout)}`)
  }
  if (nameservers !== undefined && !(Array.isArray(nameservers) && nameservers.every((s) => typeof s === 'string'))) {
    throw invalidArgType('options.nameservers', 'an array of strings', nameservers)
  }
  if (fallback !== undefined && typeof fallback !== 'boolean') {
    throw invalidArgType('options.fallback', 'a boolean', fallback)
  }
  return picked
}

const orNull = (v) => (v === undefined ? null : v)
const dnsError = (e) => (e ? { code: e.code, message: e.message } : null)

/** The native report with every key present, in a fixed order. */
function shape(r) {
  return {
    target: r.target,
    host: r.host,
    port: orNull(r.port),
    a: r.a,
    aError: dnsError(r.aError),
    aaaa: r.aaaa,
    aaaaError: dnsError(r.aaaaError),
    ipv6Route: r.ipv6Route,
    ipv6Source: orNull(r.ipv6Source),
    ipv6RouteDetail: r.ipv6RouteDetail,
    tcp4: {
      attempted: r.tcp4.attempted,
      address: orNull(r.tcp4.address),
      ok: r.tcp4.ok,
      ms: orNull(r.tcp4.ms),
      error: orNull(r.tcp4.error),
      message: r.tcp4.message,
    },
    verdict: r.verdict,
    ok: r.ok,
    summary: r.summary,
    hint: r.hint,
  }
}

/**
 * Checks whether `target` can be reached over IPv4 from this machine, and why not.
 * `target`: `host`, `host:port`, `[ipv6]:port`, or a URL (postgres://, postgresql://, mysql://,
 * redis://, rediss://, mongodb://, http://, https://; the scheme's default port when none is given).
 * Rejects only for bad arguments (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`; messages never
 * show a password); every finding, good or bad, is in the report.
 * @param {string} target
 * @param {DiagnoseOptions} [options]
 * @returns {Promise<Report>}
 */
async function diagnose(target, options) {
  if (typeof target !== 'string') throw invalidArgType('target', 'of type string', target)
  const picked = checkOptions(options)
  const outcome = await nativeDiagnose(target, picked)
  if (typeof outcome.verdict !== 'string') {
    const err = outcome.code === 'ERR_INVALID_ARG_VALUE' ? invalidArgValue(outcome.message) : new Error(outcome.message)
    err.code = outcome.code
    err.target = redactTarget(target)
    throw err
  }
  return shape(outcome)
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

/**
 * The report as a person reads it: what was seen, the verdict, and the next step.
 * @param {Report} report
 * @returns {string}
 */
function formatReport(report) {
  const rows = [
    ['host', report.host],
    ['port', report.port === null ? 'none given' : String(report.port)],
    ['A (IPv4)', addresses(report.a, report.aError, 'none')],
    ['AAAA (IPv6)', addresses(report.aaaa, report.aaaaError, 'none')],
    ['IPv6 route', `${report.ipv6Route ? 'yes' : 'no'} (${report.ipv6RouteDetail})`],
    ['TCP over IPv4', tcpLine(report.tcp4)],
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
  ].join('\n')
}

module.exports = { diagnose, formatReport, redactTarget }
