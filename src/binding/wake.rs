//! Wakes a worker thread's event loop from any thread without a libuv threadpool thread or a
//! threadsafe function: the worker's libuv loop watches one end of a socket pair (a `net.Socket`
//! on its fd), and the other end gets a byte whenever finished lookups are waiting.

use std::io;
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use socket2::Socket;

use crate::locking::lock;

pub struct Wake {
    writer: Socket,
    /// The end the worker watches, until it takes it (then libuv owns and closes it).
    reader: Mutex<Option<OwnedFd>>,
}

impl Wake {
    pub fn new() -> io::Result<Self> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        Ok(Wake {
            writer: Socket::from(OwnedFd::from(writer)),
            reader: Mutex::new(Some(OwnedFd::from(reader))),
        })
    }

    /// The fd to watch; its ownership passes to the caller. None after the first call.
    pub fn take_reader(&self) -> Option<RawFd> {
        lock(&self.reader).take().map(IntoRawFd::into_raw_fd)
    }

    /// One byte for the watcher. Errors are ignored on purpose: a full buffer means a wake-up is
    /// already waiting, and a closed reader (the worker has exited) means nobody is left to wake.
    /// MSG_NOSIGNAL: a closed reader must not raise SIGPIPE.
    pub fn wake(&self) {
        let _ = self.writer.send_with_flags(&[1], libc::MSG_NOSIGNAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::FromRawFd;

    #[test]
    fn a_wake_up_reaches_the_reader() {
        let wake = Wake::new().unwrap();
        let fd = wake.take_reader().unwrap();
        assert!(
            wake.take_reader().is_none(),
            "the reader is handed out once"
        );
        wake.wake();
        let mut reader = unsafe { UnixStream::from_raw_fd(fd) };
        let mut byte = [0u8; 8];
        assert_eq!(reader.read(&mut byte).unwrap(), 1);
    }

    #[test]
    fn waking_a_closed_reader_or_a_full_buffer_is_harmless() {
        let wake = Wake::new().unwrap();
        for _ in 0..100_000 {
            wake.wake(); // fills the socket buffer: later sends fail with EAGAIN, ignored
        }
        drop(unsafe { UnixStream::from_raw_fd(wake.take_reader().unwrap()) });
        wake.wake(); // EPIPE, no SIGPIPE
    }
}
