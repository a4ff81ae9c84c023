//! Test fixtures: writes what the bench suite would — `environment.json`, `order.json`, cell
//! `CellMetrics` files and criterion's `estimates.json` — into a temporary target directory, so
//! the collation is tested on files, exactly as it runs.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
};

use crawlbench_core::{
    BackendInfo, ConcurrencyModel, UpstreamStatus,
    report::{JobSummary, LatencySummary},
    summary::{CellMetrics, Environment, METRICS_SCHEMA, RunSummary},
};
use serde_json::json;

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "crawlbench-xtask-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A fake target directory the tests fill.
#[derive(Debug)]
pub(crate) struct Fixture {
    pub(crate) dir: TempDir,
}

impl Fixture {
    pub(crate) fn new(tag: &str) -> Self {
        Self {
            dir: TempDir::new(tag),
        }
    }

    /// The target directory (`<temp>/target`).
    pub(crate) fn target(&self) -> PathBuf {
        self.dir.path().join("target")
    }

    /// An output directory beside it (`<temp>/out`).
    pub(crate) fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub(crate) fn data(&self) -> PathBuf {
        self.target().join("crawlbench")
    }

    pub(crate) fn environment(&self, profile: &str) -> Environment {
        let env = Environment {
            schema: METRICS_SCHEMA,
            profile: profile.into(),
            date: "2026-05-01T12:00:00Z".into(),
            git_commit: "0123abc".into(),
            rustc: "rustc 1.95.0".into(),
            cpu_model: "Test CPU 3000".into(),
            cores: 2,
            memory_bytes: 8 << 30,
            kernel: "Linux 6.1.0".into(),
            command: format!("CRAWLBENCH_PROFILE={profile} cargo bench -p crawlbench-benches"),
            order_seed: Some(42),
            crate_versions: BTreeMap::from([
                ("tokio".into(), "1.48.0".into()),
                ("ureq".into(), "3.1.4".into()),
            ]),
            notes: vec!["client and origin share the machine's 2 cores".into()],
        };
        self.write(&self.data().join("environment.json"), &env);
        env
    }

    pub(crate) fn order(&self, workload: &str, seed: Option<u64>, order: &[&str]) {
        self.write(
            &self.data().join(workload).join("order.json"),
            &json!({ "seed": seed, "order": order }),
        );
    }

    /// Writes the cell's metrics and, when it has them, its criterion estimates.
    pub(crate) fn cell(&self, cell: &Cell) {
        let metrics = cell.metrics();
        self.write(&self.cell_path(cell), &metrics);
        if let Some((median, lower, upper)) = cell.criterion {
            let ns = |s: f64| s * 1e9;
            let estimate = |point: f64, lo: f64, hi: f64| {
                json!({
                    "confidence_interval": {
                        "confidence_level": 0.95,
                        "lower_bound": ns(lo),
                        "upper_bound": ns(hi),
                    },
                    "point_estimate": ns(point),
                    "standard_error": ns((hi - lo) / 4.0),
                })
            };
            let estimates = json!({
                "mean": estimate(median * 1.01, lower * 1.01, upper * 1.01),
                "median": estimate(median, lower, upper),
                "median_abs_dev": estimate(0.01, 0.005, 0.02),
                "slope": null,
                "std_dev": estimate(0.02, 0.01, 0.03),
            });
            self.write(&self.estimates_path(cell), &estimates);
        }
    }

    pub(crate) fn cell_path(&self, cell: &Cell) -> PathBuf {
        self.data()
            .join(&cell.workload)
            .join(&cell.backend)
            .join(format!("{}.json", cell.parameter))
    }

    pub(crate) fn estimates_path(&self, cell: &Cell) -> PathBuf {
        self.target()
            .join("criterion")
            .join(cell.criterion_dir())
            .join("new")
            .join("estimates.json")
    }

    fn write(&self, path: &Path, value: &impl serde::Serialize) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    }
}

