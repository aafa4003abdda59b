// ESM entry: the same module as index.js (one instance, one patch state).
import ipv4Force from './index.js'

export const { backend, resolveIPv4, lookup, createLookup, patchNet, unpatchNet, isPatched, clearCache, stats, diagnose } = ipv4Force
export default ipv4Force
