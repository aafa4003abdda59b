'use strict'

// A stand-in for Supabase's pooler (Supavisor) that speaks the PostgreSQL wire protocol, for tests
// on loopback or inside a private namespace. It answers an SSLRequest with 'N', or with 'S' and a
// TLS handshake when given a key and certificate; and a startup message with an authentication
// request (MD5 or SASL) when the user is one it serves (`postgres.<ref>`), otherwise with the
// ErrorResponse Supavisor sends: severity FATAL, SQLSTATE XX000, "Tenant or user not found".
// `silent: true` accepts connections and never answers. Every message it gets is recorded, and a
// PasswordMessage ('p': also how SASL responses are framed) is counted: none may ever come.

const net = require('node:net')
const tls = require('node:tls')

const SSL_REQUEST = 80877103
const PROTOCOL_3 = 196608

function message(tag, body) {
  const head = Buffer.alloc(5)
  head.write(tag, 0, 'latin1')
  head.writeUInt32BE(body.length + 4, 1)
  return Buffer.concat([head, body])
}

function authRequest(kind) {
  if (kind === 'sasl') {
    return message('R', Buffer.concat([Buffer.from([0, 0, 0, 10]), Buffer.from('SCRAM-SHA-256\0\0', 'latin1')]))
  }
  return message('R', Buffer.from([0, 0, 0, 5, 0x11, 0x22, 0x33, 0x44])) // MD5, with its salt
}

function errorResponse(fields) {
  const parts = Object.entries(fields).map(([k, v]) => Buffer.from(`${k}${v}\0`, 'utf8'))
  return message('E', Buffer.concat([...parts, Buffer.from([0])]))
}

const TENANT_NOT_FOUND = errorResponse({ S: 'FATAL', V: 'FATAL', C: 'XX000', M: 'Tenant or user not found' })

function parseParams(body) {
  const words = body.toString('utf8').split('\0')
  const params = {}
  for (let i = 0; i + 1 < words.length && words[i] !== ''; i += 2) params[words[i]] = words[i + 1]
  return params
}

/**
 * Starts a pooler on host:port. Options: serves (user names it knows), auth ('md5' | 'sasl'),
 * tls ({ key, cert }: answer 'S' to an SSLRequest), silent. Resolves with
 * { log, close() }; log = { connections, sslRequests, tlsHandshakes, startups: [{ user, database,
 * tls }], after: [tags sent after the answer], passwordMessages }.
 */
async function startPooler({ host, port = 5432, serves = [], auth = 'md5', tls: tlsOptions = null, silent = false }) {
  const log = { host, connections: 0, sslRequests: 0, tlsHandshakes: 0, startups: [], after: [], passwordMessages: 0 }
  const sockets = new Set()

  function serve(socket, secured) {
    let pending = Buffer.alloc(0)
    let answered = false
    const onData = (chunk) => {
      pending = Buffer.concat([pending, chunk])
      for (;;) {
        if (!answered) {
          if (pending.length < 8) return
          const length = pending.readUInt32BE(0)
          if (pending.length < length) return
          const code = pending.readUInt32BE(4)
          const body = pending.subarray(8, length)
          pending = pending.subarray(length)
          if (code === SSL_REQUEST) {
            log.sslRequests++
            if (tlsOptions && !secured) {
              socket.removeListener('data', onData)
              socket.write('S')
              const secure = new tls.TLSSocket(socket, { isServer: true, key: tlsOptions.key, cert: tlsOptions.cert })
              secure.on('error', () => {})
              secure.once('secure', () => { log.tlsHandshakes++ })
              sockets.add(secure)
              serve(secure, true)
              return
            }
            socket.write('N')
            continue
          }
          if (code !== PROTOCOL_3) {
            socket.destroy()
            return
          }
          answered = true
          const params = parseParams(body)
          log.startups.push({ user: params.user, database: params.database, tls: secured })
          if (serves.includes(params.user)) {
            socket.write(authRequest(auth)) // then waits: a client that goes on would send 'p'
          } else {
            socket.end(TENANT_NOT_FOUND)
          }
        } else {
          if (pending.length < 5) return
          const tag = String.fromCharCode(pending[0])
          const length = pending.readUInt32BE(1)
          if (pending.length < 1 + length) return
          log.after.push(tag)
          if (tag === 'p') log.passwordMessages++
          pending = pending.subarray(1 + length)
        }
      }
    }
    socket.on('data', onData)
  }

  const server = net.createServer((socket) => {
    log.connections++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    if (!silent) serve(socket, false)
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  return {
    log,
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

module.exports = { startPooler, TENANT_NOT_FOUND }
