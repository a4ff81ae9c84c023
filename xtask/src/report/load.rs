//! Reads what `cargo bench -p crawlbench-benches` left in the target directory: the environment,
//! each workload's run order, every cell's `CellMetrics`, and criterion's estimates for it.
//!
//! Every parse error names the file and what was wrong; a file that parses but contradicts where
//! it lies (another workload, another backend, a second copy of a cell) is an error too, because
//! a report built on it would be wrong without saying so.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
    time::SystemTime,
};

use anyhow::{Context, Result, bail, ensure};
use crawlbench_core::summary::{CellMetrics, Environment, METRICS_SCHEMA};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// The command that produces the input, for messages.
pub(crate) const RUN_HINT: &str = "run `cargo xtask report --run` (or `cargo bench -p \
                                   crawlbench-benches`, then `cargo xtask report`)";

/// The order backends ran in, as the bench suite wrote it (`<workload>/order.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunOrder {
    /// The shuffle seed (`None`: registry order).
    pub(crate) seed: Option<u64>,
    /// Backend names, first to run first.
    pub(crate) order: Vec<String>,
}

/// Criterion's `new/estimates.json` (criterion 0.8 `Estimates`; nanoseconds per iteration).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Estimates {
    pub(crate) mean: Estimate,
    pub(crate) median: Estimate,
}

/// One criterion statistic.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Estimate {
    pub(crate) confidence_interval: ConfidenceInterval,
    pub(crate) point_estimate: f64,
}

/// A criterion confidence interval.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ConfidenceInterval {
    pub(crate) confidence_level: f64,
    pub(crate) lower_bound: f64,
    pub(crate) upper_bound: f64,
}

/// One cell as found on disk.
#[derive(Debug)]
pub(crate) struct LoadedCell {
    pub(crate) metrics: CellMetrics,
    /// Criterion's estimates, when criterion wrote them for this run.
    pub(crate) estimates: Option<Estimates>,
}

/// One workload's directory.
#[derive(Debug, Default)]
pub(crate) struct WorkloadInput {
    pub(crate) order: Option<RunOrder>,
    pub(crate) cells: Vec<LoadedCell>,
}

/// Everything the bench suite left behind.
#[derive(Debug)]
pub(crate) struct Input {
    pub(crate) environment: Option<Environment>,
    pub(crate) workloads: BTreeMap<String, WorkloadInput>,
    /// Things a reader must know about the data (missing estimates, missing environment, …).
    pub(crate) warnings: Vec<String>,
}

/// Reads `target_dir/crawlbench` and the matching criterion estimates under `target_dir/criterion`.
///
/// `not_before`: estimates older than this (written by an earlier bench run) are ignored, so a
/// cell criterion did not re-measure cannot borrow a stale number.
pub(crate) fn load(target_dir: &Path, not_before: Option<SystemTime>) -> Result<Input> {
    let root = target_dir.join("crawlbench");
    if !root.is_dir() {
        bail!(
            "no benchmark data: {} does not exist; {RUN_HINT}",
            root.display()
        );
    }
    let mut warnings = Vec::new();
    let env_path = root.join("environment.json");
    let environment = if env_path.is_file() {
        let env: Environment = read_json(&env_path)?;
        check_schema(&env_path, env.schema)?;
        Some(env)
    } else {
        warnings.push(format!(
            "{} is missing: the machine and software the numbers come from are unknown",
            env_path.display()
        ));
        None
    };

    let mut workloads = BTreeMap::new();
    for workload_dir in sorted_entries(&root)?.into_iter().filter(|p| p.is_dir()) {
        let name = file_name(&workload_dir);
        let input = load_workload(target_dir, &workload_dir, &name, not_before, &mut warnings)?;
        if !input.cells.is_empty() {
            workloads.insert(name, input);
        }
    }
    if workloads.is_empty() {
        bail!(
            "no benchmark data: {} holds no cell files (<workload>/<backend>/<parameter>.json); \
             {RUN_HINT}",
            root.display()
        );
    }
    Ok(Input {
        environment,
        workloads,
        warnings,
    })
}

