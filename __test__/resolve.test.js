'use strict'

// resolveIPv4 / lookup against a real DNS server on loopback (the tests' own), through the
// `nameservers` option. The system configuration is exercised in namespace.test.js.

const dgram = require('node:dgram')

const { resolveIPv4, lookup, clearCache } = require('..')
const { startDnsServer, freePort } = require('./helpers/dns-server')
const { rejection } = require('./helpers/rejection')

const ZONE = {
  'dual.test': { A: ['127.0.0.1'], AAAA: ['2406:da18:243:7412::1'], ttl: 300 },
  'v4only.test': { A: ['127.0.0.2', '127.0.0.3'] },
  'v6only.test': { AAAA: ['2406:da18::5'] },
  'db.abcdefghijkl.supabase.co': { AAAA: ['2406:da18::77'] },
  'alias.test': { CNAME: 'hop.test' },
  'hop.test': { CNAME: 'v4only.test' },
  'servfail.test': { rcode: 'SERVFAIL' },
  'refused.test': { rcode: 'REFUSED' },
  'silent.test': { silent: true },
  'big.test': { A: Array.from({ length: 120 }, (_, i) => `10.1.${i >> 8}.${i & 255}`) },
  'short.test': { A: ['127.0.0.9'], ttl: 1 },
  'capped.test': { A: ['127.0.0.10'], ttl: 3600 },
}

let server
let options

beforeAll(async () => {
  server = await startDnsServer({ host: '127.0.0.1', port: 0, zone: ZONE })
  options = { nameservers: [server.address], timeout: 300, attempts: 2, errorTtl: 0 }
})
afterAll(() => server.close())

describe('resolveIPv4 answers', () => {
  test('a dual-stack name gives only its A records', async () => {
    expect(await resolveIPv4('dual.test', options)).toEqual(['127.0.0.1'])
  })

  test('every A record is returned, in order', async () => {
    expect(await resolveIPv4('v4only.test', options)).toEqual(['127.0.0.2', '127.0.0.3'])
  })

  test('names are case-insensitive and may end with a dot', async () => {
    expect(await resolveIPv4('DUAL.Test.', options)).toEqual(['127.0.0.1'])
  })

  test('a CNAME chain is followed to the A records', async () => {
    expect(await resolveIPv4('alias.test', options)).toEqual(['127.0.0.2', '127.0.0.3'])
  })

  test('a truncated UDP answer is retried over TCP', async () => {
    server.resetCounts()
    const addresses = await resolveIPv4('big.test', options)
    expect(addresses).toHaveLength(120)
    expect(server.queries.filter((q) => q.name === 'big.test').map((q) => q.transport)).toEqual(['udp', 'tcp'])
  })

  test('an IPv4 literal returns itself, with no query', async () => {
    server.resetCounts()
    expect(await resolveIPv4('192.0.2.10', options)).toEqual(['192.0.2.10'])
    expect(server.queries).toHaveLength(0)
  })

  test('an IPv4-mapped IPv6 literal returns the IPv4 inside it', async () => {
    expect(await resolveIPv4('::ffff:192.0.2.10')).toEqual(['192.0.2.10'])
    expect(await resolveIPv4('::FFFF:c000:020a')).toEqual(['192.0.2.10'])
  })

  test('localhost is 127.0.0.1 without asking a server', async () => {
    server.resetCounts()
    expect(await resolveIPv4('localhost', options)).toEqual(['127.0.0.1'])
    expect(server.queries).toHaveLength(0)
  })
})

