//! The original Python experiment's two conclusions, checked against this campaign in plain
//! words, with the numbers that decide them — and what a new connection per request costs.
//!
//! Stated from `report.json` alone, with the report's one significance rule: a difference is
//! real only when its 95 % interval excludes no difference (the paired ratio to the reference,
//! or a shared rank group for two backends that are not the reference). When a cell needed for
//! a verdict did not run or did not verify, the verdict says so instead of guessing.

use std::fmt::Write as _;

use crawlbench_stats::{CellStat, Metric};

use super::{escape, line};
use crate::report::{format, view::View};

/// The seed's thread-pool model (`requests` on a `ThreadPool` of 3).
pub(super) const THREADS: &str = "threadpool-ureq";
/// The seed's asyncio over that pool (`run_in_executor` on 3 threads).
pub(super) const ASYNC_OVER_THREADS: &str = "tokio-blocking-ureq";
/// The seed's aiohttp on one event loop.
pub(super) const ASYNC: &str = "tokio-reqwest";
/// The seed's aiomultiprocess: async tasks in each of several processes.
pub(super) const ASYNC_PROCESSES: &str = "multiprocess-async";

pub(super) fn section(w: &mut String, view: &View<'_>) {
    let Some(n) = largest_parameter(view, "seed-replica") else {
        return;
    };
    line(w, "## The original experiment's conclusions, checked");
    line(w, "");
    let _ = writeln!(
        w,
        "The seed experiment raced Python stacks once against a far-away httpbin, a new \
         connection per request. `seed-replica` replays it (N = {n} at most, a new connection \
         per request, the round trip modelled by the origin); each verdict below is at N = {n} \
         and follows the report's one rule: a difference counts only when its 95 % interval \
         excludes no difference.\n"
    );
    let wall = |b: &str| view.cell("seed-replica", &n, b, Metric::WallSecs);
    let tied = |a: &str, b: &str| same_group(view, "seed-replica", &n, Metric::WallSecs, a, b);

    // 1. "async on top of requests + threads gains nothing".
    let first = match (
        wall(THREADS),
        wall(ASYNC_OVER_THREADS),
        tied(THREADS, ASYNC_OVER_THREADS),
    ) {
        (Some(t), Some(a), Some(same_group)) if t.verified && a.verified => {
            let verdict = if same_group {
                "**Holds here.**"
            } else if a.median > t.median {
                "**Holds here, and worse:** the async layer costs time."
            } else {
                "**Does not hold here:** the async layer over the same 3 threads is faster."
            };
            format!(
                "{verdict} `{ASYNC_OVER_THREADS}` (async over a pool of 3 threads) took {} \
                 against `{THREADS}` (the pool of 3 alone) {}; {}. Both are bound by the pool: \
                 ⌈N ÷ 3⌉ requests in a row{}.",
                with_ci(a),
                with_ci(t),
                if same_group {
                    "they share a rank group, so the difference is within noise"
                } else {
                    "they are in different rank groups"
                },
                against_async(view, &n, THREADS)
            )
        }
        _ => missing(&[THREADS, ASYNC_OVER_THREADS]),
    };
    let _ = writeln!(
        w,
        "1. *\"asyncio on top of requests and a thread pool gains nothing.\"* {}\n",
        escape(&first)
    );

    // 2. "aiohttp across processes gains nothing obvious".
    let second = match (wall(ASYNC), wall(ASYNC_PROCESSES)) {
        (Some(a), Some(p)) if a.verified && p.verified => match &p.ratio_to_reference {
            Some(r) if r.reference == ASYNC => {
                let ratio = format!(
                    "{} [{}–{}]",
                    format::ratio(r.median),
                    format::ratio(r.ci95.lo),
                    format::ratio(r.ci95.hi)
                );
                let verdict = match r.significant() {
                    None => "**Holds here:** no difference within noise.",
                    Some(std::cmp::Ordering::Greater) => {
                        "**Holds here, and worse:** the processes cost time."
                    }
                    _ => "**Does not hold here:** spreading over processes is faster.",
                };
                format!(
                    "{verdict} `{ASYNC_PROCESSES}` took {} against `{ASYNC}`'s {}, a paired \
                     ratio of {ratio}. With every request in flight at once, the wait is one \
                     connection's round trips whichever process sends it.",
                    with_ci(p),
                    with_ci(a)
                )
            }
            _ => missing(&[ASYNC_PROCESSES]),
        },
        _ => missing(&[ASYNC, ASYNC_PROCESSES]),
    };
    let _ = writeln!(
        w,
        "2. *\"aiohttp across processes (aiomultiprocess) gains nothing obvious.\"* {}\n",
        escape(&second)
    );

    connection_cost(w, view);
}

