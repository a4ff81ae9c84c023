//! Tests of the reproduction check on fixture campaigns: a planted inversion fails it (exit
//! status 1) and is listed with both ratios; two campaigns of the same backends agree; and
//! instruction counts that moved by more than 1 % fail it.

use super::check;
use crate::testkit::{Backend, Fixture};

/// Three verified backends on one cell and two metrics; `b`'s speed relative to `a` is the knob.
fn campaign(seed: u64, b_factor: f64) -> crawlbench_stats::CampaignReport {
    let mut f = Fixture::small();
    f.seed = seed;
    f.rounds = 10;
    f.backends = vec![
        Backend::new("a", 1.0),
        Backend::new("b", b_factor),
        Backend::new("c", 2.0),
    ];
    f.workloads.truncate(1);
    f.metrics = vec![
        crawlbench_stats::Metric::WallSecs,
        crawlbench_stats::Metric::CpuUsPerRequest,
    ];
    f.build()
}

#[test]
fn a_planted_inversion_fails_the_check_and_is_listed() {
    let first = campaign(1, 1.2);
    let mut second = campaign(2, 0.8);
    // The instruction counts are the run-independent figure: keep them equal.
    second.instructions = first.instructions.clone();
    let checked = check(&first, &second);
    assert!(!checked.reproduction.agree);
    assert_eq!(checked.exit_code(), 1);
    let inv = &checked.reproduction.inversions;
    assert_eq!(inv.len(), 2, "wall and CPU both inverted: {inv:?}");
    assert!(
        inv.iter()
            .all(|i| (i.a.as_str(), i.b.as_str()) == ("a", "b"))
    );
    assert!(
        checked.reasons[0].starts_with("inversion: latency-list 400 wall s: b ÷ a is ×1.2"),
        "{:?}",
        checked.reasons
    );
    let md = &checked.markdown;
    assert!(md.contains("**The two campaigns do not agree:**"), "{md}");
    let inversions = &md[md.find("## Inversions").unwrap()..md.find("## A/A control").unwrap()];
    assert!(
        inversions.contains("| latency-list | 400 | wall s | `a` | `b` | ×1.2"),
        "{inversions}"
    );
    assert!(inversions.contains("| ×0.8"), "{inversions}");
    // The agreement table counts it.
    assert!(
        md.contains("| latency-list | 400 | wall s | 3 | 2 | 0 | 0 | **1** |"),
        "{md}"
    );
    assert!(
        md.contains("| **all** |  |  | **6** | **4** | **0** | **0** | **2** |"),
        "{md}"
    );
}

#[test]
fn two_campaigns_of_the_same_backends_agree() {
    let first = campaign(1, 1.2);
    let second = campaign(2, 1.2);
    let checked = check(&first, &second);
    assert!(checked.reproduction.agree, "{}", checked.markdown);
    assert_eq!(checked.exit_code(), 0);
    assert!(checked.reasons.is_empty());
    assert!(checked.markdown.contains("**The two campaigns agree**"));
    assert!(checked.markdown.contains("## Inversions\n\nNone."));
    assert!(
        checked
            .markdown
            .contains("| `b` | 300 k | 300 k | 0 % | yes |"),
        "{}",
        checked.markdown
    );
}

#[test]
fn instruction_counts_that_moved_fail_the_check() {
    let first = campaign(1, 1.2);
    let mut second = campaign(2, 1.2);
    second.instructions[2].per_request *= 1.02;
    let checked = check(&first, &second);
    assert_eq!(checked.exit_code(), 1);
    assert_eq!(
        checked.reasons,
        ["the instruction counts of c differ by 2.00 % (allowed: 1.00 %)"]
    );
    assert!(
        checked
            .markdown
            .contains("| `c` | 500 k | 510 k | 2.00 % | **NO** |"),
        "{}",
        checked.markdown
    );
}

/// `reproduce` through a stand-in campaign binary (called from the report tests' process test,
/// so that no two tests fork at once): a planted inversion exits 1 and publishes nothing; two
/// agreeing campaigns publish the first with the verdict beside it.
#[cfg(unix)]
pub(crate) fn run_twice_with(t: &std::path::Path, binary: &std::path::Path) {
    use std::fs;

    use super::{DEFAULT_SEED, run_twice};
    use crate::{Exit, args::Options, report::tests::write_report_as};

    fs::write(t.join("code"), "0").unwrap();
    let first = campaign(1, 1.2);
    let mut second = campaign(2, 0.8);
    second.instructions = first.instructions.clone();
    write_report_as(t, &format!("report-{DEFAULT_SEED}.json"), &first);
    write_report_as(t, &format!("report-{}.json", DEFAULT_SEED + 1), &second);
    let opts = Options {
        publish: true,
        ..Options::default()
    };
    let (base, results) = (t.join("reproduce"), t.join("published"));
    let err = run_twice(binary, &opts, &base, &results).unwrap_err();
    assert_eq!(
        err.downcast_ref::<Exit>().map(|e| e.code),
        Some(1),
        "{err:#}"
    );
    assert!(
        format!("{err:#}").contains("inversion: latency-list 400 wall s: b ÷ a"),
        "{err:#}"
    );
    assert!(base.join("reproduce.json").is_file() && base.join("REPRODUCE.md").is_file());
    assert!(base.join("first/REPORT.md").is_file() && base.join("second/REPORT.md").is_file());
    assert!(!results.exists(), "a failed check publishes nothing");

    write_report_as(
        t,
        &format!("report-{}.json", DEFAULT_SEED + 1),
        &campaign(2, 1.2),
    );
    run_twice(binary, &opts, &base, &results).unwrap();
    for f in [
        "report.json",
        "REPORT.md",
        "reproduce.json",
        "REPRODUCE.md",
        "latency-list.svg",
    ] {
        assert!(results.join(f).is_file(), "{f} not published");
    }
    let md = fs::read_to_string(results.join("REPORT.md")).unwrap();
    assert!(
        md.contains("**Reproduction check:** a second campaign of the same commit on the same machine **agreed**"),
        "{md}"
    );
}
