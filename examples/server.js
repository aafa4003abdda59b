require('ipv4-force').patchNet() // first line: every connection below goes over IPv4

// An Express 5 API with PostgreSQL (Sequelize) and Redis (ioredis), the shape of app that fails
// with `connect ENETUNREACH 2406:...` on a host without IPv6 when its database name also has an
// AAAA record. With the line above it connects over IPv4, unchanged otherwise.
//
//   DATABASE_URL=postgres://user:password@db.example.com:5432/app \
//   REDIS_URL=redis://cache.example.com:6379 PORT=3000 node examples/server.js

const express = require('express')
const { Sequelize } = require('sequelize')
const Redis = require('ioredis')

const { DATABASE_URL, REDIS_URL } = process.env
const PORT = Number(process.env.PORT || 3000)
const CHECK_TIMEOUT_MS = 3000

if (!DATABASE_URL || !REDIS_URL) {
  console.error('Set DATABASE_URL (postgres://...) and REDIS_URL (redis://...)')
  process.exit(1)
}

const sequelize = new Sequelize(DATABASE_URL, {
  dialect: 'postgres',
  logging: false,
  pool: { max: 5, acquire: CHECK_TIMEOUT_MS },
  dialectOptions: { connectionTimeoutMillis: CHECK_TIMEOUT_MS },
})

const redis = new Redis(REDIS_URL, {
  maxRetriesPerRequest: 1, // fail a command instead of queueing it while Redis is away
  connectTimeout: CHECK_TIMEOUT_MS,
})
let redisError = null // why the connection is down, if it is
redis.on('error', (err) => {
  if (!redisError || err.code !== redisError.code) console.error(`redis: ${err.message}`)
  redisError = err
})
redis.on('ready', () => { redisError = null })

// What a health response may say about a failure: an error code, never a message (messages can
// carry hosts, users or connection strings).
function failureCode(err) {
  const cause = err && (err.parent || err.original || err)
  const code = cause && cause.code
  return typeof code === 'string' && /^[A-Z0-9_]{2,32}$/.test(code) ? code : 'ERROR'
}

function withTimeout(promise, ms) {
  let timer
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function check(name, fn) {
  try {
    await withTimeout(fn(), CHECK_TIMEOUT_MS)
    return 'ok'
  } catch (err) {
    const code = failureCode(err)
    console.error(`health: ${name}: ${code}`)
    return code
  }
}

const app = express()

app.get('/api/v1/health', async (_req, res) => {
  const [db, cache] = await Promise.all([
    check('db', () => sequelize.authenticate()),
    check('redis', () => redis.ping().catch((err) => { throw redisError || err })),
  ])
  if (db === 'ok' && cache === 'ok') return res.json({ status: 'ok' })
  res.status(503).json({ status: 'error', db, redis: cache })
})

const server = app.listen(PORT, (err) => {
  if (err) throw err
  console.log(`listening on port ${server.address().port}`)
})

async function shutdown(signal) {
  console.log(`${signal}: shutting down`)
  setTimeout(() => process.exit(1), 10_000).unref() // a stuck connection must not keep us alive
  server.close()
  server.closeIdleConnections()
  const results = await Promise.allSettled([
    sequelize.close(),
    redis.status === 'ready' ? redis.quit() : redis.disconnect(),
  ])
  const failed = results.filter((r) => r.status === 'rejected')
  for (const r of failed) console.error(`shutdown: ${r.reason && r.reason.message}`)
  process.exit(failed.length === 0 ? 0 : 1)
}
process.once('SIGTERM', () => shutdown('SIGTERM'))
process.once('SIGINT', () => shutdown('SIGINT'))
