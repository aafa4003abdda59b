'use strict'

// Type test: index.d.ts as a TypeScript user sees it. tsc --strict compiles
// __test__/fixtures/types/usage.ts (every export, every option, CommonJS) and usage-esm.mts (ES
// module), which import 'ipv4-force' by name: resolved through package.json `exports` (the package
// refers to itself), so the "types" condition is checked too. Each `// @ts-expect-error` there is a
// misuse that must stay an error: an unneeded directive is itself an error, so the test fails both
// when valid code is rejected and when a misuse is accepted.

const fs = require('node:fs')
const path = require('node:path')
const { execFile } = require('node:child_process')

const REPO = path.resolve(__dirname, '..')
const FIXTURE = path.join(__dirname, 'fixtures', 'types')
const TSC = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc')
const TYPES_NODE = path.join(REPO, 'node_modules', '@types', 'node', 'package.json')

function tsc(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSC, ...args], { cwd: REPO, timeout: 90_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

test('index.d.ts compiles under --strict for every documented use, and rejects misuses', async () => {
  // index.d.ts references the node types (`/// <reference types="node" />`).
  if (!fs.existsSync(TYPES_NODE)) {
    throw new Error('@types/node is not installed: run `npm install --save-dev @types/node@20`')
  }
  const { code, stdout, stderr } = await tsc([
    '-p', path.join(FIXTURE, 'tsconfig.json'),
    '--noEmit', '--strict', '--pretty', 'false', '--listFiles',
  ])
  const lines = stdout.split('\n').map((l) => l.trim()).filter(Boolean)
  const diagnostics = lines.filter((l) => /error TS\d+/.test(l)) // first line of each; the rest are --listFiles paths
  expect({ code, diagnostics, stderr: stderr.trim() }).toEqual({ code: 0, diagnostics: [], stderr: '' })

  // The declarations checked are this repository's, reached through `exports`.
  const listed = lines.map((l) => path.resolve(l))
  expect(listed).toContain(path.join(REPO, 'index.d.ts'))
  expect(listed).toContain(path.join(FIXTURE, 'usage.ts'))
  expect(listed).toContain(path.join(FIXTURE, 'usage-esm.mts'))
}, 120_000)

test("binding.d.ts, napi-rs's generated declarations, compiles under --strict", async () => {
  const { code, stdout } = await tsc([path.join(REPO, 'binding.d.ts'), '--noEmit', '--strict', '--pretty', 'false'])
  expect({ code, diagnostics: stdout.trim() }).toEqual({ code: 0, diagnostics: '' })
}, 120_000)

test('the fixture exercises every export of index.d.ts', () => {
  const dts = fs.readFileSync(path.join(REPO, 'index.d.ts'), 'utf8')
  const exported = new Set(
    [...dts.matchAll(/^export\s+(?:declare\s+)?(?:function|const|type|interface|class)\s+(\w+)/gm)].map((m) => m[1]),
  )
  const usage = fs.readFileSync(path.join(FIXTURE, 'usage.ts'), 'utf8')
  const unused = [...exported].filter((name) => !new RegExp(`\\b${name}\\b`).test(usage))
  expect(unused).toEqual([])
  expect(exported.size).toBeGreaterThan(0)

  // ...and every option of ResolverOptions (generated: binding.d.ts's NativeResolverOptions) and
  // PatchOptions.
  const bindingDts = fs.readFileSync(path.join(REPO, 'binding.d.ts'), 'utf8')
  const options = []
  for (const [text, name] of [[bindingDts, 'NativeResolverOptions'], [dts, 'PatchOptions']]) {
    const body = text.match(new RegExp(`^export interface ${name}\\b[^{]*\\{([\\s\\S]*?)^\\}`, 'm'))
    expect(body).not.toBeNull()
    options.push(...[...body[1].matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]))
  }
  expect(options).toEqual(expect.arrayContaining(['nameservers', 'hosts']))
  expect(options.filter((o) => !new RegExp(`\\b${o}:`).test(usage))).toEqual([])
})

test('every exported function and value in index.d.ts has its own JSDoc, right above it (what an editor shows)', () => {
  const lines = fs.readFileSync(path.join(REPO, 'index.d.ts'), 'utf8').split('\n')
  const seen = new Set()
  const undocumented = []
  lines.forEach((line, i) => {
    const m = /^export\s+(?:declare\s+)?(?:function|const)\s+(\w+)/.exec(line)
    if (m === null || seen.has(m[1])) return // an overload shares the first declaration's JSDoc
    seen.add(m[1])
    if (!/\*\/\s*$/.test(lines[i - 1] || '')) undocumented.push(m[1])
  })
  expect(seen).toContain('patchNet')
  expect(undocumented).toEqual([])
})
