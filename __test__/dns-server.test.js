'use strict'

// Self-test of the loopback DNS test server, queried through Node's own
// c-ares resolver (UDP, with TCP fallback on truncation) and raw sockets.

const dns = require('node:dns')
const dgram = require('node:dgram')
const net = require('node:net')
const dnsPacket = require('dns-packet')
const { startDnsServer, freePort } = require('./helpers/dns-server')

const bigAddresses = Array.from({ length: 200 }, (_, i) => `10.0.${i >> 8}.${i & 255}`)

const zone = {
  'dual.test': { A: ['127.0.0.1'], AAAA: ['2406:da18:243:7412::1'], ttl: 300 },
  'v6only.test': { AAAA: ['2406:da18::5'] },
  'v4only.test': { A: ['127.0.0.2', '127.0.0.3'], ttl: 1 },
  'alias.test': { CNAME: 'alias2.test' },
  'alias2.test': { CNAME: 'dual.test' },
  'loop1.test': { CNAME: 'loop2.test' },
  'loop2.test': { CNAME: 'loop1.test' },
  'servfail.test': { rcode: 'SERVFAIL' },
  'refused.test': { rcode: 'REFUSED' },
  'silent.test': { silent: true },
  'big.test': { A: bigAddresses },
  'slow.test': { A: ['127.0.0.1'], delayMs: 300 },
  '*.wild.test': { A: ['127.0.0.9'] }
}

const newResolver = (server) => {
  const resolver = new dns.promises.Resolver({ timeout: 500, tries: 1 })
  resolver.setServers([server.address])
  return resolver
}

// One raw query over UDP; resolves with the decoded response.
function udpQuery (port, packet, timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4')
    const timer = setTimeout(() => { socket.close(); reject(new Error('udp timeout')) }, timeoutMs)
    socket.on('message', (msg) => {
      clearTimeout(timer)
      socket.close()
      resolve(dnsPacket.decode(msg))
    })
    socket.send(dnsPacket.encode(packet), port, '127.0.0.1')
  })
}

const query = (id, name, type = 'A', extra = {}) => ({
  type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }], ...extra
})

