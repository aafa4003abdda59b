//! napi exports only: option adaptation and result shapes. The work is done in plain-Rust modules.
#![deny(clippy::all)]

pub mod cache;
pub mod completions;
pub mod diagnose;
pub mod errors;
pub mod hostname;
pub mod locking;
pub mod resolver;
pub mod service;
pub mod system_config;
pub mod target;
pub mod udp_pool;

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use napi::bindgen_prelude::{Either, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Error, Status};
use napi_derive::napi;

use crate::completions::Completions;
use crate::errors::{ErrorCode, LookupError};
use crate::resolver::{parse_nameserver, ResolverSettings};
use crate::service::{CacheSettings, LookupService, Outcome};

/// mimalloc, not glibc malloc: each lookup allocates and frees on the tokio thread, where glibc's
/// per-thread arena kept growing and trimming its heap (an mprotect system call per lookup); cold
/// lookups cost ~25% less CPU with it. Built as mimalloc v2 with local-dynamic TLS, as a library
/// loaded with dlopen needs: v3 crashed (either TLS model) in worker threads loading the addon.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The tokio runtime: one worker thread unless TOKIO_WORKER_THREADS says otherwise. A lookup is a
/// few µs of work between network waits; a second worker mostly adds cross-thread wake-ups and
/// takes a core from Node (bench, 2 cores: 20% less CPU per cold lookup with one).
#[napi_derive::module_init]
fn init_runtime() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let workers = std::env::var("TOKIO_WORKER_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build();
        // On failure napi-rs builds its default runtime on first use.
        if let Ok(runtime) = runtime {
            napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
        }
    });
}

/// Options of a resolver (see index.d.ts for the documented shape).
#[napi(object)]
#[derive(Default)]
pub struct NativeResolverOptions {
    pub nameservers: Option<Vec<String>>,
    /// Milliseconds per attempt.
    pub timeout: Option<u32>,
    pub attempts: Option<u32>,
    pub fallback: Option<bool>,
    /// Seconds.
    pub max_ttl: Option<f64>,
    /// Seconds.
    pub error_ttl: Option<f64>,
}

/// A successful lookup: the addresses, and how long the JS layer may reuse them.
#[napi(object)]
pub struct LookupAnswer {
    pub addresses: Vec<String>,
    pub ttl_ms: f64,
}

/// A failed lookup, turned into an Error by the JS layer.
#[napi(object)]
pub struct LookupFailure {
    pub code: String,
    pub message: String,
    pub hostname: String,
    pub syscall: String,
}

type JsOutcome = Either<LookupAnswer, LookupFailure>;

#[napi]
pub struct NativeResolver {
    service: Arc<LookupService>,
}

#[napi]
impl NativeResolver {
    #[napi(constructor)]
    pub fn new(options: Option<NativeResolverOptions>) -> napi::Result<Self> {
        let (settings, cache) = adapt_options(options.unwrap_or_default())
            .map_err(|msg| Error::new(Status::InvalidArg, msg))?;
        Ok(NativeResolver {
            service: service::shared(settings, cache),
        })
    }

    /// The outcome when it needs no query (cache hit, literal); `null` otherwise. Synchronous:
    /// a hot lookup never crosses to the tokio runtime.
    #[napi(catch_unwind)]
    pub fn answer_now(&self, hostname: String) -> Option<JsOutcome> {
        self.known_outcome(&hostname)
    }

    fn known_outcome(&self, hostname: &str) -> Option<JsOutcome> {
        panic_if_test_hook("answer_now", hostname);
        self.service
            .answer_now(hostname)
            .map(|(outcome, fresh_until)| to_js(outcome, fresh_until))
    }

    #[napi]
    pub fn clear_cache(&self) {
        self.service.clear_cache();
    }
}

// ---------------------------------------------------------------------------------------------
// Lookups that need a query: started synchronously, settled in batches.
//
// A napi `async fn` creates and tears down a threadsafe function per call, which costs more main-
// thread time than the lookup itself. Instead, finished lookups go into a list, and the JS thread
// is told once whenever the list stops being empty; it then takes every lookup finished so far.

type Finished = (u32, (Outcome, Instant));

/// One finished lookup: its id, and the answer or the failure.
#[napi(object)]
pub struct CompletedLookup {
    pub id: u32,
    pub outcome: JsOutcome,
}

fn to_js_batch(finished: Vec<Finished>) -> Vec<CompletedLookup> {
    finished
        .into_iter()
        .map(|(id, (outcome, fresh_until))| CompletedLookup {
            id,
            outcome: to_js(outcome, fresh_until),
        })
        .collect()
}

