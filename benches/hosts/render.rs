//! The `hosts` measurement's markdown: the tables of `hosts.md`, from the summaries in
//! `hosts.json` — apart from the measuring, so the presentation changes without touching how
//! runs are made.

use std::fmt::Write as _;

use serde_json::Value;

use crate::{Args, REFERENCE};

fn med(row: &Value, metric: &str) -> Option<(f64, f64, f64)> {
    let s = &row["stats"][metric];
    Some((
        s["median"].as_f64()?,
        s["ci95"][0].as_f64()?,
        s["ci95"][1].as_f64()?,
    ))
}

fn cell(v: Option<(f64, f64, f64)>, digits: usize) -> String {
    match v {
        Some((m, lo, hi)) => format!("{m:.digits$} [{lo:.digits$}, {hi:.digits$}]"),
        None => "–".to_owned(),
    }
}

fn ratio_cell(row: &Value, metric: &str) -> String {
    let r = &row["ratio_to_reference"][metric];
    match (
        r["median"].as_f64(),
        r["ci95"][0].as_f64(),
        r["ci95"][1].as_f64(),
    ) {
        (Some(m), Some(lo), Some(hi)) => {
            let mark = if lo > 1.0 || hi < 1.0 { "" } else { " (tie)" };
            format!("{m:.2}× [{lo:.2}, {hi:.2}]{mark}")
        }
        _ => "1 (reference)".to_owned(),
    }
}

fn hosts_cell(row: &Value) -> String {
    let by_host = row["worker_cpu_us_per_url_by_host"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let parts: Vec<String> = by_host
        .iter()
        .map(|s| {
            s["median"]
                .as_f64()
                .map_or("–".to_owned(), |m| format!("{m:.0}"))
        })
        .collect();
    if parts.is_empty() {
        "–".to_owned()
    } else {
        parts.join(" / ")
    }
}

/// `hosts.md`: the machine and versions, the workload, the measured table and the ceiling's.
pub(crate) fn markdown(
    note: &str,
    machine: &str,
    args: &Args,
    measured: &Value,
    ceiling: Option<&Value>,
) -> String {
    let s = &args.sizes;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# multiprocess-async vs distributed-redis over worker hosts\n"
    );
    let _ = writeln!(md, "> {note}\n");
    let _ = writeln!(md, "{machine}\n");
    let _ = writeln!(
        md,
        "Workload: a list of {} URLs, {} B pages, {} ms each, {} in flight; rounds: {}, every \
         layout once per round in a shuffled order (seed {}); every run verified. Medians with \
         95 % bootstrap intervals; ratios to `{REFERENCE}` paired within rounds (tie: the \
         interval includes 1). CPU in µs per URL: coordinator = this process; workers = per \
         worker host from `/proc/<pid>/stat` around the run (for `{REFERENCE}`, its 2 local \
         workers); Redis = the server's `INFO`; client = coordinator + workers + Redis.\n",
        s.urls, s.body_bytes, s.delay_ms, s.concurrency, args.rounds, args.seed
    );
    let _ = writeln!(
        md,
        "| layout | wall ÷ ideal | ÷ {REFERENCE} | coordinator CPU | workers CPU (per host) | \
         Redis CPU | Redis ops/URL | client CPU | ÷ {REFERENCE} | origin CPU |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
    for row in measured.as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} |",
            row["layout"].as_str().unwrap_or_default(),
            cell(med(row, "wall_over_ideal"), 2),
            ratio_cell(row, "wall_over_ideal"),
            cell(med(row, "coordinator_cpu_us_per_url"), 0),
            cell(med(row, "workers_cpu_us_per_url"), 0),
            hosts_cell(row),
            cell(med(row, "redis_cpu_us_per_url"), 0),
            cell(med(row, "redis_commands_per_url"), 2),
            cell(med(row, "client_cpu_us_per_url"), 0),
            ratio_cell(row, "client_cpu_us_per_url"),
            cell(med(row, "origin_cpu_us_per_url"), 0),
        );
    }
    if let Some(ceiling) = ceiling {
        let _ = writeln!(
            md,
            "\n## The frontier's own ceiling (null fetch — not verified)\n\n{} URLs, {} in \
             flight, workers on the `null` stack (every URL a fixed 200, no request made): URLs \
             per second through Redis, and where the CPU went.\n",
            s.ceiling_urls, s.ceiling_concurrency
        );
        let _ = writeln!(
            md,
            "| layout | URLs/s | coordinator CPU | workers CPU (per host) | Redis CPU | Redis \
             ops/URL | client CPU |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|---|");
        for row in ceiling.as_array().into_iter().flatten() {
            let _ = writeln!(
                md,
                "| {} (null) | {} | {} | {} ({}) | {} | {} | {} |",
                row["layout"].as_str().unwrap_or_default(),
                cell(med(row, "urls_per_sec"), 0),
                cell(med(row, "coordinator_cpu_us_per_url"), 0),
                cell(med(row, "workers_cpu_us_per_url"), 0),
                hosts_cell(row),
                cell(med(row, "redis_cpu_us_per_url"), 0),
                cell(med(row, "redis_commands_per_url"), 2),
                cell(med(row, "client_cpu_us_per_url"), 0),
            );
        }
    }
    md
}
