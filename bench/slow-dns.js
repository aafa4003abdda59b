'use strict'

// Deliberately slow DNS zones, in their own process, so that lookups can be "in flight" without
// burning CPU: `node slow-dns.js <port> slow=200 rtt=20` answers every *.slow.bench.test after
// 200 ms and every *.rtt.bench.test after 20 ms, with A 127.0.0.1 (TTL 300 s; other types: NODATA,
// after the same delay; other names: NXDOMAIN at once). Prints "ready" once listening; exits when
// stdin closes.
//
// It answers straight from the query's bytes rather than through a DNS library: at a few thousand
// queries a second the server shares the machine with what is measured, so it should cost little.

const dgram = require('node:dgram')

const [port, ...zones] = process.argv.slice(2)
const delays = new Map() // "slow" -> 200 (ms)
for (const spec of zones) {
  const [label, delay] = spec.split('=')
  delays.set(label, Number(delay))
}

const TYPE_A = 1
// Answer record: name = pointer to the question's name (offset 12), A, IN, TTL 300, 127.0.0.1.
const ANSWER = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4, 127, 0, 0, 1])

/** { labels, end } of the question name starting at 12, or null when malformed or compressed. */
function readQuestionName(msg) {
  const labels = []
  let at = 12
  while (at < msg.length) {
    const len = msg[at]
    if (len === 0) return { labels, end: at + 1 }
    if (len > 63) return null
    labels.push(msg.toString('latin1', at + 1, at + 1 + len).toLowerCase())
    at += 1 + len
  }
  return null
}

function reply(msg, rcode, withAnswer) {
  const { end } = readQuestionName(msg)
  const questionEnd = end + 4 // type, class
  const out = Buffer.allocUnsafe(questionEnd + (withAnswer ? ANSWER.length : 0))
  msg.copy(out, 0, 0, questionEnd)
  out[2] = 0x84 | (msg[2] & 0x01) // QR, AA, RD copied from the query
  out[3] = 0x80 | rcode // RA
  out.writeUInt16BE(1, 4) // QDCOUNT
  out.writeUInt16BE(withAnswer ? 1 : 0, 6) // ANCOUNT
  out.writeUInt32BE(0, 8) // NSCOUNT, ARCOUNT
  if (withAnswer) ANSWER.copy(out, questionEnd)
  return out
}

const socket = dgram.createSocket('udp4')
socket.on('message', (msg, from) => {
  if (msg.length < 17 || (msg[2] & 0x80) !== 0 || msg.readUInt16BE(4) !== 1) return
  const name = readQuestionName(msg)
  if (name === null || name.end + 4 > msg.length) return
  const { labels, end } = name
  const n = labels.length
  const delay = n >= 3 && labels[n - 2] === 'bench' && labels[n - 1] === 'test' ? delays.get(labels[n - 3]) : undefined
  const send = (out) => socket.send(out, from.port, from.address)
  if (delay === undefined) return send(reply(msg, 3, false)) // NXDOMAIN
  const isA = msg.readUInt16BE(end) === TYPE_A
  setTimeout(send, delay, reply(msg, 0, isA))
})
socket.on('error', (err) => {
  console.error(`slow-dns: ${err.message}`)
  process.exit(1)
})
socket.bind(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'))
process.stdin.on('data', () => {})
process.stdin.on('end', () => process.exit(0))
