//! One DNS question over UDP to one nameserver, built and checked with hickory-proto's message
//! types, without hickory's name-server pool, caching client and exchange tasks.
//!
//! Why: under load those layers cost more CPU than the query itself (channels, shared futures,
//! a spawned exchange per query, the request encoded and parsed back twice). The common case, a
//! nameserver that answers, needs none of them; every other case (no answer in time, SERVFAIL,
//! REFUSED, a truncated answer, a reply that fails a check) is left to the full resolver, which
//! retries, tries the other nameservers and falls back to TCP (resolver.rs decides).
//!
//! Sockets: the questions in flight share a socket connected to the nameserver, so one wake-up
//! reads every reply that has come in (c-ares does the same). Port policy, as udp_pool.rs has it
//! for hickory's queries: a socket carries at most `QUERIES_PER_SOCKET` questions over its life,
//! and is closed as soon as none is in flight, so one-at-a-time lookups each go out from a new
//! port the OS picks at random, and only a busy resolver shares one. An id is never used twice on
//! a socket, so a late reply to a question given up on cannot be taken for a later one.
//!
//! The checks are hickory's own (hickory-net udp_client_stream.rs): the source address and port
//! (the kernel's, for a connected socket), the random 16-bit id, then the question, letter case
//! included (0x20). A reply that fails them is ignored and the wait goes on, so a spoofed
//! datagram cannot end the exchange early; one with the right question in the wrong case is
//! reported as `CaseMismatch`.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::{DnsRequest, DnsRequestOptions, DnsResponse, Query};
use tokio::net::UdpSocket;
use tokio::sync::{oneshot, Notify};

use crate::locking::lock;
use crate::lookup::counters::QUERIES_SENT;
use crate::lookup::transport::{FdWatch, MAX_QUERIES_PER_SOCKET};

/// Larger than any UDP reply a server sends without EDNS (512 bytes) or with hickory's default
/// EDNS payload (1232). A datagram that fills it may have been cut: the full resolver asks again.
const RECEIVE_BUFFER: usize = 4096;
/// Questions one socket carries over its life (the pool's limit for hickory's sockets).
const QUERIES_PER_SOCKET: usize = MAX_QUERIES_PER_SOCKET as usize;

/// How to ask: the options hickory's resolver would put in its request.
#[derive(Debug, Clone, Copy)]
pub struct QueryOptions {
    pub recursion_desired: bool,
    pub edns_payload: Option<u16>,
    pub case_randomization: bool,
}

/// Why the exchange gave no usable reply.
#[derive(Debug)]
pub enum ExchangeError {
    /// No socket, or sending or receiving failed (e.g. ICMP port unreachable).
    Io,
    /// The right question came back in another letter case: hickory's sign of a spoof attempt.
    CaseMismatch,
    /// hickory-proto could not encode the question (not expected for a checked name).
    Encode,
    /// The reply filled the receive buffer, so it may have been cut.
    Oversized,
}

type Reply = Result<DnsResponse, ExchangeError>;

/// The sockets to one nameserver: the one new questions go out on, if it takes more. Weak: a
/// socket lives while questions are in flight on it (and its reader runs), and no longer.
pub struct Sockets {
    server: SocketAddr,
    current: Mutex<Weak<Channel>>,
    /// The resolver's: where a socket that could not be opened for lack of descriptors is noted.
    fds: Arc<FdWatch>,
}

/// One connected socket, the questions in flight on it, and the task that reads its replies.
struct Channel {
    socket: UdpSocket,
    state: Mutex<ChannelState>,
    /// Tells the reader to stop: nothing is in flight any more, and nothing will be.
    closing: Notify,
}

#[derive(Default)]
struct ChannelState {
    waiting: HashMap<u16, Waiter>,
    /// Every id used on this socket (at most `QUERIES_PER_SOCKET`).
    ids: Vec<u16>,
    closed: bool,
}

struct Waiter {
    /// As sent: in random letter case.
    question: Query,
    case_randomization: bool,
    reply: oneshot::Sender<Reply>,
}

impl Sockets {
    pub fn new(server: SocketAddr, fds: Arc<FdWatch>) -> Self {
        Sockets {
            server,
            current: Mutex::new(Weak::new()),
            fds,
        }
    }

