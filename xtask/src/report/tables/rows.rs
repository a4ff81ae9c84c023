//! The tables of one workload: the ranked table of a parameter value (one row per backend, with
//! failures and unverified cells kept and marked) and the backend × parameter table of scaling
//! workloads.

use std::{collections::BTreeSet, fmt::Write as _};

use super::{escape, line};
use crate::report::{
    format,
    results::{CellResult, Results, WorkloadResult},
    workloads::WorkloadKind,
};

/// The ranked table of one parameter value.
pub(super) fn table(
    w: &mut String,
    workload: &WorkloadResult,
    k: &WorkloadKind,
    parameter: &str,
    suffix: &str,
    previous: Option<&Results>,
) {
    let cells: Vec<&CellResult> = workload
        .cells
        .iter()
        .filter(|c| c.parameter == parameter)
        .collect();
    let _ = writeln!(w, "### {} = {parameter}{suffix}\n", k.parameter);
    if let Some(c) = cells.first() {
        let _ = writeln!(w, "Job: {}.\n", job(c));
    }
    let mut header = vec![
        "rank",
        "backend",
        "model",
        "wall s, median [CI]",
        k.headline.header(&workload.name),
        "CPU s",
        "CPU µs/req",
    ];
    if k.origin_cpu {
        header.push("origin CPU s");
    }
    header.extend([
        "peak RSS MiB",
        "p50 ms",
        "p99 ms",
        "errors",
        "verified",
        "× best",
    ]);
    if previous.is_some() {
        header.push("vs previous");
    }
    let _ = writeln!(w, "| {} |", header.join(" | "));
    let _ = writeln!(
        w,
        "|{}",
        header.iter().map(|_| " --- |").collect::<String>()
    );
    for c in &cells {
        let row = row(c, k, &workload.name, previous);
        let _ = writeln!(w, "| {} |", row.join(" | "));
    }
    line(w, "");
    for c in cells.iter().filter(|c| c.failure.is_none() && !c.verified) {
        let _ = writeln!(
            w,
            "- `{}` is not ranked: {}",
            c.backend.name,
            why_unverified(c)
        );
    }
    if cells.iter().any(|c| c.failure.is_none() && !c.verified) {
        line(w, "");
    }
}

fn row(
    c: &CellResult,
    k: &WorkloadKind,
    workload: &str,
    previous: Option<&Results>,
) -> Vec<String> {
    let m = &c.metrics;
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or("—".to_owned(), f);
    let mut row = vec![
        match (c.rank, &c.failure) {
            (Some(r), _) => r.to_string(),
            (None, Some(_)) => "failed".into(),
            (None, None) => "*unverified*".into(),
        },
        format!("`{}`", c.backend.name),
        c.backend.model.label().to_owned(),
    ];
    if let Some(reason) = &c.failure {
        row.push(format!("**failed**: {}", escape(reason)));
        let blanks = if k.origin_cpu { 10 } else { 9 };
        row.extend(std::iter::repeat_n("—".to_owned(), blanks));
        if previous.is_some() {
            row.push("—".into());
        }
        return row;
    }
    row.push(wall(c));
    row.push(k.headline.show(c));
    row.push(opt(m.cpu_secs, |v| format!("{v:.3}")));
    row.push(opt(m.cpu_us_per_request, format::num));
    if k.origin_cpu {
        row.push(opt(m.origin_cpu_secs, |v| format!("{v:.3}")));
    }
    row.push(match (m.peak_rss_mib, m.children_peak_rss_mib) {
        (Some(p), Some(ch)) => format!("{p:.1} + worker {ch:.1}"),
        (p, _) => opt(p, |v| format!("{v:.1}")),
    });
    row.push(opt(m.latency_p50_ms, format::num));
    row.push(opt(m.latency_p99_ms, format::num));
    row.push(errors(c));
    row.push(verdict(c).to_owned());
    row.push(opt(c.ratio_to_best, |v| format!("×{v:.2}")));
    if let Some(prev) = previous {
        row.push(vs_previous(c, workload, prev));
    }
    row
}

fn wall(c: &CellResult) -> String {
    match &c.wall {
        None => "—".into(),
        Some(t) => match &t.ci {
            Some(ci) => format!(
                "{} [{}, {}]",
                format::secs(t.median_secs),
                format::secs(ci.lower_secs),
                format::secs(ci.upper_secs)
            ),
            None => format!("{} (runs' median, no CI)", format::secs(t.median_secs)),
        },
    }
}

