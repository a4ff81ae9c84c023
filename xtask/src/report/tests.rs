//! Tests of the whole collation on fixture campaigns (`crate::testkit`): what `REPORT.md` says
//! (intervals, rank groups, the control, noise, failures, the headline), the charts and the
//! removal of stale ones, the error paths, argument checking, `compare`, and the time a
//! full-size collation takes.

use std::fs;

use crawlbench_stats::{CampaignReport, CellStat, Metric};

use super::{collate, compare, format, parse_report_args, report_command};
use crate::testkit::{Backend, Fixture, Outcome, TempDir, write_report};

/// The line of the table row whose backend cell starts with `` `label` ``.
fn row<'a>(section: &'a str, label: &str) -> &'a str {
    let needle = format!("| `{label}`");
    section
        .lines()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("no row for {label} in:\n{section}"))
}

/// The text from `heading` to the next heading of the same level.
fn section<'a>(report: &'a str, heading: &str) -> &'a str {
    let start = report
        .find(&format!("{heading}\n"))
        .unwrap_or_else(|| panic!("no heading {heading:?} in:\n{report}"));
    let level = heading.split(' ').next().unwrap();
    let rest = &report[start + heading.len()..];
    let end = rest
        .find(&format!("\n{level} "))
        .map_or(report.len(), |e| start + heading.len() + e);
    &report[start..end]
}

/// The index of the column headed `name` in the first table of `section`.
fn column(section: &str, name: &str) -> usize {
    let header = section.lines().find(|l| l.starts_with("| rank")).unwrap();
    header
        .split(" | ")
        .position(|c| c.trim_matches(['|', ' ']) == name)
        .unwrap_or_else(|| panic!("no column {name:?} in {header}"))
}

