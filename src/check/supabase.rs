//! Supabase's pooler (Supavisor), as `ipv4-force check` looks for it: the candidate hosts, the
//! user name a project's tenant is reached with, and the connection string to paste. Pure: no
//! I/O (the probes are in `pooler_probe`, what an answer means in `pooler_verdict`).

/// The regions Supabase hosts projects in, as its documentation lists them ("Available regions",
/// supabase.com/docs/guides/platform/regions: the AWS region codes). One pooler host per shard
/// and region: `aws-<shard>-<region>.pooler.supabase.com`.
pub const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "sa-east-1",
];

/// The pooler shards: the dashboard's connection strings name `aws-0-…` for older projects and
/// `aws-1-…` for newer ones, and nothing outside tells which one a project is on.
pub const SHARDS: &[&str] = &["aws-0", "aws-1"];

pub const POOLER_DOMAIN: &str = "pooler.supabase.com";
/// Session mode: one server connection per client connection, like a direct connection.
pub const SESSION_PORT: u16 = 5432;
/// The database a project's connection strings name.
pub const DEFAULT_DATABASE: &str = "postgres";
/// The role the dashboard's connection strings use.
pub const DEFAULT_ROLE: &str = "postgres";

/// A pooler host: `aws-<n>-<region>.pooler.supabase.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `aws-0`, `aws-1`, …
    pub shard: String,
    pub region: String,
}

impl Candidate {
    pub fn host(&self) -> String {
        format!("{}-{}.{POOLER_DOMAIN}", self.shard, self.region)
    }
}

pub fn is_region(region: &str) -> bool {
    REGIONS.contains(&region)
}

/// The hosts to try for a project: every shard of every region, or of `region` only; region by
/// region, in the order of [`REGIONS`]. `region` must be one of them (see [`is_region`]).
pub fn candidates(region: Option<&str>) -> Vec<Candidate> {
    REGIONS
        .iter()
        .filter(|r| region.is_none_or(|only| only == **r))
        .flat_map(|region| {
            SHARDS.iter().map(|shard| Candidate {
                shard: (*shard).to_string(),
                region: (*region).to_string(),
            })
        })
        .collect()
}

/// `aws-<n>-<region>.pooler.supabase.com` (any case, a trailing dot allowed) → its shard and
/// region; any shard number, a region of [`REGIONS`].
pub fn pooler_candidate(hostname: &str) -> Option<Candidate> {
    let host = hostname.strip_suffix('.').unwrap_or(hostname);
    let (first, domain) = host.split_once('.')?;
    if !domain.eq_ignore_ascii_case(POOLER_DOMAIN) {
        return None;
    }
    let first = first.to_ascii_lowercase();
    let rest = first.strip_prefix("aws-")?;
    let (number, region) = rest.split_once('-')?;
    let numbered = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
    (numbered && is_region(region)).then(|| Candidate {
        shard: format!("aws-{number}"),
        region: region.to_string(),
    })
}

/// A user name as Supavisor reads it: `<role>.<project ref>` names the tenant; anything without
/// a project ref cannot be routed to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolerUser<'a> {
    Tenant {
        role: &'a str,
        project: &'a str,
    },
    /// No `.<ref>` after the role (`postgres`), or an empty one.
    Bare(&'a str),
}

/// Splits at the last '.': the project ref is letters and digits only.
pub fn pooler_user(user: &str) -> PoolerUser<'_> {
    match user.rsplit_once('.') {
        Some((role, project))
            if !role.is_empty()
                && !project.is_empty()
                && project.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            PoolerUser::Tenant { role, project }
        }
        _ => PoolerUser::Bare(user),
    }
}

/// The user name the pooler expects for `project`: `postgres.<ref>`.
pub fn tenant_user(project: &str) -> String {
    format!("{DEFAULT_ROLE}.{project}")
}

/// What of the user's own URL a pasted connection string keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    /// `postgres` or `postgresql`.
    pub scheme: String,
    /// The path after '/', as written (percent-encoded); `postgres` when the URL has none.
    pub database: String,
    /// The query after '?', already redacted; none when empty.
    pub query: Option<String>,
}

impl Default for UrlParts {
    fn default() -> Self {
        UrlParts {
            scheme: "postgres".into(),
            database: DEFAULT_DATABASE.into(),
            query: None,
        }
    }
}

