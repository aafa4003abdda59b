'use strict'

// Memory check, in a fresh process (run with --expose-gc): RSS at start, after a first round of
// 1 M hot + 100 k cold lookups (or 100 k connects), and after a second, identical round.
// Prints one JSON line.
// Usage: node --expose-gc memory.js <pkg> <hot name> <cold prefix> <impl> [port]
//   impl: ipv4-force | resolve4 | cacheable-lookup | connect (patchNet, by name) | connect-by-ip
//   (unpatched, the control for connect)

const net = require('node:net')
const v8 = require('node:v8')

const [pkgDir, hotName, coldPrefix, impl = 'ipv4-force', portArg] = process.argv.slice(2)
const HOT = 1_000_000
const COLD = 100_000
const CONNECTS = 100_000
const IN_FLIGHT = 100
const MB = 1024 * 1024

function lookupFor(name) {
  if (name === 'ipv4-force' || name.startsWith('connect')) return require(pkgDir).resolveIPv4
  if (name === 'resolve4') {
    const resolver = new (require('node:dns').promises.Resolver)()
    resolver.setServers(['127.0.0.1']) // the bench's dnsmasq (this runs in its namespace)
    return (host) => resolver.resolve4(host)
  }
  if (name === 'cacheable-lookup') {
    const CacheableLookup = require(require.resolve('cacheable-lookup', { paths: [pkgDir] })).default
    const cacheable = new CacheableLookup()
    cacheable._iface = { has4: true, has6: false } // loopback-only namespace: see bench/index.js
    return (host) => cacheable.lookupAsync(host, { family: 4 })
  }
  throw new Error(`unknown impl ${name}`)
}

function settle() {
  for (let i = 0; i < 3; i++) global.gc()
  const usage = process.memoryUsage()
  const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
  // V8 grows its young generation (up to 2 x 16 MB semi-spaces) under a high allocation rate: that
  // is the JS engine's, whatever library allocates. `native` leaves the whole V8 heap out.
  return { rss: usage.rss / MB, young: young.space_size / MB, native: (usage.rss - usage.heapTotal) / MB }
}

async function inFlight(count, fn) {
  let next = 0
  let errors = 0
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < count) {
      const i = next++
      try {
        await fn(i)
      } catch {
        errors++
      }
    }
  }))
  return errors
}

function connectOnce(port, host) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host)
    socket.once('connect', () => {
      socket.resetAndDestroy()
      resolve()
    })
    socket.once('error', reject)
  })
}

async function main() {
  const resolve = lookupFor(impl)
  const port = Number(portArg)
  if (impl === 'connect') require(pkgDir).patchNet()
  const round = async (tag) => {
    if (impl.startsWith('connect')) {
      const host = impl === 'connect' ? hotName : '127.0.0.1'
      return inFlight(CONNECTS, () => connectOnce(port, host))
    }
    // resolve4 has no cache: its "hot" lookups would be 1M queries, so it does the cold part only.
    if (impl !== 'resolve4') for (let i = 0; i < HOT; i++) await resolve(hotName)
    return inFlight(COLD, (i) => resolve(`${coldPrefix}-${impl}-${tag}${i}.bench.test`))
  }
  // Round 1 starts from a fresh process: its growth includes V8's young generation growing from
  // 1 to 16 MB semi-spaces under this allocation rate (they are never given back), whatever the
  // library. Round 2 does the same work again: its growth is what the work retains.
  const atStart = settle()
  const t0 = performance.now()
  let errors = await round('a')
  const before = settle()
  errors += await round('b')
  const ms = (performance.now() - t0) / 2
  const after = settle()
  process.stdout.write(JSON.stringify({ impl, atStart, before, after, ms, errors }) + '\n')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
