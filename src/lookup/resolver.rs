//! IPv4-only name resolution, A records only, with the system or an explicit configuration: the
//! first nameserver asked directly (udp_exchange.rs) for the common case, hickory-resolver for
//! everything that reply does not settle, then the system resolver (getaddrinfo) as a fallback
//! when neither can answer.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::config::{ProtocolConfig, ResolveHosts};
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::{DnsResponse, Query, ResponseCode};
use hickory_resolver::proto::rr::domain::usage::{self, ResolverUsage};
use hickory_resolver::proto::rr::rdata::CNAME;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::Hosts;
use tokio::sync::Semaphore;

use crate::locking::lock;
use crate::lookup::counters::{FALLBACKS, TIMEOUTS};
use crate::lookup::errors::{ErrorCode, LookupError};
use crate::lookup::hostname::{parse_host, Host};
use crate::lookup::system_config::system_config;
use crate::lookup::system_files::{Content, Generations, SystemFiles};
use crate::lookup::udp_exchange::{DirectServer, QueryOptions};
use crate::lookup::udp_pool::PooledUdpProvider;

/// hickory's resolver on tokio, with UDP sockets reused between queries (see udp_pool.rs).
pub type HickoryResolver = hickory_resolver::Resolver<PooledUdpProvider>;

/// getaddrinfo gives no TTL: its answers are kept this long.
const SYSTEM_ANSWER_TTL: Duration = Duration::from_secs(1);
/// getaddrinfo calls running at once, process-wide: each holds a thread for as long as the system
/// resolver takes, and with the DNS server down thousands of lookups would otherwise each start one.
const MAX_SYSTEM_LOOKUPS: usize = 8;
/// A question the first nameserver has not answered after this long is also put to the full
/// resolver: hickory's own UDP client re-sends a question after this interval at the least.
const HEDGE_AFTER: Duration = hickory_resolver::proto::op::DEFAULT_RETRY_FLOOR;
/// CNAME hops followed before a chain counts as broken.
const MAX_CNAME_HOPS: usize = 16;

/// How to build the resolver. `Default` means: the system configuration, with fallback.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ResolverSettings {
    /// Explicit nameservers instead of /etc/resolv.conf.
    pub nameservers: Option<Vec<SocketAddr>>,
    /// Per-attempt timeout (default: resolv.conf's, else 5 s).
    pub timeout: Option<Duration>,
    /// Tries per nameserver, the first included (default: resolv.conf's, else 2).
    pub attempts: Option<usize>,
    /// Ask getaddrinfo when hickory cannot answer.
    pub fallback: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub addresses: Vec<Ipv4Addr>,
    pub valid_until: Instant,
}

/// Resolves names to IPv4 addresses. The hickory resolver is built on first use, inside the
/// runtime, so creating one never reads a file or fails; with the system configuration it is
/// built again when /etc/resolv.conf or /etc/hosts changes (system_files.rs), and with explicit
/// nameservers when /etc/hosts changes.
pub struct Ipv4Resolver {
    settings: ResolverSettings,
    files: &'static SystemFiles,
    current: Mutex<Option<Current>>,
    /// Bumped by each rebuild after the first build: the cache above compares it with its own.
    rebuilds: AtomicU64,
    /// The generations `current` was built from, packed (`u64::MAX`: not built yet), for the
    /// hot path's check without the lock.
    built_from: AtomicU64,
}

/// The resolver in use, and what it was built from. Lookups hold an `Arc` of the resolver, so
/// those in flight during a rebuild finish on the old one, which is freed (its sockets and tasks
/// with it) when the last of them ends.
struct Current {
    native: Arc<Result<Native, String>>,
    generations: Generations,
}

/// The hickory resolver, and what it was built with that decides which names are asked.
struct Native {
    resolver: HickoryResolver,
    /// The hosts file, shared with `resolver`.
    hosts: Arc<Hosts>,
    /// The first nameserver, asked directly (udp_exchange.rs) when it can be.
    direct: Option<DirectServer>,
    /// The nameservers over TCP only, for a question whose direct UDP reply was truncated.
    tcp_resolver: Option<HickoryResolver>,
    search: Vec<Name>,
    domain: Option<Name>,
    ndots: usize,
}

impl Ipv4Resolver {
    pub fn new(settings: ResolverSettings) -> Self {
        Ipv4Resolver::with_files(settings, SystemFiles::system())
    }

    /// A resolver that follows these files instead of the system's (tests).
    pub fn with_files(settings: ResolverSettings, files: &'static SystemFiles) -> Self {
        Ipv4Resolver {
            settings,
            files,
            current: Mutex::new(None),
            rebuilds: AtomicU64::new(0),
            built_from: AtomicU64::new(u64::MAX),
        }
    }

