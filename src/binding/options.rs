//! Resolver options from JS, converted for the core. lib/resolver-options.js checks and words
//! them for both backends; the checks here only guard the conversion (nothing may panic or wrap
//! around), for a caller that reaches the addon without the JS layer.

use std::time::Duration;

use napi_derive::napi;

use super::codes::{CallFailure, CallFailureCode};
use crate::lookup::resolver::{parse_nameserver, ResolverSettings};
use crate::lookup::service::CacheSettings;

/// Options of the resolver (`resolveIPv4`, `createLookup`, `patchNet`).
#[napi(object)]
#[derive(Default)]
pub struct NativeResolverOptions {
    /// DNS servers to ask instead of those in /etc/resolv.conf: `'1.2.3.4'`, `'1.2.3.4:5353'`,
    /// `'::1'`, `'[::1]:5353'`. Default: the system configuration (/etc/resolv.conf: nameservers,
    /// search, ndots, timeout, attempts; and /etc/hosts).
    pub nameservers: Option<Vec<String>>,
    /// Milliseconds to wait for each answer, an integer from 1. Default: resolv.conf's `timeout`,
    /// else 5000.
    pub timeout: Option<f64>,
    /// Tries per query, the first included, an integer from 1. Default: resolv.conf's `attempts`,
    /// else 2.
    pub attempts: Option<f64>,
    /// When the Rust resolver cannot answer (no usable resolv.conf, timeout, server failure) or
    /// says the name does not exist, ask the system resolver (getaddrinfo, IPv4 only) before
    /// failing. Default: true with the system configuration, false when `nameservers` is given.
    pub fallback: Option<bool>,
    /// Upper bound, in seconds, on how long an answer is cached (answers are kept for their DNS
    /// TTL). Default: Infinity.
    pub max_ttl: Option<f64>,
    /// Seconds a failed lookup is cached (0: failures are not cached). Default: 0.15.
    pub error_ttl: Option<f64>,
}

/// The options as the core takes them; a value the JS layer would have refused is refused with
/// Node's code and the option's name, never converted in a way that could panic or wrap around.
pub(super) fn adapt_options(
    options: NativeResolverOptions,
) -> Result<(ResolverSettings, CacheSettings), CallFailure> {
    let nameservers = match options.nameservers {
        Some(list) if list.is_empty() => {
            return Err(invalid("options.nameservers", "it must not be empty"))
        }
        Some(list) => Some(
            list.iter()
                .map(|s| parse_nameserver(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|bad| invalid("options.nameservers", &bad.to_string()))?,
        ),
        None => None,
    };
    // A resolver pointed at a given server answers from that server only, unless asked.
    let fallback = options.fallback.unwrap_or(nameservers.is_none());
    let timeout_ms = count(options.timeout, "options.timeout")?;
    let attempts = count(options.attempts, "options.attempts")?;
    let settings = ResolverSettings {
        nameservers,
        timeout: timeout_ms.map(|ms| Duration::from_millis(ms.into())),
        attempts: attempts.map(|n| n as usize),
        fallback,
    };
    let defaults = CacheSettings::default();
    let cache = CacheSettings {
        max_ttl: seconds(options.max_ttl, "options.maxTtl")?.unwrap_or(defaults.max_ttl),
        error_ttl: seconds(options.error_ttl, "options.errorTtl")?.unwrap_or(defaults.error_ttl),
    };
    Ok((settings, cache))
}

fn invalid(name: &str, why: &str) -> CallFailure {
    CallFailure {
        code: CallFailureCode::InvalidArgValue,
        message: format!("The \"{name}\" option is invalid: {why}"),
    }
}

fn out_of_range(name: &str, received: f64) -> CallFailure {
    CallFailure {
        code: CallFailureCode::OutOfRange,
        message: format!("The value of \"{name}\" is out of range. Received {received}"),
    }
}

/// An integer in 1..=2^32-1 (milliseconds, tries: zero of either cannot work).
fn count(value: Option<f64>, name: &str) -> Result<Option<u32>, CallFailure> {
    match value {
        None => Ok(None),
        Some(v) if v.fract() == 0.0 && (1.0..=f64::from(u32::MAX)).contains(&v) => {
            Ok(Some(v as u32))
        }
        Some(v) => Err(out_of_range(name, v)),
    }
}

/// Seconds >= 0; `Infinity`, or anything too large for a Duration (e.g. Number.MAX_VALUE, meant
/// as "forever"), means forever.
fn seconds(value: Option<f64>, name: &str) -> Result<Option<Duration>, CallFailure> {
    match value {
        None => Ok(None),
        Some(v) if v >= 0.0 => Ok(Some(
            Duration::try_from_secs_f64(v).unwrap_or(Duration::MAX),
        )),
        Some(v) => Err(out_of_range(name, v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_options_saturate_to_forever_and_refuse_what_is_not_a_duration() {
        for v in [f64::MAX, f64::INFINITY, 2f64.powi(64), 1e300] {
            assert_eq!(
                seconds(Some(v), "options.maxTtl"),
                Ok(Some(Duration::MAX)),
                "{v}"
            );
        }
        assert_eq!(
            seconds(Some(1.5), "options.maxTtl"),
            Ok(Some(Duration::from_millis(1500)))
        );
        for v in [f64::NAN, -1.0, f64::NEG_INFINITY, -1e-300] {
            let err = seconds(Some(v), "options.errorTtl").unwrap_err();
            assert!(matches!(err.code, CallFailureCode::OutOfRange), "{v}");
            assert!(err.message.contains("\"options.errorTtl\""), "{v}");
        }
    }

    #[test]
    fn counts_never_wrap_and_refuse_zero() {
        assert_eq!(
            count(Some(4294967295.0), "options.timeout").ok(),
            Some(Some(u32::MAX))
        );
        assert_eq!(count(Some(1.0), "options.timeout").ok(), Some(Some(1)));
        for v in [0.0, -1.0, 4294967296.0, 0.5, f64::NAN, f64::INFINITY] {
            assert!(count(Some(v), "options.timeout").is_err(), "{v}");
        }
        let options = NativeResolverOptions {
            attempts: Some(-1.0),
            ..NativeResolverOptions::default()
        };
        let err = adapt_options(options).unwrap_err();
        assert!(matches!(err.code, CallFailureCode::OutOfRange));
        assert_eq!(
            err.message,
            "The value of \"options.attempts\" is out of range. Received -1"
        );
        let options = NativeResolverOptions {
            nameservers: Some(vec!["dns.google".into()]),
            ..NativeResolverOptions::default()
        };
        assert!(matches!(
            adapt_options(options).unwrap_err().code,
            CallFailureCode::InvalidArgValue
        ));
    }
}
