//! Helpers for the fault tests of backends whose workers can be lost mid-run (a killed or
//! stopped process or host): the run must still report every URL once with the right result,
//! but the origin may have served a lost worker's requests too, so the request-count and
//! connection checks of [`crate::run_and_verify`] cannot hold there.

use std::time::{Duration, Instant};

use crawlbench_core::{CrawlJob, CrawlReport};
use crawlbench_origin::RunningOrigin;

/// Checks `report`'s outcomes against the origin's ground truth for `job` — every URL once,
/// each result right — without holding the origin's counters against them.
pub fn assert_outcomes_verified(origin: &RunningOrigin, job: &CrawlJob, report: &CrawlReport) {
    let verification = origin
        .site()
        .ground_truth(job)
        .verify(job, &report.outcomes);
    crate::assert_verified(&report.backend.name, &verification);
    assert_eq!(report.urls, report.outcomes.len());
}

/// The backend counter `key` of `report` (panics, listing them, when it is missing).
pub fn extra(report: &CrawlReport, key: &str) -> f64 {
    *report
        .extra
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {:?}", report.extra))
}

/// Polls `cond` every 5 ms until it holds (true) or `limit` passes (false).
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}
