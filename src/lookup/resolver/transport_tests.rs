//! The resolver on its transport, end to end against a DNS server on loopback: the source-port
//! policy holds on the direct query's sockets and, with the first nameserver benched, on hickory's
//! pooled ones (transport/); truncated replies go to TCP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use hickory_resolver::proto::op::{Message, OpCode};
use hickory_resolver::proto::rr::rdata::A;
use hickory_resolver::proto::rr::{RData, Record};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

use super::{Ipv4Resolver, ResolverSettings};
use crate::locking::lock;

const ANY_PORT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// A DNS server on 127.0.0.1 answering every A query with 192.0.2.1, over UDP (truncated,
/// without answers, when `truncate`) and TCP. Records the UDP source ports it saw.
async fn dns_server(truncate: bool) -> (SocketAddr, Arc<Mutex<Vec<u16>>>, Arc<AtomicUsize>) {
    fn answer(query: &[u8], truncate: bool) -> Vec<u8> {
        let query = Message::from_vec(query).unwrap();
        let mut response = Message::response(query.metadata.id, OpCode::Query);
        response.metadata.recursion_desired = query.metadata.recursion_desired;
        response.metadata.recursion_available = true;
        response.metadata.truncation = truncate;
        for q in &query.queries {
            response.add_query(q.clone());
            if !truncate {
                let a = RData::A(A(ANSWER));
                response.add_answer(Record::from_rdata(q.name().clone(), 60, a));
            }
        }
        response.to_vec().unwrap()
    }
    let udp = UdpSocket::bind(ANY_PORT).await.unwrap();
    let addr = udp.local_addr().unwrap();
    let tcp = TcpListener::bind(addr).await.unwrap();
    let ports = Arc::new(Mutex::new(Vec::new()));
    let tcp_queries = Arc::new(AtomicUsize::new(0));
    let seen = ports.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((len, from)) = udp.recv_from(&mut buf).await {
            lock(&seen).push(from.port());
            let _ = udp.send_to(&answer(&buf[..len], truncate), from).await;
        }
    });
    let counted = tcp_queries.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = tcp.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut len = [0u8; 2];
                while conn.read_exact(&mut len).await.is_ok() {
                    let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
                    if conn.read_exact(&mut query).await.is_err() {
                        return;
                    }
                    counted.fetch_add(1, Ordering::Relaxed);
                    let response = answer(&query, false);
                    let mut framed = (response.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(&response);
                    if conn.write_all(&framed).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, ports, tcp_queries)
}

fn resolver_for(server: SocketAddr) -> Ipv4Resolver {
    Ipv4Resolver::new(ResolverSettings {
        nameservers: Some(vec![server]),
        timeout: Some(Duration::from_secs(2)),
        attempts: Some(1),
        fallback: false,
    })
}

const ANSWER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// Resolves `prefix0.pool.test`, `prefix1.pool.test`… one at a time, or `in_flight` at once;
/// returns the source ports the server saw for them (and forgets them).
async fn ports_for(
    resolver: &Ipv4Resolver,
    ports: &Mutex<Vec<u16>>,
    prefix: &str,
    count: usize,
    in_flight: usize,
) -> Vec<u16> {
    let names: Vec<String> = (0..count)
        .map(|i| format!("{prefix}{i}.pool.test"))
        .collect();
    futures_util::stream::iter(&names)
        .map(|name| resolver.resolve(name))
        .buffer_unordered(in_flight)
        .for_each(|answer| async move {
            assert_eq!(answer.unwrap().addresses, vec![ANSWER]);
        })
        .await;
    std::mem::take(&mut *lock(ports))
}

fn distinct(ports: &[u16]) -> usize {
    ports.iter().collect::<std::collections::HashSet<_>>().len()
}

#[tokio::test]
async fn sequential_lookups_each_use_a_fresh_port() {
    let (server, ports, _) = dns_server(false).await;
    let resolver = resolver_for(server);
    let seen = ports_for(&resolver, &ports, "n", 50, 1).await;
    assert_eq!(seen.len(), 50);
    assert!(distinct(&seen) >= 45, "{} distinct ports", distinct(&seen));
}

#[tokio::test]
async fn concurrent_lookups_share_sockets() {
    let (server, ports, _) = dns_server(false).await;
    let resolver = resolver_for(server);
    let seen = ports_for(&resolver, &ports, "c", 400, 20).await;
    assert_eq!(seen.len(), 400);
    let n = distinct(&seen);
    assert!(n < 100, "{n} ports for 400 queries, 20 in flight");
}

#[tokio::test]
async fn truncated_answers_still_fall_back_to_tcp() {
    let (server, ports, tcp_queries) = dns_server(true).await;
    let resolver = resolver_for(server);
    for i in 0..3 {
        let answer = resolver
            .resolve(&format!("big{i}.pool.test"))
            .await
            .unwrap();
        assert_eq!(answer.addresses, vec![ANSWER]);
    }
    assert_eq!(lock(&ports).len(), 3, "asked over UDP first");
    assert_eq!(tcp_queries.load(Ordering::Relaxed), 3, "answered over TCP");
}

/// The same lookups with the first nameserver left out (as after it failed or was beaten):
/// every question goes through hickory's pool, whose sockets follow the same policy.
#[tokio::test]
async fn with_the_first_nameserver_benched_the_pool_keeps_the_port_policy() {
    let (server, ports, _) = dns_server(false).await;
    let resolver = resolver_for(server);
    resolver.resolve("warm.pool.test").await.unwrap();
    assert_eq!(
        resolver.with_direct_server(|s| s.bench()),
        Some(()),
        "a direct server to bench"
    );
    lock(&ports).clear();
    let sequential = ports_for(&resolver, &ports, "b", 30, 1).await;
    assert_eq!(sequential.len(), 30, "one query each");
    let n = distinct(&sequential);
    assert!(n >= 27, "a fresh port per lone lookup: {n} of 30");
    let concurrent = ports_for(&resolver, &ports, "bc", 300, 20).await;
    // Still left out: every question went through hickory's pool.
    assert_eq!(resolver.with_direct_server(|s| s.in_use()), Some(false));
    assert_eq!(concurrent.len(), 300);
    let n = distinct(&concurrent);
    assert!(
        n < 100,
        "pooled sockets shared while busy: {n} ports for 300 queries"
    );
}
