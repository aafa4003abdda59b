//! What the addon sets up once per process: the allocator, and the tokio runtime lookups run on,
//! sized from the CPUs this process may use.
//!
//! A lookup is a few µs of work between network waits, split about 1 : 3 between Node's thread
//! (4.4 µs: start it, hand the answer back) and tokio's (14 µs: hickory's query path). How many
//! tokio threads pay off was measured on a quiet 16-core machine, everything pinned with
//! `taskset`, cold lookups at 100 in flight against a local dnsmasq, as ipv4-force ÷ c-ares
//! (`dns.promises.resolve4`), issue 13:
//!
//! | cores | 1 worker | 2 workers | 4 workers |
//! |-------|----------|-----------|-----------|
//! | 2     | 0.73x    | 0.75x     |           |
//! | 4     | 0.84x    |           |           |
//! | 8     |          | 1.36x     |           |
//! | 16    | 0.64x    | 1.33–1.41x| 2.11x     |
//!
//! Hence [`default_worker_threads`]:
//! - **≤ 2 cores: 1.** A second worker gains nothing (0.73x → 0.75x): Node's thread, the DNS
//!   server and the application already fill both cores, and cross-thread wake-ups cost ~20% more
//!   CPU per lookup (the 2-vCPU bench).
//! - **3–11 cores: 2.** With a core to spare the second worker pays: 2 workers on 8 cores beat
//!   1 worker on 4 or 16 (1.36x vs 0.84x / 0.64x); one worker is the bottleneck from 4 cores up.
//! - **12+ cores: a quarter of the cores, at most 4** (3 on 12–15, 4 from 16): 4 workers on 16
//!   cores gained another 1.5x over 2. Four is where the measurements end, and where tokio's side
//!   (4 / 14 µs ≈ 285k lookups/s) outgrows what one JS thread can start and finish
//!   (1 / 4.4 µs ≈ 227k/s): more workers would wait on Node, and a quarter keeps the other cores
//!   for the application and libuv's threadpool.
//!
//! `TOKIO_WORKER_THREADS` (a positive integer) overrides the formula.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

/// mimalloc, not glibc malloc: each lookup allocates and frees on the tokio thread, where glibc's
/// per-thread arena kept growing and trimming its heap (an mprotect system call per lookup); cold
/// lookups cost ~25% less CPU with it. Built as mimalloc v2 with local-dynamic TLS, as a library
/// loaded with dlopen needs: v3 crashed (either TLS model) in worker threads loading the addon.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Builds the runtime when the addon loads, sized by [`worker_threads_for`].
#[napi_derive::module_init]
fn init_runtime() {
    init();
}

/// Worker threads of the tokio runtime lookups run on (`null`: napi-rs's default runtime).
#[napi_derive::napi]
pub fn runtime_worker_threads() -> Option<u32> {
    worker_threads().map(|n| n as u32)
}

/// The override's name, read once when the addon loads.
pub const ENV_VAR: &str = "TOKIO_WORKER_THREADS";

/// The most workers the formula picks (see the module docs).
const MAX_DEFAULT_WORKERS: usize = 4;

/// Worker threads for a process that may use `cores` CPUs (see the module docs for the table this
/// follows).
pub fn default_worker_threads(cores: usize) -> usize {
    match cores {
        0..=2 => 1,
        3..=11 => 2,
        _ => (cores / 4).min(MAX_DEFAULT_WORKERS),
    }
}

/// The worker count: `env` when it is a positive integer, the formula otherwise.
pub fn worker_threads_for(env: Option<&str>, cores: usize) -> usize {
    env.and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| default_worker_threads(cores))
}

/// CPUs this process may use: affinity (`taskset`) and cgroup CPU quota included; 1 if unknown.
pub fn usable_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Workers of the runtime built by [`init`]; 0 until then, or when it could not be built.
static WORKERS: AtomicUsize = AtomicUsize::new(0);

/// Builds the runtime and hands it to napi-rs; once per process (every worker thread loading the
/// addon calls it).
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let env = std::env::var(ENV_VAR).ok();
        let workers = worker_threads_for(env.as_deref(), usable_cores());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build();
        // On failure napi-rs builds its default runtime on first use.
        if let Ok(runtime) = runtime {
            napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
            WORKERS.store(workers, Ordering::Relaxed);
        }
    });
}

/// Worker threads of the runtime lookups run on, `None` if napi-rs's default runtime is used.
pub fn worker_threads() -> Option<usize> {
    match WORKERS.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_worker_up_to_two_cores() {
        for cores in 0..=2 {
            assert_eq!(default_worker_threads(cores), 1, "{cores} cores");
        }
    }

    #[test]
    fn two_workers_from_three_cores() {
        for cores in 3..=11 {
            assert_eq!(default_worker_threads(cores), 2, "{cores} cores");
        }
    }

    #[test]
    fn a_quarter_of_many_cores_at_most_four() {
        assert_eq!(default_worker_threads(12), 3);
        assert_eq!(default_worker_threads(15), 3);
        assert_eq!(default_worker_threads(16), 4);
        assert_eq!(default_worker_threads(64), 4);
        assert_eq!(default_worker_threads(1024), 4);
    }

    #[test]
    fn never_shrinks_as_cores_grow() {
        for cores in 1..256 {
            let (a, b) = (
                default_worker_threads(cores),
                default_worker_threads(cores + 1),
            );
            assert!(a <= b, "{cores} cores: {a}, {} cores: {b}", cores + 1);
        }
    }

    #[test]
    fn the_measured_points() {
        // Issue 13's table: the counts that did best where they were measured.
        assert_eq!(default_worker_threads(2), 1);
        assert_eq!(default_worker_threads(8), 2);
        assert_eq!(default_worker_threads(16), 4);
    }

    #[test]
    fn a_positive_override_wins() {
        assert_eq!(worker_threads_for(Some("3"), 2), 3);
        assert_eq!(worker_threads_for(Some(" 8 "), 64), 8);
        assert_eq!(worker_threads_for(Some("1"), 16), 1);
    }

    #[test]
    fn an_invalid_override_falls_back_to_the_formula() {
        for bad in ["", "0", "-2", "two", "1.5"] {
            assert_eq!(worker_threads_for(Some(bad), 16), 4, "{bad:?}");
        }
        assert_eq!(worker_threads_for(None, 16), 4);
        assert_eq!(worker_threads_for(None, 1), 1);
    }

    #[test]
    fn usable_cores_is_positive() {
        assert!(usable_cores() >= 1);
    }
}
