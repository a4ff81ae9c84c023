//! From what the benches wrote to [`Results`]: wall times from criterion (seconds per run),
//! medians over each cell's runs, the derived rates, and the ranking. Every number in the report
//! and the charts is computed here, once.

use std::collections::BTreeSet;

use crawlbench_core::summary::{METRICS_SCHEMA, RunSummary};

use super::{
    format,
    load::{Input, LoadedCell},
    results::{
        CellResult, Interval, Metrics, RESULTS_SCHEMA, Results, ScalingFit, Span, WallSource,
        WallTime, WorkloadResult, cmp_parameters,
    },
    workloads::{EXPECTED, Layout, kind, report_order},
};

/// Criterion reports nanoseconds per iteration; one iteration is one full run.
const NANOS_PER_SEC: f64 = 1e9;

/// Builds the results from loaded input (chart names are filled in once the charts are drawn).
pub(crate) fn build(input: &Input) -> Results {
    let mut warnings = input.warnings.clone();
    let profile = profile(input, &mut warnings);
    let missing_workloads = EXPECTED
        .iter()
        .filter(|w| !input.workloads.contains_key(**w))
        .map(|w| w.to_string())
        .collect();
    let workloads = report_order(input.workloads.keys().map(String::as_str))
        .into_iter()
        .map(|name| {
            let w = &input.workloads[name];
            let mut cells: Vec<CellResult> = w.cells.iter().map(cell_result).collect();
            rank(&mut cells);
            let scaling = match kind(name).layout {
                Layout::Scaling => scaling_fits(&cells),
                Layout::PerParameter => Vec::new(),
            };
            WorkloadResult {
                name: name.to_owned(),
                order: w.order.clone(),
                cells,
                scaling,
            }
        })
        .collect();
    Results {
        schema: RESULTS_SCHEMA,
        metrics_schema: METRICS_SCHEMA,
        profile,
        environment: input.environment.clone(),
        missing_workloads,
        warnings,
        charts: Vec::new(),
        workloads,
    }
}

/// The profile the data was measured with; `mixed (…)` with a warning when files disagree.
fn profile(input: &Input, warnings: &mut Vec<String>) -> String {
    let mut profiles: BTreeSet<&str> = input
        .workloads
        .values()
        .flat_map(|w| &w.cells)
        .map(|c| c.metrics.profile.as_str())
        .collect();
    if let Some(env) = &input.environment {
        profiles.insert(env.profile.as_str());
    }
    match profiles.len() {
        1 => profiles.into_iter().next().unwrap_or_default().to_owned(),
        _ => {
            let list = profiles.into_iter().collect::<Vec<_>>().join(", ");
            warnings.push(format!(
                "the data mixes profiles ({list}): cells from different bench runs are side by \
                 side; rerun with `cargo xtask report --run`"
            ));
            format!("mixed ({list})")
        }
    }
}

fn cell_result(cell: &LoadedCell) -> CellResult {
    let m = &cell.metrics;
    let wall = if m.failure.is_some() {
        None
    } else if let Some(e) = &cell.estimates {
        Some(WallTime {
            source: WallSource::Criterion,
            median_secs: e.median.point_estimate / NANOS_PER_SEC,
            ci: Some(Interval {
                lower_secs: e.median.confidence_interval.lower_bound / NANOS_PER_SEC,
                upper_secs: e.median.confidence_interval.upper_bound / NANOS_PER_SEC,
                confidence_level: e.median.confidence_interval.confidence_level,
            }),
            mean_secs: Some(e.mean.point_estimate / NANOS_PER_SEC),
        })
    } else {
        median_of(&m.runs, |r| r.wall_secs).map(|median_secs| WallTime {
            source: WallSource::Runs,
            median_secs,
            ci: None,
            mean_secs: None,
        })
    };
    CellResult {
        backend: m.backend.clone(),
        parameter: m.parameter.clone(),
        order: m.order,
        profile: m.profile.clone(),
        job: m.job.clone(),
        criterion_dir: m.criterion_dir.clone(),
        failure: m.failure.clone(),
        verified: m.all_verified(),
        metrics: metrics(&m.runs, m.ideal_secs, wall.as_ref().map(|w| w.median_secs)),
        wall,
        rank: None,
        ratio_to_best: None,
        runs: m.runs.clone(),
    }
}

