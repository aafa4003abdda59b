//! The direct query: one UDP exchange with the first nameserver, raced after `HEDGE_AFTER` by
//! hickory's full resolver; what a direct reply settles (`settle`); and the benching of a first
//! nameserver that failed or was beaten.

use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::{DnsResponse, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RecordType};

use super::answer::{answer_for, answered_by_hickory, Failure};
use super::config::Native;
use super::{HickoryResolver, Resolved};
use crate::lookup::transport::exchange::DirectServer;

/// A question the first nameserver has not answered after this long is also put to the full
/// resolver: hickory's own UDP client re-sends a question after this interval at the least.
const HEDGE_AFTER: Duration = hickory_resolver::proto::op::DEFAULT_RETRY_FLOOR;

impl Native {
    /// `name`'s A records: from the hosts file, else from the first nameserver asked directly,
    /// else through hickory's resolver (its pool, retries, other nameservers, TCP).
    ///
    /// A direct question unanswered after `HEDGE_AFTER` is raced by the full resolver, as
    /// hickory's own UDP client re-sends a question after its retry interval: the first to
    /// settle it wins. A first nameserver that failed, or was beaten, is left out for a while.
    pub(super) async fn ask(&self, name: &Name) -> Result<Resolved, Failure> {
        let query = Query::query(name.clone(), RecordType::A);
        if let Some(lookup) = self.hosts.lookup_static_host(&query) {
            return answer_for(name, lookup.answers());
        }
        let direct_server = self.direct.as_ref().filter(|s| s.in_use());
        let Some(server) = direct_server.filter(|_| !answered_by_hickory(name)) else {
            return self.ask_pool(name).await;
        };
        // One timer: first the hedge, then the direct question's own timeout.
        let started = tokio::time::Instant::now();
        let direct = self.ask_direct(server, name, query);
        let timer = tokio::time::sleep(HEDGE_AFTER.min(server.timeout / 2));
        tokio::pin!(direct, timer);
        tokio::select! {
            biased;
            direct = &mut direct => return match direct {
                Direct::Settled(outcome) => outcome,
                Direct::Truncated => self.ask_tcp(name).await,
                Direct::Unsettled => self.ask_pool(name).await,
            },
            () = &mut timer => {}
        }
        timer.as_mut().reset(started + server.timeout);
        let full = self.ask_pool(name);
        tokio::pin!(full);
        tokio::select! {
            biased;
            direct = &mut direct => {
                if let Direct::Settled(outcome) = direct {
                    return outcome;
                }
            }
            () = &mut timer => server.bench(),
            outcome = &mut full => {
                server.bench();
                return outcome;
            }
        }
        full.await
    }

    async fn ask_pool(&self, name: &Name) -> Result<Resolved, Failure> {
        lookup_a(&self.resolver, name).await
    }

    /// After a truncated UDP reply: the question over TCP, as hickory's pool would ask next.
    async fn ask_tcp(&self, name: &Name) -> Result<Resolved, Failure> {
        match &self.tcp_resolver {
            Some(tcp) => lookup_a(tcp, name).await,
            None => self.ask_pool(name).await,
        }
    }

    /// One UDP exchange with `server`, and what its reply decides (see `settle`). A server
    /// that cannot be reached is left out for a while.
    async fn ask_direct(&self, server: &DirectServer, name: &Name, query: Query) -> Direct {
        match server.ask(&query).await {
            Ok(response) => settle(&response, name, &query, server.trust_negative_responses),
            Err(err) => {
                if err.server_trouble() {
                    server.bench();
                }
                Direct::Unsettled
            }
        }
    }
}

/// What one direct exchange decided.
enum Direct {
    /// The reply settles the question as hickory would.
    Settled(Result<Resolved, Failure>),
    /// Too big for UDP: ask over TCP.
    Truncated,
    /// Anything else: the full resolver decides (no reply in time, SERVFAIL or REFUSED, records
    /// of another class, a CNAME chain without an A record at its end, a letter-case mismatch).
    Unsettled,
}

/// What a direct reply to `query` decides: the addresses, NXDOMAIN (from a server whose negative
/// answers are trusted) and NODATA settle it as hickory would; a truncated reply goes to TCP;
/// anything else to the full resolver.
fn settle(response: &DnsResponse, name: &Name, query: &Query, trust_negative: bool) -> Direct {
    if response.truncation {
        return Direct::Truncated;
    }
    // hickory's pool refuses a reply with records of another class.
    let in_class = response
        .all_sections()
        .all(|record| record.dns_class == query.query_class());
    if !in_class {
        return Direct::Unsettled;
    }
    let no_records = |code| {
        Direct::Settled(Err(Failure::Net(NetError::Dns(DnsError::NoRecordsFound(
            NoRecords::new(query.clone(), code),
        )))))
    };
    match response.response_code {
        ResponseCode::NoError if response.answers.is_empty() => no_records(ResponseCode::NoError),
        // A chain that does not end in an A record: hickory's caching client may follow it.
        ResponseCode::NoError => match answer_for(name, &response.answers) {
            Ok(resolved) => Direct::Settled(Ok(resolved)),
            Err(_) => Direct::Unsettled,
        },
        ResponseCode::NXDomain if trust_negative => no_records(ResponseCode::NXDomain),
        _ => Direct::Unsettled,
    }
}

