//! `stats()`: counters since the process started, cheap enough to scrape every few seconds.

use napi_derive::napi;

use crate::lookup::resolver::config_reloads;
use crate::lookup::system_files::SystemFiles;

/// Counters since the process started, for every thread of it.
#[napi(object)]
pub struct Stats {
    /// Checks of /etc/resolv.conf and /etc/hosts (at most one a second, by lookups that need a
    /// query).
    pub config_checks: f64,
    /// Resolvers rebuilt because one of those files changed.
    pub config_reloads: f64,
}

#[napi(catch_unwind)]
pub fn stats() -> Stats {
    Stats {
        config_checks: SystemFiles::system().checks() as f64,
        config_reloads: config_reloads() as f64,
    }
}
