//! The check's facts as JS sees them: napi types converted from the core's (`check::verdict`,
//! `check::pooler_verdict`, `check::pooler_probe`) with `From`. They carry codes and facts only;
//! lib/check-words.js words them into the report a person reads.

use napi_derive::napi;

use super::lookups::LookupFailure;
use crate::check::pooler_probe::{PoolerProbe, Search};
use crate::check::pooler_verdict::{self, Answer, AuthRequest, Outcome};
use crate::check::verdict::{self, PoolerFinding, Report};

/// The verdict of `diagnose()` / `ipv4-force check`, as JS sees it; `reachable` and `resolves` are
/// the good ones. What each means: `check::verdict::Verdict`.
#[napi(string_enum = "kebab-case")]
pub enum Verdict {
    Reachable,
    Resolves,
    #[napi(value = "ipv6-only")]
    Ipv6Only,
    NoAddress,
    NotFound,
    DnsFailure,
    PortClosed,
    PortTimeout,
    PortUnreachable,
    ConnectFailed,
    TenantNotFound,
}

impl From<verdict::Verdict> for Verdict {
    fn from(v: verdict::Verdict) -> Self {
        use verdict::Verdict as V;
        match v {
            V::Reachable => Verdict::Reachable,
            V::Resolves => Verdict::Resolves,
            V::Ipv6Only => Verdict::Ipv6Only,
            V::NoAddress => Verdict::NoAddress,
            V::NotFound => Verdict::NotFound,
            V::DnsFailure => Verdict::DnsFailure,
            V::PortClosed => Verdict::PortClosed,
            V::PortTimeout => Verdict::PortTimeout,
            V::PortUnreachable => Verdict::PortUnreachable,
            V::ConnectFailed => Verdict::ConnectFailed,
            V::TenantNotFound => Verdict::TenantNotFound,
        }
    }
}

/// A pooler candidate's verdict, as JS sees it. What each means:
/// `check::pooler_verdict::PoolerVerdict`.
#[napi(string_enum = "kebab-case")]
pub enum PoolerVerdict {
    Serves,
    TenantNotFound,
    Error,
    Unexpected,
    NoAddress,
    DnsFailure,
    ConnectFailed,
    TlsFailed,
    Timeout,
    NotTried,
}

impl From<pooler_verdict::PoolerVerdict> for PoolerVerdict {
    fn from(v: pooler_verdict::PoolerVerdict) -> Self {
        use pooler_verdict::PoolerVerdict as V;
        match v {
            V::Serves => PoolerVerdict::Serves,
            V::TenantNotFound => PoolerVerdict::TenantNotFound,
            V::Error => PoolerVerdict::Error,
            V::Unexpected => PoolerVerdict::Unexpected,
            V::NoAddress => PoolerVerdict::NoAddress,
            V::DnsFailure => PoolerVerdict::DnsFailure,
            V::ConnectFailed => PoolerVerdict::ConnectFailed,
            V::TlsFailed => PoolerVerdict::TlsFailed,
            V::Timeout => PoolerVerdict::Timeout,
            V::NotTried => PoolerVerdict::NotTried,
        }
    }
}

/// One pooler host asked with a PostgreSQL startup message (never a password), as facts
/// (index.d.ts `PoolerCandidate` once worded).
#[napi(object, use_nullable = true)]
pub struct CheckPoolerProbe {
    /// `aws-1-eu-west-1.pooler.supabase.com`.
    pub host: String,
    pub port: u32,
    /// `aws-0`, `aws-1`… (null for a host that is not named that way).
    pub shard: Option<String>,
    pub region: Option<String>,
    /// The IPv4 address connected to.
    pub address: Option<String>,
    /// true: the pooler accepted the SSLRequest and the startup went over TLS; false: it refused
    /// it (plain); null: not asked.
    pub tls: Option<bool>,
    /// `serves`: it asked for a password, so it serves the project.
    pub verdict: PoolerVerdict,
    /// What was seen (the server's error as it is).
    pub seen: PoolerSeen,
    /// Time taken, in milliseconds.
    pub ms: f64,
}

