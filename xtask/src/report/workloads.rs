//! The workloads the bench suite runs and how the report presents each one: what it measures,
//! what its parameter means, and which number is its headline. A workload not listed here still
//! gets a report (generic columns), so adding a bench group never breaks `cargo xtask report`.

use super::{format, results::CellResult};

/// Workloads the bench suite is expected to produce; any that are absent are listed as missing.
pub(crate) const EXPECTED: &[&str] = &[
    "seed-replica",
    "latency-list",
    "throughput",
    "crawl",
    "concurrency-sweep",
    "faults",
];

/// The number a workload's table leads with, after the wall time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Headline {
    /// Ideal makespan over median wall (1.00 = the model adds nothing to the server's latency).
    Efficiency,
    /// HTTP attempts per second of median wall.
    RequestsPerSec,
    /// URLs per second of median wall.
    UrlsPerSec,
    /// URLs that ended in a 2xx, out of the URLs attempted.
    Successes,
}

impl Headline {
    /// The column header.
    pub(crate) fn header(self, workload: &str) -> &'static str {
        match self {
            Self::Efficiency => "efficiency (ideal / wall)",
            Self::RequestsPerSec => "req/s",
            Self::UrlsPerSec if workload == "crawl" => "pages/s",
            Self::UrlsPerSec => "URLs/s",
            Self::Successes => "2xx / URLs",
        }
    }

    /// The value for a cell, when it has one.
    pub(crate) fn value(self, cell: &CellResult) -> Option<f64> {
        let m = &cell.metrics;
        match self {
            Self::Efficiency => m.efficiency,
            Self::RequestsPerSec => m.requests_per_sec,
            Self::UrlsPerSec => m.urls_per_sec,
            Self::Successes => match (m.successes, m.urls) {
                (Some(s), Some(u)) if u > 0.0 => Some(s / u),
                _ => None,
            },
        }
    }

    /// The value as the table shows it.
    pub(crate) fn show(self, cell: &CellResult) -> String {
        let m = &cell.metrics;
        match (self, self.value(cell)) {
            (_, None) => "—".into(),
            (Self::Efficiency, Some(v)) => format!("{v:.2}"),
            (Self::Successes, Some(_)) => format!(
                "{} / {}",
                format::num(m.successes.unwrap_or_default()),
                format::num(m.urls.unwrap_or_default())
            ),
            (_, Some(v)) => format::num(v),
        }
    }
}

/// How a workload's tables are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One ranked table per parameter value.
    PerParameter,
    /// One ranked table at the largest parameter, plus a backend × parameter table of medians
    /// with each backend's slope (seconds per unit of the parameter).
    Scaling,
}

/// Line charts a workload gets besides its bar chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineCharts {
    /// None.
    None,
    /// Median wall vs the parameter, with CI error bars.
    WallVsParameter,
    /// URLs/s and peak RSS vs the parameter on a log axis.
    ThroughputAndMemory,
}

/// How the report presents one workload.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WorkloadKind {
    /// What it measures, one or two sentences.
    pub(crate) measures: &'static str,
    /// The parameter's symbol in tables (`N`, `C`, `pages`).
    pub(crate) parameter: &'static str,
    /// The parameter's meaning with its unit, for chart axes.
    pub(crate) parameter_axis: &'static str,
    /// The headline column.
    pub(crate) headline: Headline,
    /// Table layout.
    pub(crate) layout: Layout,
    /// Extra line charts.
    pub(crate) lines: LineCharts,
    /// Whether the origin's own CPU gets a column (where it is part of the story).
    pub(crate) origin_cpu: bool,
}

/// The presentation of `workload`; unknown workloads get generic columns.
pub(crate) fn kind(workload: &str) -> WorkloadKind {
    let base = WorkloadKind {
        measures: "A workload this version of the report does not know; shown with the common \
                   columns.",
        parameter: "parameter",
        parameter_axis: "parameter",
        headline: Headline::UrlsPerSec,
        layout: Layout::PerParameter,
        lines: LineCharts::None,
        origin_cpu: false,
    };
    match workload {
        "seed-replica" => WorkloadKind {
            measures: "The shape of the original Python experiment: each backend fetches a list \
                       of N URLs, N growing in steps; wall time against N shows each model's \
                       fixed cost (the intercept) and its cost per URL (the slope).",
            parameter: "N",
            parameter_axis: "URLs in the list (N)",
            layout: Layout::Scaling,
            lines: LineCharts::WallVsParameter,
            ..base
        },
        "latency-list" => WorkloadKind {
            measures: "A list of N URLs against an origin that answers each after a fixed \
                       delay. Efficiency is the ideal makespan (⌈N / C⌉ × delay) over the \
                       median wall time: 1.00 means the model adds nothing to the server's \
                       latency.",
            parameter: "N",
            parameter_axis: "URLs (N)",
            headline: Headline::Efficiency,
            ..base
        },
        "throughput" => WorkloadKind {
            measures: "A list of N URLs from an origin with no delay: how fast each model issues \
                       requests, and the client CPU each request costs. The origin runs in its \
                       own process; its CPU is reported apart.",
            parameter: "N",
            parameter_axis: "URLs (N)",
            headline: Headline::RequestsPerSec,
            origin_cpu: true,
            ..base
        },
        "crawl" => WorkloadKind {
            measures: "A crawl of the synthetic site from its root page, following links until \
                       every reachable page is fetched: link extraction and the shared frontier \
                       sit on the hot path.",
            parameter: "pages",
            parameter_axis: "pages",
            ..base
        },
        "concurrency-sweep" => WorkloadKind {
            measures: "The same list at growing in-flight limits C: throughput and memory as \
                       concurrency grows. A backend that cannot reach a C fails that cell, with \
                       its reason.",
            parameter: "C",
            parameter_axis: "requests in flight (C, log scale)",
            lines: LineCharts::ThroughputAndMemory,
            ..base
        },
        "faults" => WorkloadKind {
            measures: "A list of N URLs with injected faults (resets, stalls, 5xx, truncated and \
                       oversized bodies, redirects): time and outcomes under failure. Errors \
                       are the URLs per error kind, per run.",
            parameter: "N",
            parameter_axis: "URLs (N)",
            headline: Headline::Successes,
            ..base
        },
        _ => base,
    }
}

/// Workload names in report order: the expected ones first, in their order, then the rest
/// alphabetically.
pub(crate) fn report_order<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut names: Vec<&str> = names.into_iter().collect();
    names.sort_by_key(|n| {
        (
            EXPECTED
                .iter()
                .position(|e| e == n)
                .unwrap_or(EXPECTED.len()),
            *n,
        )
    });
    names.dedup();
    names
}
