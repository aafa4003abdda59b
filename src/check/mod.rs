//! `ipv4-force check`: what a target is (`target`), what DNS, the routing table and a TCP
//! connect say about it (`probes`, the I/O), and what that means (`verdict`, pure: facts and
//! codes, which lib/check-words.js words); for Supabase, which pooler serves a project
//! (`supabase`: the candidates and the string to paste; `pooler_probe`: the PostgreSQL startup
//! exchange; `pooler_verdict`: what its answer means).

pub mod pooler_probe;
pub mod pooler_verdict;
pub mod probes;
pub mod supabase;
pub mod target;
pub mod verdict;