#[test]
fn report_shows_intervals_rank_groups_control_noise_failures_and_the_headline() {
    let dir = TempDir::new("collate");
    let report = Fixture::small().write(dir.path());
    let collated = collate(dir.path(), "cargo xtask report --run").unwrap();
    let md = fs::read_to_string(&collated.report_md).unwrap();

    assert!(
        md.starts_with("# crawlbench campaign — quick profile\n"),
        "{md}"
    );
    assert!(md.contains("**⚠ quick profile — not for publication.**"));
    // Warnings near the top, before the environment.
    let warn = md.find("fixture warning: nothing is real").unwrap();
    assert!(warn < md.find("## Environment").unwrap());

    let env = section(&md, "## Environment");
    assert!(env.contains("`0123456789abcdef0123456789abcdef01234567`"));
    assert!(env.contains("AMD EPYC, 2 logical cores, 24.0 GiB memory, Linux 6.18.44"));
    assert!(
        env.contains("`crawlbench campaign --profile quick --out 'dir with space'`"),
        "{env}"
    );
    assert!(env.contains("`CRAWLBENCH_ORDER_SEED=7`"));
    assert!(env.contains("valgrind-3.24.0") && env.contains("`tokio 1.54.1`"));

    let method = section(&md, "## Method");
    assert!(method.contains("8 rounds") && method.contains("seed 7"));
    assert!(method.contains("95 % bootstrap") && method.contains("*within each round*"));
    assert!(method.contains("share the machine's 2 cores"));

    let noise = section(&md, "## Machine noise");
    assert!(
        noise.contains("| `cpu-loop` |") && noise.contains("| 0.400 % |"),
        "{noise}"
    );
    assert!(noise.contains("The smallest difference this report calls significant is"));

    let control = section(&md, "## A/A control");
    let missed = report.controls.iter().filter(|c| !c.tied).count();
    let n = report.controls.len();
    assert!(n > 0);
    if missed == 0 {
        assert!(
            control.contains(&format!("**The control tied in all {n} checks.**")),
            "{control}"
        );
    } else {
        assert!(
            control.contains(&format!("did not tie in {missed} of {n} checks")),
            "{control}"
        );
    }
    assert!(
        control.contains("| workload | parameter | wall s | wall ÷ ideal |"),
        "{control}"
    );
    assert!(
        control.contains("| latency-list | 400 | ×1.000 [1.000–1.000] |"),
        "{control}"
    );

    let headline = section(&md, "## Headline");
    assert!(
        headline.contains("latency-list (N = 400): wall ÷ ideal"),
        "{headline}"
    );
    assert!(headline.contains("concurrency-sweep (C = 1024): peak RSS MiB"));
    assert!(headline.contains("instructions/req (sys CPU µs/req)¹"));
    let slow = row(headline, "c-slow");
    assert!(slow.contains("**#5** 1.4"), "{slow}");
    assert!(
        slow.contains(" [1.") && slow.contains("–1."),
        "interval in {slow}"
    );
    assert!(row(headline, "d-wrong").contains("*unverified*"));
    assert!(row(headline, "f-refuses").contains("| failed |"));
    assert!(row(headline, "a-ref (A/A)").contains("(A/A control)"));
    assert!(row(headline, "e-multi").contains(" †"), "{headline}");
    assert!(headline.contains("**sum of per-process peaks**"));
    assert!(headline.contains("serialises threads") && headline.contains("**not speed**"));

    let sweep = section(&md, "### C = 1024");
    assert!(
        sweep.contains("Job: list of 1024 URLs, 50 in flight, rtt 50ms; ideal makespan 0.4000 s.")
    );
    let groups = sweep
        .lines()
        .find(|l| l.starts_with("- **wall s**: "))
        .unwrap_or_else(|| panic!("{sweep}"));
    assert!(groups.starts_with("- **wall s**: 1–3: `"), "{groups}");
    for tied in ["`a-ref`", "`a-ref (A/A)`", "`b-tie`"] {
        assert!(
            groups.split(" · ").next().unwrap().contains(tied),
            "{groups}"
        );
    }
    assert!(
        groups.ends_with(" · 4: `e-multi` · 5: `c-slow`"),
        "{groups}"
    );
    assert!(
        !groups.contains("d-wrong"),
        "unverified cells are never ranked: {groups}"
    );
    let a_ref = row(sweep, "a-ref");
    assert!(a_ref.contains("<br>reference"), "{a_ref}");
    let slow = row(sweep, "c-slow");
    assert!(slow.starts_with("| 5 | `c-slow` |"), "{slow}");
    assert!(
        slow.contains("<br>**×1.3"),
        "a significant ratio is bold: {slow}"
    );
    assert!(row(sweep, "e-multi").contains("`e-multi` †"));
    assert!(row(sweep, "d-wrong").starts_with("| *unverified* |"));
    assert!(sweep.contains(
        "- `d-wrong` did not verify, so it is shown but not ranked: 3 of 8 runs failed verification"
    ));
    assert!(
        sweep.contains("- `f-refuses` could not run: concurrency 1024 is above its limit of 512")
    );
    assert!(
        !sweep.contains("| `f-refuses`"),
        "a failed cell has no row of numbers"
    );
    // Peak RSS in MiB (the fixture's 30 MiB, times the round drift).
    let rss = column(sweep, "peak RSS MiB");
    let rss_cell = a_ref.split(" | ").nth(rss).unwrap();
    let mib: f64 = rss_cell.split(' ').next().unwrap().parse().unwrap();
    assert!((24.0..36.0).contains(&mib), "{rss_cell}");

    let harness = section(&md, "## Harness cost");
    assert!(
        harness.contains("| harness ÷ fastest backend | 3.00 % — within the 5 % goal |"),
        "{harness}"
    );
}

