//! What a pooler's answer to a PostgreSQL startup message means (pure: the probe's I/O is in
//! `pooler_probe`; lib/check-words.js words what was seen). Supavisor answers a startup message
//! for a tenant it does not serve with `FATAL: Tenant or user not found` (SQLSTATE XX000), and
//! one for a tenant it serves with an authentication request: so an authentication request
//! means "this pooler serves the project", and the probe never goes further.

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::Message;
use std::net::SocketAddrV4;

use crate::lookup::errors::{ErrorCode, LookupError};

/// What the probe saw, at whatever stage it stopped: facts (lib/check-words.js words them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The lookup answered without an A record (`nodata`: as ENODATA; else an empty answer).
    NoAddress { nodata: bool },
    /// The lookup failed: ENOTFOUND (no such name), or DNS failed otherwise (timeout, SERVFAIL…).
    LookupFailed(LookupError),
    /// The TCP connect failed: Node's code for it, and the system's account.
    ConnectFailed {
        code: &'static str,
        address: SocketAddrV4,
        os_error: String,
    },
    /// The server accepted the SSLRequest, and the TLS handshake failed: the TLS library's
    /// account (None: no TLS configuration could be built).
    TlsFailed(Option<String>),
    /// The connection ended (or failed) before a whole answer came: at which step, and the
    /// system's account (None: the server closed it).
    Closed { step: Step, cause: Option<String> },
    /// No answer in time; the stage it was waiting at.
    TimedOut { stage: Stage, ms: u128 },
    /// The search's time limit ran out before this candidate's turn.
    NotTried,
    /// The server's first answer.
    Answer(Answer),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Dns,
    Connect,
    SslAnswer,
    TlsHandshake,
    StartupAnswer,
}

/// Where a connection ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SendSslRequest,
    ReadSslAnswer,
    BuildStartup,
    SendStartup,
    ReadAnswer,
}

/// The first backend message after the startup message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An authentication request (or AuthenticationOk: no password needed).
    Auth(AuthRequest),
    /// An ErrorResponse.
    Error(ServerError),
    /// Another message, by its tag.
    Other(u8),
    /// Bytes that are not a backend message: the parser's account.
    Malformed(String),
    /// More bytes than any answer takes, without a whole message.
    Oversized { limit: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthRequest {
    Ok,
    Cleartext,
    Md5,
    /// The SASL mechanisms offered (SCRAM-SHA-256…).
    Sasl(Vec<String>),
    Other(&'static str),
}

/// The fields of an ErrorResponse a person reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerError {
    pub severity: String,
    pub code: String,
    pub message: String,
}

/// A candidate's verdict. JS sees it as a string union (binding/check_facts.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolerVerdict {
    /// It asked for authentication: it serves this project (and user).
    Serves,
    /// `Tenant or user not found`: not this one.
    TenantNotFound,
    /// Another error from the server (shown as it is).
    Error,
    /// An answer that is neither (shown as it is).
    Unexpected,
    /// No A record, or no such name.
    NoAddress,
    DnsFailure,
    ConnectFailed,
    TlsFailed,
    /// No answer within the time limit.
    Timeout,
    /// The search's time limit ran out before this candidate was tried.
    NotTried,
}

impl PoolerVerdict {
    /// Its name in reports (and the name JS sees).
    pub fn as_str(self) -> &'static str {
        match self {
            PoolerVerdict::Serves => "serves",
            PoolerVerdict::TenantNotFound => "tenant-not-found",
            PoolerVerdict::Error => "error",
            PoolerVerdict::Unexpected => "unexpected",
            PoolerVerdict::NoAddress => "no-address",
            PoolerVerdict::DnsFailure => "dns-failure",
            PoolerVerdict::ConnectFailed => "connect-failed",
            PoolerVerdict::TlsFailed => "tls-failed",
            PoolerVerdict::Timeout => "timeout",
            PoolerVerdict::NotTried => "not-tried",
        }
    }
}

/// The message Supavisor sends for a tenant (or user) it does not know.
pub const TENANT_NOT_FOUND: &str = "Tenant or user not found";

/// The verdict of what was seen.
pub fn judge(outcome: &Outcome) -> PoolerVerdict {
    match outcome {
        Outcome::Answer(Answer::Auth(_)) => PoolerVerdict::Serves,
        Outcome::Answer(Answer::Error(e)) if is_tenant_not_found(e) => {
            PoolerVerdict::TenantNotFound
        }
        Outcome::Answer(Answer::Error(_)) => PoolerVerdict::Error,
        Outcome::Answer(_) | Outcome::Closed { .. } => PoolerVerdict::Unexpected,
        Outcome::NoAddress { .. } => PoolerVerdict::NoAddress,
        Outcome::LookupFailed(e) if e.code == ErrorCode::NotFound => PoolerVerdict::NoAddress,
        Outcome::LookupFailed(_) => PoolerVerdict::DnsFailure,
        Outcome::ConnectFailed { .. } => PoolerVerdict::ConnectFailed,
        Outcome::TlsFailed(_) => PoolerVerdict::TlsFailed,
        Outcome::TimedOut { .. } => PoolerVerdict::Timeout,
        Outcome::NotTried => PoolerVerdict::NotTried,
    }
}

