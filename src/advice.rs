//! What ipv4-force tells a person to do: the remedies in error messages and in `ipv4-force check`,
//! each worded once here. (lib/fallback.js holds a JS copy for platforms without the addon;
//! __test__/fallback.test.js checks that both say the same.)

use std::net::Ipv6Addr;

use crate::check::{pooler_verdict, supabase};

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

/// The session pooler found serving the project (no trailing period): the string to paste.
pub fn supabase_pooler_found(pooler: &str, url: &str) -> String {
    format!(
        "use the session pooler that serves this project, {pooler} (it answered this check's \
         startup message for the project's user with a password request): {url} \
         (port {} for transaction mode)",
        supabase::TRANSACTION_PORT
    )
}

/// After a remedy for a direct host: the other way to IPv4.
pub const SUPABASE_IPV4_ADD_ON: &str = ", or enable Supabase's IPv4 add-on";

/// More than one pooler answered for the project (no trailing period).
pub fn supabase_poolers_found(urls: &[String]) -> String {
    format!(
        "use the session pooler; {} poolers answered for this project, so take the one the \
         Supabase dashboard shows under Connect: {} (port {} for transaction mode)",
        urls.len(),
        urls.join(" or "),
        supabase::TRANSACTION_PORT
    )
}

/// No pooler answered for the project: the template, and what was tried (no trailing period).
pub fn supabase_pooler_not_found(project: &str, tried: &str) -> String {
    format!(
        "{}. No pooler answered for this project: {tried}; take the region from the dashboard, \
         or check the project ref",
        supabase_pooler(project)
    )
}

/// What the search tried, in words: "34 poolers asked (aws-0, aws-1 in 17 regions) in 1.2 s:
/// 30 tenant-not-found, 4 no-address".
pub fn pooler_search_summary(
    asked: usize,
    regions: usize,
    ms: f64,
    counts: &[(&str, usize)],
) -> String {
    let counted: Vec<String> = counts.iter().map(|(v, n)| format!("{n} {v}")).collect();
    format!(
        "{asked} poolers asked ({} in {regions} region{}) in {}: {}",
        supabase::SHARDS.join(", "),
        if regions == 1 { "" } else { "s" },
        duration(ms),
        counted.join(", ")
    )
}

/// `28 ms`, `1.2 s`.
pub fn duration(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// A pooler URL whose user name has no `.<ref>`.
pub fn pooler_user_without_ref(shown_user: &str) -> String {
    format!(
        "The pooler routes a connection to a project by its user name, which must be \
         <role>.<project ref> (postgres.<ref>: the <ref> of db.<ref>.supabase.co, under Connect in \
         the Supabase dashboard); this URL's user name is {shown_user}, without the project ref, \
         hence \"{}\"",
        pooler_verdict::TENANT_NOT_FOUND
    )
}

/// A pooler URL naming the wrong shard or region: the pooler(s) that do serve the project.
pub fn pooler_wrong_host(host: &str, found: &str) -> String {
    format!(
        "{host} does not serve this project (wrong shard or region: aws-0 and aws-1 poolers both \
         exist); {found}"
    )
}

/// A pooler URL whose project no pooler serves.
pub fn pooler_project_not_found(host: &str, project: &str, tried: &str) -> String {
    format!(
        "No pooler serves the project ref \"{project}\" ({tried}) and neither does {host}: check \
         the project ref in the user name (postgres.<ref>), and that the project is not paused"
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
    fn pooler_findings_carry_the_string_and_the_transaction_port() {
        let url = "postgres://postgres.abc:[YOUR-PASSWORD]@aws-1-eu-west-1.pooler.supabase.com:5432/postgres";
        let found = supabase_pooler_found("aws-1-eu-west-1.pooler.supabase.com", url);
        assert!(found.contains(url) && found.contains("6543"), "{found}");
        let several = supabase_poolers_found(&[url.into(), "u2".into()]);
        assert!(
            several.contains("2 poolers") && several.contains(" or u2"),
            "{several}"
        );
        let tried = pooler_search_summary(2, 1, 1234.0, &[("tenant-not-found", 2)]);
        assert_eq!(
            tried,
            "2 poolers asked (aws-0, aws-1 in 1 region) in 1.2 s: 2 tenant-not-found"
        );
        assert_eq!(duration(27.6), "28 ms");
        let none = supabase_pooler_not_found("abc", &tried);
        assert!(
            none.contains("aws-0-[REGION]") && none.contains(&tried),
            "{none}"
        );
        let bare = pooler_user_without_ref("\"postgres\"");
        assert!(bare.contains("postgres.<ref>") && bare.contains("Tenant or user not found"));
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
