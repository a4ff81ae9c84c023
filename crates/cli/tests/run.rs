//! `crawlbench run` end to end, through the real binary: HTTPS with a new connection per request
//! across a modelled round trip verifies and reports the origin's connections and handshakes;
//! network and connection flags that cannot be parsed exit 2 naming what is accepted; a URL list
//! and a polite seed crawl (robots.txt, per-host limits) of a server of one's own; bad crawl-rule
//! flags exit 2 too. An external backend — the original experiment's aiohttp stack, a Python
//! program speaking PROTOCOL.md — runs and verifies through the same command.

use std::process::Command;

use crawlbench_core::CrawlReport;

fn crawlbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crawlbench"))
}

/// Runs `crawlbench run ARGS…` and checks it exits 2 with `expected` in its error.
fn exits_2_saying(args: &[&str], expected: &str) {
    let output = crawlbench()
        .arg("run")
        .args(args)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
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
        let base = ["--backend", "tokio-reqwest", "--pages", "5"];
        exits_2_saying(&[&base[..], &args].concat(), expected);
    }
}

#[test]
fn bad_scale_flags_exit_2_saying_what_is_accepted() {
    for (backend, args, expected) in [
        (
            "tokio-reqwest",
            vec!["--ramp", "0"],
            "1 to 10000000 new requests per second",
        ),
        (
            "multiprocess-async",
            vec!["--worker-watchdog", "10ms"],
            "100ms to 1h",
        ),
        (
            "tokio-reqwest",
            vec!["--origin-processes", "0"],
            "accepted 1 to 64",
        ),
        (
            "tokio-reqwest",
            vec!["--origin-processes", "2", "--hosts", "3"],
            "accepted: --origin-processes 1",
        ),
        (
            "tokio-reqwest",
            vec!["--origin-processes", "2", "--tls"],
            "accepted: --origin-processes 1",
        ),
        // A process count means nothing to a backend that runs in one process.
        (
            "tokio-reqwest",
            vec!["--processes", "3"],
            "processes = 3 cannot apply",
        ),
        // One process, one socket per request: refused past its open-file budget by name.
        (
            "tokio-reqwest",
            vec!["--concurrency", "19001", "--pages", "19001"],
            "file limit",
        ),
        // Workers too: a requested count whose share is over the budget names the least that fits.
        (
            "multiprocess-async",
            vec![
                "--processes",
                "2",
                "--concurrency",
                "40000",
                "--pages",
                "40000",
            ],
            "use at least 3 processes",
        ),
    ] {
        let pages = if args.contains(&"--pages") {
            &[][..]
        } else {
            &["--pages", "5"][..]
        };
        exits_2_saying(
            &[&["--backend", backend][..], pages, &args].concat(),
            expected,
        );
    }
}

/// `crawlbench serve` on a free port, killed on drop: "a server of the user's own".
struct Served {
    child: std::process::Child,
    seed: String,
    /// Its stdout, kept open while it runs: `serve` prints more after the seed's line, and a
    /// closed pipe would make that print fail.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Served {
    fn start(args: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = crawlbench();
        command
            .args(["serve", "--port", &port.to_string()])
            .args(args);
        let ready = crawlbench_core::child::ReadyChild::spawn(
            command,
            "crawlbench serve",
            std::time::Duration::from_secs(60),
        )
        .expect("serve prints where to crawl from");
        let seed = ready
            .ready_line
            .split("crawl from ")
            .nth(1)
            .expect("the first line names the seed")
            .trim()
            .to_owned();
        Self {
            child: ready.child,
            seed,
            _stdout: ready.stdout,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn report_of(args: &[&str]) -> (CrawlReport, String) {
    let json = std::env::temp_dir().join(format!(
        "crawlbench-own-{}-{}.json",
        std::process::id(),
        args.len()
    ));
    let output = crawlbench()
        .args(["run", "--backend", "smol-hyper"])
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = serde_json::from_slice(&std::fs::read(&json).expect("written")).expect("parses");
    let _ = std::fs::remove_file(&json);
    (report, stdout)
}

#[test]
fn url_lists_and_polite_seed_crawls_of_a_server_of_ones_own() {
    let served = Served::start(&["--pages", "60", "--site-robots", "--delay", "1ms"]);
    let base = served.seed.trim_end_matches("0.html").to_owned();
    let list = std::env::temp_dir().join(format!("crawlbench-urls-{}.txt", std::process::id()));
    std::fs::write(
        &list,
        format!("# three pages\n\n{base}1.html\n  {base}2.html\n{base}3.html\n"),
    )
    .expect("writable");
    let (report, _) = report_of(&["--urls", list.to_str().expect("utf-8")]);
    assert_eq!(report.urls, 3);
    assert_eq!(report.statuses.get(&200), Some(&3));

    let (report, stdout) = report_of(&[
        "--seed",
        &served.seed,
        "--robots",
        "--per-host-connections",
        "2",
        "--per-host-delay",
        "2ms",
    ]);
    assert!(
        stdout.contains("per host    at most 2 in flight"),
        "{stdout}"
    );
    assert_eq!(
        report.outcomes.first().map(|o| o.url.path()),
        Some("/robots.txt"),
        "robots.txt comes first"
    );
    let skipped = report
        .outcomes
        .iter()
        .filter(|o| o.outcome.to_string() == "robots_disallowed")
        .count();
    assert!(skipped > 0, "the site's robots.txt disallows some pages");
    assert!(report.urls > 60, "the whole site, assets and broken links");

    std::fs::write(&list, format!("{base}1.html\nnot a url\n")).expect("writable");
    let output = crawlbench()
        .args(["run", "--backend", "smol-hyper", "--urls"])
        .arg(&list)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 2") && stderr.contains("accepted: one absolute"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(&list);
}

#[test]
fn bad_crawl_rule_flags_exit_2_saying_what_is_accepted() {
    for (args, expected) in [
        (vec!["--scope", "everywhere"], "accepted: dir, host, domain"),
        (vec!["--per-host-delay", "soon"], "accepted: 0, 250ms"),
        (vec!["--per-host-connections", "0"], "per_host_connections"),
        (vec!["--resolve", "docs.test"], "accepted: NAME:ADDR"),
        (
            vec!["--resolve", "docs.test:192.0.2.1"],
            "--allow-non-loopback",
        ),
        (vec!["--hosts", "500"], "accepted: 1 to 200"),
        (vec!["--crawl-delay"], "--robots"),
    ] {
        let base = ["--backend", "tokio-reqwest", "--crawl", "--pages", "5"];
        exits_2_saying(&[&base[..], &args].concat(), expected);
    }
}

#[test]
fn a_python_backend_runs_and_verifies() {
    let output = crawlbench()
        .args([
            "run",
            "--backend",
            "py-aiohttp",
            "--pages",
            "300",
            "--concurrency",
            "20",
            "--delay",
            "5ms",
        ])
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("verified    yes (list: 300 URLs"),
        "{stdout}"
    );
    // The program's hello names the versions it loaded.
    assert!(stdout.contains("aiohttp 3."), "{stdout}");
}
