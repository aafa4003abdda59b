/// <reference types="node" />

// The types napi-rs generates from the Rust side (src/binding), under the names of this API.
import type * as binding from './binding'

/** Codes carried by lookup and connect errors (`err.code`), as in Node's `dns` module. */
export type LookupErrorCode = binding.LookupErrorCode

/** The errors `resolveIPv4`, `lookup` and forced connects fail with. */
export interface LookupError extends Error {
  code: LookupErrorCode
  /** The hostname as it was asked. */
  hostname: string
  /** `'queryA'` (the Rust resolver), `'getaddrinfo'` (the system fallback), `'connect'` or `'lookup'`. */
  syscall: string
}

/** Options of the resolver (`resolveIPv4`, `createLookup`, `patchNet`); each one documented in binding.d.ts. */
export type ResolverOptions = binding.NativeResolverOptions

export interface PatchOptions extends ResolverOptions {
  /**
   * Which hosts to force to IPv4: exact names and `*.suffix` patterns (`*.example.com` matches
   * every name under example.com, not example.com itself), or a predicate.
   * @default every host
   */
  hosts?: string[] | ((hostname: string) => boolean)
  /**
   * Let connections to IPv6 literals (other than IPv4-mapped ones) through instead of failing
   * them with `EAFNOSUPPORT`.
   * @default false
   */
  allowIPv6Literals?: boolean
  /**
   * Also install the IPv4 lookup as `dns.lookup` and `dns.promises.lookup`, so libraries that
   * resolve a name themselves and connect to the address get IPv4 too. `false` leaves them to Node
   * and forces connections only.
   * @default true
   */
  dnsLookup?: boolean
  /**
   * Emit one `IPV4_FORCE_IPV6_ONLY` warning (`process.emitWarning`) per host the first time a
   * connection finds it IPv6-only, in case a library swallows the ENODATA error. Node's
   * `--no-warnings` and `--disable-warning=IPV4_FORCE_IPV6_ONLY` apply too.
   * @default true
   */
  warnings?: boolean
  /**
   * Targets to check in the background, as `ipv4-force check` does (URLs or `host:port`): one
   * `ipv4-force:` line each on stderr, "ok" or the verdict and the remedy. Never delays start-up
   * or keeps the process alive; passwords are never printed.
   */
  check?: string[]
}

/**
 * The message published on the `diagnostics_channel` named `ipv4-force:lookup` for each lookup of
 * a patched connection or `dns.lookup` (not for direct `resolveIPv4` / `lookup` calls).
 */
export type LookupEvent = {
  hostname: string
  /** Answered from a cache (or an IPv4 literal) without a query. */
  cached: boolean
  /** Milliseconds from the lookup's start to its outcome. */
  duration: number
  /** `'native'` (the Rust resolver) or `'node'` (the JS fallback). */
  backend: 'native' | 'node'
} & ({ addresses: string[]; error?: undefined } | { error: Error & { code: string }; addresses?: undefined })

/**
 * The IPv4 addresses of `hostname`: A records (following CNAMEs) or /etc/hosts entries, resolved in
 * Rust. An IPv4 literal returns itself; `::ffff:a.b.c.d` returns `a.b.c.d`. Never an empty array:
 * a name without IPv4 rejects with `ENODATA`.
 */
export function resolveIPv4(hostname: string, options?: ResolverOptions): Promise<string[]>

export interface LookupAddress {
  address: string
  family: 4
}

export interface LookupOptions {
  /** Answer with every address, as `[{ address, family: 4 }]`. */
  all?: boolean
  /** Ignored: the answer is always IPv4. */
  family?: number | string
  hints?: number
  /** Ignored: the answer is always IPv4. */
  order?: 'ipv4first' | 'ipv6first' | 'verbatim'
  /** Ignored. */
  verbatim?: boolean
}

/**
 * A drop-in for `dns.lookup` that only answers IPv4, usable as the `lookup` option of
 * `net.connect`, `http.Agent`, undici and ioredis. Uses the system configuration.
 */
export function lookup(hostname: string, callback: (err: LookupError | null, address: string, family: 4) => void): void
export function lookup(
  hostname: string,
  options: number | (LookupOptions & { all?: false }),
  callback: (err: LookupError | null, address: string, family: 4) => void,
): void
export function lookup(
  hostname: string,
  options: LookupOptions & { all: true },
  callback: (err: LookupError | null, addresses: LookupAddress[]) => void,
): void
export function lookup(
  hostname: string,
  options: number | LookupOptions,
  callback: (err: LookupError | null, address: string | LookupAddress[], family?: 4) => void,
): void

/** A `lookup` like the one above, bound to resolver options (`nameservers`, `timeout`…). */
export function createLookup(options?: ResolverOptions): typeof lookup

