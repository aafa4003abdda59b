'use strict'

// patchNet's options: checked, and turned into the configuration the patch runs with.

const { resolverFor } = require('../resolver.js')
const { RESOLVER_OPTIONS } = require('../resolver-options.js')
const { invalidArgType, invalidArgValue, own } = require('../errors.js')
const { checkTargets } = require('../preflight.js')
const { makeForcedLookup, connectLookup } = require('./forced-lookup.js')

const PATCH_OPTIONS = [...RESOLVER_OPTIONS, 'hosts', 'allowIPv6Literals', 'dnsLookup', 'warnings', 'check']

function hostMatcher(hosts) {
  if (hosts === undefined) return () => true
  if (typeof hosts === 'function') return (host) => Boolean(hosts(host))
  if (!Array.isArray(hosts) || !hosts.every((h) => typeof h === 'string')) {
    throw invalidArgType('options.hosts', 'an array of strings or a function', hosts)
  }
  const exact = new Set()
  const suffixes = []
  for (const h of hosts.map((h) => h.toLowerCase().replace(/\.$/, ''))) {
    if (h.startsWith('*.')) suffixes.push(h.slice(1))
    else exact.add(h)
  }
  return (host) => {
    const name = host.toLowerCase().replace(/\.$/, '')
    return exact.has(name) || suffixes.some((suffix) => name.endsWith(suffix))
  }
}

function patchConfig(options) {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object') throw invalidArgType('options', 'of type object', options)
  for (const key of Object.keys(options)) {
    if (!PATCH_OPTIONS.includes(key)) throw invalidArgValue(key, `unknown option (known: ${PATCH_OPTIONS.join(', ')})`)
  }
  for (const name of ['allowIPv6Literals', 'dnsLookup', 'warnings']) {
    const value = own(options, name)
    if (value !== undefined && typeof value !== 'boolean') throw invalidArgType(`options.${name}`, 'of type boolean', value)
  }
  const resolver = resolverFor(options)
  const warnings = own(options, 'warnings') !== false
  const config = {
    resolver,
    isForced: hostMatcher(own(options, 'hosts')),
    allowIPv6Literals: own(options, 'allowIPv6Literals') === true,
    dnsLookup: own(options, 'dnsLookup') !== false,
    warnings,
    forcedLookup: makeForcedLookup(resolver, warnings),
    check: checkTargets(own(options, 'check'), 'options.check'),
    connectLookup: null,
  }
  config.connectLookup = connectLookup(config)
  return config
}

// The preflight asks the DNS servers the patch asks.
function preflightOptions(options) {
  const picked = {}
  for (const key of ['nameservers', 'fallback']) {
    if (own(options, key) !== undefined) picked[key] = options[key]
  }
  return picked
}

module.exports = { patchConfig, preflightOptions }
