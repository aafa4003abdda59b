//! A hickory `RuntimeProvider` that reuses UDP sockets between queries while the resolver is busy.
//! (It serves hickory's own queries; the direct query to the first nameserver shares sockets of
//! its own, under the same port policy: exchange.rs.)
//!
//! Why: hickory's UDP client opens a new socket for every query (socket, bind, epoll_ctl add,
//! then epoll_ctl del and close). This provider hands hickory an already bound socket from a
//! small per-resolver pool instead, and takes it back when hickory drops it. Measured again since
//! the direct query took the first nameserver's traffic (bench row 2e: first nameserver down,
//! 100 lookups in flight): 1.20x to 1.28x the lookups of a socket per query, and about a sixth
//! less CPU per lookup, so hickory's own provider is not used.
//!
//! Source-port policy (spoofing resistance, like c-ares'): a socket is only kept for reuse when
//! other queries of this resolver are still in flight as it is returned; the socket of the last
//! query in flight is closed. So each of a sequence of one-at-a-time lookups goes out from a
//! fresh socket, on a port the OS picks at random, and only a busy resolver reuses sockets. A
//! socket also serves at most `MAX_QUERIES_PER_SOCKET` queries, and one idle for
//! `DEFAULT_IDLE_TIMEOUT` is closed (by a sweeper task, even when no query comes), so ports keep
//! changing under load and nothing is held after it. An attacker who learnt one query's port
//! therefore cannot aim at the next lookups with only the 16-bit query id to guess.
//!
//! Why reuse is safe: a socket goes back to the pool only after a complete exchange, that is
//! when every datagram sent on it got a datagram back and hickory was not left waiting for one
//! (a query that timed out or was abandoned, e.g. by hickory's retry racing a second socket,
//! closes its socket, so a late answer can never reach a later query). A datagram found waiting
//! on a socket when it is returned or handed out also closes it. And should a stray datagram
//! slip through anyway, hickory checks the source address and port, the random 16-bit id and
//! the question of every response before it accepts one (hickory-net udp_client_stream.rs).
//! Each socket carries one query at a time.
//!
//! An explicit (non-zero) local port gets a fresh socket bound exactly there, as with
//! `TokioRuntimeProvider`.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hickory_resolver::net::runtime::{
    DnsUdpSocket, RuntimeProvider, TokioHandle, TokioRuntimeProvider, TokioTime,
};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

use crate::locking::lock;
use crate::lookup::counters::QUERIES_SENT;
use crate::lookup::transport::{FdWatch, MAX_QUERIES_PER_SOCKET};

/// Idle sockets kept per resolver while it is busy: enough for a few hundred lookups in flight
/// (a server under load) to find a socket ready instead of binding one.
pub const DEFAULT_MAX_IDLE: usize = 256;
/// A pooled socket unused this long is closed instead of reused.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// `TokioRuntimeProvider` with pooled UDP sockets. Clones share the pool.
#[derive(Clone)]
pub struct PooledUdpProvider {
    tokio: TokioRuntimeProvider,
    pool: Arc<UdpPool>,
    /// The resolver's: where a socket that could not be opened for lack of descriptors is noted.
    fds: Arc<FdWatch>,
}

struct UdpPool {
    state: Mutex<PoolState>,
    max_idle: usize,
    max_queries: u32,
    idle_timeout: Duration,
}

#[derive(Default)]
struct PoolState {
    /// Oldest return first.
    idle: VecDeque<IdleSocket>,
    /// Sockets handed out (or being bound) and not yet dropped: the queries in flight.
    in_use: usize,
    /// A task closes idle sockets as they go stale.
    sweeping: bool,
}

struct IdleSocket {
    socket: UdpSocket,
    /// The address it was asked to bind (the port is the OS's choice).
    local_ip: IpAddr,
    /// Queries it has served so far.
    queries: u32,
    /// When it was returned.
    since: Instant,
}

impl Default for PooledUdpProvider {
    fn default() -> Self {
        Self::with_limits(
            DEFAULT_MAX_IDLE,
            MAX_QUERIES_PER_SOCKET,
            DEFAULT_IDLE_TIMEOUT,
        )
    }
}

