//! The one path for a verified run: reset the origin, run the backend, read the origin's
//! counters, verify against the ground truth, return the report.
//!
//! The CLI, the conformance suite, the criterion benches and the campaign all go through
//! [`verified_run`], so a report is finished — origin view attached, verdict computed — in one
//! place, whether the origin is in-process ([`RunningOrigin`]) or a child process
//! ([`OriginProcess`]), and whether the backend runs in this process or in a fresh child.

use std::io;

use crawlbench_core::{
    Backend, BackendError, CrawlJob, CrawlReport,
    report::OriginStats,
    verify::{check_connections, check_politeness},
};

use crate::{OriginProcess, RunningOrigin, Site};

/// An origin a measured run can be verified against.
pub trait Origin {
    /// The site it serves (its URLs and ground truth).
    fn site(&self) -> &Site;
    /// Zeroes its counters and transient-fault state, so every run meets the same origin.
    fn reset(&mut self) -> io::Result<()>;
    /// Its counters since the last reset.
    fn stats(&mut self) -> io::Result<OriginStats>;
}

/// An in-process origin's counters are atomics, so a shared reference can reset and read them
/// (the conformance suite shares one origin per check).
impl Origin for &RunningOrigin {
    fn site(&self) -> &Site {
        RunningOrigin::site(self)
    }
    fn reset(&mut self) -> io::Result<()> {
        RunningOrigin::reset(self);
        Ok(())
    }
    fn stats(&mut self) -> io::Result<OriginStats> {
        Ok(RunningOrigin::stats(self))
    }
}

impl Origin for OriginProcess {
    fn site(&self) -> &Site {
        OriginProcess::site(self)
    }
    fn reset(&mut self) -> io::Result<()> {
        OriginProcess::reset(self)
    }
    fn stats(&mut self) -> io::Result<OriginStats> {
        OriginProcess::stats(self)
    }
}

/// Why a verified run produced no report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The backend refused the job or could not start.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The origin could not be reset or asked for its counters.
    #[error("the origin failed: {0}")]
    Origin(#[from] io::Error),
}

/// Runs `job` on `backend` against `origin` and returns the report with the origin's counters
/// and the verification verdict attached — every URL against the ground truth, and the origin's
/// connection and TLS handshake counts against the job's connection policy, its per-host counters
/// against the job's per-host limits, and a backend's breakdown mid-run (`failure`) first of all
/// (no verdict for an interrupted run: a partial run has nothing complete to check).
pub fn verified_run(
    backend: &dyn Backend,
    job: &CrawlJob,
    origin: &mut dyn Origin,
) -> Result<CrawlReport, RunError> {
    origin.reset()?;
    let mut report = backend.run(job)?;
    let stats = origin.stats()?;
    if !report.interrupted {
        let truth = origin.site().ground_truth(job);
        let mut verdict = truth.verify(job, &report.outcomes);
        verdict.add_differences(check_connections(job, &report.outcomes, &stats));
        verdict.add_differences(check_politeness(job, &stats));
        if let Some(why) = &report.failure {
            verdict.add_failure(why);
        }
        report.verification = Some(verdict);
    }
    report.origin = Some(stats);
    Ok(report)
}
