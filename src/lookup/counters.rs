//! Counters since the process started (`stats()`), and the IPv6-only hosts seen: one set for the
//! whole process, every thread and configuration, so that the IPv6-only warning is given once per
//! host however many workers find it. Relaxed atomics: each counter is read on its own, and a
//! scrape a few nanoseconds late is fine.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::locking::lock;

/// One process-wide counter.
pub struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn note(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Lookups asked of ipv4-force's resolvers by JS (patched connections, dns.lookup, resolveIPv4…).
pub static LOOKUPS: Counter = Counter::new();
/// Of those, answered from a cache without a query.
pub static CACHE_HITS: Counter = Counter::new();
/// DNS queries sent: UDP datagrams (retries and hedges included), and TCP connections opened.
pub static QUERIES_SENT: Counter = Counter::new();
/// Lookups that ended with no answer from the DNS servers in time (before any fallback).
pub static TIMEOUTS: Counter = Counter::new();
/// Lookups handed to the system resolver (getaddrinfo) after the DNS servers failed.
pub static FALLBACKS: Counter = Counter::new();

/// Hosts remembered at most: past that, new IPv6-only hosts are neither counted nor warned about
/// (names are chosen by whoever the process talks to; the set must not grow without bound).
const MAX_IPV6_ONLY_HOSTS: usize = 4096;

struct Ipv6OnlyHost {
    address: Option<Ipv6Addr>,
    reported: bool,
}

#[derive(Default)]
pub struct Ipv6OnlyHosts {
    hosts: Mutex<HashMap<String, Ipv6OnlyHost>>,
}

impl Ipv6OnlyHosts {
    /// The process's set.
    pub fn seen() -> &'static Ipv6OnlyHosts {
        static SEEN: OnceLock<Ipv6OnlyHosts> = OnceLock::new();
        SEEN.get_or_init(Default::default)
    }

    /// `hostname` has IPv6 addresses and no IPv4 one (`address`: one of them, when known).
    pub fn note(&self, hostname: &str, address: Option<Ipv6Addr>) {
        let mut hosts = lock(&self.hosts);
        let key = key(hostname);
        if let Some(host) = hosts.get_mut(&key) {
            host.address = host.address.or(address);
        } else if hosts.len() < MAX_IPV6_ONLY_HOSTS {
            hosts.insert(
                key,
                Ipv6OnlyHost {
                    address,
                    reported: false,
                },
            );
        }
    }

    /// The first call for a host noted IPv6-only gets `Some` (with its address, when known);
    /// every later one, from any thread, and any call for another host, `None`.
    pub fn first_report(&self, hostname: &str) -> Option<Option<Ipv6Addr>> {
        let mut hosts = lock(&self.hosts);
        let host = hosts.get_mut(&key(hostname))?;
        if host.reported {
            return None;
        }
        host.reported = true;
        Some(host.address)
    }

    pub fn count(&self) -> usize {
        lock(&self.hosts).len()
    }
}

/// `DB.Example.com.` and `db.example.com` are one host.
fn key(hostname: &str) -> String {
    hostname.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_reported_once_whatever_its_spelling() {
        let hosts = Ipv6OnlyHosts::default();
        assert_eq!(hosts.first_report("v6only.test"), None, "not seen yet");
        let ip: Ipv6Addr = "2001:db8::11".parse().unwrap();
        hosts.note("V6only.test.", None);
        hosts.note("v6only.test", Some(ip));
        assert_eq!(hosts.count(), 1);
        assert_eq!(hosts.first_report("v6ONLY.test"), Some(Some(ip)));
        assert_eq!(hosts.first_report("v6only.test"), None);
        hosts.note("v6only.test", Some(ip));
        assert_eq!(
            hosts.first_report("v6only.test"),
            None,
            "noted again: still once"
        );
    }

    #[test]
    fn reports_are_shared_across_threads() {
        let hosts = Ipv6OnlyHosts::default();
        hosts.note("shared.test", None);
        let reports: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| hosts.first_report("shared.test").is_some() as usize))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(reports, 1);
    }

    #[test]
    fn the_set_is_bounded() {
        let hosts = Ipv6OnlyHosts::default();
        for i in 0..MAX_IPV6_ONLY_HOSTS + 10 {
            hosts.note(&format!("h{i}.test"), None);
        }
        assert_eq!(hosts.count(), MAX_IPV6_ONLY_HOSTS);
        assert_eq!(
            hosts.first_report(&format!("h{}.test", MAX_IPV6_ONLY_HOSTS + 1)),
            None
        );
        assert!(hosts.first_report("h0.test").is_some());
    }
}