/// Through hickory's resolver. Boxed, as are the other rare paths: a lookup's future is moved
/// into its task when it starts, and would otherwise carry hickory's large futures inline.
pub(super) fn lookup_a<'a>(
    resolver: &'a HickoryResolver,
    name: &'a Name,
) -> BoxFuture<'a, Result<Resolved, Failure>> {
    async move {
        match resolver.lookup(name.clone(), RecordType::A).await {
            Ok(lookup) => answer_for(name, lookup.answers()),
            Err(err) => Err(Failure::Net(err)),
        }
    }
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::errors::classify;
    use hickory_resolver::proto::rr::rdata::CNAME;
    use hickory_resolver::proto::rr::{RData, Record};

    /// A reply to `name`'s A query with `rcode` and these answers.
    fn reply(name: &Name, rcode: ResponseCode, answers: Vec<Record>) -> DnsResponse {
        use hickory_resolver::proto::op::{Message, OpCode};
        let mut message = Message::response(7, OpCode::Query);
        message.metadata.response_code = rcode;
        message
            .queries
            .push(Query::query(name.clone(), RecordType::A));
        message.answers = answers;
        DnsResponse::from_message(message).unwrap()
    }

    #[test]
    fn a_direct_reply_settles_only_what_hickory_would_settle_the_same_way() {
        use hickory_resolver::proto::rr::rdata::A;
        use hickory_resolver::proto::rr::DNSClass;
        let name = Name::from_ascii("db.example.test.").unwrap();
        let query = Query::query(name.clone(), RecordType::A);
        let a = |owner: &Name, ip: [u8; 4]| {
            Record::from_rdata(
                owner.clone(),
                60,
                RData::A(A::new(ip[0], ip[1], ip[2], ip[3])),
            )
        };
        let code = |direct: Direct| match direct {
            Direct::Settled(Ok(resolved)) => format!("addresses {:?}", resolved.addresses),
            Direct::Settled(Err(Failure::Net(err))) => {
                format!("{:?}", classify("h", &err, false).code)
            }
            Direct::Settled(Err(_)) => "other failure".into(),
            Direct::Truncated => "tcp".into(),
            Direct::Unsettled => "full resolver".into(),
        };
        let decide =
            |response: DnsResponse, trust: bool| code(settle(&response, &name, &query, trust));

        let answered = reply(&name, ResponseCode::NoError, vec![a(&name, [192, 0, 2, 1])]);
        assert_eq!(decide(answered, true), "addresses [192.0.2.1]");
        assert_eq!(
            decide(reply(&name, ResponseCode::NoError, vec![]), true),
            "NoData"
        );
        assert_eq!(
            decide(reply(&name, ResponseCode::NXDomain, vec![]), true),
            "NotFound"
        );
        // A server whose NXDOMAIN is not trusted: hickory asks the others.
        assert_eq!(
            decide(reply(&name, ResponseCode::NXDomain, vec![]), false),
            "full resolver"
        );
        for rcode in [
            ResponseCode::ServFail,
            ResponseCode::Refused,
            ResponseCode::FormErr,
        ] {
            assert_eq!(
                decide(reply(&name, rcode, vec![]), true),
                "full resolver",
                "{rcode}"
            );
        }
        let mut truncated = reply(&name, ResponseCode::NoError, vec![]);
        truncated.metadata.truncation = true;
        assert_eq!(decide(truncated, true), "tcp");
        // A CNAME whose target's A record is not in the reply.
        let target = Name::from_ascii("elsewhere.example.test.").unwrap();
        let cname = Record::from_rdata(name.clone(), 60, RData::CNAME(CNAME(target)));
        assert_eq!(
            decide(reply(&name, ResponseCode::NoError, vec![cname]), true),
            "full resolver"
        );
        // Only records for another owner.
        let stranger = Name::from_ascii("other.example.test.").unwrap();
        let foreign = reply(
            &name,
            ResponseCode::NoError,
            vec![a(&stranger, [192, 0, 2, 9])],
        );
        assert_eq!(decide(foreign, true), "full resolver");
        // A record of another class.
        let mut chaos = a(&name, [192, 0, 2, 1]);
        chaos.dns_class = DNSClass::CH;
        assert_eq!(
            decide(reply(&name, ResponseCode::NoError, vec![chaos]), true),
            "full resolver"
        );
    }
}
