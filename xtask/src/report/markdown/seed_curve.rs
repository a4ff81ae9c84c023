//! "The original experiment, redrawn": the `seed-curve` workload — the original Python
//! experiment's chart (wall time against N = 6·i), its Python stacks measured and verified by
//! the same harness as their Rust counterparts — as a table at three N and four verdicts in plain
//! words: what a pool of 3 costs against unbounded async, the CPU a GIL-bound stack spends per
//! request, what a process pool's start-up costs, and what the external-backend protocol costs.
//!
//! Every verdict follows the report's one rule — a difference is real only when its 95 % interval
//! excludes no difference (a shared rank group, or bounds from the paired ratios to the
//! reference) — and says "Not decided" when a cell it needs did not run or did not verify.

use std::fmt::Write as _;

use crawlbench_stats::{CellStat, Interval, Metric};

use super::{
    code, escape, line, table,
    verdicts::{
        ASYNC, ASYNC_OVER_THREADS, ASYNC_PROCESSES, THREADS, largest_parameter, missing,
        same_group, with_ci,
    },
};
use crate::report::{
    charts::ChartFile,
    format,
    view::{Status, View, cmp_parameters},
    workloads::WALL_VS_N,
};

/// The workload this section presents.
const SEED_CURVE: &str = "seed-curve";
/// Where CPU per request is measured: many URLs, no delay, so the client's own work dominates.
pub(super) const THROUGHPUT: &str = "throughput";

/// `requests` on a `ThreadPoolExecutor` (a pool of 3 in the seed workloads).
const PY_REQUESTS_THREADS: &str = "py-requests-threads";
/// `requests` on a `ProcessPoolExecutor`.
const PY_REQUESTS_PROCESSES: &str = "py-requests-processes";
/// asyncio's `run_in_executor` over a `ThreadPoolExecutor`.
const PY_ASYNCIO_THREADS: &str = "py-asyncio-threads";
/// asyncio's `run_in_executor` over a `ProcessPoolExecutor`.
const PY_ASYNCIO_PROCESSES: &str = "py-asyncio-processes";
/// asyncio + aiohttp, bounded by a semaphore (at N in the seed workloads: unbounded).
pub(super) const PY_AIOHTTP: &str = "py-aiohttp";
/// aiohttp as the original ran it: a task per URL, gathered, unbounded.
const PY_AIOHTTP_GATHER: &str = "py-aiohttp-gather";
/// aiomultiprocess: processes each running asyncio + aiohttp.
const PY_AIOMULTIPROCESS: &str = "py-aiomultiprocess";
/// `tokio-st-reqwest`'s stack as an external backend, behind the JSON-lines protocol.
const EXT_TOKIO_ST: &str = "ext-tokio-st-reqwest";
/// The built-in stack `EXT_TOKIO_ST` copies: tokio current-thread + reqwest.
const TOKIO_ST: &str = "tokio-st-reqwest";

/// The table's rows: the original's stacks, then their Rust counterparts.
const STACKS: [&str; 11] = [
    PY_REQUESTS_THREADS,
    PY_REQUESTS_PROCESSES,
    PY_ASYNCIO_THREADS,
    PY_ASYNCIO_PROCESSES,
    PY_AIOHTTP,
    PY_AIOHTTP_GATHER,
    PY_AIOMULTIPROCESS,
    ASYNC,
    THREADS,
    ASYNC_OVER_THREADS,
    ASYNC_PROCESSES,
];

/// The pool size the seed workloads give thread and process models.
const POOL: u64 = 3;

/// A ceiling a ratio is held to.
struct Ceiling {
    value: f64,
    shown: &'static str,
}

/// The best Rust backend's CPU per request against `py-aiohttp`'s.
const CPU_CEILING: Ceiling = Ceiling {
    value: 0.1,
    shown: "0.10",
};
/// `ext-tokio-st-reqwest`'s CPU per request against `tokio-st-reqwest`'s.
const PROTOCOL_CEILING: Ceiling = Ceiling {
    value: 1.10,
    shown: "1.10",
};