    pub fn files(&self) -> &'static SystemFiles {
        self.files
    }

    /// Whether the files changed since this resolver was built in a way that concerns it (the
    /// hosts file always; resolv.conf with the system configuration). Atomics only.
    pub fn is_behind(&self, now: Generations) -> bool {
        let built = self.built_from.load(Ordering::Acquire);
        built != u64::MAX && self.concerning(Generations::unpack(built)) != self.concerning(now)
    }

    fn concerning(&self, generations: Generations) -> Generations {
        Generations {
            resolv_conf: if self.settings.nameservers.is_some() {
                0
            } else {
                generations.resolv_conf
            },
            ..generations
        }
    }

    /// How many times the resolver was rebuilt after a change: answers cached before the last
    /// rebuild may be stale.
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds.load(Ordering::Acquire)
    }

    /// Checks the files if due and rebuilds the resolver if they changed; returns `rebuilds()`.
    pub fn follow_system(&self) -> u64 {
        self.native();
        self.rebuilds()
    }

    /// The host's IPv4 addresses (never an empty list), or why there are none.
    pub async fn resolve(&self, input: &str) -> Result<Resolved, LookupError> {
        let name = match parse_host(input) {
            Ok(Host::Name(name)) => name,
            Ok(Host::Ipv4(ip) | Host::MappedIpv4(ip)) => return Ok(Resolved::forever(ip)),
            Ok(Host::Ipv6(_)) => return Err(LookupError::ipv6_literal(input)),
            // As Node's getaddrinfo reports it (ENOTFOUND), with the precise reason.
            Err(bad) => {
                return Err(LookupError {
                    syscall: "getaddrinfo",
                    ..LookupError::new(
                        ErrorCode::NotFound,
                        input,
                        format!("malformed hostname, nothing was sent: {}", bad.reason),
                    )
                })
            }
        };
        let native = self.query_a(input, &name).await;
        if matches!(&native, Err(err) if err.code == ErrorCode::Timeout) {
            TIMEOUTS.note();
        }
        match native {
            Err(err) if self.settings.fallback && err.code.allows_fallback() => {
                FALLBACKS.note();
                match Box::pin(system_lookup_ipv4(&name)).await {
                    Ok(addresses) => Ok(Resolved {
                        addresses,
                        valid_until: Instant::now() + SYSTEM_ANSWER_TTL,
                    }),
                    Err(system_err) => Err(more_precise(err, system_err, input)),
                }
            }
            other => other,
        }
    }

    /// The name's AAAA records, through the same configuration (for diagnostics).
    pub async fn resolve_ipv6(&self, name: &str) -> Result<Vec<Ipv6Addr>, LookupError> {
        let native = self.native();
        let native = native
            .as_ref()
            .as_ref()
            .map_err(|e| no_config_error(name, e))?;
        let query = dns_name(name).map_err(|e| classify(name, &e))?;
        match native.resolver.lookup(query, RecordType::AAAA).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match r.data {
                    RData::AAAA(aaaa) => Some(aaaa.0),
                    _ => None,
                })
                .collect()),
            Err(err) => Err(classify(name, &err)),
        }
    }

    /// The A records of `name`, asked as glibc does: each candidate of the search list in turn,
    /// keeping only addresses owned by the name asked or by its CNAME chain.
    async fn query_a(&self, input: &str, name: &str) -> Result<Resolved, LookupError> {
        let native = self.native();
        let native = native
            .as_ref()
            .as_ref()
            .map_err(|e| no_config_error(input, e))?;
        let query = dns_name(name).map_err(|e| classify(input, &e))?;
        let mut last = None;
        for candidate in native.candidates(&query) {
            // A fully qualified name: hickory asks exactly this name (its hosts file first), so
            // the owner the answer must be for is known.
            match native.ask(&candidate).await {
                Ok(resolved) => return Ok(resolved),
                Err(failure) => last = Some((candidate, failure)),
            }
        }
        let Some((candidate, failure)) = last else {
            return Err(LookupError::new(
                ErrorCode::NotFound,
                input,
                "no name to ask",
            ));
        };
        let err = match failure {
            Failure::CnameLoop => return Err(cname_loop_error(input)),
            Failure::NoAddress => {
                return Err(Box::pin(self.no_ipv4_error(input, name, &candidate)).await)
            }
            Failure::Net(err) => classify(input, &err),
        };
        match err.code {
            ErrorCode::NoData => Err(Box::pin(self.no_ipv4_error(input, name, &candidate)).await),
            // With a search list, the name itself may answer "no A record" and the last search
            // candidate NXDOMAIN, which is what is reported. An AAAA query tells an IPv6-only name
            // from a missing one.
            ErrorCode::NotFound => match Box::pin(self.resolve_ipv6(name)).await {
                Ok(ipv6) if !ipv6.is_empty() => Err(LookupError::ipv6_only(input, Some(ipv6[0]))),
                _ => Err(err),
            },
            _ => Err(err),
        }
    }

    /// Why a name that exists has no usable A record: a CNAME loop (hickory gives up on one
    /// without saying so), or the name is IPv6-only (ENODATA with an address when one is found).
    async fn no_ipv4_error(&self, input: &str, name: &str, asked: &Name) -> LookupError {
        if self.cname_loops(asked).await {
            return cname_loop_error(input);
        }
        self.ipv6_only_error(input, name).await
    }

    /// Walks the CNAME chain from `start` one CNAME query at a time: true when it comes back to a
    /// name already seen, or is longer than any sane chain. Only asked when there is no address.
    async fn cname_loops(&self, start: &Name) -> bool {
        let native = self.native();
        let Ok(native) = native.as_ref() else {
            return false;
        };
        let mut seen = vec![start.clone()];
        let mut current = start.clone();
        for _ in 0..MAX_CNAME_HOPS {
            let Ok(lookup) = native
                .resolver
                .lookup(current.clone(), RecordType::CNAME)
                .await
            else {
                return false;
            };
            let Some((next, _)) = cname_record_of(&current, lookup.answers()) else {
                return false;
            };
            if seen.iter().any(|n| same_name(n, &next)) {
                return true;
            }
            current = fqdn(next);
            seen.push(current.clone());
        }
        true
    }

    /// ENODATA, with an IPv6 address of the name when a diagnostic AAAA query finds one.
    async fn ipv6_only_error(&self, input: &str, name: &str) -> LookupError {
        let seen = self
            .resolve_ipv6(name)
            .await
            .ok()
            .and_then(|v| v.first().copied());
        LookupError::ipv6_only(input, seen)
    }

    /// The resolver for the files as they are now: checked if due, rebuilt if they changed.
    fn native(&self) -> Arc<Result<Native, String>> {
        let now = self.concerning(self.files.refresh(Instant::now()));
        if let Some(current) = lock(&self.current).as_ref() {
            if self.concerning(current.generations) == now {
                return current.native.clone();
            }
        }
        self.rebuild()
    }

    /// Builds the resolver from the files as last read (system_files.rs keeps the last good
    /// resolv.conf while the file is missing or unusable).
    fn rebuild(&self) -> Arc<Result<Native, String>> {
        let files = self.files.snapshot();
        let mut current = lock(&self.current);
        if let Some(built) = current.as_ref() {
            if self.concerning(built.generations) == self.concerning(files.generations) {
                return built.native.clone();
            }
        }
        let config = match &self.settings.nameservers {
            Some(servers) => Ok((explicit_config(servers), ResolverOpts::default())),
            None => system_config(&files.resolv_conf),
        };
        let native = Arc::new(config.and_then(|(config, opts)| {
            build_native(&self.settings, config, opts, hosts_from(&files.hosts))
        }));
        if current.is_some() {
            self.rebuilds.fetch_add(1, Ordering::AcqRel);
            RELOADS.fetch_add(1, Ordering::Relaxed);
        }
        *current = Some(Current {
            native: native.clone(),
            generations: files.generations,
        });
        self.built_from
            .store(files.generations.pack(), Ordering::Release);
        native
    }
}

