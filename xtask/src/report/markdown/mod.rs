//! `REPORT.md`: a campaign as a reader meets it — what could make the numbers wrong first
//! (warnings, environment, method, the machine's noise, the A/A control), then the headline
//! table, the original experiment's conclusions and its chart redrawn, then per workload the
//! rank groups and every metric with its interval, then the harness's own cost. Only formatting
//! happens here; every number comes from `report.json`.

mod context;
pub(crate) mod headline;
mod seed_curve;
mod trust;
mod verdicts;
mod workload;

use std::fmt::Write as _;

use super::{charts::ChartFile, view::View};

/// Renders the whole report; `charts` are the files written beside it; `reproduction` a line
/// about the reproduction check of the same campaign, when one sits beside it.
pub(crate) fn render(view: &View<'_>, charts: &[ChartFile], reproduction: Option<&str>) -> String {
    let r = view.report;
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# crawlbench campaign — {} profile\n", r.profile);
    if r.profile != "full" {
        let _ = writeln!(
            w,
            "> **⚠ {} profile — not for publication.** Fewer rounds and smaller workloads: it \
             checks that the campaign works, not which model is faster. Publish only `cargo \
             xtask reproduce --profile full --publish`.\n",
            r.profile
        );
    }
    line(
        w,
        "Collated by `cargo xtask report` from `report.json` (the campaign's machine-readable \
         record; its layout is documented in `results/README.md`). Every backend ran the same \
         jobs against the same local origin, and every run was checked against the origin's \
         ground truth.",
    );
    line(w, "");
    if let Some(reproduction) = reproduction {
        line(w, reproduction);
        line(w, "");
    }
    let trust = trust::Trust::of(view);
    warnings(w, view, &trust);
    context::environment(w, view);
    context::backends(w, view);
    context::method(w, view);
    trust.noise_section(w, view);
    trust::control_section(w, view);
    headline::render(w, view);
    verdicts::section(w, view);
    seed_curve::section(w, view, charts);
    for workload in &view.workloads {
        workload::section(w, view, workload, charts);
    }
    context::harness(w, view);
    out
}

fn warnings(w: &mut String, view: &View<'_>, trust: &trust::Trust) {
    let mut all: Vec<String> = view.report.warnings.clone();
    all.extend(trust.warnings());
    all.extend(view.inconsistencies.iter().cloned());
    if all.is_empty() {
        return;
    }
    line(w, "## Warnings");
    line(w, "");
    for warning in &all {
        let _ = writeln!(w, "- **⚠** {}", escape(warning));
    }
    line(w, "");
}

/// A Markdown table: the header, then one line per row (cells are written as given).
pub(crate) fn table<H: AsRef<str>>(
    w: &mut String,
    header: &[H],
    rows: impl IntoIterator<Item = Vec<String>>,
) {
    let names: Vec<&str> = header.iter().map(AsRef::as_ref).collect();
    let _ = writeln!(w, "| {} |", names.join(" | "));
    let _ = writeln!(w, "|{}", " --- |".repeat(names.len()));
    for row in rows {
        let _ = writeln!(w, "| {} |", row.join(" | "));
    }
    line(w, "");
}

/// Text safe inside a Markdown table cell.
pub(crate) fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A name in code style.
pub(crate) fn code(s: &str) -> String {
    format!("`{}`", escape(s))
}

pub(crate) fn line(w: &mut String, s: &str) {
    w.push_str(s);
    w.push('\n');
}
