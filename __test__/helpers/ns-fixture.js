'use strict'

// The frame of the scripts a test runs inside its private namespace (fixtures/ns/scenario.js, run
// by namespace.test.js; fixtures/example/run.js, run by example.test.js): they refuse to run
// anywhere else, stop what they started even when the test gives up on them (SIGTERM), and print
// ONE JSON object, the result the test checks, on stdout.

const fs = require('node:fs')
const os = require('node:os')

/**
 * Throws unless this process is in the namespace `testFile` sets up (NS_TMP set, only `lo`, and
 * /etc/resolv.conf naming only 127.0.0.1): never talk to a real DNS server.
 */
function assertInsideNamespace(testFile) {
  const tmp = process.env.NS_TMP
  if (!tmp || !fs.existsSync(tmp)) throw new Error(`NS_TMP is not set: run through ${testFile}`)
  const resolv = fs.readFileSync('/etc/resolv.conf', 'utf8')
  const servers = resolv.split('\n').filter((l) => /^\s*nameserver\s/.test(l)).map((l) => l.trim().split(/\s+/)[1])
  if (servers.length !== 1 || servers[0] !== '127.0.0.1') {
    throw new Error(`/etc/resolv.conf names ${servers.join(', ') || 'no nameserver'}, not only 127.0.0.1: refusing to run`)
  }
  const links = Object.keys(os.networkInterfaces())
  if (links.some((l) => l !== 'lo')) throw new Error(`not a private network namespace (interfaces: ${links.join(', ')})`)
}

/**
 * A stack of cleanups: push(fn) as each thing starts; runAll() runs them, last pushed first, and
 * logs (through `log`) those that fail. The test sends SIGTERM (then SIGKILL) when it gives up: on
 * SIGTERM or SIGINT, onSignal() runs, then the stack, then the process exits with 1.
 */
function cleanupStack({ log, onSignal = () => {} }) {
  const fns = []
  const runAll = async () => {
    for (const fn of fns.reverse()) {
      try {
        await fn()
      } catch (err) {
        log(`cleanup failed: ${err && err.stack}`)
      }
    }
    fns.length = 0
  }
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.once(sig, () => {
      onSignal()
      runAll().finally(() => process.exit(1))
    })
  }
  return { push: (fn) => { fns.push(fn) }, runAll }
}

/**
 * Runs `body(cleanups, started)` as the whole of such a script, then prints `result` as its ONE
 * JSON line and exits 0. First, refuses to run outside the namespace of `testFile`. `cleanups` is
 * a cleanupStack (with `onSignal`), `started` the start time in ms. `result` needs setupErrors: {}
 * and timings: {}; an error thrown by body becomes result.setupErrors[errorKey]. Whatever happens,
 * the cleanups then run (result.timings.cleanupMs; totalMs), and if setup failed, `pgLog` goes to
 * stderr through `log`. Exits 1 on an error outside body.
 */
function runFixture({ testFile, log, result, errorKey, pgLog, onSignal }, body) {
  const main = async () => {
    assertInsideNamespace(testFile)
    const started = Date.now()
    const cleanups = cleanupStack({ log, onSignal })
    try {
      await body(cleanups, started)
    } catch (err) {
      result.setupErrors[errorKey] = String(err && err.stack)
    } finally {
      const t = Date.now()
      await cleanups.runAll()
      result.timings.cleanupMs = Date.now() - t
      result.timings.totalMs = Date.now() - started
    }
    if (Object.keys(result.setupErrors).length > 0 && pgLog.length) log(`postgres log:\n${pgLog.join('\n')}`)
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0))
  }
  main().catch((err) => {
    log(`fatal: ${err && err.stack}`)
    process.exit(1)
  })
}

module.exports = { runFixture }