describe('resolveIPv4 errors are shaped like Node dns errors', () => {
  test('ENODATA for an IPv6-only name, naming the host, an AAAA address and the remedy', async () => {
    const err = await rejection(resolveIPv4('v6only.test', options))
    expect(err).toBeInstanceOf(Error)
    expect(err).toMatchObject({ code: 'ENODATA', hostname: 'v6only.test', syscall: 'queryA' })
    expect(err.message).toContain('v6only.test')
    expect(err.message).toContain('resolves only to IPv6 (2406:da18::5)')
    expect(err.message).toContain('IPv4 endpoint')
    expect(err.message).toContain('network with working IPv6')
  })

  test('ENODATA for a Supabase direct host points at the session pooler', async () => {
    const err = await rejection(resolveIPv4('db.abcdefghijkl.supabase.co', options))
    expect(err.code).toBe('ENODATA')
    expect(err.message).toContain(
      'postgres://postgres.abcdefghijkl:[YOUR-PASSWORD]@aws-0-[REGION].pooler.supabase.com:5432/postgres',
    )
    expect(err.message).toContain('6543')
  })

  test('ENOTFOUND for a name that does not exist', async () => {
    const err = await rejection(resolveIPv4('nope.test', options))
    expect(err).toMatchObject({ code: 'ENOTFOUND', hostname: 'nope.test', syscall: 'queryA' })
  })

  test('ESERVFAIL and EREFUSED for server failures', async () => {
    expect((await rejection(resolveIPv4('servfail.test', options))).code).toBe('ESERVFAIL')
    expect((await rejection(resolveIPv4('refused.test', options))).code).toBe('EREFUSED')
  })

  test('ETIMEOUT when the server never answers, within timeout × attempts', async () => {
    const started = Date.now()
    const err = await rejection(resolveIPv4('silent.test', options))
    const elapsed = Date.now() - started
    expect(err.code).toBe('ETIMEOUT')
    expect(elapsed).toBeGreaterThanOrEqual(550)
    expect(elapsed).toBeLessThan(600 + 400)
  })

  test('ETIMEOUT when nothing listens on the server port', async () => {
    const port = await freePort()
    const err = await rejection(resolveIPv4('dual.test', { nameservers: [`127.0.0.1:${port}`], timeout: 200, attempts: 1 }))
    expect(err.code).toBe('ETIMEOUT')
  })

  test('a first nameserver that stops answering costs one short wait, not one per lookup', async () => {
    // The first nameserver is asked directly; unanswered after a third of a second, the other
    // nameservers are asked too, and the silent one is left out for a while.
    const silent = dgram.createSocket('udp4')
    await new Promise((resolve) => silent.bind(0, '127.0.0.1', resolve))
    try {
      const opts = { nameservers: [`127.0.0.1:${silent.address().port}`, server.address], timeout: 3000, attempts: 2, errorTtl: 0 }
      let started = Date.now()
      expect(await resolveIPv4('v4only.test', opts)).toEqual(['127.0.0.2', '127.0.0.3'])
      expect(Date.now() - started).toBeLessThan(1500)
      started = Date.now()
      for (let i = 0; i < 20; i++) {
        expect((await rejection(resolveIPv4(`gone-${i}.test`, opts))).code).toBe('ENOTFOUND')
      }
      // Waiting on the silent server each time would take 20 × 333 ms.
      expect(Date.now() - started).toBeLessThan(3000)
    } finally {
      silent.close()
    }
  })

  const REASONS = {
    empty: 'empty',
    'empty label': 'empty label',
    'label over 63 bytes': 'longer than 63 bytes',
    'name over 253 bytes': 'longer than 253 bytes',
    space: 'not a letter, digit',
    'leading hyphen': "starts or ends with '-'",
    'NUL byte': 'NUL byte',
  }
  test.each([
    ['', 'empty'],
    ['a..b', 'empty label'],
    ['x'.repeat(64) + '.test', 'label over 63 bytes'],
    [Array(60).fill('abcd').join('.'), 'name over 253 bytes'],
    ['bad name.test', 'space'],
    ['-lead.test', 'leading hyphen'],
    ['nul\0.test', 'NUL byte'],
  ])('ENOTFOUND (as getaddrinfo says) for a malformed hostname (%j: %s), with the reason and no query sent', async (hostname, why) => {
    server.resetCounts()
    const err = await rejection(resolveIPv4(hostname, options))
    expect(err).toMatchObject({ code: 'ENOTFOUND', hostname, syscall: 'getaddrinfo' })
    expect(err.message).toMatch(/malformed hostname/)
    expect(err.message).toContain(REASONS[why])
    expect(server.queries).toHaveLength(0)
  })

  test('EAFNOSUPPORT for an IPv6 literal that is not IPv4-mapped', async () => {
    const err = await rejection(resolveIPv4('2406:da18::1'))
    expect(err.code).toBe('EAFNOSUPPORT')
    expect(err.message).toContain('IPv6')
  })

  test.each([[undefined], [null], [42], [{}], [['a.test']]])('ERR_INVALID_ARG_TYPE (a TypeError) for hostname %p', async (bad) => {
    const err = await rejection(resolveIPv4(bad))
    expect(err).toBeInstanceOf(TypeError)
    expect(err.code).toBe('ERR_INVALID_ARG_TYPE')
  })

  test('bad options are refused with a code', async () => {
    expect((await rejection(resolveIPv4('a.test', { nameservers: ['dns.google'] }))).code).toBe('ERR_INVALID_ARG_VALUE')
    expect((await rejection(resolveIPv4('a.test', { nameservers: '127.0.0.1' }))).code).toBe('ERR_INVALID_ARG_TYPE')
    expect((await rejection(resolveIPv4('a.test', { timeout: -1 }))).code).toBe('ERR_OUT_OF_RANGE')
    expect((await rejection(resolveIPv4('a.test', 'fast'))).code).toBe('ERR_INVALID_ARG_TYPE')
  })

  // One rule per option, checked in Rust, whatever the entry point: the same code, class and message.
  test.each([
    [{ timeout: 0 }, 'ERR_OUT_OF_RANGE', RangeError, 'The value of "options.timeout" is out of range. It must be an integer >= 1 and <= 4294967295. Received 0'],
    [{ attempts: 1.5 }, 'ERR_OUT_OF_RANGE', RangeError, 'The value of "options.attempts" is out of range. It must be an integer >= 1 and <= 4294967295. Received 1.5'],
    [{ maxTtl: -1 }, 'ERR_OUT_OF_RANGE', RangeError, 'The value of "options.maxTtl" is out of range. It must be a number of seconds >= 0 (Infinity allowed). Received -1'],
    [{ nameservers: [] }, 'ERR_INVALID_ARG_VALUE', TypeError, 'The "options.nameservers" option is invalid: it must not be empty'],
  ])('%p: the same refusal from resolveIPv4, createLookup, patchNet and diagnose', async (options, code, ErrorClass, message) => {
    const { createLookup, patchNet, diagnose } = require('..')
    const refusals = [
      await rejection(resolveIPv4('a.test', options)),
      await rejection(Promise.resolve().then(() => createLookup(options))),
      await rejection(Promise.resolve().then(() => patchNet(options))),
    ]
    // diagnose() takes only timeout, nameservers and fallback.
    if (!('attempts' in options) && !('maxTtl' in options)) refusals.push(await rejection(diagnose('a.test', options)))
    for (const err of refusals) {
      expect(err).toBeInstanceOf(ErrorClass)
      expect({ code: err.code, message: err.message }).toEqual({ code, message })
    }
  })
})

