'use strict'

// Two copies of ipv4-force in one process (a monorepo with two versions installed): the patch's
// state lives on net.Socket.prototype under a registered symbol, with the version of its layout.
// A copy with the same layout shares it (one wrapper, the last options win); a copy with another
// layout never reads or writes it: its patchNet() changes nothing and warns once, its unpatch
// leaves the first copy's patch in place. Simulated with copies of the package, one of them with
// another state version.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
let tmp

function copyPackage(dir, stateVersion) {
  const { files } = require('../package.json')
  for (const file of fs.readdirSync(ROOT).filter((f) => f.endsWith('.node')).concat(files.filter((f) => !f.includes('*')), 'package.json')) {
    if (fs.existsSync(path.join(ROOT, file))) fs.cpSync(path.join(ROOT, file), path.join(dir, file), { recursive: true })
  }
  const state = path.join(dir, 'lib', 'patch', 'state.js')
  const text = fs.readFileSync(state, 'utf8')
  if (!/^const STATE_VERSION = 1$/m.test(text)) throw new Error('lib/patch/state.js no longer says STATE_VERSION = 1')
  fs.writeFileSync(state, text.replace(/^const STATE_VERSION = 1$/m, `const STATE_VERSION = ${stateVersion}`))
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ipv4-force-copies-'))
  copyPackage(path.join(tmp, 'same'), 1)
  copyPackage(path.join(tmp, 'other'), 2)
})

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

// What the child sees: each step's outcome of a connect to ::1 (allowed only by allowIPv6Literals:
// true, so whose options are in force shows), what patchNet/unpatchNet/isPatched answer, warnings.
const SCRIPT = `
const net = require('node:net')
const original = net.Socket.prototype.connect
const [root, same, other] = process.argv.slice(1)
const warnings = []
process.on('warning', (w) => warnings.push(w.code))
const server = net.createServer((s) => s.destroy()).listen(0, '::1', async () => {
  const port = server.address().port
  const connect = () => new Promise((resolve) => {
    const s = net.connect(port, '::1')
    s.on('connect', () => { s.destroy(); resolve('connected') })
    s.on('error', (e) => resolve(e.code))
  })
  const a = require(root), b = require(other), c = require(same)
  const steps = {}
  a.patchNet({ allowIPv6Literals: true })
  steps.first = await connect()
  const undoOther = b.patchNet()
  b.patchNet({ hosts: ['x.test'] })
  steps.afterOther = await connect()
  steps.otherSeesPatched = b.isPatched()
  steps.otherUnpatch = [undoOther(), b.unpatchNet()]
  steps.afterOtherUnpatch = [a.isPatched(), await connect()]
  c.patchNet()
  steps.afterSameLayout = await connect()
  steps.sameUnpatch = c.unpatchNet()
  steps.end = [a.isPatched(), b.isPatched(), net.Socket.prototype.connect === original]
  await new Promise((r) => setImmediate(r))
  console.log(JSON.stringify({ steps, warnings }))
  server.close()
})
`

test("a copy with another state version leaves the first copy's patch alone; one with the same shares it", async () => {
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', SCRIPT, ROOT, path.join(tmp, 'same'), path.join(tmp, 'other')], { timeout: 20000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))))
  })
  expect(out.steps).toEqual({
    first: 'connected',
    // The other copy's patchNet() (twice) changed nothing: the first copy's options still hold.
    afterOther: 'connected',
    otherSeesPatched: true,
    otherUnpatch: [false, false],
    afterOtherUnpatch: [true, 'connected'],
    // A copy with the same layout shares the state: its options take over, as a second call would.
    afterSameLayout: 'EAFNOSUPPORT',
    sameUnpatch: true,
    end: [false, false, true],
  })
  // Said once, however many calls.
  expect(out.warnings).toEqual(['IPV4_FORCE_OTHER_COPY'])
})
