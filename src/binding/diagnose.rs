//! `diagnose` and `redactTarget`: the probes of `ipv4-force check` (in `check`), adapted to JS
//! report objects.

use napi::bindgen_prelude::Either;
use napi_derive::napi;

use super::options::{adapt_options, NativeResolverOptions};
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use super::{panic_if_test_hook, panic_text};
use crate::check::{probes, target};
use crate::lookup::service;

/// Options of `diagnose` (see diagnose.js for the documented shape).
#[napi(object)]
pub struct DiagnoseOptions {
    /// Milliseconds for the TCP connect (default 5000), also per DNS attempt when given.
    pub timeout: Option<f64>,
    pub nameservers: Option<Vec<String>>,
    pub fallback: Option<bool>,
}

#[napi(object)]
pub struct DiagnoseDnsError {
    pub code: String,
    pub message: String,
}

#[napi(object)]
pub struct DiagnoseTcp4 {
    pub attempted: bool,
    /// `ip:port` connected to.
    pub address: Option<String>,
    pub ok: bool,
    pub ms: Option<f64>,
    pub error: Option<String>,
    pub message: String,
}

#[napi(object)]
pub struct DiagnoseReport {
    pub target: String,
    pub host: String,
    pub port: Option<u32>,
    pub a: Vec<String>,
    pub a_error: Option<DiagnoseDnsError>,
    pub aaaa: Vec<String>,
    pub aaaa_error: Option<DiagnoseDnsError>,
    pub ipv6_route: bool,
    pub ipv6_source: Option<String>,
    pub ipv6_route_detail: String,
    pub tcp4: DiagnoseTcp4,
    pub verdict: String,
    pub ok: bool,
    pub summary: String,
    pub hint: String,
}

/// A target or option that cannot be used; the message never holds credentials.
#[napi(object)]
pub struct DiagnoseFailure {
    pub code: String,
    pub message: String,
}

/// Checks `target` (host, host:port or URL); never rejects: usage problems come back as a failure,
/// a panic anywhere in the check as an EINTERNAL failure.
#[napi]
pub async fn diagnose(
    target: String,
    options: Option<DiagnoseOptions>,
) -> Either<DiagnoseReport, DiagnoseFailure> {
    let checked = AssertUnwindSafe(diagnose_unguarded(target, options)).catch_unwind();
    checked.await.unwrap_or_else(|panic| {
        Either::B(DiagnoseFailure {
            code: "EINTERNAL".into(),
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
) -> Either<DiagnoseReport, DiagnoseFailure> {
    let usage = |message: String| {
        Either::B(DiagnoseFailure {
            code: "ERR_INVALID_ARG_VALUE".into(),
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
        Err(message) => return usage(message),
    };
    let connect_timeout = settings.timeout.unwrap_or(probes::DEFAULT_CONNECT_TIMEOUT);
    let service = service::shared(settings, cache);
    let display = parsed.display.clone();
    let task = tokio::spawn(async move {
        probes::diagnose(&parsed, service.resolver(), connect_timeout).await
    });
    match task.await {
        Ok(report) => Either::A(to_js_report(report)),
        Err(join_error) => Either::B(DiagnoseFailure {
            code: "EINTERNAL".into(),
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
        code: e.code,
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
        verdict: r.verdict.as_str().to_string(),
        ok: r.verdict.ok(),
        summary: r.summary,
        hint: r.hint,
    }
}