fn is_tenant_not_found(e: &ServerError) -> bool {
    e.message
        .to_ascii_lowercase()
        .contains(&TENANT_NOT_FOUND.to_ascii_lowercase())
}

/// The first answer in `buf`, once it has come whole (`None`: read more). Notices before it are
/// skipped.
pub fn read_answer(buf: &mut BytesMut) -> Option<Answer> {
    loop {
        let message = match Message::parse(buf) {
            Ok(Some(message)) => message,
            Ok(None) => return None,
            Err(e) => return Some(Answer::Malformed(e.to_string())),
        };
        let answer = match message {
            Message::NoticeResponse(_) => continue,
            Message::AuthenticationOk => Answer::Auth(AuthRequest::Ok),
            Message::AuthenticationCleartextPassword => Answer::Auth(AuthRequest::Cleartext),
            Message::AuthenticationMd5Password(_) => Answer::Auth(AuthRequest::Md5),
            Message::AuthenticationSasl(body) => {
                let mechanisms = body
                    .mechanisms()
                    .map(|m| Ok(m.to_string()))
                    .collect()
                    .unwrap_or_default();
                Answer::Auth(AuthRequest::Sasl(mechanisms))
            }
            Message::AuthenticationGss => Answer::Auth(AuthRequest::Other("GSSAPI")),
            Message::AuthenticationSspi => Answer::Auth(AuthRequest::Other("SSPI")),
            Message::AuthenticationKerberosV5 => Answer::Auth(AuthRequest::Other("Kerberos V5")),
            Message::AuthenticationScmCredential => {
                Answer::Auth(AuthRequest::Other("SCM credential"))
            }
            Message::ErrorResponse(body) => {
                let mut error = ServerError::default();
                let mut fields = body.fields();
                loop {
                    match fields.next() {
                        Ok(Some(field)) => {
                            let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
                            match field.type_() {
                                // 'V' (never localized) wins over 'S' when both come.
                                b'V' => error.severity = value,
                                b'S' if error.severity.is_empty() => error.severity = value,
                                b'C' => error.code = value,
                                b'M' => error.message = value,
                                _ => {}
                            }
                        }
                        Ok(None) => break,
                        Err(e) => return Some(Answer::Malformed(e.to_string())),
                    }
                }
                Answer::Error(error)
            }
            _ => Answer::Other(buf_tag(&message)),
        };
        return Some(answer);
    }
}

