//! ipv4-force's native addon. Two plain-Rust layers do the work: `lookup` resolves names to IPv4
//! (hostname parsing, the hickory resolver and its UDP transport, the cache, errors),
//! `check` runs `ipv4-force check` (target parsing, probes, verdicts). Both return codes and facts;
//! what a person reads is worded in JS (lib/advice.js, lib/check-words.js). `binding` adapts them
//! to Node: the napi exports, options, completion machinery and report types.
#![deny(clippy::all)]

mod binding;
mod check;
mod locking;
mod lookup;
