//! Which records count as the answer: A records owned by the name asked or by its CNAME chain,
//! their TTL (RFC 2181), and the names hickory answers itself (RFC 6761).

use std::time::{Duration, Instant};

use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::domain::usage::{self, ResolverUsage};
use hickory_resolver::proto::rr::rdata::CNAME;
use hickory_resolver::proto::rr::{Name, RData, Record};

use super::Resolved;

/// CNAME hops followed before a chain counts as broken.
pub(super) const MAX_CNAME_HOPS: usize = 16;

/// Why one candidate name gave no address.
pub(super) enum Failure {
    Net(NetError),
    /// The name exists but no A record for it or its CNAME chain came back.
    NoAddress,
    CnameLoop,
}

/// The addresses of `asked` in `lookup`: A records owned by `asked` or by a name its CNAME chain
/// leads to (case-insensitive), never a record for another owner listed in the same answer and
/// never an AAAA record. Valid for the smallest TTL among the records used.
pub(super) fn answer_for(asked: &Name, records: &[Record]) -> Result<Resolved, Failure> {
    let mut chain: Vec<Name> = vec![asked.clone()];
    let mut ttl = u32::MAX;
    let mut current = asked.clone();
    while let Some((next, cname_ttl)) = cname_record_of(&current, records) {
        if chain.len() > MAX_CNAME_HOPS || chain.iter().any(|n| same_name(n, &next)) {
            return Err(Failure::CnameLoop);
        }
        ttl = ttl.min(rfc2181_ttl(cname_ttl));
        chain.push(next.clone());
        current = next;
    }
    let mut addresses = Vec::new();
    for record in records {
        if let RData::A(a) = &record.data {
            if chain.iter().any(|n| same_name(n, &record.name)) {
                if !addresses.contains(&a.0) {
                    addresses.push(a.0);
                }
                ttl = ttl.min(rfc2181_ttl(record.ttl));
            }
        }
    }
    if addresses.is_empty() {
        return Err(Failure::NoAddress);
    }
    Ok(Resolved {
        addresses,
        valid_until: Instant::now() + Duration::from_secs(ttl.into()),
    })
}

/// RFC 2181 §8: a TTL with the most significant bit set is treated as zero.
fn rfc2181_ttl(ttl: u32) -> u32 {
    if ttl >= 1 << 31 {
        0
    } else {
        ttl
    }
}

/// The target (and TTL) of the CNAME record owned by `owner`, if `records` hold one.
pub(super) fn cname_record_of(owner: &Name, records: &[Record]) -> Option<(Name, u32)> {
    records.iter().find_map(|r| match &r.data {
        RData::CNAME(CNAME(target)) if same_name(&r.name, owner) => Some((target.clone(), r.ttl)),
        _ => None,
    })
}

/// Case-insensitive, with or without the final dot (hosts-file records may lack it).
pub(super) fn same_name(a: &Name, b: &Name) -> bool {
    a.eq_ignore_root(b)
}

pub(super) fn fqdn(mut name: Name) -> Name {
    name.set_fqdn(true);
    name
}

/// A name checked by `parse_host` (lower-case ASCII) as a hickory Name built from ASCII: hickory
/// parsing a string goes through IDNA, which refuses underscores (`my_service`) DNS carries fine.
pub(super) fn dns_name(name: &str) -> Result<Name, NetError> {
    let parsed = if name.is_ascii() {
        Name::from_ascii(name)
    } else {
        Name::from_utf8(name)
    };
    parsed.map_err(NetError::from)
}

/// Names hickory answers without asking a nameserver (RFC 6761: localhost, `.invalid`...),
/// found by the same rule as its caching client.
pub(super) fn answered_by_hickory(name: &Name) -> bool {
    // Every such zone ends in one of these labels: most names are told apart by it alone.
    let last = name.iter().next_back().unwrap_or_default();
    let maybe = [&b"localhost"[..], b"invalid", b"local", b"onion", b"arpa"]
        .iter()
        .any(|tld| tld.eq_ignore_ascii_case(last));
    if !maybe {
        return false;
    }
    let special = [
        &*usage::LOCALHOST,
        &*usage::IN_ADDR_ARPA_127,
        &*usage::IP6_ARPA_1,
        &*usage::INVALID,
        &*usage::LOCAL,
        &*usage::ONION,
    ];
    special
        .into_iter()
        .find(|zone| zone.zone_of(name))
        .is_some_and(|zone| {
            !matches!(
                zone.resolver(),
                ResolverUsage::Normal | ResolverUsage::LinkLocal
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_use_names_are_left_to_hickory() {
        let special = |name: &str| answered_by_hickory(&Name::from_ascii(name).unwrap());
        for name in [
            "localhost.",
            "db.LOCALHOST.",
            "x.invalid.",
            "1.0.0.127.in-addr.arpa.",
        ] {
            assert!(special(name), "{name}");
        }
        // `.local` is asked like any name (hickory has no mDNS here); look-alikes are not special.
        for name in [
            "printer.local.",
            "mylocalhost.",
            "localhost.example.",
            "db.example.com.",
        ] {
            assert!(!special(name), "{name}");
        }
    }
}
