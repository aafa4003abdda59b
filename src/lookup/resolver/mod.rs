//! IPv4-only name resolution, A records only, with the system or an explicit configuration: the
//! first nameserver asked directly (udp_exchange.rs) for the common case, hickory-resolver for
//! everything that reply does not settle, then the system resolver (getaddrinfo) as a fallback
//! when neither can answer. Here: `Ipv4Resolver`, which follows the system's files and asks each
//! name of the search list in turn. Its rooms, as hickory's resolver crate splits them:
//! `config` (building the resolver for a configuration), `direct` (the direct query and its race),
//! `answer` (which records count) and `system` (the getaddrinfo fallback).

mod answer;
mod config;
mod direct;
mod system;
#[cfg(test)]
mod transport_tests;

pub use config::parse_nameserver;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_resolver::config::ResolverOpts;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use crate::locking::lock;
use crate::lookup::counters::{FALLBACKS, TIMEOUTS};
use crate::lookup::errors::{
    cname_loop_error, no_config_error, ConfigError, ErrorCode, LookupError,
};
use crate::lookup::hostname::{parse_host, Host};
use crate::lookup::system_config::system_config;
use crate::lookup::system_files::{Generations, SystemFiles};
#[cfg(test)]
use crate::lookup::transport::exchange::DirectServer;
use crate::lookup::transport::pool::PooledUdpProvider;
use answer::{cname_record_of, dns_name, fqdn, same_name, Failure, MAX_CNAME_HOPS};
use config::{build_native, explicit_config, hosts_from, Native};
use system::{more_precise, system_lookup_ipv4, SYSTEM_ANSWER_TTL};

/// hickory's resolver on tokio, with UDP sockets reused between queries (see udp_pool.rs).
pub type HickoryResolver = hickory_resolver::Resolver<PooledUdpProvider>;

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
    native: Arc<Result<Native, ConfigError>>,
    generations: Generations,
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
        let parsed = parse_host(input);
        if let Some(ip) = parsed.as_ref().ok().and_then(Host::literal_ipv4) {
            return Ok(Resolved::forever(ip));
        }
        let name = match parsed {
            Ok(Host::Name(name)) => name,
            // The literals left are IPv6 ones.
            Ok(_) => return Err(LookupError::ipv6_literal(input)),
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
        let query = dns_name(name).map_err(|e| native.classify(name, &e))?;
        match native.resolver.lookup(query, RecordType::AAAA).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match r.data {
                    RData::AAAA(aaaa) => Some(aaaa.0),
                    _ => None,
                })
                .collect()),
            Err(err) => Err(native.classify(name, &err)),
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
        let query = dns_name(name).map_err(|e| native.classify(input, &e))?;
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
            Failure::Net(err) => native.classify(input, &err),
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
    fn native(&self) -> Arc<Result<Native, ConfigError>> {
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
    fn rebuild(&self) -> Arc<Result<Native, ConfigError>> {
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
    /// Applies `f` to the first nameserver asked directly, if there is one (and a resolver built).
    fn with_direct_server<T>(&self, f: impl FnOnce(&DirectServer) -> T) -> Option<T> {
        let current = lock(&self.current);
        let native = current.as_ref()?.native.clone();
        let direct = native.as_ref().as_ref().ok()?.direct.as_ref()?;
        Some(f(direct))
    }

    fn current_native(&self) -> std::sync::Weak<Result<Native, ConfigError>> {
        Arc::downgrade(&lock(&self.current).as_ref().expect("built").native)
    }
}

/// Resolvers rebuilt after a change of the system's files, process-wide (`stats()`).
static RELOADS: AtomicU64 = AtomicU64::new(0);

pub fn config_reloads() -> u64 {
    RELOADS.load(Ordering::Relaxed)
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
}
