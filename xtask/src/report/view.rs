//! An indexed view of a `report.json`: the lookups every table and chart needs (a cell by
//! workload, parameter, backend and metric; a backend's rank label; whether a cell verified or
//! why it failed) made once, in hash maps, so collating a full campaign stays far below a second
//! even in a debug build.

use std::collections::{BTreeSet, HashMap};

use crawlbench_stats::{CampaignReport, CellStat, Interval, Metric, rank::rank_label};

use super::workloads::{Presentation, Quantity, presentation};

/// A median with its 95 % interval, in the contract's units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Estimate {
    pub(crate) median: f64,
    pub(crate) ci: Interval,
}

/// One workload as the report shows it.
#[derive(Debug)]
pub(crate) struct WorkloadView<'a> {
    pub(crate) name: &'a str,
    pub(crate) description: &'a str,
    pub(crate) parameters: Vec<ParamView<'a>>,
    pub(crate) presentation: Presentation,
}

/// One parameter of a workload.
#[derive(Debug)]
pub(crate) struct ParamView<'a> {
    pub(crate) parameter: &'a str,
    pub(crate) job: &'a str,
    pub(crate) ideal_secs: Option<f64>,
}

/// One backend as entered in the campaign.
#[derive(Debug)]
pub(crate) struct BackendView<'a> {
    pub(crate) label: &'a str,
    pub(crate) model: &'a str,
    /// The A/A control's second entry.
    pub(crate) control: bool,
    /// Runs in several processes, so its peak RSS is a sum of per-process peaks.
    pub(crate) multiprocess: bool,
}

/// What became of one (workload, parameter, backend).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Status<'a> {
    /// Ran, and every run verified: ranked.
    Verified,
    /// Ran, but not every run verified: shown, never ranked (with the reasons given).
    Unverified(Vec<&'a str>),
    /// Could not run (the reasons).
    Failed(Vec<&'a str>),
    /// Not part of this campaign.
    Absent,
}

type CellKey<'a> = (&'a str, &'a str, &'a str);

/// The indexed report.
#[derive(Debug)]
pub(crate) struct View<'a> {
    pub(crate) report: &'a CampaignReport,
    pub(crate) workloads: Vec<WorkloadView<'a>>,
    pub(crate) backends: Vec<BackendView<'a>>,
    cells: HashMap<(&'a str, &'a str, &'a str, Metric), &'a CellStat>,
    verified: HashMap<CellKey<'a>, bool>,
    failures: HashMap<CellKey<'a>, Vec<&'a str>>,
    /// Rank groups, verified backends only, and where each (workload, parameter, metric)'s are.
    groups: Vec<Vec<Vec<String>>>,
    rankings: HashMap<(&'a str, &'a str, Metric), usize>,
    /// Inconsistencies found in the report (shown among its warnings).
    pub(crate) inconsistencies: Vec<String>,
    metrics: HashMap<(&'a str, &'a str), BTreeSet<Metric>>,
}

