'use strict'

// Spoof resistance on loopback: an attacker who learnt the UDP source port of one lookup (here:
// the DNS server saw it) floods the next lookup's answer at that port with every one of the 65536
// query ids, from the server's own address and port, while the real answer is slow. Only a
// lookup that goes out from another port is safe: the query id alone is 16 bits.

const dgram = require('node:dgram')
const dnsPacket = require('dns-packet')
const { resolveIPv4 } = require('..')

const RIGHT = '192.0.2.10'
const FORGED = '192.0.2.66'
const SLOW_MS = 300

// A server that answers every A query with RIGHT (the question echoed as asked, case included),
// names starting with "slow-" only after the flood below has been sent.
let server
let address
const seen = [] // { name, port }
let onSlowQuery = null
// Slow answers (retransmitted queries included) wait for the flood, then SLOW_MS.
let floodDone = Promise.resolve()
let closed = false

function reply (query, rinfo) {
  if (closed) return
  const response = dnsPacket.encode({
    id: query.id,
    type: 'response',
    flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | (query.flags & dnsPacket.RECURSION_DESIRED),
    questions: query.questions,
    answers: [{ name: query.questions[0].name, type: 'A', class: 'IN', ttl: 60, data: RIGHT }],
  })
  server.send(response, rinfo.port, rinfo.address)
}

beforeAll(async () => {
  server = dgram.createSocket('udp4')
  server.on('error', () => {}) // ICMP errors from closed ports after the flood
  server.on('message', (msg, rinfo) => {
    let query
    try {
      query = dnsPacket.decode(msg)
    } catch {
      return
    }
    const name = query.questions[0].name
    seen.push({ name: name.toLowerCase(), port: rinfo.port })
    if (name.toLowerCase().startsWith('slow-')) {
      if (onSlowQuery) floodDone = onSlowQuery()
      onSlowQuery = null
      floodDone.then(() => setTimeout(() => reply(query, rinfo), SLOW_MS))
    } else {
      reply(query, rinfo)
    }
  })
  await new Promise((resolve) => server.bind(0, '127.0.0.1', resolve))
  address = `127.0.0.1:${server.address().port}`
})

afterAll(async () => {
  await floodDone
  closed = true
  await new Promise((resolve) => server.close(resolve))
})

const options = () => ({ nameservers: [address], timeout: 5000, attempts: 1 })

/** Every query id, answered with FORGED for `name`, sent from the server's socket to `port`. */
function flood (name, port) {
  const template = dnsPacket.encode({
    id: 0,
    type: 'response',
    flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: 'A', class: 'IN' }],
    answers: [{ name, type: 'A', class: 'IN', ttl: 86400, data: FORGED }],
  })
  let pending = 65536
  return new Promise((resolve) => {
    for (let id = 0; id < 65536; id++) {
      const packet = Buffer.from(template)
      packet.writeUInt16BE(id, 0)
      server.send(packet, port, '127.0.0.1', () => {
        if (--pending === 0) resolve()
      })
    }
  })
}

test('a blind flood of forged answers at the last known source port does not poison the next lookup', async () => {
  const opts = options()
  for (let round = 0; round < 5; round++) {
    await expect(resolveIPv4(`learn-${round}.spoof.test`, opts)).resolves.toEqual([RIGHT])
    const learned = seen.filter((q) => q.name === `learn-${round}.spoof.test`).pop().port

    const victim = `slow-${round}.spoof.test`
    // The attacker triggers the lookup and floods as soon as it starts.
    onSlowQuery = () => flood(victim, learned)
    const answer = await resolveIPv4(victim, opts)
    expect({ round, answer }).toEqual({ round, answer: [RIGHT] })
  }
}, 60000)

test('50 sequential lookups go out from at least 45 different source ports', async () => {
  const opts = options()
  for (let i = 0; i < 50; i++) await resolveIPv4(`seq-${i}.ports.spoof.test`, opts)
  const ports = seen.filter((q) => q.name.endsWith('.ports.spoof.test')).map((q) => q.port)
  expect(ports).toHaveLength(50)
  expect(new Set(ports).size).toBeGreaterThanOrEqual(45)
})
