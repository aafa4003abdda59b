//! What `ipv4-force check TARGET` is asked to check: `host`, `host:port`, `[ipv6]:port`, or a
//! connection URL. Credentials in a target are never shown: every piece of the target that a text
//! built here quotes (the target itself, a port, a host, in error messages too) goes through
//! [`redact`] first.

use std::net::{IpAddr, Ipv6Addr};

use crate::lookup::hostname::{parse_host, Host};

/// Schemes a target URL may use, with the port used when the URL gives none.
pub const SCHEMES: &[(&str, u16)] = &[
    ("postgres", 5432),
    ("postgresql", 5432),
    ("mysql", 3306),
    ("redis", 6379),
    ("rediss", 6379),
    ("mongodb", 27017),
    ("http", 80),
    ("https", 443),
];

/// Query parameters whose values are hidden, matched as substrings of the lower-cased key.
const SECRET_KEYS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "sig",
    "credential",
];

pub const MASK: &str = "****";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host to look up or connect to: a lower-cased name, or an IP literal without brackets.
    pub host: String,
    /// The port to test; `None` for a bare host (DNS and route checks only).
    pub port: Option<u16>,
    /// The URL scheme, lower-cased, when the target is a URL.
    pub scheme: Option<String>,
    /// True when the port is the scheme's default rather than written in the target.
    pub default_port: bool,
    /// The target as it may be shown: credentials masked.
    pub display: String,
    /// A URL's user name, percent-decoded. Never shown as it is (it may be a token): the pooler
    /// probe sends it to a Supabase pooler URL's own host only.
    pub user: Option<String>,
    /// A URL's path after the '/', as written (for postgres://, the database); none when empty.
    pub path: Option<String>,
    /// A URL's query after the '?', redacted like `display`; none when empty.
    pub query: Option<String>,
}

impl Target {
    /// An IPv6 literal (not IPv4-mapped): there is no IPv4 address to find for it.
    pub fn ipv6_literal(&self) -> Option<Ipv6Addr> {
        match parse_host(&self.host) {
            Ok(Host::Ipv6(ip)) => Some(ip),
            _ => None,
        }
    }

    /// An IP literal of any family (no DNS query is needed).
    pub fn is_ip_literal(&self) -> bool {
        self.host.parse::<IpAddr>().is_ok()
    }

    /// `host:port` (brackets around IPv6), or the host alone when there is no port.
    pub fn endpoint(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }
    }
}

/// Why a target cannot be checked. The message is safe to print (credentials masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    pub message: String,
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn fail(input: &str, why: impl std::fmt::Display) -> TargetError {
    TargetError {
        message: format!("cannot check {}: {why}", quoted(&redact(input))),
    }
}

fn quoted(text: &str) -> String {
    format!("\"{text}\"")
}

/// A piece of the user's text, quoted for a message: credentials masked like the whole target.
fn shown(piece: &str) -> String {
    quoted(&redact(piece))
}

/// `scheme` as RFC 3986 writes one: a letter, then letters, digits, '+', '-', '.'.
fn is_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

pub fn default_port(scheme: &str) -> Option<u16> {
    SCHEMES.iter().find(|(s, _)| *s == scheme).map(|(_, p)| *p)
}

/// Parses `host`, `host:port`, `[ipv6]:port`, an IP literal, or a URL of a known scheme.
pub fn parse_target(input: &str) -> Result<Target, TargetError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(TargetError {
            message: "no target given: pass a host, host:port, or a URL such as postgres://user@host:5432/db"
                .into(),
        });
    }
    if let Some((scheme, _)) = text.split_once("://") {
        if !is_scheme(scheme) {
            return Err(fail(
                text,
                "the text before \"://\" is not a URL scheme; give host:port or a URL such as \
                 postgres://user@host:5432/db",
            ));
        }
        return parse_url(text, scheme);
    }
    if text.contains('@') {
        return Err(fail(
            text,
            "this looks like credentials without a scheme; give a URL (postgres://user:password@host:5432/db) or host:port",
        ));
    }
    let (host, port) = split_host_port(text).map_err(|why| fail(text, why))?;
    let host = checked_host(host).map_err(|why| fail(text, why))?;
    Ok(Target {
        host,
        port,
        scheme: None,
        default_port: false,
        display: redact(text),
        user: None,
        path: None,
        query: None,
    })
}

