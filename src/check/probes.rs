//! `ipv4-force check`: the probes (A and AAAA lookups through the library's resolver, an IPv6
//! route test that sends no packet, a TCP connect over IPv4) and their verdict.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::check::pooler_probe::{self, Limits, Search, Startup};
use crate::check::pooler_verdict::PoolerVerdict;
use crate::check::supabase::supabase_project_ref;
use crate::check::supabase::{self, PoolerUser, UrlParts};
use crate::check::target::Target;
use crate::check::verdict::{
    judge, with_pooler, ConnectFailure, Ipv6Route, PoolerFinding, Report, Skipped, Tcp4, Verdict,
};
use crate::lookup::resolver::Ipv4Resolver;

pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A global IPv6 address (Google Public DNS): the route *to it* is what is asked, nothing is sent.
pub const IPV6_ROUTE_PROBE: SocketAddrV6 = SocketAddrV6::new(
    Ipv6Addr::new(0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888),
    53,
    0,
    0,
);

/// Runs every probe for `target` and judges the result. `region` narrows a Supabase pooler
/// search (a region of `supabase::REGIONS`).
pub async fn diagnose(
    target: &Target,
    resolver: &Ipv4Resolver,
    connect_timeout: Duration,
    pooler: PoolerSteps<'_>,
) -> Report {
    let literal_v6 = target.ipv6_literal();
    let (a, aaaa) = if let Some(ip) = literal_v6 {
        (Ok(vec![]), Ok(vec![ip]))
    } else if target.is_ip_literal() {
        (
            resolver.resolve(&target.host).await.map(|r| r.addresses),
            Ok(vec![]),
        )
    } else {
        let (a, aaaa) = tokio::join!(
            resolver.resolve(&target.host),
            resolver.resolve_ipv6(&target.host)
        );
        (a.map(|r| r.addresses), aaaa)
    };
    let ipv6_route = ipv6_route_to(IPV6_ROUTE_PROBE);
    let tcp4 = match (&a, target.port) {
        (Ok(addresses), Some(port)) if !addresses.is_empty() => {
            connect_v4(SocketAddrV4::new(addresses[0], port), connect_timeout).await
        }
        (Ok(_), None) => Tcp4::skipped(Skipped::NoPort),
        _ => Tcp4::skipped(Skipped::NoAddress),
    };
    let report = judge(target, a, aaaa, ipv6_route, tcp4, connect_timeout);
    match pooler_step(target, &report, resolver, connect_timeout, pooler).await {
        Some(finding) => with_pooler(target, report, finding),
        None => report,
    }
}

/// The parts of the user's URL the string to paste keeps.
pub fn url_parts(target: &Target) -> UrlParts {
    let default = UrlParts::default();
    UrlParts {
        scheme: target.scheme.clone().unwrap_or(default.scheme),
        database: target.path.clone().unwrap_or(default.database),
        query: target.query.clone(),
    }
}

/// A user name as the report may show it.
fn shown_user(user: &str) -> String {
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
    };
    let safe = match supabase::pooler_user(user) {
        PoolerUser::Tenant { role, project } => plain(role) && plain(project),
        PoolerUser::Bare(name) => name == supabase::DEFAULT_ROLE,
    };
    if safe {
        user.to_string()
    } else {
        crate::check::target::MASK.to_string()
    }
}

/// Which Supabase pooler probes `diagnose` may make.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolerSteps<'a> {
    /// Search this region only (`--region`).
    pub region: Option<&'a str>,
    /// Also probe a pooler URL that accepts TCP (the check does; a start-up preflight only
    /// searches for the pooler of a direct host without IPv4, and probes nothing healthy).
    pub probe_pooler_urls: bool,
}

