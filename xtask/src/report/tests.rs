//! Tests of the whole collation on fixture campaigns (`crate::testkit`): what `REPORT.md` says
//! (intervals, rank groups, the control, noise, failures, the headline), the charts and the
//! removal of stale ones, the error paths, argument checking, `compare`, and the time a
//! full-size collation takes.

use std::fs;

use crawlbench_stats::Metric;

use super::{collate, compare, parse_report_args, report_command};
use crate::testkit::{Fixture, Outcome, TempDir, write_report};

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
        sweep.contains("Job: list of 1024 URLs, 50 in flight, 50 ms; ideal makespan 0.4000 s.")
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