#[test]
fn charts_are_written_listed_and_stale_ones_removed() {
    let dir = TempDir::new("charts");
    let d = dir.path();
    // What the criterion-based report left behind: its results.json and a chart it listed.
    fs::write(d.join("old-throughput.svg"), "<svg/>").unwrap();
    fs::write(
        d.join("results.json"),
        r#"{"schema":1,"metrics_schema":1,"charts":[{"workload":"t","file":"old-throughput.svg","title":"t"}]}"#,
    )
    .unwrap();
    fs::write(d.join("mine.svg"), "<svg/>").unwrap();
    Fixture::small().write(d);
    let first = collate(d, "cmd").unwrap();
    let files: Vec<&str> = first.charts.iter().map(|c| c.file.as_str()).collect();
    assert_eq!(
        files,
        [
            "latency-list.svg",
            "concurrency-sweep.svg",
            "concurrency-sweep-wall-over-ideal.svg",
            "concurrency-sweep-rss.svg",
            "concurrency-sweep-rss-per-request.svg"
        ]
    );
    assert_eq!(first.removed, ["old-throughput.svg"]);
    assert!(!d.join("results.json").exists() && !d.join("old-throughput.svg").exists());
    let listed = fs::read_to_string(d.join("charts.json")).unwrap();
    assert!(listed.contains("\"concurrency-sweep-rss.svg\""), "{listed}");

    let bars = fs::read_to_string(d.join("concurrency-sweep.svg")).unwrap();
    assert!(bars.starts_with("<svg"), "{}", &bars[..60]);
    assert!(bars.contains("concurrency-sweep: wall ÷ ideal at C = 1024 (quick profile)"));
    assert!(bars.contains("95 % interval"));
    assert!(
        bars.contains("1–3. ") && bars.contains("5. c-slow"),
        "rank labels"
    );
    assert!(bars.contains("d-wrong (unverified)") && bars.contains("f-refuses (failed)"));
    assert!(bars.contains("failed: concurrency 1024 is above its limit of 512"));
    assert!(
        bars.contains(r##"fill="#FFFFFF""##),
        "opaque white background"
    );
    let rss = fs::read_to_string(d.join("concurrency-sweep-rss.svg")).unwrap();
    assert!(rss.contains("concurrency-sweep: peak RSS MiB vs C (quick profile)"));
    assert!(
        rss.contains("f-refuses (failed at C = 16, 1024)"),
        "legend names failures"
    );
    assert!(rss.contains("d-wrong (unverified at C = 16, 1024)"));
    let md = fs::read_to_string(&first.report_md).unwrap();
    assert!(md.contains(
        "![concurrency-sweep: peak RSS MiB vs C (quick profile)](concurrency-sweep-rss.svg)"
    ));

    // A campaign without the sweep: its charts go, everything else stays.
    let mut fixture = Fixture::small();
    fixture.workloads.retain(|(w, _)| w == "latency-list");
    fixture.write(d);
    let second = collate(d, "cmd").unwrap();
    assert_eq!(second.charts.len(), 1);
    let mut removed = second.removed.clone();
    removed.sort();
    assert_eq!(
        removed,
        [
            "concurrency-sweep-rss-per-request.svg",
            "concurrency-sweep-rss.svg",
            "concurrency-sweep-wall-over-ideal.svg",
            "concurrency-sweep.svg"
        ]
    );
    assert!(d.join("latency-list.svg").is_file());
    assert!(
        d.join("mine.svg").is_file(),
        "a chart the report never wrote is left alone"
    );
    assert!(!d.join("concurrency-sweep.svg").exists());
}

#[test]
fn a_missing_or_corrupt_report_names_the_file_and_the_command() {
    let dir = TempDir::new("missing");
    let path = dir.path().join("report.json");
    let err = format!(
        "{:#}",
        collate(dir.path(), "cargo xtask report --run").unwrap_err()
    );
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.contains("`cargo xtask report --run` produces it"),
        "{err}"
    );

    // Through the command: --out DIR names the command that writes DIR/report.json.
    let out = dir.path().display().to_string();
    let err = format!(
        "{:#}",
        report_command(dir.path(), &["--out".into(), out.clone()]).unwrap_err()
    );
    assert!(
        err.contains(&format!(
            "`cargo xtask report --run --out {out}` produces it"
        )),
        "{err}"
    );

    fs::write(&path, "{ not json").unwrap();
    let err = format!(
        "{:#}",
        collate(dir.path(), "cargo xtask report --run").unwrap_err()
    );
    assert!(
        err.contains(&path.display().to_string()) && err.contains("is not JSON"),
        "{err}"
    );
    assert!(
        err.contains("`cargo xtask report --run` writes a fresh one"),
        "{err}"
    );

    fs::write(&path, r#"{"schema": 999}"#).unwrap();
    let err = format!("{:#}", collate(dir.path(), "x").unwrap_err());
    assert!(err.contains("report schema Some(999)"), "{err}");

    fs::write(&path, r#"{"schema": 1, "profile": "quick"}"#).unwrap();
    let err = format!("{:#}", collate(dir.path(), "x").unwrap_err());
    assert!(err.contains("is malformed"), "{err}");
}

#[test]
fn report_arguments_are_checked_and_errors_say_what_is_accepted() {
    let parse = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        parse_report_args(&args).map_err(|e| format!("{e:#}"))
    };
    let ok = parse(&[
        "--run",
        "--profile",
        "full",
        "--seed",
        "7",
        "--rounds",
        "15",
    ])
    .unwrap();
    assert_eq!(ok.profile, crate::args::Profile::Full);
    assert_eq!(parse(&[]).unwrap().profile, crate::args::Profile::Quick);
    assert!(parse(&["--publish"]).unwrap().opts.publish);
    let err = parse(&["--run", "--profile", "slow"]).unwrap_err();
    assert!(
        err.contains("unknown profile \"slow\" (accepted: quick, full)"),
        "{err}"
    );
    let err = parse(&["--seed", "3"]).unwrap_err();
    assert!(err.contains("need --run"), "{err}");
    let err = parse(&["--run", "--out", "x", "--publish"]).unwrap_err();
    assert!(err.contains("give one of them"), "{err}");
    let err = parse(&["--bogus"]).unwrap_err();
    assert!(
        err.contains(
            "accepted: --run, --profile quick|full, --seed N, --rounds R, --out DIR, --publish"
        ),
        "{err}"
    );
}

#[test]
fn compare_shows_changes_and_verification_changes() {
    // Little drift between rounds, so the unpaired intervals of two campaigns can be apart.
    let mut old = Fixture::small();
    old.drift = 0.02;
    let mut new = old.clone();
    new.seed = 8;
    for b in &mut new.backends {
        match b.label.as_str() {
            "c-slow" => b.factor = 1.6,
            "d-wrong" => b.outcome = Outcome::Verified,
            _ => {}
        }
    }
    let (old, new) = (old.build(), new.build());
    let rows = compare::rows(&old, &new);
    let slow = rows
        .iter()
        .find(|r| r.backend == "c-slow" && r.parameter == "400")
        .unwrap();
    assert!(slow.values[0][2].starts_with("+2"), "{slow:?}"); // 1.6 / 1.3 ≈ +23 %
    assert!(
        slow.values[0][2].ends_with('*'),
        "intervals apart: {slow:?}"
    );
    let text = compare::render("old.json", "new.json", &old, &new);
    assert!(text.contains("NO → yes (changed)"), "{text}");
    assert!(
        text.contains("old: old.json (quick profile, 8 rounds, commit 0123"),
        "{text}"
    );
    let refuses = text
        .lines()
        .find(|l| l.starts_with("latency-list ") && l.contains(" f-refuses "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        refuses.contains(" 400 ") && refuses.ends_with(" failed"),
        "{refuses}"
    );
}

#[test]
fn collating_a_full_size_campaign_is_fast() {
    let dir = TempDir::new("speed");
    let report = Fixture::realistic().build();
    assert_eq!(report.backends.len(), 10);
    assert_eq!(report.cells.len(), 10 * 12 * Metric::ALL.len());
    assert!(report.cells.iter().all(|c| c.values.len() == 15));
    write_report(dir.path(), &report);
    let started = std::time::Instant::now();
    let collated = collate(dir.path(), "cmd").unwrap();
    let elapsed = started.elapsed();
    eprintln!("collation of 10 backends × 12 cells × 12 metrics × 15 rounds: {elapsed:?}");
    assert_eq!(
        collated.charts.len(),
        6 + 4,
        "a bar chart per workload, four line charts"
    );
    let md = fs::read_to_string(&collated.report_md).unwrap();
    assert!(md.contains("## seed-replica") && md.contains("### C = 10000"));
    assert!(md.contains("throughput (N = 20000): URLs/s (N ÷ wall)"));
    // The issue's budget is 1 s from existing data; generous here for a debug build on a busy
    // machine.
    assert!(elapsed.as_secs_f64() < 5.0, "collation took {elapsed:?}");
}

/// `report --run` with a stand-in campaign binary: a completed `--publish` campaign reaches the
/// output directory; an interrupted one does not (exit 130, its partial report collated where
/// it ran); a refused one is an error; and reproduction (`crate::reproduce`) runs through the
/// same binary. One test, so no other test forks while a script is written.
#[cfg(unix)]
#[test]
fn run_and_publish_with_a_stand_in_campaign() {
    use super::{Dirs, run_and_collate};
    use crate::{Exit, testkit::fake_campaign};

    let tmp = TempDir::new("run");
    let t = tmp.path();
    let binary = fake_campaign(t);
    write_report_as(t, "report-.json", &Fixture::small().build());
    let args = |a: &[&str]| {
        parse_report_args(&a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    };
    let dirs = || Dirs {
        out: t.join("results"),
        run: t.join("staging"),
        produce: "cargo xtask report --run --publish".into(),
    };

    fs::write(t.join("code"), "130").unwrap();
    let err = run_and_collate(&binary, &args(&["--run", "--publish"]), &dirs()).unwrap_err();
    assert_eq!(
        err.downcast_ref::<Exit>().map(|e| e.code),
        Some(130),
        "{err:#}"
    );
    assert!(
        format!("{err:#}").contains("nothing was published"),
        "{err:#}"
    );
    assert!(!t.join("results/report.json").exists());
    assert!(
        t.join("staging/REPORT.md").is_file(),
        "the partial report is collated"
    );

    fs::write(t.join("code"), "2").unwrap();
    let err = run_and_collate(&binary, &args(&["--run", "--publish"]), &dirs()).unwrap_err();
    assert!(
        format!("{err:#}").contains("refused its arguments (exit 2"),
        "{err:#}"
    );
    assert!(
        !t.join("staging/report.json").exists(),
        "an older report is never left behind"
    );

    fs::write(t.join("code"), "0").unwrap();
    run_and_collate(&binary, &args(&["--run", "--publish"]), &dirs()).unwrap();
    assert!(t.join("results/report.json").is_file() && t.join("results/REPORT.md").is_file());

    crate::reproduce::tests::run_twice_with(t, &binary);
}

/// Writes `report` as `dir/name`.
pub(crate) fn write_report_as(
    dir: &std::path::Path,
    name: &str,
    report: &crawlbench_stats::CampaignReport,
) {
    fs::write(dir.join(name), serde_json::to_string(report).unwrap()).unwrap();
}

#[test]
fn an_unverified_cell_a_report_ranks_is_left_out_and_flagged() {
    let dir = TempDir::new("ranked-unverified");
    let mut report = Fixture::small().build();
    let ranking = report
        .rankings
        .iter_mut()
        .find(|r| r.workload == "latency-list" && r.metric == crawlbench_stats::Metric::WallSecs)
        .unwrap();
    ranking.groups.insert(0, vec!["d-wrong".into()]);
    write_report(dir.path(), &report);
    let md = fs::read_to_string(collate(dir.path(), "x").unwrap().report_md).unwrap();
    let warnings = section(&md, "## Warnings");
    assert!(
        warnings.contains(
            "report.json ranks d-wrong in latency-list 400 wall_secs, which did not verify"
        ),
        "{warnings}"
    );
    let groups = md
        .lines()
        .find(|l| l.starts_with("- **wall s**: "))
        .unwrap();
    assert!(
        groups.starts_with("- **wall s**: 1–3: `a-ref`") && !groups.contains("d-wrong"),
        "{groups}"
    );
}

/// The heading of the section that redraws the original experiment.
const REDRAWN: &str = "## The original experiment, redrawn";

/// The cell of (workload, parameter, backend, metric) in `report`.
fn stat<'r>(report: &'r CampaignReport, w: &str, p: &str, b: &str, m: Metric) -> &'r CellStat {
    report
        .cells
        .iter()
        .find(|c| c.workload == w && c.parameter == p && c.backend == b && c.metric == m)
        .unwrap_or_else(|| panic!("no cell {w} {p} {b} {m:?}"))
}

/// The numbered verdict `n` (1 to 4) of the redrawn section.
fn verdict(section: &str, n: usize) -> &str {
    let start = format!("{n}. *");
    section
        .lines()
        .find(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("no verdict {n} in:\n{section}"))
}

/// `report` written into a fresh directory, collated: (the directory, `REPORT.md`).
fn collated(tag: &str, report: &CampaignReport) -> (TempDir, String) {
    let dir = TempDir::new(tag);
    write_report(dir.path(), report);
    let md = fs::read_to_string(collate(dir.path(), "x").unwrap().report_md).unwrap();
    (dir, md)
}

#[test]
fn the_original_experiment_redrawn_shows_its_chart_table_and_verdicts_that_hold() {
    let report = Fixture::seed_stacks().build();
    let (dir, md) = collated("redrawn-holds", &report);
    let s = section(&md, REDRAWN);
    assert!(
        md.find(REDRAWN).unwrap() > md.find("## Headline").unwrap()
            && md.find(REDRAWN).unwrap() < md.find("## seed-curve").unwrap(),
        "after the headline and the verdicts, before the workload sections"
    );
    assert!(
        s.contains("(here N = 6, 60 and 114)") && s.contains("over a 50 ms round trip, 8 rounds"),
        "{s}"
    );
    assert!(s.contains("pools of 3") && s.contains("share the machine's 2 cores"));
    assert!(
        s.contains("![seed-curve: wall s vs N (quick profile)](seed-curve-wall.svg)"),
        "{s}"
    );
    let chart = fs::read_to_string(dir.path().join("seed-curve-wall.svg")).unwrap();
    assert!(chart.contains("URLs in the list (N = 6·i)") && chart.contains("py-aiohttp-gather"));

    // The table: Python rows first, then the Rust counterparts; no A/A control, no backend that
    // did not enter the workload.
    assert!(
        s.contains("| stack | model | N = 6: wall s | N = 60: wall s | N = 114: wall s |"),
        "{s}"
    );
    let order: Vec<&str> = s
        .lines()
        .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
        .collect();
    assert_eq!(
        order,
        [
            "py-requests-threads",
            "py-requests-processes",
            "py-asyncio-threads",
            "py-asyncio-processes",
            "py-aiohttp",
            "py-aiohttp-gather",
            "py-aiomultiprocess",
            "tokio-reqwest",
            "threadpool-ureq",
            "tokio-blocking-ureq",
            "multiprocess-async"
        ]
    );
    let threads = stat(
        &report,
        "seed-curve",
        "114",
        "py-requests-threads",
        Metric::WallSecs,
    );
    let shown = format::with_ci(threads.median, threads.ci95, |v| {
        format::value(Metric::WallSecs, v)
    });
    assert!(
        row(s, "py-requests-threads").ends_with(&format!("| {shown} ✓ |")),
        "{s}"
    );

    let a = verdict(s, 1);
    assert!(
        a.starts_with(
            "1. *Pool size 3 against unbounded async* (N = 114; expected: the pool is slower): \
             **Holds here:** `py-requests-threads` (a pool of 3) took "
        ),
        "{a}"
    );
    assert!(
        a.contains("16.7× the wall time, in different rank groups.") // 20 ÷ 1.2
            && a.contains("⌈114 ÷ 3⌉ = 38 waves"),
        "{a}"
    );
    let b = verdict(s, 2);
    assert!(
        b.contains(
            "(`throughput`, N = 20000; target: the best Rust backend's CPU per request at most \
             1/10 of `py-aiohttp`'s): **Met:** the best Rust backend, `threadpool-ureq`, spent "
        ),
        "{b}"
    );
    // 0.8 ÷ 12; py-aiohttp 12 × tokio-reqwest and 15 × threadpool-ureq; requests 16 × and 20 ×.
    assert!(
        b.contains("×0.067 [0.067–0.067] `py-aiohttp`'s — at most 0.10 across its 95 % interval"),
        "{b}"
    );
    assert!(
        b.contains(", ×12.0 [12.0–12.0] and ×15.0 [15.0–15.0]; `py-aiomultiprocess` ")
            && b.contains(", ×14.0 [14.0–14.0] and ×17.5 [17.5–17.5]."),
        "{b}"
    );
    let c = verdict(s, 3);
    let wall = |b: &str| stat(&report, "seed-curve", "6", b, Metric::WallSecs).median;
    let start_up = wall("py-requests-processes") - wall("py-requests-threads");
    assert!(
        c.contains(&format!(
            "`py-requests-processes` against `py-requests-threads`: **+{} s** (in different \
             rank groups)",
            format::secs(start_up)
        )),
        "{c}"
    );
    assert!(
        c.contains("`py-aiomultiprocess` against `py-aiohttp`: **+") && !c.contains("more wave"),
        "{c}"
    );
    let d = verdict(s, 4);
    assert!(
        d.contains("at most 1.10): **Met:** `ext-tokio-st-reqwest`")
            && d.contains(": ×1.050 [1.050–1.050] — at most 1.10 across its 95 % interval."),
        "{d}"
    );
    assert!(!s.contains("Not decided"), "{s}");

    // The headline divides throughput's CPU per request by py-aiohttp's.
    let headline = section(&md, "## Headline");
    assert!(
        headline.lines().next().is_some()
            && headline.contains("| throughput CPU/req ÷ py-aiohttp |"),
        "{headline}"
    );
    assert!(row(headline, "py-aiohttp").ends_with("| 1.000 |"));
    assert!(row(headline, "tokio-reqwest").ends_with("| 0.083 |")); // 1 ÷ 12
    assert!(row(headline, "threadpool-ureq").ends_with("| 0.067 |"));
    assert!(headline.contains("divided by `py-aiohttp`'s"));
}

/// Puts `a` into `b`'s rank group of `seed-curve`'s wall time at `n`, as an interval that
/// includes 1 would.
fn tie(report: &mut CampaignReport, n: &str, a: &str, b: &str) {
    let ranking = report
        .rankings
        .iter_mut()
        .find(|r| r.workload == "seed-curve" && r.parameter == n && r.metric == Metric::WallSecs)
        .unwrap();
    for group in &mut ranking.groups {
        group.retain(|x| x != a);
    }
    ranking.groups.retain(|g| !g.is_empty());
    let with_b = ranking.groups.iter_mut().find(|g| g.iter().any(|x| x == b));
    with_b.unwrap().push(a.into());
}

#[test]
fn the_original_experiment_redrawn_says_when_a_verdict_does_not_hold() {
    let mut f = Fixture::seed_stacks();
    // The pool of threads 4 % slower than the gather but tied with it (below), the process
    // pool as fast as the threads, aiohttp's CPU only 5 × Rust's, the protocol 30 %.
    f.backend("py-requests-threads")
        .set_factor_in("seed-curve", 1.25);
    f.backend("py-requests-processes")
        .set_factor_in("seed-curve", 1.2);
    f.backend("py-aiohttp").set_factor_in("throughput", 5.0);
    f.backend("ext-tokio-st-reqwest").factor = 0.9 * 1.3;
    // One more Python stack, in seed-curve only; parameters listed out of numeric order.
    f.backends
        .push(Backend::new("py-extra", 1.25).only_in(&["seed-curve"]));
    f.workloads[0].1.reverse();
    let mut report = f.build();
    tie(
        &mut report,
        "114",
        "py-requests-threads",
        "py-aiohttp-gather",
    );
    tie(
        &mut report,
        "6",
        "py-requests-processes",
        "py-requests-threads",
    );
    let (_dir, md) = collated("redrawn-fails", &report);
    let s = section(&md, REDRAWN);
    assert!(
        s.contains("(here N = 6, 60 and 114)")
            && s.contains("| stack | model | N = 6: wall s | N = 60: wall s | N = 114: wall s |"),
        "{s}"
    );
    assert!(
        s.find("| `py-extra`").unwrap() > s.find("| `py-aiomultiprocess`").unwrap()
            && s.find("| `py-extra`").unwrap() < s.find("| `tokio-reqwest`").unwrap(),
        "an unlisted Python stack joins the Python rows: {s}"
    );
    let a = verdict(s, 1);
    assert!(
        a.contains("**Does not hold here:** `py-requests-threads`")
            && a.contains("1.042× the wall time, within noise — they share a rank group."),
        "{a}"
    );
    let b = verdict(s, 2);
    assert!(
        b.contains("**Not met:** the best Rust backend, `threadpool-ureq`")
            && b.contains(
                "×0.160 [0.160–0.160] `py-aiohttp`'s — above 0.10 across its 95 % interval"
            ),
        "{b}"
    );
    let c = verdict(s, 3);
    assert!(
        c.contains(
            "`py-requests-processes` against `py-requests-threads`: no difference within noise \
             (they share a rank group)"
        ),
        "{c}"
    );
    let d = verdict(s, 4);
    assert!(
        d.contains("**Not met:** `ext-tokio-st-reqwest`")
            && d.contains("×1.300 [1.300–1.300] — above 1.10 across its 95 % interval."),
        "{d}"
    );
    let headline = section(&md, "## Headline");
    assert!(
        row(headline, "py-extra").ends_with("| — |"),
        "no throughput cell: {headline}"
    );

    // An interval that straddles the ceiling decides nothing.
    let ext = report
        .cells
        .iter_mut()
        .find(|c| {
            c.backend == "ext-tokio-st-reqwest"
                && c.workload == "throughput"
                && c.metric == Metric::CpuUsPerRequest
        })
        .unwrap();
    let ratio = ext.ratio_to_reference.as_mut().unwrap();
    // ÷ tokio-st-reqwest's 0.9: ×1.050 [1.050–1.111], a median below the ceiling and an
    // interval above it.
    (ratio.median, ratio.ci95.lo, ratio.ci95.hi) = (0.945, 0.945, 1.0);
    let (_dir, md) = collated("redrawn-noise", &report);
    let d = verdict(section(&md, REDRAWN), 4);
    assert!(
        d.contains("**Within noise of the target:** `ext-tokio-st-reqwest`")
            && d.contains(": ×1.050 [1.050–1.111] — its 95 % interval")
            && d.contains(
                "its 95 % interval includes 1.10, so neither met nor missed can be claimed"
            ),
        "{d}"
    );
}

#[test]
fn the_original_experiment_redrawn_is_not_decided_without_its_cells() {
    let mut f = Fixture::seed_stacks();
    f.backends.retain(|b| b.label != "py-aiohttp-gather");
    f.backend("py-aiohttp").outcome =
        Outcome::Unverified("2 of 8 runs failed verification: /get?a=3 echoed 4".into());
    f.backend("py-asyncio-processes").outcome =
        Outcome::Failed("the process pool could not start: too many open files".into());
    f.backend("ext-tokio-st-reqwest").outcome = Outcome::Failed("no hello line within 10 s".into());
    let mut report = f.build();
    report.warnings.push(
        "py-aiohttp-gather did not run: it is unavailable on this machine (aiohttp is not \
         installed)"
            .into(),
    );
    let (_dir, md) = collated("redrawn-missing", &report);
    let s = section(&md, REDRAWN);
    assert_eq!(
        verdict(s, 1),
        "1. *Pool size 3 against unbounded async* (N = 114; expected: the pool is slower): \
         **Not decided:** `py-requests-threads` or `py-aiohttp-gather` did not run or did not \
         verify in this campaign."
    );
    assert!(
        verdict(s, 2).ends_with(
            "**Not decided:** `py-aiohttp` or `tokio-reqwest` did not run or did not verify in \
             this campaign."
        ),
        "{s}"
    );
    let c = verdict(s, 3);
    assert!(
        c.contains("`py-requests-processes` against `py-requests-threads`: **+")
            && c.ends_with(
                "**Not decided:** `py-aiomultiprocess` or `py-aiohttp` did not run or did not \
                 verify in this campaign."
            ),
        "{c}"
    );
    assert!(
        verdict(s, 4).ends_with(
            "**Not decided:** `ext-tokio-st-reqwest` or `tokio-st-reqwest` did not run or did \
             not verify in this campaign."
        ),
        "{s}"
    );
    let gather = row(s, "py-aiohttp-gather");
    assert_eq!(
        gather
            .matches("| did not run: it is unavailable on this machine (aiohttp is not installed)")
            .count(),
        3,
        "{gather}"
    );
    assert!(
        row(s, "py-aiohttp")
            .contains(" *unverified*: 2 of 8 runs failed verification: /get?a=3 echoed 4 |"),
        "{s}"
    );
    assert!(
        row(s, "py-asyncio-processes")
            .ends_with("| failed: the process pool could not start: too many open files |"),
        "{s}"
    );
    let headline = section(&md, "## Headline");
    assert!(
        !headline.contains("÷ py-aiohttp"),
        "py-aiohttp's throughput cell did not verify: {headline}"
    );
}

#[test]
fn a_campaign_without_seed_curve_has_no_redrawn_section() {
    let (_dir, md) = collated("no-seed-curve", &Fixture::small().build());
    assert!(!md.contains("The original experiment, redrawn"), "{md}");
    assert!(!md.contains("÷ py-aiohttp"));

    // Throughput alone: the headline's py-aiohttp column, still no section.
    let mut f = Fixture::seed_stacks();
    f.workloads.retain(|(w, _)| w == "throughput");
    let (_dir, md) = collated("throughput-only", &f.build());
    assert!(!md.contains("The original experiment, redrawn"), "{md}");
    assert!(md.contains("| throughput CPU/req ÷ py-aiohttp |"));
}
