//! `diagnose` and `redactTarget`: the probes of `ipv4-force check` (in `check`), adapted to JS
//! report objects.

use napi::bindgen_prelude::Either;
use napi_derive::napi;

use super::codes::{CallFailure, CallFailureCode, LookupErrorCode};
use super::options::{adapt_options, NativeResolverOptions};
use crate::check::probes::Verdict;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use super::{panic_if_test_hook, panic_text};
use crate::check::{probes, target};
use crate::lookup::service;

/// Options of `diagnose()` / `ipv4-force check`.
#[napi(object)]
pub struct DiagnoseOptions {
    /// Milliseconds for the TCP connect, and per DNS try when given. Default: 5000.
    pub timeout: Option<f64>,
    /// DNS servers to ask instead of /etc/resolv.conf. Default: the system configuration.
    pub nameservers: Option<Vec<String>>,
    /// Ask getaddrinfo when the Rust resolver cannot answer. Default: true with the system
    /// configuration.
    pub fallback: Option<bool>,
}

/// A failed DNS question of the check.
#[napi(object)]
pub struct DiagnoseDnsError {
    pub code: LookupErrorCode,
    pub message: String,
}

/// The TCP connect over IPv4.
#[napi(object, use_nullable = true)]
pub struct DiagnoseTcp4 {
    /// false when there was no port or no IPv4 address.
    pub attempted: bool,
    /// `ip:port` connected to (the first A record).
    pub address: Option<String>,
    pub ok: bool,
    /// Time to connect or to fail, in milliseconds.
    pub ms: Option<f64>,
    /// ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH…
    pub error: Option<String>,
    /// What happened, or why no connection was tried.
    pub message: String,
}

/// What `diagnose()` found; every key is always present (`null` for "none"), in this order.
#[napi(object, use_nullable = true)]
pub struct DiagnoseReport {
    /// The target as given, with any password shown as `****`.
    pub target: String,
    pub host: String,
    /// null for a bare host (no TCP test).
    pub port: Option<u32>,
    /// IPv4 addresses, as resolveIPv4 / patchNet() get them.
    pub a: Vec<String>,
    pub a_error: Option<DiagnoseDnsError>,
    /// IPv6 addresses, through the same resolver configuration.
    pub aaaa: Vec<String>,
    /// null when there is simply no AAAA record.
    pub aaaa_error: Option<DiagnoseDnsError>,
    /// Whether this machine has a usable IPv6 route (decided without sending a packet).
    pub ipv6_route: bool,
    /// The IPv6 source address the kernel would use.
    pub ipv6_source: Option<String>,
    pub ipv6_route_detail: String,
    pub tcp4: DiagnoseTcp4,
    pub verdict: Verdict,
    /// true for reachable / resolves (the CLI exits 0).
    pub ok: bool,
    /// The verdict in one sentence, with what was seen.
    pub summary: String,
    /// What to do next.
    pub hint: String,
}

/// Checks `target` (host, host:port or URL); never rejects: usage problems come back as a failure,
/// a panic anywhere in the check as an EINTERNAL failure.
#[napi]
pub async fn diagnose(
    target: String,
    options: Option<DiagnoseOptions>,
) -> Either<DiagnoseReport, CallFailure> {
    let checked = AssertUnwindSafe(diagnose_unguarded(target, options)).catch_unwind();
    checked.await.unwrap_or_else(|panic| {
        Either::B(CallFailure {
            code: CallFailureCode::Internal,
            message: format!(
                "internal error in ipv4-force while checking the target, please report it: {}",
                panic_text(&*panic)
            ),
        })
    })
}

async fn diagnose_unguarded(
    target: String,
    options: Option<DiagnoseOptions>,
) -> Either<DiagnoseReport, CallFailure> {
    let usage = |message: String| {
        Either::B(CallFailure {
            code: CallFailureCode::InvalidArgValue,
            message,
        })
    };
    panic_if_test_hook("diagnose", &target);
    let parsed = match target::parse_target(&target) {
        Ok(parsed) => parsed,
        Err(err) => return usage(err.message),
    };
    let options = options.unwrap_or(DiagnoseOptions {
        timeout: None,
        nameservers: None,
        fallback: None,
    });
    let resolver_options = NativeResolverOptions {
        nameservers: options.nameservers,
        timeout: options.timeout,
        fallback: options.fallback,
        ..NativeResolverOptions::default()
    };
    // Checked (timeout included) before any use.
    let (settings, cache) = match adapt_options(resolver_options) {
        Ok(pair) => pair,
        Err(failure) => return Either::B(failure),
    };
    let connect_timeout = settings.timeout.unwrap_or(probes::DEFAULT_CONNECT_TIMEOUT);
    let service = service::shared(settings, cache);
    let display = parsed.display.clone();
    let task = tokio::spawn(async move {
        probes::diagnose(&parsed, service.resolver(), connect_timeout).await
    });
    match task.await {
        Ok(report) => Either::A(to_js_report(report)),
        Err(join_error) => Either::B(CallFailure {
            code: CallFailureCode::Internal,
            message: format!("internal error in ipv4-force while checking {display}, please report it: {join_error}"),
        }),
    }
}

/// `text` with the password of any URL (or `user:password@host`) replaced by `****`. On a panic
/// the whole text is withheld: a credential must never leak through an error path.
#[napi]
pub fn redact_target(text: String) -> String {
    std::panic::catch_unwind(|| {
        panic_if_test_hook("redact", &text);
        target::redact(&text)
    })
    .unwrap_or_else(|_| "[target withheld: internal error in ipv4-force]".to_string())
}

fn to_js_report(r: probes::Report) -> DiagnoseReport {
    let dns_error = |e: probes::DnsProblem| DiagnoseDnsError {
        code: e.code.into(),
        message: e.message,
    };
    DiagnoseReport {
        target: r.target,
        host: r.host,
        port: r.port.map(u32::from),
        a: r.a,
        a_error: r.a_error.map(dns_error),
        aaaa: r.aaaa,
        aaaa_error: r.aaaa_error.map(dns_error),
        ipv6_route: r.ipv6_route.available,
        ipv6_source: r.ipv6_route.source.map(|ip| ip.to_string()),
        ipv6_route_detail: r.ipv6_route.detail,
        tcp4: DiagnoseTcp4 {
            attempted: r.tcp4.attempted,
            address: r.tcp4.address.map(|a| a.to_string()),
            ok: r.tcp4.ok,
            ms: r.tcp4.ms,
            error: r.tcp4.error,
            message: r.tcp4.message,
        },
        verdict: r.verdict,
        ok: r.verdict.ok(),
        summary: r.summary,
        hint: r.hint,
    }
}
