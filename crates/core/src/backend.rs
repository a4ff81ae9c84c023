//! The [`Backend`] trait: the one interface every concurrency model implements.
//!
//! It is deliberately small and synchronous. A backend builds and owns whatever it runs on — a
//! thread pool, an async runtime, child processes — *inside* [`Backend::run`], so callers (the
//! CLI, the benches, the conformance suite) never know or care which runtime is underneath, and a
//! runtime can never leak into the core crate. Object safe, so the registry holds
//! `Box<dyn Backend>`.

use serde::{Deserialize, Serialize};

use crate::{CrawlJob, CrawlReport};

/// A concurrency model under test.
pub trait Backend: Send + Sync {
    /// What this backend is, for listings and reports.
    fn info(&self) -> BackendInfo;

    /// Runs `job` to completion and reports every URL's outcome.
    ///
    /// Network failures are outcomes inside the report, never errors here. An `Err` means the
    /// backend could not run the job at all (it cannot reach the requested concurrency, a runtime
    /// failed to start, a worker process could not be spawned, …).
    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError>;
}

/// How a backend gets many requests in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConcurrencyModel {
    /// One OS thread per in-flight request, blocking IO.
    Threads,
    /// Async tasks on a multi-threaded executor.
    AsyncMultiThread,
    /// Async tasks on one thread.
    AsyncSingleThread,
    /// Async tasks handing blocking calls to a thread pool.
    AsyncOverThreads,
    /// Worker processes fed by a coordinator, one blocking request in flight per process.
    Processes,
    /// Worker processes fed by a coordinator, each running many async tasks.
    AsyncProcesses,
}

impl ConcurrencyModel {
    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Threads => "threads",
            Self::AsyncMultiThread => "async, multi-thread",
            Self::AsyncSingleThread => "async, single thread",
            Self::AsyncOverThreads => "async over thread pool",
            Self::Processes => "processes",
            Self::AsyncProcesses => "processes × async tasks",
        }
    }
}

/// Whether the stack a backend measures is still maintained upstream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "note")]
pub enum UpstreamStatus {
    /// Maintained.
    Maintained,
    /// No longer developed upstream; kept because users still run it.
    Discontinued(String),
}

/// What a backend is: shown by `crawlbench list` and recorded in every report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// Registry name, e.g. `tokio-reqwest`.
    pub name: String,
    /// The runtime or executor, with version, e.g. `tokio 1.48 (multi-thread)`.
    pub runtime: String,
    /// The HTTP client, with version, e.g. `reqwest 0.13`.
    pub client: String,
    /// The concurrency model.
    pub model: ConcurrencyModel,
    /// How many OS threads it runs requests on (e.g. `= concurrency`, `2 (one per core)`).
    pub threads: String,
    /// Upstream maintenance status of the stack.
    pub status: UpstreamStatus,
    /// The highest concurrency it can run, if it has one; above it `run` refuses the job.
    pub max_concurrency: Option<usize>,
}

/// Why a backend could not run a job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The job asks for something this backend cannot do; the message says what is accepted.
    #[error("backend {backend} cannot run this job: {reason}")]
    Unsupported {
        /// The backend's name.
        backend: String,
        /// What was wrong and what is accepted.
        reason: String,
    },
    /// Setting up the runtime, pool, client or processes failed.
    #[error("backend {backend} failed to start: {reason}")]
    Setup {
        /// The backend's name.
        backend: String,
        /// The underlying failure.
        reason: String,
    },
}

impl BackendInfo {
    /// Refuses `job` when it asks for more concurrency than [`BackendInfo::max_concurrency`].
    pub fn check_concurrency(&self, job: &CrawlJob) -> Result<(), BackendError> {
        match self.max_concurrency {
            Some(max) if job.concurrency() > max => Err(BackendError::Unsupported {
                backend: self.name.clone(),
                reason: format!(
                    "concurrency {} is above its limit of {max} (accepted: 1 to {max})",
                    job.concurrency()
                ),
            }),
            _ => Ok(()),
        }
    }

    /// A [`BackendError::Setup`] for this backend.
    pub fn setup_error(&self, reason: impl std::fmt::Display) -> BackendError {
        BackendError::Setup {
            backend: self.name.clone(),
            reason: reason.to_string(),
        }
    }
}
