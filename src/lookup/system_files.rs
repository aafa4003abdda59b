//! The files behind the system configuration, /etc/resolv.conf and /etc/hosts, followed while the
//! process runs, as getaddrinfo follows them (glibc >= 2.26 stats resolv.conf on every lookup and
//! reads /etc/hosts on every lookup; musl and macOS likewise).
//!
//! The check is cheap and rare: at most once per `CHECK_INTERVAL`, by the lookup that needs a query
//! (never on the JS thread, never for a cached answer, which only reads an atomic), it compares
//! each file's metadata (device, inode, size, mtime, ctime, following symlinks) with what it saw
//! last. A file whose metadata changed is read again, and only a change of its bytes counts: a
//! DHCP client that rewrites the same content, or `touch`, costs a read and nothing else. Each
//! counted change bumps the file's generation; resolvers compare generations with the ones they
//! were built from (resolver.rs).
//!
//! A resolv.conf that goes missing or unusable (no nameserver: a DHCP client between truncating
//! and writing it) is not a change: the last good one stays in use, for every resolver, and
//! getaddrinfo remains the fallback as always. A missing hosts file means no entries, as for
//! getaddrinfo.
//!
//! Windows: only the hosts file (%SystemRoot%\System32\drivers\etc\hosts, where hickory and
//! Windows read it) is followed; there is no resolv.conf, so that one is never found and never
//! changes (the DNS servers come from the adapters, system_config.rs).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::locking::lock;
use crate::lookup::errors::ConfigError;

/// How often the files may be checked. Overridden by `IPV4_FORCE_CONFIG_CHECK_MS` (0: on every
/// lookup that needs a query, as glibc does).
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

const RESOLV_CONF: &str = "/etc/resolv.conf";
#[cfg(unix)]
const HOSTS: &str = "/etc/hosts";

/// A file's bytes, or why it could not be read (missing, unreadable), as a person should read it.
pub type Content = Result<Arc<[u8]>, ConfigError>;

/// How many times each file's content has changed since the process first read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generations {
    pub resolv_conf: u32,
    pub hosts: u32,
}

impl Generations {
    pub fn pack(self) -> u64 {
        (u64::from(self.resolv_conf) << 32) | u64::from(self.hosts)
    }

    pub fn unpack(packed: u64) -> Self {
        Generations {
            resolv_conf: (packed >> 32) as u32,
            hosts: packed as u32,
        }
    }
}

/// What the files held at one check, with their generations (taken together, under one lock).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub resolv_conf: Content,
    pub hosts: Content,
    pub generations: Generations,
}

pub struct SystemFiles {
    interval: Duration,
    /// Origin of the millisecond clock below.
    epoch: Instant,
    /// When the next check is due, in ms since `epoch` (0: at the next lookup).
    next_due_ms: AtomicU64,
    /// `Generations`, packed, readable without the lock.
    generations: AtomicU64,
    /// Checks done and changes counted, for `stats()`.
    checks: AtomicU64,
    state: Mutex<State>,
}

struct State {
    resolv_conf: WatchedFile,
    hosts: WatchedFile,
    /// False until the first check has read both files.
    read: bool,
}

struct WatchedFile {
    path: PathBuf,
    /// Whether new bytes may replace content that was accepted before.
    usable: fn(&Content) -> bool,
    stamp: Option<Stamp>,
    /// The content in use: the last usable bytes read, or (until there were any) why none.
    content: Content,
    generation: u32,
}

/// What `stat` says of a file, following symlinks (systemd-resolved's /etc/resolv.conf is a
/// link into /run, and most tools replace a file by renaming a new one over it: a new inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stamp {
    #[cfg(unix)]
    fn of(path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Some(Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        })
    }

    #[cfg(not(unix))]
    fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        Some(Stamp {
            dev: 0,
            ino: 0,
            size: meta.len(),
            mtime_ns,
            ctime_ns: 0,
        })
    }
}

impl WatchedFile {
    fn new(path: PathBuf, usable: fn(&Content) -> bool) -> Self {
        WatchedFile {
            path,
            usable,
            stamp: None,
            content: Err(ConfigError::Unreadable {
                path: String::new(),
                reason: "not read yet".to_string(),
            }),
            generation: 0,
        }
    }

