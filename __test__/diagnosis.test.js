'use strict'

// The diagnosis reaches the person (issue 20): the IPV4_FORCE_IPV6_ONLY warning, the start-up
// preflight (IPV4_FORCE_CHECK / patchNet({ check })), the `ipv4-force:lookup` diagnostics channel
// and stats().
//
// The namespace part runs fixtures/diagnosis/driver.js: real grpc-js and ioredis Cluster (the two
// clients measured to swallow the ENODATA error), worker threads, and the preflight, each as its
// own process with the system configuration (resolv.conf names the test DNS server on 127.0.0.1).
// The rest runs in this process, against a DNS server on loopback given as `nameservers`.

const net = require('node:net')
const path = require('node:path')
const diagnosticsChannel = require('node:diagnostics_channel')
const { describeInNamespace, runDriver } = require('./helpers/netns')
const { startDnsServer } = require('./helpers/dns-server')
const ipv4Force = require('..')

const DRIVER = path.join(__dirname, 'fixtures', 'diagnosis', 'driver.js')
const WARNING = '[IPV4_FORCE_IPV6_ONLY]'
const warningsIn = (text) => text.split(WARNING).length - 1

describeInNamespace('the diagnosis reaches the person, in real processes', () => {
  let runs
  beforeAll(async () => {
    const run = await runDriver({
      script: DRIVER,
      etc: { 'resolv.conf': 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n', hosts: '127.0.0.1 localhost\n::1 localhost\n' },
      tag: 'diagnosis',
      timeout: 150_000,
    })
    runs = run.runs
  }, 160_000)

  describe.each(['grpc', 'ioredis-cluster'])('%s, which reports the failure without ipv4-force\'s error', (client) => {
    test.each(['patch', 'register'])('%s: two failed attempts, exactly one warning naming the host, its IPv6 address and the remedy', (mode) => {
      const r = runs[`${client}/${mode}`]
      const { attempts } = JSON.parse(r.stdout)
      expect(attempts).toHaveLength(2)
      for (const attempt of attempts) {
        expect(attempt.ok).toBeUndefined()
        // What the library says by itself: nothing about IPv6 or what to do.
        expect(attempt.message).not.toMatch(/ENODATA|IPv6/)
      }
      expect(warningsIn(r.stderr)).toBe(1)
      const warning = r.stderr.slice(r.stderr.indexOf(WARNING))
      expect(warning).toContain('v6only.svc.test')
      expect(warning).toContain('2001:db8::20')
      expect(warning).toContain('Use an IPv4 endpoint of this service')
    })

    test.each([
      ['--disable-warning=IPV4_FORCE_IPV6_ONLY', 'disable-warning'],
      ['patchNet({ warnings: false })', 'warnings-false'],
      ['IPV4_FORCE_WARNINGS=0 with register', 'register-warnings-0'],
      ['--no-warnings', 'no-warnings'],
    ])('%s: no warning', (_, name) => {
      const r = runs[`${client}/${name}`]
      expect(JSON.parse(r.stdout).attempts).toHaveLength(2)
      expect(r.stderr).not.toContain('IPV4_FORCE_IPV6_ONLY')
      expect(r.stderr).not.toContain('v6only.svc.test')
    })
  })

  test('the main thread and two worker threads find the host: one warning for the process', () => {
    const r = runs.workers
    const { attempts } = JSON.parse(r.stdout)
    for (const { main, workers } of attempts) {
      expect(main.code).toBe('ENODATA')
      expect(workers.map((w) => w.code)).toEqual(['ENODATA', 'ENODATA'])
    }
    expect(warningsIn(r.stderr)).toBe(1)
  })

  test('resolveIPv4 and lookup called directly: their caller gets ENODATA, and there is no warning', () => {
    const r = runs.direct
    for (const { viaResolve, viaLookup } of JSON.parse(r.stdout).attempts) {
      expect(viaResolve.code).toBe('ENODATA')
      expect(viaLookup.code).toBe('ENODATA')
    }
    expect(r.stderr).toBe('')
  })

  describe('the preflight (IPV4_FORCE_CHECK=DATABASE_URL, CACHE_URL,MISSING_URL, through --require register)', () => {
    const lines = () => runs.preflight.stderr.trim().split('\n')

    test('one line per target, each starting with "ipv4-force:", and nothing else on stderr', () => {
      expect(lines()).toHaveLength(3)
      for (const line of lines()) expect(line).toMatch(/^ipv4-force: /)
    })

    test('a healthy target: its redacted URL, ok, and the IPv4 address connected to', () => {
      expect(lines()).toContainEqual(expect.stringMatching(
        /^ipv4-force: CACHE_URL redis:\/\/\*\*\*\*@dual\.svc\.test:6390 ok: connected over IPv4 to 127\.0\.0\.1:6390 in [\d.]+ ms$/))
    })

    test('an IPv6-only target: its redacted URL, the verdict and the remedy', () => {
      const line = lines().find((l) => l.includes('DATABASE_URL'))
      expect(line).toMatch(/^ipv4-force: DATABASE_URL postgres:\/\/\*\*\*\*@v6only\.svc\.test:5432\/app ipv6-only: /)
      expect(line).toContain('2001:db8::20')
      expect(line).toContain('Next step: Forcing IPv4 cannot help')
    })

    test('an unset variable: one line saying so', () => {
      expect(lines()).toContain('ipv4-force: MISSING_URL is not set (named in IPV4_FORCE_CHECK), nothing to check')
    })

    test('the password never appears', () => {
      for (const name of ['preflight', 'preflight-quick-exit']) {
        expect(runs[name].stderr + runs[name].stdout).not.toContain('s3cr3t')
      }
    })

    test('the app starts at once and exits by itself when its own work is done', () => {
      const [ready] = runs.preflight.stdout.split('\n')
      // ms since the process started, when the app's first line ran: as fast as without a preflight.
      const readyMs = Number(ready.split(' ')[1])
      const plainMs = Number(runs['no-preflight'].stdout.split('\n')[0].split(' ')[1])
      expect(readyMs).toBeLessThan(plainMs + 50)
      expect(runs.preflight.stdout).toBe(`${ready}\ndone\n`)
      // WORK_MS is 2500: the checks finished well within it, and nothing held the process after.
      expect(runs.preflight.ms).toBeLessThan(2500 + 1500)
      expect(runs.preflight.code).toBe(0)
    })

    test('a check still running (a DNS server that never answers) does not hold a process that is done', () => {
      const r = runs['preflight-quick-exit']
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/^ready [\d.]+\ndone\n$/)
      // The check alone would take 3 s or more (the DNS attempt's time limit).
      expect(r.ms).toBeLessThan(1500)
      expect(r.stderr).toBe('')
    })
  })
}, { commands: ['ip'] })

