//! The built-in origin server: a deterministic synthetic site that every backend is measured
//! against, and that states the ground truth a correct run must match.
//!
//! - [`site`] is pure: from a [`SiteSpec`] it decides, for any request path and attempt number,
//!   exactly what the server replies ([`site::Reply`]) — page bodies with links, per-URL latency,
//!   faults, the hosts a site spans and their `robots.txt`. The ground truth is stated from the
//!   site's own link graph and fault model, never by running the crawler's fetch policy,
//!   frontier or link extraction — the code it checks.
//! - [`server`] serves a [`site::Site`] over hyper 1.x on its own tokio runtime, counting requests
//!   and the peak number of concurrent in-flight requests (which is how the conformance suite
//!   proves a backend's concurrency limit), overall and per host (which proves its politeness).
//! - `respond` is the one interpreter of a site's [`site::Action`]: how a reply goes on the wire.
//! - [`network`] models what loopback lacks — round trips, bandwidth — and names the TLS key
//!   types; [`tls`] issues each run's CA and server certificate.
//! - [`verified`] is the one path for a verified run: reset, run, counters, verdict.
//! - [`process`] runs the server as a child process for measured runs, so the origin's CPU and
//!   memory are never counted as the client's, and talks to it over a line protocol on stdio —
//!   or as several processes sharing one port (`SO_REUSEPORT`) when one process's open-file
//!   limit would cap the connections a run needs; [`timeline`] proves how many requests were
//!   in flight across them at once.

#![deny(missing_docs)]

pub mod network;
pub mod process;
mod respond;
pub mod server;
pub mod site;
pub mod timeline;
pub mod tls;
pub mod verified;

pub use network::{NetworkModel, TlsKey};
pub use process::OriginProcess;
pub use server::{OriginConfig, RunningOrigin};
pub use site::{FaultProfile, HostNaming, LatencyModel, Site, SiteSpec};
pub use verified::{Origin, RunError, verified_run};