impl PooledUdpProvider {
    /// The default limits, noting descriptor exhaustion in `fds`. With `IPV4_FORCE_UDP_POOL=0` in
    /// the environment (read once; for measurements), nothing is kept for reuse: a socket per
    /// query, as hickory's own provider does.
    pub fn new(fds: Arc<FdWatch>) -> Self {
        static POOL: OnceLock<bool> = OnceLock::new();
        let pool = *POOL.get_or_init(|| std::env::var("IPV4_FORCE_UDP_POOL").as_deref() != Ok("0"));
        let max_idle = if pool { DEFAULT_MAX_IDLE } else { 0 };
        PooledUdpProvider {
            fds,
            ..Self::with_limits(max_idle, MAX_QUERIES_PER_SOCKET, DEFAULT_IDLE_TIMEOUT)
        }
    }

    /// At most `max_idle` idle sockets; a socket is closed once it has served `max_queries`, or
    /// sat unused for `idle_timeout`.
    pub fn with_limits(max_idle: usize, max_queries: u32, idle_timeout: Duration) -> Self {
        PooledUdpProvider {
            tokio: TokioRuntimeProvider::default(),
            fds: Arc::default(),
            pool: Arc::new(UdpPool {
                state: Mutex::new(PoolState::default()),
                max_idle,
                max_queries: max_queries.max(1),
                idle_timeout,
            }),
        }
    }

    /// Sockets waiting in the pool.
    #[cfg(test)]
    pub fn idle_sockets(&self) -> usize {
        lock(&self.pool.state).idle.len()
    }
}

impl RuntimeProvider for PooledUdpProvider {
    type Handle = TokioHandle;
    type Timer = TokioTime;
    type Udp = PooledUdpSocket;
    type Tcp = <TokioRuntimeProvider as RuntimeProvider>::Tcp;

    fn create_handle(&self) -> Self::Handle {
        self.tokio.create_handle()
    }

    fn connect_tcp(
        &self,
        server_addr: SocketAddr,
        bind_addr: Option<SocketAddr>,
        timeout: Option<Duration>,
    ) -> Pin<Box<dyn Send + Future<Output = Result<Self::Tcp, io::Error>>>> {
        let connect = self.tokio.connect_tcp(server_addr, bind_addr, timeout);
        let fds = self.fds.clone();
        Box::pin(async move {
            let stream = connect.await.inspect_err(|e| fds.note(e))?;
            QUERIES_SENT.note();
            Ok(stream)
        })
    }

    fn bind_udp(
        &self,
        local_addr: SocketAddr,
        _server_addr: SocketAddr,
    ) -> Pin<Box<dyn Send + Future<Output = Result<Self::Udp, io::Error>>>> {
        // A port picked by hickory (os_port_selection off) or by the configuration: bind exactly
        // there, and close the socket after use.
        let fds = self.fds.clone();
        if local_addr.port() != 0 {
            return Box::pin(async move {
                let socket = UdpSocket::bind(local_addr)
                    .await
                    .inspect_err(|e| fds.note(e))?;
                Ok(PooledUdpSocket::new(socket, local_addr.ip(), 0, None))
            });
        }
        let mut claim = Claim(Some(self.pool.clone()));
        if let Some(idle) = self.pool.take(local_addr.ip()) {
            let home = claim.0.take();
            let socket = PooledUdpSocket::new(idle.socket, idle.local_ip, idle.queries, home);
            return Box::pin(std::future::ready(Ok(socket)));
        }
        Box::pin(async move {
            let socket = UdpSocket::bind(local_addr)
                .await
                .inspect_err(|e| fds.note(e))?;
            Ok(PooledUdpSocket::new(
                socket,
                local_addr.ip(),
                0,
                claim.0.take(),
            ))
        })
    }
}

/// A query in flight that has no socket yet (being bound): counted in `in_use` until it becomes a
/// `PooledUdpSocket` or is dropped (bind failed, query abandoned).
struct Claim(Option<Arc<UdpPool>>);

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            pool.give_back(None);
        }
    }
}