/// The session-mode connection string for `project` through `pooler_host`, with the password to
/// fill in: `postgres://postgres.<ref>:[YOUR-PASSWORD]@<pooler>:5432/<db>[?query]`.
pub fn session_url(project: &str, pooler_host: &str, parts: &UrlParts) -> String {
    let query = parts
        .query
        .as_deref()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    format!(
        "{}://{}:[YOUR-PASSWORD]@{pooler_host}:{SESSION_PORT}/{}{query}",
        parts.scheme,
        tenant_user(project),
        parts.database
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
    fn every_region_has_both_shards() {
        let all = candidates(None);
        assert_eq!(all.len(), REGIONS.len() * SHARDS.len());
        assert_eq!(all.len(), 34);
        assert_eq!(all[0].host(), "aws-0-us-east-1.pooler.supabase.com");
        assert_eq!(all[1].host(), "aws-1-us-east-1.pooler.supabase.com");
        assert_eq!(all[33].host(), "aws-1-sa-east-1.pooler.supabase.com");
        let mut hosts: Vec<String> = all.iter().map(Candidate::host).collect();
        hosts.sort();
        hosts.dedup();
        assert_eq!(hosts.len(), 34, "no host twice");
    }

    #[test]
    fn a_region_narrows_the_list() {
        let hosts: Vec<String> = candidates(Some("eu-central-1"))
            .iter()
            .map(Candidate::host)
            .collect();
        assert_eq!(
            hosts,
            [
                "aws-0-eu-central-1.pooler.supabase.com",
                "aws-1-eu-central-1.pooler.supabase.com"
            ]
        );
    }

    #[test]
    fn regions() {
        for (region, known) in [
            ("us-east-1", true),
            ("ap-northeast-2", true),
            ("sa-east-1", true),
            ("eu-central-2", true),
            ("EU-CENTRAL-1", false),
            ("mars-north-1", false),
            ("", false),
            ("us-east-1 ", false),
        ] {
            assert_eq!(is_region(region), known, "{region:?}");
        }
    }

    #[test]
    fn pooler_hosts_are_recognised() {
        let c = |shard: &str, region: &str| {
            Some(Candidate {
                shard: shard.into(),
                region: region.into(),
            })
        };
        for (host, expected) in [
            (
                "aws-0-eu-west-1.pooler.supabase.com",
                c("aws-0", "eu-west-1"),
            ),
            (
                "AWS-1-US-EAST-2.Pooler.Supabase.com.",
                c("aws-1", "us-east-2"),
            ),
            (
                "aws-12-sa-east-1.pooler.supabase.com",
                c("aws-12", "sa-east-1"),
            ),
            ("aws--eu-west-1.pooler.supabase.com", None),
            ("aws-x-eu-west-1.pooler.supabase.com", None),
            ("aws-0-mars-1.pooler.supabase.com", None),
            ("aws-0-eu-west-1.pooler.supabase.co", None),
            ("db.abc.supabase.co", None),
            ("x.aws-0-eu-west-1.pooler.supabase.com", None),
            ("pooler.supabase.com", None),
            ("ü-0-eu-west-1.pooler.supabase.com", None),
        ] {
            assert_eq!(pooler_candidate(host), expected, "{host}");
        }
    }

    #[test]
    fn user_names() {
        for (user, expected) in [
            (
                "postgres.abcdefghijkl",
                PoolerUser::Tenant {
                    role: "postgres",
                    project: "abcdefghijkl",
                },
            ),
            (
                "app.user.abc123",
                PoolerUser::Tenant {
                    role: "app.user",
                    project: "abc123",
                },
            ),
            ("postgres", PoolerUser::Bare("postgres")),
            ("postgres.", PoolerUser::Bare("postgres.")),
            (".abc", PoolerUser::Bare(".abc")),
            ("postgres.ab-c", PoolerUser::Bare("postgres.ab-c")),
            ("", PoolerUser::Bare("")),
        ] {
            assert_eq!(pooler_user(user), expected, "{user:?}");
        }
        assert_eq!(tenant_user("abc"), "postgres.abc");
    }

    #[test]
    fn the_string_to_paste() {
        let host = "aws-1-eu-west-2.pooler.supabase.com";
        assert_eq!(
            session_url("abc", host, &UrlParts::default()),
            "postgres://postgres.abc:[YOUR-PASSWORD]@aws-1-eu-west-2.pooler.supabase.com:5432/postgres"
        );
        let parts = UrlParts {
            scheme: "postgresql".into(),
            database: "my%20db".into(),
            query: Some("sslmode=require&password=****".into()),
        };
        assert_eq!(
            session_url("abc", host, &parts),
            "postgresql://postgres.abc:[YOUR-PASSWORD]@aws-1-eu-west-2.pooler.supabase.com:5432/my%20db?sslmode=require&password=****"
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
        }
    }
}
