'use strict'

// The TCP server of the connect benchmark, run in its own process so that its accept/close work
// does not share the event loop (or the CPU time accounting) with the client being measured.
// Prints its port on stdout, then accepts and drops connections until stdin closes.

const net = require('node:net')

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => {})
  socket.resume()
  socket.on('end', () => socket.end())
})
server.on('error', (err) => {
  console.error(`tcp-server: ${err.message}`)
  process.exit(1)
})
server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
  process.stdout.write(`${server.address().port}\n`)
})
process.stdin.on('data', () => {})
process.stdin.on('end', () => process.exit(0))
