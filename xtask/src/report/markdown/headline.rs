//! The headline table: one row per backend, per workload its main quantity at the largest
//! parameter as `median [lo–hi]` with its rank label, the instruction count per request, and —
//! when `py-aiohttp` verified in `throughput` — CPU per request in units of the original
//! experiment's async stack: the answer at a glance, which the README quotes. Every number is
//! one the workload sections show in full.

use std::fmt::Write as _;

use crawlbench_stats::{InstructionCount, Metric};

use super::{
    code, escape, line,
    seed_curve::{PY_AIOHTTP, THROUGHPUT},
    table,
};
use crate::report::{
    format,
    view::{BackendView, ParamView, Status, View, WorkloadView},
    workloads::Quantity,
};

/// One headline column.
struct Column<'v, 'a> {
    workload: &'v WorkloadView<'a>,
    parameter: &'v ParamView<'a>,
    quantity: Quantity,
}

/// The headline section of `REPORT.md`.
pub(super) fn render(w: &mut String, view: &View<'_>) {
    let body = table_and_notes(view);
    if !body.is_empty() {
        line(w, "## Headline");
        line(w, "");
        w.push_str(&body);
    }
}

/// The headline table with its notes, without a heading: what `REPORT.md` and the README show.
pub(crate) fn table_and_notes(view: &View<'_>) -> String {
    let mut out = String::new();
    let w = &mut out;
    let columns: Vec<Column<'_, '_>> = view
        .workloads
        .iter()
        .filter_map(|wv| Some((wv, wv.largest()?)))
        .flat_map(|(wv, p)| {
            let measured = view.metrics(wv.name, p.parameter);
            let main = view.main_quantity(wv);
            let mut qs: Vec<Quantity> = wv
                .presentation
                .headline
                .iter()
                .copied()
                .filter(|q| measured.contains(&q.metric()))
                .collect();
            if qs.is_empty() {
                qs.push(main);
            }
            qs.into_iter().map(move |quantity| Column {
                workload: wv,
                parameter: p,
                quantity,
            })
        })
        .collect();
    if columns.is_empty() || view.backends.is_empty() {
        return out;
    }
    let instructions = &view.report.instructions;
    let mut header: Vec<String> = vec!["backend".into(), "model".into()];
    header.extend(columns.iter().map(|c| {
        format!(
            "{} ({} = {}): {}",
            c.workload.name,
            c.workload.presentation.parameter,
            c.parameter.parameter,
            c.quantity.heading()
        )
    }));
    if !instructions.is_empty() {
        header.push("instructions/req (sys CPU µs/req)¹".into());
    }
    let per_aiohttp = PerAiohttp::of(view);
    if per_aiohttp.is_some() {
        header.push(PerAiohttp::HEADING.into());
    }
    let mut dagger = false;
    let rows: Vec<Vec<String>> = view
        .backends
        .iter()
        .map(|b| {
            let mut row = vec![backend_label(b), escape(b.model)];
            for c in &columns {
                let rss = c.quantity == Quantity::Metric(Metric::PeakRssBytes) && b.multiprocess;
                let text = show(view, c, b.label);
                dagger |= rss && text != "—" && text != "failed";
                row.push(if rss { format!("{text} †") } else { text });
            }
            if !instructions.is_empty() {
                row.push(instruction_cell(instructions, b.label));
            }
            if let Some(unit) = &per_aiohttp {
                row.push(unit.cell(view, b.label));
            }
            row
        })
        .collect();
    table(w, &header, rows);
    line(
        w,
        "Each column at the workload's largest parameter: the median over rounds with its 95 % \
         bootstrap interval, and the rank (**#1–2**: tied for places 1 to 2 — their paired \
         ratio's interval includes 1). Lower is better everywhere except URLs/s, which is N ÷ the \
         median wall (ranked as the wall is). *unverified* cells are shown but never ranked; \
         each workload's section gives the rank groups, every metric and every failure's reason.",
    );
    line(w, "");
    if dagger {
        line(
            w,
            "† A multi-process backend's peak RSS is the **sum of per-process peaks** (coordinator \
             plus every worker).",
        );
        line(w, "");
    }
    if !instructions.is_empty() {
        instructions_note(w, instructions);
    }
    if let Some(unit) = &per_aiohttp {
        unit.note(w);
    }
    out
}

/// The last column's unit: `py-aiohttp`'s median CPU per request in `throughput`'s largest cell,
/// when every run of it verified.
struct PerAiohttp<'v> {
    parameter: &'v str,
    median: f64,
}

impl<'v> PerAiohttp<'v> {
    const HEADING: &'static str = "throughput CPU/req ÷ py-aiohttp";

