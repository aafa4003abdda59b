//! A TTL cache with in-flight de-duplication: concurrent misses for one key share one
//! computation, and a fresh entry is read without any await (the hot path of every connect).
//! Bounded: when full, the least recently used entry makes room, so a burst of one-off names
//! cannot push out the names a server connects to all the time.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;
use tokio::sync::OnceCell;

use crate::locking::lock;

pub struct TtlCache<V> {
    entries: Mutex<LruCache<String, (V, Instant)>>,
    /// Most entries kept. The map grows with use up to this: nothing is allocated up front, so
    /// a configuration used for a handful of names costs a handful of entries.
    capacity: usize,
    in_flight: Mutex<HashMap<String, Arc<OnceCell<V>>>>,
    /// Bumped by `clear`: a value computed across a clear is handed to its callers but not kept.
    generation: AtomicU64,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(capacity: usize) -> Self {
        TtlCache {
            entries: Mutex::new(LruCache::unbounded()),
            capacity: capacity.max(1),
            in_flight: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The value for `key` if it has not expired.
    pub fn get(&self, key: &str) -> Option<V> {
        self.get_with_expiry(key, Instant::now())
            .map(|(value, _)| value)
    }

    /// The value for `key` and when it expires, if it has not expired by `now` (the caller's
    /// clock reading, so the hot path reads the clock once).
    pub fn get_with_expiry(&self, key: &str, now: Instant) -> Option<(V, Instant)> {
        let mut entries = lock(&self.entries);
        match entries.get(key) {
            Some((value, expires)) if *expires > now => Some((value.clone(), *expires)),
            Some(_) => {
                entries.pop(key);
                None
            }
            None => None,
        }
    }

    /// The fresh value for `key`, or the result of `compute`, which runs once however many callers
    /// ask at the same time. `ttl` decides how long a computed value is kept (zero: not kept).
    pub async fn get_or_compute<F, Fut>(
        &self,
        key: &str,
        ttl: impl Fn(&V) -> Duration,
        compute: F,
    ) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        if let Some(value) = self.get(key) {
            return value;
        }
        let generation = self.generation.load(Ordering::Acquire);
        let cell = lock(&self.in_flight)
            .entry(key.to_string())
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        let value = cell.get_or_init(compute).await.clone();
        // The first caller to get here moves the value from in-flight to the cache (none does
        // after a clear, which empties in-flight too).
        let mut in_flight = lock(&self.in_flight);
        if in_flight.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            in_flight.remove(key);
            drop(in_flight);
            if self.generation.load(Ordering::Acquire) == generation {
                self.insert(key, value.clone(), ttl(&value));
            }
        }
        value
    }

    pub fn insert(&self, key: &str, value: V, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let expires = instant_after(ttl);
        let mut entries = lock(&self.entries);
        // Full: the least recently used entry makes room (dropped after the lock).
        let _evicted = if entries.len() >= self.capacity && !entries.contains(key) {
            entries.pop_lru()
        } else {
            None
        };
        entries.put(key.to_string(), (value, expires));
    }

    /// Drops every entry; lookups in flight finish for their callers, and are not kept.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        lock(&self.in_flight).clear();
        lock(&self.entries).clear();
    }

    #[cfg(test)]
    pub fn entry_count(&self) -> usize {
        lock(&self.entries).len()
    }
}

/// What "forever" means for an answer that never changes (an IP literal) or a TTL bound of
/// `Infinity`: a century. The one definition, used wherever an expiry has no end.
pub const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Now + `ttl`, saturating at [`FOREVER`]: `Instant + Duration::MAX` (maxTtl/errorTtl: Infinity)
/// would overflow and panic.
pub fn instant_after(ttl: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(ttl.min(FOREVER)).unwrap_or(now + FOREVER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn concurrent_misses_compute_once() {
        let cache = Arc::new(TtlCache::<u32>::new(16));
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let (cache, calls) = (cache.clone(), calls.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_compute(
                            "k",
                            |_| Duration::from_secs(60),
                            || async {
                                calls.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                7
                            },
                        )
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 7);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.get("k"), Some(7));
    }

    #[tokio::test]
    async fn a_value_computed_across_a_clear_reaches_its_callers_but_is_not_kept() {
        let cache = Arc::new(TtlCache::<u32>::new(16));
        let slow = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get_or_compute(
                        "k",
                        |_| Duration::from_secs(60),
                        || async {
                            tokio::time::sleep(Duration::from_millis(30)).await;
                            1 // computed with the old configuration
                        },
                    )
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        cache.clear();
        // A caller after the clear does not join the old computation.
        let fresh = cache
            .get_or_compute("k", |_| Duration::from_secs(60), || async { 2 })
            .await;
        assert_eq!(fresh, 2);
        assert_eq!(
            slow.await.unwrap(),
            1,
            "the caller in flight gets its answer"
        );
        assert_eq!(
            cache.get("k"),
            Some(2),
            "the old answer did not replace the new"
        );
    }

    #[tokio::test]
    async fn entries_expire_after_their_ttl() {
        let cache = TtlCache::<u32>::new(16);
        cache.insert("k", 1, Duration::from_millis(30));
        assert_eq!(cache.get("k"), Some(1));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(cache.get("k"), None);
        let v = cache
            .get_or_compute("k", |_| Duration::ZERO, || async { 2 })
            .await;
        assert_eq!(v, 2);
        assert_eq!(cache.get("k"), None, "a zero TTL is not kept");
    }

    #[test]
    fn a_burst_of_new_names_does_not_push_out_a_name_in_use() {
        let cache = TtlCache::<u32>::new(16);
        cache.insert("db.internal", 1, Duration::from_secs(60));
        for i in 0..1000 {
            cache.insert(&format!("once{i}.example"), i, Duration::from_secs(60));
            // The server keeps connecting to its database while one-off names come and go.
            assert_eq!(cache.get("db.internal"), Some(1));
        }
        assert!(cache.entry_count() <= 16);
        assert_eq!(
            cache.get("once0.example"),
            None,
            "the least recently used went first"
        );
    }

    #[test]
    fn capacity_bounds_memory() {
        let cache = TtlCache::<u32>::new(10);
        for i in 0..1000 {
            cache.insert(&i.to_string(), i, Duration::from_secs(60));
            assert!(cache.entry_count() <= 10);
        }
        assert_eq!(cache.get("999"), Some(999));
    }

    #[test]
    fn memory_grows_with_use_not_with_the_bound() {
        let cache = TtlCache::<u32>::new(10_000);
        cache.insert("one", 1, Duration::from_secs(60));
        assert_eq!(cache.entry_count(), 1);
        assert_eq!(cache.get("one"), Some(1));
        for i in 0..20_000 {
            cache.insert(&i.to_string(), i, Duration::from_secs(60));
        }
        assert_eq!(cache.entry_count(), 10_000, "still bounded");
    }
}
