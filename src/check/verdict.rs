//! The verdict of `ipv4-force check`, from what the probes saw: pure functions of facts (the
//! lookups' outcomes, the IPv6 route, the TCP connect, the pooler probes), with their table tests.
//! They return facts, never sentences: lib/check-words.js words them. The probes themselves (the
//! I/O) are in `probes.rs`.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::time::Duration;

use crate::check::pooler_probe::{PoolerProbe, Search};
use crate::check::pooler_verdict::PoolerVerdict;
use crate::check::supabase;
use crate::check::supabase::supabase_project_ref;
use crate::check::target::Target;
use crate::lookup::errors::{ErrorCode, LookupError};

/// The verdict of `diagnose()` / `ipv4-force check`; `reachable` and `resolves` are the good ones
/// (the command exits 0). JS sees it as a string union (binding/check_facts.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// TCP over IPv4 to the port works.
    Reachable,
    /// IPv4 addresses found; no port was given, so TCP was not tested.
    Resolves,
    /// AAAA records (or an IPv6 literal) and no IPv4 address.
    Ipv6Only,
    /// The name exists but has neither A nor AAAA records.
    NoAddress,
    /// The name does not exist.
    NotFound,
    /// Timeout, SERVFAIL, REFUSED, no server reachable…
    DnsFailure,
    /// ECONNREFUSED.
    PortClosed,
    /// No answer in time: filtered, or the host is down.
    PortTimeout,
    /// ENETUNREACH / EHOSTUNREACH.
    PortUnreachable,
    /// Any other connect error.
    ConnectFailed,
    /// A Supabase pooler URL whose pooler answers "Tenant or user not found".
    TenantNotFound,
}

impl Verdict {
    /// Whether the app can connect over IPv4 (the command exits 0).
    pub fn ok(self) -> bool {
        matches!(self, Verdict::Reachable | Verdict::Resolves)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Route {
    pub available: bool,
    /// The source address the kernel picked, when it picked one.
    pub source: Option<Ipv6Addr>,
    pub detail: String,
}

/// Why a TCP connect failed, as Node names it (`code()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    Refused,
    TimedOut,
    NetworkUnreachable,
    HostUnreachable,
    Reset,
    AddressNotAvailable,
    PermissionDenied,
    Other,
}

impl ConnectFailure {
    /// The errno name Node would show.
    pub fn code(self) -> &'static str {
        match self {
            ConnectFailure::Refused => "ECONNREFUSED",
            ConnectFailure::TimedOut => "ETIMEDOUT",
            ConnectFailure::NetworkUnreachable => "ENETUNREACH",
            ConnectFailure::HostUnreachable => "EHOSTUNREACH",
            ConnectFailure::Reset => "ECONNRESET",
            ConnectFailure::AddressNotAvailable => "EADDRNOTAVAIL",
            ConnectFailure::PermissionDenied => "EACCES",
            ConnectFailure::Other => "UNKNOWN",
        }
    }
}

impl From<&io::Error> for ConnectFailure {
    fn from(e: &io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => ConnectFailure::Refused,
            io::ErrorKind::TimedOut => ConnectFailure::TimedOut,
            io::ErrorKind::NetworkUnreachable => ConnectFailure::NetworkUnreachable,
            io::ErrorKind::HostUnreachable => ConnectFailure::HostUnreachable,
            io::ErrorKind::ConnectionReset => ConnectFailure::Reset,
            io::ErrorKind::AddrNotAvailable => ConnectFailure::AddressNotAvailable,
            io::ErrorKind::PermissionDenied => ConnectFailure::PermissionDenied,
            _ => ConnectFailure::Other,
        }
    }
}

/// Why no TCP connect was tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    NoPort,
    NoAddress,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tcp4 {
    pub attempted: bool,
    pub address: Option<SocketAddrV4>,
    pub ok: bool,
    /// Time to connect, or to fail, in milliseconds (0.1 ms precision).
    pub ms: Option<f64>,
    /// Why the connect failed.
    pub error: Option<ConnectFailure>,
    pub skipped: Option<Skipped>,
    /// The system's account of a failed connect; None when the check's own time limit ran out
    /// (the report's `connect_timeout`).
    pub os_error: Option<String>,
}

