//! `report.json`: what a campaign measured and concluded, in a layout users' scripts may rely on
//! (documented in `results/README.md`; bump [`REPORT_SCHEMA`] when a field changes meaning).
//!
//! The contract's core is three lists: `cells[]` (one entry per workload, parameter, backend and
//! metric: median, 95 % interval, paired ratio to the reference backend, the per-round values),
//! `rankings[]` (groups of tied backends in rank order) and `failures[]`; `noise` and
//! `environment` say how far the numbers can be trusted and where they come from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bootstrap::{Interval, Ratio};

/// Version of the `report.json` layout.
pub const REPORT_SCHEMA: u32 = 1;

/// The whole of `report.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignReport {
    /// [`REPORT_SCHEMA`].
    pub schema: u32,
    /// `quick` or `full`.
    pub profile: String,
    /// How the campaign ran: rounds, seed, warm-ups, reference and control, run orders.
    pub campaign: CampaignInfo,
    /// Machine, software, command line.
    pub environment: Environment,
    /// The machine's noise, probed before, between and after the workloads.
    pub noise: Noise,
    /// Every backend entered, the A/A control included, in registry order.
    pub backends: Vec<BackendRow>,
    /// Every workload with its parameters.
    pub workloads: Vec<WorkloadInfo>,
    /// One entry per (workload, parameter, backend, metric) that ran.
    pub cells: Vec<CellStat>,
    /// Rank groups per (workload, parameter, ranked metric), verified cells only.
    pub rankings: Vec<Ranking>,
    /// Cells that could not run or did not verify, with the reason.
    pub failures: Vec<CellFailure>,
    /// The A/A control per (workload, parameter, metric): it must tie.
    pub controls: Vec<ControlCheck>,
    /// Instructions per request under callgrind, per backend (empty when valgrind is missing;
    /// `warnings` then says so).
    pub instructions: Vec<InstructionCount>,
    /// The harness's own cost per URL.
    pub harness: Option<HarnessCost>,
    /// Anything a reader must know before trusting a number.
    pub warnings: Vec<String>,
}

/// How the campaign ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignInfo {
    /// Rounds per cell: each round runs every backend once, in a fresh shuffled order.
    pub rounds: usize,
    /// Discarded warm-up runs per backend and cell, before the first round.
    pub warmup_runs: usize,
    /// Seed of the per-round shuffles (and of every bootstrap).
    pub seed: u64,
    /// The backend every ratio is taken against.
    pub reference: String,
    /// The A/A control: `backend` entered a second time as `label`.
    pub control: Control,
    /// The order of every round, as run (warm-ups included, marked).
    pub orders: Vec<RoundOrder>,
    /// Start and end (UTC, RFC 3339) and the campaign's wall seconds.
    pub started: String,
    /// End of the campaign.
    pub finished: String,
    /// Wall seconds of the whole campaign.
    pub duration_secs: f64,
}

/// The A/A control entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// The backend run twice.
    pub backend: String,
    /// The second entry's label, e.g. `tokio-reqwest (A/A)`.
    pub label: String,
}

/// One round's run order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundOrder {
    /// Workload.
    pub workload: String,
    /// Parameter.
    pub parameter: String,
    /// 0-based round; `None` for the warm-up pass.
    pub round: Option<usize>,
    /// Backend labels in the order they ran.
    pub order: Vec<String>,
}

/// The machine and software a campaign ran on, recorded once per campaign.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// When the campaign started (UTC, RFC 3339).
    pub date: String,
    /// `git rev-parse HEAD`, with `-dirty` when tracked files had changes.
    pub git_commit: String,
    /// The real command line of the campaign process.
    pub command_line: Vec<String>,
    /// Environment variables that shape a run (`CRAWLBENCH_*`, `TOKIO_*`, `ASYNC_STD_*`,
    /// `RUST_*`, `MALLOC_*`), as set.
    pub env: BTreeMap<String, String>,
    /// `rustc --version`.
    pub rustc: String,
    /// CPU model name.
    pub cpu_model: String,
    /// Logical cores.
    pub cores: usize,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// Kernel (`Linux <release>`).
    pub kernel: String,
    /// `valgrind --version`, when installed.
    pub valgrind: Option<String>,
    /// Versions of every measured stack's crates, from `Cargo.lock`.
    pub crate_versions: BTreeMap<String, String>,
    /// Facts a reader must know (shared cores, limits).
    pub notes: Vec<String>,
}

