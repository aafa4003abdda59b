'use strict'

// ipv4-force follows the system's DNS configuration while the process runs, as getaddrinfo does:
// /etc/resolv.conf and /etc/hosts rewritten in place, replaced by rename, or turned into a
// symlink into /run are seen by lookups that start one check interval (1 s) after the change,
// with real DNS servers on loopback inside a private namespace (fixtures/follow/driver.js). Each
// step asserts the answer and an upper bound on the lookup's time: a resolver that kept asking
// the old server would only answer through the getaddrinfo fallback, after a >= 1 s timeout.
// Then the deployments' own resolv.conf forms (fixtures/follow/deploy.js), with the queries sent
// counted against glibc's for the same names.

const path = require('node:path')
const { describeInNamespace, runDriver } = require('./helpers/netns')

const DRIVER = path.join(__dirname, 'fixtures', 'follow', 'driver.js')
const DEPLOY = path.join(__dirname, 'fixtures', 'follow', 'deploy.js')
// An answer from a live server on loopback, or from the hosts file: far below any DNS timeout.
const FAST_MS = 300

const fastAnswer = (step, addresses) => {
  expect(step).toMatchObject({ ok: true, value: addresses })
  expect(step.ms).toBeLessThan(FAST_MS)
}

describeInNamespace('following /etc/resolv.conf and /etc/hosts while the process runs', () => {
  let steps
  beforeAll(async () => {
    const run = await runDriver({
      script: DRIVER,
      tag: 'follow',
      privateEtc: true,
      timeout: 60_000,
      etc: {
        'resolv.conf': 'nameserver 127.0.0.1\nsearch zone1.test\noptions timeout:1 attempts:2\n',
        hosts: '127.0.0.1 localhost\n127.0.9.1 pinned.test\n',
      },
    })
    steps = run.steps
  }, 70_000)

  test('the start: the configuration as it was when the process started', () => {
    expect(steps.backends).toEqual({ main: 'native', copy: 'node' })
    fastAnswer(steps.start, ['127.0.1.1'])
    fastAnswer(steps.startShort, ['127.0.1.4'])
    fastAnswer(steps.startHosts, ['127.0.9.1'])
    expect(steps.startPatched).toMatchObject({ ok: true, value: { address: '127.0.9.1', family: 4 } })
    expect(steps.startWorker).toMatchObject({ ok: true, value: ['127.0.9.1'] })
  })

  test('a new nameserver, written in place, is asked at once; answers cached from the old one are dropped', () => {
    fastAnswer(steps.nameserverInPlace, ['127.0.2.2'])
    fastAnswer(steps.cachedAnswerDropped, ['127.0.2.1'])
    fastAnswer(steps.searchWithNameserver, ['127.0.2.4'])
  })

  test('a new nameserver, by rename', () => {
    fastAnswer(steps.nameserverRename, ['127.0.3.3'])
  })

  test('a new search list alone, by rename: a short name follows it', () => {
    fastAnswer(steps.searchRename, ['127.0.3.4'])
  })

  test("systemd-resolved's symlink into /run, and its target replaced by rename", () => {
    fastAnswer(steps.symlink, ['127.0.2.3'])
    fastAnswer(steps.symlinkTargetRenamed, ['127.0.3.2'])
  })

  test('a hosts entry changed in place: resolveIPv4, the patched dns.lookup and a worker thread see it', () => {
    fastAnswer(steps.hostsChanged, ['127.0.9.2'])
    expect(steps.hostsChangedPatched).toMatchObject({ ok: true, value: { address: '127.0.9.2', family: 4 } })
    expect(steps.hostsChangedPatched.ms).toBeLessThan(FAST_MS)
    expect(steps.hostsChangedWorker).toMatchObject({ ok: true, value: ['127.0.9.2'] })
    expect(steps.hostsChangedWorker.ms).toBeLessThan(FAST_MS)
  })

  test('a hosts entry added for a name answered (and cached) from DNS before', () => {
    fastAnswer(steps.addedBefore, ['127.0.3.5'])
    fastAnswer(steps.hostsAdded, ['127.0.9.5'])
    expect(steps.hostsAddedGlibc).toMatchObject({ ok: true, value: '127.0.9.5' })
  })

  test('a hosts entry removed (file replaced by rename): DNS answers again', () => {
    fastAnswer(steps.hostsRemoved, ['127.0.3.6'])
    expect(steps.hostsRemovedPatched).toMatchObject({ ok: true, value: { address: '127.0.3.6', family: 4 } })
  })

  test('the JS fallback backend follows the system through getaddrinfo', () => {
    fastAnswer(steps.fallbackBackendNameserver, ['127.0.2.2'])
    fastAnswer(steps.hostsChangedFallbackBackend, ['127.0.9.2'])
    fastAnswer(steps.hostsRemovedFallbackBackend, ['127.0.3.6'])
  })

  test('resolv.conf missing or empty: the last good configuration stays, the fallback still answers', () => {
    fastAnswer(steps.missing, ['127.0.3.2'])
    // A resolver made while the file is missing gets the last good configuration too.
    fastAnswer(steps.missingNewResolver, ['127.0.3.1'])
    fastAnswer(steps.empty, ['127.0.3.3'])
    // Unknown to the last good server: getaddrinfo (127.0.0.1 when resolv.conf is empty) answers.
    fastAnswer(steps.emptyFallback, ['127.0.1.7'])
    // A usable file again is followed.
    fastAnswer(steps.restored, ['127.0.1.6'])
    fastAnswer(steps.restoredNoFallback, ['127.0.1.7'])
  })

  test('a file flapping 100 times a second: one rebuild per second at most, no lookup fails', () => {
    const f = steps.flapping
    expect(f.flips).toBeGreaterThan(100)
    expect(f.lookups).toBeGreaterThan(200)
    expect(f.failures).toEqual([])
    expect(f.slowest).toBeLessThan(1000)
    expect(f.answers).toEqual(['127.0.1.8', '127.0.2.8'])
    // Every check finds new bytes; there is one check a second at most.
    expect(f.reloads).toBeGreaterThanOrEqual(2)
    expect(f.reloads).toBeLessThanOrEqual(Math.ceil(f.seconds) + 1)
  })

  test("the old resolvers' sockets are released; the files are checked at most once a second", () => {
    expect(steps.socketsAfter).toBeLessThanOrEqual(steps.socketsBefore + 2)
    expect(steps.stats.reloads).toBeGreaterThanOrEqual(8)
    // About 20 s of steps: never more than one check per second, plus the one claimed at once.
    expect(steps.stats.checks).toBeLessThanOrEqual(30)
  })
})