impl Tcp4 {
    pub fn skipped(why: Skipped) -> Self {
        Tcp4 {
            attempted: false,
            address: None,
            ok: false,
            ms: None,
            error: None,
            skipped: Some(why),
            os_error: None,
        }
    }
}

/// What the check saw, and which next step applies: facts only (lib/check-words.js words the
/// summary, the hint and every message).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The target as given, credentials masked.
    pub target: String,
    pub host: String,
    pub port: Option<u16>,
    /// `host:port` as shown (brackets around IPv6), or the host alone.
    pub endpoint: String,
    /// The host is an IP address (no DNS question was asked for it).
    pub ip_literal: bool,
    pub a: Vec<String>,
    pub a_error: Option<LookupError>,
    pub aaaa: Vec<String>,
    /// None when there is simply no AAAA record.
    pub aaaa_error: Option<LookupError>,
    pub ipv6_route: Ipv6Route,
    pub tcp4: Tcp4,
    /// The limit the TCP connect ran under.
    pub connect_timeout: Duration,
    pub verdict: Verdict,
    pub hint: Hint,
    /// Supabase only: which pooler serves the project (a direct host without IPv4, or a pooler
    /// URL).
    pub pooler: Option<PoolerFinding>,
}

/// Which next step applies, with what its words need. Most follow from the verdict alone; the
/// IPv6-only and pooler ones carry their parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Hint {
    /// Reachable: patchNet() makes the app use IPv4; `ipv6_unreachable`: the host has AAAA
    /// records this machine cannot reach, which Node might pick without it.
    PatchNet {
        ipv6_unreachable: bool,
    },
    /// Resolves: give a port to test TCP too.
    GivePort,
    /// An IPv6 literal, which patchNet() refuses.
    Ipv6Literal,
    /// No IPv4 address. `supabase_ref`: a Supabase direct host's project; `pooler`: what the
    /// search for its pooler found (None before the search, or without one).
    Ipv6Only {
        supabase_ref: Option<String>,
        ipv6_route: bool,
        pooler: Option<PoolerRemedy>,
    },
    /// No address records at all.
    CheckHostname,
    /// The name does not exist.
    CheckSpelling,
    CheckDns,
    CheckPort,
    CheckFirewall,
    CheckRoute,
    CheckNetwork,
    /// A pooler URL whose user name has no `.<ref>` (shown as the report shows it).
    UserWithoutRef {
        user: String,
    },
    /// A pooler URL whose project no pooler serves.
    ProjectNotFound {
        host: String,
        project: String,
        tried: SearchSummary,
    },
    /// A pooler URL naming the wrong shard or region.
    WrongHost {
        host: String,
        remedy: PoolerRemedy,
    },
}

/// The way to a Supabase project's database once the search is done.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolerRemedy {
    /// No pooler answered: the template, and what was tried.
    NotFound {
        project: String,
        tried: SearchSummary,
    },
    /// One pooler serves the project: the string to paste.
    Found { pooler: String, url: String },
    /// Several answered: the dashboard tells which.
    Several { urls: Vec<String> },
}

/// What a search tried: how many poolers, in which shards and how many regions, how long, and
/// how many answered each way (in the order first seen).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSummary {
    pub asked: usize,
    pub shards: Vec<String>,
    pub regions: usize,
    pub ms: f64,
    pub counts: Vec<(PoolerVerdict, usize)>,
}

impl From<&Search> for SearchSummary {
    fn from(search: &Search) -> Self {
        let mut counts: Vec<(PoolerVerdict, usize)> = Vec::new();
        let mut regions: Vec<&str> = Vec::new();
        for probe in &search.probes {
            match counts.iter_mut().find(|(v, _)| *v == probe.verdict) {
                Some((_, n)) => *n += 1,
                None => counts.push((probe.verdict, 1)),
            }
            if let Some(c) = &probe.candidate {
                if !regions.contains(&c.region.as_str()) {
                    regions.push(&c.region);
                }
            }
        }
        SearchSummary {
            asked: search.probes.len(),
            shards: supabase::SHARDS.iter().map(|s| s.to_string()).collect(),
            regions: regions.len(),
            ms: search.ms,
            counts,
        }
    }
}