/// The machine's noise.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    /// One entry per probe (`cpu-loop`, `loopback-rtt`).
    pub probes: Vec<NoiseProbe>,
}

/// One noise probe: a fixed piece of work timed several times at several points of a campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoiseProbe {
    /// `cpu-loop` or `loopback-rtt`.
    pub name: String,
    /// What it times.
    pub description: String,
    /// When it was taken and what it measured (seconds per repetition).
    pub points: Vec<ProbePoint>,
    /// Coefficient of variation over every repetition of every point.
    pub cv: f64,
    /// Median of the last point ÷ median of the first (1.0 = no drift).
    pub drift: f64,
}

/// One probe point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbePoint {
    /// `start`, `after <workload>`, `end`.
    pub at: String,
    /// Seconds per repetition.
    pub secs: Vec<f64>,
}

/// A backend as entered in the campaign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendRow {
    /// The label its cells carry (the registry name, or the control's label).
    pub label: String,
    /// Registry name.
    pub name: String,
    /// Concurrency model, in words.
    pub model: String,
    /// Runtime with version.
    pub runtime: String,
    /// Client with version.
    pub client: String,
    /// TLS library with version and crypto provider, or `none`.
    #[serde(default)]
    pub tls: String,
    /// `HTTP/1.1` or `HTTP/2`.
    #[serde(default)]
    pub http: String,
    /// OS threads it runs requests on.
    pub threads: String,
    /// `maintained` or `discontinued: …`.
    pub status: String,
    /// True for the A/A control's second entry.
    pub control: bool,
}

/// A workload and its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkloadInfo {
    /// Name, e.g. `latency-list`.
    pub name: String,
    /// One sentence: what it measures.
    pub description: String,
    /// Its cells' parameters, in order.
    pub parameters: Vec<ParameterInfo>,
}

/// One parameter of a workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParameterInfo {
    /// The parameter (URL count, concurrency, …).
    pub parameter: String,
    /// The job in words (`list of 2000 URLs, 200 in flight, 50 ms`).
    pub job: String,
    /// Ideal makespan in seconds, where one is defined (`ceil(N / C) × delay`).
    pub ideal_secs: Option<f64>,
}

/// What a cell entry measures. Every metric is lower-is-better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Wall seconds of the backend's run (setup and teardown of its runtime included).
    WallSecs,
    /// Wall ÷ the ideal makespan (where one is defined).
    WallOverIdeal,
    /// Client CPU (process and children) per HTTP request, µs.
    CpuUsPerRequest,
    /// The same without the harness's link extraction, µs.
    CpuUsPerRequestNoExtract,
    /// Peak RSS in bytes; for multi-process backends the sum of per-process peaks.
    PeakRssBytes,
    /// Median dispatch-to-outcome latency, µs.
    LatencyP50Us,
    /// 99th-percentile dispatch-to-outcome latency, µs.
    LatencyP99Us,
    /// The origin's CPU per request, µs (shown, not ranked: it is the server's cost).
    OriginCpuUsPerRequest,
    /// The origin's CPU inside TLS handshakes per request, µs (HTTPS only; shown, not ranked):
    /// what a client's connection policy costs the server.
    OriginTlsCpuUsPerRequest,
    /// The most requests the origin had in flight at once (summed over its processes: a proven
    /// lower bound, see `OriginStats::peak_in_flight`); shown, not ranked: the proof that the
    /// concurrency asked for was reached.
    OriginPeakInFlight,
    /// Client peak RSS (summed over its processes) ÷ the origin's peak in flight: what one
    /// in-flight request costs in memory.
    RssBytesPerInFlight,
    /// The origin's peak RSS, summed over its processes (shown, not ranked).
    OriginPeakRssBytes,
}

