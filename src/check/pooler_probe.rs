//! The pooler probe of `ipv4-force check`: which Supabase pooler serves a project. Each candidate
//! host is resolved (A records, through the check's resolver) and asked, over IPv4, exactly what
//! a PostgreSQL client asks first: an SSLRequest, then a startup message (user
//! `postgres.<ref>`, a database, nothing else). The first answer decides (`pooler_verdict`), and
//! the connection is closed: a pooler asks for a password after the startup message, and the
//! probe never sends one (no PasswordMessage or SASL response is ever built here).
//!
//! TLS: like libpq's default `sslmode=prefer`, the probe sends an SSLRequest first; a pooler that
//! answers 'S' gets a TLS handshake, one that answers 'N' a plain startup message. The server's
//! certificate is *not* verified. What goes over that connection is a user name made of the
//! project ref (already sent in clear in the DNS query for `db.<ref>.supabase.co`) and a database
//! name; no password or other secret, ever. Verifying against public roots would add nothing to
//! the user's safety (their own client makes its own TLS decision with the password), would need
//! the root store in the addon, and would make a pooler with a certificate the probe cannot check
//! (a test server, a corporate TLS proxy) look like "no pooler". What a certificate failure cannot
//! change: the answer is only advice, and the string printed names the pooler by hostname.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::StreamExt;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use crate::check::pooler_verdict::{
    judge, read_answer, Answer, Outcome, PoolerVerdict, Stage, Step,
};
use crate::check::supabase::{self, Candidate};
use crate::lookup::errors::ErrorCode;
use crate::lookup::resolver::Ipv4Resolver;

/// Candidates probed at once.
pub const MAX_IN_FLIGHT: usize = 8;
/// The whole search: candidates not started by then are reported as not tried.
pub const SEARCH_TIME_LIMIT: Duration = Duration::from_secs(5);
/// One candidate, DNS included (less when the check's --timeout is shorter).
pub const PROBE_TIME_LIMIT: Duration = Duration::from_secs(3);
/// An answer to a startup message is a few dozen bytes; more without one is not a pooler.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// How long the probes may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_probe: Duration,
    pub total: Duration,
    pub in_flight: usize,
}

impl Limits {
    /// The defaults, each probe capped by the check's own timeout.
    pub fn with_timeout(timeout: Duration) -> Self {
        Limits {
            per_probe: PROBE_TIME_LIMIT.min(timeout),
            total: SEARCH_TIME_LIMIT,
            in_flight: MAX_IN_FLIGHT,
        }
    }
}

/// What to ask a pooler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Startup {
    pub user: String,
    pub database: String,
}

/// One pooler host, asked once.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolerProbe {
    pub host: String,
    pub port: u16,
    /// Shard and region, when the host is an `aws-<n>-<region>` pooler.
    pub candidate: Option<Candidate>,
    /// The IPv4 address connected to (the first A record).
    pub address: Option<Ipv4Addr>,
    /// Whether the pooler took the SSLRequest ('S'), refused it ('N'), or was not asked.
    pub tls: Option<bool>,
    pub verdict: PoolerVerdict,
    /// What was seen (lib/check-words.js words it; the server's error as it is).
    pub outcome: Outcome,
    /// Time taken, in milliseconds (0.1 ms precision).
    pub ms: f64,
}

/// A search for the pooler that serves a project.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub project: String,
    /// The user name sent: `postgres.<ref>`.
    pub user: String,
    /// The region the search was narrowed to.
    pub region: Option<String>,
    /// Every candidate, in the order of `supabase::candidates`.
    pub probes: Vec<PoolerProbe>,
    /// The whole search, in milliseconds.
    pub ms: f64,
    pub limits: Limits,
}

impl Search {
    /// The candidates that answered with an authentication request.
    pub fn serving(&self) -> impl Iterator<Item = &PoolerProbe> {
        self.probes
            .iter()
            .filter(|p| p.verdict == PoolerVerdict::Serves)
    }
}

fn millis(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 10_000.0).round() / 10.0
}