impl UdpPool {
    /// Counts a new query in flight, and hands it the most recently returned quiet socket bound
    /// to `local_ip`, if any.
    fn take(&self, local_ip: IpAddr) -> Option<IdleSocket> {
        let mut first = true;
        loop {
            let idle = {
                let mut state = lock(&self.state);
                if first {
                    state.in_use += 1;
                    first = false;
                }
                let at = state.idle.iter().rposition(|s| s.local_ip == local_ip)?;
                state.idle.remove(at)?
            };
            // Free unless it sat idle too long or a datagram arrived meanwhile (then it is
            // closed, unlocked).
            if idle.since.elapsed() < self.idle_timeout && is_quiet(&idle.socket) {
                return Some(idle);
            }
        }
    }

    /// One query in flight fewer; `returned` is its socket if it may be reused.
    fn give_back(self: &Arc<Self>, returned: Option<IdleSocket>) {
        let returned = returned.filter(|s| s.queries < self.max_queries && is_quiet(&s.socket));
        let now = Instant::now();
        let mut start_sweeper = false;
        // Closed outside the lock.
        let (_surplus, _stale) = {
            let mut state = lock(&self.state);
            state.in_use = state.in_use.saturating_sub(1);
            let stale = state.take_stale(now, self.idle_timeout);
            let surplus = match returned {
                // The last query in flight: its socket is not kept, so that a lookup after a
                // pause, and each of a sequence of one-at-a-time lookups, gets a fresh port.
                Some(socket) if state.in_use > 0 && state.idle.len() < self.max_idle => {
                    state.idle.push_back(IdleSocket {
                        since: now,
                        ..socket
                    });
                    if !state.sweeping {
                        state.sweeping = true;
                        start_sweeper = true;
                    }
                    None
                }
                other => other,
            };
            (surplus, stale)
        };
        if start_sweeper {
            self.start_sweeper();
        }
    }

    /// Closes idle sockets once they have been idle for `idle_timeout`, also when no query
    /// comes to find them stale. Runs while the pool holds idle sockets.
    fn start_sweeper(self: &Arc<Self>) {
        let pool = Arc::downgrade(self);
        let timeout = self.idle_timeout;
        let sweep = async move {
            let mut wait = timeout;
            loop {
                tokio::time::sleep(wait).await;
                let Some(pool) = pool.upgrade() else {
                    return;
                };
                let now = Instant::now();
                let _stale = {
                    let mut state = lock(&pool.state);
                    let stale = state.take_stale(now, timeout);
                    match state.idle.front() {
                        Some(oldest) => {
                            wait = timeout.saturating_sub(now.duration_since(oldest.since))
                        }
                        None => {
                            state.sweeping = false;
                            return;
                        }
                    }
                    stale
                };
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(sweep)),
            // Outside the runtime (not expected: sockets are dropped by hickory's tasks):
            // stale sockets then go at the next take or return.
            Err(_) => lock(&self.state).sweeping = false,
        }
    }
}

impl PoolState {
    /// Removes the sockets idle for `timeout` or longer (they are at the front).
    fn take_stale(&mut self, now: Instant, timeout: Duration) -> VecDeque<IdleSocket> {
        let stale = self
            .idle
            .partition_point(|s| now.duration_since(s.since) >= timeout);
        if stale == 0 {
            return VecDeque::new();
        }
        let fresh = self.idle.split_off(stale);
        std::mem::replace(&mut self.idle, fresh)
    }
}