impl Metric {
    /// Every metric, in table order.
    pub const ALL: [Metric; 12] = [
        Metric::WallSecs,
        Metric::WallOverIdeal,
        Metric::CpuUsPerRequest,
        Metric::CpuUsPerRequestNoExtract,
        Metric::PeakRssBytes,
        Metric::LatencyP50Us,
        Metric::LatencyP99Us,
        Metric::OriginCpuUsPerRequest,
        Metric::OriginTlsCpuUsPerRequest,
        Metric::OriginPeakInFlight,
        Metric::RssBytesPerInFlight,
        Metric::OriginPeakRssBytes,
    ];
    /// Metrics that get rank groups.
    pub const RANKED: [Metric; 6] = [
        Metric::WallSecs,
        Metric::WallOverIdeal,
        Metric::CpuUsPerRequest,
        Metric::PeakRssBytes,
        Metric::LatencyP50Us,
        Metric::LatencyP99Us,
    ];
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::WallSecs => "wall_secs",
            Metric::WallOverIdeal => "wall_over_ideal",
            Metric::CpuUsPerRequest => "cpu_us_per_request",
            Metric::CpuUsPerRequestNoExtract => "cpu_us_per_request_no_extract",
            Metric::PeakRssBytes => "peak_rss_bytes",
            Metric::LatencyP50Us => "latency_p50_us",
            Metric::LatencyP99Us => "latency_p99_us",
            Metric::OriginCpuUsPerRequest => "origin_cpu_us_per_request",
            Metric::OriginTlsCpuUsPerRequest => "origin_tls_cpu_us_per_request",
            Metric::OriginPeakInFlight => "origin_peak_in_flight",
            Metric::RssBytesPerInFlight => "rss_bytes_per_in_flight",
            Metric::OriginPeakRssBytes => "origin_peak_rss_bytes",
        }
    }
    /// A column heading.
    pub fn label(self) -> &'static str {
        match self {
            Metric::WallSecs => "wall s",
            Metric::WallOverIdeal => "wall ÷ ideal",
            Metric::CpuUsPerRequest => "CPU µs/req",
            Metric::CpuUsPerRequestNoExtract => "CPU µs/req without link extraction",
            Metric::PeakRssBytes => "peak RSS",
            Metric::LatencyP50Us => "p50 latency µs",
            Metric::LatencyP99Us => "p99 latency µs",
            Metric::OriginCpuUsPerRequest => "origin CPU µs/req",
            Metric::OriginTlsCpuUsPerRequest => "origin TLS handshake CPU µs/req",
            Metric::OriginPeakInFlight => "origin peak in flight",
            Metric::RssBytesPerInFlight => "RSS bytes per in-flight request",
            Metric::OriginPeakRssBytes => "origin peak RSS",
        }
    }
}

/// One (workload, parameter, backend, metric).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellStat {
    /// Workload.
    pub workload: String,
    /// Parameter.
    pub parameter: String,
    /// Backend label.
    pub backend: String,
    /// Metric.
    pub metric: Metric,
    /// Median over rounds.
    pub median: f64,
    /// 95 % bootstrap interval of the median.
    pub ci95: Interval,
    /// Paired ratio to the reference backend (absent for the reference itself, or when it did
    /// not run this cell).
    pub ratio_to_reference: Option<RatioToReference>,
    /// Rounds with a value.
    pub rounds: usize,
    /// Every run of this cell verified against the ground truth.
    pub verified: bool,
    /// The value of each round, in round order (`null` where the run failed).
    pub values: Vec<Option<f64>>,
}

/// A paired ratio to the reference backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatioToReference {
    /// The reference backend.
    pub reference: String,
    /// Median of the per-round ratios (this ÷ reference).
    pub median: f64,
    /// 95 % bootstrap interval.
    pub ci95: Interval,
}

impl RatioToReference {
    /// Which way this backend differs from the reference, or `None` for a tie — the same rule
    /// as [`Ratio::significant`].
    pub fn significant(&self) -> Option<std::cmp::Ordering> {
        Ratio {
            median: self.median,
            ci95: self.ci95,
        }
        .significant()
    }
}

/// Rank groups for one (workload, parameter, metric).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranking {
    /// Workload.
    pub workload: String,
    /// Parameter.
    pub parameter: String,
    /// Metric.
    pub metric: Metric,
    /// Groups in rank order (best first); each a set of tied backends, best median first.
    pub groups: Vec<Vec<String>>,
}

