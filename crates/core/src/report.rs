//! [`CrawlReport`]: everything one run measured, serializable for the report tooling.
//!
//! Built in one place, [`measure`], which every backend's `run` goes through: it times the run,
//! takes CPU and memory from the kernel, and derives every aggregate from the outcomes, so no
//! backend can compute a number differently from another.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::{
    BackendError, BackendInfo, ConnectionPolicy, CrawlJob, ErrorKind, FetchOutcome, Outcome,
    Verification, Workload,
    driver::Driven,
    resources::{Meter, ResourceUsage},
};

/// The version of the JSON layout of [`CrawlReport`].
pub const REPORT_SCHEMA: u32 = 1;

/// Latency percentiles over URLs (from the crawl loop's dispatch to the outcome back in the
/// loop), in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Maximum.
    pub max_us: u64,
    /// Mean.
    pub mean_us: f64,
}

/// The origin server's own view of a run (when the origin is ours).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OriginStats {
    /// Requests the origin received.
    pub requests: u64,
    /// The most requests it was handling at once.
    pub peak_in_flight: u64,
    /// Connections it accepted.
    pub connections: u64,
    /// TLS handshakes it completed (0 in plain text).
    #[serde(default)]
    pub tls_handshakes: u64,
    /// CPU seconds the origin's threads spent inside those handshakes (thread CPU time around
    /// each poll of the handshake), so the server side of a TLS comparison is visible too.
    #[serde(default)]
    pub tls_handshake_cpu_secs: f64,
    /// The origin process's CPU seconds (user + system) during the run, when it runs apart.
    pub cpu_secs: Option<f64>,
    /// The listen backlog the kernel applied (requested, capped by `net.core.somaxconn`).
    pub listen_backlog: u32,
    /// Virtual hosts the origin served (1 unless the site spans several).
    #[serde(default)]
    pub hosts: u32,
    /// The most requests one host was handling at once (the maximum over hosts): the proof a
    /// crawl's per-host connection limit held.
    #[serde(default)]
    pub host_peak_in_flight: u64,
    /// Per host, the requests that arrived and the time from the first arrival to the last:
    /// the proof a per-host delay held (n requests spaced by d span at least (n − 1)·d, whatever
    /// delays a single request met on the way).
    #[serde(default)]
    pub host_arrivals: Vec<HostArrivals>,
    /// Per origin process, its own share and cost (empty for an in-process origin; one entry for
    /// a child origin; one per member when several processes share the port). With several
    /// members the totals above are sums over them, except `peak_in_flight`: the most requests
    /// proven in flight across members at once (per 10 ms of `CLOCK_MONOTONIC`, the sum of each
    /// member's fewest in flight — a lower bound), and `host_peak_in_flight`: the sum of the
    /// members' own peaks (an upper bound).
    #[serde(default)]
    pub processes: Vec<OriginProcessStats>,
}

/// One origin process's share of a run (see [`OriginStats::processes`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OriginProcessStats {
    /// Its process id.
    pub pid: u32,
    /// Requests it received.
    pub requests: u64,
    /// Connections it accepted.
    pub connections: u64,
    /// The most requests it was handling at once.
    pub peak_in_flight: u64,
    /// Its CPU seconds (user + system) since the last reset.
    pub cpu_secs: f64,
    /// Its peak resident set size (`VmHWM`) since the last reset, in bytes (the lifetime peak
    /// where the kernel cannot reset it).
    pub peak_rss_bytes: u64,
}

/// One host's arrivals at the origin (see [`OriginStats::host_arrivals`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostArrivals {
    /// Requests that arrived.
    pub requests: u64,
    /// Microseconds from the first arrival to the last.
    pub first_to_last_us: u64,
}

/// What the job was, in a form a report reader can print.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    /// `list` or `crawl`.
    pub kind: String,
    /// List length or `max_pages`.
    pub max_urls: usize,
    /// The in-flight limit.
    pub concurrency: usize,
    /// Per-attempt timeout in milliseconds.
    pub timeout_ms: u64,
    /// Retries after retryable failures.
    pub retries: u32,
    /// The body cap.
    pub max_body_bytes: u64,
    /// `reuse` or `fresh` connections.
    #[serde(default)]
    pub connections: ConnectionPolicy,
    /// Whether the URLs were `https://`.
    #[serde(default)]
    pub tls: bool,
}

impl JobSummary {
    /// The summary of `job`.
    pub fn of(job: &CrawlJob) -> Self {
        Self {
            kind: match job.workload() {
                Workload::List { .. } => "list".into(),
                Workload::Crawl { .. } => "crawl".into(),
            },
            max_urls: job.max_urls(),
            concurrency: job.concurrency(),
            timeout_ms: job.timeout().as_millis() as u64,
            retries: job.retries(),
            max_body_bytes: job.max_body_bytes(),
            connections: job.connections(),
            tls: job.uses_tls(),
        }
    }
}