/// The stage a pooler probe was waiting at.
#[napi(string_enum = "kebab-case")]
pub enum ProbeStage {
    Dns,
    Connect,
    SslAnswer,
    TlsHandshake,
    StartupAnswer,
}

impl From<pooler_verdict::Stage> for ProbeStage {
    fn from(s: pooler_verdict::Stage) -> Self {
        use pooler_verdict::Stage as S;
        match s {
            S::Dns => ProbeStage::Dns,
            S::Connect => ProbeStage::Connect,
            S::SslAnswer => ProbeStage::SslAnswer,
            S::TlsHandshake => ProbeStage::TlsHandshake,
            S::StartupAnswer => ProbeStage::StartupAnswer,
        }
    }
}

/// Where a pooler probe's connection ended early.
#[napi(string_enum = "kebab-case")]
pub enum ClosedStep {
    SendSslRequest,
    ReadSslAnswer,
    BuildStartup,
    SendStartup,
    ReadAnswer,
}

impl From<pooler_verdict::Step> for ClosedStep {
    fn from(s: pooler_verdict::Step) -> Self {
        use pooler_verdict::Step as S;
        match s {
            S::SendSslRequest => ClosedStep::SendSslRequest,
            S::ReadSslAnswer => ClosedStep::ReadSslAnswer,
            S::BuildStartup => ClosedStep::BuildStartup,
            S::SendStartup => ClosedStep::SendStartup,
            S::ReadAnswer => ClosedStep::ReadAnswer,
        }
    }
}

/// What a pooler probe saw. What each means: `check::pooler_verdict::Outcome`.
#[napi(
    discriminant = "kind",
    discriminant_case = "camelCase",
    use_nullable = true
)]
pub enum PoolerSeen {
    NoAddress {
        nodata: bool,
    },
    LookupFailed {
        error: LookupFailure,
    },
    ConnectFailed {
        code: String,
        address: String,
        os_error: String,
    },
    TlsFailed {
        cause: Option<String>,
    },
    Closed {
        step: ClosedStep,
        cause: Option<String>,
    },
    TimedOut {
        stage: ProbeStage,
        ms: f64,
    },
    NotTried,
    AuthOk,
    AuthCleartext,
    AuthMd5,
    AuthSasl {
        mechanisms: Vec<String>,
    },
    AuthOther {
        method: String,
    },
    ServerError {
        severity: String,
        code: String,
        message: String,
    },
    OtherMessage {
        tag: u32,
    },
    Malformed {
        cause: String,
    },
    Oversized {
        limit: u32,
    },
}

impl From<Outcome> for PoolerSeen {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::NoAddress { nodata } => PoolerSeen::NoAddress { nodata },
            Outcome::LookupFailed(e) => PoolerSeen::LookupFailed { error: (&e).into() },
            Outcome::ConnectFailed {
                code,
                address,
                os_error,
            } => PoolerSeen::ConnectFailed {
                code: code.to_string(),
                address: address.to_string(),
                os_error,
            },
            Outcome::TlsFailed(cause) => PoolerSeen::TlsFailed { cause },
            Outcome::Closed { step, cause } => PoolerSeen::Closed {
                step: step.into(),
                cause,
            },
            Outcome::TimedOut { stage, ms } => PoolerSeen::TimedOut {
                stage: stage.into(),
                ms: ms as f64,
            },
            Outcome::NotTried => PoolerSeen::NotTried,
            Outcome::Answer(Answer::Auth(auth)) => match auth {
                AuthRequest::Ok => PoolerSeen::AuthOk,
                AuthRequest::Cleartext => PoolerSeen::AuthCleartext,
                AuthRequest::Md5 => PoolerSeen::AuthMd5,
                AuthRequest::Sasl(mechanisms) => PoolerSeen::AuthSasl { mechanisms },
                AuthRequest::Other(method) => PoolerSeen::AuthOther {
                    method: method.to_string(),
                },
            },
            Outcome::Answer(Answer::Error(e)) => PoolerSeen::ServerError {
                severity: e.severity,
                code: e.code,
                message: e.message,
            },
            Outcome::Answer(Answer::Other(tag)) => PoolerSeen::OtherMessage {
                tag: u32::from(tag),
            },
            Outcome::Answer(Answer::Malformed(cause)) => PoolerSeen::Malformed { cause },
            Outcome::Answer(Answer::Oversized { limit }) => PoolerSeen::Oversized {
                limit: limit as u32,
            },
        }
    }
}