    /// A socket that takes one more question, and a fresh id on it under which `question` now
    /// waits for its reply.
    fn register(
        &self,
        question: Query,
        case_randomization: bool,
    ) -> io::Result<(Arc<Channel>, u16, oneshot::Receiver<Reply>)> {
        let mut current = lock(&self.current);
        let open = current.upgrade().filter(|c| !lock(&c.state).closed);
        let channel = match open {
            Some(channel) => channel,
            None => {
                let channel = Channel::open(self.server, &self.fds)?;
                *current = Arc::downgrade(&channel);
                tokio::spawn(read_replies(channel.clone()));
                channel
            }
        };
        let mut state = lock(&channel.state);
        let id = loop {
            let id = rand::random::<u16>();
            if !state.ids.contains(&id) {
                break id;
            }
        };
        state.ids.push(id);
        if state.ids.len() >= QUERIES_PER_SOCKET {
            // Its last question: the next goes out on a new socket.
            *current = Weak::new();
        }
        let (reply, receiver) = oneshot::channel();
        let waiter = Waiter {
            question,
            case_randomization,
            reply,
        };
        state.waiting.insert(id, waiter);
        drop(state);
        Ok((channel, id, receiver))
    }
}

impl Channel {
    fn open(server: SocketAddr, fds: &FdWatch) -> io::Result<Arc<Channel>> {
        let local = match server {
            SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
            SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
        };
        let socket = std::net::UdpSocket::bind(local).inspect_err(|e| fds.note(e))?;
        socket.connect(server)?;
        socket.set_nonblocking(true)?;
        Ok(Arc::new(Channel {
            socket: UdpSocket::from_std(socket)?,
            state: Mutex::new(ChannelState::default()),
            closing: Notify::new(),
        }))
    }

    /// Hands a datagram to the question it answers, if it passes the checks.
    fn deliver(&self, datagram: &[u8], may_be_cut: bool) {
        let Some(id) = datagram.first_chunk::<2>().map(|b| u16::from_be_bytes(*b)) else {
            return;
        };
        if !lock(&self.state).waiting.contains_key(&id) {
            return; // a late reply to a question given up on, or a forged one
        }
        let reply = if may_be_cut {
            Err(ExchangeError::Oversized)
        } else {
            match DnsResponse::from_buffer(datagram.to_vec()) {
                Ok(response) => Ok(response),
                Err(_) => return,
            }
        };
        let mut state = lock(&self.state);
        let Some(waiter) = state.waiting.get(&id) else {
            return;
        };
        let reply = match reply {
            Ok(response) => {
                let asked = &waiter.question;
                if response.queries.len() != 1 || response.queries[0] != *asked {
                    return; // forged: the wait goes on
                }
                if waiter.case_randomization && !response.queries[0].name().eq_case(asked.name()) {
                    Err(ExchangeError::CaseMismatch)
                } else {
                    Ok(response)
                }
            }
            Err(err) => Err(err),
        };
        if let Some(waiter) = state.waiting.remove(&id) {
            let _ = waiter.reply.send(reply);
        }
        self.close_if_idle(&mut state);
    }

    /// Receiving failed (the nameserver's port is closed, say): every question in flight fails.
    fn fail_all(&self) {
        let mut state = lock(&self.state);
        for (_, waiter) in state.waiting.drain() {
            let _ = waiter.reply.send(Err(ExchangeError::Io));
        }
        self.close_if_idle(&mut state);
    }

    /// The question under `id` is given up on (no reply in time, or the lookup was dropped).
    fn forget(&self, id: u16) {
        let mut state = lock(&self.state);
        state.waiting.remove(&id);
        self.close_if_idle(&mut state);
    }

    fn close_if_idle(&self, state: &mut ChannelState) {
        if state.waiting.is_empty() && !state.closed {
            state.closed = true;
            self.closing.notify_one();
        }
    }
}