/// The section, when the campaign ran `seed-curve`.
pub(super) fn section(w: &mut String, view: &View<'_>, charts: &[ChartFile]) {
    let ns = parameters(view);
    let (Some(&smallest), Some(&largest)) = (ns.first(), ns.last()) else {
        return;
    };
    line(w, "## The original experiment, redrawn");
    line(w, "");
    introduction(w, view, &ns);
    chart(w, charts);
    stacks_table(w, view, &table_columns(&ns));
    line(
        w,
        "What the data says, each by the report's one rule (a difference counts only when its \
         95 % interval excludes no difference):",
    );
    line(w, "");
    let verdicts = [
        pool_against_unbounded(view, largest),
        gil_bound_cpu(view),
        process_start_up(view, smallest),
        protocol_cost(view),
    ];
    for (i, verdict) in verdicts.iter().enumerate() {
        let _ = writeln!(w, "{}. {}\n", i + 1, escape(verdict));
    }
}

/// `seed-curve`'s parameters, numerically ascending (empty when it did not run).
fn parameters<'a>(view: &View<'a>) -> Vec<&'a str> {
    let Some(wv) = view.workloads.iter().find(|w| w.name == SEED_CURVE) else {
        return Vec::new();
    };
    let mut ns: Vec<&'a str> = wv.parameters.iter().map(|p| p.parameter).collect();
    ns.sort_by(|a, b| cmp_parameters(a, b));
    ns
}

/// The smallest, a middle and the largest of ascending `ns` (fewer when there are fewer).
fn table_columns<'n>(ns: &[&'n str]) -> Vec<&'n str> {
    let mut picked = vec![ns[0], ns[ns.len() / 2], ns[ns.len() - 1]];
    picked.dedup();
    picked
}

fn introduction(w: &mut String, view: &View<'_>, ns: &[&str]) {
    let jobs = view
        .workloads
        .iter()
        .filter(|wv| wv.name == SEED_CURVE)
        .flat_map(|wv| &wv.parameters);
    let rtt = jobs.filter_map(|p| rtt_ms(p.job)).next().map_or_else(
        || "the workload's modelled round trip".to_owned(),
        |ms| format!("a {} ms round trip", format::param_value(ms)),
    );
    let values = if ns.len() <= 4 {
        let shown: Vec<String> = ns.iter().map(|n| (*n).to_owned()).collect();
        format::and_list(&shown)
    } else {
        format!("{} values from {} to {}", ns.len(), ns[0], ns[ns.len() - 1])
    };
    let rounds = view
        .report
        .cells
        .iter()
        .filter(|c| c.workload == SEED_CURVE)
        .map(|c| c.rounds)
        .max()
        .map_or_else(String::new, |r| format!(", {r} rounds"));
    let _ = writeln!(
        w,
        "`{SEED_CURVE}` redraws the original Python experiment's chart: the wall time of a list \
         of N = 6·i URLs (here N = {values}), a new connection per request, pools of {POOL} for \
         the thread and process models and async unbounded (all N in flight), over {rtt}{rounds}. \
         The Python stacks fetch from the same origin and are verified the same way as every \
         backend; client and origin share the machine's {} cores.\n",
        view.report.environment.cores
    );
}

/// The round trip in a job description (`…, rtt 50ms, bandwidth unlimited`).
fn rtt_ms(job: &str) -> Option<f64> {
    job.split(", ")
        .find_map(|part| part.strip_prefix("rtt ")?.strip_suffix("ms")?.parse().ok())
}

/// The wall-time chart against N, embedded as the workload sections embed theirs.
fn chart(w: &mut String, charts: &[ChartFile]) {
    let suffix = format!("-{}.svg", WALL_VS_N.suffix);
    if let Some(c) = charts
        .iter()
        .find(|c| c.workload == SEED_CURVE && c.file.ends_with(&suffix))
    {
        let _ = writeln!(w, "![{}]({})\n", escape(&c.title), c.file);
    }
}

fn stacks_table(w: &mut String, view: &View<'_>, ns: &[&str]) {
    let mut header = vec!["stack".to_owned(), "model".to_owned()];
    header.extend(ns.iter().map(|n| format!("N = {n}: wall s")));
    let rows = stacks(view).into_iter().map(|b| {
        let model = view
            .backends
            .iter()
            .find(|x| x.label == b && !x.model.is_empty())
            .map_or_else(|| "—".to_owned(), |x| escape(x.model));
        let mut row = vec![code(b), model];
        row.extend(ns.iter().map(|n| wall_cell(view, n, b)));
        row
    });
    table(w, &header, rows);
    line(
        w,
        "Each cell: the median wall time over rounds [95 % interval]; ✓: every run verified \
         against the origin's ground truth. The `seed-curve` section below has every metric and \
         the rank groups at every N.",
    );
    line(w, "");
}

