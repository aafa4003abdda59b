//! ipv4-force's native addon. Two plain-Rust layers do the work: `lookup` resolves names to IPv4
//! (hostname parsing, the hickory resolver and its UDP transport, the cache, errors),
//! `check` runs `ipv4-force check` (target parsing, probes, verdicts), and `advice` words what both
//! tell a person to do. `binding` adapts them to Node: the napi exports, options, completion
//! machinery and report types.
#![deny(clippy::all)]

mod advice;
mod binding;
mod check;
mod locking;
mod lookup;
