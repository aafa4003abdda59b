'use strict'

// What a user installs: `npm pack` the repository, check what the tarball holds, install it into a
// fresh app (offline: the package has no runtime dependencies) and use it the ways users will:
// require, ESM import, the register entries, package.json, and a missing binary.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')

const REPO = path.resolve(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'))
const BINARY = 'ipv4-force.linux-x64-gnu.node'
// What the published package must hold (package.json is always packed).
const REQUIRED = [
  BINARY,
  'binding.js',
  'index.js',
  'index.d.ts',
  'index.mjs',
  'register.js',
  'register.mjs',
  'cli.js',
  'lib/diagnose.js',
  'lib/errors.js',
  'lib/fallback.js',
  'lib/lookup.js',
  'lib/native.js',
  'lib/patch/connect.js',
  'lib/patch/dns-lookup.js',
  'lib/patch/forced-lookup.js',
  'lib/patch/index.js',
  'lib/patch/options.js',
  'lib/patch/state.js',
  'lib/preflight.js',
  'lib/resolver.js',
  'README.md',
  'package.json',
]
const FORBIDDEN_DIRS = ['src/', 'target/', '__test__/', 'bench/', '.ci/', 'node_modules/', 'examples/']
const IN_CI = process.env.CI === 'true'

let tmp
let tarball
let packedFiles
let appDir

// npm with nothing inherited from an enclosing `npm test` (npm_config_*), its own cache, offline.
function npmEnv() {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v
  env.npm_config_cache = path.join(tmp, 'npm-cache')
  env.npm_config_update_notifier = 'false'
  return env
}

function run(cmd, args, cwd, extraEnv = {}) {
  return execFileSync(cmd, args, {
    cwd,
    env: { ...npmEnv(), ...extraEnv },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  })
}

// Runs node in the app; returns { status, stdout, stderr } without throwing.
function nodeInApp(args) {
  try {
    return { status: 0, stdout: run(process.execPath, args, appDir), stderr: '' }
  } catch (err) {
    return { status: err.status, stdout: String(err.stdout), stderr: String(err.stderr) }
  }
}

function expectOk(result) {
  if (result.status !== 0) throw new Error(`node exited with ${result.status}:\n${result.stderr}\n${result.stdout}`)
  return result.stdout.trim()
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ipv4-force-pack-'))
  const packDir = path.join(tmp, 'pack')
  fs.mkdirSync(packDir)
  // --ignore-scripts: `prepare` would rebuild the addon; the tarball must hold the built one as is.
  const out = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], REPO)
  const [info] = JSON.parse(out)
  tarball = path.join(packDir, info.filename)
  packedFiles = info.files.map((f) => f.path)

  appDir = path.join(tmp, 'app')
  fs.mkdirSync(appDir)
  fs.writeFileSync(
    path.join(appDir, 'package.json'),
    JSON.stringify({ name: 'pack-test-app', version: '1.0.0', private: true }, null, 2),
  )
  run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--offline', tarball], appDir)
}, 120_000)

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})

describe('the tarball', () => {
  test('holds the addon, the loader, both entries, the register hooks, the CLI and the README', () => {
    const missingFromRepo = REQUIRED.filter((f) => !fs.existsSync(path.join(REPO, f)))
    for (const file of REQUIRED) {
      if (missingFromRepo.includes(file)) continue
      expect(packedFiles).toContain(file)
    }
    if (missingFromRepo.length > 0) {
      // Not written yet: at least package.json must be set to ship them once they are.
      const msg = `pack.test: not in the repository yet, so not checked in the tarball: ${missingFromRepo.join(', ')}`
      if (IN_CI) throw new Error(msg)
      console.warn(msg)
      const listed = pkg.files || []
      for (const file of missingFromRepo.filter((f) => f !== 'README.md')) {
        expect(listed.some((pattern) => pattern === file || (pattern === '*.node' && file.endsWith('.node')))).toBe(true)
      }
    }
  })

  test('holds every file package.json points at (main, types, bin, exports) that exists', () => {
    const targets = new Set([pkg.main, pkg.types])
    for (const p of Object.values(pkg.bin || {})) targets.add(p)
    const walk = (v) => {
      if (typeof v === 'string') targets.add(v)
      else if (v && typeof v === 'object') Object.values(v).forEach(walk)
    }
    walk(pkg.exports)
    for (const target of targets) {
      const file = path.normalize(target)
      if (!fs.existsSync(path.join(REPO, file)) && !IN_CI) continue // reported by the test above
      expect(packedFiles).toContain(file)
    }
  })

  test('holds no sources, build output, tests or tooling', () => {
    const leaked = packedFiles.filter(
      (f) => FORBIDDEN_DIRS.some((dir) => f.startsWith(dir)) || /\.(rs|tgz)$|^Cargo\.|^\.|^build\.rs$/.test(f),
    )
    expect(leaked).toEqual([])
    expect(path.basename(tarball)).toBe(`${pkg.name}-${pkg.version}.tgz`)
  })

  test('the CLI, when shipped, is executable through node_modules/.bin', () => {
    if (!packedFiles.includes('cli.js')) {
      if (IN_CI) throw new Error('cli.js is not in the tarball')
      console.warn('pack.test: cli.js not packed yet, bin not checked')
      return
    }
    const cli = path.join(appDir, 'node_modules', 'ipv4-force', 'cli.js')
    expect(fs.readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true)
    const bin = path.join(appDir, 'node_modules', '.bin', Object.keys(pkg.bin)[0])
    expect(fs.existsSync(bin)).toBe(true)
    expect(fs.statSync(bin).mode & 0o111).not.toBe(0)
  })
})