describe('lookup() is a dns.lookup drop-in that only answers IPv4', () => {
  // lookup() uses the system configuration: only names answered without a server here.
  test('single form: (err, address, 4)', (done) => {
    lookup('localhost', {}, (err, address, family) => {
      expect(err).toBeNull()
      expect(address).toBe('127.0.0.1')
      expect(family).toBe(4)
      done()
    })
  })

  test('all: true gives [{address, family: 4}]', (done) => {
    lookup('::ffff:10.0.0.7', { all: true }, (err, list) => {
      expect(err).toBeNull()
      expect(list).toEqual([{ address: '10.0.0.7', family: 4 }])
      done()
    })
  })

  test('a number as options, and family 6 asked, still answers IPv4', (done) => {
    lookup('localhost', 6, (err, address, family) => {
      expect([err, address, family]).toEqual([null, '127.0.0.1', 4])
      done()
    })
  })

  test('options may be left out', (done) => {
    lookup('10.1.1.1', (err, address, family) => {
      expect([err, address, family]).toEqual([null, '10.1.1.1', 4])
      done()
    })
  })

  test('the callback is never called synchronously', () => {
    let called = false
    lookup('10.1.1.1', () => { called = true })
    expect(called).toBe(false)
  })

  test('errors come through the callback with a code', (done) => {
    lookup('a..b', {}, (err) => {
      expect(err.code).toBe('ENOTFOUND')
      done()
    })
  })

  test('a missing callback or a non-string hostname throws ERR_INVALID_ARG_TYPE', () => {
    expect(() => lookup('a.test', {})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    // Node's own dns.lookup error (thrown from Node's realm, so matched by code, not class).
    expect(() => lookup(7, {}, () => {})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
  })
})

describe('cache: TTL, de-duplication, negative caching', () => {
  // Each test gets its own resolver configuration (and so its own cache) by varying attempts.
  let nth = 10
  const fresh = (extra) => ({ nameservers: [server.address], timeout: 300, attempts: nth++, ...extra })

  test('1000 concurrent lookups of one cold name send one query', async () => {
    const opts = fresh()
    server.resetCounts()
    const answers = await Promise.all(Array.from({ length: 1000 }, () => resolveIPv4('dual.test', opts)))
    expect(new Set(answers.map((a) => a.join()))).toEqual(new Set(['127.0.0.1']))
    expect(server.countQueries('dual.test', 'A')).toBe(1)
  })

  test('a cached answer is served without a query until its TTL runs out', async () => {
    const opts = fresh()
    server.resetCounts()
    await resolveIPv4('short.test', opts)
    await resolveIPv4('short.test', opts)
    expect(server.countQueries('short.test', 'A')).toBe(1)
    await new Promise((r) => setTimeout(r, 1100))
    await resolveIPv4('short.test', opts)
    expect(server.countQueries('short.test', 'A')).toBe(2)
  })

  test('maxTtl caps a long TTL', async () => {
    const opts = fresh({ maxTtl: 0.2 })
    server.resetCounts()
    await resolveIPv4('capped.test', opts)
    await resolveIPv4('capped.test', opts)
    expect(server.countQueries('capped.test', 'A')).toBe(1)
    await new Promise((r) => setTimeout(r, 300))
    await resolveIPv4('capped.test', opts)
    expect(server.countQueries('capped.test', 'A')).toBe(2)
  })

  test('failures are cached for errorTtl only', async () => {
    const opts = fresh({ errorTtl: 0.3 })
    server.resetCounts()
    await rejection(resolveIPv4('nope-cached.test', opts))
    const again = await rejection(resolveIPv4('nope-cached.test', opts))
    expect(again.code).toBe('ENOTFOUND')
    expect(server.countQueries('nope-cached.test', 'A')).toBe(1)
    await new Promise((r) => setTimeout(r, 400))
    await rejection(resolveIPv4('nope-cached.test', opts))
    expect(server.countQueries('nope-cached.test', 'A')).toBe(2)
  })

  test('errorTtl and maxTtl of Infinity keep answers and failures instead of failing the lookup', async () => {
    const opts = fresh({ errorTtl: Infinity, maxTtl: Infinity })
    server.resetCounts()
    for (let i = 0; i < 2; i++) {
      expect((await rejection(resolveIPv4('nope-forever.test', opts))).code).toBe('ENOTFOUND')
      expect(await resolveIPv4('dual.test', opts)).toEqual(['127.0.0.1'])
    }
    expect(server.countQueries('nope-forever.test', 'A')).toBe(1)
    expect(server.countQueries('dual.test', 'A')).toBe(1)
  })

  test('clearCache() forgets every answer', async () => {
    const opts = fresh()
    server.resetCounts()
    await resolveIPv4('dual.test', opts)
    clearCache()
    await resolveIPv4('dual.test', opts)
    expect(server.countQueries('dual.test', 'A')).toBe(2)
  })

  test('a changed record is seen once the old answer expires', async () => {
    const opts = fresh()
    await resolveIPv4('short.test', opts)
    server.setZone({ ...ZONE, 'short.test': { A: ['127.0.0.99'], ttl: 1 } })
    try {
      await new Promise((r) => setTimeout(r, 1100))
      expect(await resolveIPv4('short.test', opts)).toEqual(['127.0.0.99'])
    } finally {
      server.setZone(ZONE)
    }
  })
})
