//! The transport: the UDP sockets a resolver asks its nameservers on, and the policy they share.
//! `pool` is hickory's socket provider (sockets reused while the resolver is busy), `exchange` the
//! direct query's sockets to the first nameserver. Both follow one source-port policy (a socket
//! carries at most `MAX_QUERIES_PER_SOCKET` questions, a lone lookup gets a fresh port) and report
//! sockets that could not be opened for lack of file descriptors to the resolver's `FdWatch`.

pub mod exchange;
pub mod pool;

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Questions one socket carries before it is closed, so that a busy resolver's ports keep
/// changing (spoofing resistance: see pool.rs).
pub const MAX_QUERIES_PER_SOCKET: u32 = 32;

const EMFILE: i32 = 24;
const ENFILE: i32 = 23;

/// The error says the process (or the system) is out of file descriptors.
pub fn is_fd_exhaustion(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(EMFILE | ENFILE))
}

/// When a socket of one resolver last failed to open for lack of file descriptors. hickory reports
/// such a socket as "no connections" (its error ranking drops the io::Error), so the transports
/// note it here and the resolver asks when it is handed NoConnections.
#[derive(Debug)]
pub struct FdWatch {
    /// Milliseconds since `start` of the last EMFILE/ENFILE, plus one (0: never).
    last: AtomicU64,
    start: Instant,
}

impl Default for FdWatch {
    fn default() -> Self {
        FdWatch {
            last: AtomicU64::new(0),
            start: Instant::now(),
        }
    }
}

impl FdWatch {
    /// Notes `err` if it is a lack of file descriptors.
    pub fn note(&self, err: &io::Error) {
        if is_fd_exhaustion(err) {
            let at = self.start.elapsed().as_millis() as u64 + 1;
            self.last.store(at, Ordering::Relaxed);
        }
    }

    /// A socket could not be opened for lack of file descriptors within the last `window`.
    pub fn exhausted_within(&self, window: Duration) -> bool {
        let at = self.last.load(Ordering::Relaxed);
        at != 0 && self.start.elapsed().as_millis() as u64 + 1 - at <= window.as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_exhaustion_is_remembered_briefly() {
        assert!(is_fd_exhaustion(&io::Error::from_raw_os_error(EMFILE)));
        assert!(!is_fd_exhaustion(&io::Error::from_raw_os_error(111)));
        let watch = FdWatch::default();
        assert!(!watch.exhausted_within(Duration::from_secs(1)));
        watch.note(&io::Error::from_raw_os_error(111));
        assert!(
            !watch.exhausted_within(Duration::from_secs(1)),
            "another error"
        );
        watch.note(&io::Error::from_raw_os_error(EMFILE));
        assert!(watch.exhausted_within(Duration::from_secs(1)));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!watch.exhausted_within(Duration::from_millis(10)));
        let other = FdWatch::default();
        assert!(
            !other.exhausted_within(Duration::from_secs(1)),
            "each resolver its own"
        );
    }
}