fn metrics(runs: &[RunSummary], ideal_secs: Option<f64>, wall: Option<f64>) -> Metrics {
    let per_sec = |count: Option<f64>| match (count, wall) {
        (Some(n), Some(w)) if w > 0.0 => Some(n / w),
        _ => None,
    };
    let urls = median_of(runs, |r| r.urls as f64);
    let requests = median_of(runs, |r| r.requests as f64);
    let origin: Vec<f64> = runs.iter().filter_map(|r| r.origin_cpu_secs).collect();
    let children_rss = median_of(runs, |r| r.children_peak_rss_bytes as f64).filter(|b| *b > 0.0);
    Metrics {
        ideal_secs,
        efficiency: match (ideal_secs, wall) {
            (Some(i), Some(w)) if w > 0.0 => Some(i / w),
            _ => None,
        },
        urls,
        requests,
        successes: median_of(runs, |r| r.successes as f64),
        urls_per_sec: per_sec(urls),
        requests_per_sec: per_sec(requests),
        cpu_secs: median_of(runs, |r| {
            r.cpu_user_secs + r.cpu_sys_secs + r.children_cpu_secs
        }),
        cpu_us_per_request: median_of(runs, |r| r.cpu_us_per_request),
        origin_cpu_secs: median(origin),
        peak_rss_mib: median_of(runs, |r| r.peak_rss_bytes as f64).map(format::mib),
        children_peak_rss_mib: children_rss.map(format::mib),
        latency_p50_ms: median_of(runs, |r| r.latency.p50_us as f64 / 1e3),
        latency_p90_ms: median_of(runs, |r| r.latency.p90_us as f64 / 1e3),
        latency_p99_ms: median_of(runs, |r| r.latency.p99_us as f64 / 1e3),
        errors: error_spans(runs),
        runs_failed_verification: runs.iter().filter(|r| r.verified == Some(false)).count(),
        runs_without_truth: runs.iter().filter(|r| r.verified.is_none()).count(),
    }
}

/// Per error kind, the least and most URLs with it in one run (a run without it counts 0).
fn error_spans(runs: &[RunSummary]) -> std::collections::BTreeMap<String, Span> {
    let kinds: BTreeSet<&String> = runs.iter().flat_map(|r| r.errors.keys()).collect();
    kinds
        .into_iter()
        .map(|k| {
            let counts = runs.iter().map(|r| r.errors.get(k).copied().unwrap_or(0));
            let span = Span {
                min: counts.clone().min().unwrap_or(0),
                max: counts.max().unwrap_or(0),
            };
            (k.clone(), span)
        })
        .collect()
}

/// Ranks verified cells by median wall within each parameter, sets their ratio to the best, and
/// sorts: by parameter, then ranked cells by rank, then unverified ones by wall, then failures.
fn rank(cells: &mut [CellResult]) {
    let wall = |c: &CellResult| c.wall.as_ref().map_or(f64::INFINITY, |w| w.median_secs);
    let class = |c: &CellResult| match (c.failure.is_some(), c.verified) {
        (true, _) => 2,
        (false, true) => 0,
        (false, false) => 1,
    };
    cells.sort_by(|a, b| {
        cmp_parameters(&a.parameter, &b.parameter)
            .then(class(a).cmp(&class(b)))
            .then(wall(a).total_cmp(&wall(b)))
            .then_with(|| a.backend.name.cmp(&b.backend.name))
    });
    let mut start = 0;
    while start < cells.len() {
        let parameter = cells[start].parameter.clone();
        let end = start
            + cells[start..]
                .iter()
                .take_while(|c| c.parameter == parameter)
                .count();
        let group = &mut cells[start..end];
        let best = group
            .iter()
            .filter(|c| class(c) == 0 && c.wall.is_some())
            .map(wall)
            .next();
        let mut next_rank = 1;
        for c in group.iter_mut() {
            let ratio = match (class(c), c.wall.as_ref(), best) {
                (0, Some(w), Some(best)) => w.median_secs / best,
                _ => continue,
            };
            c.rank = Some(next_rank);
            c.ratio_to_best = Some(ratio);
            next_rank += 1;
        }
        start = end;
    }
}

/// Per backend, the least-squares line through its verified cells' (parameter, median wall);
/// backends with fewer than two distinct parameters get none.
fn scaling_fits(cells: &[CellResult]) -> Vec<ScalingFit> {
    let backends: BTreeSet<&str> = cells.iter().map(|c| c.backend.name.as_str()).collect();
    backends
        .into_iter()
        .filter_map(|backend| {
            let points: Vec<(f64, f64)> = cells
                .iter()
                .filter(|c| c.backend.name == backend && c.rank.is_some())
                .filter_map(|c| Some((c.parameter_value()?, c.wall.as_ref()?.median_secs)))
                .collect();
            let (slope_secs, intercept_secs) = least_squares(&points)?;
            Some(ScalingFit {
                backend: backend.to_owned(),
                slope_secs,
                intercept_secs,
                points: points.len(),
            })
        })
        .collect()
}

/// `(slope, intercept)` of the least-squares line through `points`; `None` unless there are two
/// distinct x values.
pub(crate) fn least_squares(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    (points.len() >= 2 && sxx > 0.0).then(|| {
        let slope = sxy / sxx;
        (slope, mean_y - slope * mean_x)
    })
}

fn median_of(runs: &[RunSummary], f: impl Fn(&RunSummary) -> f64) -> Option<f64> {
    median(runs.iter().map(f).collect())
}

/// The median (mean of the middle two for an even count); `None` for no values.
pub(crate) fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::{least_squares, median};

    #[test]
    fn least_squares_recovers_a_line() {
        let (slope, intercept) = least_squares(&[(6.0, 0.5), (12.0, 0.8), (18.0, 1.1)]).unwrap();
        assert!((slope - 0.05).abs() < 1e-12, "{slope}");
        assert!((intercept - 0.2).abs() < 1e-12, "{intercept}");
        assert_eq!(least_squares(&[(6.0, 0.5)]), None);
        assert_eq!(least_squares(&[(6.0, 0.5), (6.0, 0.7)]), None);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
