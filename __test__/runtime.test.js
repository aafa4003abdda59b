'use strict'

// The tokio runtime is sized from the CPUs the process may use (src/runtime.rs has the formula and
// its unit tests); here: the count the addon reports, under taskset and with the override.

const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const PACKAGE = path.join(__dirname, '..')
const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true'])
    return true
  } catch {
    return false
  }
})()

/** runtimeWorkerThreads() in a fresh process, optionally pinned to `cpus` CPUs. */
function workersIn({ cpus = null, env = {} } = {}) {
  const script = `require(${JSON.stringify(PACKAGE)}); ` +
    `console.log(require(${JSON.stringify(path.join(PACKAGE, 'binding.js'))}).runtimeWorkerThreads())`
  const argv = [process.execPath, '-e', script]
  const cmd = cpus ? ['taskset', '-c', `0-${cpus - 1}`, ...argv] : argv
  const childEnv = { ...process.env, ...env }
  if (!('TOKIO_WORKER_THREADS' in env)) delete childEnv.TOKIO_WORKER_THREADS
  return Number(execFileSync(cmd[0], cmd.slice(1), { env: childEnv, encoding: 'utf8' }).trim())
}

const testTaskset = hasTaskset ? test : test.skip

testTaskset('one worker thread on one or two usable cores', () => {
  expect(workersIn({ cpus: 1 })).toBe(1)
  if (os.availableParallelism() >= 2) expect(workersIn({ cpus: 2 })).toBe(1)
})

const testMany = hasTaskset && os.availableParallelism() >= 4 ? test : test.skip
testMany('two worker threads on four usable cores', () => {
  expect(workersIn({ cpus: 4 })).toBe(2)
})

test('TOKIO_WORKER_THREADS overrides the count; an invalid value is ignored', () => {
  expect(workersIn({ env: { TOKIO_WORKER_THREADS: '3' } })).toBe(3)
  const fromCores = workersIn()
  expect(workersIn({ env: { TOKIO_WORKER_THREADS: '0' } })).toBe(fromCores)
  expect(workersIn({ env: { TOKIO_WORKER_THREADS: 'many' } })).toBe(fromCores)
})
