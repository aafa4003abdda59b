//! Resolving a name to IPv4 addresses: hostname parsing (`hostname`), the resolver with its
//! fallback (`resolver`), the sockets it asks on (`transport`: the first nameserver asked directly
//! on sockets shared while busy, hickory's full client for everything else on reused sockets);
//! the shared TTL cache (`cache`, `service`), the system's files followed while the process runs
//! (`system_files`, `system_config`), and failures shaped like Node's dns errors, with the advice
//! a person needs (`errors`), and the process-wide counters and IPv6-only hosts seen (`counters`).

pub mod cache;
pub mod counters;
pub mod errors;
pub mod hostname;
pub mod resolver;
pub mod service;
pub mod system_config;
pub mod system_files;
pub mod transport;
