//! `results.json`: the machine-readable form of a report — every cell with its backend, its
//! criterion timing, the metrics derived from its runs, its verdict and rank — versioned by
//! [`RESULTS_SCHEMA`] so `cargo xtask compare` and other tools can refuse what they cannot read.

use std::{collections::BTreeMap, fs, path::Path};

use anyhow::{Context, Result, ensure};
use crawlbench_core::{
    BackendInfo,
    report::JobSummary,
    summary::{Environment, RunSummary},
};
use serde::{Deserialize, Serialize};

use super::load::{RunOrder, read_json};

/// Version of the layout of [`Results`]. Bump it when a field changes meaning or goes away.
pub(crate) const RESULTS_SCHEMA: u32 = 1;

/// The whole of `results.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Results {
    /// [`RESULTS_SCHEMA`].
    pub(crate) schema: u32,
    /// The bench suite's `METRICS_SCHEMA` the input had.
    pub(crate) metrics_schema: u32,
    /// `quick`, `full`, or `mixed (…)` when cells disagree.
    pub(crate) profile: String,
    /// The machine and software, when the bench suite recorded them.
    pub(crate) environment: Option<Environment>,
    /// Expected workloads with no data.
    pub(crate) missing_workloads: Vec<String>,
    /// Caveats about the data (missing estimates, stale files, …).
    pub(crate) warnings: Vec<String>,
    /// Chart files written beside this file.
    pub(crate) charts: Vec<ChartFile>,
    /// Every workload with data, in report order.
    pub(crate) workloads: Vec<WorkloadResult>,
}

/// One workload (criterion group).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct WorkloadResult {
    pub(crate) name: String,
    /// The order backends ran in, when the bench suite recorded it.
    pub(crate) order: Option<RunOrder>,
    /// Cells sorted by parameter, then rank (ranked first, then unverified, then failed).
    pub(crate) cells: Vec<CellResult>,
    /// For workloads whose parameter grows (seed-replica): each backend's least-squares line of
    /// median wall against the parameter, over its verified cells.
    #[serde(default)]
    pub(crate) scaling: Vec<ScalingFit>,
}

/// A least-squares line `wall = intercept + slope × parameter`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ScalingFit {
    pub(crate) backend: String,
    /// Seconds per unit of the parameter (per URL for seed-replica).
    pub(crate) slope_secs: f64,
    pub(crate) intercept_secs: f64,
    /// Cells the line was fitted to.
    pub(crate) points: usize,
}

/// One chart file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChartFile {
    pub(crate) workload: String,
    /// File name, relative to the output directory.
    pub(crate) file: String,
    pub(crate) title: String,
}

/// One (workload, backend, parameter).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct CellResult {
    pub(crate) backend: BackendInfo,
    pub(crate) parameter: String,
    /// Position of the backend in the run order (0-based).
    pub(crate) order: usize,
    pub(crate) profile: String,
    pub(crate) job: JobSummary,
    /// Criterion's directory, relative to `target/criterion`.
    pub(crate) criterion_dir: String,
    /// Why the cell could not run; it then has no wall time and no metrics.
    pub(crate) failure: Option<String>,
    /// The cell ran and every run verified against the ground truth.
    pub(crate) verified: bool,
    /// Median wall time of one run.
    pub(crate) wall: Option<WallTime>,
    /// 1-based rank by median wall among verified cells with the same parameter.
    pub(crate) rank: Option<usize>,
    /// Median wall over the best verified median wall with the same parameter.
    pub(crate) ratio_to_best: Option<f64>,
    pub(crate) metrics: Metrics,
    /// Every measured run, as the bench suite recorded it.
    pub(crate) runs: Vec<RunSummary>,
}

/// Where a wall time came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WallSource {
    /// Criterion's estimates (`new/estimates.json`).
    Criterion,
    /// The median of the cell's own runs (criterion wrote no estimates).
    Runs,
}