fn load_workload(
    target_dir: &Path,
    dir: &Path,
    workload: &str,
    not_before: Option<SystemTime>,
    warnings: &mut Vec<String>,
) -> Result<WorkloadInput> {
    let order_path = dir.join("order.json");
    let order = if order_path.is_file() {
        Some(read_json::<RunOrder>(&order_path)?)
    } else {
        None
    };
    let mut cells = Vec::new();
    let mut seen = BTreeSet::new();
    for backend_dir in sorted_entries(dir)?.into_iter().filter(|p| p.is_dir()) {
        let backend = file_name(&backend_dir);
        for path in sorted_entries(&backend_dir)? {
            if !path.is_file() || path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let metrics: CellMetrics = read_json(&path)?;
            check_schema(&path, metrics.schema)?;
            ensure!(
                metrics.workload == workload && metrics.backend.name == backend,
                "{} describes workload {:?}, backend {:?}, but lies under {workload}/{backend}/; \
                 the bench suite writes <workload>/<backend>/<parameter>.json",
                path.display(),
                metrics.workload,
                metrics.backend.name
            );
            ensure!(
                seen.insert((backend.clone(), metrics.parameter.clone())),
                "{} is a second cell for {workload} / {backend} / parameter {:?}",
                path.display(),
                metrics.parameter
            );
            ensure!(
                metrics.failure.is_some() || !metrics.runs.is_empty(),
                "{} has neither runs nor a failure reason: an incomplete cell (was the bench \
                 interrupted?); {RUN_HINT}",
                path.display()
            );
            let estimates = if metrics.failure.is_none() {
                load_estimates(target_dir, &metrics, not_before, warnings)?
            } else {
                None
            };
            cells.push(LoadedCell { metrics, estimates });
        }
    }
    Ok(WorkloadInput { order, cells })
}

fn load_estimates(
    target_dir: &Path,
    cell: &CellMetrics,
    not_before: Option<SystemTime>,
    warnings: &mut Vec<String>,
) -> Result<Option<Estimates>> {
    let path = target_dir
        .join("criterion")
        .join(&cell.criterion_dir)
        .join("new")
        .join("estimates.json");
    let what = format!(
        "{} / {} / {}",
        cell.workload, cell.backend.name, cell.parameter
    );
    if !path.is_file() {
        warnings.push(format!(
            "{what}: criterion wrote no estimates ({} is missing); its wall time is the median \
             of its own runs, without a confidence interval",
            path.display()
        ));
        return Ok(None);
    }
    if let Some(limit) = not_before {
        let modified = fs::metadata(&path).and_then(|m| m.modified());
        if modified.is_ok_and(|m| m < limit) {
            warnings.push(format!(
                "{what}: {} predates this bench run (stale); its wall time is the median of its \
                 own runs, without a confidence interval",
                path.display()
            ));
            return Ok(None);
        }
    }
    let estimates: Estimates = read_json(&path)?;
    for (name, e) in [("median", &estimates.median), ("mean", &estimates.mean)] {
        let ci = &e.confidence_interval;
        ensure!(
            [e.point_estimate, ci.lower_bound, ci.upper_bound]
                .iter()
                .all(|v| v.is_finite() && *v > 0.0),
            "{}: {name} has a non-positive or non-finite value (point {}, interval [{}, {}]); \
             criterion's estimates are nanoseconds per iteration and must be positive",
            path.display(),
            e.point_estimate,
            ci.lower_bound,
            ci.upper_bound
        );
    }
    Ok(Some(estimates))
}

/// Parses one JSON file; errors name the file and say what was wrong.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not valid: expected {} JSON",
            path.display(),
            short_type_name::<T>()
        )
    })
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

fn check_schema(path: &Path, schema: u32) -> Result<()> {
    ensure!(
        schema == METRICS_SCHEMA,
        "{} has metrics schema {schema}, but this xtask reads schema {METRICS_SCHEMA}; rerun the \
         benches with this checkout ({RUN_HINT})",
        path.display()
    );
    Ok(())
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    entries.sort();
    Ok(entries)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
