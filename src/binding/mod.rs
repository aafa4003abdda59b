//! The Node-facing layer: napi exports, the mapping of JS options, the machinery that hands
//! finished lookups back to JS threads, and the check's fact types (check_facts.rs). Everything
//! it exports calls into the plain-Rust layers (`lookup`, `check`) and catches panics at the
//! boundary.

// napi-rs registers the exports only outside unit-test builds, where they would look unused.
#![cfg_attr(test, allow(dead_code))]

mod check_facts;
mod codes;
mod completions;
mod diagnose;
mod lookups;
mod options;
mod runtime;
mod stats;
mod wake;

use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;

use napi::{Error, Status};

use crate::lookup::errors::{ErrorCode, LookupError};

/// The message a panic carried.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// Runs `body`, turning a panic into a thrown Error whose message starts with EINTERNAL (napi's
/// own `catch_unwind` would give a bare GenericFailure).
fn guarded<T>(what: &str, body: impl FnOnce() -> napi::Result<T>) -> napi::Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        Err(Error::new(
            Status::GenericFailure,
            format!(
                "EINTERNAL: internal error in ipv4-force ({what}), please report it: {}",
                panic_text(&*panic)
            ),
        ))
    })
}

/// An EINTERNAL failure for a lookup that panicked.
fn internal_error(hostname: &str, why: &str) -> LookupError {
    LookupError::new(
        ErrorCode::Internal,
        hostname,
        format!("internal error in ipv4-force, please report it: {why}"),
    )
}

/// Tests set IPV4_FORCE_TEST_PANIC=<site>:<hostname> (site: answer_now, lookup, settle, diagnose,
/// find_pooler or redact) to make that
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
