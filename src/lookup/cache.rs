//! A TTL cache with in-flight de-duplication: concurrent misses for one key share one
//! computation, and a fresh entry is read without any await (the hot path of every connect).
//! Bounded: when full, the least recently used entry makes room, so a burst of one-off names
//! cannot push out the names a server connects to all the time.

use std::collections::HashMap;
use std::future::Future;
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
}

impl<V: Clone> TtlCache<V> {
    pub fn new(capacity: usize) -> Self {
        TtlCache {
            entries: Mutex::new(LruCache::unbounded()),
            capacity: capacity.max(1),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `key` if it has not expired.
    pub fn get(&self, key: &str) -> Option<V> {
        self.get_with_expiry(key).map(|(value, _)| value)
    }

    /// The value for `key` and when it expires, if it has not expired.
    pub fn get_with_expiry(&self, key: &str) -> Option<(V, Instant)> {
        let mut entries = lock(&self.entries);
        match entries.get(key) {
            Some((value, expires)) if *expires > Instant::now() => Some((value.clone(), *expires)),
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
        let cell = lock(&self.in_flight)
            .entry(key.to_string())
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        let value = cell.get_or_init(compute).await.clone();
        // The first caller to get here moves the value from in-flight to the cache.
        let mut in_flight = lock(&self.in_flight);
        if in_flight.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            in_flight.remove(key);
            drop(in_flight);
            self.insert(key, value.clone(), ttl(&value));
        }
        value
    }

    pub fn insert(&self, key: &str, value: V, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let expires = instant_after(ttl);
        let mut entries = lock(&self.entries);
        if entries.len() >= self.capacity && !entries.contains(key) {
            // Evicted outside the lock.
            let _evicted = entries.pop_lru();
            entries.put(key.to_string(), (value, expires));
        } else {
            entries.put(key.to_string(), (value, expires));
        }
    }

    pub fn clear(&self) {
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
    use std::sync::atomic::{AtomicUsize, Ordering};

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
