//! Building the resolver for a configuration: hickory's options as ipv4-force sets them, the first
//! nameserver to ask directly, the TCP-only twin for truncated replies, explicit nameservers, the
//! hosts file, and the search list that decides which names are asked.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::config::{ProtocolConfig, ResolveHosts};
use hickory_resolver::proto::rr::Name;
use hickory_resolver::Hosts;

use hickory_resolver::net::NetError;

use super::answer::fqdn;
use super::{HickoryResolver, ResolverSettings};
use crate::lookup::errors::{classify, ConfigError, LookupError};
use crate::lookup::system_files::Content;
use crate::lookup::transport::exchange::{DirectServer, QueryOptions};
use crate::lookup::transport::pool::PooledUdpProvider;
use crate::lookup::transport::FdWatch;

/// The hickory resolver, and what it was built with that decides which names are asked.
/// How recent a lack of descriptors explains a NoConnections failure.
const FDS_WINDOW: Duration = Duration::from_secs(1);

pub(super) struct Native {
    /// Sockets that could not be opened for lack of file descriptors, noted by both transports.
    pub(super) fds: Arc<FdWatch>,
    pub(super) resolver: HickoryResolver,
    /// The hosts file, shared with `resolver`.
    pub(super) hosts: Arc<Hosts>,
    /// The first nameserver, asked directly (udp_exchange.rs) when it can be.
    pub(super) direct: Option<DirectServer>,
    /// The nameservers over TCP only, for a question whose direct UDP reply was truncated.
    pub(super) tcp_resolver: Option<HickoryResolver>,
    pub(super) search: Vec<Name>,
    pub(super) domain: Option<Name>,
    pub(super) ndots: usize,
}

pub(super) fn build_native(
    settings: &ResolverSettings,
    config: ResolverConfig,
    mut opts: ResolverOpts,
    hosts: Arc<Hosts>,
) -> Result<Native, ConfigError> {
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
    // One watch for both transports: a lack of descriptors is the resolver's to report.
    let fds = Arc::new(FdWatch::default());
    let provider = PooledUdpProvider::new(fds.clone());
    let direct = direct_server(&config, &opts, fds.clone());
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
            .map_err(|e| ConfigError::Build(e.to_string()))?;
        resolver.set_hosts(hosts.clone());
        Ok::<_, ConfigError>(resolver)
    };
    let tcp_resolver = match (&direct, tcp_only(&config)) {
        (Some(_), Some(tcp)) => Some(build(tcp)?),
        _ => None,
    };
    let resolver = build(config)?;
    Ok(Native {
        resolver,
        fds,
        hosts,
        direct,
        tcp_resolver,
        search,
        domain,
        ndots,
    })
}

impl Native {
    /// The fully qualified names to ask for `name`, in order: hickory's own search-list rule
    /// (`ndots`, `domain`, `search`), the one `lookup_ip` applies.
    /// A hickory failure as the Node error a user sees.
    pub(super) fn classify(&self, input: &str, err: &NetError) -> LookupError {
        classify(input, err, self.fds.exhausted_within(FDS_WINDOW))
    }

    pub(super) fn candidates(&self, name: &Name) -> Vec<Name> {
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

/// The first nameserver, when it takes plain UDP from any local address.
fn direct_server(
    config: &ResolverConfig,
    opts: &ResolverOpts,
    fds: Arc<FdWatch>,
) -> Option<DirectServer> {
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
        fds,
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

pub(super) fn explicit_config(servers: &[SocketAddr]) -> ResolverConfig {
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

/// The hosts file's entries; none when it is missing or unreadable, as for getaddrinfo.
pub(super) fn hosts_from(content: &Content) -> Arc<Hosts> {
    let mut hosts = Hosts::default();
    if let Ok(bytes) = content {
        if hosts.read_hosts_conf(&bytes[..]).is_err() {
            hosts = Hosts::default();
        }
    }
    Arc::new(hosts)
}

/// A `nameservers` entry that is not an IP address with an optional port (the text as given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadNameserver(pub String);

impl std::fmt::Display for BadNameserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "nameserver {:?} is not an IP address with an optional port",
            self.0
        )
    }
}

impl std::error::Error for BadNameserver {}

/// `"1.2.3.4"`, `"1.2.3.4:5353"`, `"::1"` or `"[::1]:5353"` (port 53 when none is given).
pub fn parse_nameserver(text: &str) -> Result<SocketAddr, BadNameserver> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| BadNameserver(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
