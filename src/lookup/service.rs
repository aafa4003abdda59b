//! The process-wide lookup service: one cached resolver per configuration, shared by every
//! caller in the process (worker threads included, since the addon's statics are per process).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::locking::lock;
use crate::lookup::cache::{instant_after, TtlCache};
use crate::lookup::counters::{Ipv6OnlyHosts, CACHE_HITS};
use crate::lookup::errors::{ErrorCode, LookupError};
use crate::lookup::hostname::parse_host;
use crate::lookup::resolver::{Ipv4Resolver, Resolved, ResolverSettings};

const CACHE_CAPACITY: usize = 10_000;

/// A lookup's result, formatted once and shared by every cache hit.
pub type Outcome = Result<Arc<Answer>, Arc<LookupError>>;

#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub addresses: Vec<String>,
    pub valid_until: Instant,
}

/// The addresses as JS gets them, formatted once.
impl From<Resolved> for Answer {
    fn from(resolved: Resolved) -> Self {
        Answer {
            addresses: resolved.addresses.iter().map(|a| a.to_string()).collect(),
            valid_until: resolved.valid_until,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheSettings {
    /// Upper bound on how long an answer is kept, whatever its TTL.
    pub max_ttl: Duration,
    /// How long a failure is kept (zero: failures are not cached).
    pub error_ttl: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            max_ttl: Duration::MAX,
            error_ttl: Duration::from_millis(150),
        }
    }
}

pub struct LookupService {
    resolver: Ipv4Resolver,
    cache: TtlCache<Outcome>,
    cache_settings: CacheSettings,
    /// The resolver's `rebuilds()` the cached answers belong to: answers from before a rebuild
    /// (a new nameserver, search list or hosts file) are dropped.
    cache_rebuilds: AtomicU64,
}

type Key = (ResolverSettings, CacheSettings);

/// Configurations kept alive after their last user, most recently asked for first.
const RECENT_KEPT: usize = 16;

/// Services by configuration. Weak: a service (its cache, resolver and sockets) lives as long as
/// someone holds it (a NativeResolver, a lookup in flight), or while it is among the
/// `RECENT_KEPT` configurations asked for last (so a short-lived user, e.g. a worker thread,
/// leaves its answers cached for the next), and is freed after that.
#[derive(Default)]
struct Registry {
    services: HashMap<Key, Weak<LookupService>>,
    recent: VecDeque<Arc<LookupService>>,
    /// Entries of freed services are swept when the map reaches this size.
    sweep_at: usize,
}

impl Registry {
    fn shared(
        &mut self,
        settings: ResolverSettings,
        cache_settings: CacheSettings,
    ) -> Arc<LookupService> {
        let key = (settings, cache_settings);
        let service = match self.services.get(&key).and_then(Weak::upgrade) {
            Some(live) => live,
            None => {
                let service = Arc::new(LookupService::new(key.0.clone(), key.1.clone()));
                self.services.insert(key, Arc::downgrade(&service));
                service
            }
        };
        if let Some(at) = self.recent.iter().position(|s| Arc::ptr_eq(s, &service)) {
            self.recent.remove(at);
        }
        self.recent.push_front(service.clone());
        self.recent.truncate(RECENT_KEPT);
        if self.services.len() >= self.sweep_at {
            self.services
                .retain(|_, service| service.strong_count() > 0);
            // Amortised: the next sweep waits until the map has doubled.
            self.sweep_at = (self.services.len() * 2).max(2 * RECENT_KEPT);
        }
        service
    }

    #[cfg(test)]
    fn entries(&self) -> usize {
        self.services.len()
    }
}

fn registry() -> &'static Mutex<Registry> {
    static SERVICES: OnceLock<Mutex<Registry>> = OnceLock::new();
    SERVICES.get_or_init(Default::default)
}

/// The service for this configuration: the one in use if there is one, else a new one.
pub fn shared(settings: ResolverSettings, cache_settings: CacheSettings) -> Arc<LookupService> {
    lock(registry()).shared(settings, cache_settings)
}

