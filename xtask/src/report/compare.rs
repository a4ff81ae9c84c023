//! `cargo xtask compare OLD NEW`: two `report.json` files side by side — per workload,
//! parameter and backend, the old and new median wall and CPU per request with the change in
//! percent (starred where the two 95 % intervals do not overlap), and any change of verdict.
//! The campaigns are separate, so these are unpaired comparisons: a hint, not a ranking.

use std::{collections::BTreeSet, fmt::Write as _, path::Path};

use anyhow::{Result, bail};
use crawlbench_stats::{CampaignReport, Metric};

use super::{
    format, read_report,
    view::{Status, View, cmp_parameters},
};

/// `cargo xtask compare OLD NEW`.
pub(crate) fn compare_command(args: &[String]) -> Result<()> {
    let [old, new] = args else {
        bail!(
            "compare needs two report.json files: `cargo xtask compare OLD NEW`, e.g. `cargo \
             xtask compare results/report.json target/crawlbench/report/report.json`"
        );
    };
    let produce = "cargo xtask report --run";
    let old_report = read_report(Path::new(old), produce)?;
    let new_report = read_report(Path::new(new), produce)?;
    print!("{}", render(old, new, &old_report, &new_report));
    Ok(())
}

/// One (workload, parameter, backend) present in either report.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    pub(crate) workload: String,
    pub(crate) parameter: String,
    pub(crate) backend: String,
    /// Per compared metric: old and new text and the change.
    pub(crate) values: Vec<[String; 3]>,
    pub(crate) old_verdict: &'static str,
    pub(crate) new_verdict: &'static str,
}

const METRICS: [Metric; 2] = [Metric::WallSecs, Metric::CpuUsPerRequest];

fn verdict(view: &View<'_>, w: &str, p: &str, b: &str) -> &'static str {
    match view.status(w, p, b) {
        Status::Verified => "yes",
        Status::Unverified(_) => "NO",
        Status::Failed(_) => "failed",
        Status::Absent => "absent",
    }
}

/// Pairs the cells of `old` and `new`.
pub(crate) fn rows(old: &CampaignReport, new: &CampaignReport) -> Vec<Row> {
    let (ov, nv) = (View::new(old), View::new(new));
    let mut keys: Vec<(String, String, String)> = [&ov, &nv]
        .iter()
        .flat_map(|v| {
            v.workloads.iter().flat_map(move |w| {
                w.parameters.iter().flat_map(move |p| {
                    v.backends
                        .iter()
                        .filter(move |b| v.status(w.name, p.parameter, b.label) != Status::Absent)
                        .map(move |b| {
                            (
                                w.name.to_owned(),
                                p.parameter.to_owned(),
                                b.label.to_owned(),
                            )
                        })
                })
            })
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let position = |w: &str| {
        nv.workloads
            .iter()
            .chain(&ov.workloads)
            .position(|x| x.name == w)
    };
    let backend_pos = |b: &str| {
        nv.backends
            .iter()
            .chain(&ov.backends)
            .position(|x| x.label == b)
    };
    keys.sort_by(|a, b| {
        position(&a.0)
            .cmp(&position(&b.0))
            .then_with(|| cmp_parameters(&a.1, &b.1))
            .then_with(|| backend_pos(&a.2).cmp(&backend_pos(&b.2)))
    });
    keys.into_iter()
        .map(|(w, p, b)| {
            let values = METRICS
                .iter()
                .map(|m| {
                    let (o, n) = (ov.cell(&w, &p, &b, *m), nv.cell(&w, &p, &b, *m));
                    let show = |c: Option<&crawlbench_stats::CellStat>| {
                        c.map_or("—".to_owned(), |c| format::value(*m, c.median))
                    };
                    let change = match (o, n) {
                        (Some(o), Some(n)) => {
                            format::change_pct(o.median, n.median).map_or("—".to_owned(), |pct| {
                                let apart = n.ci95.lo > o.ci95.hi || n.ci95.hi < o.ci95.lo;
                                format::change(pct) + if apart { "*" } else { "" }
                            })
                        }
                        _ => "—".to_owned(),
                    };
                    [show(o), show(n), change]
                })
                .collect();
            Row {
                old_verdict: verdict(&ov, &w, &p, &b),
                new_verdict: verdict(&nv, &w, &p, &b),
                workload: w,
                parameter: p,
                backend: b,
                values,
            }
        })
        .collect()
}

/// The comparison as aligned text.
pub(crate) fn render(
    old_name: &str,
    new_name: &str,
    old: &CampaignReport,
    new: &CampaignReport,
) -> String {
    let describe = |r: &CampaignReport| {
        format!(
            "{} profile, {} rounds, commit {}, {}",
            r.profile, r.campaign.rounds, r.environment.git_commit, r.environment.date
        )
    };
    let mut out = String::new();
    let _ = writeln!(out, "old: {old_name} ({})", describe(old));
    let _ = writeln!(out, "new: {new_name} ({})", describe(new));
    if old.profile != new.profile {
        let _ = writeln!(
            out,
            "warning: the profiles differ ({} vs {}); changes mix workload sizes",
            old.profile, new.profile
        );
    }
    let header: Vec<String> = [
        "workload",
        "parameter",
        "backend",
        "old wall s",
        "new wall s",
        "change",
        "old CPU µs/req",
        "new CPU µs/req",
        "change",
        "verified",
    ]
    .map(String::from)
    .to_vec();
    let table: Vec<Vec<String>> = rows(old, new)
        .into_iter()
        .map(|r| {
            let mut cols = vec![r.workload, r.parameter, r.backend];
            cols.extend(r.values.into_iter().flatten());
            cols.push(if r.old_verdict == r.new_verdict {
                r.new_verdict.to_owned()
            } else {
                format!("{} → {} (changed)", r.old_verdict, r.new_verdict)
            });
            cols
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            table
                .iter()
                .chain([&header])
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let _ = writeln!(out);
    for r in std::iter::once(&header).chain(&table) {
        let cols: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let pad = w.saturating_sub(c.chars().count());
                if (3..9).contains(&i) {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cols.join("  ").trim_end());
    }
    let _ = writeln!(
        out,
        "\n* the two campaigns' 95 % intervals of the median do not overlap (separate campaigns: \
         an unpaired hint, not a ranking)"
    );
    out
}