/// One cell to write: criterion's median and interval in seconds, and its runs.
#[derive(Clone, Debug)]
pub(crate) struct Cell {
    pub(crate) workload: String,
    pub(crate) backend: String,
    pub(crate) model: ConcurrencyModel,
    pub(crate) parameter: String,
    pub(crate) profile: String,
    pub(crate) order: usize,
    pub(crate) concurrency: usize,
    pub(crate) ideal_secs: Option<f64>,
    pub(crate) failure: Option<String>,
    pub(crate) criterion: Option<(f64, f64, f64)>,
    pub(crate) runs: Vec<RunSummary>,
}

impl Cell {
    /// A verified cell with three identical runs of `wall` seconds and criterion's median
    /// `wall` with an interval of ±2%.
    pub(crate) fn new(workload: &str, backend: &str, parameter: &str, wall: f64) -> Self {
        Self {
            workload: workload.into(),
            backend: backend.into(),
            model: ConcurrencyModel::AsyncMultiThread,
            parameter: parameter.into(),
            profile: "quick".into(),
            order: 0,
            concurrency: 64,
            ideal_secs: None,
            failure: None,
            criterion: Some((wall, wall * 0.98, wall * 1.02)),
            runs: vec![run(wall); 3],
        }
    }

    /// A cell the backend refused.
    pub(crate) fn failed(workload: &str, backend: &str, parameter: &str, reason: &str) -> Self {
        Self {
            failure: Some(reason.into()),
            criterion: None,
            runs: Vec::new(),
            ..Self::new(workload, backend, parameter, 1.0)
        }
    }

    pub(crate) fn criterion_dir(&self) -> String {
        format!("{}/{}/{}", self.workload, self.backend, self.parameter)
    }

    fn metrics(&self) -> CellMetrics {
        let max_urls = self.parameter.parse().unwrap_or(100);
        CellMetrics {
            schema: METRICS_SCHEMA,
            profile: self.profile.clone(),
            workload: self.workload.clone(),
            backend: BackendInfo {
                name: self.backend.clone(),
                runtime: "test runtime 1.0".into(),
                client: "test client 1.0".into(),
                model: self.model,
                threads: "2".into(),
                status: UpstreamStatus::Maintained,
                max_concurrency: None,
            },
            parameter: self.parameter.clone(),
            criterion_dir: self.criterion_dir(),
            order: self.order,
            job: JobSummary {
                kind: if self.workload == "crawl" {
                    "crawl"
                } else {
                    "list"
                }
                .into(),
                max_urls,
                concurrency: self.concurrency,
                timeout_ms: 10_000,
                retries: 1,
                max_body_bytes: 1 << 20,
            },
            ideal_secs: self.ideal_secs,
            failure: self.failure.clone(),
            runs: self.runs.clone(),
        }
    }
}

/// A verified run of 100 URLs and 100 requests taking `wall` seconds, with 0.15 s of client CPU,
/// 20 MiB peak RSS, p50 10 ms and p99 30 ms, and no errors.
pub(crate) fn run(wall: f64) -> RunSummary {
    RunSummary {
        wall_secs: wall,
        urls: 100,
        requests: 100,
        successes: 100,
        urls_per_sec: 100.0 / wall,
        cpu_user_secs: 0.10,
        cpu_sys_secs: 0.05,
        children_cpu_secs: 0.0,
        cpu_us_per_request: 1500.0,
        peak_rss_bytes: 20 << 20,
        children_peak_rss_bytes: 0,
        peak_in_flight: 64,
        origin_peak_in_flight: Some(64),
        origin_cpu_secs: Some(0.08),
        latency: LatencySummary {
            p50_us: 10_000,
            p90_us: 20_000,
            p99_us: 30_000,
            max_us: 40_000,
            mean_us: 12_000.0,
        },
        errors: BTreeMap::new(),
        statuses: BTreeMap::from([(200, 100)]),
        verified: Some(true),
        differences: Vec::new(),
        extra: BTreeMap::new(),
    }
}