    fn of(view: &'v View<'_>) -> Option<Self> {
        let p = view
            .workloads
            .iter()
            .find(|w| w.name == THROUGHPUT)?
            .largest()?
            .parameter;
        if view.status(THROUGHPUT, p, PY_AIOHTTP) != Status::Verified {
            return None;
        }
        let c = view.cell(THROUGHPUT, p, PY_AIOHTTP, Metric::CpuUsPerRequest)?;
        (c.median.is_finite() && c.median > 0.0).then_some(Self {
            parameter: p,
            median: c.median,
        })
    }

    /// `backend`'s median ÷ the unit; `—` where it has no such cell.
    fn cell(&self, view: &View<'_>, backend: &str) -> String {
        let Some(c) = view
            .cell(THROUGHPUT, self.parameter, backend, Metric::CpuUsPerRequest)
            .filter(|c| c.median.is_finite())
        else {
            return "—".into();
        };
        let ratio = format::ratio(c.median / self.median);
        match view.status(THROUGHPUT, self.parameter, backend) {
            Status::Verified => ratio,
            _ => format!("{ratio} *unverified*"),
        }
    }

    fn note(&self, w: &mut String) {
        let _ = writeln!(
            w,
            "**{}**: each backend's median client CPU per request in `{THROUGHPUT}` (N = {}) \
             divided by `{PY_AIOHTTP}`'s, the original experiment's async stack (asyncio + \
             aiohttp): 0.100 is a tenth of its CPU for the same work.\n",
            Self::HEADING,
            self.parameter
        );
    }
}

fn backend_label(b: &BackendView<'_>) -> String {
    if b.control {
        format!("{} (A/A control)", code(b.label))
    } else {
        code(b.label)
    }
}

fn show(view: &View<'_>, c: &Column<'_, '_>, backend: &str) -> String {
    let (w, p) = (c.workload.name, c.parameter.parameter);
    let value = |view: &View<'_>| {
        view.estimate(w, p, backend, c.quantity)
            .map(|e| format::with_ci(e.median, e.ci, |v| c.quantity.show(v)))
    };
    match view.status(w, p, backend) {
        Status::Absent => "—".into(),
        Status::Failed(_) => "failed".into(),
        Status::Unverified(_) => match value(view) {
            Some(v) => format!("{v} *unverified*"),
            None => "*unverified*".into(),
        },
        Status::Verified => {
            let Some(v) = value(view) else {
                return "—".into();
            };
            match view.rank(w, p, c.quantity.metric(), backend) {
                Some(rank) => format!("**#{rank}** {v}"),
                None => v,
            }
        }
    }
}

/// The counted, verified backends ranked by instructions per request (equal counts share a
/// rank).
fn instruction_rank(all: &[InstructionCount], backend: &str) -> Option<String> {
    let counted = |i: &&InstructionCount| i.failure.is_none() && i.verified;
    let me = all.iter().filter(counted).find(|i| i.backend == backend)?;
    let better = all
        .iter()
        .filter(counted)
        .filter(|i| i.per_request < me.per_request)
        .count();
    let equal = all
        .iter()
        .filter(counted)
        .filter(|i| i.per_request == me.per_request)
        .count();
    Some(if equal > 1 {
        format!("{}–{}", better + 1, better + equal)
    } else {
        (better + 1).to_string()
    })
}

fn instruction_cell(all: &[InstructionCount], backend: &str) -> String {
    let Some(i) = all.iter().find(|i| i.backend == backend) else {
        return "—".into();
    };
    if i.failure.is_some() {
        return "not counted".into();
    }
    let value = format!(
        "{} ({} µs)",
        format::count(i.per_request),
        format::num(i.sys_cpu_us_per_request)
    );
    match instruction_rank(all, backend) {
        Some(rank) => format!("**#{rank}** {value}"),
        None => format!("{value} *unverified*"),
    }
}

fn instructions_note(w: &mut String, all: &[InstructionCount]) {
    let jobs: Vec<String> = {
        let mut jobs: Vec<String> = all.iter().map(|i| escape(&i.job)).collect();
        jobs.sort();
        jobs.dedup();
        jobs
    };
    let _ = writeln!(
        w,
        "¹ User-space instructions the client process (and its workers) executed under \
         valgrind's callgrind on one run of {}, divided by the HTTP requests made; the system \
         CPU µs per request of the same run beside it, because callgrind cannot see the kernel. \
         Valgrind serialises threads (one runs at a time), so this ranks **CPU cost** — \
         identical from run to run, free of the machine's noise — and **not speed**: \
         parallelism, contention and waiting are invisible to it.\n",
        format::and_list(&jobs)
    );
    let missing: Vec<String> = all
        .iter()
        .filter_map(|i| {
            let why = i.failure.as_deref()?;
            Some(format!(
                "- {} not counted: {}",
                code(&i.backend),
                escape(why)
            ))
        })
        .collect();
    for m in &missing {
        line(w, m);
    }
    if !missing.is_empty() {
        line(w, "");
    }
}