/// `timeout 12, reset 3`, `timeout 12–14`, or `none`.
pub(crate) fn errors(c: &CellResult) -> String {
    let parts: Vec<String> = c
        .metrics
        .errors
        .iter()
        .filter(|(_, s)| s.max > 0)
        .map(|(kind, s)| {
            if s.min == s.max {
                format!("{kind} {}", s.max)
            } else {
                format!("{kind} {}–{}", s.min, s.max)
            }
        })
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// `yes`, `NO`, or `no truth` (runs without a ground truth cannot be verified).
pub(crate) fn verdict(c: &CellResult) -> &'static str {
    if c.failure.is_some() {
        "—"
    } else if c.verified {
        "yes"
    } else if c.metrics.runs_failed_verification > 0 {
        "NO"
    } else {
        "no truth"
    }
}

fn why_unverified(c: &CellResult) -> String {
    let m = &c.metrics;
    let mut why = Vec::new();
    if m.runs_failed_verification > 0 {
        why.push(format!(
            "{} of {} runs failed verification",
            m.runs_failed_verification,
            c.runs.len()
        ));
    }
    if m.runs_without_truth > 0 {
        why.push(format!(
            "{} of {} runs had no ground truth",
            m.runs_without_truth,
            c.runs.len()
        ));
    }
    let first_difference = c.runs.iter().flat_map(|r| &r.differences).next();
    let mut text = why.join("; ");
    if let Some(d) = first_difference {
        let _ = write!(text, "; first difference: {}", escape(d));
    }
    text
}

fn vs_previous(c: &CellResult, workload: &str, prev: &Results) -> String {
    let old = prev.cell(workload, &c.backend.name, &c.parameter);
    match (old.and_then(|o| o.wall.as_ref()), &c.wall) {
        (Some(o), Some(n)) => {
            format::change_pct(o.median_secs, n.median_secs).map_or("—".into(), format::change)
        }
        _ if old.is_none() => "new".into(),
        _ => "—".into(),
    }
}

/// A backend × parameter table of median walls, with each backend's fitted slope.
pub(super) fn scaling_table(
    w: &mut String,
    workload: &WorkloadResult,
    k: &WorkloadKind,
    params: &[String],
) {
    let backends: BTreeSet<&str> = workload
        .cells
        .iter()
        .map(|c| c.backend.name.as_str())
        .collect();
    let _ = writeln!(w, "### Median wall (s) by {}\n", k.parameter);
    let mut header = vec!["backend".to_owned()];
    header.extend(params.iter().map(|p| format!("{} = {p}", k.parameter)));
    header.push(format!("slope (ms per unit of {})", k.parameter));
    header.push("intercept s".into());
    let _ = writeln!(w, "| {} |", header.join(" | "));
    let _ = writeln!(
        w,
        "|{}",
        header.iter().map(|_| " --- |").collect::<String>()
    );
    let mut starred = false;
    for b in backends {
        let mut row = vec![format!("`{b}`")];
        for p in params {
            let cell = workload
                .cells
                .iter()
                .find(|c| c.backend.name == b && &c.parameter == p);
            row.push(match cell {
                None => "—".into(),
                Some(c) if c.failure.is_some() => "failed".into(),
                Some(c) => match (&c.wall, c.verified) {
                    (Some(t), true) => format::secs(t.median_secs),
                    (Some(t), false) => {
                        starred = true;
                        format!("{}*", format::secs(t.median_secs))
                    }
                    (None, _) => "—".into(),
                },
            });
        }
        match workload.scaling.iter().find(|f| f.backend == b) {
            Some(fit) => {
                row.push(format!("{:.2}", fit.slope_secs * 1e3));
                row.push(format::secs(fit.intercept_secs));
            }
            None => row.extend(["—".to_owned(), "—".to_owned()]),
        }
        let _ = writeln!(w, "| {} |", row.join(" | "));
    }
    line(w, "");
    let _ = writeln!(
        w,
        "Slope and intercept: least-squares line through the backend's verified cells.{}\n",
        if starred {
            " `*` not verified (not used in the fit)."
        } else {
            ""
        }
    );
}

fn job(c: &CellResult) -> String {
    let j = &c.job;
    let what = match j.kind.as_str() {
        "crawl" => format!("crawl of up to {} pages", j.max_urls),
        "list" => format!("list of {} URLs", j.max_urls),
        other => format!("{other} of {} URLs", j.max_urls),
    };
    let mut text = format!(
        "{what}, {} in flight, timeout {} ms, {} {}",
        j.concurrency,
        j.timeout_ms,
        j.retries,
        if j.retries == 1 { "retry" } else { "retries" }
    );
    if let Some(ideal) = c.metrics.ideal_secs {
        let _ = write!(text, ", ideal makespan {} s", format::secs(ideal));
    }
    text
}