/// Reads the socket's replies until it is closed; the socket goes with the last reference.
async fn read_replies(channel: Arc<Channel>) {
    let mut buffer = vec![0u8; RECEIVE_BUFFER];
    loop {
        let received = tokio::select! {
            received = channel.socket.recv(&mut buffer) => received,
            () = channel.closing.notified() => return,
        };
        match received {
            Ok(len) => channel.deliver(&buffer[..len], len == buffer.len()),
            Err(_) => {
                channel.fail_all();
                return;
            }
        }
    }
}

/// A registered question: forgotten when the exchange ends or is dropped.
struct InFlight {
    channel: Arc<Channel>,
    id: u16,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.channel.forget(self.id);
    }
}

/// Asks the nameserver of `sockets` for `query` once and waits for the reply that passes the
/// checks; the caller bounds the wait. The reply's question is the one asked, in its original
/// letter case.
pub async fn exchange(sockets: &Sockets, query: &Query, options: QueryOptions) -> Reply {
    let mut request_options = DnsRequestOptions::default();
    request_options.recursion_desired = options.recursion_desired;
    request_options.case_randomization = options.case_randomization;
    if let Some(payload) = options.edns_payload {
        request_options.use_edns = true;
        request_options.edns_payload_len = payload;
    }
    let mut request = DnsRequest::from_query(query.clone(), request_options);
    let sent_question = request.queries[0].clone();
    let (channel, id, reply) = sockets
        .register(sent_question, options.case_randomization)
        .map_err(|_| ExchangeError::Io)?;
    let in_flight = InFlight { channel, id };
    request.metadata.id = id;
    let bytes = request.to_vec().map_err(|_| ExchangeError::Encode)?;
    drop(request);
    let sent = in_flight
        .channel
        .socket
        .send(&bytes)
        .await
        .map_err(|_| ExchangeError::Io)?;
    if sent != bytes.len() {
        return Err(ExchangeError::Io);
    }
    QUERIES_SENT.note();
    let mut response = reply.await.map_err(|_| ExchangeError::Io)??;
    response.queries[0] = query.clone();
    Ok(response)
}

/// How long the first nameserver is left out after it failed to answer (no reply in time, a
/// socket error) or was beaten by the full resolver: lookups then go through hickory's pool,
/// which ranks the nameservers by their answers, until it is tried again.
pub const BENCHED_FOR: Duration = Duration::from_secs(30);

/// A nameserver asked directly, and whether it is asked at the moment.
pub struct DirectServer {
    sockets: Sockets,
    pub trust_negative_responses: bool,
    options: QueryOptions,
    /// The configured per-try timeout.
    pub timeout: Duration,
    /// Until when it is left out (milliseconds since `epoch`, 0: not left out).
    benched_until: AtomicU64,
    epoch: Instant,
}

