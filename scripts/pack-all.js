#!/usr/bin/env node
'use strict'

// npm run pack:all: the tarballs to publish, from the binaries `npm run build:all` put in
// dist/artifacts. Writes dist/packages/ipv4-force-<version>.tgz (the main package: JS only, with an
// optionalDependency per platform) and one ipv4-force-<platform>-<version>.tgz per platform
// package (its .node, with the `os`, `cpu` and `libc` fields npm installs it by). The napi CLI
// does the work (create-npm-dirs, artifacts, pre-publish), in a staged copy: the repository's
// package.json keeps no optionalDependencies, so a development `npm install` asks the registry for
// nothing that is not published yet.

const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const REPO = path.resolve(__dirname, '..')
const DIST = path.join(REPO, 'dist')
const ARTIFACTS = path.join(DIST, 'artifacts')
const STAGE = path.join(DIST, 'stage')
const OUT = path.join(DIST, 'packages')
const NAPI = path.join(REPO, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')

const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'))

function run(cmd, args, cwd) {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
}

function napi(...args) {
  return run(process.execPath, [NAPI, ...args, '--cwd', STAGE], STAGE)
}

function npmPack(dir) {
  // --ignore-scripts: the main package's `prepare` would build the host binary into the stage.
  const [info] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', OUT], dir))
  return info
}

// The platform names napi gives the targets in package.json (ipv4-force.<platform>.node).
const platforms = fs
  .readdirSync(ARTIFACTS, { withFileTypes: true })
  .map((e) => /^ipv4-force\.(.+)\.node$/.exec(e.name)?.[1])
  .filter(Boolean)
const expected = pkg.napi.targets.length
if (platforms.length !== expected) {
  console.error(`pack:all: ${ARTIFACTS} holds ${platforms.length} of ${expected} binaries (${platforms.join(', ')}); run npm run build:all`)
  process.exit(1)
}

fs.rmSync(STAGE, { recursive: true, force: true })
fs.rmSync(OUT, { recursive: true, force: true })
fs.mkdirSync(STAGE, { recursive: true })
fs.mkdirSync(OUT, { recursive: true })

// The main package as `npm pack` would pack it from the repository, less any .node built here:
// binding.js loads a .node next to it before the platform package, and the host build is not
// the portable one.
const listed = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], REPO))[0].files
for (const { path: file } of listed) {
  if (file.endsWith('.node')) continue
  fs.mkdirSync(path.dirname(path.join(STAGE, file)), { recursive: true })
  fs.copyFileSync(path.join(REPO, file), path.join(STAGE, file))
}

napi('create-npm-dirs', '--npm-dir', 'npm')
napi('artifacts', '--output-dir', ARTIFACTS, '--npm-dir', 'npm')
// napi also copies every .node next to the main package: they belong only in the platform packages.
for (const file of fs.readdirSync(STAGE)) if (file.endsWith('.node')) fs.rmSync(path.join(STAGE, file))
// Writes optionalDependencies (every platform package, this version) into the staged package.json;
// --skip-optional-publish, --no-gh-release: publishing stays a separate, deliberate step.
napi('pre-publish', '--npm-dir', 'npm', '--tag-style', 'npm', '--no-gh-release', '--skip-optional-publish')

const stagedPath = path.join(STAGE, 'package.json')
const staged = JSON.parse(fs.readFileSync(stagedPath, 'utf8'))
staged.files = staged.files.filter((pattern) => pattern !== '*.node')
fs.writeFileSync(stagedPath, JSON.stringify(staged, null, 2) + '\n')
const optional = Object.keys(staged.optionalDependencies || {})
if (optional.length !== expected) {
  console.error(`pack:all: the staged package.json lists ${optional.length} optionalDependencies, not ${expected}`)
  process.exit(1)
}

const written = [npmPack(STAGE)]
for (const platform of platforms) written.push(npmPack(path.join(STAGE, 'npm', platform)))
for (const info of written) console.log(`${path.join('dist', 'packages', info.filename)}  ${info.files.length} files, ${info.size} bytes`)
