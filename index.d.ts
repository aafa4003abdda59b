/// <reference types="node" />

/** Codes carried by lookup and connect errors (`err.code`), as in Node's `dns` module. */
export type LookupErrorCode =
  /** The name exists but has no A record: it is IPv6-only. The message says what to do. */
  | 'ENODATA'
  /** The name does not exist (NXDOMAIN), or is malformed (then nothing was sent; the message says why). */
  | 'ENOTFOUND'
  /** No answer within `timeout` × `attempts`. */
  | 'ETIMEOUT'
  /** No DNS server could be contacted, or none is configured. */
  | 'ECONNREFUSED'
  /** The process ran out of file descriptors: no socket could be opened to ask the DNS server. */
  | 'EMFILE'
  /** The DNS server answered REFUSED. */
  | 'EREFUSED'
  /** The DNS server answered SERVFAIL (or the answer was unusable). */
  | 'ESERVFAIL'
  /** An IPv6 literal where only IPv4 can be used (see `allowIPv6Literals`). */
  | 'EAFNOSUPPORT'
  /** A bug in ipv4-force, caught before it reached Node (please report it). */
  | 'EINTERNAL'

/** The errors `resolveIPv4`, `lookup` and forced connects fail with. */
export interface LookupError extends Error {
  code: LookupErrorCode
  /** The hostname as it was asked. */
  hostname: string
  /** `'queryA'` (the Rust resolver), `'getaddrinfo'` (the system fallback), `'connect'` or `'lookup'`. */
  syscall: string
}

/** Options of the resolver (`resolveIPv4`, `patchNet`). */
export interface ResolverOptions {
  /**
   * DNS servers to ask instead of those in /etc/resolv.conf: `'1.2.3.4'`, `'1.2.3.4:5353'`,
   * `'::1'`, `'[::1]:5353'`.
   * @default the system configuration (/etc/resolv.conf: nameservers, search, ndots, timeout, attempts; and /etc/hosts)
   */
  nameservers?: string[]
  /**
   * Milliseconds to wait for each answer.
   * @default resolv.conf's `timeout`, else 5000
   */
  timeout?: number
  /**
   * Tries per query, the first included.
   * @default resolv.conf's `attempts`, else 2
   */
  attempts?: number
  /**
   * When the Rust resolver cannot answer (no usable resolv.conf, timeout, server failure) or says
   * the name does not exist, ask the system resolver (getaddrinfo, IPv4 only) before failing.
   * @default true with the system configuration, false when `nameservers` is given
   */
  fallback?: boolean
  /**
   * Upper bound, in seconds, on how long an answer is cached (answers are kept for their DNS TTL).
   * @default Infinity
   */
  maxTtl?: number
  /**
   * Seconds a failed lookup is cached (0: failures are not cached).
   * @default 0.15
   */
  errorTtl?: number
}

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
}

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

/**
 * Makes every TCP/TLS connection by hostname in this process (net, tls, http, https, fetch, pg,
 * mysql2, ioredis…) resolve to IPv4 through ipv4-force. The `host` option is never rewritten, so TLS
 * certificate checks keep the name; unix sockets and IPv4 literals are untouched.
 * Calling it again keeps one wrapper and takes the new options.
 * @returns `unpatchNet`
 */
/** `'native'`: the Rust addon; `'node'`: no addon for this platform, Node's own resolvers (see README). */
export const backend: 'native' | 'node'

export function patchNet(options?: PatchOptions): () => boolean

/** Restores `net.Socket.prototype.connect`. Returns false when nothing was patched. */
export function unpatchNet(): boolean

/** Whether `patchNet()` is in effect. */
export function isPatched(): boolean

/** Forgets every cached answer and failure. */
export function clearCache(): void

/** The verdict of `diagnose()` / `ipv4-force check`. */
export type Verdict =
  | 'reachable'
  | 'resolves'
  | 'ipv6-only'
  | 'no-address'
  | 'not-found'
  | 'dns-failure'
  | 'port-closed'
  | 'port-timeout'
  | 'port-unreachable'
  | 'connect-failed'

export interface DiagnoseOptions {
  /**
   * Milliseconds for the TCP connect, and per DNS try when given.
   * @default 5000
   */
  timeout?: number
  /** DNS servers to ask instead of /etc/resolv.conf. @default the system configuration */
  nameservers?: string[]
  /** Ask getaddrinfo when the Rust resolver cannot answer. @default true with the system configuration */
  fallback?: boolean
}

export interface DnsProbeError {
  /** Node dns code: ENOTFOUND, ENODATA, ETIMEOUT, ESERVFAIL… */
  code: string
  message: string
}

export interface Tcp4Probe {
  /** false when there was no port or no IPv4 address */
  attempted: boolean
  /** `ip:port` connected to (the first A record) */
  address: string | null
  ok: boolean
  /** time to connect or to fail, in milliseconds */
  ms: number | null
  /** ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH… */
  error: string | null
  /** what happened, or why no connection was tried */
  message: string
}

export interface Report {
  /** the target as given, with any password shown as `****` */
  target: string
  host: string
  /** null for a bare host (no TCP test) */
  port: number | null
  /** IPv4 addresses, as resolveIPv4 / patchNet() get them */
  a: string[]
  aError: DnsProbeError | null
  /** IPv6 addresses, through the same resolver configuration */
  aaaa: string[]
  /** null when there is simply no AAAA record */
  aaaaError: DnsProbeError | null
  /** whether this machine has a usable IPv6 route (decided without sending a packet) */
  ipv6Route: boolean
  /** the IPv6 source address the kernel would use */
  ipv6Source: string | null
  ipv6RouteDetail: string
  tcp4: Tcp4Probe
  verdict: Verdict
  /** true for reachable / resolves (the CLI exits 0) */
  ok: boolean
  /** the verdict in one sentence, with what was seen */
  summary: string
  /** what to do next */
  hint: string
}

/**
 * Why a connection to `target` (`host`, `host:port`, or a URL: postgres://, mysql://, redis://,
 * rediss://, mongodb://, http://, https://) fails from this machine, and what to do. Rejects only for bad
 * arguments (`ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`); a password in the target is never echoed.
 */
export function diagnose(target: string, options?: DiagnoseOptions): Promise<Report>