/// Looks for the pooler(s) that serve `project` among `supabase::candidates(region)`: at most
/// `limits.in_flight` at once, each within `limits.per_probe`, all within `limits.total`. The
/// one function a start-up preflight can call too (exported as `findSupabasePooler`).
pub async fn find_pooler(
    project: &str,
    region: Option<&str>,
    database: &str,
    resolver: &Ipv4Resolver,
    limits: Limits,
) -> Search {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + limits.total;
    let startup = Startup {
        user: supabase::tenant_user(project),
        database: database.to_string(),
    };
    let probes = futures_util::stream::iter(supabase::candidates(region))
        .map(|candidate| {
            let startup = &startup;
            async move {
                let host = candidate.host();
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return PoolerProbe {
                        host,
                        port: supabase::SESSION_PORT,
                        candidate: Some(candidate),
                        address: None,
                        tls: None,
                        verdict: PoolerVerdict::NotTried,
                        outcome: Outcome::NotTried,
                        ms: 0.0,
                    };
                }
                let until = deadline.min(now + limits.per_probe);
                let mut probe = probe_until(
                    &host,
                    supabase::SESSION_PORT,
                    startup,
                    resolver,
                    until,
                    limits.per_probe,
                )
                .await;
                probe.candidate = Some(candidate);
                probe
            }
        })
        .buffered(limits.in_flight.max(1))
        .collect::<Vec<_>>()
        .await;
    Search {
        project: project.to_string(),
        user: startup.user,
        region: region.map(str::to_string),
        probes,
        ms: millis(started),
        limits,
    }
}

/// Asks one pooler host (a pooler URL's own host, with the URL's user name).
pub async fn probe(
    host: &str,
    port: u16,
    startup: &Startup,
    resolver: &Ipv4Resolver,
    limit: Duration,
) -> PoolerProbe {
    let until = tokio::time::Instant::now() + limit;
    let mut probe = probe_until(host, port, startup, resolver, until, limit).await;
    probe.candidate = supabase::pooler_candidate(host);
    probe
}

/// How far a probe got: read after a timeout, when its future is gone.
#[derive(Default)]
struct Progress {
    stage: AtomicU8,
    seen: Mutex<(Option<Ipv4Addr>, Option<bool>)>,
}

impl Progress {
    fn at(&self, stage: Stage) {
        self.stage.store(stage as u8, Ordering::Relaxed);
    }

    fn stage(&self) -> Stage {
        [
            Stage::Dns,
            Stage::Connect,
            Stage::SslAnswer,
            Stage::TlsHandshake,
            Stage::StartupAnswer,
        ]
        .into_iter()
        .find(|s| *s as u8 == self.stage.load(Ordering::Relaxed))
        .unwrap_or(Stage::Dns)
    }

    fn address(&self, address: Ipv4Addr) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.0 = Some(address);
        }
    }

    fn tls(&self, tls: bool) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.1 = Some(tls);
        }
    }

    fn seen(&self) -> (Option<Ipv4Addr>, Option<bool>) {
        self.seen.lock().map(|s| *s).unwrap_or_default()
    }
}

async fn probe_until(
    host: &str,
    port: u16,
    startup: &Startup,
    resolver: &Ipv4Resolver,
    until: tokio::time::Instant,
    limit: Duration,
) -> PoolerProbe {
    let started = Instant::now();
    let progress = Progress::default();
    let outcome =
        match tokio::time::timeout_at(until, exchange(host, port, startup, resolver, &progress))
            .await
        {
            Ok(outcome) => outcome,
            Err(_) => Outcome::TimedOut {
                stage: progress.stage(),
                ms: limit.as_millis().min(started.elapsed().as_millis().max(1)),
            },
        };
    let verdict = judge(&outcome);
    let (address, tls) = progress.seen();
    PoolerProbe {
        host: host.to_string(),
        port,
        candidate: None,
        address,
        tls,
        verdict,
        outcome,
        ms: millis(started),
    }
}

