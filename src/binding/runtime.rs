//! The process-wide machinery the addon needs before any export is called: the allocator and the
//! tokio runtime.

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