/// What the check learned about Supabase's pooler for the target.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolerFinding {
    /// The project ref, from the direct host or from a pooler URL's user name.
    pub project: Option<String>,
    /// The user name sent to a pooler URL's host, as it may be shown: `postgres` and
    /// `<role>.<ref>` as they are, anything else masked.
    pub user: String,
    /// A pooler URL's own host, asked with the URL's user name.
    pub url_probe: Option<PoolerProbe>,
    /// The search among every candidate, when one ran.
    pub search: Option<Search>,
    /// The string to paste, one per pooler that answered for the project.
    pub connection_strings: Vec<String>,
}

/// What the search found: the string to paste, the strings, or nothing.
fn search_remedy(project: &str, search: &Search, urls: &[String]) -> PoolerRemedy {
    match urls {
        [] => PoolerRemedy::NotFound {
            project: project.to_string(),
            tried: search.into(),
        },
        [url] => PoolerRemedy::Found {
            pooler: search
                .serving()
                .next()
                .map_or_else(String::new, |p| p.host.clone()),
            url: url.clone(),
        },
        _ => PoolerRemedy::Several {
            urls: urls.to_vec(),
        },
    }
}

/// The report with the pooler's answers in its verdict and next step (a pooler URL's own answer
/// is in `pooler.url_probe`, for the summary).
pub fn with_pooler(target: &Target, mut report: Report, finding: PoolerFinding) -> Report {
    let urls = &finding.connection_strings;
    match (&finding.url_probe, &finding.search, &finding.project) {
        (Some(probe), search, project) if probe.verdict == PoolerVerdict::TenantNotFound => {
            let host = target.host.clone();
            report.verdict = Verdict::TenantNotFound;
            match (project, search) {
                (None, _) => {
                    report.hint = Hint::UserWithoutRef {
                        user: finding.user.clone(),
                    }
                }
                (Some(project), Some(search)) if urls.is_empty() => {
                    report.hint = Hint::ProjectNotFound {
                        host,
                        project: project.clone(),
                        tried: search.into(),
                    }
                }
                (Some(project), Some(search)) => {
                    report.hint = Hint::WrongHost {
                        host,
                        remedy: search_remedy(project, search, urls),
                    }
                }
                (Some(_), None) => {}
            }
        }
        (None, Some(search), Some(project)) => {
            if let Hint::Ipv6Only { pooler, .. } = &mut report.hint {
                *pooler = Some(search_remedy(project, search, urls));
            }
        }
        _ => {}
    }
    report.pooler = Some(finding);
    report
}

/// The verdict, and the next step that applies.
pub fn judge(
    target: &Target,
    a: Result<Vec<Ipv4Addr>, LookupError>,
    aaaa: Result<Vec<Ipv6Addr>, LookupError>,
    ipv6_route: Ipv6Route,
    tcp4: Tcp4,
    connect_timeout: Duration,
) -> Report {
    let a_list: Vec<String> = a
        .as_ref()
        .map(|v| v.iter().map(|ip| ip.to_string()).collect())
        .unwrap_or_default();
    let aaaa_list: Vec<String> = aaaa
        .as_ref()
        .map(|v| v.iter().map(|ip| ip.to_string()).collect())
        .unwrap_or_default();
    // No AAAA record is an answer, not a failure.
    let aaaa_error = match aaaa {
        Err(e) if e.code != ErrorCode::NoData => Some(e),
        _ => None,
    };

    let (verdict, hint) = match &a {
        Ok(_) if target.ipv6_literal().is_some() => (Verdict::Ipv6Only, Hint::Ipv6Literal),
        Ok(_) if tcp4.ok => (
            Verdict::Reachable,
            Hint::PatchNet {
                ipv6_unreachable: !aaaa_list.is_empty() && !ipv6_route.available,
            },
        ),
        Ok(_) if !tcp4.attempted => (Verdict::Resolves, Hint::GivePort),
        Ok(_) => tcp_failure(&tcp4),
        Err(err) => match err.code {
            ErrorCode::NoData if !aaaa_list.is_empty() => (
                Verdict::Ipv6Only,
                Hint::Ipv6Only {
                    supabase_ref: supabase_project_ref(&target.host).map(str::to_string),
                    ipv6_route: ipv6_route.available,
                    pooler: None,
                },
            ),
            ErrorCode::NoData => (Verdict::NoAddress, Hint::CheckHostname),
            ErrorCode::NotFound => (Verdict::NotFound, Hint::CheckSpelling),
            _ => (Verdict::DnsFailure, Hint::CheckDns),
        },
    };

    Report {
        target: target.display.clone(),
        host: target.host.clone(),
        port: target.port,
        endpoint: target.endpoint(),
        ip_literal: target.is_ip_literal(),
        a: a_list,
        a_error: a.err(),
        aaaa: aaaa_list,
        aaaa_error,
        ipv6_route,
        tcp4,
        connect_timeout,
        verdict,
        hint,
        pooler: None,
    }
}