/// DNS, connect, SSLRequest (and TLS), startup message, first answer; then the connection is
/// dropped (closed).
async fn exchange(
    host: &str,
    port: u16,
    startup: &Startup,
    resolver: &Ipv4Resolver,
    progress: &Progress,
) -> Outcome {
    progress.at(Stage::Dns);
    let address = match resolver.resolve(host).await {
        Ok(resolved) => match resolved.addresses.first() {
            Some(address) => *address,
            None => return Outcome::NoAddress { nodata: false },
        },
        // ENODATA's message carries the whole IPv6-only advice: too much for one candidate.
        Err(e) if e.code == ErrorCode::NoData => return Outcome::NoAddress { nodata: true },
        Err(e) => return Outcome::LookupFailed(e),
    };
    progress.address(address);
    progress.at(Stage::Connect);
    let endpoint = SocketAddrV4::new(address, port);
    let mut stream = match TcpStream::connect(SocketAddr::V4(endpoint)).await {
        Ok(stream) => stream,
        Err(e) => {
            return Outcome::ConnectFailed {
                code: io_code(&e),
                address: endpoint,
                os_error: e.to_string(),
            }
        }
    };
    let _ = stream.set_nodelay(true);

    progress.at(Stage::SslAnswer);
    let mut buf = BytesMut::new();
    frontend::ssl_request(&mut buf);
    if let Err(e) = stream.write_all(&buf).await {
        return Outcome::Closed {
            step: Step::SendSslRequest,
            cause: Some(e.to_string()),
        };
    }
    let mut answer = [0u8; 1];
    match stream.read(&mut answer).await {
        Ok(0) => {
            return Outcome::Closed {
                step: Step::ReadSslAnswer,
                cause: None,
            }
        }
        Ok(_) => {}
        Err(e) => {
            return Outcome::Closed {
                step: Step::ReadSslAnswer,
                cause: Some(e.to_string()),
            }
        }
    }
    match answer[0] {
        b'S' => {
            progress.tls(true);
            progress.at(Stage::TlsHandshake);
            let name = match rustls::pki_types::ServerName::try_from(host.to_string()) {
                Ok(name) => name,
                Err(e) => return Outcome::TlsFailed(Some(e.to_string())),
            };
            let Some(config) = tls_config() else {
                return Outcome::TlsFailed(None);
            };
            let tls = match tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await
            {
                Ok(tls) => tls,
                Err(e) => return Outcome::TlsFailed(Some(e.to_string())),
            };
            progress.at(Stage::StartupAnswer);
            start(tls, startup, BytesMut::new()).await
        }
        b'N' => {
            progress.tls(false);
            progress.at(Stage::StartupAnswer);
            start(stream, startup, BytesMut::new()).await
        }
        // A server that does not know SSLRequest may answer it with an ErrorResponse.
        other => {
            let mut seen = BytesMut::from(&[other][..]);
            read_first_answer(&mut stream, &mut seen).await
        }
    }
}

/// Sends the startup message and reads the first answer.
async fn start<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    startup: &Startup,
    mut seen: BytesMut,
) -> Outcome {
    let mut buf = BytesMut::new();
    let parameters = [
        ("user", startup.user.as_str()),
        ("database", startup.database.as_str()),
    ];
    if let Err(e) = frontend::startup_message(parameters, &mut buf) {
        return Outcome::Closed {
            step: Step::BuildStartup,
            cause: Some(e.to_string()),
        };
    }
    if let Err(e) = stream.write_all(&buf).await {
        return Outcome::Closed {
            step: Step::SendStartup,
            cause: Some(e.to_string()),
        };
    }
    if let Err(e) = stream.flush().await {
        return Outcome::Closed {
            step: Step::SendStartup,
            cause: Some(e.to_string()),
        };
    }
    read_first_answer(&mut stream, &mut seen).await
}

async fn read_first_answer<S: AsyncRead + Unpin>(stream: &mut S, seen: &mut BytesMut) -> Outcome {
    loop {
        if let Some(answer) = read_answer(seen) {
            return Outcome::Answer(answer);
        }
        if seen.len() > MAX_ANSWER_BYTES {
            return Outcome::Answer(Answer::Oversized {
                limit: MAX_ANSWER_BYTES,
            });
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) => {
                return Outcome::Closed {
                    step: Step::ReadAnswer,
                    cause: None,
                }
            }
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            Err(e) => {
                return Outcome::Closed {
                    step: Step::ReadAnswer,
                    cause: Some(e.to_string()),
                }
            }
        }
    }
}

fn io_code(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "ECONNREFUSED",
        std::io::ErrorKind::TimedOut => "ETIMEDOUT",
        std::io::ErrorKind::NetworkUnreachable => "ENETUNREACH",
        std::io::ErrorKind::HostUnreachable => "EHOSTUNREACH",
        std::io::ErrorKind::ConnectionReset => "ECONNRESET",
        _ => "UNKNOWN",
    }
}

