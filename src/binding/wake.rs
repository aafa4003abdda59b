//! Wakes a worker thread's event loop from any thread without a libuv threadpool thread or a
//! threadsafe function: the worker's libuv loop watches a socket, and whichever thread finishes
//! a batch of lookups sends it a byte. Nothing is polled, no thread waits, and once the worker
//! is gone a wake-up is a send that fails or goes nowhere (never a call into a dead Node env).
//!
//! - Unix: one end of a socket pair, adopted by a `net.Socket` on its fd.
//! - Windows: a UDP socket on loopback that the worker binds with `dgram`. libuv on Windows cannot
//!   adopt a socket made here (`net.Socket({ fd })` takes a C runtime file descriptor, which a
//!   SOCKET is not), so the worker makes the socket and the addon sends datagrams to its port.

#[cfg(unix)]
pub use unix::Wake;
#[cfg(windows)]
pub use windows::Wake;

#[cfg(unix)]
mod unix {
    use std::io;
    use std::os::fd::{IntoRawFd, OwnedFd};
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
        pub fn take_reader(&self) -> Option<i32> {
            lock(&self.reader).take().map(IntoRawFd::into_raw_fd)
        }

        /// Windows only (the worker's datagram socket); a socket pair needs no address.
        pub fn send_to_port(&self, _port: u16) -> Option<u16> {
            None
        }

        /// Nothing to do: a closed reader already makes every later send fail.
        pub fn stop(&self) {}

        /// One byte for the watcher. Errors are ignored on purpose: a full buffer means a wake-up
        /// is already waiting, and a closed reader (the worker has exited) means nobody is left to
        /// wake. MSG_NOSIGNAL: a closed reader must not raise SIGPIPE.
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
}

#[cfg(windows)]
mod windows {
    use std::io;
    use std::net::{Ipv4Addr, UdpSocket};
    use std::sync::atomic::{AtomicU16, Ordering};

    pub struct Wake {
        /// Bound to 127.0.0.1 at once, so that the worker knows which port its wake-ups come
        /// from and can ignore datagrams from anyone else.
        socket: UdpSocket,
        /// The worker's socket's port on 127.0.0.1: 0 until it is bound, and again once the
        /// worker's queue is gone (the port may then belong to another program).
        to: AtomicU16,
    }

    impl Wake {
        pub fn new() -> io::Result<Self> {
            let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
            socket.set_nonblocking(true)?;
            Ok(Wake {
                socket,
                to: AtomicU16::new(0),
            })
        }

        /// Unix only: libuv on Windows cannot adopt a socket made here.
        pub fn take_reader(&self) -> Option<i32> {
            None
        }

        /// From now on, wake-ups go to 127.0.0.1:`port`, starting with one now for lookups that
        /// finished before. Returns the port they come from.
        pub fn send_to_port(&self, port: u16) -> Option<u16> {
            self.to.store(port, Ordering::SeqCst);
            self.wake();
            self.socket.local_addr().ok().map(|a| a.port())
        }

        /// No more wake-ups: the worker's queue is being dropped (its thread is exiting).
        pub fn stop(&self) {
            self.to.store(0, Ordering::SeqCst);
        }

        /// One datagram for the watcher. Errors are ignored on purpose: a full receive buffer
        /// means a wake-up is already waiting, and a closed port (the worker has exited) means
        /// nobody is left to wake. Windows raises no signal for either.
        pub fn wake(&self) {
            let port = self.to.load(Ordering::SeqCst);
            if port != 0 {
                let _ = self.socket.send_to(&[1], (Ipv4Addr::LOCALHOST, port));
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_wake_up_reaches_the_port_once_it_is_known() {
            let wake = Wake::new().unwrap();
            let watcher = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            wake.wake(); // no port yet: nothing sent
            let from = wake.send_to_port(watcher.local_addr().unwrap().port());
            let mut byte = [0u8; 8];
            let (n, sender) = watcher.recv_from(&mut byte).unwrap();
            assert_eq!((n, Some(sender.port())), (1, from));
            wake.stop();
            wake.wake(); // stopped: nothing sent
        }
    }
}
