//! Lookup failures, shaped like Node's dns errors: a code Node users already know, the hostname,
//! the syscall, and the facts behind it (what failed, an IPv6 address seen). What to do next is
//! worded at the JS edge (lib/advice.js), for this backend and the JS fallback alike.

use std::fmt;
use std::net::Ipv6Addr;

use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;

use crate::lookup::transport::is_fd_exhaustion;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The name exists but has no A record (typically: IPv6-only).
    NoData,
    /// The name does not exist.
    NotFound,
    /// No answer within timeout × attempts.
    Timeout,
    /// No nameserver could be contacted (none configured, or the connection was refused).
    ConnRefused,
    /// The server answered REFUSED.
    Refused,
    /// The server answered SERVFAIL (or another failure code), or the answer was unusable.
    ServFail,
    /// An IPv6 literal was given where only IPv4 can be used.
    AfNoSupport,
    /// The process (or system) ran out of file descriptors: no socket could be opened.
    TooManyFiles,
    /// A bug in ipv4-force (a caught panic).
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NoData => "ENODATA",
            ErrorCode::NotFound => "ENOTFOUND",
            ErrorCode::Timeout => "ETIMEOUT",
            ErrorCode::ConnRefused => "ECONNREFUSED",
            ErrorCode::Refused => "EREFUSED",
            ErrorCode::ServFail => "ESERVFAIL",
            ErrorCode::AfNoSupport => "EAFNOSUPPORT",
            ErrorCode::TooManyFiles => "EMFILE",
            ErrorCode::Internal => "EINTERNAL",
        }
    }

    /// Failures where the system resolver may still know better (nsswitch, a hosts file edited
    /// after start-up, a resolv.conf hickory cannot use).
    pub fn allows_fallback(self) -> bool {
        matches!(
            self,
            ErrorCode::NotFound
                | ErrorCode::Timeout
                | ErrorCode::ConnRefused
                | ErrorCode::Refused
                | ErrorCode::ServFail
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupError {
    pub code: ErrorCode,
    pub hostname: String,
    /// `queryA` for the Rust resolver, `getaddrinfo` for the system fallback (as in Node).
    pub syscall: &'static str,
    /// What went wrong, in words; empty where the code says it all (ENODATA, EAFNOSUPPORT, whose
    /// advice lib/advice.js words).
    pub detail: String,
    /// For ENODATA: an IPv6 address the name has, found by a diagnostic AAAA query.
    pub ipv6_seen: Option<Ipv6Addr>,
    /// The resolver had no configuration to work with (no usable resolv.conf): the system
    /// resolver's own error then says more.
    pub unconfigured: bool,
}

impl LookupError {
    pub fn new(code: ErrorCode, hostname: &str, detail: impl Into<String>) -> Self {
        LookupError {
            code,
            hostname: hostname.to_string(),
            syscall: "queryA",
            detail: detail.into(),
            ipv6_seen: None,
            unconfigured: false,
        }
    }

    pub fn ipv6_only(hostname: &str, ipv6_seen: Option<Ipv6Addr>) -> Self {
        LookupError {
            ipv6_seen,
            ..LookupError::new(ErrorCode::NoData, hostname, "")
        }
    }

    /// A connection or lookup that names an IPv6 literal, which ipv4-force refuses.
    pub fn ipv6_literal(address: &str) -> Self {
        LookupError {
            syscall: "connect",
            ..LookupError::new(ErrorCode::AfNoSupport, address, "")
        }
    }

    /// `<syscall> <code> <hostname>[: detail]`, without the advice (for logs and tests: the
    /// message a person reads is lib/advice.js's `lookupMessage`).
    pub fn message(&self) -> String {
        let head = format!("{} {} {}", self.syscall, self.code.as_str(), self.hostname);
        if self.detail.is_empty() {
            head
        } else {
            format!("{head}: {}", self.detail)
        }
    }
}

impl std::error::Error for LookupError {}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

const FDS_EXHAUSTED: &str = "no socket could be opened: the process has no file descriptor left \
     (raise its limit, ulimit -n, or look for descriptors it leaks)";

/// Maps a hickory failure to the Node dns code a user would see from `dns.resolve4`.
/// `fds_exhausted`: the resolver's transport failed to open a socket for lack of file descriptors
/// just now (hickory reports that as NoConnections).
pub(crate) fn classify(hostname: &str, err: &NetError, fds_exhausted: bool) -> LookupError {
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
        // hickory reports a socket it could not open as NoConnections: the pool saw why.
        NetError::NoConnections if fds_exhausted => (ErrorCode::TooManyFiles, FDS_EXHAUSTED),
        NetError::Io(io) if is_fd_exhaustion(io) => (ErrorCode::TooManyFiles, FDS_EXHAUSTED),
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

/// Why a resolver has no configuration to work with. The lookup then fails with ECONNREFUSED
/// ("no DNS server to ask: …"), and the system resolver is asked instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A system file could not be read: its path and the OS's reason.
    Unreadable { path: String, reason: String },
    /// /etc/resolv.conf was read but cannot be used: the parser's reason.
    #[cfg(not(any(windows, target_vendor = "apple")))]
    Unusable { path: &'static str, reason: String },
    /// The configuration names no nameserver (`source`: where they were looked for). Where
    /// hickory parses resolv.conf, its parser says so itself (`Unusable`).
    #[cfg(any(windows, target_vendor = "apple", test))]
    NoNameserver { source: &'static str },
    /// The operating system's DNS configuration could not be read (Windows).
    #[cfg(windows)]
    SystemUnreadable(String),
    /// hickory could not build a resolver from it.
    Build(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Unreadable { path, reason } => write!(f, "cannot read {path} ({reason})"),
            #[cfg(not(any(windows, target_vendor = "apple")))]
            ConfigError::Unusable { path, reason } => write!(f, "{path} is not usable ({reason})"),
            #[cfg(any(windows, target_vendor = "apple", test))]
            ConfigError::NoNameserver { source } => write!(f, "{source} names no nameserver"),
            #[cfg(windows)]
            ConfigError::SystemUnreadable(reason) => {
                write!(
                    f,
                    "the system's DNS configuration is not readable ({reason})"
                )
            }
            ConfigError::Build(reason) => write!(f, "cannot build the DNS resolver: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}

pub(crate) fn no_config_error(hostname: &str, why: &ConfigError) -> LookupError {
    LookupError {
        unconfigured: true,
        ..LookupError::new(
            ErrorCode::ConnRefused,
            hostname,
            format!("no DNS server to ask: {why}"),
        )
    }
}

pub(crate) fn cname_loop_error(input: &str) -> LookupError {
    LookupError::new(
        ErrorCode::ServFail,
        input,
        "CNAME loop: the name's CNAME chain comes back to itself and never reaches an address \
         (a DNS configuration error)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_node_dns_codes() {
        assert_eq!(ErrorCode::NoData.as_str(), "ENODATA");
        assert_eq!(ErrorCode::NotFound.as_str(), "ENOTFOUND");
        assert_eq!(ErrorCode::Timeout.as_str(), "ETIMEOUT");
    }

    #[test]
    fn ipv6_only_and_literal_failures_carry_facts_not_words() {
        let seen = Some("2406:da18::1".parse().unwrap());
        let only = LookupError::ipv6_only("api.example.com", seen);
        assert_eq!((only.code, only.ipv6_seen), (ErrorCode::NoData, seen));
        assert_eq!(only.message(), "queryA ENODATA api.example.com");
        let literal = LookupError::ipv6_literal("::1");
        assert_eq!(literal.message(), "connect EAFNOSUPPORT ::1");
    }

    #[test]
    fn fallback_only_for_failures_the_system_may_answer() {
        assert!(ErrorCode::NotFound.allows_fallback());
        assert!(ErrorCode::Timeout.allows_fallback());
        assert!(!ErrorCode::NoData.allows_fallback());
    }

    #[test]
    fn dns_failures_map_to_node_codes() {
        use hickory_resolver::proto::op::Query;
        let nx = NetError::Dns(DnsError::NoRecordsFound(NoRecords::new(
            Query::new(),
            ResponseCode::NXDomain,
        )));
        assert_eq!(classify("a", &nx, false).code, ErrorCode::NotFound);
        let nodata = NetError::Dns(DnsError::NoRecordsFound(NoRecords::new(
            Query::new(),
            ResponseCode::NoError,
        )));
        assert_eq!(classify("a", &nodata, false).code, ErrorCode::NoData);
        assert_eq!(
            classify("a", &NetError::Timeout, false).code,
            ErrorCode::Timeout
        );
        let refused = NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused));
        assert_eq!(classify("a", &refused, false).code, ErrorCode::Refused);
        let servfail = NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail));
        assert_eq!(classify("a", &servfail, false).code, ErrorCode::ServFail);
        // No socket could be opened: for lack of descriptors when the transport saw EMFILE.
        let none = NetError::NoConnections;
        assert_eq!(classify("a", &none, false).code, ErrorCode::ConnRefused);
        assert_eq!(classify("a", &none, true).code, ErrorCode::TooManyFiles);
        let emfile = NetError::Io(std::io::Error::from_raw_os_error(24).into());
        assert_eq!(classify("a", &emfile, false).code, ErrorCode::TooManyFiles);
    }
}
