//! napi exports only: option adaptation and result shapes. The work is done in plain-Rust modules.
#![deny(clippy::all)]

pub mod cache;
pub mod errors;
pub mod hostname;
pub mod resolver;
pub mod service;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use napi::bindgen_prelude::Either;
use napi::{Error, Status};
use napi_derive::napi;

use crate::errors::{ErrorCode, LookupError};
use crate::resolver::{parse_nameserver, ResolverSettings};
use crate::service::{CacheSettings, LookupService, Outcome};

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

/// A failed lookup, turned into an Error by the JS layer.
#[napi(object)]
pub struct LookupFailure {
    pub code: String,
    pub message: String,
    pub hostname: String,
    pub syscall: String,
}

type JsOutcome = Either<Vec<String>, LookupFailure>;

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
        panic_if_test_hook("answer_now", &hostname);
        self.service.answer_now(&hostname).map(to_js)
    }

    /// Resolves to the IPv4 addresses, or to a failure (never rejects, so codes survive).
    #[napi]
    pub async fn lookup(&self, hostname: String) -> JsOutcome {
        let service = self.service.clone();
        let task_hostname = hostname.clone();
        // A panic stays inside this task and comes back as a JoinError.
        let task = tokio::spawn(async move {
            panic_if_test_hook("lookup", &task_hostname);
            service.lookup(&task_hostname).await
        });
        match task.await {
            Ok(outcome) => to_js(outcome),
            Err(join_error) => to_js(Err(Arc::new(internal_error(&hostname, &join_error.to_string())))),
        }
    }

    /// The name's AAAA records through the same configuration (diagnostics; not cached).
    #[napi]
    pub async fn lookup_ipv6(&self, hostname: String) -> JsOutcome {
        let service = self.service.clone();
        let task_hostname = hostname.clone();
        let task = tokio::spawn(async move { service.resolver().resolve_ipv6(&task_hostname).await });
        match task.await {
            Ok(Ok(addresses)) => Either::A(addresses.iter().map(|a| a.to_string()).collect()),
            Ok(Err(err)) => Either::B(failure(&err)),
            Err(join_error) => Either::B(failure(&internal_error(&hostname, &join_error.to_string()))),
        }
    }

    #[napi]
    pub fn clear_cache(&self) {
        self.service.clear_cache();
    }
}

fn adapt_options(options: NativeResolverOptions) -> Result<(ResolverSettings, CacheSettings), String> {
    let nameservers = match options.nameservers {
        Some(list) if list.is_empty() => return Err("nameservers must not be empty".into()),
        Some(list) => Some(list.iter().map(|s| parse_nameserver(s)).collect::<Result<Vec<_>, _>>()?),
        None => None,
    };
    // A resolver pointed at a given server answers from that server only, unless asked.
    let fallback = options.fallback.unwrap_or(nameservers.is_none());
    let settings = ResolverSettings {
        nameservers,
        timeout: options.timeout.map(|ms| Duration::from_millis(ms.max(1).into())),
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

fn to_js(outcome: Outcome) -> JsOutcome {
    match outcome {
        Ok(answer) => Either::A(answer.addresses.clone()),
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