impl<'a> View<'a> {
    pub(crate) fn new(report: &'a CampaignReport) -> Self {
        let mut cells = HashMap::with_capacity(report.cells.len());
        let mut verified: HashMap<CellKey<'a>, bool> = HashMap::new();
        let mut metrics: HashMap<(&str, &str), BTreeSet<Metric>> = HashMap::new();
        for c in &report.cells {
            let key = (
                c.workload.as_str(),
                c.parameter.as_str(),
                c.backend.as_str(),
            );
            cells.insert((key.0, key.1, key.2, c.metric), c);
            *verified.entry(key).or_insert(true) &= c.verified;
            metrics.entry((key.0, key.1)).or_default().insert(c.metric);
        }
        let mut failures: HashMap<CellKey<'a>, Vec<&str>> = HashMap::new();
        for f in &report.failures {
            let key = (
                f.workload.as_str(),
                f.parameter.as_str(),
                f.backend.as_str(),
            );
            failures.entry(key).or_default().push(&f.reason);
        }
        // An unverified cell is never ranked: should a report rank one, the report leaves it
        // out and says so.
        let mut inconsistencies = Vec::new();
        let (rankings, groups): (HashMap<_, _>, Vec<_>) = report
            .rankings
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let key = (r.workload.as_str(), r.parameter.as_str(), r.metric);
                let groups: Vec<Vec<String>> = r
                    .groups
                    .iter()
                    .map(|g| {
                        g.iter()
                            .filter(|b| {
                                let ok = verified.get(&(key.0, key.1, b.as_str())) == Some(&true);
                                if !ok {
                                    inconsistencies.push(format!(
                                        "report.json ranks {b} in {} {} {}, which did not verify \
                                         or did not run; this report leaves it out of the ranking",
                                        key.0,
                                        key.1,
                                        key.2.as_str()
                                    ));
                                }
                                ok
                            })
                            .cloned()
                            .collect()
                    })
                    .filter(|g: &Vec<String>| !g.is_empty())
                    .collect();
                ((key, i), groups)
            })
            .unzip();
        Self {
            report,
            workloads: workloads(report),
            backends: backends(report),
            cells,
            verified,
            failures,
            groups,
            rankings,
            inconsistencies,
            metrics,
        }
    }

    /// The entry of one cell and metric.
    pub(crate) fn cell(&self, w: &str, p: &str, b: &str, m: Metric) -> Option<&'a CellStat> {
        self.cells.get(&(w, p, b, m)).copied()
    }

    /// The metrics measured at (workload, parameter), in table order.
    pub(crate) fn metrics(&self, w: &str, p: &str) -> Vec<Metric> {
        self.metrics
            .get(&(w, p))
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The median and interval of `q` for one backend, when it has one.
    pub(crate) fn estimate(&self, w: &str, p: &str, b: &str, q: Quantity) -> Option<Estimate> {
        let c = self.cell(w, p, b, q.metric())?;
        match q {
            Quantity::Metric(_) => Some(Estimate {
                median: c.median,
                ci: c.ci95,
            }),
            Quantity::UrlsPerSec => {
                let n: f64 = p.parse().ok()?;
                // Rates invert the interval: the slowest wall is the lowest rate.
                Some(Estimate {
                    median: n / c.median,
                    ci: Interval {
                        lo: n / c.ci95.hi,
                        hi: n / c.ci95.lo,
                    },
                })
            }
        }
    }

    /// What became of one backend at (workload, parameter).
    pub(crate) fn status(&self, w: &str, p: &str, b: &str) -> Status<'a> {
        let reasons = self.failures.get(&(w, p, b)).cloned().unwrap_or_default();
        match self.verified.get(&(w, p, b)) {
            Some(true) => Status::Verified,
            Some(false) => Status::Unverified(reasons),
            None if !reasons.is_empty() => Status::Failed(reasons),
            None => Status::Absent,
        }
    }

    /// The rank groups of (workload, parameter, metric).
    pub(crate) fn groups(&self, w: &str, p: &str, m: Metric) -> Option<&[Vec<String>]> {
        let i = *self.rankings.get(&(w, p, m))?;
        Some(&self.groups[i])
    }

    /// `1`, `1–2`, … for a ranked backend.
    pub(crate) fn rank(&self, w: &str, p: &str, m: Metric, b: &str) -> Option<String> {
        let groups = self.groups(w, p, m)?;
        let i = groups.iter().position(|g| g.iter().any(|x| x == b))?;
        Some(rank_label(groups, i))
    }

    /// The quantity a workload leads with: the first headline quantity it measured (wall time
    /// when it measured none of them).
    pub(crate) fn main_quantity(&self, w: &WorkloadView<'_>) -> Quantity {
        let measured = |q: &&Quantity| {
            w.parameters.iter().any(|p| {
                self.metrics
                    .get(&(w.name, p.parameter))
                    .is_some_and(|m| m.contains(&q.metric()))
            })
        };
        w.presentation
            .headline
            .iter()
            .find(measured)
            .copied()
            .unwrap_or(Quantity::Metric(Metric::WallSecs))
    }

    /// The backends at (workload, parameter) in table order: verified ones by the rank groups of
    /// `metric`, then the verified ones it did not rank, then unverified, then failed — each in
    /// registry order. Absent backends are left out.
    pub(crate) fn rows(
        &self,
        w: &str,
        p: &str,
        metric: Metric,
    ) -> Vec<(&BackendView<'a>, Status<'a>)> {
        let ranked: Vec<&str> = self
            .groups(w, p, metric)
            .unwrap_or_default()
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let mut rows: Vec<(usize, usize, &BackendView<'a>, Status<'a>)> = self
            .backends
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let status = self.status(w, p, b.label);
                let class = match &status {
                    Status::Verified => match ranked.iter().position(|r| *r == b.label) {
                        Some(pos) => return Some((0, pos, b, status)),
                        None => 1,
                    },
                    Status::Unverified(_) => 2,
                    Status::Failed(_) => 3,
                    Status::Absent => return None,
                };
                Some((class, i, b, status))
            })
            .collect();
        rows.sort_by_key(|r| (r.0, r.1));
        rows.into_iter().map(|(_, _, b, s)| (b, s)).collect()
    }
}