// The resolv.conf forms of common deployments, each in its own namespace: the answers, their time,
// and the queries sent, never more than glibc sends for the same name.
const K8S_SEARCH = 'ns1.svc.cluster.local svc.cluster.local cluster.local'
const DEPLOYMENTS = {
  kubernetes: {
    resolv: `search ${K8S_SEARCH}\nnameserver 127.0.0.10\noptions ndots:5\n`,
    server: '127.0.0.10',
    zone: {
      'api.ns1.svc.cluster.local': { A: ['127.0.4.1'] },
      'db.other.svc.cluster.local': { A: ['127.0.4.2'] },
      'example.com': { A: ['127.0.4.3'] },
    },
    expected: { api: ['127.0.4.1'], 'db.other': ['127.0.4.2'], 'example.com': ['127.0.4.3'], 'example.com.': ['127.0.4.3'] },
  },
  'systemd-resolved stub': {
    resolv: 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n',
    server: '127.0.0.53',
    zone: { 'host.test': { A: ['127.0.5.1'] }, intranet: { A: ['127.0.5.2'] } },
    expected: { 'host.test': ['127.0.5.1'], intranet: ['127.0.5.2'] },
  },
  'Docker embedded DNS': {
    resolv: 'nameserver 127.0.0.11\noptions ndots:0\n',
    server: '127.0.0.11',
    zone: { web: { A: ['127.0.6.1'] }, 'db.internal': { A: ['127.0.6.2'] } },
    expected: { web: ['127.0.6.1'], 'db.internal': ['127.0.6.2'] },
  },
  'unknown options': {
    resolv: 'nameserver 127.0.0.12\noptions rotate no-such-option frobnicate:9 single-request-reopen use-vc inet6\noptions timeout:1\n',
    server: '127.0.0.12',
    zone: { 'db.test': { A: ['127.0.7.1'] } },
    expected: { 'db.test': ['127.0.7.1'] },
  },
}

describeInNamespace('deployment resolv.conf forms', () => {
  test.each(Object.keys(DEPLOYMENTS))('%s', async (name) => {
    const { resolv, server, zone, expected } = DEPLOYMENTS[name]
    const run = await runDriver({
      script: DEPLOY,
      tag: 'deploy',
      args: [JSON.stringify({ server, zone, names: Object.keys(expected) })],
      etc: { 'resolv.conf': resolv, hosts: '127.0.0.1 localhost\n' },
    })
    for (const [host, addresses] of Object.entries(expected)) {
      const { ours, glibc } = run.names[host]
      expect({ host, ...ours }).toMatchObject({ host, ok: true, value: addresses })
      expect(ours.ms).toBeLessThan(FAST_MS)
      expect(glibc).toMatchObject({ ok: true, value: addresses })
      // Never more queries than glibc sends for the same name (glibc's AF_INET lookup: A only).
      expect({ host, queries: ours.queries.length }).toEqual({ host, queries: Math.min(ours.queries.length, glibc.queries.length) })
    }
  })
})