/// Nothing waiting to be read. Costs no system call when tokio already knows the socket is not
/// readable; otherwise the recvfrom that finds it empty is one the next query would have made.
fn is_quiet(socket: &UdpSocket) -> bool {
    let mut scratch = [0u8; 1];
    matches!(socket.try_recv_from(&mut scratch), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// A tokio UDP socket that counts its traffic, and goes back to its pool on drop when the last
/// exchange on it was complete.
pub struct PooledUdpSocket {
    socket: Option<UdpSocket>,
    home: Option<Arc<UdpPool>>,
    local_ip: IpAddr,
    queries_before: u32,
    sent: AtomicU32,
    received: AtomicU32,
    /// The last receive returned Pending: someone is (or was) waiting for an answer.
    waiting: AtomicBool,
    failed: AtomicBool,
}

impl PooledUdpSocket {
    fn new(
        socket: UdpSocket,
        local_ip: IpAddr,
        queries_before: u32,
        home: Option<Arc<UdpPool>>,
    ) -> Self {
        PooledUdpSocket {
            socket: Some(socket),
            home,
            local_ip,
            queries_before,
            sent: AtomicU32::new(0),
            received: AtomicU32::new(0),
            waiting: AtomicBool::new(false),
            failed: AtomicBool::new(false),
        }
    }

    fn io(&self) -> &UdpSocket {
        self.socket
            .as_ref()
            .expect("the socket is only taken on drop")
    }

    /// The local address (the port the OS chose).
    #[cfg(test)]
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io().local_addr()
    }

    /// Every datagram sent got one back, nobody was left waiting, and nothing failed.
    fn exchange_complete(&self) -> bool {
        !self.failed.load(Ordering::Relaxed)
            && !self.waiting.load(Ordering::Relaxed)
            && self.received.load(Ordering::Relaxed) >= self.sent.load(Ordering::Relaxed)
    }
}

impl DnsUdpSocket for PooledUdpSocket {
    type Time = TokioTime;

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        let mut read = ReadBuf::new(buf);
        match self.io().poll_recv_from(cx, &mut read) {
            Poll::Pending => {
                self.waiting.store(true, Ordering::Relaxed);
                Poll::Pending
            }
            Poll::Ready(Ok(from)) => {
                self.waiting.store(false, Ordering::Relaxed);
                self.received.fetch_add(1, Ordering::Relaxed);
                Poll::Ready(Ok((read.filled().len(), from)))
            }
            Poll::Ready(Err(e)) => {
                self.failed.store(true, Ordering::Relaxed);
                Poll::Ready(Err(e))
            }
        }
    }

    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        let sent = self.io().poll_send_to(cx, buf, target);
        match &sent {
            Poll::Ready(Ok(_)) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
                QUERIES_SENT.note();
            }
            Poll::Ready(Err(_)) => self.failed.store(true, Ordering::Relaxed),
            Poll::Pending => {}
        }
        sent
    }
}

impl Drop for PooledUdpSocket {
    fn drop(&mut self) {
        let Some(pool) = self.home.take() else {
            return;
        };
        let socket = self.socket.take();
        let reusable = socket.filter(|_| self.exchange_complete());
        pool.give_back(reusable.map(|socket| IdleSocket {
            socket,
            local_ip: self.local_ip,
            queries: self.queries_before.saturating_add(*self.sent.get_mut()),
            since: Instant::now(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_resolver::net::runtime::DnsUdpSocket;

    use super::*;

    const ANY_PORT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

    /// A UDP server on 127.0.0.1 that echoes every datagram back.
    async fn echo_server() -> SocketAddr {
        let server = UdpSocket::bind(ANY_PORT).await.unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((len, from)) = server.recv_from(&mut buf).await {
                let _ = server.send_to(&buf[..len], from).await;
            }
        });
        addr
    }

    async fn socket(provider: &PooledUdpProvider) -> PooledUdpSocket {
        provider.bind_udp(ANY_PORT, ANY_PORT).await.unwrap()
    }

    async fn exchange(socket: &PooledUdpSocket, server: SocketAddr) {
        socket.send_to(b"ping", server).await.unwrap();
        let mut buf = [0u8; 16];
        let (len, from) = socket.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..len], from), (&b"ping"[..], server));
    }

    fn port(socket: &PooledUdpSocket) -> u16 {
        socket.local_addr().unwrap().port()
    }

    /// Another query in flight, so that the pool keeps what is returned to it.
    async fn keep_busy(provider: &PooledUdpProvider) -> PooledUdpSocket {
        socket(provider).await
    }

    #[tokio::test]
    async fn a_socket_is_reused_while_other_queries_are_in_flight() {
        let server = echo_server().await;
        let provider = PooledUdpProvider::default();
        let _busy = keep_busy(&provider).await;
        let first = socket(&provider).await;
        let first_port = port(&first);
        exchange(&first, server).await;
        drop(first);
        assert_eq!(provider.idle_sockets(), 1);

        let second = socket(&provider).await;
        assert_eq!(
            port(&second),
            first_port,
            "the pooled socket is handed out again"
        );
        assert_eq!(provider.idle_sockets(), 0);
        exchange(&second, server).await;
        drop(second);
        assert_eq!(provider.idle_sockets(), 1);

        // A socket that was handed out but never used goes back too.
        drop(socket(&provider).await);
        assert_eq!(provider.idle_sockets(), 1);
    }

