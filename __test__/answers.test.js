'use strict'

// Only the answer the DNS gave for the name asked is used: A records owned by the name or by its
// CNAME chain, never a stray record for another owner or an AAAA record; a CNAME loop is a
// server failure, not "IPv6-only"; a TTL with the top bit set counts as 0 (RFC 2181 §8). Names
// are read as Node reads them: inet_aton forms are IPv4 literals, underscores are looked up.
// Each case through resolveIPv4 and through a patched connect (real sockets on loopback).

const net = require('node:net')
const { resolveIPv4, patchNet, unpatchNet } = require('..')
const { startDnsServer } = require('./helpers/dns-server')
const { rejection } = require('./helpers/rejection')

const STRAY = '127.0.0.66'
const ZONE = {
  // A stray A record for another owner, listed first (glibc ignores it).
  'app.test': { A: ['127.0.0.1'], extra: [{ name: 'victim.test', type: 'A', data: STRAY }] },
  // An IPv4-mapped AAAA record in the A answer: never an IPv4 answer.
  'mapped.test': { A: ['127.0.0.1'], extra: [{ type: 'AAAA', data: '::ffff:127.0.0.77' }] },
  // A CNAME chain plus a stray A for a name outside it.
  'alias.test': { CNAME: 'target.test', extra: [{ name: 'victim.test', type: 'A', data: STRAY }] },
  'target.test': { A: ['127.0.0.1'] },
  // The owner spelled in another case is still the name asked.
  'case.test': { extra: [{ name: 'CASE.Test', type: 'A', data: '127.0.0.1' }] },
  'loop1.test': { CNAME: 'loop2.test' },
  'loop2.test': { CNAME: 'loop1.test' },
  'self.test': { CNAME: 'self.test' },
  'huge-ttl.test': { A: ['127.0.0.8'], ttl: 2 ** 31 + 5 },
  'normal-ttl.test': { A: ['127.0.0.8'], ttl: 300 },
  'v6only.test': { AAAA: ['2406:da18::5'] },
  my_service: { A: ['127.0.0.1'] },
  'project_db_1.test': { A: ['127.0.0.1'] },
}

let dns
let options
let servers = []
let port

// A TCP server on `host`:`port` that records which address each connection came to.
function listenOn(host, p) {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.end(host))
    server.once('error', reject)
    server.listen(p, host, () => resolve(server))
  })
}

beforeAll(async () => {
  dns = await startDnsServer({ zone: ZONE })
  options = { nameservers: [dns.address], timeout: 500, attempts: 2, errorTtl: 0 }
  const first = await listenOn('127.0.0.1', 0)
  port = first.address().port
  servers = [first, await listenOn(STRAY, port), await listenOn('127.0.0.77', port)]
})
afterAll(async () => {
  unpatchNet()
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  await dns.close()
})

// The address the patched connect reached (the server answers with its own address).
function connectedTo(host) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port })
    let data = ''
    socket.on('data', (d) => { data += d })
    socket.on('end', () => resolve(data))
    socket.on('error', reject)
  })
}

describe('answers for the name asked only', () => {
  test.each([
    ['app.test', 'a stray A for another owner, listed first'],
    ['mapped.test', 'an AAAA ::ffff:127.0.0.77 in the A answer'],
    ['alias.test', 'a CNAME chain and a stray A outside it'],
    ['case.test', 'the owner in another case'],
  ])('%s (%s): only 127.0.0.1, and the patched connect goes there', async (name) => {
    expect(await resolveIPv4(name, options)).toEqual(['127.0.0.1'])
    patchNet({ nameservers: [dns.address], timeout: 500, attempts: 2 })
    try {
      expect(await connectedTo(name)).toBe('127.0.0.1')
    } finally {
      unpatchNet()
    }
  })

  test.each(['loop1.test', 'self.test'])('a CNAME loop (%s) is ESERVFAIL "CNAME loop", not the IPv6-only advice', async (name) => {
    const err = await rejection(resolveIPv4(name, options))
    expect(err.code).toBe('ESERVFAIL')
    expect(err.message).toMatch(/CNAME loop/)
    expect(err.message).not.toMatch(/IPv6|Supabase/)
    patchNet({ nameservers: [dns.address], timeout: 500, attempts: 2 })
    try {
      await expect(connectedTo(name)).rejects.toMatchObject({ code: 'ESERVFAIL' })
    } finally {
      unpatchNet()
    }
  })

  test('an IPv6-only name is still ENODATA with its address', async () => {
    const err = await rejection(resolveIPv4('v6only.test', options))
    expect(err.code).toBe('ENODATA')
    expect(err.message).toContain('2406:da18::5')
  })

  test('a TTL with the top bit set counts as 0: the next lookup asks again', async () => {
    const opts = { ...options } // a resolver of its own, whose cache starts empty
    expect(await resolveIPv4('huge-ttl.test', opts)).toEqual(['127.0.0.8'])
    expect(await resolveIPv4('normal-ttl.test', opts)).toEqual(['127.0.0.8'])
    dns.setZone({ ...ZONE, 'huge-ttl.test': { A: ['127.0.0.9'] }, 'normal-ttl.test': { A: ['127.0.0.9'] } })
    try {
      expect(await resolveIPv4('huge-ttl.test', opts)).toEqual(['127.0.0.9'])
      // A normal TTL is still honoured (the control: the first answer is kept).
      expect(await resolveIPv4('normal-ttl.test', opts)).toEqual(['127.0.0.8'])
    } finally {
      dns.setZone(ZONE)
    }
  })
})

describe('names as Node reads them', () => {
  test.each(['127.1', '0x7f.1', '2130706433', '0177.0.0.1', '0x7f000001'])('%s is 127.0.0.1, with no query', async (name) => {
    dns.resetCounts()
    expect(await resolveIPv4(name, options)).toEqual(['127.0.0.1'])
    expect(dns.queries).toHaveLength(0)
    patchNet({ nameservers: [dns.address] })
    try {
      expect(await connectedTo(name)).toBe('127.0.0.1')
    } finally {
      unpatchNet()
    }
    expect(dns.queries).toHaveLength(0)
  })

  test.each(['my_service', 'project_db_1.test', 'MY_SERVICE.'])('underscores are looked up: %s', async (name) => {
    dns.resetCounts()
    expect(await resolveIPv4(name, options)).toEqual(['127.0.0.1'])
    expect(dns.countQueries(name, 'A')).toBe(1)
    patchNet({ nameservers: [dns.address] })
    try {
      expect(await connectedTo(name)).toBe('127.0.0.1')
    } finally {
      unpatchNet()
    }
  })
})