/// ", while unbounded async took … (ratio …)" for `pool` against the async reference.
fn against_async(view: &View<'_>, n: &str, pool: &str) -> String {
    let (Some(asy), Some(p)) = (
        view.cell("seed-replica", n, ASYNC, Metric::WallSecs),
        view.cell("seed-replica", n, pool, Metric::WallSecs),
    ) else {
        return String::new();
    };
    match &p.ratio_to_reference {
        Some(r) => format!(
            ", while unbounded async (`{ASYNC}`) took {} — the pool of 3 is {}× slower",
            with_ci(asy),
            format::ratio(r.median)
        ),
        None => String::new(),
    }
}

/// What a new connection per request costs, from the `tls` group: the reference backend's
/// wall ÷ ideal and CPU per request with `reuse` and with `fresh`.
fn connection_cost(w: &mut String, view: &View<'_>) {
    let get = |p: &str, m: Metric| view.cell("tls", p, ASYNC, m).filter(|c| c.verified);
    let (Some(cpu_reuse), Some(cpu_fresh)) = (
        get("reuse", Metric::CpuUsPerRequest),
        get("fresh", Metric::CpuUsPerRequest),
    ) else {
        return;
    };
    let over = |p: &str| {
        get(p, Metric::WallOverIdeal)
            .map(|c| format::ratio(c.median))
            .unwrap_or_else(|| "—".into())
    };
    let origin = |p: &str| {
        get(p, Metric::OriginCpuUsPerRequest)
            .map(|c| format::num(c.median))
            .unwrap_or_else(|| "—".into())
    };
    let wall = |p: &str| {
        get(p, Metric::WallSecs)
            .map(with_ci)
            .unwrap_or_else(|| "—".into())
    };
    let _ = writeln!(
        w,
        "**What a new connection per request costs** (`tls` group: HTTPS over a 50 ms round \
         trip, `{ASYNC}`): reusing connections took {} (wall ÷ ideal {}), a new TCP + TLS \
         connection per request {} (wall ÷ ideal {}) — each request then waits 3 round trips \
         instead of 1. Client CPU per request: {} µs reused, {} µs fresh ({:.1}×); the origin's: \
         {} µs and {} µs. Client and origin share the same two cores.\n",
        wall("reuse"),
        over("reuse"),
        wall("fresh"),
        over("fresh"),
        format::num(cpu_reuse.median),
        format::num(cpu_fresh.median),
        cpu_fresh.median / cpu_reuse.median,
        origin("reuse"),
        origin("fresh"),
    );
    // HTTPS against plain HTTP with reused connections: `latency-list` runs the same N and C in
    // plain text (its delay is the server's rather than the network's; CPU per request does not
    // depend on how long a request waits).
    let plain = view
        .workloads
        .iter()
        .find(|w| w.name == "latency-list")
        .and_then(|w| w.largest())
        .and_then(|p| view.cell("latency-list", p.parameter, ASYNC, Metric::CpuUsPerRequest))
        .filter(|c| c.verified);
    if let Some(plain) = plain {
        let _ = writeln!(
            w,
            "**What TLS costs on reused connections:** `{ASYNC}` spent {} µs of client CPU per \
             HTTPS request against {} µs per plain-HTTP request in `latency-list` (the same N \
             and C): {:+.0} %.\n",
            format::num(cpu_reuse.median),
            format::num(plain.median),
            (cpu_reuse.median / plain.median - 1.0) * 100.0
        );
    }
}

/// Whether `a` and `b` share a rank group of (workload, parameter, metric) — tied within noise
/// — or `None` when that cell was not ranked.
pub(super) fn same_group(
    view: &View<'_>,
    workload: &str,
    parameter: &str,
    metric: Metric,
    a: &str,
    b: &str,
) -> Option<bool> {
    let groups = view.groups(workload, parameter, metric)?;
    Some(
        groups
            .iter()
            .any(|g| g.iter().any(|x| x == a) && g.iter().any(|x| x == b)),
    )
}

/// A cell's median and 95 % interval with its unit: `1.234 s [1.200 s–1.300 s]`, `52.1 µs […]`.
pub(super) fn with_ci(c: &CellStat) -> String {
    let unit = match c.metric {
        Metric::WallSecs => " s",
        Metric::CpuUsPerRequest
        | Metric::CpuUsPerRequestNoExtract
        | Metric::OriginCpuUsPerRequest
        | Metric::OriginTlsCpuUsPerRequest => " µs",
        _ => "",
    };
    format::with_ci(c.median, c.ci95, |v| {
        format!("{}{unit}", format::value(c.metric, v))
    })
}

pub(super) fn missing(backends: &[&str]) -> String {
    let names: Vec<String> = backends.iter().map(|b| format!("`{b}`")).collect();
    format!(
        "**Not decided:** {} did not run or did not verify in this campaign.",
        names.join(" or ")
    )
}

/// The largest parameter of `workload` in this campaign, if it ran.
pub(super) fn largest_parameter(view: &View<'_>, workload: &str) -> Option<String> {
    view.workloads
        .iter()
        .find(|w| w.name == workload)?
        .largest()
        .map(|p| p.parameter.to_owned())
}
