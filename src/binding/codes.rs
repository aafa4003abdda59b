//! The string unions JS sees (`binding.d.ts` gets them from here, and index.d.ts re-exports
//! them): error codes and the failure a refused call returns. (The verdicts are the check's own
//! enum, `check::probes::Verdict`.)

use napi_derive::napi;

use crate::lookup::errors::ErrorCode;

/// Codes carried by lookup and connect errors (`err.code`), as in Node's `dns` module:
/// - `ENODATA`: the name exists but has no A record (it is IPv6-only); the message says what to do.
/// - `ENOTFOUND`: the name does not exist (NXDOMAIN), or is malformed (nothing was sent).
/// - `ETIMEOUT`: no answer within `timeout` × `attempts`.
/// - `ECONNREFUSED`: no DNS server could be contacted, or none is configured.
/// - `EREFUSED` / `ESERVFAIL`: the DNS server answered REFUSED / SERVFAIL (or something unusable).
/// - `EAFNOSUPPORT`: an IPv6 literal where only IPv4 can be used (see `allowIPv6Literals`).
/// - `EMFILE`: the process ran out of file descriptors, so no socket could ask the DNS server.
/// - `EINTERNAL`: a bug in ipv4-force, caught before it reached Node (please report it).
#[napi(string_enum)]
pub enum LookupErrorCode {
    #[napi(value = "ENODATA")]
    NoData,
    #[napi(value = "ENOTFOUND")]
    NotFound,
    #[napi(value = "ETIMEOUT")]
    Timeout,
    #[napi(value = "ECONNREFUSED")]
    ConnRefused,
    #[napi(value = "EREFUSED")]
    Refused,
    #[napi(value = "ESERVFAIL")]
    ServFail,
    #[napi(value = "EAFNOSUPPORT")]
    AfNoSupport,
    #[napi(value = "EMFILE")]
    TooManyFiles,
    #[napi(value = "EINTERNAL")]
    Internal,
}

impl From<ErrorCode> for LookupErrorCode {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::NoData => LookupErrorCode::NoData,
            ErrorCode::NotFound => LookupErrorCode::NotFound,
            ErrorCode::Timeout => LookupErrorCode::Timeout,
            ErrorCode::ConnRefused => LookupErrorCode::ConnRefused,
            ErrorCode::Refused => LookupErrorCode::Refused,
            ErrorCode::ServFail => LookupErrorCode::ServFail,
            ErrorCode::AfNoSupport => LookupErrorCode::AfNoSupport,
            ErrorCode::TooManyFiles => LookupErrorCode::TooManyFiles,
            ErrorCode::Internal => LookupErrorCode::Internal,
        }
    }
}

/// Why a call could not be carried out: an option or target it cannot use, or a bug.
#[napi(string_enum)]
#[derive(Debug, PartialEq, Eq)]
pub enum CallFailureCode {
    #[napi(value = "ERR_INVALID_ARG_VALUE")]
    InvalidArgValue,
    #[napi(value = "ERR_OUT_OF_RANGE")]
    OutOfRange,
    #[napi(value = "EINTERNAL")]
    Internal,
}

/// A call refused or failed, with Node's code; the message never holds credentials.
#[napi(object)]
#[derive(Debug, PartialEq, Eq)]
pub struct CallFailure {
    pub code: CallFailureCode,
    pub message: String,
}