#[cfg(test)]
impl Ipv4Resolver {
    fn current_native(&self) -> std::sync::Weak<Result<Native, String>> {
        Arc::downgrade(&lock(&self.current).as_ref().expect("built").native)
    }
}

/// Resolvers rebuilt after a change of the system's files, process-wide (`stats()`).
static RELOADS: AtomicU64 = AtomicU64::new(0);

pub fn config_reloads() -> u64 {
    RELOADS.load(Ordering::Relaxed)
}

/// The hosts file's entries; none when it is missing or unreadable, as for getaddrinfo.
fn hosts_from(content: &Content) -> Arc<Hosts> {
    let mut hosts = Hosts::default();
    if let Ok(bytes) = content {
        if hosts.read_hosts_conf(&bytes[..]).is_err() {
            hosts = Hosts::default();
        }
    }
    Arc::new(hosts)
}

impl Resolved {
    /// An IPv4 literal's answer: itself, for ever.
    pub fn forever(ip: Ipv4Addr) -> Self {
        Resolved {
            addresses: vec![ip],
            valid_until: super::cache::instant_after(super::cache::FOREVER),
        }
    }
}

impl Native {
    /// `name`'s A records: from the hosts file, else from the first nameserver asked directly,
    /// else through hickory's resolver (its pool, retries, other nameservers, TCP).
    ///
    /// A direct question unanswered after `HEDGE_AFTER` is raced by the full resolver, as
    /// hickory's own UDP client re-sends a question after its retry interval: the first to
    /// settle it wins. A first nameserver that failed, or was beaten, is left out for a while.
    async fn ask(&self, name: &Name) -> Result<Resolved, Failure> {
        let query = Query::query(name.clone(), RecordType::A);
        if let Some(lookup) = self.hosts.lookup_static_host(&query) {
            return answer_for(name, lookup.answers());
        }
        let direct_server = self.direct.as_ref().filter(|s| s.in_use());
        let Some(server) = direct_server.filter(|_| !answered_by_hickory(name)) else {
            return self.ask_pool(name).await;
        };
        // One timer: first the hedge, then the direct question's own timeout.
        let started = tokio::time::Instant::now();
        let direct = self.ask_direct(server, name, query);
        let timer = tokio::time::sleep(HEDGE_AFTER.min(server.timeout / 2));
        tokio::pin!(direct, timer);
        tokio::select! {
            biased;
            direct = &mut direct => return match direct {
                Direct::Settled(outcome) => outcome,
                Direct::Truncated => self.ask_tcp(name).await,
                Direct::Unsettled => self.ask_pool(name).await,
            },
            () = &mut timer => {}
        }
        timer.as_mut().reset(started + server.timeout);
        let full = self.ask_pool(name);
        tokio::pin!(full);
        tokio::select! {
            biased;
            direct = &mut direct => {
                if let Direct::Settled(outcome) = direct {
                    return outcome;
                }
            }
            () = &mut timer => server.bench(),
            outcome = &mut full => {
                server.bench();
                return outcome;
            }
        }
        full.await
    }

    async fn ask_pool(&self, name: &Name) -> Result<Resolved, Failure> {
        lookup_a(&self.resolver, name).await
    }

    /// After a truncated UDP reply: the question over TCP, as hickory's pool would ask next.
    async fn ask_tcp(&self, name: &Name) -> Result<Resolved, Failure> {
        match &self.tcp_resolver {
            Some(tcp) => lookup_a(tcp, name).await,
            None => self.ask_pool(name).await,
        }
    }

    /// One UDP exchange with `server`, and what its reply decides (see `settle`). A server
    /// that cannot be reached is left out for a while.
    async fn ask_direct(&self, server: &DirectServer, name: &Name, query: Query) -> Direct {
        match server.ask(&query).await {
            Ok(response) => settle(&response, name, &query, server.trust_negative_responses),
            Err(err) => {
                if err.server_trouble() {
                    server.bench();
                }
                Direct::Unsettled
            }
        }
    }