/** `'native'`: the Rust addon; `'node'`: no addon for this platform, Node's own resolvers (see README). */
export const backend: 'native' | 'node'

/**
 * Makes every TCP/TLS connection by hostname in this process (net, tls, http, https, fetch, pg,
 * mysql2, ioredis…) resolve to IPv4 through ipv4-force. The `host` option is never rewritten, so TLS
 * certificate checks keep the name; unix sockets and IPv4 literals are untouched.
 * Calling it again keeps one wrapper and takes the new options.
 * @returns `unpatchNet`
 */
export function patchNet(options?: PatchOptions): () => boolean

/** Restores `net.Socket.prototype.connect`. Returns false when nothing was patched. */
export function unpatchNet(): boolean

/**
 * Whether connections are patched, by this copy of ipv4-force or another one in the process (with
 * two versions installed, the first to patch keeps its patch; see the README).
 */
export function isPatched(): boolean

/**
 * Forgets every cached answer and failure, and makes the next lookup check /etc/resolv.conf and
 * /etc/hosts for changes (otherwise checked at most once a second).
 */
export function clearCache(): void

/** Counters since the process started, for all its threads (`stats()`). */
export type Stats = binding.Stats

/** Counters since the process started; cheap enough to scrape every few seconds. */
export function stats(): Stats

/** The verdict of `diagnose()` / `ipv4-force check`. */
export type Verdict = binding.Verdict

export type DiagnoseOptions = binding.DiagnoseOptions

// The addon's check returns facts (binding.CheckFacts); lib/check-words.js words them into these.

/** A failed DNS question of the check. */
export interface DnsProbeError {
  code: binding.LookupErrorCode
  message: string
}

/** The TCP connect over IPv4. */
export interface Tcp4Probe {
  /** false when there was no port or no IPv4 address. */
  attempted: boolean
  /** `ip:port` connected to (the first A record). */
  address: string | null
  ok: boolean
  /** Time to connect or to fail, in milliseconds. */
  ms: number | null
  /** ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH… */
  error: string | null
  /** What happened, or why no connection was tried. */
  message: string
}

/** What `diagnose()` found; every key is always present (`null` for "none"), in this order. */
export interface Report {
  /** The target as given, with any password shown as `****`. */
  target: string
  host: string
  /** null for a bare host (no TCP test). */
  port: number | null
  /** IPv4 addresses, as resolveIPv4 / patchNet() get them. */
  a: Array<string>
  aError: DnsProbeError | null
  /** IPv6 addresses, through the same resolver configuration. */
  aaaa: Array<string>
  /** null when there is simply no AAAA record. */
  aaaaError: DnsProbeError | null
  /** Whether this machine has a usable IPv6 route (decided without sending a packet). */
  ipv6Route: boolean
  /** The IPv6 source address the kernel would use. */
  ipv6Source: string | null
  ipv6RouteDetail: string
  tcp4: Tcp4Probe
  verdict: Verdict
  /** true for reachable / resolves (the CLI exits 0). */
  ok: boolean
  /** The verdict in one sentence, with what was seen. */
  summary: string
  /** What to do next. */
  hint: string
  /**
   * Supabase only (a direct host without IPv4, or a pooler URL): which pooler serves the
   * project, and the string to paste.
   */
  pooler: PoolerReport | null
}

/** A Supabase pooler's answer to the check's PostgreSQL startup message (`serves`: it asked for a password). */
export type PoolerVerdict = binding.PoolerVerdict

/** One pooler host asked with a PostgreSQL startup message (never a password). */
export interface PoolerCandidate extends Omit<binding.CheckPoolerProbe, 'seen'> {
  /** What was seen (the server's error as it is). */
  detail: string
}

/** The search for the pooler(s) that serve a Supabase project. */
export interface PoolerSearch extends Omit<binding.CheckPoolerSearch, 'candidates'> {
  /** Every candidate, with its verdict. */
  candidates: Array<PoolerCandidate>
}

/** Supabase's pooler, as the check found it (`null` in the report for other targets). */
export interface PoolerReport extends Omit<binding.CheckPooler, 'urlProbe' | 'search'> {
  /** A pooler URL's own host, asked with the URL's user name. */
  urlProbe: PoolerCandidate | null
  /** The search among every candidate, when one ran. */
  search: PoolerSearch | null
}

/**
 * Why a connection to `target` (`host`, `host:port`, or a URL: postgres://, mysql://, redis://,
 * rediss://, mongodb://, http://, https://) fails from this machine, and what to do. Rejects only for bad
 * arguments (`ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` / `ERR_OUT_OF_RANGE`); a password in the target is never echoed.
 */
export function diagnose(target: string, options?: DiagnoseOptions): Promise<Report>
