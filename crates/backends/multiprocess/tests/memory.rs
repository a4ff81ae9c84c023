//! The multi-process backends' memory figure: a sum of per-process peaks — the coordinator's and
//! every worker's own — never the largest single worker, and never the coordinator's memory
//! charged again to each worker it spawned.

use std::{
    fs,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use crawlbench_core::{CrawlJob, CrawlReport, resources::peak_rss_bytes_of};
use crawlbench_multiprocess::{MultiProcess, WorkerCommand};
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec};

const WORKER: &str = env!("CARGO_BIN_EXE_crawlbench-worker");
const MIB: u64 = 1 << 20;

/// Runs a verified 80-URL list at concurrency 6 (so 6 blocking workers, or `with_workers`
/// async ones).
fn verified_run(backend: &MultiProcess) -> CrawlReport {
    let origin = RunningOrigin::start(
        SiteSpec {
            pages: 100,
            latency: "20ms".parse().expect("valid"),
            ..Default::default()
        },
        OriginConfig {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("the test origin starts");
    let job = CrawlJob::list(origin.site().list_urls(80).expect("pages"))
        .concurrency(6)
        .build()
        .expect("valid job");
    crawlbench_conformance::run_and_verify(backend, &origin, &job)
}

fn state_of(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// The peak RSS of one idle worker: started, blocked reading its first frame, never given a job.
/// Every worker of a run does at least this much (and then builds its engine and fetches), so
/// it is a lower bound on each one's peak.
fn idle_worker_peak() -> u64 {
    let mut child = Command::new(WORKER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the worker starts");
    let pid = child.id();
    let worker = fs::canonicalize(WORKER).expect("the worker binary exists");
    let deadline = Instant::now() + Duration::from_secs(30);
    // Exec'd (its exe is the worker, not this test) and sleeping: blocked on stdin.
    while fs::read_link(format!("/proc/{pid}/exe")).ok() != Some(worker.clone())
        || state_of(pid) != Some('S')
    {
        assert!(Instant::now() < deadline, "the idle worker never blocked");
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(50));
    let peak = peak_rss_bytes_of(pid).expect("the idle worker is alive");
    drop(child.stdin.take());
    let status = child.wait().expect("reaped");
    assert!(status.success(), "{status}");
    peak
}

/// The sum covers every worker process: at least as many times one idle worker's peak as there
/// were workers, on top of the coordinator's own peak.
#[test]
fn peak_rss_is_the_sum_of_every_process_peak() {
    let baseline = idle_worker_peak();
    // Sanity floor for the baseline itself: a running Rust executable with libc mapped has well
    // over 1 MiB resident (its touched code, libc's, stacks and the heap).
    assert!(baseline >= MIB, "an idle worker's peak of {baseline} bytes");
    for (backend, workers) in [
        (
            MultiProcess::asynchronous(WorkerCommand::new(WORKER)).with_workers(3),
            3u32,
        ),
        (MultiProcess::blocking(WorkerCommand::new(WORKER)), 6),
    ] {
        let report = verified_run(&backend);
        let r = &report.resources;
        assert_eq!(r.worker_processes, workers, "{r:?}");
        assert!(
            r.workers_peak_rss_sum_bytes >= u64::from(workers) * baseline,
            "{workers} workers, one idle worker peaks at {baseline} bytes: {r:?}"
        );
        assert_eq!(
            r.peak_rss_sum_bytes(),
            r.peak_rss_bytes + r.workers_peak_rss_sum_bytes
        );
        // Every worker was alive when its peak was read (none came from `ru_maxrss`).
        assert_eq!(report.extra.get("worker_peaks_from_rusage"), Some(&0.0));
    }
}

/// The coordinator's memory is not charged to each worker again. The kernel's `ru_maxrss` for a
/// child includes the parent's resident pages at spawn time, so summing `wait4` figures would
/// add this 256 MiB once per worker; each worker's own peak is a few MiB.
#[test]
fn coordinator_memory_is_not_counted_per_worker() {
    const BALLAST: usize = 256 << 20;
    let mut ballast = vec![0u8; BALLAST];
    for i in (0..ballast.len()).step_by(4096) {
        ballast[i] = 1;
    }
    let ballast = std::hint::black_box(ballast);
    let report = verified_run(&MultiProcess::blocking(WorkerCommand::new(WORKER)));
    let r = &report.resources;
    assert_eq!(r.worker_processes, 6, "{r:?}");
    assert!(
        r.workers_peak_rss_sum_bytes < 6 * (BALLAST as u64) / 2,
        "workers charged with the coordinator's {BALLAST} bytes: {r:?}"
    );
    assert!(r.peak_rss_bytes >= BALLAST as u64, "{r:?}");
    drop(ballast);
}
