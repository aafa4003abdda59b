'use strict'

// The resolver options (resolveIPv4, createLookup, patchNet, diagnose): checked and, when refused,
// worded here, once, for both backends (the addon's conversion only guards against what this
// lets through).

const net = require('node:net')
const { invalidArgType, invalidArgValue } = require('./errors.js')

const RESOLVER_OPTIONS = ['nameservers', 'timeout', 'attempts', 'fallback', 'maxTtl', 'errorTtl']

// "10.0.0.2", "10.0.0.2:5353", "::1", "[fd00::1]:53": an IP address with an optional port.
function isNameserver(text) {
  if (net.isIP(text)) return true
  const [, ip, port] = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) || /^([^:]+):(\d{1,5})$/.exec(text) || []
  return ip !== undefined && net.isIP(ip) !== 0 && Number(port) <= 65535
}

function outOfRange(name, range, received) {
  const err = new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${received}`)
  err.code = 'ERR_OUT_OF_RANGE'
  return err
}

// Milliseconds and tries: an integer in 1..2^32-1 (zero of either cannot work).
function checkCount(value, name) {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1 && value <= 0xffffffff)) {
    throw outOfRange(name, 'an integer >= 1 and <= 4294967295', value)
  }
}

// Seconds >= 0; Infinity (or anything too large to count) means forever.
function checkSeconds(value, name) {
  if (value !== undefined && !(value >= 0)) throw outOfRange(name, 'a number of seconds >= 0 (Infinity allowed)', value)
}

/** Throws Node's error (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE) for an option it refuses. */
function checkResolverOptions(o) {
  if (o.nameservers !== undefined) {
    if (!(Array.isArray(o.nameservers) && o.nameservers.every((s) => typeof s === 'string'))) {
      throw invalidArgType('options.nameservers', 'an array of strings', o.nameservers)
    }
    if (o.nameservers.length === 0) throw invalidArgValue('options.nameservers', 'it must not be empty')
    const bad = o.nameservers.find((text) => !isNameserver(text))
    if (bad !== undefined) {
      throw invalidArgValue('options.nameservers', `nameserver ${JSON.stringify(bad)} is not an IP address with an optional port`)
    }
  }
  for (const name of ['timeout', 'attempts', 'maxTtl', 'errorTtl']) {
    if (o[name] !== undefined && typeof o[name] !== 'number') throw invalidArgType(`options.${name}`, 'of type number', o[name])
  }
  if (o.fallback !== undefined && typeof o.fallback !== 'boolean') {
    throw invalidArgType('options.fallback', 'of type boolean', o.fallback)
  }
  checkCount(o.timeout, 'options.timeout')
  checkCount(o.attempts, 'options.attempts')
  checkSeconds(o.maxTtl, 'options.maxTtl')
  checkSeconds(o.errorTtl, 'options.errorTtl')
}

module.exports = { RESOLVER_OPTIONS, checkResolverOptions }
