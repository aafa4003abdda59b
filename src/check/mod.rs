//! `ipv4-force check`: what a target is (`target`), and what DNS, the routing table and a TCP
//! connect say about it (`probes`).

pub mod probes;
pub mod target;
