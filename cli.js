#!/usr/bin/env node
'use strict'

// ipv4-force check TARGET | resolve HOST: what is wrong with a connection, and what to do.
// Exit codes: 0 fine, 1 a problem was found (or a lookup failed), 2 usage error.

const { parseArgs } = require('node:util')

const USAGE = `Usage:
  ipv4-force check TARGET [--json] [--timeout MS] [--dns SERVER] [--region REGION]
  ipv4-force resolve HOST [--json] [--timeout MS] [--dns SERVER]
  ipv4-force --help | --version

check     Looks up TARGET's A and AAAA records, tests whether this machine has an IPv6
          route, connects to the port over IPv4, and says what is wrong and what to do.
          TARGET: host, host:port, [ipv6]:port, or a URL: postgres://, postgresql://,
          mysql://, redis://, rediss://, mongodb://, http://, https:// (the scheme's
          default port when the URL has none). Without a port, no connection is tried.
          Passwords in URLs are never printed.
          Supabase: for a direct host db.<ref>.supabase.co without IPv4, asks each
          pooler (aws-0-/aws-1-<region>.pooler.supabase.com, port 5432) over IPv4 for
          a PostgreSQL session as postgres.<ref> (never with a password) and prints
          the connection string of the one that serves the project; a pooler URL is
          asked with its own user name ("Tenant or user not found" explained).
resolve   Prints the IPv4 addresses ipv4-force resolves HOST to, one a line.

Options:
  --json          print one JSON object instead of text
  --timeout MS    milliseconds for the TCP connect (default 5000) and per DNS attempt
  --dns SERVER    ask this DNS server (1.2.3.4, 1.2.3.4:5353, [::1]:53) instead of the
                  system configuration; repeat for several
  --region REGION Supabase: look for the pooler in this region only (eu-west-1, …)
  -h, --help      show this help
  -v, --version   show the version

Exit status: 0 reachable over IPv4 (or resolves, when no port is given), 1 a problem was
found, 2 usage error.`

const OPTIONS = {
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  dns: { type: 'string', multiple: true },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
}

class UsageError extends Error {}

// Loaded on first use, so that --help and usage errors work even without the native addon.
let native = null
function diagnoseModule() {
  if (native === null) native = require('./lib/diagnose.js')
  return native
}

// Any text that may hold an argument (error messages) goes through here first: every argument
// (and the value of every --option=value) is replaced by its redacted form, longest first so
// that a part of an argument never leaves the rest of it behind.
function sanitize(text, argv) {
  let out = String(text)
  const parts = new Set()
  for (const arg of argv) {
    parts.add(arg)
    const eq = arg.indexOf('=')
    if (eq !== -1) parts.add(arg.slice(eq + 1))
  }
  let redact = null
  for (const part of [...parts].sort((a, b) => b.length - a.length)) {
    // Redaction only acts on credentials ('@') and key=value pairs: without either, the part is
    // shown as it is, and usage errors work without the native addon.
    if (!part.includes('@') && !part.includes('=')) continue
    redact ??= diagnoseModule().redactTarget
    const safe = redact(part)
    if (safe !== part) out = out.split(part).join(safe)
  }
  return out
}

function parse(argv) {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(err.message)
  }
  const { values, positionals } = parsed
  if (values.help || values.version) return { command: values.help ? 'help' : 'version' }
  const [command, ...rest] = positionals
  if (command === undefined) throw new UsageError('no command given')
  if (command !== 'check' && command !== 'resolve') throw new UsageError(`unknown command "${command}"`)
  const what = command === 'check' ? 'TARGET' : 'HOST'
  if (rest.length === 0) throw new UsageError(`${command}: no ${what} given`)
  if (rest.length > 1) throw new UsageError(`${command}: one ${what} at a time (unexpected "${rest[1]}")`)
  const options = {}
  if (values.timeout !== undefined) {
    const ms = Number(values.timeout)
    if (!/^\d+$/.test(values.timeout) || ms < 1 || ms > 0xffffffff) {
      throw new UsageError(`--timeout takes a whole number of milliseconds >= 1, got "${values.timeout}"`)
    }
    options.timeout = ms
  }
  if (values.dns !== undefined) options.nameservers = values.dns
  // Checked against Supabase's regions by the addon (a usage error when unknown).
  if (values.region !== undefined) {
    if (command !== 'check') throw new UsageError('--region is an option of check')
    options.region = values.region
  }
  return { command, target: rest[0], json: values.json === true, options }
}

// Refusals of the arguments themselves: a usage error (exit 2), not a finding about the target.
const USAGE_CODES = ['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE']

function print(text) {
  process.stdout.write(`${text}\n`)
}

async function check({ target, json, options }) {
  const { diagnose, formatReport } = diagnoseModule()
  let report
  try {
    report = await diagnose(target, options)
  } catch (err) {
    if (USAGE_CODES.includes(err.code)) throw new UsageError(err.message)
    throw err
  }
  print(json ? JSON.stringify(report, null, 2) : formatReport(report))
  return report.ok ? 0 : 1
}

async function resolve({ target: host, json, options }) {
  if (host.includes('://') || host.includes('@')) {
    throw new UsageError(`resolve takes a hostname, not a URL (got "${host}"); use: ipv4-force check URL`)
  }
  // Constructing the resolver validates the options (a bad --dns is a usage error).
  const { resolveIPv4 } = require('./index.js')
  let addresses
  try {
    addresses = await resolveIPv4(host, options)
  } catch (err) {
    if (USAGE_CODES.includes(err.code)) throw new UsageError(err.message)
    const message = sanitize(err.message, argv)
    if (json) print(JSON.stringify({ host: sanitize(host, argv), addresses: [], error: { code: err.code, message } }, null, 2))
    else process.stderr.write(`${err.code}: ${message}\n`)
    return 1
  }
  print(json ? JSON.stringify({ host, addresses, error: null }, null, 2) : addresses.join('\n'))
  return 0
}

async function main(argv) {
  const args = parse(argv)
  switch (args.command) {
    case 'help':
      print(USAGE)
      return 0
    case 'version':
      print(require('./package.json').version)
      return 0
    case 'check':
      return check(args)
    default:
      return resolve(args)
  }
}

const argv = process.argv.slice(2)
main(argv).then(
  (code) => {
    process.exitCode = code
  },
  (err) => {
    let message
    try {
      message = sanitize(err instanceof UsageError ? err.message : (err && err.stack) || err, argv)
    } catch {
      message = 'an argument could not be shown safely'
    }
    if (err instanceof UsageError) {
      process.stderr.write(`ipv4-force: ${message}\n\n${USAGE}\n`)
      process.exitCode = 2
    } else {
      process.stderr.write(`ipv4-force: ${message}\n`)
      process.exitCode = 1
    }
  },
)
