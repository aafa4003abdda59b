//! `diagnose`, `diagnoseInBackground`, `findSupabasePooler` and `redactTarget`: the exports of
//! `ipv4-force check` (the probes are in `check`). Their report is facts and codes
//! (check_facts.rs); lib/check-words.js words them.

use std::future::Future;

use napi::bindgen_prelude::{Either, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;

use super::check_facts::{to_js_search, CheckFacts, CheckPoolerSearch};
use super::codes::{CallFailure, CallFailureCode};
use super::options::{adapt_options, NativeResolverOptions};
use super::{panic_if_test_hook, panic_text};
use crate::check::probes::PoolerSteps;
use crate::check::{pooler_probe, probes, supabase, target};
use crate::lookup::resolver::ResolverSettings;
use crate::lookup::service::{self, CacheSettings};

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
    /// Supabase only: look for the project's pooler in this region only (`eu-west-1`…).
    /// Default: every region Supabase lists.
    pub region: Option<String>,
}

/// Checks `target` (host, host:port or URL); never rejects: usage problems come back as a failure,
/// a panic anywhere in the check as an EINTERNAL failure.
#[napi]
pub async fn diagnose(
    target: String,
    options: Option<DiagnoseOptions>,
) -> Either<CheckFacts, CallFailure> {
    on_runtime(
        "checking the target",
        diagnose_unguarded(target, options, true),
    )
    .await
}

type OnReport = ThreadsafeFunction<
    Either<CheckFacts, CallFailure>,
    (),
    Either<CheckFacts, CallFailure>,
    Status,
    false,
    true,
>;

/// Checks `target` like `diagnose`, in the background, and calls `on_report` with the outcome.
/// For the start-up preflight: the threadsafe function is weak, so a check still running never
/// keeps the process alive once its own work is done (a promise from `diagnose` would).
#[napi(catch_unwind)]
pub fn diagnose_in_background(
    target: String,
    options: Option<DiagnoseOptions>,
    on_report: Function<Either<CheckFacts, CallFailure>, ()>,
) -> napi::Result<()> {
    let on_report: OnReport = on_report
        .build_threadsafe_function()
        .callee_handled::<false>()
        .weak::<true>()
        .build_callback(|ctx| Ok(ctx.value))?;
    napi::bindgen_prelude::spawn(async move {
        // A preflight probes no pooler URL (healthy targets get no probe), and still searches
        // for the pooler of a Supabase direct host without IPv4.
        let checking = diagnose_unguarded(target, options, false);
        let outcome = on_runtime("checking the target", checking).await;
        on_report.call(outcome, ThreadsafeFunctionCallMode::NonBlocking);
    });
    Ok(())
}

async fn diagnose_unguarded(
    target: String,
    options: Option<DiagnoseOptions>,
    probe_pooler_urls: bool,
) -> Either<CheckFacts, CallFailure> {
    panic_if_test_hook("diagnose", &target);
    let parsed = match target::parse_target(&target) {
        Ok(parsed) => parsed,
        Err(err) => return usage(err.message),
    };
    let options = options.unwrap_or(DiagnoseOptions {
        timeout: None,
        nameservers: None,
        fallback: None,
        region: None,
    });
    // Checked (timeout included) before any use.
    let (settings, cache) = match check_settings(
        options.timeout,
        options.nameservers,
        options.fallback,
        options.region.as_deref(),
    ) {
        Ok(pair) => pair,
        Err(failure) => return Either::B(failure),
    };
    let connect_timeout = settings.timeout.unwrap_or(probes::DEFAULT_CONNECT_TIMEOUT);
    let service = service::shared(settings, cache);
    let report = probes::diagnose(
        &parsed,
        service.resolver(),
        connect_timeout,
        PoolerSteps {
            region: options.region.as_deref(),
            probe_pooler_urls,
        },
    )
    .await;
    Either::A(report.into())
}

