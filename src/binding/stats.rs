//! `stats()`: counters since the process started, cheap enough to scrape every few seconds; and
//! the once-per-host IPv6-only warning, whose "already given" set they share.

use napi_derive::napi;

use crate::lookup::counters::{
    Ipv6OnlyHosts, CACHE_HITS, FALLBACKS, LOOKUPS, QUERIES_SENT, TIMEOUTS,
};
use crate::lookup::resolver::config_reloads;
use crate::lookup::system_files::SystemFiles;

/// Counters since the process started, for every thread of it.
#[napi(object)]
pub struct Stats {
    /// Lookups asked of ipv4-force (patched connections and dns.lookup, resolveIPv4, lookup).
    pub lookups: f64,
    /// Of those, answered from a cache (the process's, or a thread's own) without a query.
    pub cache_hits: f64,
    /// DNS queries sent: UDP datagrams (retries and hedges included), and TCP connections.
    pub queries_sent: f64,
    /// Lookups the DNS servers did not answer in time (before any fallback).
    pub timeouts: f64,
    /// Lookups handed to the system resolver (getaddrinfo) after the DNS servers failed.
    pub fallbacks: f64,
    /// Distinct hosts found to have IPv6 addresses and no IPv4 one.
    pub ipv6_only_hosts: f64,
    /// Checks of /etc/resolv.conf and /etc/hosts (at most one a second, by lookups that need a
    /// query).
    pub config_checks: f64,
    /// Resolvers rebuilt because one of those files changed.
    pub config_reloads: f64,
}

#[napi(catch_unwind)]
pub fn stats() -> Stats {
    Stats {
        lookups: LOOKUPS.get() as f64,
        cache_hits: CACHE_HITS.get() as f64,
        queries_sent: QUERIES_SENT.get() as f64,
        timeouts: TIMEOUTS.get() as f64,
        fallbacks: FALLBACKS.get() as f64,
        ipv6_only_hosts: Ipv6OnlyHosts::seen().count() as f64,
        config_checks: SystemFiles::system().checks() as f64,
        config_reloads: config_reloads() as f64,
    }
}

/// Lookups a JS thread answered from its own cache since it last said so (they never reach the
/// addon): counted as lookups and cache hits.
#[napi(catch_unwind)]
pub fn note_thread_cache_hits(hits: f64) {
    // A count from JS: a whole number, or nothing (`as` saturates and maps NaN to 0).
    let hits = hits as u64;
    LOOKUPS.add(hits);
    CACHE_HITS.add(hits);
}

/// An IPv6-only host, reported once: what the warning about it says (lib/advice.js words it).
#[napi(object)]
pub struct Ipv6OnlyReport {
    /// An IPv6 address the name has, when one was seen.
    pub ipv6_seen: Option<String>,
}

/// The first time it is asked for `hostname` in the process (any thread), the facts for its
/// IPv6-only warning; `null` after that, and for a host not known to be IPv6-only.
#[napi(catch_unwind)]
pub fn first_ipv6_only_report(hostname: String) -> Option<Ipv6OnlyReport> {
    Ipv6OnlyHosts::seen()
        .first_report(&hostname)
        .map(|address| Ipv6OnlyReport {
            ipv6_seen: address.map(|ip| ip.to_string()),
        })
}
