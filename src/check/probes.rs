//! `ipv4-force check`: the probes (A and AAAA lookups through the library's resolver, an IPv6
//! route test that sends no packet, a TCP connect over IPv4) and the verdict a person reads.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::advice::{self, supabase_project_ref};
use crate::check::pooler_probe::{self, Limits, PoolerProbe, Search, Startup};
use crate::check::pooler_verdict::PoolerVerdict;
use crate::check::supabase::{self, PoolerUser, UrlParts};
use crate::check::target::Target;
use crate::lookup::errors::{ErrorCode, LookupError};
use crate::lookup::resolver::Ipv4Resolver;

pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A global IPv6 address (Google Public DNS): the route *to it* is what is asked, nothing is sent.
pub const IPV6_ROUTE_PROBE: SocketAddrV6 = SocketAddrV6::new(
    Ipv6Addr::new(0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888),
    53,
    0,
    0,
);

/// The verdict of `diagnose()` / `ipv4-force check`; `reachable` and `resolves` are the good ones
/// (the command exits 0). Exported to JS as a string union (binding.d.ts).
#[napi_derive::napi(string_enum = "kebab-case")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// TCP over IPv4 to the port works.
    Reachable,
    /// IPv4 addresses found; no port was given, so TCP was not tested.
    Resolves,
    /// AAAA records (or an IPv6 literal) and no IPv4 address.
    #[napi(value = "ipv6-only")]
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

/// A failed lookup, as shown: a Node dns code and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsProblem {
    pub code: ErrorCode,
    pub message: String,
}

