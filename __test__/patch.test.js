'use strict'

// patchNet() on real sockets, with the resolver pointed at the tests' own DNS server. The full
// scenario (IPv6 unreachable, system resolver, pg, Sequelize, TLS) is in namespace.test.js.

const net = require('node:net')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const fs = require('node:fs')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { patchNet, unpatchNet, isPatched } = require('..')
const { startDnsServer } = require('./helpers/dns-server')

const ZONE = {
  'dual.test': { A: ['127.0.0.1'], AAAA: ['2406:da18:243:7412::1'] },
  'other.test': { A: ['127.0.0.1'] },
  'v6only.test': { AAAA: ['2406:da18::5'] },
}

let dnsServer
let resolverOptions
let tcpServer
let tcpPort
let v6Server
let v6Accepted = 0
let httpServer
let httpPort
const originalConnect = net.Socket.prototype.connect

function listen(server, ...args) {
  return new Promise((resolve) => server.listen(...args, () => resolve(server.address().port)))
}

beforeAll(async () => {
  dnsServer = await startDnsServer({ host: '127.0.0.1', port: 0, zone: ZONE })
  resolverOptions = { nameservers: [dnsServer.address], timeout: 500, attempts: 1 }
  tcpServer = net.createServer((s) => s.end())
  tcpPort = await listen(tcpServer, 0, '127.0.0.1')
  // Same port on ::1: proves where a connection went, and that a refused literal sent nothing.
  v6Server = net.createServer((s) => { v6Accepted++; s.end() })
  await listen(v6Server, tcpPort, '::1')
  httpServer = http.createServer((req, res) => res.end(req.socket.remoteAddress))
  httpPort = await listen(httpServer, 0, '127.0.0.1')
})

afterAll(async () => {
  unpatchNet()
  await Promise.all([dnsServer.close(), ...[tcpServer, v6Server, httpServer].map((s) => new Promise((r) => s.close(r)))])
})

afterEach(() => unpatchNet())

// Resolves with {remoteAddress} on connect, or {code, message} on error.
function outcome(socket) {
  return new Promise((resolve) => {
    socket.once('connect', () => {
      resolve({ remoteAddress: socket.remoteAddress })
      socket.destroy()
    })
    socket.once('error', (err) => resolve({ code: err.code, message: err.message, hostname: err.hostname, errno: err.errno }))
  })
}

describe('every argument shape reaches the IPv4 address', () => {
  beforeEach(() => patchNet(resolverOptions))

  test('net.connect(options): Node’s normalized array', async () => {
    expect(await outcome(net.connect({ host: 'dual.test', port: tcpPort }))).toEqual({ remoteAddress: '127.0.0.1' })
  })

  test('net.createConnection(port, host)', async () => {
    expect(await outcome(net.createConnection(tcpPort, 'dual.test'))).toEqual({ remoteAddress: '127.0.0.1' })
  })

  test('new net.Socket().connect(port, host, cb): positional, as pg and mysql2 call it', async () => {
    const socket = new net.Socket()
    const connected = new Promise((resolve) => socket.connect(tcpPort, 'dual.test', resolve))
    expect(await outcome(socket)).toEqual({ remoteAddress: '127.0.0.1' })
    await connected
  })

  test('socket.connect(options): a plain options object, as tls.connect passes it', async () => {
    expect(await outcome(new net.Socket().connect({ host: 'dual.test', port: tcpPort }))).toEqual({ remoteAddress: '127.0.0.1' })
  })

  test('autoSelectFamily (all: true) gets an IPv4 list', async () => {
    const socket = net.connect({ host: 'dual.test', port: tcpPort, autoSelectFamily: true })
    expect(await outcome(socket)).toEqual({ remoteAddress: '127.0.0.1' })
  })

  test('http.get and global fetch', async () => {
    const viaHttp = await new Promise((resolve, reject) => {
      http.get(`http://dual.test:${httpPort}/`, (res) => {
        let body = ''
        res.on('data', (d) => { body += d })
        res.on('end', () => resolve(body))
      }).on('error', reject)
    })
    expect(viaHttp).toBe('127.0.0.1')
    const viaFetch = await fetch(`http://dual.test:${httpPort}/`, { headers: { connection: 'close' } })
    expect(await viaFetch.text()).toBe('127.0.0.1')
  })

  test('the host option is not rewritten (TLS names stay intact)', async () => {
    const socket = net.connect({ host: 'dual.test', port: tcpPort })
    const lookups = []
    socket.on('lookup', (err, address, family, host) => lookups.push({ err, address, family, host }))
    await outcome(socket)
    expect(lookups).toEqual([{ err: null, address: '127.0.0.1', family: 4, host: 'dual.test' }])
  })
})

