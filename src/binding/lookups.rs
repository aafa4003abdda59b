//! The lookup exports: a resolver per configuration, and lookups that need a query started
//! synchronously and settled in batches (main thread: one threadsafe function; worker threads: a
//! socket their event loop watches, see wake.rs).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use napi::bindgen_prelude::{Either, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Error, Status};
use napi_derive::napi;

use super::codes::{CallFailure, CallFailureCode, LookupErrorCode};
use super::completions::Completions;
use super::options::{adapt_options, NativeResolverOptions};
use super::wake;
use super::{guarded, internal_error, panic_if_test_hook, panic_text};
use crate::lookup::counters::{Ipv6OnlyHosts, LOOKUPS};
use crate::lookup::errors::LookupError;
use crate::lookup::service::{self, LookupService, Outcome};

/// A successful lookup: the addresses, and how long the JS layer may reuse them.
#[napi(object)]
pub struct LookupAnswer {
    pub addresses: Vec<String>,
    pub ttl_ms: f64,
}

/// A failed lookup, as facts: the JS layer words the message (lib/advice.js) and makes the Error.
#[napi(object)]
pub struct LookupFailure {
    pub code: LookupErrorCode,
    pub hostname: String,
    pub syscall: String,
    /// What failed, in the resolver's words; absent where the code says it all.
    pub detail: Option<String>,
    /// For ENODATA: an IPv6 address the name has.
    pub ipv6_seen: Option<String>,
}

#[napi]
pub struct NativeResolver {
    service: Arc<LookupService>,
}

/// A resolver for these options, or why they cannot be used (a panic comes back as EINTERNAL).
#[napi]
pub fn create_resolver(
    options: Option<NativeResolverOptions>,
) -> Either<NativeResolver, CallFailure> {
    let made = std::panic::catch_unwind(AssertUnwindSafe(|| {
        adapt_options(options.unwrap_or_default()).map(|(settings, cache)| NativeResolver {
            service: service::shared(settings, cache),
        })
    }));
    match made {
        Ok(Ok(resolver)) => Either::A(resolver),
        Ok(Err(failure)) => Either::B(failure),
        Err(panic) => Either::B(CallFailure {
            code: CallFailureCode::Internal,
            message: format!(
                "internal error in ipv4-force (createResolver), please report it: {}",
                panic_text(&*panic)
            ),
        }),
    }
}

#[napi]
impl NativeResolver {
    /// The outcome when it needs no query (cache hit, literal); `None` otherwise. Synchronous:
    /// a hot lookup never crosses to the tokio runtime.
    fn known_outcome(&self, hostname: &str) -> Option<Either<LookupAnswer, LookupFailure>> {
        panic_if_test_hook("answer_now", hostname);
        LOOKUPS.note();
        self.service
            .answer_now(hostname)
            .map(|(outcome, fresh_until)| to_js(outcome, fresh_until))
    }

    #[napi(catch_unwind)]
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
    pub outcome: Either<LookupAnswer, LookupFailure>,
}