/// The pooler probes a Supabase target calls for: a direct host without IPv4 → the search for
/// its project's pooler; a pooler URL that accepts TCP → a startup message with the URL's user
/// name, and the search when the pooler does not know the tenant.
async fn pooler_step(
    target: &Target,
    report: &Report,
    resolver: &Ipv4Resolver,
    connect_timeout: Duration,
    steps: PoolerSteps<'_>,
) -> Option<PoolerFinding> {
    let region = steps.region;
    if !matches!(
        target.scheme.as_deref(),
        None | Some("postgres") | Some("postgresql")
    ) {
        return None;
    }
    let limits = Limits::with_timeout(connect_timeout);
    let parts = url_parts(target);
    let found = |project: &str, search: &Search| -> Vec<String> {
        search
            .serving()
            .map(|p| supabase::session_url(project, &p.host, &parts))
            .collect()
    };
    if let Some(project) = supabase_project_ref(&target.host) {
        if report.verdict != Verdict::Ipv6Only {
            return None;
        }
        let project = project.to_ascii_lowercase();
        let search =
            pooler_probe::find_pooler(&project, region, &parts.database, resolver, limits).await;
        return Some(PoolerFinding {
            connection_strings: found(&project, &search),
            user: search.user.clone(),
            project: Some(project),
            url_probe: None,
            search: Some(search),
        });
    }
    supabase::pooler_candidate(&target.host)?;
    if report.verdict != Verdict::Reachable || !steps.probe_pooler_urls {
        return None;
    }
    let user = target
        .user
        .clone()
        .unwrap_or_else(|| supabase::DEFAULT_ROLE.to_string());
    let startup = Startup {
        user: user.clone(),
        database: parts.database.clone(),
    };
    let probe = pooler_probe::probe(
        &target.host,
        target.port?,
        &startup,
        resolver,
        limits.per_probe,
    )
    .await;
    let project = match supabase::pooler_user(&user) {
        PoolerUser::Tenant { project, .. } => Some(project.to_ascii_lowercase()),
        PoolerUser::Bare(_) => None,
    };
    let search = match (&project, probe.verdict) {
        (Some(project), PoolerVerdict::TenantNotFound) => Some(
            pooler_probe::find_pooler(project, region, &parts.database, resolver, limits).await,
        ),
        _ => None,
    };
    Some(PoolerFinding {
        connection_strings: match (&project, &search) {
            (Some(project), Some(search)) => found(project, search),
            _ => vec![],
        },
        user: shown_user(&user),
        project,
        url_probe: Some(probe),
        search,
    })
}

/// Whether this machine has a usable IPv6 route to `dest`. A UDP connect() only asks the kernel
/// for a route and a source address: no packet leaves the machine.
pub fn ipv6_route_to(dest: SocketAddrV6) -> Ipv6Route {
    let no = |source, detail: String| Ipv6Route {
        available: false,
        source,
        detail,
    };
    let socket = match Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)) {
        Ok(socket) => socket,
        Err(e) => {
            return no(
                None,
                format!("IPv6 is disabled on this machine (no IPv6 socket: {e})"),
            )
        }
    };
    if let Err(e) = socket.connect(&SockAddr::from(dest)) {
        let code = ConnectFailure::from(&e).code();
        return no(None, format!("{code}: no route to {}", dest.ip()));
    }
    let source = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket_ipv6())
        .map(|a| *a.ip());
    match source {
        Some(ip) => match unusable_source(&ip) {
            Some(kind) => no(Some(ip), format!("only a {kind} source address ({ip})")),
            None => Ipv6Route {
                available: true,
                source: Some(ip),
                detail: format!("route to {} with source address {ip}", dest.ip()),
            },
        },
        None => no(None, "the kernel gave no IPv6 source address".to_string()),
    }
}

/// Source addresses that cannot carry traffic to a global destination.
fn unusable_source(ip: &Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unicast_link_local() {
        Some("link-local")
    } else {
        None
    }
}