    /// The fully qualified names to ask for `name`, in order: hickory's own search-list rule
    /// (`ndots`, `domain`, `search`), the one `lookup_ip` applies.
    fn candidates(&self, name: &Name) -> Vec<Name> {
        if name.is_fqdn() {
            return vec![name.clone()];
        }
        let mut names: Vec<Name> = Vec::with_capacity(2 + self.search.len());
        let mut add = |candidate: Name| {
            if !names.contains(&candidate) {
                names.push(candidate);
            }
        };
        let raw_first = name.num_labels() as usize > self.ndots || name.is_localhost();
        if raw_first {
            add(fqdn(name.clone()));
        }
        for suffix in self.domain.iter().chain(&self.search) {
            if let Ok(candidate) = name.clone().append_domain(suffix) {
                add(candidate);
            }
        }
        if !raw_first {
            add(fqdn(name.clone()));
        }
        names
    }
}

/// What one direct exchange decided.
enum Direct {
    /// The reply settles the question as hickory would.
    Settled(Result<Resolved, Failure>),
    /// Too big for UDP: ask over TCP.
    Truncated,
    /// Anything else: the full resolver decides (no reply in time, SERVFAIL or REFUSED, records
    /// of another class, a CNAME chain without an A record at its end, a letter-case mismatch).
    Unsettled,
}

/// What a direct reply to `query` decides: the addresses, NXDOMAIN (from a server whose negative
/// answers are trusted) and NODATA settle it as hickory would; a truncated reply goes to TCP;
/// anything else to the full resolver.
fn settle(response: &DnsResponse, name: &Name, query: &Query, trust_negative: bool) -> Direct {
    if response.truncation {
        return Direct::Truncated;
    }
    // hickory's pool refuses a reply with records of another class.
    let in_class = response
        .all_sections()
        .all(|record| record.dns_class == query.query_class());
    if !in_class {
        return Direct::Unsettled;
    }
    let no_records = |code| {
        Direct::Settled(Err(Failure::Net(NetError::Dns(DnsError::NoRecordsFound(
            NoRecords::new(query.clone(), code),
        )))))
    };
    match response.response_code {
        ResponseCode::NoError if response.answers.is_empty() => no_records(ResponseCode::NoError),
        // A chain that does not end in an A record: hickory's caching client may follow it.
        ResponseCode::NoError => match answer_for(name, &response.answers) {
            Ok(resolved) => Direct::Settled(Ok(resolved)),
            Err(_) => Direct::Unsettled,
        },
        ResponseCode::NXDomain if trust_negative => no_records(ResponseCode::NXDomain),
        _ => Direct::Unsettled,
    }
}

/// Through hickory's resolver. Boxed, as are the other rare paths: a lookup's future is moved
/// into its task when it starts, and would otherwise carry hickory's large futures inline.
fn lookup_a<'a>(
    resolver: &'a HickoryResolver,
    name: &'a Name,
) -> BoxFuture<'a, Result<Resolved, Failure>> {
    async move {
        match resolver.lookup(name.clone(), RecordType::A).await {
            Ok(lookup) => answer_for(name, lookup.answers()),
            Err(err) => Err(Failure::Net(err)),
        }
    }
    .boxed()
}

/// Names hickory answers without asking a nameserver (RFC 6761: localhost, `.invalid`...),
/// found by the same rule as its caching client.
fn answered_by_hickory(name: &Name) -> bool {
    // Every such zone ends in one of these labels: most names are told apart by it alone.
    let last = name.iter().next_back().unwrap_or_default();
    let maybe = [&b"localhost"[..], b"invalid", b"local", b"onion", b"arpa"]
        .iter()
        .any(|tld| tld.eq_ignore_ascii_case(last));
    if !maybe {
        return false;
    }
    let special = [
        &*usage::LOCALHOST,
        &*usage::IN_ADDR_ARPA_127,
        &*usage::IP6_ARPA_1,
        &*usage::INVALID,
        &*usage::LOCAL,
        &*usage::ONION,
    ];
    special
        .into_iter()
        .find(|zone| zone.zone_of(name))
        .is_some_and(|zone| {
            !matches!(
                zone.resolver(),
                ResolverUsage::Normal | ResolverUsage::LinkLocal
            )
        })
}

/// Why one candidate name gave no address.
enum Failure {
    Net(NetError),
    /// The name exists but no A record for it or its CNAME chain came back.
    NoAddress,
    CnameLoop,
}

/// The addresses of `asked` in `lookup`: A records owned by `asked` or by a name its CNAME chain
/// leads to (case-insensitive), never a record for another owner listed in the same answer and
/// never an AAAA record. Valid for the smallest TTL among the records used.
fn answer_for(asked: &Name, records: &[Record]) -> Result<Resolved, Failure> {
    let mut chain: Vec<Name> = vec![asked.clone()];
    let mut ttl = u32::MAX;
    let mut current = asked.clone();
    while let Some((next, cname_ttl)) = cname_record_of(&current, records) {
        if chain.len() > MAX_CNAME_HOPS || chain.iter().any(|n| same_name(n, &next)) {
            return Err(Failure::CnameLoop);
        }
        ttl = ttl.min(rfc2181_ttl(cname_ttl));
        chain.push(next.clone());
        current = next;
    }
    let mut addresses = Vec::new();
    for record in records {
        if let RData::A(a) = &record.data {
            if chain.iter().any(|n| same_name(n, &record.name)) {
                if !addresses.contains(&a.0) {
                    addresses.push(a.0);
                }
                ttl = ttl.min(rfc2181_ttl(record.ttl));
            }
        }
    }
    if addresses.is_empty() {
        return Err(Failure::NoAddress);
    }
    Ok(Resolved {
        addresses,
        valid_until: Instant::now() + Duration::from_secs(ttl.into()),
    })
}

