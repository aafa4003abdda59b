'use strict'

// Bun and Deno for the tests, from the devDependencies `bun` and `deno`: npm installs the one
// platform package each lists as optional (@oven/bun-<platform>, @deno/<platform>), and the
// binary is run from there. Their postinstall scripts are denied in package.json's allowScripts:
// all they do is copy that binary into bun/bin/bun.exe and deno/deno, so a checkout where they
// did run (an older npm, or an approval) is accepted too.

const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const REPO = path.resolve(__dirname, '..', '..')
const ARCH = { x64: { bun: 'x64', deno: 'x64' }, arm64: { bun: 'aarch64', deno: 'arm64' } }[process.arch]

function packageDir(name, from = REPO) {
  try {
    return path.dirname(require.resolve(`${name}/package.json`, { paths: [from] }))
  } catch {
    return null
  }
}

// Where each runtime's binary may be: the platform package first, then the copy a postinstall made.
function candidates(runtime) {
  const main = packageDir(runtime)
  if (main === null) return { main: null, files: [] }
  const files = []
  if (process.platform === 'linux' && ARCH) {
    const platformPackage = runtime === 'bun' ? `@oven/bun-linux-${ARCH.bun}` : `@deno/linux-${ARCH.deno}-glibc`
    const dir = packageDir(platformPackage, main)
    if (dir !== null) files.push(path.join(dir, runtime === 'bun' ? 'bin/bun' : 'deno'))
  }
  files.push(path.join(main, runtime === 'bun' ? 'bin/bun.exe' : 'deno'))
  return { main, files }
}

const found = new Map()
/**
 * The runtime ('bun' or 'deno') installed in node_modules: { bin, version, expected } (expected:
 * the version package.json pins), or { reason } saying why it cannot be run here.
 */
function findRuntime(runtime) {
  if (found.has(runtime)) return found.get(runtime)
  const expected = require(path.join(REPO, 'package.json')).devDependencies[runtime]
  const { main, files } = candidates(runtime)
  let answer = { reason: `the ${runtime} package is not installed (npm install)` }
  if (main !== null) {
    answer = { reason: `no ${runtime} binary for ${process.platform}-${process.arch} in node_modules (tried ${files.join(', ')})` }
    for (const bin of files) {
      if (!fs.existsSync(bin)) continue
      const run = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } })
      const version = /(\d+\.\d+\.\d+)/.exec(run.stdout || '')
      if (run.status === 0 && version) {
        answer = { bin, version: version[1], expected }
        break
      }
      answer = { reason: `${bin} --version failed (${run.error ? run.error.message : `exit ${run.status}`}): ${(run.stderr || '').trim().slice(0, 300)}` }
    }
  }
  found.set(runtime, answer)
  return answer
}

module.exports = { findRuntime }