/// Never panics: a lookup whose conversion fails is settled as EINTERNAL, the others normally
/// (this runs in a threadsafe-function callback and in a Task, where a panic would abort).
fn to_js_batch(finished: Vec<Finished>) -> Vec<CompletedLookup> {
    finished
        .into_iter()
        .map(|(id, (outcome, fresh_until))| {
            let hostname = match &outcome {
                Ok(_) => None,
                Err(err) => Some(err.hostname.clone()),
            };
            let converted = std::panic::catch_unwind(AssertUnwindSafe(|| {
                panic_if_test_hook("settle", hostname.as_deref().unwrap_or(""));
                to_js(outcome, fresh_until)
            }));
            let outcome = converted.unwrap_or_else(|panic| {
                let err = internal_error(hostname.as_deref().unwrap_or(""), &panic_text(&*panic));
                Either::B((&err).into())
            });
            CompletedLookup { id, outcome }
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
) -> Option<Either<LookupAnswer, LookupFailure>> {
    if let Some(now) = resolver.known_outcome(&hostname) {
        return Some(now);
    }
    let service = resolver.service.clone();
    let completed = completed.clone();
    napi::bindgen_prelude::spawn(async move {
        let outcome = lookup_catching_panics(&service, &hostname).await;
        if completed.push((id, outcome)) {
            // The JS thread is told once per batch: the lookups whose replies came in with this
            // one push theirs first (yield_now waits for the next turn of tokio's I/O driver).
            tokio::task::yield_now().await;
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
            let err = internal_error(hostname, &panic_text(&*panic));
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
        guarded("LookupDispatcher", || {
            let completed: Arc<Completions<Finished>> = Arc::default();
            let source = completed.clone();
            // Runs on the JS thread from libuv: a panic here would abort the process.
            let notify = on_completed
                .build_threadsafe_function::<()>()
                .callee_handled::<false>()
                .weak::<true>()
                .build_callback(move |_| Ok(to_js_batch(source.take_now())))?;
            Ok(LookupDispatcher {
                completed,
                notify: Arc::new(notify),
            })
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
    ) -> Option<Either<LookupAnswer, LookupFailure>> {
        let notify = self.notify.clone();
        answer_or_start(resolver, &self.completed, id, hostname, move || {
            notify.call((), ThreadsafeFunctionCallMode::NonBlocking);
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Worker threads: finished lookups wake the worker's own event loop through a socket pair it
// watches (wake.rs). Not a threadsafe function: with Node < 24.14, one still pending when a worker
// thread is terminated can corrupt memory (nodejs/node#58484). Not a libuv work item either: a
// worker waiting for lookups would hold a threadpool thread that fs, zlib and crypto need.

#[napi]
pub struct CompletionQueue {
    completed: Arc<Completions<Finished>>,
    wake: Arc<wake::Wake>,
}

#[napi]
impl CompletionQueue {
    #[napi(constructor, catch_unwind)]
    pub fn new() -> napi::Result<Self> {
        let wake = wake::Wake::new().map_err(|e| {
            Error::from_reason(format!("cannot create the wake-up socket pair: {e}"))
        })?;
        Ok(CompletionQueue {
            completed: Arc::default(),
            wake: Arc::new(wake),
        })
    }

    /// Unix: the fd of a socket that receives a byte whenever finished lookups wait in
    /// `takeNow()`; the caller owns it (given once, then `null`). Windows: `null`, see
    /// `wakeByDatagram`.
    #[napi(catch_unwind)]
    pub fn take_wake_fd(&self) -> Option<i32> {
        self.wake.take_reader()
    }

    /// Windows: from now on a datagram goes to 127.0.0.1:`port` (a dgram socket this thread
    /// watches) whenever finished lookups wait in `takeNow()`, and one goes at once for those
    /// that already do. Returns the port the datagrams come from. Unix: `null` (`takeWakeFd`).
    #[napi(catch_unwind)]
    pub fn wake_by_datagram(&self, port: u16) -> Option<u16> {
        self.wake.send_to_port(port)
    }

    /// The outcome when it needs no query (cache hit, literal). Otherwise `null`, and the lookup
    /// is started: `takeNow()` hands its outcome back under `id` once it has finished.
    #[napi(catch_unwind)]
    pub fn lookup(
        &self,
        resolver: &NativeResolver,
        id: u32,
        hostname: String,
    ) -> Option<Either<LookupAnswer, LookupFailure>> {
        let wake = self.wake.clone();
        answer_or_start(resolver, &self.completed, id, hostname, move || wake.wake())
    }

    /// Every lookup finished since the last call; never waits.
    #[napi(catch_unwind)]
    pub fn take_now(&self) -> Vec<CompletedLookup> {
        to_js_batch(self.completed.take_now())
    }
}

/// The queue goes when its thread's Node environment does (a worker exiting or terminated): no
/// wake-up may then reach a port another program could have taken (Windows).
impl Drop for CompletionQueue {
    fn drop(&mut self) {
        self.wake.stop();
    }
}

/// A connection's own lookup function found `hostname` IPv6-only: noted for the once-per-host
/// warning and `stats()`, as the addon's own lookups note it.
#[napi(catch_unwind)]
pub fn note_ipv6_only(hostname: String, ipv6_seen: Option<String>) {
    Ipv6OnlyHosts::seen().note(&hostname, ipv6_seen.and_then(|ip| ip.parse().ok()));
}

fn to_js(outcome: Outcome, fresh_until: Instant) -> Either<LookupAnswer, LookupFailure> {
    match outcome {
        Ok(answer) => Either::A(LookupAnswer {
            addresses: answer.addresses.clone(),
            ttl_ms: fresh_until
                .saturating_duration_since(Instant::now())
                .as_secs_f64()
                * 1000.0,
        }),
        Err(err) => Either::B(err.as_ref().into()),
    }
}

impl From<&LookupError> for LookupFailure {
    fn from(err: &LookupError) -> Self {
        LookupFailure {
            code: err.code.into(),
            hostname: err.hostname.clone(),
            syscall: err.syscall.to_string(),
            detail: (!err.detail.is_empty()).then(|| err.detail.clone()),
            ipv6_seen: err.ipv6_seen.map(|ip| ip.to_string()),
        }
    }
}