/// Median wall time of one run, with criterion's confidence interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct WallTime {
    pub(crate) source: WallSource,
    pub(crate) median_secs: f64,
    pub(crate) ci: Option<Interval>,
    pub(crate) mean_secs: Option<f64>,
}

/// A confidence interval in seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Interval {
    pub(crate) lower_secs: f64,
    pub(crate) upper_secs: f64,
    /// E.g. 0.95.
    pub(crate) confidence_level: f64,
}

/// Numbers derived from a cell's runs and its wall time. Per-run values are medians over runs;
/// `None` where the cell failed or the quantity is not defined.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Metrics {
    pub(crate) ideal_secs: Option<f64>,
    /// `ideal_secs / wall.median_secs`.
    pub(crate) efficiency: Option<f64>,
    pub(crate) urls: Option<f64>,
    pub(crate) requests: Option<f64>,
    pub(crate) successes: Option<f64>,
    /// `urls / wall.median_secs`.
    pub(crate) urls_per_sec: Option<f64>,
    /// `requests / wall.median_secs`.
    pub(crate) requests_per_sec: Option<f64>,
    /// Client CPU (user + system + children).
    pub(crate) cpu_secs: Option<f64>,
    pub(crate) cpu_us_per_request: Option<f64>,
    /// The origin's CPU, in its own process.
    pub(crate) origin_cpu_secs: Option<f64>,
    pub(crate) peak_rss_mib: Option<f64>,
    /// The largest child process's peak RSS (multi-process backends).
    pub(crate) children_peak_rss_mib: Option<f64>,
    pub(crate) latency_p50_ms: Option<f64>,
    pub(crate) latency_p90_ms: Option<f64>,
    pub(crate) latency_p99_ms: Option<f64>,
    /// URLs per error kind in one run: the least and most over runs.
    pub(crate) errors: BTreeMap<String, Span>,
    /// Runs whose verification failed, and runs with no ground truth.
    pub(crate) runs_failed_verification: usize,
    pub(crate) runs_without_truth: usize,
}

/// The least and most of a count over runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Span {
    pub(crate) min: usize,
    pub(crate) max: usize,
}

impl Results {
    /// The cell for `(workload, backend, parameter)`.
    pub(crate) fn cell(
        &self,
        workload: &str,
        backend: &str,
        parameter: &str,
    ) -> Option<&CellResult> {
        self.workloads
            .iter()
            .find(|w| w.name == workload)?
            .cells
            .iter()
            .find(|c| c.backend.name == backend && c.parameter == parameter)
    }

    /// Reads a `results.json`, refusing other schema versions.
    pub(crate) fn read(path: &Path) -> Result<Self> {
        #[derive(Deserialize)]
        struct Header {
            schema: u32,
        }
        let header: Header = read_json(path)?;
        ensure!(
            header.schema == RESULTS_SCHEMA,
            "{} has results schema {}, but this xtask reads schema {RESULTS_SCHEMA}",
            path.display(),
            header.schema
        );
        read_json(path)
    }

    /// Writes `results.json` (pretty-printed, so diffs between runs are readable).
    pub(crate) fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
    }
}

impl CellResult {
    /// The parameter as a number, when it is one.
    pub(crate) fn parameter_value(&self) -> Option<f64> {
        self.parameter.parse().ok()
    }
}

/// Sort key for parameters: numeric ones by value, before any others in text order.
pub(crate) fn parameter_key(p: &str) -> (u8, f64, String) {
    match p.parse::<f64>() {
        Ok(v) if v.is_finite() => (0, v, String::new()),
        _ => (1, 0.0, p.to_owned()),
    }
}

/// Compares two parameters by [`parameter_key`].
pub(crate) fn cmp_parameters(a: &str, b: &str) -> std::cmp::Ordering {
    let (ka, kb) = (parameter_key(a), parameter_key(b));
    ka.0.cmp(&kb.0)
        .then(ka.1.total_cmp(&kb.1))
        .then_with(|| ka.2.cmp(&kb.2))
}
