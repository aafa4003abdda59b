'use strict'

// Differential proof that ipv4-force changes the address family and nothing else: every scenario
// in fixtures/fidelity/scenarios.js (connects, failover, option reading, Node's argument checks,
// a caller's own lookup, numeric and underscore names, dns.lookup users) runs in plain Node and
// patched (patchNet() with the system config, `--require register.js`, and patchNet() with
// explicit `nameservers`), with real sockets and the test DNS server as
// the system resolver of a private namespace, and what a user observes must be identical. The
// "intended:" scenarios are the documented differences (IPv4 answers only, IPv6 literals refused,
// ENODATA for an IPv6-only host): for them the patched side is checked on its own.
//
// Runs on whatever node runs jest (process.execPath): .ci/run reruns it on Node 22 and 24.9.
// Needs root and unshare (Linux); skipped with a warning elsewhere, a failure when CI=true.

const path = require('node:path')
const { describeInNamespace, runDriver } = require('./helpers/netns')
const { SCENARIO_NAMES } = require('./fixtures/fidelity/scenarios')

const DRIVER = path.join(__dirname, 'fixtures', 'fidelity', 'driver.js')
const RESOLV_CONF = 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n'
const HOSTS = '127.0.0.1 localhost\n::1 localhost ip6-localhost\n127.0.0.3 hostsonly.test\n'
const PATCHED_MODES = ['patch', 'register', 'nameservers']
const RUN_TIMEOUT_MS = 360_000

// A name that does not resolve: the class, code and hostname must be Node's; the message must
// hold "ENOTFOUND <host>" and may go on with ipv4-force's precise reason; syscall and errno
// (getaddrinfo's, -3008) are not compared: ipv4-force does not call getaddrinfo.
function comparable(value) {
  if (Array.isArray(value)) return value.map(comparable)
  if (value === null || typeof value !== 'object') return value
  const out = {}
  for (const [key, v] of Object.entries(value)) out[key] = comparable(v)
  if (value.code === 'ENOTFOUND' && typeof value.message === 'string') {
    const m = / ENOTFOUND (\S+?):?(?: |$)/.exec(value.message)
    out.message = m ? `ENOTFOUND ${m[1]}` : value.message
    delete out.syscall
    delete out.errno
  }
  return out
}

const events = (seen) => (seen.events || []).map((e) => e.event)
const syncEvents = (seen) => (seen.events || []).filter((e) => e.sync)
const errorEvent = (seen) => (seen.events || []).find((e) => e.event === 'error')

// The patched observation for each intended difference.
const INTENDED = {
  'intended: dual-stack name via dns.lookup': (seen) => {
    expect(seen).toEqual({ sync: false, address: '127.0.0.3', family: 4 })
  },
  'intended: dual-stack name via dns.lookup all': (seen) => {
    expect(seen).toEqual({ sync: false, address: [{ address: '127.0.0.3', family: 4 }], family: undefined })
  },
  'intended: dual-stack name via dns.promises.lookup all': (seen) => {
    expect(seen).toEqual({ value: [{ address: '127.0.0.3', family: 4 }] })
  },
  'intended: IPv6-only name via dns.lookup': (seen) => {
    expect(seen.sync).toBe(false)
    expect(seen.error).toMatchObject({ code: 'ENODATA', hostname: 'v6only.test' })
    expect(seen.error.message).toContain('2001:db8::5')
  },
  'intended: IPv6-only name via dns.promises.lookup': (seen) => {
    expect(seen.rejected).toMatchObject({ code: 'ENODATA', hostname: 'v6only.test' })
    expect(seen.rejected.message).toContain('2001:db8::5')
  },
  'intended: IPv6-only name connect': (seen) => {
    expect(seen.thrown).toBeUndefined()
    expect(syncEvents(seen)).toEqual([])
    expect(errorEvent(seen).error).toMatchObject({ code: 'ENODATA' })
    expect(errorEvent(seen).error.message).toContain('2001:db8::5')
  },
  'intended: IPv6 literal connect': (seen) => {
    expect(seen.thrown).toBeUndefined()
    expect(syncEvents(seen)).toEqual([])
    // Node emits no 'lookup' for an IP literal; nor may the refusal.
    expect(events(seen)).toEqual(['error', 'close'])
    expect(errorEvent(seen).error).toMatchObject({ code: 'EAFNOSUPPORT' })
    expect(errorEvent(seen).error.message).toContain('::1')
  },
  'intended: IPv6 literal net.connect': (seen) => {
    expect(seen.thrown).toBeUndefined()
    expect(events(seen)).toEqual(['error', 'close'])
    expect(errorEvent(seen).error).toMatchObject({ code: 'EAFNOSUPPORT' })
  },
  'intended: dual-stack name connect': (seen) => {
    expect(syncEvents(seen)).toEqual([])
    const connect = (seen.events || []).find((e) => e.event === 'connect')
    expect(connect).toMatchObject({ remoteAddress: '127.0.0.3', remoteFamily: 'IPv4' })
  },
  'intended: dual-stack name, lookup: dns.lookup held from before the patch': (seen) => {
    expect(syncEvents(seen)).toEqual([])
    // Node's own lookup would offer the AAAA address too (a 'lookup' event and an attempt).
    expect((seen.events || []).filter((e) => e.family === 6)).toEqual([])
    const connect = (seen.events || []).find((e) => e.event === 'connect')
    expect(connect).toMatchObject({ remoteAddress: '127.0.0.3', remoteFamily: 'IPv4' })
  },
  'intended: family 6': (seen) => {
    expect(seen.thrown).toBeUndefined()
    expect(syncEvents(seen)).toEqual([])
  },
}

describeInNamespace('fidelity: patched Node observes what plain Node observes', () => {
  let run
  beforeAll(async () => {
    run = await runDriver({ script: DRIVER, etc: { 'resolv.conf': RESOLV_CONF, hosts: HOSTS }, tag: 'fidelity', timeout: RUN_TIMEOUT_MS })
    for (const mode of ['plain', ...PATCHED_MODES]) {
      if (!run[mode] || run[mode].childFailed) throw new Error(`${mode} run failed: ${run[mode] && run[mode].childFailed}`)
    }
  }, RUN_TIMEOUT_MS + 10_000)

  test('the scenarios ran in every mode', () => {
    for (const mode of ['plain', ...PATCHED_MODES]) expect(Object.keys(run[mode]).sort()).toEqual([...SCENARIO_NAMES].sort())
  })

  // Sanity of the baseline: the scenarios show what they claim about plain Node.
  test('plain Node fails over between A records and parses numeric hosts', () => {
    const failover = run.plain['failover: first A refused, second listening']
    expect(failover.attemptedAddresses).toEqual(['127.0.0.2:4000', '127.0.0.3:4000'])
    expect(events(failover)).toContain('connect')
    expect(run.plain['numeric: 0x7f.1'].events.find((e) => e.event === 'connect').remoteAddress).toBe('127.0.0.1')
    expect(run.plain['underscore: my_service'].events.find((e) => e.event === 'connect').remoteAddress).toBe('127.0.0.3')
  })

  for (const name of SCENARIO_NAMES) {
    for (const mode of PATCHED_MODES) {
      test(`${mode}: ${name}`, () => {
        let seen = run[mode][name]
        let plain = run.plain[name]
        if (mode === 'register' && name === 'unpatchNet: everything restored') {
          seen = { ...seen, restored: undefined }
          plain = { ...plain, restored: undefined }
        }
        if (INTENDED[name]) INTENDED[name](seen)
        else expect(comparable(seen)).toEqual(comparable(plain))
      })
    }
  }
}, { commands: ['ip'] })