fn split_host_port(text: &str) -> Result<(&str, Option<u16>), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err("an opening '[' without its ']'".into());
        };
        if inside.parse::<Ipv6Addr>().is_err() {
            return Err(format!("{} is not an IPv6 address", shown(inside)));
        }
        return match after {
            "" => Ok((inside, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((inside, Some(parse_port(port)?))),
                None => Err("expected ':port' after the ']'".into()),
            },
        };
    }
    if text.parse::<Ipv6Addr>().is_ok() {
        return Ok((text, None));
    }
    match text.matches(':').count() {
        0 => Ok((text, None)),
        1 => {
            let (host, port) = text.split_once(':').unwrap_or((text, ""));
            Ok((host, Some(parse_port(port)?)))
        }
        _ => Err("an IPv6 address with a port is written [address]:port".into()),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    let bad = || format!("the port {} is not a number from 1 to 65535", shown(text));
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(port) => Ok(port),
    }
}

/// The host as it is looked up: names lower-cased (punycode for IDNs), literals as written.
fn checked_host(host: &str) -> Result<String, String> {
    match parse_host(host) {
        Ok(Host::Name(name)) => Ok(name),
        Ok(Host::Ipv4(ip)) => Ok(ip.to_string()),
        Ok(Host::MappedIpv4(_) | Host::Ipv6(_)) => Ok(host.to_ascii_lowercase()),
        Err(bad) => Err(format!(
            "{} is not a valid hostname: {}",
            shown(host),
            bad.reason
        )),
    }
}

fn parse_url(text: &str, scheme: &str) -> Result<Target, TargetError> {
    let scheme = scheme.to_ascii_lowercase();
    let Some(default) = default_port(&scheme) else {
        let known: Vec<&str> = SCHEMES.iter().map(|(s, _)| *s).collect();
        let why = if scheme == "mongodb+srv" {
            "mongodb+srv:// URLs name a DNS SRV record, not a host; check one of the hosts it lists \
             (host:27017)"
                .to_string()
        } else {
            format!(
                "unsupported scheme {} (supported: {}; or give host:port)",
                quoted(&scheme),
                known.join(", ")
            )
        };
        return Err(fail(text, why));
    };
    let rest = text.split_once("://").map_or("", |(_, rest)| rest);
    // Where the authority ends if the last '@' ends the credentials; an '@' after that point
    // means the credentials hold a '/', '?' or '#', and it is unclear where the host starts.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if rest[authority_end..].contains('@') {
        return Err(fail(
            text,
            "the URL has an '@' after its host part; if the password contains '/', '?' or '#', \
             percent-encode them (%2F, %3F, %23)",
        ));
    }
    let authority = &rest[..authority_end];
    let host_part = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_part.contains(',') {
        return Err(fail(
            text,
            "the URL lists several hosts; check them one at a time (ipv4-force check host:port)",
        ));
    }
    let url = url::Url::parse(text).map_err(|e| fail(text, format!("not a valid URL ({e})")))?;
    let host = match url.host() {
        Some(url::Host::Domain(name)) if !name.is_empty() => {
            let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            checked_host(&decoded).map_err(|why| fail(text, why))?
        }
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => {
            return Err(fail(
                text,
                "the URL has no host (a local socket path is not a network target)",
            ))
        }
    };
    let (port, default_port) = match url.port() {
        Some(0) => return Err(fail(text, "the port 0 is not a number from 1 to 65535")),
        Some(port) => (port, false),
        // http/https: the url crate drops a port equal to the default, so look at the text.
        None => (default, !has_port(host_part)),
    };
    let user = Some(url.username()).filter(|u| !u.is_empty()).map(|u| {
        percent_encoding::percent_decode_str(u)
            .decode_utf8_lossy()
            .into_owned()
    });
    let path = url
        .path()
        .strip_prefix('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let query = url.query().filter(|q| !q.is_empty()).map(redact_params);
    Ok(Target {
        host,
        port: Some(port),
        scheme: Some(scheme),
        default_port,
        display: redact(text),
        user,
        path,
        query,
    })
}

/// Whether an authority's host part (`host:port`, `[v6]:port`) writes a port.
fn has_port(host_part: &str) -> bool {
    let after_bracket = host_part
        .rsplit_once(']')
        .map_or(host_part, |(_, tail)| tail);
    after_bracket
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty())
}

/// The text with credentials masked: the whole userinfo of a URL (`scheme://****@host/...`: a
/// token given as the user name is as secret as a password), and every `key=value` whose key is
/// named like a secret (`password=`, `sslpassword=`, `token=`...) or whose value holds one, in
/// the query, the fragment, or after a `;`.
///
/// Works on any text, parsable or not: everything up to the last '@' (after `scheme://`, if any)
/// is taken as credentials, so a password holding '/', '?', '#' or '@' is hidden too. A
/// scheme-less text with an '@' (`user:password@host`, `token@host`) is masked the same way.
pub fn redact(text: &str) -> String {
    let (head, rest) = match text.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => (&text[..scheme.len() + 3], rest),
        _ => ("", text),
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(head);
    let tail = match rest.rsplit_once('@') {
        Some((userinfo, tail)) => {
            if !userinfo.is_empty() {
                out.push_str(MASK);
            }
            out.push('@');
            tail
        }
        None => rest,
    };
    out.push_str(&redact_params(tail));
    out
}