/// A cell that could not run, or ran without verifying.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellFailure {
    /// Workload.
    pub workload: String,
    /// Parameter.
    pub parameter: String,
    /// Backend label.
    pub backend: String,
    /// Why (the backend's refusal, a failed run, verification differences).
    pub reason: String,
}

/// The A/A control for one (workload, parameter, metric).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ControlCheck {
    /// Workload.
    pub workload: String,
    /// Parameter.
    pub parameter: String,
    /// Metric.
    pub metric: Metric,
    /// Paired ratio control ÷ original.
    pub ratio: Ratio,
    /// True when the interval includes 1, as it must.
    pub tied: bool,
}

/// Instructions per request under callgrind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstructionCount {
    /// Backend label.
    pub backend: String,
    /// The job counted, in words.
    pub job: String,
    /// HTTP requests the run made.
    pub requests: u64,
    /// User-space instructions of the client process and its children (the median run).
    pub instructions: u64,
    /// `instructions ÷ requests`: the median of the counted runs.
    pub per_request: f64,
    /// Every counted run's instructions per request (the run is repeated: executors that spin
    /// while idle make single counts wander by up to about 1 %).
    #[serde(default)]
    pub per_request_runs: Vec<f64>,
    /// Processes counted (1, or coordinator + workers).
    pub processes: usize,
    /// System CPU µs per request of the same run (callgrind cannot see the kernel).
    pub sys_cpu_us_per_request: f64,
    /// The counted run verified.
    pub verified: bool,
    /// Why there is no count.
    pub failure: Option<String>,
}

/// The harness's own cost, measured with a backend that does no IO.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HarnessCost {
    /// CPU µs per URL of a list job through the crawl loop, outcome collection, report and
    /// verification, with a dispatch that answers at once.
    pub list_cpu_us_per_url: f64,
    /// Link extraction, µs per KiB of HTML (the crawl workload's pages).
    pub extract_us_per_kib: f64,
    /// The backend with the lowest median CPU per request on `throughput`.
    pub fastest_backend: String,
    /// Its CPU µs per request.
    pub fastest_cpu_us_per_request: f64,
    /// `list_cpu_us_per_url ÷ fastest_cpu_us_per_request` (goal: ≤ 0.05).
    pub fraction_of_fastest: f64,
}

/// The fewest rounds whose median can carry a 95 % interval: with n paired ratios of two equal
/// things, all n fall on one side of 1 with probability 2 ÷ 2ⁿ — 25 % for 3 rounds, 3.1 % for 6 —
/// so an interval from fewer than 6 cannot be a 95 % one, whatever the bootstrap says. A/A
/// checks of cells with fewer rounds are shown but not counted.
pub const MIN_ROUNDS_FOR_95: usize = 6;

impl CampaignReport {
    /// Measured rounds of a cell (from the recorded run orders; warm-ups not counted).
    pub fn rounds_of(&self, workload: &str, parameter: &str) -> usize {
        self.campaign
            .orders
            .iter()
            .filter(|o| o.workload == workload && o.parameter == parameter && o.round.is_some())
            .count()
    }

    /// The A/A checks that count: those of cells with at least [`MIN_ROUNDS_FOR_95`] rounds.
    pub fn counted_controls(&self) -> impl Iterator<Item = &ControlCheck> {
        self.controls
            .iter()
            .filter(|c| self.rounds_of(&c.workload, &c.parameter) >= MIN_ROUNDS_FOR_95)
    }

    /// Reads a `report.json`, refusing other layouts by version.
    pub fn read(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        let schema = value.get("schema").and_then(serde_json::Value::as_u64);
        if schema != Some(u64::from(REPORT_SCHEMA)) {
            return Err(format!(
                "{} has report schema {schema:?}; this build reads schema {REPORT_SCHEMA} \
                 (rerun the campaign with this build)",
                path.display()
            ));
        }
        serde_json::from_value(value).map_err(|e| format!("{} is malformed: {e}", path.display()))
    }

    /// The entry for one cell and metric.
    pub fn cell(
        &self,
        workload: &str,
        parameter: &str,
        backend: &str,
        metric: Metric,
    ) -> Option<&CellStat> {
        self.cells.iter().find(|c| {
            c.workload == workload
                && c.parameter == parameter
                && c.backend == backend
                && c.metric == metric
        })
    }
}