/// The outcome of `hostname` when it needs no query (cache hit, literal). Otherwise `None`, and
/// the lookup is started on the tokio runtime: its outcome is pushed to `completed` under `id`,
/// and `notify` runs when that push made the list non-empty.
fn answer_or_start(
    resolver: &NativeResolver,
    completed: &Arc<Completions<Finished>>,
    id: u32,
    hostname: String,
    notify: impl FnOnce() + Send + 'static,
) -> Option<JsOutcome> {
    if let Some(now) = resolver.known_outcome(&hostname) {
        return Some(now);
    }
    let service = resolver.service.clone();
    let completed = completed.clone();
    napi::bindgen_prelude::spawn(async move {
        let outcome = lookup_catching_panics(&service, &hostname).await;
        if completed.push((id, outcome)) {
            notify();
        }
    });
    None
}

/// A panic inside a lookup comes back as EINTERNAL instead of unwinding into the runtime.
async fn lookup_catching_panics(service: &LookupService, hostname: &str) -> (Outcome, Instant) {
    let lookup = async {
        panic_if_test_hook("lookup", hostname);
        service.lookup(hostname).await
    };
    match AssertUnwindSafe(lookup).catch_unwind().await {
        Ok(done) => done,
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            let err = internal_error(hostname, &why);
            (Err(Arc::new(err)), Instant::now())
        }
    }
}

type NotifyJs = ThreadsafeFunction<(), (), Vec<CompletedLookup>, Status, false, true>;

/// Main thread: one threadsafe function for every lookup (weak: the JS layer keeps the event
/// loop alive while lookups are pending).
#[napi]
pub struct LookupDispatcher {
    completed: Arc<Completions<Finished>>,
    notify: Arc<NotifyJs>,
}

#[napi]
impl LookupDispatcher {
    /// `on_completed` is called on this thread with every lookup finished since its last call.
    #[napi(constructor)]
    pub fn new(on_completed: Function<Vec<CompletedLookup>, ()>) -> napi::Result<Self> {
        let completed: Arc<Completions<Finished>> = Arc::default();
        let source = completed.clone();
        let notify = on_completed
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(move |_| Ok(to_js_batch(source.take_now())))?;
        Ok(LookupDispatcher {
            completed,
            notify: Arc::new(notify),
        })
    }