/// Everything one run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrawlReport {
    /// [`REPORT_SCHEMA`].
    pub schema: u32,
    /// Which backend ran.
    pub backend: BackendInfo,
    /// The job.
    pub job: JobSummary,
    /// Wall seconds of `Backend::run`, setup and teardown of its runtime or pool included.
    pub wall_secs: f64,
    /// URLs attempted (one outcome each).
    pub urls: usize,
    /// HTTP attempts made (retries and redirect hops included).
    pub requests: u64,
    /// Body bytes received (final attempts).
    pub bytes: u64,
    /// URLs that ended in a 2xx.
    pub successes: usize,
    /// URLs per final status code.
    pub statuses: BTreeMap<u16, usize>,
    /// URLs per error kind.
    pub errors: BTreeMap<ErrorKind, usize>,
    /// Latency percentiles.
    pub latency: LatencySummary,
    /// CPU and memory.
    pub resources: ResourceUsage,
    /// The most fetches outstanding at once, as the backend's crawl loop saw it.
    pub peak_in_flight: usize,
    /// The run was cancelled (Ctrl-C / SIGTERM) before it finished: a partial report.
    #[serde(default)]
    pub interrupted: bool,
    /// Backend-specific counters (worker restarts, IPC bytes, thread counts, …).
    #[serde(default)]
    pub extra: BTreeMap<String, f64>,
    /// The backend's machinery broke down mid-run, and why (a crashed, hung or misbehaving
    /// external program): a failed run, whatever its outcomes say. The outcomes received before
    /// it are kept.
    #[serde(default)]
    pub failure: Option<String>,
    /// The origin's view, when the origin is ours.
    #[serde(default)]
    pub origin: Option<OriginStats>,
    /// Verification against the origin's ground truth, when there is one.
    #[serde(default)]
    pub verification: Option<Verification>,
    /// One outcome per URL attempted.
    pub outcomes: Vec<FetchOutcome>,
}

impl CrawlReport {
    /// Builds a report from a finished run.
    pub fn new(
        info: BackendInfo,
        job: &CrawlJob,
        driven: Driven,
        wall_secs: f64,
        resources: ResourceUsage,
    ) -> Self {
        let mut statuses = BTreeMap::new();
        let mut errors = BTreeMap::new();
        let mut hist = Histogram::<u64>::new_with_bounds(1, 24 * 3600 * 1_000_000, 3)
            .expect("static histogram bounds are valid");
        let (mut requests, mut bytes, mut successes) = (0u64, 0u64, 0usize);
        for o in &driven.outcomes {
            requests += u64::from(o.attempts);
            bytes += o.bytes;
            match &o.outcome {
                Outcome::Status(s) => {
                    *statuses.entry(*s).or_insert(0) += 1;
                    if (200..300).contains(s) {
                        successes += 1;
                    }
                }
                Outcome::Error(k) => *errors.entry(*k).or_insert(0) += 1,
            }
            hist.saturating_record(o.latency_us.max(1));
        }
        let latency = if hist.is_empty() {
            LatencySummary::default()
        } else {
            LatencySummary {
                p50_us: hist.value_at_quantile(0.50),
                p90_us: hist.value_at_quantile(0.90),
                p99_us: hist.value_at_quantile(0.99),
                max_us: hist.max(),
                mean_us: hist.mean(),
            }
        };
        Self {
            schema: REPORT_SCHEMA,
            backend: info,
            job: JobSummary::of(job),
            wall_secs,
            urls: driven.outcomes.len(),
            requests,
            bytes,
            successes,
            statuses,
            errors,
            latency,
            resources,
            peak_in_flight: driven.peak_in_flight,
            interrupted: driven.interrupted,
            extra: driven.extra,
            failure: driven.failure,
            origin: None,
            verification: None,
            outcomes: driven.outcomes,
        }
    }

    /// URLs per second of wall time.
    pub fn urls_per_sec(&self) -> f64 {
        if self.wall_secs > 0.0 {
            self.urls as f64 / self.wall_secs
        } else {
            0.0
        }
    }

    /// Client CPU microseconds per HTTP attempt (this process and its children).
    pub fn cpu_us_per_request(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.resources.total_cpu_secs() * 1e6 / self.requests as f64
        }
    }

    /// `Some(true)` when verified, `Some(false)` when verification failed, `None` without a
    /// ground truth.
    pub fn verified(&self) -> Option<bool> {
        self.verification.as_ref().map(|v| v.verified)
    }
}

/// Measures `run` — a backend's whole `Backend::run`, setup and teardown included — and builds
/// the report. Every backend goes through here; `job` is checked against `info`'s limits first.
pub fn measure(
    info: BackendInfo,
    job: &CrawlJob,
    run: impl FnOnce() -> Result<Driven, BackendError>,
) -> Result<CrawlReport, BackendError> {
    info.check_job(job)?;
    let meter = Meter::start();
    let driven = run()?;
    let wall = meter.elapsed_secs();
    let resources = meter.finish().with_workers(driven.worker_peaks);
    Ok(CrawlReport::new(info, job, driven, wall, resources))
}