    #[tokio::test]
    async fn the_socket_of_the_last_query_in_flight_is_closed() {
        let server = echo_server().await;
        let provider = PooledUdpProvider::default();
        let s = socket(&provider).await;
        exchange(&s, server).await;
        drop(s);
        assert_eq!(provider.idle_sockets(), 0, "nothing else was in flight");

        // One query at a time: a fresh OS-chosen (random) port for each.
        let mut ports = std::collections::HashSet::new();
        for _ in 0..50 {
            let s = socket(&provider).await;
            exchange(&s, server).await;
            ports.insert(port(&s));
            drop(s);
            assert_eq!(provider.idle_sockets(), 0);
        }
        assert!(ports.len() >= 45, "{} distinct ports", ports.len());
    }

    #[tokio::test]
    async fn a_failed_or_abandoned_bind_is_not_counted_in_flight() {
        let server = echo_server().await;
        let provider = PooledUdpProvider::default();
        // Created, never polled: the claim it made is released on drop.
        drop(provider.bind_udp(ANY_PORT, server));
        let s = socket(&provider).await;
        exchange(&s, server).await;
        drop(s);
        assert_eq!(provider.idle_sockets(), 0, "nothing else was in flight");
    }

    #[tokio::test]
    async fn idle_sockets_are_closed_after_the_idle_timeout() {
        let server = echo_server().await;
        let provider =
            PooledUdpProvider::with_limits(DEFAULT_MAX_IDLE, 1000, Duration::from_millis(40));
        let busy = keep_busy(&provider).await;
        let mut burst = Vec::new();
        for _ in 0..5 {
            let s = socket(&provider).await;
            exchange(&s, server).await;
            burst.push(s);
        }
        drop(burst);
        assert_eq!(provider.idle_sockets(), 5);
        // No query comes: the sweeper closes them anyway.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(provider.idle_sockets(), 0);
        drop(busy);

        // A stale socket is not handed out even before the sweeper gets to it.
        let _busy = keep_busy(&provider).await;
        let old = socket(&provider).await;
        let old_port = port(&old);
        exchange(&old, server).await;
        drop(old);
        std::thread::sleep(Duration::from_millis(60));
        let fresh = socket(&provider).await;
        assert_ne!(port(&fresh), old_port);
    }

    #[tokio::test]
    async fn a_socket_with_an_unanswered_send_is_closed() {
        // Bound, never read: it answers nothing.
        let silent = std::net::UdpSocket::bind(ANY_PORT).unwrap();
        let provider = PooledUdpProvider::default();
        let _busy = keep_busy(&provider).await;

        // Sent, then the query was abandoned before any receive.
        let s = socket(&provider).await;
        s.send_to(b"ping", silent.local_addr().unwrap())
            .await
            .unwrap();
        drop(s);
        assert_eq!(provider.idle_sockets(), 0);

        // Sent, then timed out while waiting for the answer.
        let s = socket(&provider).await;
        s.send_to(b"ping", silent.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0u8; 16];
        let waited = tokio::time::timeout(Duration::from_millis(20), s.recv_from(&mut buf)).await;
        assert!(waited.is_err(), "nothing answers");
        drop(s);
        assert_eq!(provider.idle_sockets(), 0);
    }

    #[tokio::test]
    async fn a_socket_left_waiting_after_a_rejected_reply_is_closed() {
        // One reply that hickory would reject (wrong id or question), then silence.
        let server = UdpSocket::bind(ANY_PORT).await.unwrap();
        let server_addr = server.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 16];
            if let Ok((_, from)) = server.recv_from(&mut buf).await {
                let _ = server.send_to(b"forged", from).await;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let provider = PooledUdpProvider::default();
        let _busy = keep_busy(&provider).await;
        let s = socket(&provider).await;
        s.send_to(b"ping", server_addr).await.unwrap();
        let mut buf = [0u8; 16];
        s.recv_from(&mut buf).await.unwrap();
        // The real answer may still come: hickory waits for it, and gives up.
        let waited = tokio::time::timeout(Duration::from_millis(20), s.recv_from(&mut buf)).await;
        assert!(waited.is_err());
        drop(s);
        assert_eq!(provider.idle_sockets(), 0);
    }