describe('what the patch leaves alone, and what it refuses', () => {
  test('IPv4 literals connect without any lookup', async () => {
    patchNet(resolverOptions)
    dnsServer.resetCounts()
    const socket = net.connect(tcpPort, '127.0.0.1')
    let lookedUp = false
    socket.on('lookup', () => { lookedUp = true })
    expect(await outcome(socket)).toEqual({ remoteAddress: '127.0.0.1' })
    expect(lookedUp).toBe(false)
    expect(dnsServer.queries).toHaveLength(0)
  })

  test('unix sockets (IPC paths) still connect', async () => {
    patchNet(resolverOptions)
    const sockPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ipv4-force-')), 's.sock')
    const ipc = net.createServer((s) => s.end('ipc'))
    await new Promise((r) => ipc.listen(sockPath, r))
    try {
      const data = await new Promise((resolve, reject) => {
        net.connect(sockPath).on('data', (d) => resolve(String(d))).on('error', reject)
      })
      expect(data).toBe('ipc')
      const viaOptions = await new Promise((resolve, reject) => {
        net.connect({ path: sockPath, host: 'dual.test' }).on('data', (d) => resolve(String(d))).on('error', reject)
      })
      expect(viaOptions).toBe('ipc')
    } finally {
      await new Promise((r) => ipc.close(r))
      fs.rmSync(path.dirname(sockPath), { recursive: true, force: true })
    }
  })

  test('an IPv4-mapped IPv6 literal is unwrapped to IPv4', async () => {
    patchNet(resolverOptions)
    expect(await outcome(net.connect(tcpPort, '::ffff:127.0.0.1'))).toEqual({ remoteAddress: '127.0.0.1' })
  })

  test('another IPv6 literal is refused with EAFNOSUPPORT before any packet', async () => {
    patchNet(resolverOptions)
    const before = v6Accepted
    const result = await outcome(net.connect(tcpPort, '::1'))
    expect(result.code).toBe('EAFNOSUPPORT')
    expect(result.message).toContain('::1')
    expect(result.message).toContain('IPv6')
    expect(result.message).toContain('allowIPv6Literals')
    // This platform's errno for the code, as Node's own connect errors carry (97 on Linux, 47 on macOS).
    expect(require('node:util').getSystemErrorName(result.errno)).toBe('EAFNOSUPPORT')
    expect(result.errno).toBe(-require('node:os').constants.errno.EAFNOSUPPORT)
    await new Promise((r) => setTimeout(r, 50))
    expect(v6Accepted).toBe(before)
  })

  test('allowIPv6Literals: true lets IPv6 literals through', async () => {
    patchNet({ ...resolverOptions, allowIPv6Literals: true })
    expect(await outcome(net.connect(tcpPort, '::1'))).toEqual({ remoteAddress: '::1' })
  })

  test('an IPv6-only name fails with ENODATA and an actionable message, not ENETUNREACH', async () => {
    patchNet(resolverOptions)
    const result = await outcome(net.connect(tcpPort, 'v6only.test'))
    expect(result.code).toBe('ENODATA')
    expect(result.hostname).toBe('v6only.test')
    expect(result.message).toContain('resolves only to IPv6 (2406:da18::5)')
  })

  test('hosts: only the listed names and *.suffix patterns are forced', async () => {
    const seen = []
    // A caller lookup that answers IPv6 first: forced hosts get it filtered, others do not.
    const callerLookup = (host, opts, cb) => {
      seen.push(host)
      if (opts.all) cb(null, [{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }])
      else cb(null, '::1', 6)
    }
    const connectVia = (host) => outcome(net.connect({ host, port: tcpPort, lookup: callerLookup, autoSelectFamily: false }))
    patchNet({ ...resolverOptions, hosts: ['*.test'] })
    expect(await connectVia('dual.test')).toEqual({ remoteAddress: '127.0.0.1' })
    patchNet({ ...resolverOptions, hosts: ['other.test'] })
    expect(await connectVia('dual.test')).toEqual({ remoteAddress: '::1' })
    expect(await connectVia('OTHER.test')).toEqual({ remoteAddress: '127.0.0.1' })
    patchNet({ ...resolverOptions, hosts: (host) => host.startsWith('dual') })
    expect(await connectVia('dual.test')).toEqual({ remoteAddress: '127.0.0.1' })
    // Forced hosts that got one IPv6 address are asked once more for the whole list.
    expect(seen).toEqual(['dual.test', 'dual.test', 'dual.test', 'OTHER.test', 'OTHER.test', 'dual.test', 'dual.test'])
  })

  test('a hosts function that throws fails that connection with its error, asynchronously', async () => {
    patchNet({ ...resolverOptions, hosts: () => { throw new Error('predicate broke') } })
    let socket
    expect(() => { socket = net.connect(tcpPort, 'dual.test') }).not.toThrow()
    expect(await outcome(socket)).toMatchObject({ message: 'predicate broke' })
    const viaHttp = await new Promise((resolve) => {
      // A new agent: the global one may hold a kept-alive socket from an earlier test.
      http.get({ host: 'dual.test', port: httpPort, agent: new http.Agent() }).on('error', (err) => resolve(err.message))
    })
    expect(viaHttp).toBe('predicate broke')
  })

  test('several A records: Node fails over from a dead first address, as unpatched', async () => {
    const dns = await startDnsServer({ host: '127.0.0.1', port: 0, zone: { 'multi.test': { A: ['127.0.0.2', '127.0.0.1'] } } })
    try {
      patchNet({ nameservers: [dns.address], timeout: 500, attempts: 1 })
      const socket = net.connect({ host: 'multi.test', port: tcpPort })
      expect(await outcome(socket)).toEqual({ remoteAddress: '127.0.0.1' })
      expect(socket.autoSelectFamilyAttemptedAddresses).toEqual([`127.0.0.2:${tcpPort}`, `127.0.0.1:${tcpPort}`])
      // Without Happy Eyeballs Node tries the first address only: so does the patch.
      expect((await outcome(net.connect({ host: 'multi.test', port: tcpPort, autoSelectFamily: false }))).code).toBe('ECONNREFUSED')
    } finally {
      await dns.close()
    }
  })

  test("a caller's own lookup is kept and its answers filtered to IPv4", async () => {
    patchNet(resolverOptions)
    const only6 = (host, opts, cb) => cb(null, [{ address: '::1', family: 6 }])
    const result = await outcome(net.connect({ host: 'dual.test', port: tcpPort, lookup: only6 }))
    expect(result.code).toBe('ENODATA')
    const single = (host, opts, cb) => (opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4))
    expect(await outcome(net.connect({ host: 'dual.test', port: tcpPort, lookup: single }))).toEqual({ remoteAddress: '127.0.0.1' })
  })
})

