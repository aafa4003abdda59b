//! The fallback: getaddrinfo, IPv4 answers only, on tokio's blocking pool (not libuv's
//! threadpool), bounded process-wide, one call per name in flight; and which error is reported
//! when both hickory and the system fail.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt, Shared};
use tokio::sync::Semaphore;

use crate::locking::lock;
use crate::lookup::errors::{ErrorCode, LookupError};

/// getaddrinfo gives no TTL: its answers are kept this long.
pub(super) const SYSTEM_ANSWER_TTL: Duration = Duration::from_secs(1);
/// getaddrinfo calls running at once, process-wide: each holds a thread for as long as the system
/// resolver takes, and with the DNS server down thousands of lookups would otherwise each start one.
const MAX_SYSTEM_LOOKUPS: usize = 8;

type SystemLookup = Shared<BoxFuture<'static, Result<Vec<Ipv4Addr>, LookupError>>>;

/// getaddrinfo on tokio's blocking pool (not libuv's threadpool), IPv4 answers only. At most
/// MAX_SYSTEM_LOOKUPS calls run at once in the process, and concurrent lookups of one name share
/// one call.
pub(super) async fn system_lookup_ipv4(name: &str) -> Result<Vec<Ipv4Addr>, LookupError> {
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

/// The first error is hickory's, the second the system's. Hickory's says more (SERVFAIL,
/// NXDOMAIN, timeout), unless hickory had no configuration to work with.
pub(super) fn more_precise(native: LookupError, system: LookupError, input: &str) -> LookupError {
    if native.unconfigured {
        LookupError {
            hostname: input.to_string(),
            ..system
        }
    } else {
        native
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::errors::{no_config_error, ConfigError};

    #[test]
    fn hickory_error_is_kept_unless_it_had_no_configuration() {
        let native = LookupError::new(ErrorCode::ServFail, "h", "x");
        let system = LookupError::new(ErrorCode::NotFound, "h", "y");
        assert_eq!(
            more_precise(native.clone(), system.clone(), "h").code,
            ErrorCode::ServFail
        );
        let unreadable = ConfigError::Unreadable {
            path: "/etc/resolv.conf".into(),
            reason: "No such file or directory".into(),
        };
        let unconfigured = no_config_error("h", &unreadable);
        assert_eq!(
            more_precise(unconfigured, system, "h").code,
            ErrorCode::NotFound
        );
    }
}