impl DirectServer {
    pub fn new(
        address: SocketAddr,
        trust_negative_responses: bool,
        options: QueryOptions,
        timeout: Duration,
        fds: Arc<FdWatch>,
    ) -> Self {
        DirectServer {
            sockets: Sockets::new(address, fds),
            trust_negative_responses,
            options,
            timeout,
            benched_until: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Unbounded: see `exchange`.
    pub async fn ask(&self, query: &Query) -> Result<DnsResponse, ExchangeError> {
        exchange(&self.sockets, query, self.options).await
    }

    /// False while it is left out.
    pub fn in_use(&self) -> bool {
        self.millis_now() >= self.benched_until.load(Ordering::Relaxed)
    }

    pub fn bench(&self) {
        let until = self.millis_now() + BENCHED_FOR.as_millis() as u64;
        self.benched_until.store(until, Ordering::Relaxed);
    }

    fn millis_now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}

impl ExchangeError {
    /// The server itself looks unusable (rather than this one question having a hard answer).
    pub fn server_trouble(&self) -> bool {
        matches!(self, ExchangeError::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::{Message, ResponseCode};
    use hickory_resolver::proto::rr::rdata::A;
    use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
    use tokio::net::UdpSocket;

    const OPTIONS: QueryOptions = QueryOptions {
        recursion_desired: true,
        edns_payload: None,
        case_randomization: true,
    };

    fn question() -> Query {
        Query::query(Name::from_ascii("db.example.test.").unwrap(), RecordType::A)
    }

    /// The reply a server would send to `query`, with one A record per address.
    fn reply_to(query: &Message, addresses: &[[u8; 4]]) -> Message {
        let mut reply = Message::response(query.id, query.op_code);
        reply.metadata.response_code = ResponseCode::NoError;
        reply.queries = query.queries.clone();
        let name = query.queries[0].name().clone();
        for a in addresses {
            let rdata = RData::A(A::new(a[0], a[1], a[2], a[3]));
            reply
                .answers
                .push(Record::from_rdata(name.clone(), 60, rdata));
        }
        reply
    }

    /// A server on loopback that hands each query it receives to `respond`, which sends what
    /// it likes from the server socket (or from `other`, another socket on loopback).
    async fn server<F>(respond: F) -> SocketAddr
    where
        F: Fn(&Message) -> Vec<(bool, Vec<u8>)> + Send + 'static,
    {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buffer = [0u8; 1500];
            loop {
                let Ok((len, from)) = socket.recv_from(&mut buffer).await else {
                    return;
                };
                let query = Message::from_vec(&buffer[..len]).unwrap();
                for (from_other, bytes) in respond(&query) {
                    let sender = if from_other { &other } else { &socket };
                    sender.send_to(&bytes, from).await.unwrap();
                }
            }
        });
        address
    }

    async fn ask(server: SocketAddr) -> Result<DnsResponse, ExchangeError> {
        let sockets = Sockets::new(server, Arc::default());
        tokio::time::timeout(
            Duration::from_secs(2),
            exchange(&sockets, &question(), OPTIONS),
        )
        .await
        .expect("the exchange settles")
    }

    #[tokio::test]
    async fn the_reply_comes_back_with_the_question_as_asked() {
        let address = server(|query| {
            // 0x20: the name went out in some mixed case.
            let asked = query.queries[0].name().to_ascii();
            assert_eq!(asked.to_lowercase(), "db.example.test.");
            vec![(false, reply_to(query, &[[192, 0, 2, 1]]).to_vec().unwrap())]
        })
        .await;
        let response = ask(address).await.unwrap();
        assert_eq!(response.queries[0].name().to_ascii(), "db.example.test.");
        assert_eq!(response.answers.len(), 1);
    }

    #[tokio::test]
    async fn forged_replies_are_ignored_and_the_real_one_is_taken() {
        let address = server(|query| {
            let forged = reply_to(query, &[[198, 51, 100, 66]]);
            let mut wrong_id = forged.clone();
            wrong_id.metadata.id = query.id.wrapping_add(1);
            let mut wrong_question = forged.clone();
            wrong_question.queries[0] = Query::query(
                Name::from_ascii("other.example.test.").unwrap(),
                RecordType::A,
            );
            vec![
                (false, wrong_id.to_vec().unwrap()),
                (false, wrong_question.to_vec().unwrap()),
                // Right id and question, from another port.
                (true, forged.to_vec().unwrap()),
                (false, b"not dns".to_vec()),
                (false, reply_to(query, &[[192, 0, 2, 1]]).to_vec().unwrap()),
            ]
        })
        .await;
        let response = ask(address).await.unwrap();
        assert_eq!(
            response.answers[0].data,
            RData::A(A::new(192, 0, 2, 1)),
            "only the genuine reply is taken"
        );
    }

    #[tokio::test]
    async fn the_question_in_another_letter_case_is_a_case_mismatch() {
        let address = server(|query| {
            let mut reply = reply_to(query, &[[192, 0, 2, 1]]);
            let lower = query.queries[0].name().to_ascii().to_lowercase();
            let upper = lower.to_uppercase();
            // Whichever case the query did not use for every letter.
            let other = if query.queries[0].name().to_ascii() == upper {
                lower
            } else {
                upper
            };
            reply.queries[0] = Query::query(Name::from_ascii(other).unwrap(), RecordType::A);
            vec![(false, reply.to_vec().unwrap())]
        })
        .await;
        assert!(matches!(
            ask(address).await,
            Err(ExchangeError::CaseMismatch)
        ));
    }

    /// Source ports seen by a server that answers every query, and the server's address.
    async fn answering_server() -> (SocketAddr, Arc<Mutex<Vec<u16>>>) {
        let ports = Arc::new(Mutex::new(Vec::new()));
        let seen = ports.clone();
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buffer = [0u8; 1500];
            while let Ok((len, from)) = socket.recv_from(&mut buffer).await {
                seen.lock().unwrap().push(from.port());
                let query = Message::from_vec(&buffer[..len]).unwrap();
                let reply = reply_to(&query, &[[192, 0, 2, 1]]).to_vec().unwrap();
                socket.send_to(&reply, from).await.unwrap();
            }
        });
        (address, ports)
    }