/// RFC 2181 §8: a TTL with the most significant bit set is treated as zero.
fn rfc2181_ttl(ttl: u32) -> u32 {
    if ttl >= 1 << 31 {
        0
    } else {
        ttl
    }
}

/// The target (and TTL) of the CNAME record owned by `owner`, if `records` hold one.
fn cname_record_of(owner: &Name, records: &[Record]) -> Option<(Name, u32)> {
    records.iter().find_map(|r| match &r.data {
        RData::CNAME(CNAME(target)) if same_name(&r.name, owner) => Some((target.clone(), r.ttl)),
        _ => None,
    })
}

/// Case-insensitive, with or without the final dot (hosts-file records may lack it).
fn same_name(a: &Name, b: &Name) -> bool {
    a.eq_ignore_root(b)
}

fn fqdn(mut name: Name) -> Name {
    name.set_fqdn(true);
    name
}

/// A name checked by `parse_host` (lower-case ASCII) as a hickory Name built from ASCII: hickory
/// parsing a string goes through IDNA, which refuses underscores (`my_service`) DNS carries fine.
fn dns_name(name: &str) -> Result<Name, NetError> {
    let parsed = if name.is_ascii() {
        Name::from_ascii(name)
    } else {
        Name::from_utf8(name)
    };
    parsed.map_err(NetError::from)
}

fn cname_loop_error(input: &str) -> LookupError {
    LookupError::new(
        ErrorCode::ServFail,
        input,
        "CNAME loop: the name's CNAME chain comes back to itself and never reaches an address \
         (a DNS configuration error)",
    )
}

fn build_native(
    settings: &ResolverSettings,
    config: ResolverConfig,
    mut opts: ResolverOpts,
    hosts: Arc<Hosts>,
) -> Result<Native, String> {
    // hickory 0.26 defaults to Ipv6AndIpv4: ask for A records only.
    opts.ip_strategy = LookupIpStrategy::Ipv4Only;
    // Answers are cached one level up, with TTL bounds the caller chose.
    opts.cache_size = 0;
    if let Some(timeout) = settings.timeout {
        opts.timeout = timeout;
    }
    // `attempts` counts tries, as in resolv.conf(5); hickory's counts retries after the first.
    let tries = settings.attempts.unwrap_or(opts.attempts).max(1);
    opts.attempts = tries - 1;
    // Let the OS pick the UDP source port: hickory then asks for port 0, which the socket pool
    // serves (a port picked by hickory would get a fresh socket per query). This also skips
    // hickory's port draw and its retries when the drawn port is taken.
    opts.os_port_selection = true;
    // 0x20: the name is sent in random letter case and the answer must echo it exactly, so a
    // blind spoof must also guess the case (~1 bit per letter) besides the query ID and port.
    opts.case_randomization = true;
    // Keep the TTLs as sent (hickory clamps them to a day by default): `answer_for` applies RFC
    // 2181 to them, and the caller's maxTtl bounds them.
    opts.positive_max_ttl = Some(Duration::from_secs(u32::MAX.into()));
    let search = config.search().to_vec();
    let domain = config.domain().cloned();
    let ndots = opts.ndots;
    let provider = PooledUdpProvider::default();
    let direct = direct_server(&config, &opts);
    // The hosts file as system_files.rs last read it, shared with both resolvers.
    let hosts = match opts.use_hosts_file {
        ResolveHosts::Always | ResolveHosts::Auto => hosts,
        ResolveHosts::Never => Arc::new(Hosts::default()),
    };
    // hickory's builder would read the file again for each resolver, only to be replaced.
    let mut hickory_opts = opts.clone();
    hickory_opts.use_hosts_file = ResolveHosts::Never;
    let build = |config: ResolverConfig| {
        let mut resolver = HickoryResolver::builder_with_config(config, provider.clone())
            .with_options(hickory_opts.clone())
            .build()
            .map_err(|e| format!("cannot build the DNS resolver: {e}"))?;
        resolver.set_hosts(hosts.clone());
        Ok::<_, String>(resolver)
    };
    let tcp_resolver = match (&direct, tcp_only(&config)) {
        (Some(_), Some(tcp)) => Some(build(tcp)?),
        _ => None,
    };
    let resolver = build(config)?;
    Ok(Native {
        resolver,
        hosts,
        direct,
        tcp_resolver,
        search,
        domain,
        ndots,
    })
}

/// The first nameserver, when it takes plain UDP from any local address.
fn direct_server(config: &ResolverConfig, opts: &ResolverOpts) -> Option<DirectServer> {
    let first = config.name_servers().first()?;
    let udp = first
        .connections
        .iter()
        .find(|c| c.protocol == ProtocolConfig::Udp)?;
    if udp.bind_addr.is_some() {
        return None;
    }
    Some(DirectServer::new(
        SocketAddr::new(first.ip, udp.port),
        first.trust_negative_responses,
        QueryOptions {
            recursion_desired: opts.recursion_desired,
            edns_payload: opts.edns0.then_some(opts.edns_payload_len),
            case_randomization: opts.case_randomization,
        },
        opts.timeout,
    ))
}

/// The same nameservers, over TCP only (`None` when none takes TCP).
fn tcp_only(config: &ResolverConfig) -> Option<ResolverConfig> {
    let servers: Vec<NameServerConfig> = config
        .name_servers()
        .iter()
        .filter_map(|server| {
            let mut server = server.clone();
            server
                .connections
                .retain(|c| c.protocol == ProtocolConfig::Tcp);
            (!server.connections.is_empty()).then_some(server)
        })
        .collect();
    (!servers.is_empty()).then(|| ResolverConfig::from_name_servers(servers))
}