/// Runs `work` as a task of its own on the runtime: a panic anywhere in it (the argument checks
/// included) comes back as an EINTERNAL failure that says what was being done.
async fn on_runtime<T: Send + 'static>(
    doing: &str,
    work: impl Future<Output = Either<T, CallFailure>> + Send + 'static,
) -> Either<T, CallFailure> {
    match tokio::spawn(work).await {
        Ok(done) => done,
        Err(join_error) => {
            let why = match join_error.try_into_panic() {
                Ok(panic) => panic_text(&*panic),
                Err(join_error) => join_error.to_string(),
            };
            Either::B(CallFailure {
                code: CallFailureCode::Internal,
                message: format!(
                    "internal error in ipv4-force while {doing}, please report it: {why}"
                ),
            })
        }
    }
}

fn usage<T>(message: String) -> Either<T, CallFailure> {
    Either::B(CallFailure {
        code: CallFailureCode::InvalidArgValue,
        message,
    })
}

/// The resolver settings of a check's options: the region checked, and the ranges checked as for
/// every resolver option.
fn check_settings(
    timeout: Option<f64>,
    nameservers: Option<Vec<String>>,
    fallback: Option<bool>,
    region: Option<&str>,
) -> Result<(ResolverSettings, CacheSettings), CallFailure> {
    check_region(region)?;
    adapt_options(NativeResolverOptions {
        nameservers,
        timeout,
        fallback,
        ..NativeResolverOptions::default()
    })
}

/// A region Supabase lists, or a usage failure naming them.
fn check_region(region: Option<&str>) -> Result<(), CallFailure> {
    match region {
        Some(region) if !supabase::is_region(region) => Err(CallFailure {
            code: CallFailureCode::InvalidArgValue,
            message: format!(
                "The argument 'region' must be one of Supabase's regions ({}). Received {:?}",
                supabase::REGIONS.join(", "),
                target::redact(region)
            ),
        }),
        _ => Ok(()),
    }
}

/// Options of `findSupabasePooler()`.
#[napi(object)]
pub struct FindPoolerOptions {
    /// Milliseconds per DNS try, and the cap on each probe. Default: 5000 (probes: 3000).
    pub timeout: Option<f64>,
    pub nameservers: Option<Vec<String>>,
    pub fallback: Option<bool>,
    /// Only this region (`eu-west-1`…).
    pub region: Option<String>,
    /// The database named in the startup message and the string to paste. Default: `postgres`.
    pub database: Option<String>,
}

/// Which Supabase pooler serves the project of `host` (a direct host `db.<ref>.supabase.co`): the
/// search `ipv4-force check` runs, for a start-up preflight. Never rejects: a bad argument or a
/// panic comes back as a failure.
#[napi]
pub async fn find_supabase_pooler(
    host: String,
    options: Option<FindPoolerOptions>,
) -> Either<CheckPoolerSearch, CallFailure> {
    on_runtime(
        "looking for the pooler",
        find_pooler_unguarded(host, options),
    )
    .await
}

async fn find_pooler_unguarded(
    host: String,
    options: Option<FindPoolerOptions>,
) -> Either<CheckPoolerSearch, CallFailure> {
    panic_if_test_hook("find_pooler", &host);
    let Some(project) =
        crate::check::supabase::supabase_project_ref(&host).map(str::to_ascii_lowercase)
    else {
        return usage(format!(
            "The argument 'host' must be a Supabase direct host, db.<ref>.supabase.co. Received {:?}",
            target::redact(&host)
        ));
    };
    let options = options.unwrap_or(FindPoolerOptions {
        timeout: None,
        nameservers: None,
        fallback: None,
        region: None,
        database: None,
    });
    let (settings, cache) = match check_settings(
        options.timeout,
        options.nameservers,
        options.fallback,
        options.region.as_deref(),
    ) {
        Ok(pair) => pair,
        Err(failure) => return Either::B(failure),
    };
    let limits = pooler_probe::Limits::with_timeout(
        settings.timeout.unwrap_or(probes::DEFAULT_CONNECT_TIMEOUT),
    );
    let service = service::shared(settings, cache);
    let parts = supabase::UrlParts {
        database: options
            .database
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| supabase::DEFAULT_DATABASE.to_string()),
        ..supabase::UrlParts::default()
    };
    let search = pooler_probe::find_pooler(
        &project,
        options.region.as_deref(),
        &parts.database,
        service.resolver(),
        limits,
    )
    .await;
    let urls = search
        .serving()
        .map(|p| supabase::session_url(&project, &p.host, &parts))
        .collect();
    Either::A(to_js_search(search, urls))
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
