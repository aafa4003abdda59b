'use strict'

// A small authoritative DNS server for tests, speaking the real wire protocol
// over UDP and TCP on loopback. See startDnsServer() for the API and
// __test__/dns-server.test.js for the zone format in use.

const dgram = require('node:dgram')
const net = require('node:net')
const dnsPacket = require('dns-packet')
const rcodes = require('dns-packet/rcodes')

const DEFAULT_TTL = 60
const MAX_CNAME_CHAIN = 8
const CLASSIC_UDP_LIMIT = 512 // RFC 1035 limit when the query carries no EDNS0 OPT record
const ADVERTISED_UDP_SIZE = 1232 // what we put in our own OPT record

const normName = (name) => String(name).toLowerCase().replace(/\.$/, '')

function normZone (zone) {
  const out = new Map()
  for (const [name, entry] of Object.entries(zone || {})) {
    // rcodes.toRcode() maps unknown names to 0 (NOERROR): catch typos here.
    if (entry.rcode && rcodes.toRcode(entry.rcode) === 0 && entry.rcode.toUpperCase() !== 'NOERROR') {
      throw new Error(`dns-server: unknown rcode ${entry.rcode} for ${name}`)
    }
    out.set(normName(name), entry)
  }
  return out
}

// Exact match first, then the closest '*.suffix' wildcard ('*.wild.test' matches
// 'a.wild.test' and 'a.b.wild.test', but not 'wild.test' itself).
function findEntry (zone, name) {
  if (zone.has(name)) return zone.get(name)
  const labels = name.split('.')
  for (let i = 1; i < labels.length; i++) {
    const wild = zone.get('*.' + labels.slice(i).join('.'))
    if (wild) return wild
  }
}

const asList = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])

// Records of `type` held by `entry`, owned by `name` (the asked name, so that
// wildcard answers carry the query name as real servers do).
function recordsOf (entry, name, type) {
  const ttl = entry.ttl ?? DEFAULT_TTL
  const types = type === 'ANY' ? ['A', 'AAAA', 'CNAME'] : [type]
  return types.flatMap((t) => asList(entry[t]).map((data) => ({ name, type: t, class: 'IN', ttl, data })))
}

// Build the response for a decoded query; null when nothing must be sent.
function answerQuery (query, zone, opts) {
  const q = query.questions[0]
  const name = normName(q.name)
  const entry = findEntry(zone, name)
  if (entry && entry.silent) return null

  const flags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE |
    (query.flags & dnsPacket.RECURSION_DESIRED)
  const response = { id: query.id, type: 'response', flags, questions: [q], answers: [], authorities: [], additionals: [] }
  const setRcode = (rcode) => { response.flags = (response.flags & ~0xf) | rcodes.toRcode(rcode) }

  if (!entry) {
    setRcode('NXDOMAIN')
  } else if (entry.rcode) {
    setRcode(entry.rcode)
  } else {
    // Raw records the entry carries beyond its own (owner, type and TTL as given, ttl default
    // the entry's): listed first in the answer, whatever was asked, as a careless or hostile
    // server might send them (a stray A for another name, an AAAA in an A answer...).
    for (const r of asList(entry.extra)) {
      response.answers.push({ class: 'IN', ttl: entry.ttl ?? DEFAULT_TTL, ...r, name: r.name ?? name })
    }
    // Follow CNAMEs (unless CNAME/ANY is asked for) through the zone, at most
    // MAX_CNAME_CHAIN hops so that loops terminate.
    let current = entry
    let owner = name
    for (let hops = 0; current && hops <= MAX_CNAME_CHAIN; hops++) {
      if (current.CNAME === undefined || q.type === 'CNAME' || q.type === 'ANY') {
        response.answers.push(...recordsOf(current, owner, q.type))
        break
      }
      response.answers.push(...recordsOf(current, owner, 'CNAME'))
      owner = normName(current.CNAME)
      current = findEntry(zone, owner)
    }
  }

  const rcode = response.flags & 0xf
  const negative = rcode === 3 || (rcode === 0 && response.answers.length === 0)
  if (negative && opts.soaOnNegative) response.authorities.push(soaFor(name, opts))

  // Echo EDNS0 when the client used it: some resolvers retry without EDNS on
  // error responses that lack an OPT record, which would double the queries.
  if (udpLimitOf(query) !== null) {
    response.additionals.push({ type: 'OPT', name: '.', udpPayloadSize: ADVERTISED_UDP_SIZE, flags: 0 })
  }
  return response
}

// SOA for negative answers; its owner (option `origin`, default the last label
// of the name) must be an ancestor of the name for resolvers to cache with it.
function soaFor (name, { origin = name.split('.').pop(), negativeTtl: ttl }) {
  const data = {
    mname: 'ns.' + origin, rname: 'hostmaster.' + origin, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: ttl
  }
  return { name: origin, type: 'SOA', class: 'IN', ttl, data }
}

// The EDNS0 UDP payload size advertised by the query, or null without OPT.
function udpLimitOf (query) {
  const opt = (query.additionals || []).find((r) => r.type === 'OPT')
  return opt ? Math.max(CLASSIC_UDP_LIMIT, opt.udpPayloadSize || 0) : null
}