describe('in this process, with nameservers given', () => {
  let dns
  let server
  let port
  let nameservers
  beforeAll(async () => {
    dns = await startDnsServer({
      host: '127.0.0.1',
      port: 0,
      zone: {
        'one.diag.test': { A: ['127.0.0.1'], AAAA: ['2001:db8::1'] },
        'v6.diag.test': { AAAA: ['2001:db8::66'] },
        'v6-quiet.diag.test': { AAAA: ['2001:db8::67'] },
        'v6-direct.diag.test': { AAAA: ['2001:db8::68'] },
        'v6-lookup.diag.test': { AAAA: ['2001:db8::69'] },
      },
    })
    server = net.createServer((socket) => socket.destroy())
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = server.address().port
    nameservers = [dns.address]
  })
  afterAll(async () => {
    ipv4Force.unpatchNet()
    await dns.close()
    await new Promise((resolve) => server.close(resolve))
  })

  const connect = (host) => new Promise((resolve) => {
    const socket = net.connect(port, host)
    socket.on('connect', () => { resolve({ address: socket.remoteAddress }); socket.destroy() })
    socket.on('error', (err) => resolve({ code: err.code }))
  })

  // The IPV4_FORCE_IPV6_ONLY warnings emitted while `body` runs, as {message}. (Jest's sandboxed
  // `process` does not see 'warning' events; the call to process.emitWarning is what is watched.)
  async function warningsDuring(body) {
    const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => {})
    try {
      await body()
      return spy.mock.calls.filter(([, options]) => options && options.code === 'IPV4_FORCE_IPV6_ONLY').map(([message]) => ({ message }))
    } finally {
      spy.mockRestore()
    }
  }

  test('ipv4-force:lookup: hostname and addresses for a dual-stack name, hostname and error for an IPv6-only one', async () => {
    ipv4Force.patchNet({ nameservers })
    const events = []
    const onEvent = (message) => events.push(message)
    diagnosticsChannel.subscribe('ipv4-force:lookup', onEvent)
    try {
      expect(await connect('one.diag.test')).toEqual({ address: '127.0.0.1' })
      // Asked again: answered from the cache, and published all the same (even where a name
      // with one address would otherwise skip dns.lookup).
      expect(await connect('one.diag.test')).toEqual({ address: '127.0.0.1' })
      expect(await connect('v6.diag.test')).toEqual({ code: 'ENODATA' })
    } finally {
      diagnosticsChannel.unsubscribe('ipv4-force:lookup', onEvent)
    }
    expect(events).toHaveLength(3)
    expect(events[0]).toEqual({ hostname: 'one.diag.test', addresses: ['127.0.0.1'], cached: false, duration: expect.any(Number), backend: 'native' })
    expect(events[1]).toMatchObject({ hostname: 'one.diag.test', addresses: ['127.0.0.1'], cached: true })
    expect(events[2]).toMatchObject({ hostname: 'v6.diag.test', cached: false, backend: 'native' })
    expect(events[2].error).toBeInstanceOf(Error)
    expect(events[2].error.code).toBe('ENODATA')
    expect(events[2].error.message).toContain('2001:db8::66')
    expect(events[2].addresses).toBeUndefined()
    for (const event of events) expect(event.duration).toBeGreaterThanOrEqual(0)
    // Unsubscribed: nothing more is published.
    await connect('one.diag.test')
    expect(events).toHaveLength(3)
  })

  test('the warning: once per host, also through patched dns.lookup; none with warnings: false, none for direct calls', async () => {
    ipv4Force.patchNet({ nameservers })
    const first = await warningsDuring(async () => {
      await new Promise((resolve) => require('node:dns').lookup('v6-lookup.diag.test', () => resolve()))
      await connect('v6-lookup.diag.test')
      await new Promise((resolve) => require('node:dns').lookup('V6-lookup.diag.test.', () => resolve()))
    })
    expect(first.map((w) => w.message)).toEqual([expect.stringContaining('connections to v6-lookup.diag.test fail with ENODATA')])

    ipv4Force.patchNet({ nameservers, warnings: false })
    expect(await warningsDuring(() => connect('v6-quiet.diag.test'))).toHaveLength(0)
    ipv4Force.patchNet({ nameservers })
    const later = await warningsDuring(async () => {
      await ipv4Force.resolveIPv4('v6-direct.diag.test', { nameservers }).catch(() => {})
      await connect('v6-quiet.diag.test')
      await connect('v6-quiet.diag.test')
    })
    expect(later.map((w) => w.message)).toEqual([expect.stringContaining('connections to v6-quiet.diag.test fail with ENODATA')])
    expect(later[0].message).toContain('2001:db8::67')
  })

  test('stats(): counters since start, for lookups, cache hits, queries, IPv6-only hosts', async () => {
    ipv4Force.patchNet({ nameservers })
    const before = ipv4Force.stats()
    expect(Object.keys(before).sort()).toEqual(
      ['cacheHits', 'configChecks', 'configReloads', 'fallbacks', 'ipv6OnlyHosts', 'lookups', 'queriesSent', 'timeouts'])
    await connect('one.diag.test')
    await connect('one.diag.test')
    await connect('one.diag.test')
    const after = ipv4Force.stats()
    expect(after.lookups - before.lookups).toBe(3)
    expect(after.cacheHits - before.cacheHits).toBeGreaterThanOrEqual(2)
    expect(after.ipv6OnlyHosts).toBeGreaterThanOrEqual(4) // v6, v6-lookup, v6-quiet, v6-direct
    // A name never seen before: its query is counted.
    await ipv4Force.resolveIPv4('v6-direct.diag.test', { nameservers, errorTtl: 0 }).catch(() => {})
    expect(ipv4Force.stats().queriesSent).toBeGreaterThan(after.queriesSent)
  })

  test('patchNet({ check }) and { warnings } are type-checked', () => {
    expect(() => ipv4Force.patchNet({ check: 'postgres://x' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    expect(() => ipv4Force.patchNet({ warnings: 'no' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
  })
})
