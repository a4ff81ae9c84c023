//! A misbehaving external program never hangs a run and never costs what it already answered:
//! a malformed line, a crash, a hang, a reply to an attempt never sent, a wrong protocol version
//! and a program that never says hello each end the run with a clear reason.
//!
//! The program (`programs/fake.py`, standard-library Python) answers three attempts, then
//! misbehaves; the job lists ten URLs one at a time, so exactly three outcomes arrive first.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use crawlbench_core::{Backend, BackendError, CrawlJob, CrawlReport, ErrorKind, Outcome};
use crawlbench_external::{ExternalBackend, Manifest};
use url::Url;

fn backend(mode: &str) -> ExternalBackend {
    // A directory per call: tests run in parallel, and two may use the same mode.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "crawlbench-fake-{}-{mode}-{}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let program = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/programs/fake.py");
    let manifest = serde_json::json!({
        "name": format!("fake-{mode}"),
        "command": ["python3", program, mode],
        "model": "async_single_thread",
        "runtime": "python3",
        "client": "none",
        "threads": "1",
    });
    let path = dir.join("fake.json");
    std::fs::write(&path, manifest.to_string()).unwrap();
    ExternalBackend::new(Manifest::load(&path).unwrap())
}

/// Ten URLs (never fetched: the fake answers without a network), one in flight at a time.
fn job(timeout: Duration) -> CrawlJob {
    job_with(timeout, 1)
}

fn job_with(timeout: Duration, concurrency: usize) -> CrawlJob {
    let urls = (0..10)
        .map(|i| Url::parse(&format!("http://127.0.0.1:9/{i}")).unwrap())
        .collect();
    CrawlJob::list(urls)
        .concurrency(concurrency)
        .timeout(timeout)
        .build()
        .unwrap()
}

/// The run failed saying `says`, kept the three outcomes received, and settled every other URL
/// as lost.
fn assert_failed_keeping_three(report: &CrawlReport, says: &[&str]) {
    let why = report.failure.as_deref().expect("the run failed");
    for s in says {
        assert!(why.contains(s), "{s:?} missing from: {why}");
    }
    assert_eq!(report.urls, 10, "every URL has an outcome");
    let received = report
        .outcomes
        .iter()
        .filter(|o| o.outcome == Outcome::Status(200) && o.bytes == 9)
        .count();
    assert_eq!(
        received, 3,
        "the three answers are kept: {:?}",
        report.outcomes
    );
    for o in report
        .outcomes
        .iter()
        .filter(|o| o.outcome != Outcome::Status(200))
    {
        assert_eq!(o.outcome, Outcome::Error(ErrorKind::Other), "{o:?}");
        let detail = o.error_detail.as_deref().unwrap_or_default();
        assert!(
            detail.contains("lost: the external program failed"),
            "{detail}"
        );
    }
}

#[test]
fn a_well_behaved_program_answers_every_attempt() {
    let report = backend("ok").run(&job(Duration::from_secs(5))).unwrap();
    assert_eq!(report.failure, None);
    assert_eq!(report.successes, 10);
    assert_eq!(
        report.backend.client, "fake 1",
        "the hello's client replaces the manifest's"
    );
    assert!(
        report.resources.worker_processes >= 1,
        "{:?}",
        report.resources
    );
}

#[test]
fn a_malformed_line_fails_the_run_naming_its_line() {
    let report = backend("malformed")
        .run(&job(Duration::from_secs(5)))
        .unwrap();
    // hello is line 1, three replies are lines 2-4.
    assert_failed_keeping_three(
        &report,
        &["line 5", "not a protocol message", "this is not json"],
    );
}

#[test]
fn a_crash_fails_the_run_with_its_status_and_stderr() {
    let report = backend("crash").run(&job(Duration::from_secs(5))).unwrap();
    assert_failed_keeping_three(
        &report,
        &["closed its output", "exit status: 3", "crashing on purpose"],
    );
}

#[test]
fn a_crash_with_attempts_in_flight_settles_them_all() {
    // All ten attempts go out at once; the program answers three and dies holding seven.
    let report = backend("crash")
        .run(&job_with(Duration::from_secs(5), 10))
        .unwrap();
    assert_failed_keeping_three(&report, &["closed its output", "holding 7 attempts"]);
}

#[test]
fn a_hang_fails_the_run_after_the_attempt_deadline() {
    let started = Instant::now();
    let report = backend("hang").run(&job(Duration::from_secs(1))).unwrap();
    // Twice the 1 s timeout plus 10 s, then killed: far from a hang.
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    assert_failed_keeping_three(&report, &["no reply to attempt 3", "hung"]);
}

#[test]
fn a_reply_to_an_attempt_never_sent_fails_the_run() {
    let report = backend("unknown-id")
        .run(&job(Duration::from_secs(5)))
        .unwrap();
    assert_failed_keeping_three(&report, &["line 5", "attempt 999999", "not outstanding"]);
}

#[test]
fn a_wrong_protocol_version_is_refused_before_anything_runs() {
    match backend("version").run(&job(Duration::from_secs(5))) {
        Err(e @ BackendError::Setup { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("protocol version 2") && msg.contains("accepted: 1"),
                "{msg}"
            );
        }
        other => panic!("expected a setup error, got {other:?}"),
    }
}

#[test]
fn a_program_that_never_says_hello_is_killed() {
    let started = Instant::now();
    match backend("silent").run(&job(Duration::from_secs(5))) {
        Err(e @ BackendError::Setup { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("did not say it was ready within 30s"), "{msg}");
        }
        other => panic!("expected a setup error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(60));
}