fn explicit_config(servers: &[SocketAddr]) -> ResolverConfig {
    let name_servers = servers
        .iter()
        .map(|addr| {
            let mut server = NameServerConfig::udp_and_tcp(addr.ip());
            for connection in &mut server.connections {
                connection.port = addr.port();
            }
            server
        })
        .collect();
    ResolverConfig::from_name_servers(name_servers)
}

const FDS_EXHAUSTED: &str = "no socket could be opened: the process has no file descriptor left \
     (raise its limit, ulimit -n, or look for descriptors it leaks)";

/// Maps a hickory failure to the Node dns code a user would see from `dns.resolve4`.
fn classify(hostname: &str, err: &NetError) -> LookupError {
    let (code, detail) = match err {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords { response_code, .. })) => {
            match *response_code {
                ResponseCode::NXDomain => {
                    (ErrorCode::NotFound, "the name does not exist (NXDOMAIN)")
                }
                ResponseCode::NoError => (ErrorCode::NoData, ""),
                ResponseCode::Refused => (ErrorCode::Refused, "the DNS server refused the query"),
                _ => (ErrorCode::ServFail, "the DNS server failed to answer"),
            }
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => {
            (ErrorCode::Refused, "the DNS server refused the query")
        }
        NetError::Dns(DnsError::ResponseCode(_)) => (
            ErrorCode::ServFail,
            "the DNS server failed to answer (SERVFAIL)",
        ),
        NetError::Timeout => (ErrorCode::Timeout, "no answer from the DNS server in time"),
        // hickory reports a socket it could not open as NoConnections: the pool saw why.
        NetError::NoConnections
            if crate::lookup::udp_pool::fds_exhausted_within(Duration::from_secs(1)) =>
        {
            (ErrorCode::TooManyFiles, FDS_EXHAUSTED)
        }
        NetError::Io(io) if crate::lookup::udp_pool::is_fd_exhaustion(io) => {
            (ErrorCode::TooManyFiles, FDS_EXHAUSTED)
        }
        NetError::NoConnections => (ErrorCode::ConnRefused, "no DNS server could be contacted"),
        NetError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => (
            ErrorCode::ConnRefused,
            "the DNS server refused the connection",
        ),
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            (ErrorCode::Timeout, "no answer from the DNS server in time")
        }
        _ => (ErrorCode::ServFail, ""),
    };
    let detail = if detail.is_empty() && code != ErrorCode::NoData {
        format!("DNS failure: {err}")
    } else {
        detail.to_string()
    };
    LookupError::new(code, hostname, detail)
}

fn no_config_error(hostname: &str, why: &str) -> LookupError {
    LookupError {
        unconfigured: true,
        ..LookupError::new(
            ErrorCode::ConnRefused,
            hostname,
            format!("no DNS server to ask: {why}"),
        )
    }
}

/// The first error is hickory's, the second the system's. Hickory's says more (SERVFAIL,
/// NXDOMAIN, timeout), unless hickory had no configuration to work with.
fn more_precise(native: LookupError, system: LookupError, input: &str) -> LookupError {
    if native.unconfigured {
        LookupError {
            hostname: input.to_string(),
            ..system
        }
    } else {
        native
    }
}

type SystemLookup = Shared<BoxFuture<'static, Result<Vec<Ipv4Addr>, LookupError>>>;

/// getaddrinfo on tokio's blocking pool (not libuv's threadpool), IPv4 answers only. At most
/// MAX_SYSTEM_LOOKUPS calls run at once in the process, and concurrent lookups of one name share
/// one call.
async fn system_lookup_ipv4(name: &str) -> Result<Vec<Ipv4Addr>, LookupError> {
    static IN_FLIGHT: OnceLock<Mutex<HashMap<String, SystemLookup>>> = OnceLock::new();
    let in_flight = IN_FLIGHT.get_or_init(Default::default);
    let shared = {
        let mut map = lock(in_flight);
        map.entry(name.to_string())
            .or_insert_with(|| {
                let key = name.to_string();
                // A task of its own: it finishes, and leaves the map, even if every caller stops
                // waiting. Its entry is removed under the same lock it was made under.
                let task = tokio::spawn(async move {
                    let result = bounded_getaddrinfo_ipv4(&key).await;
                    lock(in_flight).remove(&key);
                    result
                });
                let name = name.to_string();
                async move {
                    task.await.unwrap_or_else(|e| {
                        Err(system_error(
                            &name,
                            format!("the system resolver did not finish ({e})"),
                        ))
                    })
                }
                .boxed()
                .shared()
            })
            .clone()
    };
    shared.await.map_err(|err| LookupError {
        hostname: name.to_string(),
        ..err
    })
}

async fn bounded_getaddrinfo_ipv4(name: &str) -> Result<Vec<Ipv4Addr>, LookupError> {
    static PERMITS: Semaphore = Semaphore::const_new(MAX_SYSTEM_LOOKUPS);
    // The semaphore is never closed, so acquiring only waits.
    let _permit = PERMITS.acquire().await.ok();
    getaddrinfo_ipv4(name).await
}

fn system_error(name: &str, detail: String) -> LookupError {
    LookupError {
        syscall: "getaddrinfo",
        ..LookupError::new(ErrorCode::NotFound, name, detail)
    }
}