/// The tag of a message `read_answer` does not expect (for the description).
fn buf_tag(message: &Message) -> u8 {
    match message {
        Message::ParameterStatus(_) => b'S',
        Message::BackendKeyData(_) => b'K',
        Message::ReadyForQuery(_) => b'Z',
        Message::AuthenticationSaslContinue(_) | Message::AuthenticationSaslFinal(_) => b'R',
        Message::AuthenticationGssContinue(_) => b'R',
        Message::CommandComplete(_) => b'C',
        Message::DataRow(_) => b'D',
        Message::RowDescription(_) => b'T',
        Message::NotificationResponse(_) => b'A',
        _ => b'?',
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A backend message: tag, length, body.
    pub fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    pub fn auth(kind: u32, rest: &[u8]) -> Vec<u8> {
        let mut body = kind.to_be_bytes().to_vec();
        body.extend_from_slice(rest);
        message(b'R', &body)
    }

    pub fn error(fields: &[(u8, &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, value) in fields {
            body.push(*kind);
            body.extend_from_slice(value.as_bytes());
            body.push(0);
        }
        body.push(0);
        message(b'E', &body)
    }

    pub fn tenant_not_found() -> Vec<u8> {
        error(&[
            (b'S', "FATAL"),
            (b'V', "FATAL"),
            (b'C', "XX000"),
            (b'M', TENANT_NOT_FOUND),
        ])
    }

    fn read(bytes: &[u8]) -> Option<Answer> {
        read_answer(&mut BytesMut::from(bytes))
    }

    #[test]
    fn answers_as_read() {
        let sasl = auth(10, b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0");
        let notice_then_md5 = [
            error(&[(b'S', "NOTICE"), (b'M', "hi")])
                .into_iter()
                .map(|b| if b == b'E' { b'N' } else { b })
                .collect::<Vec<u8>>(),
            auth(5, b"salt"),
        ]
        .concat();
        for (name, bytes, expected) in [
            ("ok", auth(0, b""), Some(Answer::Auth(AuthRequest::Ok))),
            (
                "cleartext",
                auth(3, b""),
                Some(Answer::Auth(AuthRequest::Cleartext)),
            ),
            (
                "md5",
                auth(5, b"salt"),
                Some(Answer::Auth(AuthRequest::Md5)),
            ),
            (
                "sasl",
                sasl,
                Some(Answer::Auth(AuthRequest::Sasl(vec![
                    "SCRAM-SHA-256-PLUS".into(),
                    "SCRAM-SHA-256".into(),
                ]))),
            ),
            (
                "notice first",
                notice_then_md5,
                Some(Answer::Auth(AuthRequest::Md5)),
            ),
            (
                "gss",
                auth(7, b""),
                Some(Answer::Auth(AuthRequest::Other("GSSAPI"))),
            ),
            (
                "tenant",
                tenant_not_found(),
                Some(Answer::Error(ServerError {
                    severity: "FATAL".into(),
                    code: "XX000".into(),
                    message: TENANT_NOT_FOUND.into(),
                })),
            ),
            ("half a message", auth(5, b"salt")[..6].to_vec(), None),
            ("nothing", vec![], None),
            ("ready", message(b'Z', b"I"), Some(Answer::Other(b'Z'))),
        ] {
            assert_eq!(read(&bytes), expected, "{name}");
        }
        assert!(matches!(
            read(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
            None | Some(Answer::Malformed(_))
        ));
        assert!(matches!(
            read(&message(b'!', b"x")),
            Some(Answer::Malformed(_))
        ));
        assert!(matches!(
            read(&[b'R', 0, 0, 0, 2]),
            Some(Answer::Malformed(_))
        ));
    }

    #[test]
    fn non_utf8_error_text_never_panics() {
        let mut body = vec![b'M', 0xff, 0xfe, 0];
        body.push(0);
        let answer = read(&message(b'E', &body)).unwrap();
        let Answer::Error(e) = answer else {
            panic!("{answer:?}")
        };
        assert!(e.message.contains('\u{fffd}'));
    }

    #[test]
    fn verdicts() {
        let err = |severity: &str, code: &str, message: &str| {
            Outcome::Answer(Answer::Error(ServerError {
                severity: severity.into(),
                code: code.into(),
                message: message.into(),
            }))
        };
        let lookup = |code| Outcome::LookupFailed(LookupError::new(code, "p.test", "d"));
        use PoolerVerdict as V;
        for (outcome, verdict) in [
            (Outcome::Answer(Answer::Auth(AuthRequest::Md5)), V::Serves),
            (
                Outcome::Answer(Answer::Auth(AuthRequest::Sasl(
                    vec!["SCRAM-SHA-256".into()],
                ))),
                V::Serves,
            ),
            (Outcome::Answer(Answer::Auth(AuthRequest::Ok)), V::Serves),
            (
                err("FATAL", "XX000", "Tenant or user not found"),
                V::TenantNotFound,
            ),
            (
                err("FATAL", "", "tenant or user not found"),
                V::TenantNotFound,
            ),
            (err("FATAL", "53300", "too many connections"), V::Error),
            (err("", "", "x"), V::Error),
            (Outcome::Answer(Answer::Other(b'Z')), V::Unexpected),
            (
                Outcome::Answer(Answer::Malformed("bad".into())),
                V::Unexpected,
            ),
            (
                Outcome::Answer(Answer::Oversized { limit: 16 }),
                V::Unexpected,
            ),
            (Outcome::NoAddress { nodata: true }, V::NoAddress),
            (lookup(ErrorCode::NotFound), V::NoAddress),
            (lookup(ErrorCode::Timeout), V::DnsFailure),
            (
                Outcome::ConnectFailed {
                    code: "ECONNREFUSED",
                    address: "127.0.0.1:5432".parse().unwrap(),
                    os_error: "refused".into(),
                },
                V::ConnectFailed,
            ),
            (Outcome::TlsFailed(Some("bad record".into())), V::TlsFailed),
            (
                Outcome::Closed {
                    step: Step::ReadAnswer,
                    cause: None,
                },
                V::Unexpected,
            ),
            (
                Outcome::TimedOut {
                    stage: Stage::StartupAnswer,
                    ms: 1000,
                },
                V::Timeout,
            ),
            (Outcome::NotTried, V::NotTried),
        ] {
            assert_eq!(judge(&outcome), verdict, "{outcome:?}");
        }
    }
}