/// The limits the search ran under.
#[napi(object)]
pub struct PoolerLimits {
    pub per_probe_ms: f64,
    pub total_ms: f64,
    pub in_flight: u32,
}

/// The search for the pooler(s) that serve a Supabase project, as facts (index.d.ts
/// `PoolerSearch` once worded).
#[napi(object, use_nullable = true)]
pub struct CheckPoolerSearch {
    /// The project ref.
    pub project: String,
    /// The user name sent: `postgres.<ref>`.
    pub user: String,
    /// The region the search was narrowed to, if any.
    pub region: Option<String>,
    /// Every candidate, with its verdict.
    pub candidates: Vec<CheckPoolerProbe>,
    /// One session-pooler connection string per pooler that serves the project.
    pub connection_strings: Vec<String>,
    /// The one to paste, when exactly one pooler serves the project.
    pub connection_string: Option<String>,
    /// The whole search, in milliseconds.
    pub ms: f64,
    pub limits: PoolerLimits,
}

/// Supabase's pooler, as the check found it (`null` for other targets), as facts (index.d.ts
/// `PoolerReport` once worded).
#[napi(object, use_nullable = true)]
pub struct CheckPooler {
    /// The project ref (from the direct host, or a pooler URL's user name).
    pub project: Option<String>,
    /// The user name asked with (`postgres.<ref>`; a pooler URL's own, masked unless it is
    /// `postgres` or `<role>.<ref>`).
    pub user: String,
    /// A pooler URL's own host, asked with the URL's user name.
    pub url_probe: Option<CheckPoolerProbe>,
    /// The search among every candidate, when one ran.
    pub search: Option<CheckPoolerSearch>,
    /// One session-pooler connection string per pooler that serves the project.
    pub connection_strings: Vec<String>,
    /// The one to paste, when exactly one pooler serves the project.
    pub connection_string: Option<String>,
}

/// Why no TCP connect was tried.
#[napi(string_enum = "kebab-case")]
pub enum TcpSkipped {
    NoPort,
    NoAddress,
}

impl From<verdict::Skipped> for TcpSkipped {
    fn from(s: verdict::Skipped) -> Self {
        match s {
            verdict::Skipped::NoPort => TcpSkipped::NoPort,
            verdict::Skipped::NoAddress => TcpSkipped::NoAddress,
        }
    }
}

/// The TCP connect over IPv4, as facts.
#[napi(object, use_nullable = true)]
pub struct CheckTcp4 {
    /// false when there was no port or no IPv4 address (`skipped` says which).
    pub attempted: bool,
    /// `ip:port` connected to (the first A record).
    pub address: Option<String>,
    pub ok: bool,
    /// Time to connect or to fail, in milliseconds.
    pub ms: Option<f64>,
    /// ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH…
    pub error: Option<String>,
    pub skipped: Option<TcpSkipped>,
    /// The system's account of a failed connect; null when the check's own time limit ran out.
    pub os_error: Option<String>,
}

impl From<verdict::Tcp4> for CheckTcp4 {
    fn from(t: verdict::Tcp4) -> Self {
        CheckTcp4 {
            attempted: t.attempted,
            address: t.address.map(|a| a.to_string()),
            ok: t.ok,
            ms: t.ms,
            error: t.error.map(|failure| failure.code().to_string()),
            skipped: t.skipped.map(TcpSkipped::from),
            os_error: t.os_error,
        }
    }
}

