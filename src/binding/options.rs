//! Resolver options from JS: every numeric option is range-checked here, and only here (JS checks
//! types), never converted in a way that could panic or wrap around.

use std::time::Duration;

use napi_derive::napi;

use crate::lookup::resolver::{parse_nameserver, ResolverSettings};
use crate::lookup::service::CacheSettings;

/// Options of a resolver (see index.d.ts for the documented shape).
#[napi(object)]
#[derive(Default)]
pub struct NativeResolverOptions {
    pub nameservers: Option<Vec<String>>,
    /// Milliseconds per attempt. A JS number, range-checked in `adapt_options` (a `u32` here
    /// would let napi wrap -1 to 4294967295 unseen).
    pub timeout: Option<f64>,
    pub attempts: Option<f64>,
    pub fallback: Option<bool>,
    /// Seconds.
    pub max_ttl: Option<f64>,
    /// Seconds.
    pub error_ttl: Option<f64>,
}

/// Every numeric option is checked here, and only here: a value out of range is refused with a
/// message naming the option (the JS layer turns it into ERR_INVALID_ARG_VALUE), never converted
/// in a way that could panic or wrap around.
pub(super) fn adapt_options(
    options: NativeResolverOptions,
) -> Result<(ResolverSettings, CacheSettings), String> {
    let nameservers = match options.nameservers {
        Some(list) if list.is_empty() => return Err("nameservers must not be empty".into()),
        Some(list) => Some(
            list.iter()
                .map(|s| parse_nameserver(s))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    // A resolver pointed at a given server answers from that server only, unless asked.
    let fallback = options.fallback.unwrap_or(nameservers.is_none());
    let timeout_ms = whole_number(options.timeout, "timeout", "milliseconds")?;
    let attempts = whole_number(options.attempts, "attempts", "tries")?;
    let settings = ResolverSettings {
        nameservers,
        timeout: timeout_ms.map(|ms| Duration::from_millis(ms.max(1).into())),
        attempts: attempts.map(|n| n as usize),
        fallback,
    };
    let defaults = CacheSettings::default();
    let cache = CacheSettings {
        max_ttl: seconds(options.max_ttl, "maxTtl")?.unwrap_or(defaults.max_ttl),
        error_ttl: seconds(options.error_ttl, "errorTtl")?.unwrap_or(defaults.error_ttl),
    };
    Ok((settings, cache))
}

/// An integer in 0..=2^32-1.
fn whole_number(value: Option<f64>, name: &str, unit: &str) -> Result<Option<u32>, String> {
    match value {
        None => Ok(None),
        Some(v) if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) => {
            Ok(Some(v as u32))
        }
        Some(v) => Err(format!(
            "{name} must be a whole number of {unit} from 0 to 4294967295, got {v}"
        )),
    }
}

/// Seconds >= 0; `Infinity`, or anything too large for a Duration (e.g. Number.MAX_VALUE, meant
/// as "forever"), means forever.
fn seconds(value: Option<f64>, name: &str) -> Result<Option<Duration>, String> {
    match value {
        None => Ok(None),
        Some(v) if v >= 0.0 => Ok(Some(
            Duration::try_from_secs_f64(v).unwrap_or(Duration::MAX),
        )),
        Some(v) => Err(format!("{name} must be a number of seconds >= 0, got {v}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_options_saturate_to_forever_and_refuse_what_is_not_a_duration() {
        for v in [f64::MAX, f64::INFINITY, 2f64.powi(64), 1e300] {
            assert_eq!(seconds(Some(v), "maxTtl"), Ok(Some(Duration::MAX)), "{v}");
        }
        assert_eq!(
            seconds(Some(1.5), "maxTtl"),
            Ok(Some(Duration::from_millis(1500)))
        );
        for v in [f64::NAN, -1.0, f64::NEG_INFINITY, -1e-300] {
            assert!(
                seconds(Some(v), "errorTtl")
                    .unwrap_err()
                    .contains("errorTtl"),
                "{v}"
            );
        }
    }

    #[test]
    fn whole_numbers_never_wrap() {
        assert_eq!(
            whole_number(Some(4294967295.0), "timeout", "ms"),
            Ok(Some(u32::MAX))
        );
        for v in [-1.0, 4294967296.0, 0.5, f64::NAN, f64::INFINITY] {
            assert!(whole_number(Some(v), "timeout", "ms").is_err(), "{v}");
        }
        let options = NativeResolverOptions {
            attempts: Some(-1.0),
            ..NativeResolverOptions::default()
        };
        assert!(adapt_options(options).unwrap_err().contains("attempts"));
    }
}
