'use strict'

// Worker threads waiting for lookups leave the libuv threadpool to fs, zlib and crypto.

const path = require('node:path')
const { execFile } = require('node:child_process')
const { startDnsServer } = require('./helpers/dns-server')

const PACKAGE = path.join(__dirname, '..')

test('8 workers waiting on slow lookups do not slow the threadpool work of the process', async () => {
  // The answer comes after 3 s, so all 8 lookups are pending through the measured second.
  const dns = await startDnsServer({ host: '127.0.0.1', port: 0, zone: { 'slow.test': { A: ['127.0.0.9'], delayMs: 3000 } } })
  try {
    const script = path.join(__dirname, 'fixtures', 'workers', 'threadpool-while-waiting.js')
    const stdout = await new Promise((resolve, reject) => {
      execFile(process.execPath, [script, dns.address, PACKAGE], { env: { ...process.env, UV_THREADPOOL_SIZE: '4' }, timeout: 20000 },
        (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)))
    })
    const { idle, waiting, settled } = JSON.parse(stdout)
    expect(settled).toEqual(Array(8).fill('127.0.0.9'))
    // Measured: ~0.3% of the idle rate when each waiting worker held a threadpool thread; about
    // the idle rate now (the bound leaves room for a noisy 2-core machine).
    expect(waiting).toBeGreaterThan(idle * 0.5)
  } finally {
    await dns.close()
  }
}, 30000)