/// TLS without certificate verification (see the module docs for why), with ring's algorithms;
/// signatures in the handshake are still checked against the certificate's key. `None` only if
/// ring supported none of rustls' default protocol versions.
fn tls_config() -> Option<Arc<rustls::ClientConfig>> {
    static CONFIG: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let verifier = Arc::new(AnyCertificate(provider.clone()));
            let builder = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()?;
            Some(Arc::new(
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth(),
            ))
        })
        .clone()
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::pooler_verdict::tests::{auth, tenant_not_found};
    use crate::check::pooler_verdict::ServerError;
    use crate::lookup::resolver::ResolverSettings;

    /// An IP literal needs no DNS: this resolver would fail any query.
    fn resolver() -> Ipv4Resolver {
        Ipv4Resolver::new(ResolverSettings {
            nameservers: Some(vec!["127.0.0.1:9".parse().unwrap()]),
            timeout: Some(Duration::from_millis(50)),
            attempts: Some(1),
            fallback: false,
        })
    }

    fn startup() -> Startup {
        Startup {
            user: "postgres.abc".into(),
            database: "postgres".into(),
        }
    }

    /// A one-connection server on loopback: answers the SSLRequest with `ssl` (none: never
    /// answers; other than 'N': closes after it), then `answer` after the startup message, and
    /// returns every byte the client sent.
    async fn server(ssl: Option<u8>, answer: Vec<u8>) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut got = vec![0u8; 8];
            socket.read_exact(&mut got).await.unwrap();
            let Some(ssl) = ssl else {
                // Silent: hold the connection until the client goes.
                let mut rest = Vec::new();
                let _ = socket.read_to_end(&mut rest).await;
                got.extend(rest);
                return got;
            };
            socket.write_all(&[ssl]).await.unwrap();
            if ssl != b'N' {
                // Not PostgreSQL: one byte, then the connection closes.
                return got;
            }
            let mut len = [0u8; 4];
            socket.read_exact(&mut len).await.unwrap();
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize - 4];
            socket.read_exact(&mut body).await.unwrap();
            got.extend(len);
            got.extend(&body);
            socket.write_all(&answer).await.unwrap();
            // Whatever comes after the answer, until the client closes.
            let mut rest = Vec::new();
            let _ = socket.read_to_end(&mut rest).await;
            got.extend(rest);
            got
        });
        (port, task)
    }

    #[tokio::test]
    async fn an_authentication_request_means_serves_and_nothing_follows() {
        let (port, sent) = server(Some(b'N'), auth(5, b"salt")).await;
        let p = probe(
            "127.0.0.1",
            port,
            &startup(),
            &resolver(),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(p.verdict, PoolerVerdict::Serves, "{p:?}");
        assert_eq!((p.tls, p.address), (Some(false), Some(Ipv4Addr::LOCALHOST)));
        let sent = sent.await.unwrap();
        // SSLRequest (8 bytes), then the startup message, and nothing more.
        assert_eq!(&sent[..8], &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
        let startup_len = u32::from_be_bytes(sent[8..12].try_into().unwrap()) as usize;
        assert_eq!(
            sent.len(),
            8 + startup_len,
            "bytes after the startup message"
        );
        let text = String::from_utf8_lossy(&sent[16..]);
        assert!(
            text.contains("user\0postgres.abc\0database\0postgres\0"),
            "{text:?}"
        );
    }

    #[tokio::test]
    async fn tenant_not_found_and_other_answers() {
        let (port, _) = server(Some(b'N'), tenant_not_found()).await;
        let p = probe(
            "127.0.0.1",
            port,
            &startup(),
            &resolver(),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(p.verdict, PoolerVerdict::TenantNotFound, "{p:?}");
        assert_eq!(
            p.outcome,
            Outcome::Answer(Answer::Error(ServerError {
                severity: "FATAL".into(),
                code: "XX000".into(),
                message: "Tenant or user not found".into(),
            }))
        );

        let (port, _) = server(Some(b'X'), vec![]).await;
        let p = probe(
            "127.0.0.1",
            port,
            &startup(),
            &resolver(),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(p.verdict, PoolerVerdict::Unexpected, "{p:?}");
    }

    #[tokio::test]
    async fn a_silent_server_times_out_at_the_limit() {
        let (port, _) = server(None, vec![]).await;
        let started = Instant::now();
        let p = probe(
            "127.0.0.1",
            port,
            &startup(),
            &resolver(),
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(p.verdict, PoolerVerdict::Timeout, "{p:?}");
        assert!(
            matches!(
                p.outcome,
                Outcome::TimedOut {
                    stage: Stage::SslAnswer,
                    ..
                }
            ),
            "{p:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(1000));
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_failure() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let p = probe(
            "127.0.0.1",
            port,
            &startup(),
            &resolver(),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(p.verdict, PoolerVerdict::ConnectFailed, "{p:?}");
        assert!(
            matches!(
                p.outcome,
                Outcome::ConnectFailed {
                    code: "ECONNREFUSED",
                    ..
                }
            ),
            "{p:?}"
        );
    }

    #[test]
    fn limits() {
        let l = Limits::with_timeout(Duration::from_secs(5));
        assert_eq!(
            (l.per_probe, l.total, l.in_flight),
            (PROBE_TIME_LIMIT, SEARCH_TIME_LIMIT, MAX_IN_FLIGHT)
        );
        assert_eq!(
            Limits::with_timeout(Duration::from_millis(800)).per_probe,
            Duration::from_millis(800)
        );
    }
}
