'use strict'

// Cold-lookup probe for hickory's path (issue 23: what the pooled UDP sockets still earn), in a
// fresh process (IPV4_FORCE_UDP_POOL is read when the addon first builds a resolver). The first
// nameserver is dead (nothing listens on 127.0.0.1:9; its port-unreachable leaves it out), so,
// as after a first nameserver failed, every question goes through hickory's pool to the second,
// dnsmasq. Keeps 100 lookups of new names in flight for `ms`; prints one JSON line: rate and CPU
// per lookup. Usage: node pool-path.js <pkg> <tag> <ms>

const [pkgDir, tag, durationMs] = process.argv.slice(2)
const { resolveIPv4 } = require(pkgDir)
const { openLoad } = require('./load.js')
const { sleep } = require('./util.js')

const options = { nameservers: ['127.0.0.1:9', '127.0.0.1:53'], timeout: 2000, attempts: 2 }

async function main() {
  // Until the dead server is left out (its failure is seen), and warm.
  for (let i = 0; i < 20; i++) await resolveIPv4(`${tag}-warm${i}.bench.test`, options)
  const c0 = process.cpuUsage()
  const load = openLoad((name) => resolveIPv4(name, options), `${tag}-`, 100)
  await sleep(Number(durationMs))
  const { ops, errors, firstError, seconds } = await load.stop()
  if (errors > 0) throw firstError
  const cpu = process.cpuUsage(c0)
  process.stdout.write(JSON.stringify({ rate: ops / seconds, cpuUsPerLookup: (cpu.user + cpu.system) / ops, ops }) + '\n')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
