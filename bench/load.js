'use strict'

// Load generators: loops that measure ops/s, open-ended loads of fresh names, connects.

const net = require('node:net')
const path = require('node:path')
const { spawn } = require('node:child_process')

const { children, sleep, now, cpuSeconds, fresh } = require('./util.js')
const { queryCount } = require('./dns-servers.js')

/** ops/s of `await op()` in `concurrency` loops for `ms` (the clock is read every `batch` ops). */
async function awaitLoop(op, ms, concurrency = 1, batch = 128) {
  let n = 0
  const t0 = now()
  const end = t0 + ms
  const worker = async () => {
    do {
      for (let k = 0; k < batch; k++) await op()
      n += batch
    } while (now() < end)
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return (n * 1000) / (now() - t0)
}

/** ops/s of a dns.lookup-style function called again from its own callback, for `ms`. */
function callbackLoop(fn, name, ms, batch = 128) {
  return new Promise((resolve, reject) => {
    let n = 0
    const t0 = now()
    const end = t0 + ms
    const next = (err) => {
      if (err) return reject(err)
      if (++n % batch === 0 && now() >= end) return resolve((n * 1000) / (now() - t0))
      fn(name, next)
    }
    fn(name, next)
  })
}

/**
 * Keeps `concurrency` calls of `op(freshName)` in flight until stopped; counts completions and
 * failures. Returns { stop(): Promise<{ ops, errors, seconds }> }.
 */
function openLoad(op, tag, concurrency, zone, rampMs = 0) {
  let stopped = false
  let ops = 0
  let errors = 0
  let firstError = null
  const t0 = now()
  const worker = async (i) => {
    // A ramp spreads the first calls over rampMs, as requests arriving at a server would be,
    // instead of starting them all in the same millisecond (and finishing them all in the next).
    if (rampMs > 0) await sleep((i * rampMs) / concurrency)
    while (!stopped) {
      try {
        await op(fresh(tag, zone))
      } catch (err) {
        errors++
        firstError = firstError || err
      }
      ops++
    }
  }
  const all = Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)))
  return {
    async stop() {
      stopped = true
      await all
      return { ops, errors, firstError, seconds: (now() - t0) / 1000 }
    },
    count: () => ops,
  }
}

/** Cold lookups for `ms` with `concurrency` in flight, plus what they cost dnsmasq and us. */
async function coldRun(dm, op, tag, ms, concurrency = 100, zone = 'bench.test') {
  const q0 = await queryCount(dm)
  const d0 = cpuSeconds(dm.pid)
  const c0 = process.cpuUsage()
  const load = openLoad(op, tag, concurrency, zone)
  await sleep(ms)
  const { ops, errors, firstError, seconds } = await load.stop()
  const c1 = process.cpuUsage(c0)
  const d1 = cpuSeconds(dm.pid)
  const q1 = await queryCount(dm)
  return {
    rate: ops / seconds,
    errors,
    firstError,
    queriesPerOp: (q1 - q0) / ops,
    nodeCpu: (c1.user + c1.system) / 1e6 / seconds,
    dnsmasqCpu: (d1 - d0) / seconds,
  }
}

// Closed with a reset (SO_LINGER 0): a FIN close leaves a TIME_WAIT socket per connection, and
// with tens of thousands of those the kernel's ephemeral-port search makes connect() cost vary by
// 2x from run to run, which swamps the few µs the lookup adds. The close is the same in every variant.
function connectOnce(opts) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(opts)
    socket.once('connect', () => {
      socket.resetAndDestroy()
      resolve()
    })
    socket.once('error', reject)
  })
}

function connectLoop(opts, ms, concurrency) {
  return awaitLoop(() => connectOnce(opts), ms, concurrency, 8)
}

async function startTcpServer() {
  const child = spawn(process.execPath, [path.join(__dirname, 'tcp-server.js')], { stdio: ['pipe', 'pipe', 'inherit'] })
  children.add(child)
  const port = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('\n')) resolve(Number(out.trim()))
    })
    child.on('exit', (code) => reject(new Error(`tcp-server exited (${code})`)))
  })
  return {
    port,
    close() {
      child.stdin.end()
      children.delete(child)
    },
  }
}

/**
 * A connect variant in its own process (connect-client.js). Returns
 * { round(ms, concurrency): Promise<{ rate, cpuUs }>, close() }.
 */
async function startConnectClient(variant, port) {
  const child = spawn(process.execPath, [path.join(__dirname, 'connect-client.js'), variant, String(port)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  children.add(child)
  const lines = []
  const waiting = []
  let buffered = ''
  child.stdout.on('data', (d) => {
    buffered += d
    let i
    while ((i = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, i)
      buffered = buffered.slice(i + 1)
      if (waiting.length > 0) waiting.shift().resolve(line)
      else lines.push(line)
    }
  })
  child.on('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`connect-client ${variant} exited (${code})`))
  })
  const nextLine = () => (lines.length > 0 ? Promise.resolve(lines.shift()) : new Promise((resolve, reject) => waiting.push({ resolve, reject })))
  if ((await nextLine()) !== 'ready') throw new Error(`connect-client ${variant} did not start`)
  return {
    async round(ms, concurrency) {
      child.stdin.write(`${ms} ${concurrency}\n`)
      return JSON.parse(await nextLine())
    },
    close() {
      child.stdin.end()
      children.delete(child)
    },
  }
}

module.exports = { awaitLoop, callbackLoop, openLoad, coldRun, connectOnce, connectLoop, startTcpServer, startConnectClient }
