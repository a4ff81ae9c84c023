//! `crawlbench run` end to end, through the real binary: HTTPS with a new connection per request
//! across a modelled round trip verifies and reports the origin's connections and handshakes;
//! network and connection flags that cannot be parsed exit 2 naming what is accepted.

use std::process::Command;

use crawlbench_core::CrawlReport;

fn crawlbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crawlbench"))
}

#[test]
fn tls_fresh_run_with_rtt_verifies_and_reports_connections() {
    let json = std::env::temp_dir().join(format!("crawlbench-run-{}.json", std::process::id()));
    let output = crawlbench()
        .args([
            "run",
            "--backend",
            "tokio-reqwest",
            "--tls",
            "--connections",
            "fresh",
            "--rtt",
            "20ms",
            "--pages",
            "40",
            "--concurrency",
            "8",
            "--json",
        ])
        .arg(&json)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("connections fresh, HTTPS"), "{stdout}");
    assert!(
        stdout.contains("origin accepted 40 connections, completed 40 TLS handshakes"),
        "{stdout}"
    );
    assert!(stdout.contains("ideal"), "{stdout}");
    let report: CrawlReport =
        serde_json::from_slice(&std::fs::read(&json).expect("the report was written"))
            .expect("the report parses");
    let origin = report.origin.expect("the origin's counters");
    assert_eq!((origin.connections, origin.tls_handshakes), (40, 40));
    assert!(report.job.tls);
    let _ = std::fs::remove_file(&json);
}

#[test]
fn bad_network_and_connection_flags_exit_2_saying_what_is_accepted() {
    for (args, expected) in [
        (vec!["--rtt", "fast"], "accepted: 0, 100ms"),
        (vec!["--rtt", "20s"], "out of range"),
        (vec!["--bandwidth", "1MB"], "accepted: 512KB/s"),
        (vec!["--connections", "pooled"], "accepted: reuse, fresh"),
        (
            vec!["--tls", "--tls-key", "dsa"],
            "accepted: ecdsa-p256, rsa-2048",
        ),
    ] {
        let output = crawlbench()
            .args(["run", "--backend", "tokio-reqwest", "--pages", "5"])
            .args(&args)
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