    /// The outcome when it needs no query (cache hit, literal). Otherwise `null`, and the lookup
    /// is started: `on_completed` hands its outcome back under `id`.
    #[napi(catch_unwind)]
    pub fn lookup(
        &self,
        resolver: &NativeResolver,
        id: u32,
        hostname: String,
    ) -> Option<JsOutcome> {
        let notify = self.notify.clone();
        answer_or_start(resolver, &self.completed, id, hostname, move || {
            notify.call((), ThreadsafeFunctionCallMode::NonBlocking);
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Worker threads: finished lookups are collected by the JS layer with a timer, while any are
// pending. Not a threadsafe function: with Node < 24.14, one still pending when a worker thread is
// terminated can corrupt memory (nodejs/node#58484). Not a libuv work item either: a worker
// waiting for lookups would hold a threadpool thread that fs, zlib and crypto need.

#[napi]
pub struct CompletionQueue {
    completed: Arc<Completions<Finished>>,
}

#[napi]
impl CompletionQueue {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        CompletionQueue {
            completed: Arc::default(),
        }
    }

    /// The outcome when it needs no query (cache hit, literal). Otherwise `null`, and the lookup
    /// is started: `takeNow()` hands its outcome back under `id` once it has finished.
    #[napi(catch_unwind)]
    pub fn lookup(
        &self,
        resolver: &NativeResolver,
        id: u32,
        hostname: String,
    ) -> Option<JsOutcome> {
        answer_or_start(resolver, &self.completed, id, hostname, || {})
    }

    /// Every lookup finished since the last call; never waits.
    #[napi(catch_unwind)]
    pub fn take_now(&self) -> Vec<CompletedLookup> {
        to_js_batch(self.completed.take_now())
    }
}

/// The ENODATA failure for a host whose only addresses are IPv6, with the advice a person needs
/// (used when a connection's own lookup function answered IPv6 only).
#[napi(catch_unwind)]
pub fn ipv6_only_failure(hostname: String, ipv6_seen: Option<String>) -> LookupFailure {
    let seen = ipv6_seen.and_then(|ip| ip.parse().ok());
    failure(&LookupError {
        syscall: "lookup",
        ..LookupError::ipv6_only(&hostname, seen)
    })
}

fn adapt_options(
    options: NativeResolverOptions,
) -> Result<(ResolverSettings, CacheSettings), String> {
    let nameservers = match options.nameservers {
        Some(list) if list.is_empty() => return Err("nameservers must not be empty".into()),
        Some(list) => Some(
            list.iter()
                .map(|s| parse_nameserver(s))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    // A resolver pointed at a given server answers from that server only, unless asked.
    let fallback = options.fallback.unwrap_or(nameservers.is_none());
    let settings = ResolverSettings {
        nameservers,
        timeout: options
            .timeout
            .map(|ms| Duration::from_millis(ms.max(1).into())),
        attempts: options.attempts.map(|n| n as usize),
        fallback,
    };
    let defaults = CacheSettings::default();
    let cache = CacheSettings {
        max_ttl: seconds(options.max_ttl, "maxTtl")?.unwrap_or(defaults.max_ttl),
        error_ttl: seconds(options.error_ttl, "errorTtl")?.unwrap_or(defaults.error_ttl),
    };
    Ok((settings, cache))
}

fn seconds(value: Option<f64>, name: &str) -> Result<Option<Duration>, String> {
    match value {
        None => Ok(None),
        Some(v) if v.is_infinite() && v > 0.0 => Ok(Some(Duration::MAX)),
        Some(v) if v.is_finite() && v >= 0.0 => Ok(Some(Duration::from_secs_f64(v))),
        Some(v) => Err(format!("{name} must be a number of seconds >= 0, got {v}")),
    }
}

fn to_js(outcome: Outcome, fresh_until: Instant) -> JsOutcome {
    match outcome {
        Ok(answer) => Either::A(LookupAnswer {
            addresses: answer.addresses.clone(),
            ttl_ms: fresh_until
                .saturating_duration_since(Instant::now())
                .as_secs_f64()
                * 1000.0,
        }),
        Err(err) => Either::B(failure(&err)),
    }
}

fn failure(err: &LookupError) -> LookupFailure {
    LookupFailure {
        code: err.code.as_str().to_string(),
        message: err.message(),
        hostname: err.hostname.clone(),
        syscall: err.syscall.to_string(),
    }
}

fn internal_error(hostname: &str, why: &str) -> LookupError {
    LookupError::new(
        ErrorCode::Internal,
        hostname,
        format!("internal error in ipv4-force, please report it: {why}"),
    )
}

/// Tests set IPV4_FORCE_TEST_PANIC=<site>:<hostname> (site: answer_now or lookup) to make that
/// call panic inside Rust, and check that Node gets an EINTERNAL error instead of a crash.
fn panic_if_test_hook(site: &str, hostname: &str) {
    static HOOK: OnceLock<Option<String>> = OnceLock::new();
    let hook = HOOK.get_or_init(|| std::env::var("IPV4_FORCE_TEST_PANIC").ok());
    if let Some((hook_site, hook_host)) = hook.as_deref().and_then(|h| h.split_once(':')) {
        if hook_site == site && hook_host == hostname {
            panic!("ipv4-force test hook: panic in {site} for {hostname}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Diagnostics: `ipv4-force check` (probes in diagnose.rs, target parsing in target.rs).

/// Options of `diagnose` (see diagnose.js for the documented shape).
#[napi(object)]
pub struct DiagnoseOptions {
    /// Milliseconds for the TCP connect (default 5000), also per DNS attempt when given.
    pub timeout: Option<u32>,
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

/// Checks `target` (host, host:port or URL); never rejects: usage problems come back as a failure.
#[napi]
pub async fn diagnose(
    target: String,
    options: Option<DiagnoseOptions>,
) -> Either<DiagnoseReport, DiagnoseFailure> {
    let usage = |message: String| {
        Either::B(DiagnoseFailure {
            code: "ERR_INVALID_ARG_VALUE".into(),
            message,
        })
    };
    let parsed = match target::parse_target(&target) {
        Ok(parsed) => parsed,
        Err(err) => return usage(err.message),
    };
    let options = options.unwrap_or(DiagnoseOptions {
        timeout: None,
        nameservers: None,
        fallback: None,
    });
    let connect_timeout = options
        .timeout
        .map_or(diagnose::DEFAULT_CONNECT_TIMEOUT, |ms| {
            Duration::from_millis(ms.max(1).into())
        });
    let resolver_options = NativeResolverOptions {
        nameservers: options.nameservers,
        timeout: options.timeout,
        fallback: options.fallback,
        ..NativeResolverOptions::default()
    };
    let (settings, cache) = match adapt_options(resolver_options) {
        Ok(pair) => pair,
        Err(message) => return usage(message),
    };
    let service = service::shared(settings, cache);
    let display = parsed.display.clone();
    let task = tokio::spawn(async move {
        diagnose::diagnose(&parsed, service.resolver(), connect_timeout).await
    });
    match task.await {
        Ok(report) => Either::A(to_js_report(report)),
        Err(join_error) => Either::B(DiagnoseFailure {
            code: "EINTERNAL".into(),
            message: format!("internal error in ipv4-force while checking {display}, please report it: {join_error}"),
        }),
    }
}

/// `text` with the password of any URL (or `user:password@host`) replaced by `****`.
#[napi]
pub fn redact_target(text: String) -> String {
    target::redact(&text)
}

fn to_js_report(r: diagnose::Report) -> DiagnoseReport {
    let dns_error = |e: diagnose::DnsProblem| DiagnoseDnsError {
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