async fn getaddrinfo_ipv4(name: &str) -> Result<Vec<Ipv4Addr>, LookupError> {
    let query = name.to_string();
    let answer = tokio::task::spawn_blocking(move || (query.as_str(), 0).to_socket_addrs()).await;
    match answer {
        Ok(Ok(addrs)) => {
            let mut v4: Vec<Ipv4Addr> = Vec::new();
            let mut ipv6: Vec<Ipv6Addr> = Vec::new();
            for addr in addrs {
                match addr {
                    SocketAddr::V4(a) => v4.push(*a.ip()),
                    SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
                        Some(mapped) => v4.push(mapped),
                        None => ipv6.push(*a.ip()),
                    },
                }
            }
            if v4.is_empty() {
                Err(LookupError {
                    syscall: "getaddrinfo",
                    ..LookupError::ipv6_only(name, ipv6.first().copied())
                })
            } else {
                Ok(v4)
            }
        }
        Ok(Err(e)) => Err(system_error(
            name,
            format!("the system resolver has no IPv4 address ({e})"),
        )),
        Err(e) => Err(system_error(
            name,
            format!("the system resolver did not finish ({e})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> Ipv4Resolver {
        Ipv4Resolver::new(ResolverSettings::default())
    }

    #[tokio::test]
    async fn literals_need_no_query() {
        let r = resolver();
        assert_eq!(
            r.resolve("192.0.2.7").await.unwrap().addresses,
            vec![Ipv4Addr::new(192, 0, 2, 7)]
        );
        assert_eq!(
            r.resolve("::ffff:192.0.2.7").await.unwrap().addresses,
            vec![Ipv4Addr::new(192, 0, 2, 7)]
        );
        assert_eq!(
            r.resolve("::1").await.unwrap_err().code,
            ErrorCode::AfNoSupport
        );
    }

    #[tokio::test]
    async fn malformed_names_fail_before_any_query() {
        let err = resolver().resolve("bad..name").await.unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);
        assert_eq!(err.syscall, "getaddrinfo");
        assert_eq!(err.hostname, "bad..name");
        assert!(err.message().contains("empty label"), "{}", err.message());
    }

    #[test]
    fn dns_failures_map_to_node_codes() {
        use hickory_resolver::proto::op::Query;
        let nx = NetError::Dns(DnsError::NoRecordsFound(NoRecords::new(
            Query::new(),
            ResponseCode::NXDomain,
        )));
        assert_eq!(classify("a", &nx).code, ErrorCode::NotFound);
        let nodata = NetError::Dns(DnsError::NoRecordsFound(NoRecords::new(
            Query::new(),
            ResponseCode::NoError,
        )));
        assert_eq!(classify("a", &nodata).code, ErrorCode::NoData);
        assert_eq!(classify("a", &NetError::Timeout).code, ErrorCode::Timeout);
        let refused = NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused));
        assert_eq!(classify("a", &refused).code, ErrorCode::Refused);
        let servfail = NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail));
        assert_eq!(classify("a", &servfail).code, ErrorCode::ServFail);
    }

    /// A reply to `name`'s A query with `rcode` and these answers.
    fn reply(name: &Name, rcode: ResponseCode, answers: Vec<Record>) -> DnsResponse {
        use hickory_resolver::proto::op::{Message, OpCode};
        let mut message = Message::response(7, OpCode::Query);
        message.metadata.response_code = rcode;
        message
            .queries
            .push(Query::query(name.clone(), RecordType::A));
        message.answers = answers;
        DnsResponse::from_message(message).unwrap()
    }

    #[test]
    fn a_direct_reply_settles_only_what_hickory_would_settle_the_same_way() {
        use hickory_resolver::proto::rr::rdata::A;
        use hickory_resolver::proto::rr::DNSClass;
        let name = Name::from_ascii("db.example.test.").unwrap();
        let query = Query::query(name.clone(), RecordType::A);
        let a = |owner: &Name, ip: [u8; 4]| {
            Record::from_rdata(
                owner.clone(),
                60,
                RData::A(A::new(ip[0], ip[1], ip[2], ip[3])),
            )
        };
        let code = |direct: Direct| match direct {
            Direct::Settled(Ok(resolved)) => format!("addresses {:?}", resolved.addresses),
            Direct::Settled(Err(Failure::Net(err))) => format!("{:?}", classify("h", &err).code),
            Direct::Settled(Err(_)) => "other failure".into(),
            Direct::Truncated => "tcp".into(),
            Direct::Unsettled => "full resolver".into(),
        };
        let decide =
            |response: DnsResponse, trust: bool| code(settle(&response, &name, &query, trust));

        let answered = reply(&name, ResponseCode::NoError, vec![a(&name, [192, 0, 2, 1])]);
        assert_eq!(decide(answered, true), "addresses [192.0.2.1]");
        assert_eq!(
            decide(reply(&name, ResponseCode::NoError, vec![]), true),
            "NoData"
        );
        assert_eq!(
            decide(reply(&name, ResponseCode::NXDomain, vec![]), true),
            "NotFound"
        );
        // A server whose NXDOMAIN is not trusted: hickory asks the others.
        assert_eq!(
            decide(reply(&name, ResponseCode::NXDomain, vec![]), false),
            "full resolver"
        );
        for rcode in [
            ResponseCode::ServFail,
            ResponseCode::Refused,
            ResponseCode::FormErr,
        ] {
            assert_eq!(
                decide(reply(&name, rcode, vec![]), true),
                "full resolver",
                "{rcode}"
            );
        }
        let mut truncated = reply(&name, ResponseCode::NoError, vec![]);
        truncated.metadata.truncation = true;
        assert_eq!(decide(truncated, true), "tcp");
        // A CNAME whose target's A record is not in the reply.
        let target = Name::from_ascii("elsewhere.example.test.").unwrap();
        let cname = Record::from_rdata(name.clone(), 60, RData::CNAME(CNAME(target)));
        assert_eq!(
            decide(reply(&name, ResponseCode::NoError, vec![cname]), true),
            "full resolver"
        );
        // Only records for another owner.
        let stranger = Name::from_ascii("other.example.test.").unwrap();
        let foreign = reply(
            &name,
            ResponseCode::NoError,
            vec![a(&stranger, [192, 0, 2, 9])],
        );
        assert_eq!(decide(foreign, true), "full resolver");
        // A record of another class.
        let mut chaos = a(&name, [192, 0, 2, 1]);
        chaos.dns_class = DNSClass::CH;
        assert_eq!(
            decide(reply(&name, ResponseCode::NoError, vec![chaos]), true),
            "full resolver"
        );
    }

    #[test]
    fn special_use_names_are_left_to_hickory() {
        let special = |name: &str| answered_by_hickory(&Name::from_ascii(name).unwrap());
        for name in [
            "localhost.",
            "db.LOCALHOST.",
            "x.invalid.",
            "1.0.0.127.in-addr.arpa.",
        ] {
            assert!(special(name), "{name}");
        }
        // `.local` is asked like any name (hickory has no mDNS here); look-alikes are not special.
        for name in [
            "printer.local.",
            "mylocalhost.",
            "localhost.example.",
            "db.example.com.",
        ] {
            assert!(!special(name), "{name}");
        }
    }

    #[tokio::test]
    async fn a_hosts_change_rebuilds_the_resolver_and_frees_the_old_one() {
        let dir = std::env::temp_dir().join(format!("ipv4-force-rebuild-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hosts = dir.join("hosts");
        std::fs::write(&hosts, "127.0.0.5 pinned.test\n").unwrap();
        let files: &'static SystemFiles = Box::leak(Box::new(SystemFiles::new(
            dir.join("resolv.conf"),
            hosts.clone(),
            Duration::ZERO,
        )));
        // Nothing listens there: every answer below comes from the hosts file.
        let settings = ResolverSettings {
            nameservers: Some(vec!["127.0.0.1:9".parse().unwrap()]),
            timeout: Some(Duration::from_millis(200)),
            attempts: Some(1),
            fallback: false,
        };
        let resolver = Ipv4Resolver::with_files(settings, files);
        let first = resolver.resolve("pinned.test").await.unwrap();
        assert_eq!(first.addresses, vec![Ipv4Addr::new(127, 0, 0, 5)]);
        let old = resolver.current_native();
        let in_flight = old.upgrade().unwrap(); // what a lookup in flight holds
        assert_eq!(resolver.rebuilds(), 0);

        std::fs::write(&hosts, "127.0.0.6 pinned.test\n").unwrap();
        assert!(resolver.is_behind(files.refresh(Instant::now())));
        let second = resolver.resolve("pinned.test").await.unwrap();
        assert_eq!(second.addresses, vec![Ipv4Addr::new(127, 0, 0, 6)]);
        assert_eq!(resolver.rebuilds(), 1);
        // The old resolver lives while a lookup holds it, and is freed with the last one.
        assert!(old.upgrade().is_some());
        drop(in_flight);
        assert!(old.upgrade().is_none(), "the old resolver was freed");

        // Bytes unchanged (written again, or touched): no rebuild.
        std::fs::write(&hosts, "127.0.0.6 pinned.test\n").unwrap();
        resolver.resolve("pinned.test").await.unwrap();
        assert_eq!(resolver.rebuilds(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn explicit_nameservers_keep_their_port() {
        let config = explicit_config(&["127.0.0.1:5353".parse().unwrap()]);
        let server = &config.name_servers()[0];
        assert!(server.connections.iter().all(|c| c.port == 5353));
        assert_eq!(
            server.connections.len(),
            2,
            "UDP and TCP (TCP for truncated answers)"
        );
    }

    #[test]
    fn hickory_error_is_kept_unless_it_had_no_configuration() {
        let native = LookupError::new(ErrorCode::ServFail, "h", "x");
        let system = LookupError::new(ErrorCode::NotFound, "h", "y");
        assert_eq!(
            more_precise(native.clone(), system.clone(), "h").code,
            ErrorCode::ServFail
        );
        let unconfigured = no_config_error("h", "cannot read /etc/resolv.conf");
        assert_eq!(
            more_precise(unconfigured, system, "h").code,
            ErrorCode::NotFound
        );
    }
}

/// `"1.2.3.4"`, `"1.2.3.4:5353"`, `"::1"` or `"[::1]:5353"` (port 53 when none is given).
pub fn parse_nameserver(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("nameserver {text:?} is not an IP address with an optional port"))
}

#[cfg(test)]
mod nameserver_tests {
    use super::parse_nameserver;

    #[test]
    fn nameserver_forms() {
        assert_eq!(
            parse_nameserver("127.0.0.1").unwrap().to_string(),
            "127.0.0.1:53"
        );
        assert_eq!(
            parse_nameserver("127.0.0.1:5353").unwrap().to_string(),
            "127.0.0.1:5353"
        );
        assert_eq!(parse_nameserver("::1").unwrap().to_string(), "[::1]:53");
        assert_eq!(
            parse_nameserver("[::1]:5353").unwrap().to_string(),
            "[::1]:5353"
        );
        assert!(parse_nameserver("dns.google").is_err());
        assert!(parse_nameserver("1.2.3.4:99999").is_err());
    }
}
