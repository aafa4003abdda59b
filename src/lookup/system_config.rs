//! The system DNS configuration: /etc/resolv.conf, as read by system_files.rs.
//!
//! Elsewhere hickory parses it (`system_conf::parse_resolv_conf`). On macOS hickory offers only
//! `read_system_conf`, which links Apple's SystemConfiguration framework (not available when
//! cross-building without an SDK), so there the file is parsed with the `resolv-conf` crate and
//! turned into hickory's configuration here. macOS keeps /etc/resolv.conf current with the
//! primary network's DNS servers, which is what `dns.resolve4` uses too.
//!
//! Windows has no resolv.conf: hickory's Windows reader asks the network adapters for their DNS
//! servers and the registry for the search list (`read_system_conf`, through the `ipconfig`
//! crate), as `dns.resolve4` does. It is read when the resolver is built (and rebuilt after a
//! hosts file change), not followed while the process runs. When it fails or names no server,
//! getaddrinfo is the fallback, as on Unix.

use hickory_resolver::config::{ResolverConfig, ResolverOpts};

use super::errors::ConfigError;
use super::system_files::Content;

#[cfg(not(windows))]
const PATH: &str = "/etc/resolv.conf";

/// Parses /etc/resolv.conf as last read; the error says which step failed, for the user.
#[cfg(not(windows))]
pub fn system_config(resolv_conf: &Content) -> Result<(ResolverConfig, ResolverOpts), ConfigError> {
    let text = resolv_conf.as_ref().map_err(Clone::clone)?;
    parse(text)
}

/// Windows: the adapters' DNS servers (there is no resolv.conf to pass in).
#[cfg(windows)]
pub fn system_config(
    _resolv_conf: &Content,
) -> Result<(ResolverConfig, ResolverOpts), ConfigError> {
    let (config, opts) = hickory_resolver::system_conf::read_system_conf()
        .map_err(|e| ConfigError::SystemUnreadable(e.to_string()))?;
    if config.name_servers().is_empty() {
        return Err(ConfigError::NoNameserver {
            source: "no network adapter that is up",
        });
    }
    Ok((config, opts))
}

#[cfg(not(any(target_vendor = "apple", windows)))]
fn parse(text: &[u8]) -> Result<(ResolverConfig, ResolverOpts), ConfigError> {
    hickory_resolver::system_conf::parse_resolv_conf(text).map_err(|e| ConfigError::Unusable {
        path: PATH,
        reason: e.to_string(),
    })
}

#[cfg(target_vendor = "apple")]
fn parse(text: &[u8]) -> Result<(ResolverConfig, ResolverOpts), ConfigError> {
    parse_portable(text)
}

/// resolv.conf through the `resolv-conf` crate: nameservers, domain, search list, and the
/// options this package uses (timeout, attempts, ndots). Lines it cannot read are skipped, as
/// the C library skips them.
#[cfg(any(target_vendor = "apple", all(test, not(windows))))]
fn parse_portable(text: &[u8]) -> Result<(ResolverConfig, ResolverOpts), ConfigError> {
    use hickory_resolver::config::NameServerConfig;
    use hickory_resolver::proto::rr::Name;
    use std::time::Duration;

    let (parsed, _skipped) = resolv_conf::Config::parse_with_errors(text);
    if parsed.nameservers.is_empty() {
        return Err(ConfigError::NoNameserver { source: PATH });
    }
    let servers = parsed
        .nameservers
        .iter()
        .map(|ip| NameServerConfig::udp_and_tcp(ip.into()))
        .collect();
    let domain = parsed
        .get_domain()
        .and_then(|d| Name::from_str_relaxed(d).ok());
    // `search` and `domain` replace each other; the last one in the file wins (resolv.conf(5)).
    let search = parsed
        .get_last_search_or_domain()
        .filter_map(|d| Name::from_str_relaxed(d).ok())
        .collect();
    let mut opts = ResolverOpts::default();
    opts.ndots = parsed.ndots as usize;
    opts.timeout = Duration::from_secs(u64::from(parsed.timeout));
    opts.attempts = parsed.attempts as usize;
    Ok((ResolverConfig::from_parts(domain, search, servers), opts))
}

// The parsers of resolv.conf, which Windows does not use.
#[cfg(all(test, not(windows)))]
mod tests {
    use super::*;

    // The macOS parser must configure the resolver as hickory's own parser does on Linux.
    #[test]
    fn portable_parser_agrees_with_hickory() {
        let text = b"# comment\nnameserver 127.0.0.53\nnameserver ::1\n\
                     search corp.example lan\noptions ndots:2 timeout:3 attempts:4 edns0 trust-ad\n";
        let (ours, our_opts) = parse_portable(text).unwrap();
        let (theirs, their_opts) = parse(text).unwrap();
        assert_eq!(
            format!("{:?}", ours.name_servers()),
            format!("{:?}", theirs.name_servers())
        );
        assert_eq!(ours.search(), theirs.search());
        assert_eq!(ours.domain(), theirs.domain());
        assert_eq!(
            (our_opts.ndots, our_opts.timeout, our_opts.attempts),
            (their_opts.ndots, their_opts.timeout, their_opts.attempts)
        );
        assert_eq!(our_opts.timeout.as_secs(), 3);
        assert_eq!(our_opts.attempts, 4);
    }

    #[test]
    fn portable_parser_skips_unknown_lines_and_needs_a_nameserver() {
        let (config, _) = parse_portable(b"options no-such-option\nnameserver 10.0.0.1\n").unwrap();
        assert_eq!(config.name_servers().len(), 1);
        assert!(parse_portable(b"search lan\n").is_err());
    }
}