/// How many candidates of a search answered one way.
#[napi(object)]
pub struct VerdictCount {
    pub verdict: PoolerVerdict,
    pub count: u32,
}

/// What a pooler search tried. What each field means: `check::verdict::SearchSummary`.
#[napi(object)]
pub struct SearchSummary {
    pub asked: u32,
    pub shards: Vec<String>,
    pub regions: u32,
    pub ms: f64,
    pub counts: Vec<VerdictCount>,
}

impl From<verdict::SearchSummary> for SearchSummary {
    fn from(s: verdict::SearchSummary) -> Self {
        SearchSummary {
            asked: s.asked as u32,
            shards: s.shards,
            regions: s.regions as u32,
            ms: s.ms,
            counts: s
                .counts
                .into_iter()
                .map(|(verdict, n)| VerdictCount {
                    verdict: verdict.into(),
                    count: n as u32,
                })
                .collect(),
        }
    }
}

/// The way to a Supabase project's database once the search is done. What each means:
/// `check::verdict::PoolerRemedy`.
#[napi(discriminant = "kind", discriminant_case = "camelCase")]
pub enum PoolerRemedy {
    NotFound {
        project: String,
        tried: SearchSummary,
    },
    Found {
        pooler: String,
        url: String,
    },
    Several {
        urls: Vec<String>,
    },
}

impl From<verdict::PoolerRemedy> for PoolerRemedy {
    fn from(r: verdict::PoolerRemedy) -> Self {
        use verdict::PoolerRemedy as R;
        match r {
            R::NotFound { project, tried } => PoolerRemedy::NotFound {
                project,
                tried: tried.into(),
            },
            R::Found { pooler, url } => PoolerRemedy::Found { pooler, url },
            R::Several { urls } => PoolerRemedy::Several { urls },
        }
    }
}

/// Which next step applies, with its parameters. What each means: `check::verdict::Hint`.
#[napi(
    discriminant = "kind",
    discriminant_case = "camelCase",
    use_nullable = true
)]
pub enum CheckHint {
    PatchNet {
        ipv6_unreachable: bool,
    },
    GivePort,
    Ipv6Literal,
    Ipv6Only {
        supabase_ref: Option<String>,
        ipv6_route: bool,
        pooler: Option<PoolerRemedy>,
    },
    CheckHostname,
    CheckSpelling,
    CheckDns,
    CheckPort,
    CheckFirewall,
    CheckRoute,
    CheckNetwork,
    UserWithoutRef {
        user: String,
    },
    ProjectNotFound {
        host: String,
        project: String,
        tried: SearchSummary,
    },
    WrongHost {
        host: String,
        remedy: PoolerRemedy,
    },
}

impl From<verdict::Hint> for CheckHint {
    fn from(h: verdict::Hint) -> Self {
        use verdict::Hint as H;
        match h {
            H::PatchNet { ipv6_unreachable } => CheckHint::PatchNet { ipv6_unreachable },
            H::GivePort => CheckHint::GivePort,
            H::Ipv6Literal => CheckHint::Ipv6Literal,
            H::Ipv6Only {
                supabase_ref,
                ipv6_route,
                pooler,
            } => CheckHint::Ipv6Only {
                supabase_ref,
                ipv6_route,
                pooler: pooler.map(PoolerRemedy::from),
            },
            H::CheckHostname => CheckHint::CheckHostname,
            H::CheckSpelling => CheckHint::CheckSpelling,
            H::CheckDns => CheckHint::CheckDns,
            H::CheckPort => CheckHint::CheckPort,
            H::CheckFirewall => CheckHint::CheckFirewall,
            H::CheckRoute => CheckHint::CheckRoute,
            H::CheckNetwork => CheckHint::CheckNetwork,
            H::UserWithoutRef { user } => CheckHint::UserWithoutRef { user },
            H::ProjectNotFound {
                host,
                project,
                tried,
            } => CheckHint::ProjectNotFound {
                host,
                project,
                tried: tried.into(),
            },
            H::WrongHost { host, remedy } => CheckHint::WrongHost {
                host,
                remedy: remedy.into(),
            },
        }
    }
}