impl WorkloadView<'_> {
    /// The parameter the headline and the bar chart show: the largest (numerically, when the
    /// parameters are numbers; else the last).
    pub(crate) fn largest(&self) -> Option<&ParamView<'_>> {
        self.parameters
            .iter()
            .max_by(|a, b| cmp_parameters(a.parameter, b.parameter))
    }
}

/// Workloads in the report's order, with any that only appear in cells or failures appended.
fn workloads(report: &CampaignReport) -> Vec<WorkloadView<'_>> {
    let mut out: Vec<WorkloadView<'_>> = report
        .workloads
        .iter()
        .map(|w| WorkloadView {
            name: &w.name,
            description: &w.description,
            parameters: w
                .parameters
                .iter()
                .map(|p| ParamView {
                    parameter: &p.parameter,
                    job: &p.job,
                    ideal_secs: p.ideal_secs,
                })
                .collect(),
            presentation: presentation(&w.name),
        })
        .collect();
    let seen = report
        .cells
        .iter()
        .map(|c| (c.workload.as_str(), c.parameter.as_str()))
        .chain(
            report
                .failures
                .iter()
                .map(|f| (f.workload.as_str(), f.parameter.as_str())),
        );
    for (w, p) in seen {
        let i = match out.iter().position(|x| x.name == w) {
            Some(i) => i,
            None => {
                out.push(WorkloadView {
                    name: w,
                    description: "",
                    parameters: Vec::new(),
                    presentation: presentation(w),
                });
                out.len() - 1
            }
        };
        let params = &mut out[i].parameters;
        if !params.iter().any(|x| x.parameter == p) {
            params.push(ParamView {
                parameter: p,
                job: "",
                ideal_secs: None,
            });
            params.sort_by(|a, b| cmp_parameters(a.parameter, b.parameter));
        }
    }
    out
}

/// Backends in registry order, with any label that only appears in cells appended.
fn backends(report: &CampaignReport) -> Vec<BackendView<'_>> {
    let counted_processes = |label: &str| {
        report
            .instructions
            .iter()
            .any(|i| i.backend == label && i.processes > 1)
    };
    let mut out: Vec<BackendView<'_>> = report
        .backends
        .iter()
        .map(|b| BackendView {
            label: &b.label,
            model: &b.model,
            control: b.control,
            multiprocess: b.model.to_lowercase().contains("process") || counted_processes(&b.label),
        })
        .collect();
    for c in &report.cells {
        if !out.iter().any(|b| b.label == c.backend) {
            out.push(BackendView {
                label: &c.backend,
                model: "",
                control: false,
                multiprocess: counted_processes(&c.backend),
            });
        }
    }
    out
}

/// Parameters compare numerically when both are numbers, else as text (numbers first).
pub(crate) fn cmp_parameters(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}
