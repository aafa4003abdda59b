'use strict'

// Just enough of ELF, Mach-O and PE to check what a built .node asks of the system that loads it:
// the architecture, the libraries and glibc symbol versions it needs (ELF), the minimum macOS, the
// linked dylibs, the exports and the code signature (Mach-O), the imported DLLs and the exports
// (PE, Windows). No binutils needed, and it reads foreign architectures alike.

const fs = require('node:fs')

const ELF_MACHINES = { 62: 'x64', 183: 'arm64' }
const SHT_DYNAMIC = 6
const SHT_GNU_VERNEED = 0x6ffffffe
const DT_NEEDED = 1

function cString(buf, offset) {
  const end = buf.indexOf(0, offset)
  return buf.toString('latin1', offset, end)
}

/** { arch, needed: [libraries], versions: ['GLIBC_2.2.5', …] } of a 64-bit little-endian ELF. */
function readElf(file) {
  const buf = fs.readFileSync(file)
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file}: not an ELF file`)
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error(`${file}: not 64-bit little-endian`)
  const machine = buf.readUInt16LE(18)
  const shoff = Number(buf.readBigUInt64LE(40))
  const shentsize = buf.readUInt16LE(58)
  const shnum = buf.readUInt16LE(60)
  const sections = []
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize
    sections.push({
      type: buf.readUInt32LE(at + 4),
      offset: Number(buf.readBigUInt64LE(at + 24)),
      size: Number(buf.readBigUInt64LE(at + 32)),
      link: buf.readUInt32LE(at + 40),
      info: buf.readUInt32LE(at + 44),
    })
  }
  const needed = []
  const versions = new Set()
  for (const s of sections) {
    const strtab = sections[s.link]
    if (s.type === SHT_DYNAMIC) {
      for (let at = s.offset; at < s.offset + s.size; at += 16) {
        const tag = buf.readBigInt64LE(at)
        if (tag === 0n) break
        if (tag === BigInt(DT_NEEDED)) needed.push(cString(buf, strtab.offset + Number(buf.readBigUInt64LE(at + 8))))
      }
    } else if (s.type === SHT_GNU_VERNEED) {
      // Elf64_Verneed entries (count in sh_info), each with a chain of Elf64_Vernaux.
      let at = s.offset
      for (let i = 0; i < s.info; i++) {
        const count = buf.readUInt16LE(at + 2)
        let aux = at + buf.readUInt32LE(at + 8)
        for (let j = 0; j < count; j++) {
          versions.add(cString(buf, strtab.offset + buf.readUInt32LE(aux + 8)))
          aux += buf.readUInt32LE(aux + 12)
        }
        at += buf.readUInt32LE(at + 12)
      }
    }
  }
  return { arch: ELF_MACHINES[machine] || `machine ${machine}`, needed, versions: [...versions].sort() }
}

/** Compares dotted versions ('2.17' < '2.34'). */
function compareVersions(a, b) {
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0)
  }
  return 0
}

const MACHO_CPUS = { 0x01000007: 'x64', 0x0100000c: 'arm64' }
const MACHO_FILETYPES = { 6: 'dylib', 8: 'bundle' }
const LC_REQ_DYLD = 0x80000000
const LC_LOAD_DYLIB = 0xc
const LC_CODE_SIGNATURE = 0x1d
const LC_DYLD_INFO_ONLY = (0x22 | LC_REQ_DYLD) >>> 0
const LC_VERSION_MIN_MACOSX = 0x24
const LC_BUILD_VERSION = 0x32
const LC_DYLD_EXPORTS_TRIE = (0x33 | LC_REQ_DYLD) >>> 0

function uleb(buf, at) {
  let value = 0
  let shift = 0
  for (;;) {
    const byte = buf[at++]
    value += (byte & 0x7f) * 2 ** shift
    shift += 7
    if (byte < 0x80) return [value, at]
  }
}

// Names in the export trie (what dlsym can find), walked depth-first.
function trieExports(buf, start) {
  const names = []
  const walk = (node, prefix) => {
    let [infoSize, at] = uleb(buf, start + node)
    if (infoSize > 0) names.push(prefix)
    at += infoSize
    const children = buf[at++]
    for (let i = 0; i < children; i++) {
      const label = cString(buf, at)
      at += Buffer.byteLength(label, 'latin1') + 1
      let child
      ;[child, at] = uleb(buf, at)
      walk(child, prefix + label)
    }
  }
  walk(0, '')
  return names
}

const version = (v) => `${v >>> 16}.${(v >>> 8) & 0xff}`

/** { arch, type, minOs, dylibs, exports, signed } of a thin 64-bit Mach-O. */
function readMachO(file) {
  const buf = fs.readFileSync(file)
  if (buf.readUInt32LE(0) !== 0xfeedfacf) throw new Error(`${file}: not a 64-bit Mach-O file`)
  const result = {
    arch: MACHO_CPUS[buf.readUInt32LE(4)] || `cpu ${buf.readUInt32LE(4)}`,
    type: MACHO_FILETYPES[buf.readUInt32LE(12)] || `type ${buf.readUInt32LE(12)}`,
    minOs: null,
    dylibs: [],
    exports: [],
    signed: false,
  }
  const ncmds = buf.readUInt32LE(16)
  let at = 32
  for (let i = 0; i < ncmds; i++) {
    const cmd = buf.readUInt32LE(at)
    const size = buf.readUInt32LE(at + 4)
    if (cmd === LC_BUILD_VERSION) result.minOs = version(buf.readUInt32LE(at + 12))
    else if (cmd === LC_VERSION_MIN_MACOSX) result.minOs = version(buf.readUInt32LE(at + 8))
    else if (cmd === LC_LOAD_DYLIB) result.dylibs.push(cString(buf, at + buf.readUInt32LE(at + 8)))
    else if (cmd === LC_CODE_SIGNATURE) result.signed = buf.readUInt32LE(at + 12) > 0
    else if (cmd === LC_DYLD_EXPORTS_TRIE) result.exports = trieExports(buf, buf.readUInt32LE(at + 8))
    else if (cmd === LC_DYLD_INFO_ONLY && buf.readUInt32LE(at + 44) > 0) {
      result.exports = trieExports(buf, buf.readUInt32LE(at + 40))
    }
    at += size
  }
  return result
}

const PE_MACHINES = { 0x8664: 'x64', 0xaa64: 'arm64' }
const IMAGE_FILE_DLL = 0x2000

/** { arch, dll, imports: [DLL names], exports: [names] } of a 64-bit (PE32+) Windows image. */
function readPe(file) {
  const buf = fs.readFileSync(file)
  if (buf.toString('latin1', 0, 2) !== 'MZ') throw new Error(`${file}: not a PE file`)
  const pe = buf.readUInt32LE(0x3c)
  if (buf.readUInt32BE(pe) !== 0x50450000) throw new Error(`${file}: no PE signature`)
  const machine = buf.readUInt16LE(pe + 4)
  const nsections = buf.readUInt16LE(pe + 6)
  const optSize = buf.readUInt16LE(pe + 20)
  const characteristics = buf.readUInt16LE(pe + 22)
  const opt = pe + 24
  if (buf.readUInt16LE(opt) !== 0x20b) throw new Error(`${file}: not PE32+`)
  const dir = (i) => ({ rva: buf.readUInt32LE(opt + 112 + i * 8), size: buf.readUInt32LE(opt + 116 + i * 8) })
  const sections = []
  for (let i = 0, at = opt + optSize; i < nsections; i++, at += 40) {
    sections.push({
      va: buf.readUInt32LE(at + 12),
      size: Math.max(buf.readUInt32LE(at + 8), buf.readUInt32LE(at + 16)),
      raw: buf.readUInt32LE(at + 20),
    })
  }
  const offset = (rva) => {
    const s = sections.find((s) => rva >= s.va && rva < s.va + s.size)
    if (!s) throw new Error(`${file}: RVA ${rva} is in no section`)
    return rva - s.va + s.raw
  }
  const imports = []
  const importDir = dir(1)
  if (importDir.rva) {
    for (let at = offset(importDir.rva); buf.readUInt32LE(at + 12) !== 0; at += 20) {
      imports.push(cString(buf, offset(buf.readUInt32LE(at + 12))))
    }
  }
  const exports = []
  const exportDir = dir(0)
  if (exportDir.rva) {
    const at = offset(exportDir.rva)
    const names = offset(buf.readUInt32LE(at + 32))
    for (let i = 0; i < buf.readUInt32LE(at + 24); i++) exports.push(cString(buf, offset(buf.readUInt32LE(names + i * 4))))
  }
  return {
    arch: PE_MACHINES[machine] || `machine ${machine}`,
    dll: (characteristics & IMAGE_FILE_DLL) !== 0,
    imports: [...new Set(imports.map((n) => n.toLowerCase()))].sort(),
    exports,
  }
}

module.exports = { readElf, readMachO, readPe, compareVersions }
