//! The campaign end to end, through the real binary: a small campaign writes the report.json
//! contract (cells with intervals, ratios to the reference, rank groups, the A/A control, noise
//! probes, the environment, instruction counts) and runs.jsonl; bad input exits 2 saying what is
//! accepted.

use std::{path::PathBuf, process::Command};

use crawlbench_stats::{CampaignReport, Metric};

fn crawlbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crawlbench"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crawlbench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_small_campaign_writes_the_contract() {
    let out = scratch("campaign");
    let status = crawlbench()
        .args([
            "campaign",
            "--profile",
            "quick",
            "--workloads",
            "latency-list",
            "--backends",
            "tokio-reqwest,smol-st-hyper",
            "--rounds",
            "3",
            "--seed",
            "7",
            "--out",
        ])
        .arg(&out)
        .status()
        .expect("the binary runs");
    assert!(status.success(), "campaign exited with {status}");
    let report = CampaignReport::read(&out.join("report.json")).expect("a readable report");

    // Three entries: two backends and the A/A control; every run verified.
    let labels: Vec<&str> = report.backends.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(
        labels,
        ["tokio-reqwest", "smol-st-hyper", "tokio-reqwest (A/A)"]
    );
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let wall: Vec<_> = report
        .cells
        .iter()
        .filter(|c| c.metric == Metric::WallOverIdeal)
        .collect();
    assert_eq!(wall.len(), 3);
    for c in &wall {
        assert!(c.verified && c.rounds == 3, "{c:?}");
        // A list of 400 URLs at 40 in flight and 50 ms cannot beat its ideal makespan.
        assert!(
            c.median >= 1.0 && c.ci95.lo <= c.median && c.median <= c.ci95.hi,
            "{c:?}"
        );
        assert_eq!(c.values.len(), 3);
        if c.backend == "tokio-reqwest" {
            assert!(c.ratio_to_reference.is_none());
        } else {
            let r = c
                .ratio_to_reference
                .as_ref()
                .expect("a ratio to the reference");
            assert_eq!(r.reference, "tokio-reqwest");
            assert!(r.ci95.lo <= r.median && r.median <= r.ci95.hi);
        }
    }
    // Latency counts from dispatch, so p50 is at least the server's 50 ms.
    for c in report
        .cells
        .iter()
        .filter(|c| c.metric == Metric::LatencyP50Us)
    {
        assert!(c.median >= 50_000.0, "{c:?}");
    }
    // Rankings cover the two real backends (never the control); the control is checked.
    let ranking = report
        .rankings
        .iter()
        .find(|r| r.metric == Metric::WallSecs)
        .expect("a wall ranking");
    let mut ranked: Vec<&String> = ranking.groups.iter().flatten().collect();
    ranked.sort();
    assert_eq!(ranked, ["smol-st-hyper", "tokio-reqwest"]);
    assert_eq!(report.controls.len(), Metric::RANKED.len());
    // Noise probed at start and end; the environment names the real command line.
    assert_eq!(report.noise.probes.len(), 2);
    assert!(report.noise.probes.iter().all(|p| p.points.len() == 2));
    assert!(
        report
            .environment
            .command_line
            .iter()
            .any(|a| a == "campaign")
    );
    assert!(report.environment.crate_versions.contains_key("tokio"));
    // Warm-up (discarded) + 3 rounds, 3 entries each.
    let runs = std::fs::read_to_string(out.join("runs.jsonl")).expect("runs.jsonl");
    assert_eq!(runs.lines().count(), 4 * 3);
    assert_eq!(report.campaign.orders.len(), 4);
    // Instruction counts, when valgrind is here (CI installs it).
    if report.environment.valgrind.is_some() {
        assert_eq!(report.instructions.len(), 2, "{:?}", report.instructions);
        for i in &report.instructions {
            assert!(i.failure.is_none() && i.verified, "{i:?}");
            // A request through a real client and runtime costs well over 10,000 instructions.
            assert!(i.per_request > 10_000.0 && i.requests >= 1000, "{i:?}");
        }
    } else {
        assert!(report.warnings.iter().any(|w| w.contains("valgrind")));
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_campaign_input_exits_2_saying_what_is_accepted() {
    for (args, expected) in [
        (vec!["--workloads", "nope"], "accepted: seed-replica"),
        (vec!["--backends", "nope"], "accepted: threadpool-ureq"),
        (vec!["--rounds", "0"], "at least 1"),
        (vec!["--profile", "slow"], "accepted: quick, full"),
        (
            vec!["--backends", "smol-hyper", "--reference", "tokio-reqwest"],
            "must be among --backends",
        ),
    ] {
        let out = scratch("bad");
        let output = crawlbench()
            .arg("campaign")
            .args(&args)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!out.join("report.json").exists(), "{args:?} wrote a report");
    }
}
