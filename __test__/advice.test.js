'use strict'

// lib/advice.js words both backends' lookup failures from their facts: what a person reads when a
// host has no IPv4 address, or a connection names an IPv6 literal.

const advice = require('../lib/advice.js')

describe('lookupMessage', () => {
  test('ENODATA names the IPv6 address and the two ways out', () => {
    const message = advice.lookupMessage({ code: 'ENODATA', hostname: 'api.example.com', syscall: 'queryA', ipv6Seen: '2406:da18::1' })
    expect(message).toMatch(/^queryA ENODATA api\.example\.com: no IPv4 address: the name resolves only to IPv6 \(2406:da18::1\)/)
    expect(message).toContain('Use an IPv4 endpoint of this service')
    expect(message).toMatch(/or run on a network with working IPv6\.$/)
  })

  test('ENODATA without an IPv6 address says the name has no A record', () => {
    expect(advice.lookupMessage({ code: 'ENODATA', hostname: 'a.test', syscall: 'lookup' }))
      .toMatch(/^lookup ENODATA a\.test: no IPv4 address: the name has no A record, /)
  })

  test('a Supabase direct host gets the session pooler string and the transaction port', () => {
    const message = advice.lookupMessage({ code: 'ENODATA', hostname: 'db.abcdefghijklmnop.supabase.co', syscall: 'queryA' })
    expect(message).toContain('This is a Supabase direct host, which is IPv6-only: use the session pooler instead, ' +
      'postgres://postgres.abcdefghijklmnop:[YOUR-PASSWORD]@aws-0-[REGION].pooler.supabase.com:5432/postgres')
    expect(message).toContain('port 6543 for transaction mode')
  })

  test('EAFNOSUPPORT names the literal and the ways out', () => {
    const message = advice.lookupMessage({ code: 'EAFNOSUPPORT', hostname: '2001:db8::1', syscall: 'connect' })
    expect(message).toMatch(/^connect EAFNOSUPPORT 2001:db8::1: 2001:db8::1 is an IPv6 address and ipv4-force is forcing IPv4/)
    expect(message).toContain('dns.lookup')
    expect(message).toContain('allowIPv6Literals: true')
  })

  test.each([
    [{ code: 'ETIMEOUT', hostname: 'a.test', syscall: 'queryA', detail: 'no answer from the DNS server in time' },
      'queryA ETIMEOUT a.test: no answer from the DNS server in time'],
    [{ code: 'ENOTFOUND', hostname: 'a.test', syscall: 'getaddrinfo' }, 'getaddrinfo ENOTFOUND a.test'],
    [{ code: 'ENOTFOUND', hostname: 'a.test', syscall: 'queryA', detail: null }, 'queryA ENOTFOUND a.test'],
  ])('other codes carry the backend\'s detail: %p', (facts, message) => {
    expect(advice.lookupMessage(facts)).toBe(message)
  })
})

test('the IPv6-only warning carries the error\'s advice and says why it is given', () => {
  const warning = advice.ipv6OnlyWarning('v6.example.com', '2001:db8::20')
  expect(warning).toBe(`connections to v6.example.com fail with ENODATA: ${advice.ipv6OnlyAdvice('v6.example.com', '2001:db8::20')} ` +
    '(Given once per host, in case a library reported the failure without this explanation.)')
  expect(warning).toContain('2001:db8::20')
})

test.each([
  ['db.abc123.supabase.co', 'abc123'],
  ['DB.Abc123.SUPABASE.CO.', 'Abc123'],
  ['aws-0-eu.pooler.supabase.com', null],
  ['db.a.b.supabase.co', null],
  ['db.supabase.co', null],
  ['db..supabase.co', null],
  ['x.db.abc.supabase.co', null],
  ['dü.abcdefghijk.supabase.co', null],
  ['db.ü.supabase.co', null],
  ['😀😀😀😀😀😀😀😀😀.supabase.co', null],
])('supabaseProjectRef(%p) is %p', (hostname, ref) => {
  expect(advice.supabaseProjectRef(hostname)).toBe(ref)
  expect(advice.ipv6OnlyAdvice(hostname, null)).toContain(ref === null ? 'IPv4 endpoint' : `postgres.${ref}:`)
})
