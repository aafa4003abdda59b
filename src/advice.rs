//! What ipv4-force tells a person to do: the remedies in error messages, each worded once here.
//! (lib/fallback.js holds a JS copy for platforms without the addon;
//! __test__/fallback.test.js checks that both say the same.) `ipv4-force check` returns facts,
//! worded by lib/check-words.js.

use std::net::Ipv6Addr;

/// After "ENODATA <host>: " when a host has no IPv4 address at all.
pub fn ipv6_only(hostname: &str, ipv6_seen: Option<Ipv6Addr>) -> String {
    let seen = match ipv6_seen {
        Some(ip) => format!("the name resolves only to IPv6 ({ip})"),
        None => "the name has no A record".to_string(),
    };
    let endpoint = match supabase_project_ref(hostname) {
        Some(project) => format!(
            "This is a Supabase direct host, which is IPv6-only: {}",
            supabase_pooler(project)
        ),
        None => {
            "Use an IPv4 endpoint of this service (for a Supabase database, the session pooler \
                 aws-0-[REGION].pooler.supabase.com)"
                .to_string()
        }
    };
    format!(
        "no IPv4 address: {seen}, and ipv4-force is connecting over IPv4 only because this \
         network cannot reach IPv6. {endpoint}, or run on a network with working IPv6."
    )
}

/// The warning given once per IPv6-only host that a connection (or a patched dns.lookup) found:
/// the error's own advice, for when a library swallows the error.
pub fn ipv6_only_warning(hostname: &str, ipv6_seen: Option<Ipv6Addr>) -> String {
    format!(
        "connections to {hostname} fail with ENODATA: {} (Given once per host, in case a library \
         reported the failure without this explanation.)",
        ipv6_only(hostname, ipv6_seen)
    )
}

/// The way to a Supabase project's database over IPv4 (no trailing period).
pub fn supabase_pooler(project: &str) -> String {
    format!(
        "use the session pooler instead, \
         postgres://postgres.{project}:[YOUR-PASSWORD]@aws-0-[REGION].pooler.supabase.com:5432/postgres \
         ([REGION] is your project's region, under Connect in the Supabase dashboard; port 6543 for \
         transaction mode), or enable Supabase's IPv4 add-on"
    )
}

/// What to do about a connection to an IPv6 literal, which ipv4-force refuses.
pub const IPV6_LITERAL_REMEDY: &str = "If a library resolved a hostname to this address itself, \
     make it use dns.lookup (which ipv4-force answers with IPv4) or give it an IPv4 address; \
     otherwise connect by hostname or IPv4 address, or pass allowIPv6Literals: true to patchNet().";

/// After "EAFNOSUPPORT <address>: " when a connection or lookup names an IPv6 literal.
pub fn ipv6_literal(address: &str) -> String {
    format!(
        "{address} is an IPv6 address and ipv4-force is forcing IPv4 (this network cannot reach \
         IPv6). {IPV6_LITERAL_REMEDY}"
    )
}

/// `db.<ref>.supabase.co` → `<ref>`: the direct-connection host Supabase serves over IPv6 only.
/// Works on whole labels, never on byte offsets: `hostname` may hold any Unicode.
pub fn supabase_project_ref(hostname: &str) -> Option<&str> {
    let host = hostname.strip_suffix('.').unwrap_or(hostname);
    let mut labels = host.split('.');
    let (db, project) = (labels.next()?, labels.next()?);
    let (supabase, co) = (labels.next()?, labels.next()?);
    let direct = labels.next().is_none()
        && db.eq_ignore_ascii_case("db")
        && supabase.eq_ignore_ascii_case("supabase")
        && co.eq_ignore_ascii_case("co");
    let plain = !project.is_empty() && project.bytes().all(|b| b.is_ascii_alphanumeric());
    (direct && plain).then_some(project)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_only_names_the_address_and_the_remedy() {
        let msg = ipv6_only("api.example.com", Some("2406:da18::1".parse().unwrap()));
        assert!(
            msg.contains("resolves only to IPv6 (2406:da18::1)"),
            "{msg}"
        );
        assert!(msg.contains("IPv4 endpoint"), "{msg}");
        assert!(msg.contains("network with working IPv6"), "{msg}");
    }

    #[test]
    fn supabase_direct_host_gets_the_pooler_string() {
        let msg = ipv6_only("db.abcdefghijklmnop.supabase.co", None);
        assert!(
            msg.contains("postgres://postgres.abcdefghijklmnop:[YOUR-PASSWORD]@aws-0-[REGION].pooler.supabase.com:5432/postgres"),
            "{msg}"
        );
        assert!(msg.contains("6543"), "{msg}");
    }

    #[test]
    fn ipv6_literal_names_the_address_and_the_ways_out() {
        let msg = ipv6_literal("2001:db8::1");
        assert!(msg.starts_with("2001:db8::1 is an IPv6 address"), "{msg}");
        assert!(
            msg.contains("dns.lookup") && msg.contains("allowIPv6Literals"),
            "{msg}"
        );
    }

    #[test]
    fn supabase_ref_only_for_direct_hosts() {
        assert_eq!(
            supabase_project_ref("db.abc123.supabase.co"),
            Some("abc123")
        );
        assert_eq!(
            supabase_project_ref("DB.Abc123.SUPABASE.CO."),
            Some("Abc123")
        );
        assert_eq!(supabase_project_ref("aws-0-eu.pooler.supabase.com"), None);
        assert_eq!(supabase_project_ref("db.a.b.supabase.co"), None);
        assert_eq!(supabase_project_ref("db.supabase.co"), None);
        assert_eq!(supabase_project_ref("db..supabase.co"), None);
        assert_eq!(supabase_project_ref("x.db.abc.supabase.co"), None);
    }

    #[test]
    fn unicode_hostnames_never_panic() {
        // `host[..3]` on bytes used to panic here (a 2-byte character straddles byte 3).
        for host in [
            "üüüüüüüüüü.example",
            "dü.abcdefghijk.supabase.co",
            "db.ü.supabase.co",
            "ü",
            "😀😀😀😀😀😀😀😀😀.supabase.co",
        ] {
            assert_eq!(supabase_project_ref(host), None, "{host}");
            assert!(ipv6_only(host, None).contains("IPv4 endpoint"));
        }
    }
}
