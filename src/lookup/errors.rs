//! Lookup failures, shaped like Node's dns errors: a code Node users already know, the hostname,
//! the syscall, and a message that says what to do next.

use std::fmt;
use std::net::Ipv6Addr;

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
    /// What went wrong, in words (the message is built from it).
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

    pub fn message(&self) -> String {
        let head = format!("{} {} {}", self.syscall, self.code.as_str(), self.hostname);
        match self.code {
            ErrorCode::NoData => format!(
                "{head}: {}",
                ipv6_only_advice(&self.hostname, self.ipv6_seen)
            ),
            _ if self.detail.is_empty() => head,
            _ => format!("{head}: {}", self.detail),
        }
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// What a person reads when a host has no IPv4 address at all (after "queryA ENODATA <host>: ").
pub fn ipv6_only_advice(hostname: &str, ipv6_seen: Option<Ipv6Addr>) -> String {
    let seen = match ipv6_seen {
        Some(ip) => format!("the name resolves only to IPv6 ({ip})"),
        None => "the name has no A record".to_string(),
    };
    let endpoint = match supabase_project_ref(hostname) {
        Some(project) => format!(
            "This is a Supabase direct host, which is IPv6-only: use the session pooler instead, \
             postgres://postgres.{project}:[YOUR-PASSWORD]@aws-0-[REGION].pooler.supabase.com:5432/postgres \
             (port 6543 for transaction mode; the exact host is under Connect in the Supabase dashboard), \
             or enable Supabase's IPv4 add-on"
        ),
        None => "Use an IPv4 endpoint of this service (for a Supabase database, the session pooler \
                 aws-0-[REGION].pooler.supabase.com)"
            .to_string(),
    };
    format!(
        "no IPv4 address: {seen}, and ipv4-force is connecting over IPv4 only because this \
         network cannot reach IPv6. {endpoint}, or run on a network with working IPv6."
    )
}

/// `db.<ref>.supabase.co` → `<ref>`: the direct-connection host Supabase serves over IPv6 only.
/// Works on whole labels, never on byte offsets: `hostname` may hold any Unicode.
pub fn supabase_project_ref(hostname: &str) -> Option<&str> {
    let host = hostname.strip_suffix('.').unwrap_or(hostname);
    let mut labels = host.split('.');
    let (db, project) = (labels.next()?, labels.next()?);
    let (supabase, co) = (labels.next()?, labels.next()?);
    let direct = labels.next().is_none()
        && db.eq_ignore_ascii_case("db")
        && supabase.eq_ignore_ascii_case("supabase")
        && co.eq_ignore_ascii_case("co");
    let plain = !project.is_empty() && project.bytes().all(|b| b.is_ascii_alphanumeric());
    (direct && plain).then_some(project)
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
    fn ipv6_only_message_names_host_address_and_remedy() {
        let err = LookupError::ipv6_only("api.example.com", Some("2406:da18::1".parse().unwrap()));
        let msg = err.message();
        assert!(msg.starts_with("queryA ENODATA api.example.com: "), "{msg}");
        assert!(
            msg.contains("resolves only to IPv6 (2406:da18::1)"),
            "{msg}"
        );
        assert!(msg.contains("IPv4 endpoint"), "{msg}");
        assert!(msg.contains("network with working IPv6"), "{msg}");
    }

    #[test]
    fn supabase_direct_host_gets_the_pooler_string() {
        let msg = LookupError::ipv6_only("db.abcdefghijklmnop.supabase.co", None).message();
        assert!(
            msg.contains("postgres://postgres.abcdefghijklmnop:[YOUR-PASSWORD]@aws-0-[REGION].pooler.supabase.com:5432/postgres"),
            "{msg}"
        );
        assert!(msg.contains("6543"), "{msg}");
    }

    #[test]
    fn supabase_ref_only_for_direct_hosts() {
        assert_eq!(
            supabase_project_ref("db.abc123.supabase.co"),
            Some("abc123")
        );
        assert_eq!(
            supabase_project_ref("DB.Abc123.SUPABASE.CO."),
            Some("Abc123")
        );
        assert_eq!(supabase_project_ref("aws-0-eu.pooler.supabase.com"), None);
        assert_eq!(supabase_project_ref("db.a.b.supabase.co"), None);
        assert_eq!(supabase_project_ref("db.supabase.co"), None);
        assert_eq!(supabase_project_ref("db..supabase.co"), None);
        assert_eq!(supabase_project_ref("x.db.abc.supabase.co"), None);
    }

    #[test]
    fn unicode_hostnames_never_panic() {
        // `host[..3]` on bytes used to panic here (a 2-byte character straddles byte 3).
        for host in [
            "üüüüüüüüüü.example",
            "dü.abcdefghijk.supabase.co",
            "db.ü.supabase.co",
            "ü",
            "😀😀😀😀😀😀😀😀😀.supabase.co",
        ] {
            assert_eq!(supabase_project_ref(host), None, "{host}");
            assert!(LookupError::ipv6_only(host, None).message().contains(host));
        }
    }

    #[test]
    fn fallback_only_for_failures_the_system_may_answer() {
        assert!(ErrorCode::NotFound.allows_fallback());
        assert!(ErrorCode::Timeout.allows_fallback());
        assert!(!ErrorCode::NoData.allows_fallback());
    }
}