fn tcp_failure(tcp4: &Tcp4) -> (Verdict, Hint) {
    match tcp4.error.unwrap_or(ConnectFailure::Other) {
        ConnectFailure::Refused => (Verdict::PortClosed, Hint::CheckPort),
        ConnectFailure::TimedOut => (Verdict::PortTimeout, Hint::CheckFirewall),
        ConnectFailure::NetworkUnreachable | ConnectFailure::HostUnreachable => {
            (Verdict::PortUnreachable, Hint::CheckRoute)
        }
        _ => (Verdict::ConnectFailed, Hint::CheckNetwork),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::pooler_probe::Limits;
    use crate::check::pooler_verdict::{Answer, AuthRequest, Outcome, ServerError};
    use crate::check::probes::url_parts;
    use crate::check::target::parse_target;

    fn target(text: &str) -> Target {
        parse_target(text).unwrap()
    }

    fn route(available: bool) -> Ipv6Route {
        Ipv6Route {
            available,
            source: None,
            detail: String::new(),
        }
    }

    fn connected(address: &str) -> Tcp4 {
        Tcp4 {
            attempted: true,
            address: Some(address.parse().unwrap()),
            ok: true,
            ms: Some(0.3),
            error: None,
            skipped: None,
            os_error: None,
        }
    }

    fn refused(address: &str, failure: ConnectFailure) -> Tcp4 {
        Tcp4 {
            ok: false,
            error: Some(failure),
            ..connected(address)
        }
    }

    const T: Duration = Duration::from_millis(1500);

    #[test]
    fn connect_failures_are_named_as_node_names_them() {
        use io::ErrorKind as K;
        for (kind, code) in [
            (K::ConnectionRefused, "ECONNREFUSED"),
            (K::TimedOut, "ETIMEDOUT"),
            (K::NetworkUnreachable, "ENETUNREACH"),
            (K::HostUnreachable, "EHOSTUNREACH"),
            (K::ConnectionReset, "ECONNRESET"),
            (K::AddrNotAvailable, "EADDRNOTAVAIL"),
            (K::PermissionDenied, "EACCES"),
            (K::Other, "UNKNOWN"),
        ] {
            assert_eq!(ConnectFailure::from(&io::Error::from(kind)).code(), code);
        }
    }

    #[test]
    fn reachable_over_ipv4() {
        let reachable = |ipv6_route| {
            judge(
                &target("dual.test:5432"),
                Ok(vec![Ipv4Addr::LOCALHOST]),
                Ok(vec!["2406:da18::1".parse().unwrap()]),
                route(ipv6_route),
                connected("127.0.0.1:5432"),
                T,
            )
        };
        let r = reachable(false);
        assert_eq!(r.verdict, Verdict::Reachable);
        assert!(r.verdict.ok());
        assert_eq!(
            r.hint,
            Hint::PatchNet {
                ipv6_unreachable: true
            }
        );
        assert_eq!(
            (r.a, r.aaaa),
            (vec!["127.0.0.1".into()], vec!["2406:da18::1".into()])
        );
        assert!(!r.ip_literal);
        assert_eq!(r.connect_timeout, T);
        assert_eq!(
            reachable(true).hint,
            Hint::PatchNet {
                ipv6_unreachable: false
            }
        );
    }

    #[test]
    fn supabase_direct_host_gets_the_pooler() {
        let host = "db.abcdefghijkl.supabase.co";
        let r = judge(
            &target(&format!("postgres://postgres:pw@{host}:5432/postgres")),
            Err(LookupError::ipv6_only(host, None)),
            Ok(vec!["2406:da18::5".parse().unwrap()]),
            route(false),
            Tcp4::skipped(Skipped::NoAddress),
            T,
        );
        assert_eq!(r.verdict, Verdict::Ipv6Only);
        assert!(!r.verdict.ok());
        assert_eq!(r.aaaa, vec!["2406:da18::5"]);
        assert_eq!(
            r.hint,
            Hint::Ipv6Only {
                supabase_ref: Some("abcdefghijkl".into()),
                ipv6_route: false,
                pooler: None,
            }
        );
        assert_eq!(r.a_error.map(|e| e.code), Some(ErrorCode::NoData));
        assert_eq!(
            r.target,
            "postgres://****@db.abcdefghijkl.supabase.co:5432/postgres"
        );
    }

    fn pooler(host: &str, verdict: PoolerVerdict) -> PoolerProbe {
        PoolerProbe {
            host: host.into(),
            port: 5432,
            candidate: supabase::pooler_candidate(host),
            address: Some(Ipv4Addr::LOCALHOST),
            tls: Some(false),
            verdict,
            outcome: match verdict {
                PoolerVerdict::Serves => Outcome::Answer(Answer::Auth(AuthRequest::Md5)),
                _ => Outcome::Answer(Answer::Error(ServerError {
                    severity: "FATAL".into(),
                    code: "XX000".into(),
                    message: "Tenant or user not found".into(),
                })),
            },
            ms: 1.0,
        }
    }

    fn search(project: &str, serving: &[&str]) -> Search {
        Search {
            project: project.into(),
            user: supabase::tenant_user(project),
            region: None,
            probes: supabase::candidates(None)
                .iter()
                .map(|c| {
                    let host = c.host();
                    let verdict = if serving.contains(&host.as_str()) {
                        PoolerVerdict::Serves
                    } else {
                        PoolerVerdict::TenantNotFound
                    };
                    pooler(&host, verdict)
                })
                .collect(),
            ms: 25.0,
            limits: Limits::with_timeout(T),
        }
    }

    fn direct_report(host: &str) -> Report {
        judge(
            &target(&format!(
                "postgres://postgres:pw@{host}/app?sslmode=require"
            )),
            Err(LookupError::ipv6_only(host, None)),
            Ok(vec!["2406:da18::5".parse().unwrap()]),
            route(false),
            Tcp4::skipped(Skipped::NoAddress),
            T,
        )
    }

    fn ipv6_only_remedy(r: &Report) -> Option<PoolerRemedy> {
        match &r.hint {
            Hint::Ipv6Only { pooler, .. } => pooler.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_found_pooler_replaces_the_template() {
        let host = "db.abc.supabase.co";
        let t = target(&format!(
            "postgres://postgres:pw@{host}/app?sslmode=require"
        ));
        let pooler_host = "aws-1-eu-west-3.pooler.supabase.com";
        let url = supabase::session_url("abc", pooler_host, &url_parts(&t));
        assert_eq!(
            url,
            "postgres://postgres.abc:[YOUR-PASSWORD]@aws-1-eu-west-3.pooler.supabase.com:5432/app?sslmode=require"
        );
        let finding = PoolerFinding {
            project: Some("abc".into()),
            user: "postgres.abc".into(),
            url_probe: None,
            search: Some(search("abc", &[pooler_host])),
            connection_strings: vec![url.clone()],
        };
        let r = with_pooler(&t, direct_report(host), finding.clone());
        assert_eq!(r.verdict, Verdict::Ipv6Only);
        assert_eq!(
            ipv6_only_remedy(&r),
            Some(PoolerRemedy::Found {
                pooler: pooler_host.into(),
                url: url.clone()
            })
        );
        let several = PoolerFinding {
            connection_strings: vec![url.clone(), "u2".into()],
            ..finding
        };
        assert_eq!(
            ipv6_only_remedy(&with_pooler(&t, direct_report(host), several)),
            Some(PoolerRemedy::Several {
                urls: vec![url, "u2".into()]
            })
        );
    }

    #[test]
    fn no_pooler_found_keeps_the_template_and_says_what_was_tried() {
        let host = "db.abc.supabase.co";
        let t = target(host);
        let finding = PoolerFinding {
            project: Some("abc".into()),
            user: "postgres.abc".into(),
            url_probe: None,
            search: Some(search("abc", &[])),
            connection_strings: vec![],
        };
        let r = with_pooler(&t, direct_report(host), finding);
        assert_eq!(
            ipv6_only_remedy(&r),
            Some(PoolerRemedy::NotFound {
                project: "abc".into(),
                tried: SearchSummary {
                    asked: 34,
                    shards: vec!["aws-0".into(), "aws-1".into()],
                    regions: 17,
                    ms: 25.0,
                    counts: vec![(PoolerVerdict::TenantNotFound, 34)],
                },
            })
        );
    }

    #[test]
    fn search_summary_counts_in_the_order_first_seen() {
        let mut s = search("abc", &["aws-1-eu-west-3.pooler.supabase.com"]);
        s.probes.truncate(3);
        s.probes.push(pooler(
            "aws-1-eu-west-3.pooler.supabase.com",
            PoolerVerdict::Serves,
        ));
        let tried = SearchSummary::from(&s);
        assert_eq!(tried.asked, 4);
        assert_eq!(
            tried.counts,
            vec![
                (PoolerVerdict::TenantNotFound, 3),
                (PoolerVerdict::Serves, 1)
            ]
        );
    }

    #[test]
    fn a_pooler_url_that_does_not_know_the_user() {
        let reachable = |t: &Target| {
            judge(
                t,
                Ok(vec![Ipv4Addr::LOCALHOST]),
                Ok(vec![]),
                route(false),
                connected("127.0.0.1:5432"),
                T,
            )
        };
        let wrong = "aws-0-eu-west-3.pooler.supabase.com";
        // A bare user name: no ref, so no search; the user name is the cause.
        let t = target(&format!("postgres://postgres:pw@{wrong}:5432/postgres"));
        let finding = PoolerFinding {
            project: None,
            user: "postgres".into(),
            url_probe: Some(pooler(wrong, PoolerVerdict::TenantNotFound)),
            search: None,
            connection_strings: vec![],
        };
        let r = with_pooler(&t, reachable(&t), finding);
        assert_eq!(r.verdict, Verdict::TenantNotFound);
        assert!(!r.verdict.ok());
        assert_eq!(
            r.hint,
            Hint::UserWithoutRef {
                user: "postgres".into()
            }
        );
        // The right ref on the wrong shard: the pooler that serves it.
        let right = "aws-1-eu-west-3.pooler.supabase.com";
        let t = target(&format!("postgres://postgres.abc:pw@{wrong}:5432/postgres"));
        let url = supabase::session_url("abc", right, &url_parts(&t));
        let finding = PoolerFinding {
            project: Some("abc".into()),
            user: "postgres.abc".into(),
            url_probe: Some(pooler(wrong, PoolerVerdict::TenantNotFound)),
            search: Some(search("abc", &[right])),
            connection_strings: vec![url.clone()],
        };
        let r = with_pooler(&t, reachable(&t), finding.clone());
        assert_eq!(r.verdict, Verdict::TenantNotFound);
        assert_eq!(
            r.hint,
            Hint::WrongHost {
                host: wrong.into(),
                remedy: PoolerRemedy::Found {
                    pooler: right.into(),
                    url
                }
            }
        );
        // No pooler serves the ref.
        let nowhere = PoolerFinding {
            search: Some(search("abc", &[])),
            connection_strings: vec![],
            ..finding
        };
        let r = with_pooler(&t, reachable(&t), nowhere);
        assert!(
            matches!(&r.hint, Hint::ProjectNotFound { host, project, tried }
                if host == wrong && project == "abc" && tried.asked == 34),
            "{:?}",
            r.hint
        );
        // The right pooler: still reachable, and it knows the user.
        let t = target(&format!("postgres://postgres.abc:pw@{right}:5432/postgres"));
        let finding = PoolerFinding {
            project: Some("abc".into()),
            user: "postgres.abc".into(),
            url_probe: Some(pooler(right, PoolerVerdict::Serves)),
            search: None,
            connection_strings: vec![],
        };
        let r = with_pooler(&t, reachable(&t), finding);
        assert_eq!(r.verdict, Verdict::Reachable);
        assert!(matches!(r.hint, Hint::PatchNet { .. }), "{:?}", r.hint);
        let probe = r.pooler.and_then(|p| p.url_probe).unwrap();
        assert_eq!(probe.verdict, PoolerVerdict::Serves);
    }

    #[test]
    fn other_ipv6_only_hosts_get_generic_advice() {
        let r = judge(
            &target("v6only.test:443"),
            Err(LookupError::ipv6_only("v6only.test", None)),
            Ok(vec!["2406:da18::5".parse().unwrap()]),
            route(true),
            Tcp4::skipped(Skipped::NoAddress),
            T,
        );
        assert_eq!(r.verdict, Verdict::Ipv6Only);
        assert_eq!(
            r.hint,
            Hint::Ipv6Only {
                supabase_ref: None,
                ipv6_route: true,
                pooler: None
            }
        );
    }

    #[test]
    fn an_ipv6_literal_is_refused() {
        let r = judge(
            &target("[::1]:5432"),
            Ok(vec![]),
            Ok(vec![Ipv6Addr::LOCALHOST]),
            route(false),
            Tcp4::skipped(Skipped::NoAddress),
            T,
        );
        assert_eq!((r.verdict, r.hint), (Verdict::Ipv6Only, Hint::Ipv6Literal));
        assert!(r.ip_literal);
        assert_eq!(r.endpoint, "[::1]:5432");
    }

    #[test]
    fn dns_outcomes() {
        let t = target("x.test:1");
        let no_aaaa = || Err(LookupError::new(ErrorCode::NoData, "x.test", ""));
        let judge_a = |a| {
            judge(
                &t,
                a,
                no_aaaa(),
                route(false),
                Tcp4::skipped(Skipped::NoAddress),
                T,
            )
        };
        let nxdomain = LookupError::new(
            ErrorCode::NotFound,
            "x.test",
            "the name does not exist (NXDOMAIN)",
        );
        let r = judge_a(Err(nxdomain.clone()));
        assert_eq!(
            (r.verdict, &r.hint),
            (Verdict::NotFound, &Hint::CheckSpelling)
        );
        assert_eq!(
            r.a_error,
            Some(nxdomain),
            "the lookup's facts, as they came"
        );
        assert_eq!(r.aaaa_error, None, "no AAAA record is not an error");
        let r = judge_a(Err(LookupError::ipv6_only("x.test", None)));
        assert_eq!(
            (r.verdict, r.hint),
            (Verdict::NoAddress, Hint::CheckHostname)
        );
        for code in [
            ErrorCode::Timeout,
            ErrorCode::ServFail,
            ErrorCode::Refused,
            ErrorCode::ConnRefused,
        ] {
            let r = judge_a(Err(LookupError::new(code, "x.test", "d")));
            assert_eq!((r.verdict, r.hint), (Verdict::DnsFailure, Hint::CheckDns));
        }
    }

    #[test]
    fn tcp_outcomes() {
        let t = target("x.test:5432");
        let v = |tcp| {
            let r = judge(
                &t,
                Ok(vec![Ipv4Addr::LOCALHOST]),
                Ok(vec![]),
                route(false),
                tcp,
                T,
            );
            (r.verdict, r.hint)
        };
        for (failure, verdict, hint) in [
            (
                ConnectFailure::Refused,
                Verdict::PortClosed,
                Hint::CheckPort,
            ),
            (
                ConnectFailure::TimedOut,
                Verdict::PortTimeout,
                Hint::CheckFirewall,
            ),
            (
                ConnectFailure::NetworkUnreachable,
                Verdict::PortUnreachable,
                Hint::CheckRoute,
            ),
            (
                ConnectFailure::HostUnreachable,
                Verdict::PortUnreachable,
                Hint::CheckRoute,
            ),
            (
                ConnectFailure::PermissionDenied,
                Verdict::ConnectFailed,
                Hint::CheckNetwork,
            ),
        ] {
            assert_eq!(
                v(refused("127.0.0.1:5432", failure)),
                (verdict, hint),
                "{failure:?}"
            );
        }
        let r = judge(
            &target("x.test"),
            Ok(vec![Ipv4Addr::LOCALHOST]),
            Ok(vec![]),
            route(false),
            Tcp4::skipped(Skipped::NoPort),
            T,
        );
        assert_eq!((r.verdict, r.hint), (Verdict::Resolves, Hint::GivePort));
        assert!(r.verdict.ok());
        assert_eq!(r.tcp4.skipped, Some(Skipped::NoPort));
    }
}