/// Where one `key=value` ends and the next begins (query, fragment, `;`-separated options).
const PARAM_SEPARATORS: [char; 4] = ['?', '&', ';', '#'];

/// Masks the value of each `key=value` between [`PARAM_SEPARATORS`] whose key is named like a
/// secret or whose value itself holds `secret=` (`options=-c password=x`, or percent-encoded).
fn redact_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for piece in text.split_inclusive(PARAM_SEPARATORS) {
        let (segment, separator) = match piece.strip_suffix(PARAM_SEPARATORS) {
            Some(segment) => (segment, piece.strip_prefix(segment).unwrap_or_default()),
            None => (piece, ""),
        };
        match segment.split_once('=') {
            Some((key, value)) if is_secret_key(key) || holds_secret(value) => {
                out.push_str(key);
                out.push('=');
                out.push_str(MASK);
            }
            _ => out.push_str(segment),
        }
        out.push_str(separator);
    }
    out
}

/// Whether a value, percent-decoded, holds a `key=` whose key is named like a secret.
fn holds_secret(value: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
    decoded.match_indices('=').any(|(at, _)| {
        let before = decoded.split_at(at).0;
        let key = before
            .rsplit(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .next()
            .unwrap_or_default();
        is_secret_key(key)
    })
}

fn is_secret_key(key: &str) -> bool {
    let key = percent_encoding::percent_decode_str(key)
        .decode_utf8_lossy()
        .to_ascii_lowercase();
    SECRET_KEYS.iter().any(|secret| key.contains(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> Target {
        parse_target(input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
    }

    fn err(input: &str) -> String {
        parse_target(input).unwrap_err().message
    }

    #[test]
    fn bare_host_has_no_port() {
        let t = ok("DB.Example.com");
        assert_eq!(
            (t.host.as_str(), t.port, t.scheme.as_deref()),
            ("db.example.com", None, None)
        );
        assert_eq!(t.endpoint(), "db.example.com");
    }

    #[test]
    fn host_and_port() {
        let t = ok("db.example.com:6543");
        assert_eq!(
            (t.host.as_str(), t.port, t.default_port),
            ("db.example.com", Some(6543), false)
        );
        assert_eq!(ok("127.0.0.1:80").host, "127.0.0.1");
    }

    #[test]
    fn ipv6_literals() {
        let t = ok("[::1]:5432");
        assert_eq!((t.host.as_str(), t.port), ("::1", Some(5432)));
        assert_eq!(t.endpoint(), "[::1]:5432");
        assert!(t.ipv6_literal().is_some());
        assert_eq!(ok("2406:da18::1").port, None);
        assert_eq!(ok("[2406:da18::1]").port, None);
        assert!(
            ok("[::ffff:127.0.0.1]:80").ipv6_literal().is_none(),
            "mapped IPv4 is IPv4"
        );
        assert!(err("2406:da18::1:5432x").contains("[address]:port"));
        assert!(err("[::1:5432").contains("']'"));
        assert!(err("[::1]5432").contains("':port'"));
        assert!(err("[nope]:1").contains("not an IPv6 address"));
    }

    #[test]
    fn default_ports_by_scheme() {
        for (url, port) in [
            ("postgres://h/db", 5432),
            ("postgresql://h", 5432),
            ("mysql://h/db", 3306),
            ("redis://h", 6379),
            ("rediss://h", 6379),
            ("mongodb://h/db", 27017),
            ("http://h/", 80),
            ("https://h", 443),
        ] {
            let t = ok(url);
            assert_eq!(
                (t.host.as_str(), t.port, t.default_port),
                ("h", Some(port), true),
                "{url}"
            );
        }
    }

    #[test]
    fn explicit_url_ports_win_even_when_equal_to_the_default() {
        let t = ok("https://h:443/x");
        assert_eq!((t.port, t.default_port), (Some(443), false));
        let t = ok("postgres://u@h:6543/db");
        assert_eq!((t.port, t.default_port), (Some(6543), false));
        let t = ok("postgres://u@[::1]:6543/db");
        assert_eq!(
            (t.host.as_str(), t.port, t.default_port),
            ("::1", Some(6543), false)
        );
        let t = ok("postgres://[::1]/db");
        assert_eq!((t.port, t.default_port), (Some(5432), true));
    }

    #[test]
    fn url_hosts_are_lowercased_and_validated() {
        assert_eq!(ok("POSTGRES://DB.Example.COM/x").host, "db.example.com");
        assert_eq!(ok("postgres://u:p@10.0.0.1:5432/x").host, "10.0.0.1");
        assert!(err("postgres://bad..host/db").contains("not a valid hostname"));
    }

    #[test]
    fn password_with_escapes_and_at_signs_is_masked() {
        let input = "postgres://postgres:s3%24cr@t@db.example.com:5432/postgres";
        let t = ok(input);
        assert_eq!(t.host, "db.example.com");
        assert_eq!(t.display, "postgres://****@db.example.com:5432/postgres");
        assert!(!t.display.contains("s3"));
    }

    #[test]
    fn user_path_and_redacted_query_are_kept() {
        let t = ok("postgresql://postgres.abc:pw@h:5432/my%20db?sslmode=require&password=hunter2");
        assert_eq!(t.user.as_deref(), Some("postgres.abc"));
        assert_eq!(t.path.as_deref(), Some("my%20db"));
        assert_eq!(t.query.as_deref(), Some("sslmode=require&password=****"));
        let t = ok("postgres://p%40st@h");
        assert_eq!(
            (t.user.as_deref(), t.path, t.query),
            (Some("p@st"), None, None)
        );
        let t = ok("h:5432");
        assert_eq!((t.user, t.path, t.query), (None, None, None));
    }

    #[test]
    fn the_whole_userinfo_is_masked() {
        assert_eq!(ok("redis://:hunter2@h:6379").display, "redis://****@h:6379");
        // A token or password given as the user name, with no ':'.
        assert_eq!(ok("redis://hunter2@h").display, "redis://****@h");
        assert_eq!(
            ok("https://ghp_abc123@github.example.com/x").display,
            "https://****@github.example.com/x"
        );
        assert_eq!(ok("redis://@h").display, "redis://@h");
    }

    #[test]
    fn secret_query_values_are_masked() {
        let t = ok("mysql://u@h/db?ssl=true&password=hunter2&sslPassword=x&Api_Key=k#frag");
        assert_eq!(
            t.display,
            "mysql://****@h/db?ssl=true&password=****&sslPassword=****&Api_Key=****#frag"
        );
    }

    #[test]
    fn errors_never_show_the_password() {
        for input in [
            "postgres://u:hunter2@h:99999/db",
            "postgres://u:hunter2@h:0/db",
            "postgres://u:hunter2@bad..host/db",
            "postgres://u:hun/ter2@h/db",
            "postgres://u:hun?ter2@h/db",
            "ftp://u:hunter2@h/",
            "mongodb+srv://u:hunter2@cluster0.example.net/db",
            "mongodb://u:hunter2@a:27017,b:27017/db",
            "u:hunter2@h:5432",
            "postgres://u:hunter2@/db",
            "postgres://u:hunter2@h:port/db",
        ] {
            let message = err(input);
            assert!(
                !message.contains("hunter2") && !message.contains("ter2"),
                "{input}: {message}"
            );
            assert!(message.contains("****@"), "{input}: {message}");
        }
    }

    #[test]
    fn useful_error_messages() {
        assert!(err("").contains("no target given"));
        assert!(err("   ").contains("no target given"));
        assert!(err("ftp://h").contains("unsupported scheme \"ftp\""));
        assert!(err("mongodb+srv://h/db").contains("SRV"));
        assert!(err("mongodb://a,b/db").contains("several hosts"));
        assert!(err("h:0").contains("1 to 65535"));
        assert!(err("h:65536").contains("1 to 65535"));
        assert!(err("h:").contains("1 to 65535"));
        assert!(err("h:+1").contains("1 to 65535"));
        assert!(err("bad..name:1").contains("empty label"));
        assert!(err("postgres:///db").contains("no host"));
        assert!(err("u:p@h").contains("give a URL"));
    }

    #[test]
    fn redact_handles_any_text() {
        assert_eq!(redact("plain text"), "plain text");
        assert_eq!(redact("h:5432"), "h:5432");
        assert_eq!(redact("x://a:b@c@d/e"), "x://****@d/e");
        assert_eq!(redact("a:b@c"), "****@c");
        assert_eq!(redact("tok@c"), "****@c");
        // Not a scheme before "://": still masked up to the last '@'.
        assert_eq!(redact("u:pw@h://x"), "****@h://x");
        assert_eq!(redact("https://h/p?token=abc"), "https://h/p?token=****");
    }

    #[test]
    fn fragments_semicolons_and_values_holding_secrets_are_masked() {
        assert_eq!(
            redact("redis://h:6379#password=hunter2"),
            "redis://h:6379#password=****"
        );
        assert_eq!(
            redact("mysql://h/db?ssl=true;password=hunter2&x=1"),
            "mysql://h/db?ssl=true;password=****&x=1"
        );
        assert_eq!(
            redact("postgres://h/db?options=-c%20password%3Dhunter2"),
            "postgres://h/db?options=****"
        );
        assert_eq!(
            redact("postgres://h/db?dsn=host=h,pwd=hunter2"),
            "postgres://h/db?dsn=****"
        );
        assert_eq!(redact("db:5432;password=hunter2"), "db:5432;password=****");
        assert_eq!(redact("h/p?q=1&page=2#top"), "h/p?q=1&page=2#top");
    }

    #[test]
    fn errors_quote_only_redacted_pieces() {
        for input in [
            "db:5432?password=hunter2",
            "db:5432#password=hunter2",
            "db:5432;password=hunter2",
            "db?password=hunter2",
            "[::1?password=hunter2]:1",
            "[::1]:1?password=hunter2",
            "hunter2@db:5432",
            "u:hunter2@h://x",
            "postgres://h:5432?password=hunter2&x=1/db@",
        ] {
            let message = err(input);
            assert!(!message.contains("hunter2"), "{input}: {message}");
        }
        assert!(err("db:5432?password=hunter2")
            .contains("the port \"5432?password=****\" is not a number"));
        assert!(err("u:pw@h://x").contains("not a URL scheme"));
    }

    #[test]
    fn multibyte_text_never_panics() {
        for input in [
            "é://ü:pässwörd@ĥ:5432/d?ķey=ŵ#ƒ",
            "postgres://ü@h:5é432/db",
            "db:5432?pässword=é;token=ö",
            "[é]:1",
            "ŝ@",
            "@é://",
            "h:€",
        ] {
            let _ = parse_target(input);
            assert!(!redact(input).contains("pässwörd"));
        }
    }

    // A credential in each shape a target may carry it: the message or display never shows it.
    const SHAPES: &[&str] = &[
        "postgres://user:{s}@db.example.com:5432/postgres",
        "postgres://user:{s}@db.example.com:99999/postgres",
        "postgres://user:{s}@bad..host/db",
        "https://{s}@github.example.com/repo",
        "redis://{s}@cache.example.com",
        "rediss://:{s}@cache.example.com:6380",
        "mongodb+srv://u:{s}@cluster0.example.net/db",
        "ftp://u:{s}@h/",
        "{s}@h:5432",
        "u:{s}@h:5432",
        "db:5432?password={s}",
        "db:5432#password={s}",
        "db:5432;password={s}",
        "redis://h:6379#password={s}",
        "redis://h:6379/0#x=1&password={s}",
        "mysql://h/db?ssl=true;password={s}",
        "mysql://h/db?opts=a;sslpassword={s}&b=2",
        "postgres://h/db?options=-c%20password%3D{s}",
        "https://h/cb?redirect=https://x/?access_token={s}",
        "[::1]:5432?token={s}",
        "[::1?pwd={s}]:5432",
    ];

    proptest::proptest! {
        #[test]
        fn no_shape_shows_the_secret(
            secret in "[A-Za-z0-9]{10,20}",
            shape in 0..SHAPES.len(),
            prefix in "\\PC{0,4}",
            suffix in "\\PC{0,4}",
        ) {
            let input = format!("{prefix}{}{suffix}", SHAPES[shape].replace("{s}", &secret));
            let shown = match parse_target(&input) {
                Ok(t) => t.display,
                Err(e) => e.message,
            };
            proptest::prop_assert!(!shown.contains(&secret), "{} -> {}", input, shown);
            proptest::prop_assert!(!redact(&input).contains(&secret), "{}", input);
        }

        #[test]
        fn any_text_is_handled_without_panicking(text in "\\PC{0,40}") {
            let _ = parse_target(&text);
            let _ = redact(&text);
        }

        #[test]
        fn the_password_never_survives(password in "[!-~]{6,20}", user in "[a-z]{1,8}") {
            let input = format!("postgres://{user}:{password}@db.example.com:5432/postgres");
            let shown = match parse_target(&input) {
                Ok(t) => t.display,
                Err(e) => e.message,
            };
            proptest::prop_assert!(!shown.contains(&password), "{} -> {}", input, shown);
        }
    }
}
