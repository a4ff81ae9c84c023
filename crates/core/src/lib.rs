//! The heart of crawlbench: the workload every backend runs, the [`Backend`] trait they implement,
//! and everything backends must *not* differ in.
//!
//! A benchmark of concurrency models is only fair when the models are the only thing that differs.
//! So this crate owns all the crawl logic — the [`Frontier`] (scope, dedupe, `max_pages`), link
//! extraction, the per-URL [`FetchPolicy`] (retries, redirects, body cap, digest), the
//! [`driver`] that keeps exactly `concurrency` fetches outstanding, measurement of CPU and memory,
//! and verification against a [`GroundTruth`]. A backend supplies only two things: an HTTP client
//! that performs one GET ([`BlockingHttp`] or [`AsyncHttp`]) and the machinery that runs many of
//! them at once (threads, a runtime, processes).
//!
//! **Invariant:** this crate names no async runtime and no HTTP client. It depends on
//! `futures-util` (runtime-agnostic combinators) and nothing that spawns or does IO on its own;
//! `cargo tree -p crawlbench-core -i tokio` must stay empty, and CI checks it.

#![deny(missing_docs)]

pub mod backend;
pub mod child;
pub mod driver;
pub mod fetch;
pub mod frontier;
pub mod job;
pub mod links;
pub mod report;
pub mod resources;
pub mod rules;
pub mod summary;
pub mod verify;

pub use backend::{
    Backend, BackendError, BackendInfo, ConcurrencyModel, HttpVersion, UpstreamStatus,
};
pub use fetch::{
    AsyncHttp, BlockingHttp, BodyBuffer, ErrorKind, FetchError, FetchOutcome, FetchPolicy, Outcome,
    RawResponse,
};
pub use frontier::{Frontier, Scope};
pub use job::{ConnectionPolicy, CrawlJob, CrawlJobBuilder, JobError, Progress, Workload};
pub use report::CrawlReport;
pub use rules::{CrawlRules, Politeness, ResolveMap, RobotsRule, ScopeRule};
pub use verify::{Expected, GroundTruth, Verification};