/// What the check found, as facts: lib/check-words.js words them into the report `diagnose()`
/// returns (index.d.ts `Report`).
#[napi(object, use_nullable = true)]
pub struct CheckFacts {
    /// The target as given, with any password shown as `****`.
    pub target: String,
    pub host: String,
    pub port: Option<u32>,
    /// `host:port` (brackets around IPv6), or the host alone.
    pub endpoint: String,
    /// The host is an IP address.
    pub ip_literal: bool,
    pub a: Vec<String>,
    pub a_error: Option<LookupFailure>,
    pub aaaa: Vec<String>,
    /// null when there is simply no AAAA record.
    pub aaaa_error: Option<LookupFailure>,
    pub ipv6_route: bool,
    pub ipv6_source: Option<String>,
    pub ipv6_route_detail: String,
    pub tcp4: CheckTcp4,
    /// The limit the TCP connect ran under, in milliseconds.
    pub connect_timeout_ms: f64,
    pub verdict: Verdict,
    pub ok: bool,
    pub hint: CheckHint,
    pub pooler: Option<CheckPooler>,
}

impl From<Report> for CheckFacts {
    fn from(r: Report) -> Self {
        CheckFacts {
            target: r.target,
            host: r.host,
            port: r.port.map(u32::from),
            endpoint: r.endpoint,
            ip_literal: r.ip_literal,
            a: r.a,
            a_error: r.a_error.as_ref().map(LookupFailure::from),
            aaaa: r.aaaa,
            aaaa_error: r.aaaa_error.as_ref().map(LookupFailure::from),
            ipv6_route: r.ipv6_route.available,
            ipv6_source: r.ipv6_route.source.map(|ip| ip.to_string()),
            ipv6_route_detail: r.ipv6_route.detail,
            tcp4: r.tcp4.into(),
            connect_timeout_ms: r.connect_timeout.as_millis() as f64,
            verdict: r.verdict.into(),
            ok: r.verdict.ok(),
            hint: r.hint.into(),
            pooler: r.pooler.map(to_js_pooler),
        }
    }
}

fn to_js_candidate(p: PoolerProbe) -> CheckPoolerProbe {
    CheckPoolerProbe {
        host: p.host,
        port: u32::from(p.port),
        shard: p.candidate.as_ref().map(|c| c.shard.clone()),
        region: p.candidate.map(|c| c.region),
        address: p.address.map(|a| a.to_string()),
        tls: p.tls,
        verdict: p.verdict.into(),
        seen: p.outcome.into(),
        ms: p.ms,
    }
}

fn one_of(urls: &[String]) -> Option<String> {
    match urls {
        [url] => Some(url.clone()),
        _ => None,
    }
}

pub(super) fn to_js_search(s: Search, urls: Vec<String>) -> CheckPoolerSearch {
    CheckPoolerSearch {
        project: s.project,
        user: s.user,
        region: s.region,
        candidates: s.probes.into_iter().map(to_js_candidate).collect(),
        connection_string: one_of(&urls),
        connection_strings: urls,
        ms: s.ms,
        limits: PoolerLimits {
            per_probe_ms: s.limits.per_probe.as_millis() as f64,
            total_ms: s.limits.total.as_millis() as f64,
            in_flight: s.limits.in_flight as u32,
        },
    }
}

fn to_js_pooler(f: PoolerFinding) -> CheckPooler {
    let urls = f.connection_strings;
    CheckPooler {
        project: f.project,
        user: f.user,
        url_probe: f.url_probe.map(to_js_candidate),
        search: f.search.map(|s| to_js_search(s, urls.clone())),
        connection_string: one_of(&urls),
        connection_strings: urls,
    }
}
