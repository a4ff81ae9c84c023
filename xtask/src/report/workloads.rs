//! How the report presents each workload: its parameter's symbol, the quantities its headline
//! column shows, and the line charts it gets besides its bar chart. The campaign says *what* ran
//! (`report.json`); this says what a reader looks at first. A workload not listed here still
//! gets a report (wall time as its main metric), so a new workload never breaks collation.

use crawlbench_stats::Metric;

use super::format;

/// Something a table or chart shows: a metric of the contract, or URLs per second derived from
/// the median wall time (`N ÷ wall`, for workloads whose parameter is the URL count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quantity {
    Metric(Metric),
    UrlsPerSec,
}

impl Quantity {
    /// The metric the quantity is computed from (and ranked by).
    pub(crate) fn metric(self) -> Metric {
        match self {
            Self::Metric(m) => m,
            Self::UrlsPerSec => Metric::WallSecs,
        }
    }

    /// Its heading, with the display unit.
    pub(crate) fn heading(self) -> &'static str {
        match self {
            Self::Metric(m) => format::heading(m),
            Self::UrlsPerSec => "URLs/s (N ÷ wall)",
        }
    }

    /// A value (raw units) as tables show it.
    pub(crate) fn show(self, raw: f64) -> String {
        match self {
            Self::Metric(m) => format::value(m, raw),
            Self::UrlsPerSec => format::num(raw),
        }
    }

    /// A value in the chart's units.
    pub(crate) fn display(self, raw: f64) -> f64 {
        match self {
            Self::Metric(m) => format::display(m, raw),
            Self::UrlsPerSec => raw,
        }
    }

    /// A chart axis description.
    pub(crate) fn axis(self) -> &'static str {
        match self {
            Self::Metric(Metric::WallSecs) => "median wall time of one run (s)",
            Self::Metric(Metric::WallOverIdeal) => "median wall ÷ ideal makespan (1 = no overhead)",
            Self::Metric(Metric::CpuUsPerRequest) => "median client CPU per request (µs)",
            Self::Metric(Metric::PeakRssBytes) => "median client peak RSS (MiB)",
            Self::Metric(Metric::RssBytesPerInFlight) => {
                "median client RSS per in-flight request (KiB, summed over processes)"
            }
            Self::Metric(Metric::LatencyP50Us) => "median p50 latency (ms)",
            Self::Metric(Metric::LatencyP99Us) => "median p99 latency (ms)",
            Self::Metric(m) => format::heading(m),
            Self::UrlsPerSec => "URLs per second (N ÷ median wall)",
        }
    }
}

/// A line chart of one metric against the workload's parameter.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LineChart {
    /// File name suffix: `<workload>-<suffix>.svg`.
    pub(crate) suffix: &'static str,
    pub(crate) metric: Metric,
    /// A logarithmic parameter axis (for parameters spanning decades).
    pub(crate) log_x: bool,
}

/// How the report presents one workload.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Presentation {
    /// The parameter's symbol in tables (`N`, `C`, `pages`).
    pub(crate) parameter: &'static str,
    /// The parameter's meaning with its unit, for chart axes.
    pub(crate) parameter_axis: &'static str,
    /// The headline table's columns, at the largest parameter; the first is the main metric
    /// (bar chart, row order, rank column).
    pub(crate) headline: &'static [Quantity],
    /// Line charts against the parameter.
    pub(crate) lines: &'static [LineChart],
}

const WALL: Quantity = Quantity::Metric(Metric::WallSecs);
const OVER_IDEAL: Quantity = Quantity::Metric(Metric::WallOverIdeal);
/// The seed experiment's own chart: median wall time against N on a linear axis (N = 6·i is
/// evenly spaced, and the pools' ⌈N ÷ 3⌉ waves show as straight lines).
pub(crate) const WALL_VS_N: LineChart = LineChart {
    suffix: "wall",
    metric: Metric::WallSecs,
    log_x: false,
};
/// The concurrency workloads' curves against C (log scale): time lost, and memory per request.
const OVER_IDEAL_VS_C: LineChart = LineChart {
    suffix: "wall-over-ideal",
    metric: Metric::WallOverIdeal,
    log_x: true,
};
const RSS_PER_REQUEST_VS_C: LineChart = LineChart {
    suffix: "rss-per-request",
    metric: Metric::RssBytesPerInFlight,
    log_x: true,
};

/// The presentation of `workload`.
pub(crate) fn presentation(workload: &str) -> Presentation {
    let base = Presentation {
        parameter: "parameter",
        parameter_axis: "parameter",
        headline: &[WALL],
        lines: &[],
    };
    match workload {
        "seed-replica" => Presentation {
            parameter: "N",
            parameter_axis: "URLs in the list (N)",
            headline: &[OVER_IDEAL],
            lines: &[WALL_VS_N],
        },
        // The original experiment's chart, redrawn: every stack's wall time against N.
        "seed-curve" => Presentation {
            parameter: "N",
            parameter_axis: "URLs in the list (N = 6·i)",
            headline: &[OVER_IDEAL],
            lines: &[WALL_VS_N],
        },
        "tls" => Presentation {
            parameter: "connections",
            parameter_axis: "connection policy",
            headline: &[
                OVER_IDEAL,
                Quantity::Metric(Metric::CpuUsPerRequest),
                Quantity::Metric(Metric::OriginCpuUsPerRequest),
            ],
            ..base
        },
        "latency-list" => Presentation {
            parameter: "N",
            parameter_axis: "URLs (N)",
            headline: &[OVER_IDEAL],
            ..base
        },
        "throughput" => Presentation {
            parameter: "N",
            parameter_axis: "URLs (N)",
            headline: &[
                Quantity::Metric(Metric::CpuUsPerRequest),
                Quantity::UrlsPerSec,
            ],
            ..base
        },
        "crawl" => Presentation {
            parameter: "pages",
            parameter_axis: "pages",
            ..base
        },
        "crawl-hosts" => Presentation {
            parameter: "hosts × pages",
            parameter_axis: "hosts × pages per host",
            headline: &[OVER_IDEAL, WALL],
            ..base
        },
        "concurrency-sweep" => Presentation {
            parameter: "C",
            parameter_axis: "requests in flight (C, log scale)",
            headline: &[OVER_IDEAL, Quantity::Metric(Metric::PeakRssBytes)],
            lines: &[
                OVER_IDEAL_VS_C,
                LineChart {
                    suffix: "rss",
                    metric: Metric::PeakRssBytes,
                    log_x: true,
                },
                RSS_PER_REQUEST_VS_C,
            ],
        },
        "c100k" => Presentation {
            parameter: "C",
            parameter_axis: "requests in flight (C, log scale)",
            headline: &[
                OVER_IDEAL,
                Quantity::Metric(Metric::OriginPeakInFlight),
                Quantity::Metric(Metric::RssBytesPerInFlight),
                Quantity::Metric(Metric::PeakRssBytes),
                Quantity::Metric(Metric::OriginPeakRssBytes),
                Quantity::Metric(Metric::CpuUsPerRequest),
            ],
            lines: &[OVER_IDEAL_VS_C, RSS_PER_REQUEST_VS_C],
        },
        "faults" => Presentation {
            parameter: "N",
            parameter_axis: "URLs (N)",
            ..base
        },
        _ => base,
    }
}
