'use strict'

// Nothing held that is not in use: UDP sockets close when lookups stop, running out of file
// descriptors is reported as such, and configurations no longer used are freed. Each check runs
// in a child process, whose descriptors and memory are its own.

const path = require('node:path')
const { execFile } = require('node:child_process')
const { startDnsServer } = require('./helpers/dns-server')

const PACKAGE = path.resolve(__dirname, '..')

let dns
beforeAll(async () => {
  dns = await startDnsServer({ host: '127.0.0.1', port: 0, zone: { '*.res.test': { A: ['10.1.2.3'] } } })
})
afterAll(() => dns.close())

function runChild (script, { prefix = [], nodeArgs = [], timeout = 60000 } = {}) {
  const [file, ...args] = [...prefix, process.execPath, ...nodeArgs, '-e', script]
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8', timeout, env: { ...process.env, DNS: dns.address } }, (error, stdout, stderr) => {
      const last = stdout.trim().split('\n').pop()
      let result = null
      try {
        result = JSON.parse(last)
      } catch {
        // no JSON line: the assertions below show stdout and stderr
      }
      resolve({ code: error ? error.code : 0, result, stdout, stderr })
    })
  })
}

const preamble = `
  const fs = require('node:fs')
  const f = require(${JSON.stringify(PACKAGE)})
  const fds = () => fs.readdirSync('/proc/self/fd').length
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
  const settle = (p) => p.then((a) => ({ ok: a }), (e) => ({ code: e.code, message: e.message }))
`

test('after a burst of lookups, the sockets are closed once the process is idle', async () => {
  const { result, stderr } = await runChild(`${preamble}
    ;(async () => {
      const configs = Array.from({ length: 8 }, (_, c) => ({ nameservers: [process.env.DNS], timeout: 2000 + c }))
      for (const o of configs) await f.resolveIPv4('warm.res.test', o)
      await sleep(1500)
      const baseline = fds()
      let peak = 0
      await Promise.all(configs.map(async (o, c) => {
        await Promise.all(Array.from({ length: 400 }, (_, i) => f.resolveIPv4('n' + i + '-' + c + '.res.test', o)))
        peak = Math.max(peak, fds())
      }))
      await sleep(2500)
      console.log(JSON.stringify({ baseline, peak, idle: fds() }))
    })()`)
  expect(result).not.toBeNull()
  // Before: 2000+ descriptors stayed open (256 idle sockets per configuration, forever).
  expect({ ...result, stderr }).toEqual({ ...result, stderr, idle: expect.any(Number) })
  expect(result.idle).toBeLessThanOrEqual(result.baseline + 2)
}, 60000)

test('running out of file descriptors is reported as EMFILE, and lookups work again once some are free', async () => {
  const { result, stderr } = await runChild(`${preamble}
    ;(async () => {
      const o = { nameservers: [process.env.DNS], timeout: 2000, attempts: 1, errorTtl: 0 }
      await f.resolveIPv4('warm.res.test', o)
      await sleep(100)
      const held = []
      try {
        for (;;) held.push(fs.openSync('/dev/null', 'r'))
      } catch (e) {
        if (e.code !== 'EMFILE') throw e
      }
      const starved = await Promise.all(Array.from({ length: 5 }, (_, i) => settle(f.resolveIPv4('starved' + i + '.res.test', o))))
      for (const fd of held) fs.closeSync(fd)
      const after = await settle(f.resolveIPv4('after.res.test', o))
      console.log(JSON.stringify({ starved, after }))
    })()`, { prefix: ['prlimit', '--nofile=256:256'] })
  expect(result).not.toBeNull()
  const codes = result.starved.map((r) => r.code)
  // Before: ECONNREFUSED "no DNS server could be contacted", which sends people to the DNS server.
  expect({ codes, stderr }).toEqual({ codes: Array(5).fill('EMFILE'), stderr })
  expect(result.starved[0].message).toMatch(/file descriptor/)
  expect(result.after).toEqual({ ok: ['10.1.2.3'] })
}, 60000)

test('resolvers for thousands of option sets are freed once unused', async () => {
  const { result, stderr } = await runChild(`${preamble}
    ;(async () => {
      const lookupOnce = (lookup, name) => new Promise((resolve, reject) => lookup(name, (e, a) => e ? reject(e) : resolve(a)))
      await lookupOnce(f.createLookup({ nameservers: [process.env.DNS] }), 'warm.res.test')
      const rss = () => { global.gc(); return process.memoryUsage().rss }
      const before = rss()
      for (let i = 0; i < 4000; i++) {
        const lookup = f.createLookup({ nameservers: [process.env.DNS], timeout: i + 1 })
        if (i % 10 === 0) await lookupOnce(lookup, 'n' + i + '.res.test')
      }
      await sleep(200)
      const after = rss()
      console.log(JSON.stringify({ before, after, growthMb: (after - before) / 2 ** 20 }))
    })()`, { nodeArgs: ['--expose-gc'] })
  expect({ result, stderr }).toEqual({ result: expect.any(Object), stderr })
  // Before: each configuration's service lived forever with a 10k-entry cache allocated up front
  // (4000 configurations: ~1.3 GB).
  expect(result.growthMb).toBeLessThan(64)
}, 120000)