describe('dns test server', () => {
  let server
  let resolver

  beforeAll(async () => {
    server = await startDnsServer({ host: '127.0.0.1', port: 0, zone })
    resolver = newResolver(server)
  })
  afterAll(() => server.close())
  beforeEach(() => {
    server.setZone(zone)
    server.resetCounts()
  })

  test('exposes its address', () => {
    expect(server.host).toBe('127.0.0.1')
    expect(server.port).toBeGreaterThan(0)
    expect(server.address).toBe(`127.0.0.1:${server.port}`)
  })

  test('A and AAAA answers', async () => {
    await expect(resolver.resolve4('dual.test')).resolves.toEqual(['127.0.0.1'])
    await expect(resolver.resolve6('dual.test')).resolves.toEqual(['2406:da18:243:7412::1'])
    await expect(resolver.resolve4('v4only.test')).resolves.toEqual(['127.0.0.2', '127.0.0.3'])
  })

  test('TTL is served (entry ttl, default 60)', async () => {
    await expect(resolver.resolve4('dual.test', { ttl: true }))
      .resolves.toEqual([{ address: '127.0.0.1', ttl: 300 }])
    await expect(resolver.resolve4('v4only.test', { ttl: true }))
      .resolves.toEqual([{ address: '127.0.0.2', ttl: 1 }, { address: '127.0.0.3', ttl: 1 }])
    await expect(resolver.resolve4('foo.wild.test', { ttl: true }))
      .resolves.toEqual([{ address: '127.0.0.9', ttl: 60 }])
  })

  test('NODATA for a v6-only name asked for A', async () => {
    await expect(resolver.resolve4('v6only.test')).rejects.toMatchObject({ code: 'ENODATA' })
    await expect(resolver.resolve6('v6only.test')).resolves.toEqual(['2406:da18::5'])
    await expect(resolver.resolveMx('dual.test')).rejects.toMatchObject({ code: 'ENODATA' })
  })

  test('NXDOMAIN, SERVFAIL, REFUSED', async () => {
    await expect(resolver.resolve4('nope.test')).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(resolver.resolve4('servfail.test')).rejects.toMatchObject({ code: 'ESERVFAIL' })
    await expect(resolver.resolve4('refused.test')).rejects.toMatchObject({ code: 'EREFUSED' })
  })

  test('silent names time out', async () => {
    await expect(resolver.resolve4('silent.test')).rejects.toMatchObject({ code: 'ETIMEOUT' })
    expect(server.countQueries('silent.test')).toBeGreaterThanOrEqual(1)
  })

  test('CNAME chains are followed within the zone', async () => {
    await expect(resolver.resolve4('alias.test')).resolves.toEqual(['127.0.0.1'])
    await expect(resolver.resolve6('alias.test')).resolves.toEqual(['2406:da18:243:7412::1'])
    await expect(resolver.resolveCname('alias.test')).resolves.toEqual(['alias2.test'])
    const res = await udpQuery(server.port, query(7, 'alias.test'))
    expect(res.answers.map((a) => [a.name, a.type, a.data])).toEqual([
      ['alias.test', 'CNAME', 'alias2.test'],
      ['alias2.test', 'CNAME', 'dual.test'],
      ['dual.test', 'A', '127.0.0.1']
    ])
    // A CNAME loop ends after a bounded number of hops instead of hanging.
    const loop = await udpQuery(server.port, query(8, 'loop1.test'))
    expect(loop.answers.length).toBeLessThanOrEqual(9)
  })

  test('wildcard names', async () => {
    await expect(resolver.resolve4('anything.wild.test')).resolves.toEqual(['127.0.0.9'])
    await expect(resolver.resolve4('a.b.WILD.test')).resolves.toEqual(['127.0.0.9'])
    await expect(resolver.resolve4('wild.test')).rejects.toMatchObject({ code: 'ENOTFOUND' })
  })

  test('big answers are truncated over UDP and served over TCP', async () => {
    const addresses = await resolver.resolve4('big.test')
    expect(addresses).toHaveLength(200)
    expect(addresses.sort()).toEqual([...bigAddresses].sort())
    const transports = server.queries.filter((q) => q.name === 'big.test').map((q) => q.transport)
    expect(transports).toEqual(['udp', 'tcp'])
  })

  test('UDP truncation honours the EDNS0 payload size', async () => {
    server.setZone({ 'mid.test': { A: bigAddresses.slice(0, 40) } }) // ~1000 bytes
    const plain = await udpQuery(server.port, query(1, 'mid.test'))
    expect(plain.flag_tc).toBe(true)
    expect(plain.answers).toHaveLength(0)
    const edns = await udpQuery(server.port, query(2, 'mid.test', 'A', {
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096 }]
    }))
    expect(edns.flag_tc).toBe(false)
    expect(edns.answers).toHaveLength(40)
  })

  test('echoes id and question, sets aa/rd/ra', async () => {
    const res = await udpQuery(server.port, query(4242, 'Dual.Test', 'AAAA'))
    expect(res).toMatchObject({
      id: 4242, type: 'response', rcode: 'NOERROR', flag_aa: true, flag_rd: true, flag_ra: true,
      questions: [{ name: 'Dual.Test', type: 'AAAA', class: 'IN' }]
    })
    const any = await udpQuery(server.port, query(5, 'dual.test', 'ANY'))
    expect(any.answers.map((a) => a.type).sort()).toEqual(['A', 'AAAA'])
  })

  test('SOA on negative answers only with soaOnNegative', async () => {
    const plain = await udpQuery(server.port, query(1, 'nope.test'))
    expect(plain.rcode).toBe('NXDOMAIN')
    expect(plain.authorities).toHaveLength(0)

    const soaServer = await startDnsServer({ zone, soaOnNegative: true, negativeTtl: 7 })
    try {
      const nx = await udpQuery(soaServer.port, query(1, 'nope.test'))
      expect(nx.rcode).toBe('NXDOMAIN')
      expect(nx.authorities).toMatchObject([{ type: 'SOA', name: 'test', ttl: 7, data: { minimum: 7 } }])
      const nodata = await udpQuery(soaServer.port, query(2, 'v6only.test'))
      expect(nodata.rcode).toBe('NOERROR')
      expect(nodata.authorities).toMatchObject([{ type: 'SOA' }])
    } finally {
      await soaServer.close()
    }
  })

  test('counts queries case-insensitively, per type', async () => {
    await resolver.resolve4('dual.test')
    await resolver.resolve6('DUAL.test')
    await resolver.resolve4('v4only.test')
    expect(server.countQueries('dual.test')).toBe(2)
    expect(server.countQueries('Dual.Test.', 'A')).toBe(1)
    expect(server.countQueries('dual.test', 'AAAA')).toBe(1)
    expect(server.countQueries('v4only.test', 'A')).toBe(1)
    expect(server.queries[0]).toEqual({ name: 'dual.test', type: 'A', transport: 'udp' })
    server.resetCounts()
    expect(server.countQueries('dual.test')).toBe(0)
    expect(server.queries).toHaveLength(0)
  })

  test('setZone replaces records at runtime', async () => {
    await expect(resolver.resolve4('dual.test')).resolves.toEqual(['127.0.0.1'])
    server.setZone({ 'dual.test': { A: ['127.0.0.42'] }, 'new.test': { A: ['127.0.0.43'] } })
    await expect(resolver.resolve4('dual.test')).resolves.toEqual(['127.0.0.42'])
    await expect(resolver.resolve4('new.test')).resolves.toEqual(['127.0.0.43'])
    await expect(resolver.resolve4('v4only.test')).rejects.toMatchObject({ code: 'ENOTFOUND' })
  })

  test('delayMs postpones the answer', async () => {
    const slow = new dns.promises.Resolver({ timeout: 2000, tries: 1 })
    slow.setServers([server.address])
    const start = Date.now()
    await expect(slow.resolve4('slow.test')).resolves.toEqual(['127.0.0.1'])
    expect(Date.now() - start).toBeGreaterThanOrEqual(250)
  })

  test('ignores malformed packets and keeps serving', async () => {
    const socket = dgram.createSocket('udp4')
    await new Promise((resolve) => socket.send(Buffer.from([1, 2, 3]), server.port, '127.0.0.1', resolve))
    await new Promise((resolve) => socket.send(Buffer.alloc(40, 0xff), server.port, '127.0.0.1', resolve))
    socket.close()
    const tcp = net.connect(server.port, '127.0.0.1')
    await new Promise((resolve) => tcp.once('connect', resolve))
    tcp.write(Buffer.from([0, 3, 9, 9, 9]))
    await expect(resolver.resolve4('dual.test')).resolves.toEqual(['127.0.0.1'])
    tcp.destroy()
  })

  test('TCP: several queries per connection, split and merged frames', async () => {
    const socket = net.connect(server.port, '127.0.0.1')
    const responses = []
    let buf = Buffer.alloc(0)
    const got = new Promise((resolve) => {
      socket.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk])
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          responses.push(dnsPacket.streamDecode(buf.subarray(0, 2 + buf.readUInt16BE(0))))
          buf = buf.subarray(2 + buf.readUInt16BE(0))
        }
        if (responses.length === 3) resolve()
      })
    })
    const frames = Buffer.concat([
      dnsPacket.streamEncode(query(1, 'dual.test')),
      dnsPacket.streamEncode(query(2, 'big.test')),
      dnsPacket.streamEncode(query(3, 'nope.test'))
    ])
    // Dribble the bytes in uneven pieces so frames are split and merged.
    for (let i = 0; i < frames.length; i += 7) {
      socket.write(frames.subarray(i, i + 7))
      if (i % 3 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    await got
    socket.destroy()
    expect(responses.map((r) => [r.id, r.rcode, r.answers.length])).toEqual([
      [1, 'NOERROR', 1], [2, 'NOERROR', 200], [3, 'NXDOMAIN', 0]
    ])
    expect(server.queries.map((q) => q.transport)).toEqual(['tcp', 'tcp', 'tcp'])
  })

  test('close() also drops open TCP connections', async () => {
    const other = await startDnsServer({ zone })
    const socket = net.connect(other.port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    const ended = new Promise((resolve) => socket.once('close', resolve))
    await other.close()
    await ended
    await expect(other.close()).resolves.toBeUndefined() // idempotent
  })
})

