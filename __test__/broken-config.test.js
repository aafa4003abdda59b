'use strict'

// A broken system configuration never breaks require('ipv4-force'), and lookups still work
// through the getaddrinfo fallback. Runs in a private namespace with its own /etc files.

const path = require('node:path')
const { describeInNamespace, runInNamespace } = require('./helpers/netns')

const SCRIPT = path.join(__dirname, 'fixtures', 'broken', 'lookups.js')
const GOOD_RESOLV = 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n'
const HOSTS = '127.0.0.1 localhost\n'

async function lookupsWith(etc) {
  const run = await runInNamespace({ script: SCRIPT, etc: { hosts: HOSTS, ...etc } })
  expect(run.stderr).toBe('')
  return JSON.parse(run.stdout)
}

describeInNamespace('broken system configuration', () => {
  test('resolv.conf missing: require works, the fallback answers, fallback: false says why', async () => {
    const r = await lookupsWith({ 'resolv.conf': null })
    expect(r.required).toBe(true)
    // glibc asks 127.0.0.1 when there is no resolv.conf: the fallback finds the name there.
    expect(r.default).toEqual({ addresses: ['127.0.0.1'] })
    expect(r.noFallback.code).toBe('ECONNREFUSED')
    expect(r.noFallback.message).toContain('/etc/resolv.conf')
  })

  test('resolv.conf empty: the same', async () => {
    const r = await lookupsWith({ 'resolv.conf': '' })
    expect(r.required).toBe(true)
    expect(r.default).toEqual({ addresses: ['127.0.0.1'] })
    expect(r.noFallback.code).toBe('ECONNREFUSED')
  })

  test('resolv.conf with garbage lines and unknown options: its nameserver is still used', async () => {
    const r = await lookupsWith({
      'resolv.conf': 'this is not a directive\nnameserver 127.0.0.1\noptions rotate no-such-option:7 edns0 trust-ad\n\u0000\u00ff garbage\nsearch\n',
    })
    expect(r.required).toBe(true)
    expect(r.default).toEqual({ addresses: ['127.0.0.1'] })
    expect(r.noFallback).toEqual({ addresses: ['127.0.0.1'] })
    expect(r.localhost).toEqual({ addresses: ['127.0.0.1'] })
  })

  test('hosts file missing: DNS still answers, localhost still resolves', async () => {
    const r = await lookupsWith({ 'resolv.conf': GOOD_RESOLV, hosts: null })
    expect(r.required).toBe(true)
    expect(r.default).toEqual({ addresses: ['127.0.0.1'] })
    expect(r.noFallback).toEqual({ addresses: ['127.0.0.1'] })
    expect(r.localhost).toEqual({ addresses: ['127.0.0.1'] })
  })
})
