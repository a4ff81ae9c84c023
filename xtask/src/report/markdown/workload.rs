//! One workload's section: what it measures, its charts, and per parameter the rank groups of
//! every ranked metric and a table with every metric as `median [lo–hi]` and its paired ratio
//! to the reference; unverified cells marked and never ranked, failures with their reasons.

use std::fmt::Write as _;

use crawlbench_stats::Metric;

use super::{code, escape, line, table};
use crate::report::{
    charts::ChartFile,
    format,
    view::{ParamView, Status, View, WorkloadView},
};

pub(super) fn section(
    w: &mut String,
    view: &View<'_>,
    wv: &WorkloadView<'_>,
    charts: &[ChartFile],
) {
    let _ = writeln!(w, "## {}\n", wv.name);
    if !wv.description.is_empty() {
        let _ = writeln!(
            w,
            "{}.\n",
            capitalized(wv.description.trim_end_matches('.'))
        );
    }
    for chart in charts.iter().filter(|c| c.workload == wv.name) {
        let _ = writeln!(w, "![{}]({})\n", escape(&chart.title), chart.file);
    }
    for p in &wv.parameters {
        parameter(w, view, wv, p);
    }
}

fn parameter(w: &mut String, view: &View<'_>, wv: &WorkloadView<'_>, p: &ParamView<'_>) {
    let (name, param) = (wv.name, p.parameter);
    let _ = writeln!(w, "### {} = {param}\n", wv.presentation.parameter);
    let mut job = escape(p.job);
    if let Some(ideal) = p.ideal_secs {
        let _ = write!(job, "; ideal makespan {} s", format::secs(ideal));
    }
    if !job.is_empty() {
        let _ = writeln!(w, "Job: {job}.\n");
    }
    let metrics = view.metrics(name, param);
    let ranked: Vec<Metric> = metrics
        .iter()
        .copied()
        .filter(|m| view.groups(name, param, *m).is_some_and(|g| !g.is_empty()))
        .collect();
    if !ranked.is_empty() {
        line(
            w,
            "Rank groups (verified cells only, best first; `≈`: tied — the paired ratio's 95 % \
             interval includes 1):",
        );
        line(w, "");
        for m in &ranked {
            let groups = view.groups(name, param, *m).unwrap_or_default();
            let _ = writeln!(w, "- **{}**: {}", format::heading(*m), rank_groups(groups));
        }
        line(w, "");
    }
    let main = view.main_quantity(wv).metric();
    let rows = view.rows(name, param, main);
    let reference = &view.report.campaign.reference;
    let ran: Vec<_> = rows
        .iter()
        .filter(|(_, s)| matches!(s, Status::Verified | Status::Unverified(_)))
        .collect();
    let mut dagger = false;
    if !ran.is_empty() && !metrics.is_empty() {
        let _ = writeln!(
            w,
            "Each cell: the median over rounds [95 % interval], then the paired ratio to {} \
             [95 % interval] — **bold** where the interval excludes 1.\n",
            code(reference)
        );
        let mut header = vec![
            format!("rank ({})", format::heading(main)),
            "backend".into(),
        ];
        header.extend(metrics.iter().map(|m| format::heading(*m).to_owned()));
        let table_rows = ran.iter().map(|(b, status)| {
            let rank = match status {
                Status::Verified => view
                    .rank(name, param, main, b.label)
                    .unwrap_or_else(|| "—".into()),
                _ => "*unverified*".into(),
            };
            let mut label = code(b.label);
            if b.control {
                label += " (A/A control)";
            }
            if b.multiprocess && metrics.contains(&Metric::PeakRssBytes) {
                label += " †";
                dagger = true;
            }
            let mut row = vec![rank, label];
            row.extend(
                metrics
                    .iter()
                    .map(|m| metric_cell(view, name, param, b.label, *m)),
            );
            row
        });
        let table_rows: Vec<Vec<String>> = table_rows.collect();
        table(w, &header, table_rows);
    }
    if dagger {
        line(
            w,
            "† multi-process backend: its peak RSS is the sum of per-process peaks (coordinator \
             plus every worker).",
        );
        line(w, "");
    }
    let mut notes = Vec::new();
    for (b, status) in &rows {
        match status {
            Status::Unverified(reasons) => notes.push(format!(
                "- {} did not verify, so it is shown but not ranked: {}",
                code(b.label),
                reasons_text(reasons, "no reason recorded")
            )),
            Status::Failed(reasons) => notes.push(format!(
                "- {} could not run: {}",
                code(b.label),
                reasons_text(reasons, "no reason recorded")
            )),
            Status::Verified | Status::Absent => {}
        }
    }
    for n in &notes {
        line(w, n);
    }
    if !notes.is_empty() {
        line(w, "");
    }
}

/// `1–2: `a` ≈ `b` · 3: `c``.
fn rank_groups(groups: &[Vec<String>]) -> String {
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let names: Vec<String> = g.iter().map(|b| code(b)).collect();
            format!(
                "{}: {}",
                crawlbench_stats::rank::rank_label(groups, i),
                names.join(" ≈ ")
            )
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn metric_cell(view: &View<'_>, w: &str, p: &str, b: &str, m: Metric) -> String {
    let Some(c) = view.cell(w, p, b, m) else {
        return "—".into();
    };
    let value = format::with_ci(c.median, c.ci95, |v| format::value(m, v));
    let ratio = match &c.ratio_to_reference {
        Some(r) => {
            let text = format::times(r.median, r.ci95);
            if r.significant().is_some() {
                format!("**{text}**")
            } else {
                text
            }
        }
        None if b == view.report.campaign.reference => "reference".into(),
        None => "no ratio".into(),
    };
    format!("{value}<br>{ratio}")
}

fn reasons_text(reasons: &[&str], none: &str) -> String {
    if reasons.is_empty() {
        none.to_owned()
    } else {
        reasons
            .iter()
            .map(|r| escape(r))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}