/// The rows: [`STACKS`], then any other backend that ran `seed-curve` (the A/A control aside),
/// Python ones first.
fn stacks<'v>(view: &View<'v>) -> Vec<&'v str> {
    let ns = parameters(view);
    let ran = |b: &str| {
        ns.iter()
            .any(|n| view.status(SEED_CURVE, n, b) != Status::Absent)
    };
    let mut out: Vec<&'v str> = STACKS.to_vec();
    out.extend(
        view.backends
            .iter()
            .filter(|b| !b.control && !STACKS.contains(&b.label) && ran(b.label))
            .map(|b| b.label),
    );
    out.sort_by_key(|b| !b.starts_with("py-"));
    out
}

fn wall_cell(view: &View<'_>, n: &str, b: &str) -> String {
    let value = || {
        view.cell(SEED_CURVE, n, b, Metric::WallSecs)
            .map(|c| format::with_ci(c.median, c.ci95, |v| format::value(Metric::WallSecs, v)))
    };
    match view.status(SEED_CURVE, n, b) {
        Status::Verified => value().map_or_else(|| "—".to_owned(), |v| format!("{v} ✓")),
        Status::Unverified(reasons) => format!(
            "{} *unverified*: {}",
            value().unwrap_or_default(),
            reasons_text(&reasons)
        ),
        Status::Failed(reasons) => format!("failed: {}", reasons_text(&reasons)),
        Status::Absent => format!(
            "did not run: {}",
            escape(unavailable(view, b).unwrap_or("not entered in this campaign"))
        ),
    }
}

fn reasons_text(reasons: &[&str]) -> String {
    if reasons.is_empty() {
        return "no reason recorded".to_owned();
    }
    reasons
        .iter()
        .map(|r| escape(r))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why `backend` did not run at all, from the campaign's warning about it.
fn unavailable<'a>(view: &View<'a>, backend: &str) -> Option<&'a str> {
    view.report
        .warnings
        .iter()
        .find_map(|w| w.strip_prefix(backend)?.strip_prefix(" did not run: "))
}

/// A cell of a backend whose every run at (workload, parameter) verified.
fn verified<'a>(view: &View<'a>, w: &str, n: &str, b: &str, m: Metric) -> Option<&'a CellStat> {
    (view.status(w, n, b) == Status::Verified)
        .then(|| view.cell(w, n, b, m))
        .flatten()
}

/// a. A pool of 3 against async with every URL in flight, at the largest N.
fn pool_against_unbounded(view: &View<'_>, n: &str) -> String {
    let (pool, all) = (PY_REQUESTS_THREADS, PY_AIOHTTP_GATHER);
    let claim = format!(
        "*Pool size {POOL} against unbounded async* (N = {n}; expected: the pool is slower):"
    );
    let wall = |b: &str| verified(view, SEED_CURVE, n, b, Metric::WallSecs);
    let (Some(p), Some(a), Some(tied)) = (
        wall(pool),
        wall(all),
        same_group(view, SEED_CURVE, n, Metric::WallSecs, pool, all),
    ) else {
        return format!("{claim} {}", missing(&[pool, all]));
    };
    let comparison = format!(
        "`{pool}` (a pool of {POOL}) took {} against `{all}`'s {} (a task per URL, unbounded): \
         {}× the wall time",
        with_ci(p),
        with_ci(a),
        format::ratio(p.median / a.median)
    );
    let verdict = match (tied, p.median > a.median) {
        (false, true) => format!("**Holds here:** {comparison}, in different rank groups."),
        (true, _) => {
            format!("**Does not hold here:** {comparison}, within noise — they share a rank group.")
        }
        (false, false) => format!(
            "**Does not hold here:** the pool is faster. {comparison}, in different rank groups."
        ),
    };
    let waves = n.parse::<u64>().map_or_else(
        |_| "⌈N ÷ 3⌉".to_owned(),
        |v| format!("⌈{n} ÷ {POOL}⌉ = {}", v.div_ceil(POOL)),
    );
    format!(
        "{claim} {verdict} Why: the pool opens a fresh connection per request in {waves} waves \
         of two round trips each; the gather opens all {n} in one wave."
    )
}