describe('patch lifecycle', () => {
  test('requiring the package changes nothing', () => {
    expect(net.Socket.prototype.connect).toBe(originalConnect)
    expect(isPatched()).toBe(false)
  })

  test('idempotent: a second call does not wrap twice', () => {
    const unpatch = patchNet(resolverOptions)
    const patched = net.Socket.prototype.connect
    expect(patched).not.toBe(originalConnect)
    expect(patchNet(resolverOptions)).toBe(unpatch)
    expect(net.Socket.prototype.connect).toBe(patched)
  })

  test('two copies of the package in one process share one patch', () => {
    // As when two versions of ipv4-force sit in node_modules: the second finds the first's wrapper.
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'ipv4-force-copy-'))
    try {
      const root = path.join(__dirname, '..')
      for (const file of ['index.js', 'lib', 'binding.js', 'package.json', ...fs.readdirSync(root).filter((f) => f.endsWith('.node'))]) {
        fs.cpSync(path.join(root, file), path.join(copy, file), { recursive: true })
      }
      const script = `
        const net = require('node:net'), dns = require('node:dns')
        const original = { connect: net.Socket.prototype.connect, lookup: dns.lookup }
        const first = require(${JSON.stringify(root)}), second = require(${JSON.stringify(copy)})
        first.patchNet()
        const patched = { connect: net.Socket.prototype.connect, lookup: dns.lookup }
        second.patchNet({ hosts: ['db.test'] })
        const same = net.Socket.prototype.connect === patched.connect && dns.lookup === patched.lookup
        const seen = [first.isPatched(), second.isPatched()]
        second.unpatchNet()
        const restored = net.Socket.prototype.connect === original.connect && dns.lookup === original.lookup
        console.log(JSON.stringify({ same, seen, restored, after: first.isPatched() }))`
      const out = JSON.parse(require('node:child_process').execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }))
      expect(out).toEqual({ same: true, seen: [true, true], restored: true, after: false })
    } finally {
      fs.rmSync(copy, { recursive: true, force: true })
    }
  })

  test('reversible: unpatch restores the original function exactly', () => {
    const unpatch = patchNet(resolverOptions)
    expect(unpatch()).toBe(true)
    expect(net.Socket.prototype.connect).toBe(originalConnect)
    expect(isPatched()).toBe(false)
    expect(unpatchNet()).toBe(false)
  })

  test("unpatching under someone else's wrapper keeps theirs and turns ours into a pass-through", async () => {
    patchNet(resolverOptions)
    const ours = net.Socket.prototype.connect
    const theirs = function connect(...args) { return ours.apply(this, args) }
    net.Socket.prototype.connect = theirs
    try {
      unpatchNet()
      expect(net.Socket.prototype.connect).toBe(theirs)
      const refusedBefore = await outcome(net.connect(tcpPort, '::1'))
      expect(refusedBefore).toEqual({ remoteAddress: '::1' })
    } finally {
      net.Socket.prototype.connect = originalConnect
    }
  })

  test('bad options throw with a code', () => {
    expect(() => patchNet({ host: ['a'] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
    expect(() => patchNet({ hosts: 'a.com' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    expect(() => patchNet({ allowIPv6Literals: 'yes' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    expect(() => patchNet(5)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    expect(isPatched()).toBe(false)
  })
})

describe('register and NODE_DEBUG', () => {
  // Async: the DNS server these children query runs in this process.
  const run = async (code, env) => (await promisify(execFile)(process.execPath, ['-e', code], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  })).stdout

  test('-r ipv4-force/register patches; IPV4_FORCE=0 turns it off; IPV4_FORCE_HOSTS sets hosts', async () => {
    const register = require.resolve('../register.js')
    const probe = `const net = require('net'); const f = require(${JSON.stringify(require.resolve('..'))});
      process.stdout.write(String(f.isPatched()))`
    expect(await run(`require(${JSON.stringify(register)}); ${probe}`, {})).toBe('true')
    expect(await run(`require(${JSON.stringify(register)}); ${probe}`, { IPV4_FORCE: '0' })).toBe('false')
    const hostsProbe = `require(${JSON.stringify(register)})
      const net = require('net'); const seen = []
      const lk = (h, o, cb) => o.all ? cb(null, [{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }]) : cb(null, '::1', 6)
      const go = (host) => new Promise((r) => net.connect({ host, port: ${tcpPort}, lookup: lk, autoSelectFamily: false })
        .on('connect', function () { r(host + '=' + this.remoteAddress); this.destroy() }).on('error', (e) => r(host + '=' + e.code)))
      Promise.all([go('forced.example'), go('free.example')]).then((r) => process.stdout.write(r.join(' ')))`
    expect(await run(hostsProbe, { IPV4_FORCE_HOSTS: 'forced.example, *.other.example' })).toBe('forced.example=127.0.0.1 free.example=::1')
  })

  test('NODE_DEBUG=ipv4-force logs each forced connect as host -> address, and nothing else', async () => {
    const code = `const f = require(${JSON.stringify(require.resolve('..'))})
      f.patchNet(${JSON.stringify(resolverOptions)})
      require('net').connect(${tcpPort}, 'dual.test').on('connect', function () { this.destroy() })`
    const child = await promisify(execFile)(process.execPath, ['-e', code], {
      env: { ...process.env, NODE_DEBUG: 'ipv4-force' },
      encoding: 'utf8',
    })
    const lines = child.stderr.trim().split('\n').filter(Boolean)
    expect(lines).toEqual([expect.stringMatching(/^IPV4-FORCE \d+: dual\.test -> 127\.0\.0\.1$/)])
  })
})