/// A TCP connect over IPv4, bounded by `timeout`; the connection is closed at once.
pub async fn connect_v4(address: SocketAddrV4, timeout: Duration) -> Tcp4 {
    let start = Instant::now();
    let outcome = tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect(SocketAddr::V4(address)),
    )
    .await;
    let ms = Some((start.elapsed().as_secs_f64() * 10_000.0).round() / 10.0);
    let failed = |code: ConnectFailure, os_error: Option<String>| Tcp4 {
        attempted: true,
        address: Some(address),
        ok: false,
        ms,
        error: Some(code),
        skipped: None,
        os_error,
    };
    match outcome {
        Ok(Ok(_stream)) => Tcp4 {
            attempted: true,
            address: Some(address),
            ok: true,
            ms,
            error: None,
            skipped: None,
            os_error: None,
        },
        Ok(Err(e)) => failed(ConnectFailure::from(&e), Some(e.to_string())),
        Err(_) => failed(ConnectFailure::TimedOut, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::target::parse_target;
    use crate::check::verdict::Hint;
    use crate::lookup::resolver::ResolverSettings;
    use std::net::Ipv4Addr;

    fn target(text: &str) -> Target {
        parse_target(text).unwrap()
    }

    const T: Duration = Duration::from_millis(1500);

    #[test]
    fn user_names_shown_only_when_plain() {
        for (user, shown) in [
            ("postgres", "postgres"),
            ("postgres.abc123", "postgres.abc123"),
            ("app_rw.abc123", "app_rw.abc123"),
            ("ghp_token", "****"),
            ("a b.abc", "****"),
            ("", "****"),
        ] {
            assert_eq!(shown_user(user), shown, "{user:?}");
        }
    }

    #[test]
    fn source_addresses_that_cannot_reach_the_internet() {
        assert_eq!(unusable_source(&Ipv6Addr::LOCALHOST), Some("loopback"));
        assert_eq!(unusable_source(&Ipv6Addr::UNSPECIFIED), Some("unspecified"));
        assert_eq!(
            unusable_source(&"fe80::1".parse().unwrap()),
            Some("link-local")
        );
        assert_eq!(unusable_source(&"2a01:4f8::1".parse().unwrap()), None);
    }

    #[test]
    fn route_probe_sends_nothing_and_answers() {
        // To ::1 the kernel always has a route (when IPv6 is enabled), with a loopback source.
        let r = ipv6_route_to(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 9, 0, 0));
        assert!(!r.available);
        if let Some(source) = r.source {
            assert_eq!(source, Ipv6Addr::LOCALHOST);
            assert!(r.detail.contains("loopback"), "{}", r.detail);
        }
        // The machine's own answer for the global probe is whatever it is; it must not panic.
        let _ = ipv6_route_to(IPV6_ROUTE_PROBE);
    }

    #[tokio::test]
    async fn connect_to_a_listening_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let SocketAddr::V4(address) = listener.local_addr().unwrap() else {
            unreachable!()
        };
        let tcp = connect_v4(address, T).await;
        assert!(tcp.ok, "{tcp:?}");
        assert_eq!(tcp.error, None);
        assert!(tcp.ms.unwrap() >= 0.0);
    }

    #[tokio::test]
    async fn connect_to_a_closed_port() {
        let address = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let SocketAddr::V4(address) = listener.local_addr().unwrap() else {
                unreachable!()
            };
            address
        };
        let tcp = connect_v4(address, T).await;
        assert!(!tcp.ok);
        assert_eq!(tcp.error, Some(ConnectFailure::Refused));
        assert!(tcp.os_error.is_some(), "{tcp:?}");
    }

    #[tokio::test]
    async fn connect_timeout_when_the_backlog_is_full() {
        // A listener that never accepts, with its queue full: the kernel drops further SYNs, so
        // the connect times out, as against a filtered port (all on loopback).
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket
            .bind(&SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        socket.listen(0).unwrap();
        let address = socket.local_addr().unwrap().as_socket_ipv4().unwrap();
        let mut fillers = Vec::new();
        let mut timed_out = None;
        for _ in 0..8 {
            let tcp = connect_v4(address, Duration::from_millis(300)).await;
            if tcp.error == Some(ConnectFailure::TimedOut) {
                timed_out = Some(tcp);
                break;
            }
            fillers.push(tcp);
        }
        let tcp = timed_out.expect("a full backlog should make a connect time out");
        assert_eq!(tcp.os_error, None, "the check's own limit ran out");
        assert!(tcp.ms.unwrap() >= 290.0, "{tcp:?}");
    }

    #[tokio::test]
    async fn literal_targets_need_no_dns() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // No nameserver is reachable through these settings: a query would fail the test.
        let resolver = Ipv4Resolver::new(ResolverSettings {
            nameservers: Some(vec!["127.0.0.1:9".parse().unwrap()]),
            timeout: Some(Duration::from_millis(50)),
            attempts: Some(1),
            fallback: false,
        });
        let r = diagnose(
            &target(&format!("127.0.0.1:{port}")),
            &resolver,
            T,
            PoolerSteps::default(),
        )
        .await;
        assert_eq!(r.verdict, Verdict::Reachable, "{r:?}");
        assert_eq!(r.a, vec!["127.0.0.1"]);
        assert!(r.aaaa.is_empty() && r.aaaa_error.is_none());

        let r = diagnose(&target("[::1]:5432"), &resolver, T, PoolerSteps::default()).await;
        assert_eq!(r.verdict, Verdict::Ipv6Only);
        assert_eq!(r.aaaa, vec!["::1"]);
        assert!(!r.tcp4.attempted);
        assert_eq!(r.hint, Hint::Ipv6Literal);

        let r = diagnose(&target("127.0.0.1"), &resolver, T, PoolerSteps::default()).await;
        assert_eq!(r.verdict, Verdict::Resolves);
        assert_eq!(r.tcp4.skipped, Some(Skipped::NoPort));
    }

    #[tokio::test]
    async fn unreachable_dns_server_is_a_dns_failure() {
        let resolver = Ipv4Resolver::new(ResolverSettings {
            nameservers: Some(vec!["127.0.0.1:9".parse().unwrap()]),
            timeout: Some(Duration::from_millis(200)),
            attempts: Some(1),
            fallback: false,
        });
        let r = diagnose(&target("x.test:5432"), &resolver, T, PoolerSteps::default()).await;
        assert_eq!(r.verdict, Verdict::DnsFailure, "{r:?}");
        assert!(!r.tcp4.attempted);
    }
}
