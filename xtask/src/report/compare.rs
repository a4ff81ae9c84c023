//! `cargo xtask compare OLD NEW`: two `results.json` files side by side — per workload, backend
//! and parameter, the old and new median wall, the change in percent, and whether the
//! verification verdict changed.

use std::{collections::BTreeSet, fmt::Write as _};

use super::{
    format,
    results::{CellResult, Results, cmp_parameters},
    tables::verdict,
    workloads::report_order,
};

/// One (workload, backend, parameter) present in either file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    pub(crate) workload: String,
    pub(crate) backend: String,
    pub(crate) parameter: String,
    pub(crate) old_secs: Option<f64>,
    pub(crate) new_secs: Option<f64>,
    /// `(new - old) / old` in percent, when both ran.
    pub(crate) change_pct: Option<f64>,
    pub(crate) old_verdict: &'static str,
    pub(crate) new_verdict: &'static str,
}

impl Row {
    /// Whether the verification verdict differs between the two files.
    pub(crate) fn verification_changed(&self) -> bool {
        self.old_verdict != self.new_verdict
    }
}

/// Pairs the cells of `old` and `new`.
pub(crate) fn compare(old: &Results, new: &Results) -> Vec<Row> {
    let names: BTreeSet<&str> = old
        .workloads
        .iter()
        .chain(&new.workloads)
        .map(|w| w.name.as_str())
        .collect();
    let mut rows = Vec::new();
    for workload in report_order(names) {
        let mut keys: Vec<(String, String)> = [old, new]
            .iter()
            .flat_map(|r| r.workloads.iter().filter(|w| w.name == workload))
            .flat_map(|w| &w.cells)
            .map(|c| (c.backend.name.clone(), c.parameter.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| cmp_parameters(&a.1, &b.1)));
        for (backend, parameter) in keys {
            let o = old.cell(workload, &backend, &parameter);
            let n = new.cell(workload, &backend, &parameter);
            let secs = |c: Option<&CellResult>| c?.wall.as_ref().map(|w| w.median_secs);
            let (old_secs, new_secs) = (secs(o), secs(n));
            rows.push(Row {
                workload: workload.to_owned(),
                backend,
                parameter,
                old_secs,
                new_secs,
                change_pct: old_secs
                    .zip(new_secs)
                    .and_then(|(a, b)| format::change_pct(a, b)),
                old_verdict: cell_verdict(o),
                new_verdict: cell_verdict(n),
            });
        }
    }
    rows
}

fn cell_verdict(c: Option<&CellResult>) -> &'static str {
    match c {
        None => "absent",
        Some(c) if c.failure.is_some() => "failed",
        Some(c) => verdict(c),
    }
}

/// The comparison as aligned text, one block per workload.
pub(crate) fn render(old_name: &str, new_name: &str, old: &Results, new: &Results) -> String {
    let describe = |r: &Results| {
        let env = r.environment.as_ref();
        format!(
            "{} profile, commit {}, {}",
            r.profile,
            env.map_or("unknown", |e| e.git_commit.as_str()),
            env.map_or("date unknown", |e| e.date.as_str())
        )
    };
    let mut out = String::new();
    let _ = writeln!(out, "old: {old_name} ({})", describe(old));
    let _ = writeln!(out, "new: {new_name} ({})", describe(new));
    if old.profile != new.profile {
        let _ = writeln!(
            out,
            "warning: the profiles differ ({} vs {}); changes mix measurement settings",
            old.profile, new.profile
        );
    }
    let rows = compare(old, new);
    let secs = |v: Option<f64>| v.map_or("—".to_owned(), format::secs);
    let table: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.workload.clone(),
                r.backend.clone(),
                r.parameter.clone(),
                secs(r.old_secs),
                secs(r.new_secs),
                r.change_pct.map_or("—".to_owned(), format::change),
            ]
        })
        .collect();
    let header = [
        "workload",
        "backend",
        "parameter",
        "old s",
        "new s",
        "change",
    ];
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let pad = |cols: [&str; 6]| {
        cols.iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i >= 3 {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let _ = writeln!(out, "\n{}  verified", pad(header));
    for (row, cells) in rows.iter().zip(&table) {
        let verified = if row.verification_changed() {
            format!("{} → {}  (changed)", row.old_verdict, row.new_verdict)
        } else {
            row.new_verdict.to_owned()
        };
        let cols = [
            cells[0].as_str(),
            &cells[1],
            &cells[2],
            &cells[3],
            &cells[4],
            &cells[5],
        ];
        let _ = writeln!(out, "{}  {verified}", pad(cols));
    }
    out
}