/// b. CPU per request of the Python stacks against Rust's, in `throughput`'s largest cell.
fn gil_bound_cpu(view: &View<'_>) -> String {
    let title = "*GIL-bound CPU per request*";
    let decisive = [PY_AIOHTTP, ASYNC];
    let Some(n) = largest_parameter(view, THROUGHPUT) else {
        return format!("{title}: {}", missing(&decisive));
    };
    let claim = format!(
        "{title} (`{THROUGHPUT}`, N = {n}; target: the best Rust backend's CPU per request at \
         most 1/10 of `{PY_AIOHTTP}`'s):"
    );
    let cpu = |b: &str| verified(view, THROUGHPUT, &n, b, Metric::CpuUsPerRequest);
    let (Some(aiohttp), Some(reference), Some(best)) =
        (cpu(PY_AIOHTTP), cpu(ASYNC), best_rust(view, &n))
    else {
        return format!("{claim} {}", missing(&decisive));
    };
    let Some(share) = relative(view, best, aiohttp) else {
        return format!("{claim} {}", missing(&decisive));
    };
    let (verdict, bound) = against(&share, &CPU_CEILING);
    let python: Vec<String> = [PY_AIOHTTP, PY_AIOMULTIPROCESS]
        .iter()
        .map(|py| match cpu(py) {
            Some(c) => format!(
                "`{py}` {}, {} and {}",
                with_ci(c),
                times_of(view, c, reference),
                times_of(view, c, best)
            ),
            None => format!("`{py}` did not run or did not verify"),
        })
        .collect();
    format!(
        "{claim} {verdict} the best Rust backend, `{}`, spent {} of client CPU per request, {} \
         `{PY_AIOHTTP}`'s — {bound}. Against `{ASYNC}`'s {} and the best Rust backend's: {}. \
         Why: CPython runs one thread's bytecode at a time (the GIL), so a Python stack's \
         parsing, HTTP and scheduling cost the interpreter's time on one core at a time, \
         whichever concurrency model wraps it.",
        best.backend,
        with_ci(best),
        times(share),
        with_ci(reference),
        python.join("; ")
    )
}

/// The verified non-external backend (not `py-*` or `ext-*`, not the A/A control) with the
/// lowest median CPU per request at `throughput`'s parameter `n`.
fn best_rust<'a>(view: &View<'a>, n: &str) -> Option<&'a CellStat> {
    view.backends
        .iter()
        .filter(|b| !b.control && !is_external(b.label))
        .filter_map(|b| verified(view, THROUGHPUT, n, b.label, Metric::CpuUsPerRequest))
        .filter(|c| c.median.is_finite())
        .min_by(|a, b| a.median.total_cmp(&b.median))
}

/// An external backend: a Python stack or an example speaking the JSON-lines protocol.
fn is_external(label: &str) -> bool {
    label.starts_with("py-") || label.starts_with("ext-")
}

/// c. What a process pool's start-up costs, at the smallest N (the least network time).
fn process_start_up(view: &View<'_>, n: &str) -> String {
    // (the stack with processes, the same stack without: both pools of 3, or both unbounded —
    // process models that are not pools run every URL at once, as the async ones do)
    let pairs = [
        (PY_REQUESTS_PROCESSES, PY_REQUESTS_THREADS),
        (PY_AIOMULTIPROCESS, PY_AIOHTTP),
    ];
    let measured: Vec<String> = pairs
        .iter()
        .map(|&(processes, other)| start_up(view, n, processes, other))
        .collect();
    format!(
        "*Process start-up* (N = {n}, the smallest): a process pool starts its workers (fork, \
         imports) in every run, and the extra wall time against the same stack without \
         processes is that start-up. {}",
        measured.join(" ")
    )
}

