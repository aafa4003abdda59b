//! One DNS question over UDP to one nameserver, built and checked with hickory-proto's message
//! types, without hickory's name-server pool, caching client and exchange tasks.
//!
//! Why: under load those layers cost more CPU than the query itself (channels, shared futures,
//! a spawned exchange per query, the request encoded and parsed back twice). The common case, a
//! nameserver that answers, needs none of them; every other case (no answer in time, SERVFAIL,
//! REFUSED, a truncated answer, a reply that fails a check) is left to the full resolver, which
//! retries, tries the other nameservers and falls back to TCP (resolver.rs decides).
//!
//! The checks are hickory's own (hickory-net udp_client_stream.rs): the source address and
//! port, the random 16-bit id, then the question, letter case included (0x20). A reply that
//! fails the address, id or question check is ignored and the wait goes on, so a spoofed
//! datagram cannot end the exchange early; one with the right question in the wrong case is
//! reported as `CaseMismatch`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hickory_resolver::net::runtime::{DnsUdpSocket, RuntimeProvider};
use hickory_resolver::proto::op::{DnsRequest, DnsRequestOptions, DnsResponse, Query};

use crate::lookup::udp_pool::PooledUdpProvider;

/// Larger than any UDP reply a server sends without EDNS (512 bytes) or with hickory's default
/// EDNS payload (1232). A datagram that fills it may have been cut: the full resolver asks again.
const RECEIVE_BUFFER: usize = 4096;

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

/// Asks `server` for `query` once, from a pooled socket (udp_pool.rs), and waits for the reply
/// that passes the checks; the caller bounds the wait. The reply's question is the one asked, in
/// its original letter case.
pub async fn exchange(
    provider: &PooledUdpProvider,
    server: SocketAddr,
    query: &Query,
    options: QueryOptions,
) -> Result<DnsResponse, ExchangeError> {
    // Only what the checks need is kept across the awaits (the future's size is copied when a
    // lookup starts).
    let (id, sent_question, bytes) = {
        let mut request_options = DnsRequestOptions::default();
        request_options.recursion_desired = options.recursion_desired;
        request_options.case_randomization = options.case_randomization;
        if let Some(payload) = options.edns_payload {
            request_options.use_edns = true;
            request_options.edns_payload_len = payload;
        }
        let mut request = DnsRequest::from_query(query.clone(), request_options);
        let bytes = request.to_vec().map_err(|_| ExchangeError::Encode)?;
        (request.id, request.queries.swap_remove(0), bytes)
    };

    let local = match server {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    };
    let socket = provider
        .bind_udp(local, server)
        .await
        .map_err(|_| ExchangeError::Io)?;
    let sent = socket
        .send_to(&bytes, server)
        .await
        .map_err(|_| ExchangeError::Io)?;
    if sent != bytes.len() {
        return Err(ExchangeError::Io);
    }

    let mut buffer = vec![0u8; RECEIVE_BUFFER];
    loop {
        let (len, from) = socket
            .recv_from(&mut buffer)
            .await
            .map_err(|_| ExchangeError::Io)?;
        // Address and id before any parsing: a forged datagram must not end the wait.
        if from.ip().to_canonical() != server.ip().to_canonical() || from.port() != server.port() {
            continue;
        }
        let reply = &buffer[..len];
        if reply.len() < 2 || u16::from_be_bytes([reply[0], reply[1]]) != id {
            continue;
        }
        if len == buffer.len() {
            return Err(ExchangeError::Oversized);
        }
        let Ok(mut response) = DnsResponse::from_buffer(reply.to_vec()) else {
            continue;
        };
        if response.queries.len() != 1 || response.queries[0] != sent_question {
            continue;
        }
        if options.case_randomization && !response.queries[0].name().eq_case(sent_question.name()) {
            return Err(ExchangeError::CaseMismatch);
        }
        response.queries[0] = query.clone();
        return Ok(response);
    }
}

/// How long the first nameserver is left out after it failed to answer (no reply in time, a
/// socket error) or was beaten by the full resolver: lookups then go through hickory's pool,
/// which ranks the nameservers by their answers, until it is tried again.
pub const BENCHED_FOR: Duration = Duration::from_secs(30);

/// A nameserver asked directly, and whether it is asked at the moment.
pub struct DirectServer {
    pub provider: PooledUdpProvider,
    pub address: SocketAddr,
    pub trust_negative_responses: bool,
    pub options: QueryOptions,
    /// The configured per-try timeout.
    pub timeout: Duration,
    /// Until when it is left out (milliseconds since `epoch`, 0: not left out).
    benched_until: AtomicU64,
    epoch: Instant,
}

impl DirectServer {
    pub fn new(
        provider: PooledUdpProvider,
        address: SocketAddr,
        trust_negative_responses: bool,
        options: QueryOptions,
        timeout: Duration,
    ) -> Self {
        DirectServer {
            provider,
            address,
            trust_negative_responses,
            options,
            timeout,
            benched_until: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Unbounded: see `exchange`.
    pub async fn ask(&self, query: &Query) -> Result<DnsResponse, ExchangeError> {
        exchange(&self.provider, self.address, query, self.options).await
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
        let provider = PooledUdpProvider::default();
        tokio::time::timeout(
            Duration::from_secs(2),
            exchange(&provider, server, &question(), OPTIONS),
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
            PooledUdpProvider::default(),
            "127.0.0.1:53".parse().unwrap(),
            true,
            OPTIONS,
            Duration::from_secs(1),
        );
        assert!(server.in_use());
        server.bench();
        assert!(!server.in_use());
        assert!(ExchangeError::Io.server_trouble());
        assert!(!ExchangeError::CaseMismatch.server_trouble());
    }
}