describe('transport options and freePort', () => {
  const canConnectTcp = (port) => new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })

  test('tcp: false leaves nothing listening on TCP', async () => {
    const server = await startDnsServer({ zone, tcp: false })
    try {
      expect(await canConnectTcp(server.port)).toBe(false)
      const res = await udpQuery(server.port, query(1, 'dual.test'))
      expect(res.answers).toHaveLength(1)
      // Truncated over UDP, and the TCP retry has nowhere to go.
      await expect(newResolver(server).resolve4('big.test')).rejects.toBeDefined()
    } finally {
      await server.close()
    }
  })

  test('udp: false serves over TCP only', async () => {
    const server = await startDnsServer({ zone, udp: false })
    try {
      expect(await canConnectTcp(server.port)).toBe(true)
      await expect(udpQuery(server.port, query(1, 'dual.test'), 200)).rejects.toThrow('udp timeout')
    } finally {
      await server.close()
    }
  })

  test('a fixed port is honoured for both transports', async () => {
    const port = await freePort()
    const server = await startDnsServer({ zone, port })
    try {
      expect(server.port).toBe(port)
      expect(await canConnectTcp(port)).toBe(true)
      await expect(newResolver(server).resolve4('dual.test')).resolves.toEqual(['127.0.0.1'])
    } finally {
      await server.close()
    }
  })

  test('freePort returns a port nobody listens on', async () => {
    const port = await freePort()
    expect(port).toBeGreaterThan(0)
    expect(await canConnectTcp(port)).toBe(false)
  })
})