/// `processes`' extra wall time over `other` at N = `n`, or why it is not decided.
fn start_up(view: &View<'_>, n: &str, processes: &str, other: &str) -> String {
    let wall = |b: &str| verified(view, SEED_CURVE, n, b, Metric::WallSecs);
    let (Some(p), Some(o), Some(tied)) = (
        wall(processes),
        wall(other),
        same_group(view, SEED_CURVE, n, Metric::WallSecs, processes, other),
    ) else {
        return missing(&[processes, other]);
    };
    let difference = p.median - o.median;
    let sign = if difference < 0.0 { "−" } else { "+" };
    let verdict = if tied {
        "no difference within noise (they share a rank group)".to_owned()
    } else {
        format!(
            "**{sign}{} s** (in different rank groups)",
            format::secs(difference.abs())
        )
    };
    format!(
        "`{processes}` against `{other}`: {verdict}, {} against {}.",
        with_ci(p),
        with_ci(o),
    )
}

/// d. What the JSON-lines protocol costs: the same stack as an external backend and built in.
fn protocol_cost(view: &View<'_>) -> String {
    let title = "*What the protocol costs*";
    let decisive = [EXT_TOKIO_ST, TOKIO_ST];
    let Some(n) = largest_parameter(view, THROUGHPUT) else {
        return format!("{title}: {}", missing(&decisive));
    };
    let claim = format!(
        "{title} (`{THROUGHPUT}`, N = {n}; target: `{EXT_TOKIO_ST}` ÷ `{TOKIO_ST}` CPU per \
         request at most {}):",
        PROTOCOL_CEILING.shown
    );
    let cpu = |b: &str| verified(view, THROUGHPUT, &n, b, Metric::CpuUsPerRequest);
    let Some((ext, built_in, r)) = cpu(EXT_TOKIO_ST)
        .zip(cpu(TOKIO_ST))
        .and_then(|(e, b)| Some((e, b, relative(view, e, b)?)))
    else {
        return format!("{claim} {}", missing(&decisive));
    };
    let (verdict, bound) = against(&r, &PROTOCOL_CEILING);
    format!(
        "{claim} {verdict} `{EXT_TOKIO_ST}` — `{TOKIO_ST}`'s stack (tokio current-thread + \
         reqwest) run as an external backend — spent {} of client CPU per request against {}: \
         {} — {bound}.",
        with_ci(ext),
        with_ci(built_in),
        times(r)
    )
}

/// `a ÷ b` at one (workload, parameter, metric), from their paired ratios to the reference:
/// the quotient of those ratios' medians, and bounds from both 95 % intervals (the quotient's
/// extremes, so never narrower than either interval's own spread).
#[derive(Clone, Copy, Debug)]
struct Relative {
    median: f64,
    ci: Interval,
}

fn relative(view: &View<'_>, a: &CellStat, b: &CellStat) -> Option<Relative> {
    let reference = &view.report.campaign.reference;
    let paired = |c: &CellStat| {
        if &c.backend == reference {
            return Some((1.0, Interval { lo: 1.0, hi: 1.0 }));
        }
        let r = c.ratio_to_reference.as_ref()?;
        (&r.reference == reference).then_some((r.median, r.ci95))
    };
    let ((ma, ia), (mb, ib)) = (paired(a)?, paired(b)?);
    (mb > 0.0 && ib.lo > 0.0).then(|| Relative {
        median: ma / mb,
        ci: Interval {
            lo: ia.lo / ib.hi,
            hi: ia.hi / ib.lo,
        },
    })
}

/// `×1.050 [1.020–1.080]`.
fn times(r: Relative) -> String {
    format::times(r.median, r.ci)
}

/// `a ÷ b` as [`times`], or why there is none.
fn times_of(view: &View<'_>, a: &CellStat, b: &CellStat) -> String {
    relative(view, a, b).map_or_else(
        || "an unknown multiple (no paired ratio to the reference) of".to_owned(),
        times,
    )
}

/// The verdict on `r` against `ceiling`, and the reason in words: met only when the whole
/// interval is at or below it, missed only when the whole interval is above it.
fn against(r: &Relative, ceiling: &Ceiling) -> (&'static str, String) {
    let c = ceiling.shown;
    if r.ci.hi <= ceiling.value {
        ("**Met:**", format!("at most {c} across its 95 % interval"))
    } else if r.ci.lo > ceiling.value {
        (
            "**Not met:**",
            format!("above {c} across its 95 % interval"),
        )
    } else {
        (
            "**Within noise of the target:**",
            format!("its 95 % interval includes {c}, so neither met nor missed can be claimed"),
        )
    }
}