function decodeQuery (buf) {
  try {
    const query = dnsPacket.decode(buf)
    if (query.type !== 'query' || query.questions.length === 0) return null
    return query
  } catch {
    return null // malformed: ignore, as a real server facing garbage would
  }
}

// Resolve with the port once `server` (a net.Server or dgram.Socket) listens
// on `port` (0 = random); reject on error such as EADDRINUSE.
function listen (server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    const done = () => {
      server.removeListener('error', reject)
      resolve(server.address().port)
    }
    if (server instanceof dgram.Socket) server.bind(port, host, done)
    else server.listen(port, host, done)
  })
}

// Close sockets/servers that may or may not have been bound, ignoring errors.
function closeQuietly (...handles) {
  return Promise.all(handles.filter(Boolean).map((h) => new Promise((resolve) => {
    try { h.close(() => resolve()) } catch { resolve() }
  })))
}

async function startDnsServer (options = {}) {
  const opts = { host: '127.0.0.1', port: 0, udp: true, tcp: true, soaOnNegative: false, negativeTtl: 5, ...options }
  if (!opts.udp && !opts.tcp) throw new Error('startDnsServer: enable at least one of udp/tcp')
  let zone = normZone(opts.zone)
  const queries = []
  const timers = new Set()
  const connections = new Set()
  let closed = false

  // Shared by both transports; `send` gets the response object.
  function handle (buf, transport, send) {
    const query = decodeQuery(buf)
    if (!query) return
    const q = query.questions[0]
    // Lower-cased: the resolver sends names in random letter case (0x20).
    queries.push({ name: String(q.name).toLowerCase(), type: q.type, transport })
    const response = answerQuery(query, zone, opts)
    if (!response) return
    const delayMs = findEntry(zone, normName(q.name))?.delayMs
    if (!delayMs) return send(response, query)
    const timer = setTimeout(() => {
      timers.delete(timer)
      if (!closed) send(response, query)
    }, delayMs)
    timers.add(timer)
  }

  function sendUdp (udp, rinfo) {
    return (response, query) => {
      let out = dnsPacket.encode(response)
      const limit = udpLimitOf(query) ?? CLASSIC_UDP_LIMIT
      if (out.length > limit) {
        // Too big for this client over UDP: TC=1 and no records, so it retries over TCP.
        const flags = response.flags | dnsPacket.TRUNCATED_RESPONSE
        out = dnsPacket.encode({ ...response, flags, answers: [], authorities: [] })
      }
      udp.send(out, rinfo.port, rinfo.address, () => {})
    }
  }

  function onTcpConnection (socket) {
    connections.add(socket)
    socket.on('close', () => connections.delete(socket))
    socket.on('error', () => {}) // client resets are not our problem
    socket.setNoDelay(true) // avoid Nagle/delayed-ACK stalls between pipelined answers
    const send = (response) => {
      if (!socket.destroyed) socket.write(dnsPacket.streamEncode(response))
    }
    // 2-byte length-prefixed frames; data events may split or merge them.
    let pending = Buffer.alloc(0)
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk])
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0)
        if (pending.length < 2 + len) break
        handle(pending.subarray(2, 2 + len), 'tcp', send)
        pending = pending.subarray(2 + len)
      }
    })
  }

  const isV6 = net.isIPv6(opts.host)
  let udp = null
  let tcp = null
  let port = opts.port

  // With port 0, take a random TCP port then bind UDP on the same number;
  // retry if that UDP port happens to be taken.
  for (let attempt = 0; ; attempt++) {
    try {
      if (opts.tcp) {
        tcp = net.createServer(onTcpConnection)
        port = await listen(tcp, opts.port, opts.host)
      }
      if (opts.udp) {
        udp = dgram.createSocket(isV6 ? 'udp6' : 'udp4')
        const u = udp
        u.on('message', (msg, rinfo) => handle(msg, 'udp', sendUdp(u, rinfo)))
        port = await listen(udp, opts.tcp ? port : opts.port, opts.host)
      }
      break
    } catch (err) {
      await closeQuietly(udp, tcp)
      udp = tcp = null
      if (opts.port !== 0 || err.code !== 'EADDRINUSE' || attempt >= 10) throw err
    }
  }
  // Late errors (e.g. ICMP unreachable after a send) must not crash the test run.
  for (const s of [udp, tcp]) if (s) s.on('error', () => {})

  return {
    host: opts.host,
    port,
    address: isV6 ? `[${opts.host}]:${port}` : `${opts.host}:${port}`,
    queries,
    countQueries (name, type) {
      const n = normName(name)
      return queries.filter((q) => normName(q.name) === n && (!type || q.type === type)).length
    },
    resetCounts () { queries.length = 0 },
    setZone (newZone) { zone = normZone(newZone) },
    async close () {
      if (closed) return
      closed = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const socket of connections) socket.destroy()
      await closeQuietly(udp, tcp)
    }
  }
}

// A port on which nothing listens right now, over either TCP or UDP, on `host`.
async function freePort (host = '127.0.0.1') {
  for (let attempt = 0; ; attempt++) {
    const tcp = net.createServer()
    const udp = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4')
    try {
      const port = await listen(tcp, 0, host)
      await listen(udp, port, host)
      return port
    } catch (err) {
      if (attempt >= 10) throw err
    } finally {
      await closeQuietly(udp, tcp)
    }
  }
}

module.exports = { startDnsServer, freePort }
