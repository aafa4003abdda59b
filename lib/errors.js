'use strict'

// Errors shaped like Node's, and the one rule for reading ipv4-force's own options.

const { lookupMessage } = require('./advice.js')

function describeReceived(actual) {
  if (actual === null) return 'null'
  if (typeof actual === 'function') return `function ${actual.name}`
  if (typeof actual === 'object') return 'an instance of ' + (actual.constructor?.name ?? 'Object')
  return `type ${typeof actual} (${String(actual).slice(0, 25)})`
}

function invalidArgType(name, expected, actual) {
  const err = new TypeError(`The "${name}" argument must be ${expected}. Received ${describeReceived(actual)}`)
  err.code = 'ERR_INVALID_ARG_TYPE'
  return err
}

function invalidArgValue(name, why) {
  const err = new TypeError(`The "${name}" option is invalid: ${why}`)
  err.code = 'ERR_INVALID_ARG_VALUE'
  return err
}

// A call the addon refused ({code, message}: an option out of range, a target it cannot use, a
// caught panic) as the Error Node would throw for it.
function callFailureError({ code, message }) {
  const ErrorClass = code === 'ERR_OUT_OF_RANGE' ? RangeError : code === 'ERR_INVALID_ARG_VALUE' ? TypeError : Error
  const err = new ErrorClass(message)
  err.code = code
  return err
}

/**
 * A failed lookup's facts, as both backends give them (lib/advice.js words them). `ipv6Seen`: for
 * ENODATA, an IPv6 address the name has.
 */
function lookupFailure(code, hostname, syscall, detail, ipv6Seen) {
  return { code, hostname, syscall, detail, ipv6Seen }
}

// The Error for a failed lookup's facts, with the message lib/advice.js words from them.
function lookupError(failure) {
  const err = new Error(lookupMessage(failure))
  err.code = failure.code
  err.hostname = failure.hostname
  err.syscall = failure.syscall
  return err
}

// Options of ipv4-force itself are read from own properties only: a property added to
// Object.prototype (prototype pollution) must never redirect lookups.
function own(options, key) {
  return Object.prototype.hasOwnProperty.call(options, key) ? options[key] : undefined
}

module.exports = { invalidArgType, invalidArgValue, callFailureError, lookupFailure, lookupError, own }