impl LookupService {
    pub fn new(settings: ResolverSettings, cache_settings: CacheSettings) -> Self {
        LookupService::with_resolver(Ipv4Resolver::new(settings), cache_settings)
    }

    pub fn with_resolver(resolver: Ipv4Resolver, cache_settings: CacheSettings) -> Self {
        LookupService {
            resolver,
            cache: TtlCache::new(CACHE_CAPACITY),
            cache_settings,
            cache_rebuilds: AtomicU64::new(0),
        }
    }

    pub fn resolver(&self) -> &Ipv4Resolver {
        &self.resolver
    }

    /// The outcome if it is known without a query (cached, or an IP literal), and until when it
    /// may be reused. Runs on the JS thread: no I/O, no lock but the cache's. A cached answer is
    /// not handed out while a check of the system's files is due, or after they changed: the
    /// lookup then goes to the runtime, which checks them (`lookup`).
    pub fn answer_now(&self, input: &str) -> Option<(Outcome, Instant)> {
        let now = Instant::now();
        let files = self.resolver.files();
        let settled = !files.check_due(now)
            && !self.resolver.is_behind(files.generations())
            && self.cache_rebuilds.load(Ordering::Acquire) == self.resolver.rebuilds();
        if settled {
            if let Some((outcome, until)) = self.cache.get_with_expiry(input, now) {
                CACHE_HITS.note();
                return Some((outcome, until.min(files.next_check())));
            }
        }
        // Names need a query; malformed input gets its error from the resolver, so the wording
        // lives in one place. An IP literal's "answer" never changes.
        let ip = parse_host(input)
            .ok()
            .and_then(|host| host.literal_ipv4())?;
        let answer = Answer::from(Resolved::forever(ip));
        let until = answer.valid_until;
        Some((Ok(Arc::new(answer)), until))
    }

    /// Resolves `input`, sharing the query with concurrent callers and caching the outcome.
    /// Also returns until when the outcome may be reused. First follows the system's files: a
    /// change since the last check rebuilds the resolver and drops the answers cached before.
    pub async fn lookup(&self, input: &str) -> (Outcome, Instant) {
        let rebuilds = self.resolver.follow_system();
        if self.cache_rebuilds.swap(rebuilds, Ordering::AcqRel) != rebuilds {
            self.cache.clear();
        }
        let outcome = self
            .cache
            .get_or_compute(
                input,
                |o| self.ttl(o),
                || async {
                    match self.resolver.resolve(input).await {
                        Ok(resolved) => Ok(Arc::new(Answer::from(resolved))),
                        Err(err) => {
                            if err.code == ErrorCode::NoData && err.ipv6_seen.is_some() {
                                Ipv6OnlyHosts::seen().note(input, err.ipv6_seen);
                            }
                            Err(Arc::new(err))
                        }
                    }
                },
            )
            .await;
        let fresh_until = instant_after(self.ttl(&outcome)).min(self.resolver.files().next_check());
        (outcome, fresh_until)
    }

    fn ttl(&self, outcome: &Outcome) -> Duration {
        match outcome {
            Ok(answer) => answer
                .valid_until
                .saturating_duration_since(Instant::now())
                .min(self.cache_settings.max_ttl),
            Err(_) => self.cache_settings.error_ttl,
        }
    }