describe('installed into an app', () => {
  test('require() works and resolves through the addon', () => {
    const out = expectOk(nodeInApp([
      '-e',
      "require('ipv4-force').resolveIPv4('127.0.0.1').then((a) => console.log(JSON.stringify(a)))",
    ]))
    expect(JSON.parse(out)).toEqual(['127.0.0.1'])
  })

  test('the installed copy is the packed one, not a link to the repository', () => {
    const installed = path.join(appDir, 'node_modules', 'ipv4-force')
    expect(fs.lstatSync(installed).isSymbolicLink()).toBe(false)
    expect(fs.existsSync(path.join(installed, 'src'))).toBe(false)
    const out = expectOk(nodeInApp(['-p', "require.resolve('ipv4-force')"]))
    expect(out).toBe(path.join(installed, 'index.js'))
  })

  test('ESM: named imports, the default import and ipv4-force/register', () => {
    const file = path.join(appDir, 'esm.mjs')
    fs.writeFileSync(file, [
      "import { patchNet, resolveIPv4, isPatched, unpatchNet } from 'ipv4-force'",
      "import 'ipv4-force/register'",
      "import ipv4Force from 'ipv4-force'",
      'const out = {',
      '  patchedByRegister: isPatched(),',
      "  patchNet: typeof patchNet,",
      '  sameInstance: ipv4Force.patchNet === patchNet,',
      "  resolved: await resolveIPv4('127.0.0.1'),",
      '}',
      'out.unpatched = unpatchNet() && !isPatched()',
      'console.log(JSON.stringify(out))',
      '',
    ].join('\n'))
    const out = JSON.parse(expectOk(nodeInApp([file])))
    expect(out).toEqual({
      patchedByRegister: true,
      patchNet: 'function',
      sameInstance: true,
      resolved: ['127.0.0.1'],
      unpatched: true,
    })
  })

  test('ESM and CommonJS entries export the same, defined, names', () => {
    const file = path.join(appDir, 'exports.mjs')
    fs.writeFileSync(file, [
      "import * as esm from 'ipv4-force'",
      "import { createRequire } from 'node:module'",
      "const cjs = createRequire(import.meta.url)('ipv4-force')",
      'const named = Object.keys(esm).filter((k) => k !== "default")',
      'console.log(JSON.stringify({',
      '  undefinedInEsm: named.filter((k) => esm[k] === undefined),',
      '  missingFromEsm: Object.keys(cjs).filter((k) => !named.includes(k)),',
      '}))',
      '',
    ].join('\n'))
    expect(JSON.parse(expectOk(nodeInApp([file])))).toEqual({ undefinedInEsm: [], missingFromEsm: [] })
  })

  test('CommonJS register: node -r ipv4-force/register', () => {
    const out = expectOk(nodeInApp(['-r', 'ipv4-force/register', '-p', "require('ipv4-force').isPatched()"]))
    expect(out).toBe('true')
  })

  test("require('ipv4-force/package.json') works", () => {
    const out = expectOk(nodeInApp(['-p', "require('ipv4-force/package.json').version"]))
    expect(out).toBe(pkg.version)
  })

  // Last: it deletes the binary from the installed copy.
  test('without a binary for this platform: the fallback and one warning, or an error naming the platform', () => {
    fs.rmSync(path.join(appDir, 'node_modules', 'ipv4-force', BINARY))
    const script = [
      'try {',
      "  const m = require('ipv4-force')",
      "  console.log(JSON.stringify({ loaded: true, backend: m.backend }))",
      '} catch (err) {',
      '  console.log(JSON.stringify({ loaded: false, message: err.message, code: err.code }))',
      '}',
    ].join('\n')
    const fallback = spawnSync(process.execPath, ['-e', script], { cwd: appDir, encoding: 'utf8' })
    expect(JSON.parse(fallback.stdout)).toEqual({ loaded: true, backend: 'node' })
    expect(fallback.stderr).toContain('IPV4_FORCE_NO_NATIVE_ADDON')
    expect(fallback.stderr).toContain(`${process.platform}-${process.arch}`)
    const strict = spawnSync(process.execPath, ['-e', script], {
      cwd: appDir,
      encoding: 'utf8',
      env: { ...process.env, IPV4_FORCE_REQUIRE_NATIVE: '1' },
    })
    const out = JSON.parse(strict.stdout)
    expect(out.loaded).toBe(false)
    // Not a bare MODULE_NOT_FOUND: the message itself says which platform has no binary.
    expect(out.code).toBe('ERR_IPV4_FORCE_NO_NATIVE_ADDON')
    expect(out.message).toContain(process.platform)
    expect(out.message).toContain(process.arch)
  })
})
