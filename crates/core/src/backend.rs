//! The [`Backend`] trait: the one interface every concurrency model implements.
//!
//! It is deliberately small and synchronous. A backend builds and owns whatever it runs on — a
//! thread pool, an async runtime, child processes — *inside* [`Backend::run`], so callers (the
//! CLI, the benches, the conformance suite) never know or care which runtime is underneath, and a
//! runtime can never leak into the core crate. Object safe, so the registry holds
//! `Box<dyn Backend>`.

use serde::{Deserialize, Serialize};

use crate::{ConnectionPolicy, CrawlJob, CrawlReport};

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

    /// Why this backend cannot run on this machine at all (an external program that is not
    /// installed, an interpreter too old), or `None`. Listings show the reason instead of
    /// dropping the backend; `run` then fails with it. Built-in backends are always available.
    fn unavailable(&self) -> Option<String> {
        None
    }
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
    /// Async tasks handing blocking calls to a pool of processes (Python's
    /// `run_in_executor` over a `ProcessPoolExecutor`).
    AsyncOverProcesses,
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
            Self::AsyncOverProcesses => "async over process pool",
        }
    }

    /// Whether its requests run in several processes (each with its own open-file budget).
    pub fn spreads_over_processes(self) -> bool {
        matches!(
            self,
            Self::Processes | Self::AsyncProcesses | Self::AsyncOverProcesses
        )
    }
}

/// The HTTP version a backend speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpVersion {
    /// HTTP/1.1: one request in flight per connection.
    #[default]
    Http1,
    /// HTTP/2: many streams over few connections (ALPN `h2` over TLS, prior knowledge in plain
    /// text).
    Http2,
}

impl HttpVersion {
    /// `HTTP/1.1` or `HTTP/2`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Http1 => "HTTP/1.1",
            Self::Http2 => "HTTP/2",
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
    /// The TLS library its client uses, with version and crypto provider (e.g. `rustls 0.23
    /// (ring)`), or `None` when it cannot fetch `https://` URLs. Reported beside every number:
    /// two backends on different TLS generations do not measure the same handshake.
    #[serde(default)]
    pub tls: Option<String>,
    /// The HTTP version it speaks.
    #[serde(default)]
    pub http: HttpVersion,
    /// The connection policies it implements (every built-in backend does both).
    #[serde(default = "both_policies")]
    pub connection_policies: Vec<ConnectionPolicy>,
}