    /// Drops the cached answers, and makes the next lookup check the system's files.
    pub fn clear_cache(&self) {
        self.cache.clear();
        self.resolver.files().check_soon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_answered_without_a_query() {
        let service = LookupService::new(ResolverSettings::default(), CacheSettings::default());
        let (outcome, _) = service.answer_now("10.0.0.1").unwrap();
        assert_eq!(outcome.unwrap().addresses, vec!["10.0.0.1"]);
        assert!(service.answer_now("example.test").is_none());
    }

    #[tokio::test]
    async fn failures_are_cached_for_error_ttl_only() {
        let cache_settings = CacheSettings {
            max_ttl: Duration::MAX,
            error_ttl: Duration::from_millis(40),
        };
        let service = LookupService::new(ResolverSettings::default(), cache_settings);
        let (outcome, fresh_until) = service.lookup("::1").await;
        assert_eq!(outcome.unwrap_err().code, ErrorCode::AfNoSupport);
        assert!(fresh_until <= Instant::now() + Duration::from_millis(40));
        assert!(service.answer_now("::1").is_some_and(|(o, _)| o.is_err()));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(service.answer_now("::1").is_none());
    }

    #[tokio::test]
    async fn an_unbounded_error_ttl_keeps_a_failure_without_overflowing() {
        // errorTtl: Infinity arrives as Duration::MAX; Instant + Duration::MAX would panic.
        let cache_settings = CacheSettings {
            max_ttl: Duration::MAX,
            error_ttl: Duration::MAX,
        };
        let service = LookupService::new(ResolverSettings::default(), cache_settings);
        let (outcome, fresh_until) = service.lookup("::1").await;
        assert_eq!(outcome.unwrap_err().code, ErrorCode::AfNoSupport);
        // Reused in JS until the next check of the system's files at most; kept here for ever.
        assert!(fresh_until <= service.resolver.files().next_check());
        let entry = service
            .cache
            .get_with_expiry("::1", Instant::now())
            .unwrap();
        assert!(entry.1 > Instant::now() + Duration::from_secs(3600));
    }

    fn timeout_ms(ms: u64) -> ResolverSettings {
        ResolverSettings {
            timeout: Some(Duration::from_millis(ms)),
            ..ResolverSettings::default()
        }
    }

    #[test]
    fn a_service_is_freed_once_unused_and_not_among_the_recent_ones() {
        let mut registry = Registry::default();
        let a = registry.shared(timeout_ms(1), CacheSettings::default());
        let weak = Arc::downgrade(&a);
        let again = registry.shared(timeout_ms(1), CacheSettings::default());
        assert!(Arc::ptr_eq(&a, &again), "shared while in use");
        drop((a, again));
        // A short-lived user's answers stay for the next one...
        assert!(weak.upgrade().is_some(), "kept as a recent configuration");
        // ...until enough other configurations were asked for since.
        let mut held = Vec::new();
        for ms in 2..2 + RECENT_KEPT as u64 {
            held.push(registry.shared(timeout_ms(ms), CacheSettings::default()));
        }
        assert!(weak.upgrade().is_none(), "freed");
        let fresh = registry.shared(timeout_ms(1), CacheSettings::default());
        assert!(fresh.answer_now("example.test").is_none());

        // One in use is never freed, however many others come and go.
        for ms in 100..200 {
            registry.shared(timeout_ms(ms), CacheSettings::default());
        }
        assert!(Arc::ptr_eq(
            &held[0],
            &registry.shared(timeout_ms(2), CacheSettings::default())
        ));
    }

    #[test]
    fn the_registry_does_not_grow_with_configurations_no_longer_used() {
        let mut registry = Registry::default();
        let kept = registry.shared(timeout_ms(0), CacheSettings::default());
        for ms in 1..4000 {
            let service = registry.shared(timeout_ms(ms), CacheSettings::default());
            service.cache.insert(
                "a.test",
                Ok(Arc::new(Answer {
                    addresses: vec!["192.0.2.1".into()],
                    valid_until: Instant::now() + Duration::from_secs(60),
                })),
                Duration::from_secs(60),
            );
        }
        assert!(
            registry.entries() <= 4 * RECENT_KEPT,
            "{} entries",
            registry.entries()
        );
        assert!(Arc::ptr_eq(
            &kept,
            &registry.shared(timeout_ms(0), CacheSettings::default())
        ));
    }

    #[test]
    fn one_service_per_configuration() {
        let a = shared(ResolverSettings::default(), CacheSettings::default());
        let b = shared(ResolverSettings::default(), CacheSettings::default());
        assert!(Arc::ptr_eq(&a, &b));
        let other = ResolverSettings {
            attempts: Some(1),
            ..ResolverSettings::default()
        };
        assert!(!Arc::ptr_eq(&a, &shared(other, CacheSettings::default())));
    }
}
