//! The report's context sections: the environment the campaign ran in, the method in one
//! paragraph, and the harness's own cost — what a reader needs to judge the numbers, not the
//! numbers themselves.

use std::fmt::Write as _;

use super::{code, escape, line, table};
use crate::report::{format, view::View};

pub(super) fn environment(w: &mut String, view: &View<'_>) {
    let r = view.report;
    let (e, c) = (&r.environment, &r.campaign);
    line(w, "## Environment");
    line(w, "");
    let env_vars = if e.env.is_empty() {
        "none set".to_owned()
    } else {
        e.env
            .iter()
            .map(|(k, v)| code(&format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let rows = [
        (
            "date",
            escape(&format!(
                "{} (campaign {} → {})",
                e.date, c.started, c.finished
            )),
        ),
        ("commit", code(&e.git_commit)),
        (
            "machine",
            escape(&format!(
                "{}, {} logical cores, {:.1} GiB memory, {}",
                e.cpu_model,
                e.cores,
                e.memory_bytes as f64 / f64::from(1u32 << 30),
                e.kernel
            )),
        ),
        ("rustc", escape(&e.rustc)),
        (
            "valgrind",
            escape(
                e.valgrind
                    .as_deref()
                    .unwrap_or("not installed (no instruction counts)"),
            ),
        ),
        ("command line", code(&shell_words(&e.command_line))),
        ("environment variables", env_vars),
        (
            "campaign",
            format!(
                "{} rounds, {} warm-up run(s) per backend and cell, seed {}, reference {}, \
                 A/A control {} as {}, {} s in all",
                c.rounds,
                c.warmup_runs,
                c.seed,
                code(&c.reference),
                code(&c.control.backend),
                code(&c.control.label),
                format::num(c.duration_secs)
            ),
        ),
        (
            "crate versions",
            e.crate_versions
                .iter()
                .map(|(k, v)| code(&format!("{k} {v}")))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ];
    table(
        w,
        &["", ""],
        rows.into_iter().map(|(k, v)| vec![k.to_owned(), v]),
    );
    if !e.notes.is_empty() {
        for note in &e.notes {
            let _ = writeln!(w, "- {}", escape(note));
        }
        line(w, "");
    }
}

/// A command line as a shell would need it typed.
/// Every backend with its stack: runtime, client, TLS library and HTTP version. Two backends on
/// different TLS generations do not measure the same handshake, so a reader sees it beside the
/// numbers.
pub(super) fn backends(w: &mut String, view: &View<'_>) {
    line(w, "## Backends");
    line(w, "");
    let rows: Vec<Vec<String>> = view
        .report
        .backends
        .iter()
        .filter(|b| !b.control)
        .map(|b| {
            vec![
                code(&b.name),
                escape(&b.model),
                escape(&b.runtime),
                escape(&b.client),
                escape(if b.tls.is_empty() {
                    "not recorded"
                } else {
                    &b.tls
                }),
                escape(if b.http.is_empty() {
                    "HTTP/1.1"
                } else {
                    &b.http
                }),
                escape(&b.threads),
                escape(&b.status),
            ]
        })
        .collect();
    super::table(
        w,
        &[
            "backend", "model", "runtime", "client", "TLS", "HTTP", "threads", "upstream",
        ],
        rows,
    );
}

fn shell_words(words: &[String]) -> String {
    let safe = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    };
    words
        .iter()
        .map(|s| {
            if safe(s) {
                s.clone()
            } else {
                format!("'{}'", s.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn method(w: &mut String, view: &View<'_>) {
    let r = view.report;
    let c = &r.campaign;
    line(w, "## Method");
    line(w, "");
    let _ = writeln!(
        w,
        "Every workload cell ran as {rounds} rounds. Each round runs every backend once, in an \
         order shuffled per round (seed {seed}), each run in a fresh process against the same \
         origin state; {warmup} warm-up run(s) per backend and cell came first and were \
         discarded. Each number is the **median over rounds** with its **95 % bootstrap \
         confidence interval** `[lo–hi]`. Ratios compare a backend with the reference {reference} \
         *within each round* (paired: b ÷ reference in the same round, then the median of those \
         ratios with its own interval), so drift of the shared machine that hits a whole round \
         cancels out. Two backends differ only when the interval of their paired ratio excludes \
         1; when it includes 1 they **tie**, and ties share a rank (`1–2: a ≈ b`). Only verified \
         cells are ranked. Client and origin share the machine's {cores} cores; the origin runs \
         in its own process and its CPU is never counted as the client's.\n",
        rounds = c.rounds,
        seed = c.seed,
        warmup = c.warmup_runs,
        reference = code(&c.reference),
        cores = r.environment.cores,
    );
}

pub(super) fn harness(w: &mut String, view: &View<'_>) {
    line(w, "## Harness cost");
    line(w, "");
    let Some(h) = &view.report.harness else {
        line(w, "Not measured in this campaign.");
        line(w, "");
        return;
    };
    line(
        w,
        "The harness's own work — crawl loop, outcome collection, report and verification, \
         measured with a dispatch that answers at once (no IO) — is paid by every backend alike \
         and must stay small beside what the backends cost.",
    );
    line(w, "");
    let verdict = if h.fraction_of_fastest <= 0.05 {
        "within the 5 % goal"
    } else {
        "**above the 5 % goal**"
    };
    let rows = [
        (
            "harness CPU per URL, list job",
            format!("{} µs", format::num(h.list_cpu_us_per_url)),
        ),
        (
            "link extraction",
            format!("{} µs per KiB of HTML", format::num(h.extract_us_per_kib)),
        ),
        (
            "fastest backend's CPU per request (throughput)",
            format!(
                "{}: {} µs",
                code(&h.fastest_backend),
                format::num(h.fastest_cpu_us_per_request)
            ),
        ),
        (
            "harness ÷ fastest backend",
            format!("{} — {verdict}", format::percent(h.fraction_of_fastest)),
        ),
    ];
    table(
        w,
        &["", ""],
        rows.into_iter().map(|(k, v)| vec![k.to_owned(), v]),
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_lines_are_quoted_only_where_needed() {
        let words = ["crawlbench", "campaign", "--out", "a b", "it's"].map(String::from);
        assert_eq!(
            super::shell_words(&words),
            r"crawlbench campaign --out 'a b' 'it'\''s'"
        );
    }
}