    #[tokio::test]
    async fn a_late_answer_never_reaches_a_later_query() {
        // Answers only when told to, after the query was given up.
        let server = UdpSocket::bind(ANY_PORT).await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let provider = PooledUdpProvider::default();
        let _busy = keep_busy(&provider).await;
        let s = socket(&provider).await;
        let old_port = port(&s);
        s.send_to(b"old", server_addr).await.unwrap();
        let mut buf = [0u8; 16];
        assert!(
            tokio::time::timeout(Duration::from_millis(20), s.recv_from(&mut buf))
                .await
                .is_err()
        );
        drop(s);
        assert_eq!(provider.idle_sockets(), 0);
        let (_, client) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(client.port(), old_port);
        // The late answer goes to a closed port (or to whoever has it now, but not to us).
        server.send_to(b"late", client).await.unwrap();

        let echo = echo_server().await;
        let next = socket(&provider).await;
        exchange(&next, echo).await;
    }

    #[tokio::test]
    async fn a_datagram_arriving_while_idle_closes_the_socket() {
        let server = echo_server().await;
        let provider = PooledUdpProvider::default();
        let _busy = keep_busy(&provider).await;
        let s = socket(&provider).await;
        let addr = s.local_addr().unwrap();
        exchange(&s, server).await;
        drop(s);
        assert_eq!(provider.idle_sockets(), 1);

        let stranger = UdpSocket::bind(ANY_PORT).await.unwrap();
        stranger.send_to(b"stray", addr).await.unwrap();
        // Let tokio's reactor see the socket become readable.
        tokio::time::sleep(Duration::from_millis(50)).await;

        let next = socket(&provider).await;
        assert_eq!(provider.idle_sockets(), 0, "the idle socket was closed");
        // A fresh socket: its first datagram is the echo, not the stray.
        exchange(&next, server).await;
    }

    #[tokio::test]
    async fn a_socket_is_closed_after_its_query_cap() {
        let server = echo_server().await;
        let provider = PooledUdpProvider::with_limits(DEFAULT_MAX_IDLE, 3, DEFAULT_IDLE_TIMEOUT);
        let _busy = keep_busy(&provider).await;
        let first = socket(&provider).await;
        let first_port = port(&first);
        exchange(&first, server).await;
        drop(first);
        for served in 2..=3 {
            let s = socket(&provider).await;
            assert_eq!(port(&s), first_port);
            exchange(&s, server).await;
            drop(s);
            let expected_idle = if served < 3 { 1 } else { 0 };
            assert_eq!(
                provider.idle_sockets(),
                expected_idle,
                "after {served} queries"
            );
        }
        let fresh = socket(&provider).await;
        exchange(&fresh, server).await;
        drop(fresh);
        assert_eq!(provider.idle_sockets(), 1);
    }

    #[tokio::test]
    async fn the_idle_pool_is_bounded() {
        let server = echo_server().await;
        let provider = PooledUdpProvider::with_limits(2, 1000, DEFAULT_IDLE_TIMEOUT);
        let _busy = keep_busy(&provider).await;
        let mut in_use = Vec::new();
        for _ in 0..5 {
            in_use.push(socket(&provider).await);
        }
        for s in &in_use {
            exchange(s, server).await;
        }
        drop(in_use);
        assert_eq!(provider.idle_sockets(), 2);
    }

    #[tokio::test]
    async fn an_explicit_local_port_is_bound_exactly_and_not_pooled() {
        let server = echo_server().await;
        let free = std::net::UdpSocket::bind(ANY_PORT)
            .unwrap()
            .local_addr()
            .unwrap();
        let provider = PooledUdpProvider::default();
        let _busy = keep_busy(&provider).await;
        let s = provider.bind_udp(free, server).await.unwrap();
        assert_eq!(s.local_addr().unwrap(), free);
        exchange(&s, server).await;
        drop(s);
        assert_eq!(provider.idle_sockets(), 0);
    }
}