impl From<&LookupError> for DnsProblem {
    fn from(err: &LookupError) -> Self {
        DnsProblem {
            code: err.code,
            message: err.message(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Route {
    pub available: bool,
    /// The source address the kernel picked, when it picked one.
    pub source: Option<Ipv6Addr>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tcp4 {
    pub attempted: bool,
    pub address: Option<SocketAddrV4>,
    pub ok: bool,
    /// Time to connect, or to fail, in milliseconds (0.1 ms precision).
    pub ms: Option<f64>,
    /// ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH...
    pub error: Option<String>,
    /// What happened, in words (also why the test was skipped).
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The target as given, credentials masked.
    pub target: String,
    pub host: String,
    pub port: Option<u16>,
    pub a: Vec<String>,
    pub a_error: Option<DnsProblem>,
    pub aaaa: Vec<String>,
    pub aaaa_error: Option<DnsProblem>,
    pub ipv6_route: Ipv6Route,
    pub tcp4: Tcp4,
    pub verdict: Verdict,
    /// The verdict in one sentence, with what was seen.
    pub summary: String,
    /// What to do next.
    pub hint: String,
    /// Supabase only: which pooler serves the project (a direct host without IPv4, or a pooler
    /// URL).
    pub pooler: Option<PoolerFinding>,
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
        (Ok(_), None) => Tcp4::skipped("not tested: no port given (use host:port or a URL)"),
        _ => Tcp4::skipped("not tested: no IPv4 address to connect to"),
    };
    let report = judge(target, a, aaaa, ipv6_route, tcp4, connect_timeout);
    match pooler_step(target, &report, resolver, connect_timeout, pooler).await {
        Some(finding) => with_pooler(target, report, finding),
        None => report,
    }
}

/// The parts of the user's URL the string to paste keeps.
fn url_parts(target: &Target) -> UrlParts {
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

/// What the search tried, in words.
fn tried(search: &Search) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    let mut regions: Vec<&str> = Vec::new();
    for probe in &search.probes {
        let verdict = probe.verdict.as_str();
        match counts.iter_mut().find(|(v, _)| *v == verdict) {
            Some((_, n)) => *n += 1,
            None => counts.push((verdict, 1)),
        }
        if let Some(c) = &probe.candidate {
            if !regions.contains(&c.region.as_str()) {
                regions.push(&c.region);
            }
        }
    }
    advice::pooler_search_summary(search.probes.len(), regions.len(), search.ms, &counts)
}

/// The remedy once the search is done: the string to paste, the strings, or the template. For a
/// direct host (`direct`), the IPv4 add-on is the other way.
fn search_remedy(project: &str, search: &Search, urls: &[String], direct: bool) -> String {
    let add_on = if direct {
        advice::SUPABASE_IPV4_ADD_ON
    } else {
        ""
    };
    match urls {
        [] => advice::supabase_pooler_not_found(project, &tried(search)),
        [url] => {
            let host = search.serving().next().map_or("", |p| p.host.as_str());
            format!("{}{add_on}", advice::supabase_pooler_found(host, url))
        }
        _ => format!("{}{add_on}", advice::supabase_poolers_found(urls)),
    }
}

/// The report with the pooler's answers in its verdict, summary and next step.
fn with_pooler(target: &Target, mut report: Report, finding: PoolerFinding) -> Report {
    let urls = &finding.connection_strings;
    match (&finding.url_probe, &finding.search, &finding.project) {
        (Some(probe), search, project) if probe.verdict == PoolerVerdict::TenantNotFound => {
            let host = target.host.as_str();
            report.verdict = Verdict::TenantNotFound;
            report.summary = format!(
                "{} accepts connections over IPv4, but the pooler answers the user name {} with \"{}\"",
                target.endpoint(),
                finding.user,
                probe.detail
            );
            report.hint = match (project, search) {
                (None, _) => advice::pooler_user_without_ref(&format!("\"{}\"", finding.user)),
                (Some(project), Some(search)) if urls.is_empty() => {
                    advice::pooler_project_not_found(host, project, &tried(search))
                }
                (Some(project), Some(search)) => {
                    advice::pooler_wrong_host(host, &search_remedy(project, search, urls, false))
                }
                (Some(_), None) => report.hint,
            };
        }
        (Some(probe), _, _) if probe.verdict == PoolerVerdict::Serves => {
            report.summary = format!(
                "{}; the pooler knows the user name {}: it {}",
                report.summary, finding.user, probe.detail
            );
        }
        (Some(probe), _, _) => {
            report.summary = format!(
                "{}; its answer to a PostgreSQL startup message for the user name {}: {} ({})",
                report.summary,
                finding.user,
                probe.verdict.as_str(),
                probe.detail
            );
        }
        (None, Some(search), Some(project)) => {
            let remedy = search_remedy(project, search, urls, true);
            report.hint = ipv6_only_hint(&target.host, report.ipv6_route.available, Some(remedy));
        }
        _ => {}
    }
    report.pooler = Some(finding);
    report
}

impl Tcp4 {
    fn skipped(why: &str) -> Self {
        Tcp4 {
            attempted: false,
            address: None,
            ok: false,
            ms: None,
            error: None,
            message: why.to_string(),
        }
    }
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
        return no(None, format!("{}: no route to {}", io_code(&e), dest.ip()));
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
    let failed = |code: String, message: String| Tcp4 {
        attempted: true,
        address: Some(address),
        ok: false,
        ms,
        error: Some(code),
        message,
    };
    match outcome {
        Ok(Ok(_stream)) => Tcp4 {
            attempted: true,
            address: Some(address),
            ok: true,
            ms,
            error: None,
            message: format!("connected to {address}"),
        },
        Ok(Err(e)) => failed(
            io_code(&e).to_string(),
            format!("connect {} {address}: {e}", io_code(&e)),
        ),
        Err(_) => failed(
            "ETIMEDOUT".into(),
            format!(
                "connect ETIMEDOUT {address}: no answer within {} ms",
                timeout.as_millis()
            ),
        ),
    }
}

/// The errno name Node would show for a connect error.
fn io_code(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "ECONNREFUSED",
        io::ErrorKind::TimedOut => "ETIMEDOUT",
        io::ErrorKind::NetworkUnreachable => "ENETUNREACH",
        io::ErrorKind::HostUnreachable => "EHOSTUNREACH",
        io::ErrorKind::ConnectionReset => "ECONNRESET",
        io::ErrorKind::AddrNotAvailable => "EADDRNOTAVAIL",
        io::ErrorKind::PermissionDenied => "EACCES",
        _ => "UNKNOWN",
    }
}

/// The verdict, the sentence that states it, and the next step.
fn judge(
    target: &Target,
    a: Result<Vec<Ipv4Addr>, LookupError>,
    aaaa: Result<Vec<Ipv6Addr>, LookupError>,
    ipv6_route: Ipv6Route,
    tcp4: Tcp4,
    connect_timeout: Duration,
) -> Report {
    let host = target.host.as_str();
    let a_list: Vec<String> = a
        .as_ref()
        .map(|v| v.iter().map(|ip| ip.to_string()).collect())
        .unwrap_or_default();
    let aaaa_list: Vec<String> = aaaa
        .as_ref()
        .map(|v| v.iter().map(|ip| ip.to_string()).collect())
        .unwrap_or_default();
    // No AAAA record is an answer, not a failure.
    let aaaa_error = match &aaaa {
        Err(e) if e.code != ErrorCode::NoData => Some(DnsProblem::from(e)),
        _ => None,
    };
    let no_route = if ipv6_route.available {
        ""
    } else {
        ", and this machine has no IPv6 route"
    };

    let (verdict, summary, hint) = match &a {
        Ok(_) if target.ipv6_literal().is_some() => (
            Verdict::Ipv6Only,
            format!("{host} is an IPv6 address, and ipv4-force connects over IPv4 only{no_route}"),
            format!("patchNet() refuses IPv6 literals (EAFNOSUPPORT). {}", advice::IPV6_LITERAL_REMEDY),
        ),
        Ok(addresses) if tcp4.ok => {
            let address = addresses[0];
            let mut hint = "patchNet() (or `node -r ipv4-force/register app.js`) will make the app \
                            connect to it over IPv4, as this check did."
                .to_string();
            if !aaaa_list.is_empty() && !ipv6_route.available {
                hint.push_str(&format!(
                    " Without it, Node may pick {host}'s IPv6 address, which this machine cannot \
                     reach (ENETUNREACH)."
                ));
            }
            let ms = tcp4.ms.unwrap_or_default();
            (
                Verdict::Reachable,
                format!("{} accepts TCP connections over IPv4 ({address}, {ms} ms)", target.endpoint()),
                hint,
            )
        }
        Ok(addresses) if !tcp4.attempted => (
            Verdict::Resolves,
            format!(
                "{host} resolves to {} over IPv4; no port given, so no connection was tried",
                listed(addresses)
            ),
            "patchNet() will make the app connect to it over IPv4. Give a port (host:port, or a \
             URL) to test a TCP connection too."
                .to_string(),
        ),
        Ok(_) => tcp_failure(target, &tcp4, connect_timeout),
        Err(err) => match err.code {
            ErrorCode::NoData if !aaaa_list.is_empty() => (
                Verdict::Ipv6Only,
                format!(
                    "{host} is IPv6-only: it has AAAA records ({}) but no A record{no_route}",
                    aaaa_list[0]
                ),
                ipv6_only_hint(host, ipv6_route.available, None),
            ),
            ErrorCode::NoData => (
                Verdict::NoAddress,
                format!("{host} exists but has no address records (neither A nor AAAA)"),
                "Check the hostname: the record may not exist yet, or the name only carries other \
                 records (CNAME to nowhere, MX, TXT)."
                    .to_string(),
            ),
            ErrorCode::NotFound => (
                Verdict::NotFound,
                format!("{host} was not found: {}", err.message()),
                "Check the hostname for typos. If it should exist, the DNS server in use may not \
                 know it: compare with another resolver (--dns 1.1.1.1)."
                    .to_string(),
            ),
            _ => (
                Verdict::DnsFailure,
                format!("the DNS lookup of {host} failed: {}", err.message()),
                "Check the DNS configuration (/etc/resolv.conf, or the --dns server) and try again; \
                 compare with another resolver (--dns 1.1.1.1)."
                    .to_string(),
            ),
        },
    };

    Report {
        target: target.display.clone(),
        host: target.host.clone(),
        port: target.port,
        a: a_list,
        a_error: a.as_ref().err().map(DnsProblem::from),
        aaaa: aaaa_list,
        aaaa_error,
        ipv6_route,
        tcp4,
        verdict,
        summary,
        hint,
        pooler: None,
    }
}

/// Up to three addresses, then how many more.
fn listed(addresses: &[Ipv4Addr]) -> String {
    let shown: Vec<String> = addresses.iter().take(3).map(|ip| ip.to_string()).collect();
    match addresses.len() {
        n if n > 3 => format!("{} and {} more", shown.join(", "), n - 3),
        _ => shown.join(", "),
    }
}

fn tcp_failure(
    target: &Target,
    tcp4: &Tcp4,
    connect_timeout: Duration,
) -> (Verdict, String, String) {
    let endpoint = tcp4
        .address
        .map(|a| a.to_string())
        .unwrap_or_else(|| target.endpoint());
    let code = tcp4.error.as_deref().unwrap_or("UNKNOWN");
    let host = &target.host;
    match code {
        "ECONNREFUSED" => (
            Verdict::PortClosed,
            if target.is_ip_literal() {
                format!("nothing accepts connections on {endpoint} over IPv4 (ECONNREFUSED)")
            } else {
                format!(
                    "{host} resolves to {}, but nothing accepts connections on port {} over IPv4 \
                     (ECONNREFUSED)",
                    tcp4.address.map(|a| a.ip().to_string()).unwrap_or_default(),
                    target.port.unwrap_or_default()
                )
            },
            "Check the port, that the service is running, and that it listens on IPv4 (0.0.0.0), \
             not only on IPv6 or on another interface."
                .to_string(),
        ),
        "ETIMEDOUT" => (
            Verdict::PortTimeout,
            format!(
                "{endpoint} did not answer within {} ms over IPv4 (timed out: filtered by a firewall, or the host is down)",
                connect_timeout.as_millis()
            ),
            "Check firewalls, security groups and IP allow-lists for this machine's IPv4 address; \
             try a longer --timeout."
                .to_string(),
        ),
        "ENETUNREACH" | "EHOSTUNREACH" => (
            Verdict::PortUnreachable,
            format!("{endpoint} is unreachable over IPv4 from this machine ({code})"),
            "This machine has no IPv4 route to that address: check the network (a private address \
             outside this network, a VPN that is down, or a machine without IPv4)."
                .to_string(),
        ),
        _ => (
            Verdict::ConnectFailed,
            format!("connecting to {endpoint} over IPv4 failed: {}", tcp4.message),
            "Check the network and the service, then run the check again.".to_string(),
        ),
    }
}

/// `supabase`: what to do for a Supabase direct host, once the pooler search has run (the
/// template before).
fn ipv6_only_hint(host: &str, ipv6_route: bool, supabase: Option<String>) -> String {
    let remedy = match supabase_project_ref(host) {
        Some(project) => format!(
            "This is a Supabase direct host, served over IPv6 only: {}.",
            supabase.unwrap_or_else(|| advice::supabase_pooler(project))
        ),
        None => "Forcing IPv4 cannot help: there is no IPv4 address to connect to. Use an IPv4 \
                 endpoint of this service (ask the provider for one, or put an IPv4 proxy in front of it)."
            .to_string(),
    };
    let where_ = if ipv6_route {
        " This machine has an IPv6 route, so connecting over IPv6 may work from here (leave this \
         host out of patchNet({ hosts })), but not from a deploy without IPv6."
    } else {
        " Alternatively, run the app on a network with working IPv6."
    };
    format!("{remedy}{where_}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::target::parse_target;
    use crate::lookup::resolver::ResolverSettings;

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
            message: String::new(),
        }
    }

    fn refused(address: &str, code: &str) -> Tcp4 {
        Tcp4 {
            ok: false,
            error: Some(code.to_string()),
            ..connected(address)
        }
    }

    const T: Duration = Duration::from_millis(1500);

    #[test]
    fn reachable_over_ipv4() {
        let r = judge(
            &target("dual.test:5432"),
            Ok(vec![Ipv4Addr::LOCALHOST]),
            Ok(vec!["2406:da18::1".parse().unwrap()]),
            route(false),
            connected("127.0.0.1:5432"),
            T,
        );
        assert_eq!(r.verdict, Verdict::Reachable);
        assert!(r.verdict.ok());
        assert!(
            r.summary
                .contains("dual.test:5432 accepts TCP connections over IPv4 (127.0.0.1, 0.3 ms)"),
            "{}",
            r.summary
        );
        assert!(
            r.hint.contains("patchNet()") && r.hint.contains("ENETUNREACH"),
            "{}",
            r.hint
        );
        assert_eq!(r.aaaa, vec!["2406:da18::1"]);
    }

    #[test]
    fn supabase_direct_host_gets_the_pooler() {
        let host = "db.abcdefghijkl.supabase.co";
        let r = judge(
            &target(&format!("postgres://postgres:pw@{host}:5432/postgres")),
            Err(LookupError::ipv6_only(host, None)),
            Ok(vec!["2406:da18::5".parse().unwrap()]),
            route(false),
            Tcp4::skipped("x"),
            T,
        );
        assert_eq!(r.verdict, Verdict::Ipv6Only);
        assert!(!r.verdict.ok());
        assert!(
            r.summary.contains("IPv6-only") && r.summary.contains("2406:da18::5"),
            "{}",
            r.summary
        );
        assert!(r.summary.contains("no IPv6 route"), "{}", r.summary);
        assert!(
            r.hint.contains("postgres://postgres.abcdefghijkl:[YOUR-PASSWORD]@aws-0-[REGION].pooler.supabase.com:5432/postgres"),
            "{}",
            r.hint
        );
        assert!(r.hint.contains("6543"), "{}", r.hint);
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
            detail: match verdict {
                PoolerVerdict::Serves => "asks for a password (MD5)".into(),
                _ => "FATAL XX000: Tenant or user not found".into(),
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
            Tcp4::skipped("x"),
            T,
        )
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
        let r = with_pooler(&t, direct_report(host), finding);
        assert_eq!(r.verdict, Verdict::Ipv6Only);
        assert!(
            r.hint.contains(&url) && r.hint.contains("6543"),
            "{}",
            r.hint
        );
        assert!(
            r.hint.contains("IPv4 add-on") && !r.hint.contains("[REGION]"),
            "{}",
            r.hint
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
        assert!(r.hint.contains("aws-0-[REGION]"), "{}", r.hint);
        assert!(
            r.hint.contains(
                "34 poolers asked (aws-0, aws-1 in 17 regions) in 25 ms: 34 tenant-not-found"
            ),
            "{}",
            r.hint
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
        assert!(r.hint.contains("without the project ref"), "{}", r.hint);
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
        let r = with_pooler(&t, reachable(&t), finding);
        assert_eq!(r.verdict, Verdict::TenantNotFound);
        assert!(
            r.hint
                .starts_with(&format!("{wrong} does not serve this project"))
                && r.hint.contains(&url),
            "{}",
            r.hint
        );
        assert!(!r.hint.contains("IPv4 add-on"), "{}", r.hint);
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
        assert!(
            r.summary.contains("knows the user name postgres.abc"),
            "{}",
            r.summary
        );
    }

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
    fn other_ipv6_only_hosts_get_generic_advice() {
        let r = judge(
            &target("v6only.test:443"),
            Err(LookupError::ipv6_only("v6only.test", None)),
            Ok(vec!["2406:da18::5".parse().unwrap()]),
            route(true),
            Tcp4::skipped("x"),
            T,
        );
        assert_eq!(r.verdict, Verdict::Ipv6Only);
        assert!(
            r.hint.contains("IPv4 endpoint") && r.hint.contains("has an IPv6 route"),
            "{}",
            r.hint
        );
        assert!(!r.summary.contains("no IPv6 route"));
    }

    #[test]
    fn dns_outcomes() {
        let t = target("x.test:1");
        let no_aaaa = || Err(LookupError::new(ErrorCode::NoData, "x.test", ""));
        let judge_a = |a| judge(&t, a, no_aaaa(), route(false), Tcp4::skipped("x"), T);
        let r = judge_a(Err(LookupError::new(
            ErrorCode::NotFound,
            "x.test",
            "the name does not exist (NXDOMAIN)",
        )));
        assert_eq!(r.verdict, Verdict::NotFound);
        assert!(r.summary.contains("NXDOMAIN"), "{}", r.summary);
        assert_eq!(r.a_error.as_ref().unwrap().code, ErrorCode::NotFound);
        assert_eq!(r.aaaa_error, None, "no AAAA record is not an error");
        assert_eq!(
            judge_a(Err(LookupError::ipv6_only("x.test", None))).verdict,
            Verdict::NoAddress
        );
        for code in [
            ErrorCode::Timeout,
            ErrorCode::ServFail,
            ErrorCode::Refused,
            ErrorCode::ConnRefused,
        ] {
            assert_eq!(
                judge_a(Err(LookupError::new(code, "x.test", "d"))).verdict,
                Verdict::DnsFailure
            );
        }
    }

    #[test]
    fn tcp_outcomes() {
        let t = target("x.test:5432");
        let v = |tcp| {
            judge(
                &t,
                Ok(vec![Ipv4Addr::LOCALHOST]),
                Ok(vec![]),
                route(false),
                tcp,
                T,
            )
            .verdict
        };
        for (code, verdict) in [
            ("ECONNREFUSED", Verdict::PortClosed),
            ("ETIMEDOUT", Verdict::PortTimeout),
            ("ENETUNREACH", Verdict::PortUnreachable),
            ("EHOSTUNREACH", Verdict::PortUnreachable),
            ("EACCES", Verdict::ConnectFailed),
        ] {
            assert_eq!(v(refused("127.0.0.1:5432", code)), verdict, "{code}");
        }
        let r = judge(
            &target("x.test"),
            Ok(vec![Ipv4Addr::LOCALHOST]),
            Ok(vec![]),
            route(false),
            Tcp4::skipped("no port"),
            T,
        );
        assert_eq!(r.verdict, Verdict::Resolves);
        assert!(r.verdict.ok());
        assert!(
            r.summary
                .starts_with("x.test resolves to 127.0.0.1 over IPv4"),
            "{}",
            r.summary
        );
        let many: Vec<Ipv4Addr> = (1..=5).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect();
        assert_eq!(listed(&many), "10.0.0.1, 10.0.0.2, 10.0.0.3 and 2 more");
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
        assert_eq!(tcp.error.as_deref(), Some("ECONNREFUSED"));
        assert!(tcp.message.contains("ECONNREFUSED"), "{}", tcp.message);
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
            if tcp.error.as_deref() == Some("ETIMEDOUT") {
                timed_out = Some(tcp);
                break;
            }
            fillers.push(tcp);
        }
        let tcp = timed_out.expect("a full backlog should make a connect time out");
        assert!(tcp.message.contains("within 300 ms"), "{}", tcp.message);
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
        assert!(r.hint.contains("allowIPv6Literals"), "{}", r.hint);

        let r = diagnose(&target("127.0.0.1"), &resolver, T, PoolerSteps::default()).await;
        assert_eq!(r.verdict, Verdict::Resolves);
        assert!(r.tcp4.message.contains("no port"), "{}", r.tcp4.message);
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
