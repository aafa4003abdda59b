//! What `ipv4-force check` tells a person to do, each remedy worded once here. (What a lookup
//! error says is worded in lib/advice.js, for both backends.)

use crate::check::{pooler_verdict, supabase};

/// `ipv4-force check`'s next step for an IPv6-only host. `supabase`: what to do for a Supabase
/// direct host, once the pooler search has run (the template before).
pub fn ipv6_only_next_step(host: &str, ipv6_route: bool, supabase: Option<String>) -> String {
    let remedy = match supabase_project_ref(host) {
        Some(project) => format!(
            "This is a Supabase direct host, served over IPv6 only: {}.",
            supabase.unwrap_or_else(|| supabase_pooler(project))
        ),
        None => "Forcing IPv4 cannot help: there is no IPv4 address to connect to. Use an IPv4 \
                 endpoint of this service (ask the provider for one, or put an IPv4 proxy in front of it)."
            .to_string(),
    };
    let where_ = if ipv6_route {
        " This machine has an IPv6 route, so connecting over IPv6 may work from here (leave this \
         host out of patchNet({ hosts })), but not from a deploy without IPv6."
    } else {
        " Alternatively, run the app on a network with working IPv6."
    };
    format!("{remedy}{where_}")
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
    fn supabase_direct_host_gets_the_pooler_string() {
        let msg = supabase_pooler("abcdefghijklmnop");
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
        }
    }
}