    /// Re-reads the file if its metadata changed (or `force`); true when its content changed.
    fn check(&mut self, force: bool) -> bool {
        let stamp = Stamp::of(&self.path);
        if !force && stamp == self.stamp {
            return false;
        }
        self.stamp = stamp;
        let content = read(&self.path);
        let usable = (self.usable)(&content);
        if content == self.content || (!usable && self.content.is_ok()) {
            return false;
        }
        self.content = content;
        self.generation = self.generation.wrapping_add(1);
        true
    }
}

fn read(path: &Path) -> Content {
    std::fs::read(path)
        .map(Arc::from)
        .map_err(|e| ConfigError::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

impl SystemFiles {
    pub fn new(resolv_conf: PathBuf, hosts: PathBuf, interval: Duration) -> Self {
        SystemFiles {
            interval,
            epoch: Instant::now(),
            next_due_ms: AtomicU64::new(0),
            generations: AtomicU64::new(0),
            checks: AtomicU64::new(0),
            state: Mutex::new(State {
                resolv_conf: WatchedFile::new(resolv_conf, resolv_conf_usable),
                hosts: WatchedFile::new(hosts, |_| true),
                read: false,
            }),
        }
    }

    /// The process's: /etc/resolv.conf and the hosts file hickory would read. Creating it reads
    /// nothing; the first lookup that needs a query does.
    pub fn system() -> &'static SystemFiles {
        static FILES: OnceLock<SystemFiles> = OnceLock::new();
        FILES.get_or_init(|| {
            let interval = std::env::var("IPV4_FORCE_CONFIG_CHECK_MS")
                .ok()
                .and_then(|ms| ms.trim().parse::<u64>().ok())
                .map_or(CHECK_INTERVAL, Duration::from_millis);
            SystemFiles::new(RESOLV_CONF.into(), hosts_path(), interval)
        })
    }

    fn ms_since_epoch(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// Whether a check is due: a cached answer is then not handed out, so that the lookup comes
    /// to a thread that checks. Two atomic reads, no I/O.
    pub fn check_due(&self, now: Instant) -> bool {
        self.ms_since_epoch(now) >= self.next_due_ms.load(Ordering::Acquire)
    }

    /// Until when an answer may be reused without a check (the JS thread keeps hot answers no
    /// longer than this).
    pub fn next_check(&self) -> Instant {
        self.epoch + Duration::from_millis(self.next_due_ms.load(Ordering::Acquire))
    }

    pub fn generations(&self) -> Generations {
        Generations::unpack(self.generations.load(Ordering::Acquire))
    }

    /// Makes the next lookup check the files, whatever the interval (`clearCache()`).
    pub fn check_soon(&self) {
        self.next_due_ms.store(0, Ordering::Release);
    }

    /// Checks the files if a check is due; of concurrent callers, one checks and the others go
    /// on with what was seen last. Returns the generations after the check.
    pub fn refresh(&self, now: Instant) -> Generations {
        let now_ms = self.ms_since_epoch(now);
        let due = self.next_due_ms.load(Ordering::Acquire);
        if now_ms < due {
            return self.generations();
        }
        let next = now_ms.saturating_add(self.interval.as_millis() as u64);
        if self
            .next_due_ms
            .compare_exchange(due, next, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return self.generations();
        }
        let generations = self.check(&mut lock(&self.state));
        self.checks.fetch_add(1, Ordering::Relaxed);
        generations
    }

    /// Re-reads what changed, under the state's lock; the first time, both files.
    fn check(&self, state: &mut State) -> Generations {
        let first = !state.read;
        state.read = true;
        let changed_resolv = state.resolv_conf.check(first);
        let changed_hosts = state.hosts.check(first);
        let generations = Generations {
            resolv_conf: state.resolv_conf.generation,
            hosts: state.hosts.generation,
        };
        if changed_resolv || changed_hosts {
            self.generations
                .store(generations.pack(), Ordering::Release);
        }
        generations
    }

    /// The files' contents as last read, with their generations. Refreshes first if due.
    pub fn snapshot(&self) -> Snapshot {
        self.refresh(Instant::now());
        let mut state = lock(&self.state);
        if !state.read {
            // Another caller claimed the first check and has not taken the lock yet.
            self.check(&mut state);
        }
        Snapshot {
            resolv_conf: state.resolv_conf.content.clone(),
            hosts: state.hosts.content.clone(),
            generations: Generations {
                resolv_conf: state.resolv_conf.generation,
                hosts: state.hosts.generation,
            },
        }
    }

    /// How many checks have run (for `stats()`).
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }
}

/// Whether a resolv.conf just read may replace the last good one: only if it names a nameserver.
#[cfg(not(windows))]
fn resolv_conf_usable(content: &Content) -> bool {
    super::system_config::system_config(content).is_ok()
}

/// Windows has no resolv.conf (the DNS servers come from the adapters, see system_config.rs): the
/// path is never found, and asking the adapters here would only cost time.
#[cfg(windows)]
fn resolv_conf_usable(_content: &Content) -> bool {
    true
}

/// The hosts file hickory reads on this system.
#[cfg(unix)]
fn hosts_path() -> PathBuf {
    HOSTS.into()
}

#[cfg(windows)]
fn hosts_path() -> PathBuf {
    let root = std::env::var_os("SystemRoot").unwrap_or_else(|| "C:\\Windows".into());
    Path::new(&root).join("System32\\drivers\\etc\\hosts")
}

#[cfg(not(any(unix, windows)))]
fn hosts_path() -> PathBuf {
    PathBuf::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!(
                "ipv4-force-files-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
        fn files(&self, interval: Duration) -> SystemFiles {
            SystemFiles::new(self.path("resolv.conf"), self.path("hosts"), interval)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn text(content: &Content) -> String {
        match content {
            Ok(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Err(why) => format!("error: {why}"),
        }
    }

    #[test]
    fn the_first_check_reads_both_files_and_a_missing_one_says_why() {
        let dir = Dir::new("first");
        std::fs::write(dir.path("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
        let files = dir.files(Duration::ZERO);
        assert!(
            files.check_due(Instant::now()),
            "due before the first check"
        );
        let snap = files.snapshot();
        assert_eq!(text(&snap.resolv_conf), "nameserver 127.0.0.1\n");
        assert!(
            text(&snap.hosts).starts_with("error: cannot read"),
            "{}",
            text(&snap.hosts)
        );
        assert_eq!(files.checks(), 1);
    }

    #[test]
    fn in_place_rewrites_renames_and_symlink_targets_are_all_seen() {
        let dir = Dir::new("changes");
        let resolv = dir.path("resolv.conf");
        std::fs::write(&resolv, "nameserver 127.0.0.1\n").unwrap();
        std::fs::write(dir.path("hosts"), "127.0.0.5 a.test\n").unwrap();
        let files = dir.files(Duration::ZERO);
        let start = files.snapshot().generations;

        // In place, same size: only the mtime (and the bytes) differ.
        std::fs::write(&resolv, "nameserver 127.0.0.2\n").unwrap();
        let after_write = files.refresh(Instant::now());
        assert_eq!(after_write.resolv_conf, start.resolv_conf + 1);
        assert_eq!(after_write.hosts, start.hosts);

        // By rename, as editors and resolvconf do.
        let tmp = dir.path("resolv.conf.new");
        std::fs::write(&tmp, "nameserver 127.0.0.3\n").unwrap();
        std::fs::rename(&tmp, &resolv).unwrap();
        assert_eq!(
            files.refresh(Instant::now()).resolv_conf,
            start.resolv_conf + 2
        );
        assert_eq!(
            text(&files.snapshot().resolv_conf),
            "nameserver 127.0.0.3\n"
        );

        // A symlink whose target is replaced (systemd-resolved's stub file in /run).
        #[cfg(unix)]
        {
            let target = dir.path("stub-resolv.conf");
            std::fs::write(&target, "nameserver 127.0.0.53\n").unwrap();
            std::fs::remove_file(&resolv).unwrap();
            std::os::unix::fs::symlink(&target, &resolv).unwrap();
            assert_eq!(
                files.refresh(Instant::now()).resolv_conf,
                start.resolv_conf + 3
            );
            let tmp = dir.path("stub.tmp");
            std::fs::write(&tmp, "nameserver 127.0.0.54\n").unwrap();
            std::fs::rename(&tmp, &target).unwrap();
            assert_eq!(
                files.refresh(Instant::now()).resolv_conf,
                start.resolv_conf + 4
            );
            assert_eq!(
                text(&files.snapshot().resolv_conf),
                "nameserver 127.0.0.54\n"
            );
        }

        // The hosts file removed, then back.
        std::fs::remove_file(dir.path("hosts")).unwrap();
        assert_eq!(files.refresh(Instant::now()).hosts, start.hosts + 1);
        std::fs::write(dir.path("hosts"), "127.0.0.6 a.test\n").unwrap();
        assert_eq!(files.refresh(Instant::now()).hosts, start.hosts + 2);
    }

    #[test]
    fn a_resolv_conf_gone_missing_or_unusable_keeps_the_last_good_one() {
        let dir = Dir::new("last-good");
        let resolv = dir.path("resolv.conf");
        std::fs::write(&resolv, "nameserver 127.0.0.1\n").unwrap();
        let files = dir.files(Duration::ZERO);
        let start = files.refresh(Instant::now());
        for bad in ["", "search lan\n", "garbage\n"] {
            std::fs::write(&resolv, bad).unwrap();
            assert_eq!(files.refresh(Instant::now()), start, "{bad:?}");
        }
        std::fs::remove_file(&resolv).unwrap();
        assert_eq!(files.refresh(Instant::now()), start, "missing");
        assert_eq!(
            text(&files.snapshot().resolv_conf),
            "nameserver 127.0.0.1\n"
        );
        // A good one again, with another server: that is a change.
        std::fs::write(&resolv, "nameserver 127.0.0.2\n").unwrap();
        assert_eq!(
            files.refresh(Instant::now()).resolv_conf,
            start.resolv_conf + 1
        );
    }

    #[test]
    fn until_a_usable_resolv_conf_appears_the_reason_is_kept() {
        let dir = Dir::new("never-good");
        let resolv = dir.path("resolv.conf");
        let files = dir.files(Duration::ZERO);
        let start = files.refresh(Instant::now());
        assert!(text(&files.snapshot().resolv_conf).contains("cannot read"));
        std::fs::write(&resolv, "").unwrap();
        let empty = files.refresh(Instant::now());
        assert_eq!(
            empty.resolv_conf,
            start.resolv_conf + 1,
            "an empty file is another reason"
        );
        std::fs::write(&resolv, "nameserver 127.0.0.1\n").unwrap();
        assert_eq!(
            files.refresh(Instant::now()).resolv_conf,
            start.resolv_conf + 2
        );
    }

    #[test]
    fn the_same_bytes_written_again_are_not_a_change() {
        let dir = Dir::new("same");
        let resolv = dir.path("resolv.conf");
        std::fs::write(&resolv, "nameserver 127.0.0.1\n").unwrap();
        let files = dir.files(Duration::ZERO);
        let start = files.refresh(Instant::now());
        for _ in 0..3 {
            let tmp = dir.path("tmp");
            std::fs::write(&tmp, "nameserver 127.0.0.1\n").unwrap();
            std::fs::rename(&tmp, &resolv).unwrap();
            assert_eq!(files.refresh(Instant::now()), start);
        }
        assert_eq!(files.checks(), 4);
    }

    #[test]
    fn a_file_changing_many_times_a_second_is_checked_once_per_interval() {
        let dir = Dir::new("flapping");
        let resolv = dir.path("resolv.conf");
        std::fs::write(&resolv, "nameserver 127.0.0.1\n").unwrap();
        let files = dir.files(Duration::from_secs(1));
        let t0 = Instant::now();
        let start = files.refresh(t0);
        assert!(!files.check_due(t0));
        for i in 0..50u64 {
            std::fs::write(&resolv, format!("nameserver 127.0.0.{}\n", i % 2 + 2)).unwrap();
            // Within the interval: no check, the old generation stays.
            assert_eq!(files.refresh(t0 + Duration::from_millis(i * 10)), start);
        }
        assert_eq!(files.checks(), 1);
        let later = t0 + Duration::from_millis(1000);
        assert!(files.check_due(later));
        assert_eq!(files.refresh(later).resolv_conf, start.resolv_conf + 1);
        assert_eq!(files.checks(), 2);
        assert!(files.next_check() > later);
    }

    #[test]
    fn check_soon_makes_the_next_lookup_check() {
        let dir = Dir::new("soon");
        std::fs::write(dir.path("hosts"), "127.0.0.5 a.test\n").unwrap();
        let files = dir.files(Duration::from_secs(3600));
        let start = files.refresh(Instant::now());
        std::fs::write(dir.path("hosts"), "127.0.0.7 a.test\n").unwrap();
        assert_eq!(files.refresh(Instant::now()), start, "not due for an hour");
        files.check_soon();
        assert!(files.check_due(Instant::now()));
        assert_eq!(files.refresh(Instant::now()).hosts, start.hosts + 1);
    }

    #[test]
    fn concurrent_callers_check_once() {
        let dir = Dir::new("concurrent");
        std::fs::write(dir.path("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
        let files = Arc::new(dir.files(Duration::from_secs(3600)));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let files = files.clone();
                std::thread::spawn(move || files.refresh(Instant::now()))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(files.checks(), 1);
    }
}