    #[tokio::test]
    async fn questions_in_flight_share_a_socket_and_one_at_a_time_each_get_a_new_one() {
        let (address, ports) = answering_server().await;
        let sockets = Sockets::new(address, Arc::default());
        let asked = question();
        let concurrent = (0..QUERIES_PER_SOCKET).map(|_| exchange(&sockets, &asked, OPTIONS));
        for reply in futures_util::future::join_all(concurrent).await {
            reply.unwrap();
        }
        let distinct = |ports: &[u16]| ports.iter().collect::<std::collections::HashSet<_>>().len();
        assert_eq!(
            distinct(&ports.lock().unwrap()),
            1,
            "32 questions at once, one socket"
        );
        ports.lock().unwrap().clear();
        for _ in 0..10 {
            exchange(&sockets, &question(), OPTIONS).await.unwrap();
        }
        assert_eq!(
            distinct(&ports.lock().unwrap()),
            10,
            "one at a time: a port each"
        );
    }

    #[tokio::test]
    async fn a_socket_closes_when_its_last_question_is_answered_or_given_up() {
        let (address, _) = answering_server().await;
        let sockets = Sockets::new(address, Arc::default());
        let closed = |sockets: &Sockets| lock(&sockets.current).upgrade().is_none();
        exchange(&sockets, &question(), OPTIONS).await.unwrap();
        tokio::task::yield_now().await; // the reader sees it is closed
        assert!(closed(&sockets));
        // Given up on: a server that never answers.
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sockets = Sockets::new(silent.local_addr().unwrap(), Arc::default());
        let asked = question();
        let wait = exchange(&sockets, &asked, OPTIONS);
        assert!(tokio::time::timeout(Duration::from_millis(50), wait)
            .await
            .is_err());
        tokio::task::yield_now().await;
        assert!(closed(&sockets));
    }

    #[tokio::test]
    async fn a_socket_carries_at_most_its_quota_of_questions() {
        let (address, ports) = answering_server().await;
        let sockets = Sockets::new(address, Arc::default());
        let asked = question();
        let concurrent = (0..3 * QUERIES_PER_SOCKET).map(|_| exchange(&sockets, &asked, OPTIONS));
        for reply in futures_util::future::join_all(concurrent).await {
            reply.unwrap();
        }
        let ports = ports.lock().unwrap();
        let mut per_port = std::collections::HashMap::<u16, usize>::new();
        for port in ports.iter() {
            *per_port.entry(*port).or_default() += 1;
        }
        assert!(
            per_port.values().all(|&n| n <= QUERIES_PER_SOCKET),
            "{per_port:?}"
        );
        assert_eq!(per_port.len(), 3);
    }

    #[tokio::test]
    async fn a_reply_that_may_have_been_cut_is_not_used() {
        let address = server(|query| {
            let mut bytes = reply_to(query, &[[192, 0, 2, 1]]).to_vec().unwrap();
            bytes.resize(RECEIVE_BUFFER + 100, 0);
            vec![(false, bytes)]
        })
        .await;
        assert!(matches!(ask(address).await, Err(ExchangeError::Oversized)));
    }

    #[tokio::test]
    async fn a_benched_server_is_not_asked_and_only_socket_trouble_benches_it() {
        let server = DirectServer::new(
            "127.0.0.1:53".parse().unwrap(),
            true,
            OPTIONS,
            Duration::from_secs(1),
            Arc::default(),
        );
        assert!(server.in_use());
        server.bench();
        assert!(!server.in_use());
        assert!(ExchangeError::Io.server_trouble());
        assert!(!ExchangeError::CaseMismatch.server_trouble());
    }
}
