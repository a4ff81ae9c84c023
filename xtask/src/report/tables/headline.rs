//! The headline table: one row per backend, one column per workload's headline number at its
//! largest parameter — the answer at a glance, which the README quotes. Every number comes from
//! the same cells the per-workload tables show; a cell that failed or did not verify says so.

use std::fmt::Write as _;

use super::{escape, line};
use crate::report::{
    format,
    results::{CellResult, Results, cmp_parameters},
};

/// One column: a workload and how to show its cell.
struct Column {
    workload: &'static str,
    header: &'static str,
    show: fn(&CellResult) -> Option<String>,
}

const COLUMNS: &[Column] = &[
    Column {
        workload: "latency-list",
        header: "latency-list efficiency",
        show: |c| c.metrics.efficiency.map(|e| format!("{e:.2}")),
    },
    Column {
        workload: "throughput",
        header: "throughput req/s",
        show: |c| c.metrics.requests_per_sec.map(|v| format!("{v:.0}")),
    },
    Column {
        workload: "throughput",
        header: "CPU µs/req",
        show: |c| c.metrics.cpu_us_per_request.map(format::num),
    },
    Column {
        workload: "crawl",
        header: "crawl s",
        show: |c| c.wall.as_ref().map(|w| format!("{:.3}", w.median_secs)),
    },
    Column {
        workload: "concurrency-sweep",
        header: "largest C: URLs/s",
        show: |c| c.metrics.urls_per_sec.map(|v| format!("{v:.0}")),
    },
    Column {
        workload: "concurrency-sweep",
        header: "largest C: peak RSS MiB",
        show: |c| {
            c.metrics
                .peak_rss_mib
                .map(|p| match c.metrics.children_peak_rss_mib {
                    Some(ch) => format!("{p:.0} + worker {ch:.0}"),
                    None => format!("{p:.0}"),
                })
        },
    },
    Column {
        workload: "faults",
        header: "faults s",
        show: |c| c.wall.as_ref().map(|w| format!("{:.3}", w.median_secs)),
    },
];

/// The cell of `backend` at the largest parameter of `workload`.
fn largest<'a>(results: &'a Results, workload: &str, backend: &str) -> Option<&'a CellResult> {
    results
        .workloads
        .iter()
        .find(|w| w.name == workload)?
        .cells
        .iter()
        .filter(|c| c.backend.name == backend)
        .max_by(|a, b| cmp_parameters(&a.parameter, &b.parameter))
}

fn show(cell: Option<&CellResult>, column: &Column) -> String {
    match cell {
        None => "—".into(),
        Some(c) if c.failure.is_some() => "failed".into(),
        Some(c) if !c.verified => "NOT verified".into(),
        Some(c) => (column.show)(c).unwrap_or_else(|| "—".into()),
    }
}

/// Writes the `## Headline` section (nothing when there are no cells).
pub(crate) fn render(w: &mut String, results: &Results) {
    let mut backends: Vec<(usize, String, String)> = Vec::new();
    for cell in results.workloads.iter().flat_map(|w| &w.cells) {
        if !backends
            .iter()
            .any(|(_, name, _)| *name == cell.backend.name)
        {
            backends.push((
                cell.order,
                cell.backend.name.clone(),
                cell.backend.model.label().to_owned(),
            ));
        }
    }
    if backends.is_empty() {
        return;
    }
    backends.sort();
    line(w, "## Headline");
    line(w, "");
    line(
        w,
        "Each workload at its largest parameter (details and confidence intervals below). \
         Efficiency is the ideal makespan over the median wall time (1.00 = no overhead); \
         req/s and CPU µs/req are the client's (the origin's CPU is apart); the sweep's largest C \
         shows throughput and client peak memory; `failed` and `NOT verified` cells carry their \
         reasons in the workload's table.",
    );
    line(w, "");
    let headers: Vec<&str> = ["backend", "model"]
        .into_iter()
        .chain(COLUMNS.iter().map(|c| c.header))
        .collect();
    let _ = writeln!(w, "| {} |", headers.join(" | "));
    let _ = writeln!(w, "|{}", " --- |".repeat(headers.len()));
    for (_, name, model) in &backends {
        let cells: Vec<String> = COLUMNS
            .iter()
            .map(|col| show(largest(results, col.workload, name), col))
            .collect();
        let _ = writeln!(
            w,
            "| `{}` | {} | {} |",
            escape(name),
            escape(model),
            cells.join(" | ")
        );
    }
    line(w, "");
}