fn both_policies() -> Vec<ConnectionPolicy> {
    ConnectionPolicy::ALL.to_vec()
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
    /// Refuses `job` when it asks for something this backend does not do: more concurrency than
    /// [`BackendInfo::max_concurrency`], `https://` without TLS, a connection policy it lacks, a
    /// process count when it is not a [`ConcurrencyModel::AsyncProcesses`] backend.
    /// The error names the backend and what it supports.
    pub fn check_job(&self, job: &CrawlJob) -> Result<(), BackendError> {
        if job.uses_tls() && self.tls.is_none() {
            return Err(BackendError::Unsupported {
                backend: self.name.clone(),
                reason: "it has no TLS client, so https:// URLs cannot be fetched \
                         (accepted: http:// URLs)"
                    .to_owned(),
            });
        }
        if !self.connection_policies.contains(&job.connections()) {
            let accepted: Vec<&str> = self
                .connection_policies
                .iter()
                .map(|p| p.as_str())
                .collect();
            return Err(BackendError::Unsupported {
                backend: self.name.clone(),
                reason: format!(
                    "connection policy {} is not implemented (accepted: {})",
                    job.connections(),
                    accepted.join(", ")
                ),
            });
        }
        if let Some(k) = job.processes()
            && self.model != ConcurrencyModel::AsyncProcesses
        {
            return Err(BackendError::Unsupported {
                backend: self.name.clone(),
                reason: format!(
                    "it does not spread work over a chosen number of processes, so processes = \
                     {k} cannot apply (accepted: no process count; the {} backends take one)",
                    ConcurrencyModel::AsyncProcesses.label()
                ),
            });
        }
        // One process, one socket per in-flight request (HTTP/1.1, or any fresh connection):
        // the open-file limit is where it stops, so say so rather than fail on EMFILE midway.
        let socket_per_request =
            self.http == HttpVersion::Http1 || job.connections() == ConnectionPolicy::Fresh;
        if socket_per_request
            && !self.model.spreads_over_processes()
            && let Some(budget) = crate::resources::connection_budget()
            && job.concurrency().min(job.max_urls()) > budget
        {
            return Err(BackendError::Unsupported {
                backend: self.name.clone(),
                reason: format!(
                    "file limit: concurrency {} needs that many sockets in one process, above \
                     its connection budget of {budget} (the hard open-file limit of {} less {} \
                     for everything else; accepted: 1 to {budget}; a {} backend spreads them \
                     over processes)",
                    job.concurrency(),
                    budget as u64 + crate::resources::FD_RESERVE,
                    crate::resources::FD_RESERVE,
                    ConcurrencyModel::AsyncProcesses.label()
                ),
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn info(tls: Option<&str>, policies: Vec<ConnectionPolicy>) -> BackendInfo {
        BackendInfo {
            name: "plain-only".into(),
            runtime: "r".into(),
            client: "c".into(),
            model: ConcurrencyModel::Threads,
            threads: "1".into(),
            status: UpstreamStatus::Maintained,
            max_concurrency: None,
            tls: tls.map(str::to_owned),
            http: HttpVersion::Http1,
            connection_policies: policies,
        }
    }

    #[test]
    fn jobs_a_backend_cannot_do_are_refused_by_name() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        let https = CrawlJob::list(vec![url("https://127.0.0.1:1/a")])
            .build()
            .unwrap();
        let e = info(None, ConnectionPolicy::ALL.to_vec())
            .check_job(&https)
            .unwrap_err()
            .to_string();
        assert!(e.contains("plain-only") && e.contains("https://"), "{e}");
        assert!(
            info(Some("rustls"), vec![ConnectionPolicy::Reuse])
                .check_job(&https)
                .is_ok()
        );
        let fresh = CrawlJob::list(vec![url("http://127.0.0.1:1/a")])
            .connections(ConnectionPolicy::Fresh)
            .build()
            .unwrap();
        let e = info(None, vec![ConnectionPolicy::Reuse])
            .check_job(&fresh)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fresh") && e.contains("accepted: reuse"), "{e}");
    }

    #[test]
    fn one_process_is_refused_past_its_file_limit_and_a_process_count() {
        let url = url::Url::parse("http://127.0.0.1:1/a").unwrap();
        let budget = crate::resources::connection_budget().expect("a finite hard limit");
        let urls: Vec<url::Url> = (0..=budget)
            .map(|i| url.join(&format!("/{i}")).unwrap())
            .collect();
        let over = CrawlJob::list(urls)
            .concurrency(budget + 1)
            .build()
            .unwrap();
        // More concurrency than URLs: only as many sockets as URLs can ever be open.
        let few = CrawlJob::list(vec![url.clone()])
            .concurrency(budget + 1)
            .build()
            .unwrap();
        let at = CrawlJob::list(vec![url.clone()])
            .concurrency(budget)
            .build()
            .unwrap();
        let threads = info(None, ConnectionPolicy::ALL.to_vec());
        let e = threads.check_job(&over).unwrap_err().to_string();
        assert!(
            e.contains("file limit") && e.contains(&format!("1 to {budget}")),
            "{e}"
        );
        threads.check_job(&at).unwrap();
        threads.check_job(&few).unwrap();
        // HTTP/2 multiplexes in-flight requests over few sockets: no file limit to hit.
        let h2 = BackendInfo {
            http: HttpVersion::Http2,
            ..threads.clone()
        };
        h2.check_job(&over).unwrap();
        // Worker processes each hold a share.
        let processes = BackendInfo {
            model: ConcurrencyModel::AsyncProcesses,
            ..threads.clone()
        };
        processes.check_job(&over).unwrap();
        let three = CrawlJob::list(vec![url]).processes(3).build().unwrap();
        processes.check_job(&three).unwrap();
        let e = threads.check_job(&three).unwrap_err().to_string();
        assert!(e.contains("processes = 3"), "{e}");
    }
}
