//! Compact summaries of runs, shared by the writer (the bench suite) and the reader
//! (`cargo xtask report`), so the two can never disagree about the layout.
//!
//! A bench *cell* is one (workload, backend, parameter): its [`CellMetrics`] hold the summary of
//! every measured run — CPU, memory, latency, errors, verification — next to criterion's own
//! timing estimates, which live in criterion's directory ([`CellMetrics::criterion_dir`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    BackendInfo, CrawlReport,
    report::{JobSummary, LatencySummary},
};

/// Version of the layout of [`CellMetrics`] and [`Environment`].
pub const METRICS_SCHEMA: u32 = 1;

/// One measured run, without its per-URL outcomes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Wall seconds of `Backend::run`.
    pub wall_secs: f64,
    /// URLs attempted.
    pub urls: usize,
    /// HTTP attempts.
    pub requests: u64,
    /// URLs that ended in a 2xx.
    pub successes: usize,
    /// URLs per wall second.
    pub urls_per_sec: f64,
    /// Client user CPU seconds.
    pub cpu_user_secs: f64,
    /// Client system CPU seconds.
    pub cpu_sys_secs: f64,
    /// CPU seconds of the client's child processes (multi-process workers).
    pub children_cpu_secs: f64,
    /// Client CPU (with children) per HTTP attempt, in microseconds.
    pub cpu_us_per_request: f64,
    /// Client peak RSS.
    pub peak_rss_bytes: u64,
    /// Largest child peak RSS.
    pub children_peak_rss_bytes: u64,
    /// Peak in-flight fetches seen by the crawl loop.
    pub peak_in_flight: usize,
    /// Peak concurrent requests seen by the origin.
    pub origin_peak_in_flight: Option<u64>,
    /// The origin's own CPU seconds during the run (it runs in its own process).
    pub origin_cpu_secs: Option<f64>,
    /// Latency percentiles.
    pub latency: LatencySummary,
    /// URLs per error kind.
    pub errors: BTreeMap<String, usize>,
    /// URLs per final status.
    pub statuses: BTreeMap<u16, usize>,
    /// Verification verdict (`None` without ground truth).
    pub verified: Option<bool>,
    /// The first verification differences.
    #[serde(default)]
    pub differences: Vec<String>,
    /// Backend-specific counters.
    #[serde(default)]
    pub extra: BTreeMap<String, f64>,
}

impl From<&CrawlReport> for RunSummary {
    fn from(r: &CrawlReport) -> Self {
        Self {
            wall_secs: r.wall_secs,
            urls: r.urls,
            requests: r.requests,
            successes: r.successes,
            urls_per_sec: r.urls_per_sec(),
            cpu_user_secs: r.resources.cpu_user_secs,
            cpu_sys_secs: r.resources.cpu_sys_secs,
            children_cpu_secs: r.resources.children_cpu_secs,
            cpu_us_per_request: r.cpu_us_per_request(),
            peak_rss_bytes: r.resources.peak_rss_bytes,
            children_peak_rss_bytes: r.resources.children_peak_rss_bytes,
            peak_in_flight: r.peak_in_flight,
            origin_peak_in_flight: r.origin.as_ref().map(|o| o.peak_in_flight),
            origin_cpu_secs: r.origin.as_ref().and_then(|o| o.cpu_secs),
            latency: r.latency.clone(),
            errors: r
                .errors
                .iter()
                .map(|(k, n)| (k.as_str().to_owned(), *n))
                .collect(),
            statuses: r.statuses.clone(),
            verified: r.verified(),
            differences: r
                .verification
                .as_ref()
                .map(|v| v.differences.clone())
                .unwrap_or_default(),
            extra: r.extra.clone(),
        }
    }
}

/// Everything measured for one bench cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellMetrics {
    /// [`METRICS_SCHEMA`].
    pub schema: u32,
    /// `quick` or `full`.
    pub profile: String,
    /// The workload (criterion group), e.g. `latency-list`.
    pub workload: String,
    /// The backend.
    pub backend: BackendInfo,
    /// The parameter (criterion value), e.g. the URL count or the concurrency.
    pub parameter: String,
    /// Criterion's directory for this cell, relative to `target/criterion`
    /// (`<group>/<function>/<parameter>`); its `new/estimates.json` holds the wall-time estimates.
    pub criterion_dir: String,
    /// Position of this backend in the group's run order (0-based).
    pub order: usize,
    /// The job.
    pub job: JobSummary,
    /// Ideal makespan in seconds where one is defined (`ceil(N / C) × delay`).
    pub ideal_secs: Option<f64>,
    /// Why the cell could not run (the backend refused the job, or setup failed); `runs` is then
    /// empty.
    pub failure: Option<String>,
    /// Every measured run (warm-up included), in order.
    pub runs: Vec<RunSummary>,
}

impl CellMetrics {
    /// True when the cell ran and every run verified.
    pub fn all_verified(&self) -> bool {
        self.failure.is_none()
            && !self.runs.is_empty()
            && self.runs.iter().all(|r| r.verified == Some(true))
    }
}

/// The machine and software a bench run happened on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// [`METRICS_SCHEMA`].
    pub schema: u32,
    /// `quick` or `full`.
    pub profile: String,
    /// When the run started (UTC, RFC 3339).
    pub date: String,
    /// `git rev-parse HEAD` (with `-dirty` when the tree had changes).
    pub git_commit: String,
    /// `rustc --version`.
    pub rustc: String,
    /// CPU model name.
    pub cpu_model: String,
    /// Logical cores.
    pub cores: usize,
    /// Total memory.
    pub memory_bytes: u64,
    /// `uname -sr`.
    pub kernel: String,
    /// The command that produced the data.
    pub command: String,
    /// Seed the backend order was shuffled with (`None`: registry order).
    pub order_seed: Option<u64>,
    /// Versions of the stacks' crates, from `Cargo.lock`.
    pub crate_versions: BTreeMap<String, String>,
    /// Anything a reader must know (shared cores, limits).
    pub notes: Vec<String>,
}
