//! [`RunSummary`]: one measured run without its per-URL outcomes — what the campaign keeps of
//! every run in `runs.jsonl`, small enough to keep thousands of runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{CrawlReport, report::LatencySummary};

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
    /// Worker processes a multi-process backend ran (0 for in-process backends).
    pub worker_processes: u32,
    /// The client's peak plus every worker's own peak: the sum of per-process peaks.
    pub peak_rss_sum_bytes: u64,
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
            worker_processes: r.resources.worker_processes,
            peak_rss_sum_bytes: r.resources.peak_rss_sum_bytes(),
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
