//! IPv4-only name resolution: hickory-resolver (A records only, system or explicit
//! configuration), then the system resolver (getaddrinfo) as a fallback when hickory cannot answer.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use tokio::sync::OnceCell;

use crate::errors::{ErrorCode, LookupError};
use crate::hostname::{parse_host, Host};
use crate::udp_pool::PooledUdpProvider;

/// hickory's resolver on tokio, with UDP sockets reused between queries (see udp_pool.rs).
pub type HickoryResolver = hickory_resolver::Resolver<PooledUdpProvider>;

/// getaddrinfo gives no TTL: its answers are kept this long.
const SYSTEM_ANSWER_TTL: Duration = Duration::from_secs(1);

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
/// runtime, so creating one never reads a file or fails.
pub struct Ipv4Resolver {
    settings: ResolverSettings,
    native: OnceCell<Result<HickoryResolver, String>>,
}

impl Ipv4Resolver {
    pub fn new(settings: ResolverSettings) -> Self {
        Ipv4Resolver {
            settings,
            native: OnceCell::new(),
        }
    }

    pub fn settings(&self) -> &ResolverSettings {
        &self.settings
    }

    /// The host's IPv4 addresses (never an empty list), or why there are none.
    pub async fn resolve(&self, input: &str) -> Result<Resolved, LookupError> {
        let name = match parse_host(input) {
            Ok(Host::Name(name)) => name,
            Ok(Host::Ipv4(ip) | Host::MappedIpv4(ip)) => return Ok(Resolved::forever(ip)),
            Ok(Host::Ipv6(_)) => return Err(ipv6_literal_error(input)),
            Err(bad) => return Err(LookupError::new(ErrorCode::BadName, input, bad.reason)),
        };
        let native = self.query_a(input, &name).await;
        match native {
            Err(err) if self.settings.fallback && err.code.allows_fallback() => {
                match system_lookup_ipv4(&name).await {
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
        let resolver = self.native().await.map_err(|e| no_config_error(name, e))?;
        match resolver.lookup(name, RecordType::AAAA).await {
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

    async fn query_a(&self, input: &str, name: &str) -> Result<Resolved, LookupError> {
        let resolver = self.native().await.map_err(|e| no_config_error(input, e))?;
        match resolver.lookup_ip(name).await {
            Ok(lookup) => {
                let addresses: Vec<Ipv4Addr> = lookup
                    .iter()
                    .filter_map(|ip| match ip {
                        std::net::IpAddr::V4(v4) => Some(v4),
                        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped(),
                    })
                    .collect();
                if addresses.is_empty() {
                    return Err(self.ipv6_only_error(input, name).await);
                }
                Ok(Resolved {
                    addresses,
                    valid_until: lookup.valid_until(),
                })
            }
            Err(err) => {
                let err = classify(input, &err);
                match err.code {
                    ErrorCode::NoData => Err(self.ipv6_only_error(input, name).await),
                    // With a search list, the name itself may answer "no A record" and the last
                    // search candidate NXDOMAIN: hickory reports the latter. An AAAA query tells
                    // an IPv6-only name from a missing one.
                    ErrorCode::NotFound => match self.resolve_ipv6(name).await {
                        Ok(ipv6) if !ipv6.is_empty() => {
                            Err(LookupError::ipv6_only(input, Some(ipv6[0])))
                        }
                        _ => Err(err),
                    },
                    _ => Err(err),
                }
            }
        }
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

    async fn native(&self) -> Result<&HickoryResolver, &str> {
        self.native
            .get_or_init(|| async { build_native(&self.settings) })
            .await
            .as_ref()
            .map_err(String::as_str)
    }
}

impl Resolved {
    fn forever(ip: Ipv4Addr) -> Self {
        Resolved {
            addresses: vec![ip],
            valid_until: Instant::now() + Duration::from_secs(365 * 24 * 3600),
        }
    }
}

fn build_native(settings: &ResolverSettings) -> Result<HickoryResolver, String> {
    let (config, mut opts) = match &settings.nameservers {
        Some(servers) => (explicit_config(servers), ResolverOpts::default()),
        None => crate::system_config::read_system_config()?,
    };
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
    HickoryResolver::builder_with_config(config, PooledUdpProvider::default())
        .with_options(opts)
        .build()
        .map_err(|e| format!("cannot build the DNS resolver: {e}"))
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
    LookupError::new(
        ErrorCode::ConnRefused,
        hostname,
        format!("no DNS server to ask: {why}"),
    )
}

fn ipv6_literal_error(input: &str) -> LookupError {
    LookupError {
        syscall: "connect",
        ..LookupError::new(
            ErrorCode::AfNoSupport,
            input,
            "this is an IPv6 address and ipv4-force only connects over IPv4; \
             use the service's IPv4 address or hostname (or pass allowIPv6Literals: true)",
        )
    }
}

/// The first error is hickory's, the second the system's. Hickory's says more (SERVFAIL,
/// NXDOMAIN, timeout), unless hickory had no configuration to work with.
fn more_precise(native: LookupError, system: LookupError, input: &str) -> LookupError {
    let native_unconfigured =
        native.code == ErrorCode::ConnRefused && native.detail.starts_with("no DNS server");
    if native_unconfigured {
        LookupError {
            hostname: input.to_string(),
            ..system
        }
    } else {
        native
    }
}

/// getaddrinfo on tokio's blocking pool (not libuv's threadpool), IPv4 answers only.
async fn system_lookup_ipv4(name: &str) -> Result<Vec<Ipv4Addr>, LookupError> {
    let query = name.to_string();
    let answer = tokio::task::spawn_blocking(move || (query.as_str(), 0).to_socket_addrs()).await;
    let system_error = |detail: String| LookupError {
        syscall: "getaddrinfo",
        ..LookupError::new(ErrorCode::NotFound, name, detail)
    };
    match answer {
        Ok(Ok(addrs)) => {
            let v4: Vec<Ipv4Addr> = addrs
                .filter_map(|a| match a {
                    SocketAddr::V4(v4) => Some(*v4.ip()),
                    SocketAddr::V6(v6) => v6.ip().to_ipv4_mapped(),
                })
                .collect();
            if v4.is_empty() {
                Err(LookupError {
                    syscall: "getaddrinfo",
                    ..LookupError::ipv6_only(name, None)
                })
            } else {
                Ok(v4)
            }
        }
        Ok(Err(e)) => Err(system_error(format!(
            "the system resolver has no IPv4 address ({e})"
        ))),
        Err(e) => Err(system_error(format!(
            "the system resolver did not finish ({e})"
        ))),
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
        assert_eq!(err.code, ErrorCode::BadName);
        assert_eq!(err.hostname, "bad..name");
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
