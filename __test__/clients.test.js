'use strict'

// Real clients that resolve names themselves, on a reproduced IPv4-only platform (a private
// namespace where an interface carries an IPv4 /32 and an fe80:: link-local address, nothing
// routes IPv6, Node runs with --dns-result-order=ipv6first --no-network-family-autoselection):
// ioredis Cluster (a real redis-server in cluster mode), @grpc/grpc-js, got with dnsCache: true
// (cacheable-lookup) and undici's interceptors.dns(). Each reaches an IPv4-only host (the
// control), a dual-stack host and an IPv6-only host, plain, with patchNet() and with
// `--require register.js`. The scenario is fixtures/clients/driver.js.
//
// Needs root, unshare and redis-server; skipped with a warning elsewhere, a failure when CI=true.

const path = require('node:path')
const { describeInNamespace, runDriver } = require('./helpers/netns')

const DRIVER = path.join(__dirname, 'fixtures', 'clients', 'driver.js')
const RESOLV_CONF = 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n'
const HOSTS = '127.0.0.1 localhost\n::1 localhost ip6-localhost\n'
const CLIENTS = ['ioredis-cluster', 'grpc', 'got-dnscache', 'undici-dns']
const PATCHED_MODES = ['patch', 'register']
const IPV6_ONLY_ADDRESS = '2001:db8::20'
// Libraries whose error carries the cause from the lookup or the connect; ioredis Cluster
// ("None of startup nodes is available") and grpc-js ("Name resolution failed") drop it.
const SURFACES_CAUSE = new Set(['got-dnscache', 'undici-dns'])
const RUN_TIMEOUT_MS = 300_000

const errorText = (r) => JSON.stringify([r.error, r.lastError, r.crashed, r.childFailed])

describeInNamespace('real clients that resolve names themselves, on an IPv4-only platform', () => {
  let results
  beforeAll(async () => {
    // Readable by others: the driver's servers keep their files in it.
    const run = await runDriver({ script: DRIVER, etc: { 'resolv.conf': RESOLV_CONF, hosts: HOSTS }, tag: 'clients', timeout: RUN_TIMEOUT_MS, folderMode: 0o755 })
    results = run.results
  }, RUN_TIMEOUT_MS + 10_000)

  for (const client of CLIENTS) {
    describe(client, () => {
      test('control: every mode reaches an IPv4-only host', () => {
        for (const mode of ['plain', ...PATCHED_MODES]) {
          expect({ mode, ...results[client].v4only[mode] }).toMatchObject({ mode, ok: true })
        }
      })

      test('plain Node cannot reach the IPv6-only host here', () => {
        expect(results[client].v6only.plain.ok).toBe(false)
      })

      for (const mode of PATCHED_MODES) {
        test(`${mode}: the dual-stack host is reached over IPv4`, () => {
          const r = results[client].dual[mode]
          expect(r).toMatchObject({ ok: true })
          expect(r.detail.peer || r.detail.nodes[0]).toMatch(/^127\.0\.0\.1[:]?/)
        })

        test(`${mode}: the IPv6-only host fails with ipv4-force's diagnosis`, () => {
          const r = results[client].v6only[mode]
          expect(r.ok).toBe(false)
          const text = errorText(r)
          // No IPv6 connect was tried: it is ipv4-force that answers.
          expect(text).not.toContain('ENETUNREACH')
          if (SURFACES_CAUSE.has(client)) expect(text).toMatch(/ENODATA|EAFNOSUPPORT/)
          // ENODATA names the AAAA address; an IPv6 literal refused (the library resolved the
          // name itself) is named too, and the message says a library resolved it.
          if (/ENODATA/.test(text)) expect(text).toContain(IPV6_ONLY_ADDRESS)
          if (/EAFNOSUPPORT/.test(text)) {
            expect(text).toContain(IPV6_ONLY_ADDRESS)
            expect(text).toMatch(/resolv/i)
          }
        })
      }
    })
  }

  test('plain ioredis Cluster fails on the dual-stack host (the platform is reproduced)', () => {
    expect(results['ioredis-cluster'].dual.plain.ok).toBe(false)
  })
}, { commands: ['redis-server', 'redis-cli', 'ip'] })
