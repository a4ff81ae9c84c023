//! Faults the multi-process coordinator must survive — a worker SIGKILLed or SIGSTOPped mid-run,
//! a worker whose event loop hangs, a worker that writes garbage or speaks another protocol
//! version, a cancelled run, a worker that cannot be started — the worker count (explicit and
//! over the file budget), and the process-table checks that no run leaves an orphan or a zombie
//! behind.
//!
//! The tests in this file run one at a time (they share [`SERIAL`]) because they inspect this
//! process's children: with a single run at a time, any child left over is that run's fault.

use std::{
    fs,
    path::PathBuf,
    sync::{Mutex, MutexGuard, PoisonError},
    thread,
    time::{Duration, Instant},
};

use crawlbench_conformance::lost_worker::{
    assert_outcomes_verified as assert_verified, extra, wait_until,
};
use crawlbench_core::{Backend, BackendError, CrawlJob, CrawlReport};
use crawlbench_multiprocess::{FAULT_ENV, MultiProcess, PROTOCOL_VERSION, WorkerCommand};
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec};

static SERIAL: Mutex<()> = Mutex::new(());

const WORKER: &str = env!("CARGO_BIN_EXE_crawlbench-worker");

fn worker() -> WorkerCommand {
    WorkerCommand::new(WORKER)
}

/// Holds the test lock; on drop (a failing test included) kills and reaps any child left over,
/// so a failure never leaves processes behind for later tests.
struct Serial(#[allow(dead_code)] MutexGuard<'static, ()>);

fn serial() -> Serial {
    Serial(SERIAL.lock().unwrap_or_else(PoisonError::into_inner))
}

impl Drop for Serial {
    fn drop(&mut self) {
        for child in children() {
            // SAFETY: signalling and reaping our own child processes.
            unsafe {
                libc::kill(child.pid, libc::SIGKILL);
                libc::waitpid(child.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

#[derive(Debug)]
#[allow(dead_code)] // Fields are read through Debug in assertion messages.
struct ChildProc {
    pid: i32,
    state: char,
    exe: Option<PathBuf>,
    cmdline: String,
}

/// This process's children, from `/proc/*/stat`.
fn children() -> Vec<ChildProc> {
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").expect("/proc is readable").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid …"; comm may hold spaces and parentheses.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let mut fields = stat[close + 1..].split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: i32 = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if ppid == me {
            found.push(ChildProc {
                pid,
                state,
                exe: fs::read_link(format!("/proc/{pid}/exe")).ok(),
                cmdline: fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                    .unwrap_or_default(),
            });
        }
    }
    found
}

/// No worker (by exe), no zombie — in fact no child at all — remains.
fn assert_no_children_left() {
    let worker = fs::canonicalize(WORKER).expect("the worker binary exists");
    let left = children();
    let workers: Vec<_> = left
        .iter()
        .filter(|c| c.exe.as_ref() == Some(&worker) || c.cmdline.starts_with(WORKER))
        .collect();
    let zombies: Vec<_> = left.iter().filter(|c| c.state == 'Z').collect();
    assert!(workers.is_empty(), "worker processes left: {workers:?}");
    assert!(zombies.is_empty(), "zombies left: {zombies:?}");
    assert!(left.is_empty(), "child processes left: {left:?}");
}

fn origin(spec: SiteSpec) -> RunningOrigin {
    RunningOrigin::start(
        spec,
        OriginConfig {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("the test origin starts")
}

fn slow_site() -> SiteSpec {
    SiteSpec {
        pages: 400,
        latency: "100ms".parse().expect("valid"),
        ..Default::default()
    }
}

/// SIGKILLs one worker in the middle of a slow crawl; the run must still verify.
fn survives_a_killed_worker(backend: MultiProcess) {
    let _serial = serial();
    let origin = origin(slow_site());
    let job = CrawlJob::crawl(vec![origin.site().seed_url()], 100_000)
        .concurrency(16)
        .build()
        .expect("valid job");
    let (report, killed) = thread::scope(|s| {
        let killer = s.spawn(|| {
            // Once the crawl has fanned out, every worker holds URLs — except in the moment
            // between an outcome and its next URL. Outcomes come in bursts (the workers started
            // together and every page takes 100 ms), so the count crosses 32 inside such a
            // moment; a quarter of a page's delay later, each worker holds its next URL.
            let found = wait_until(Duration::from_secs(60), || {
                !backend.worker_pids().is_empty() && job.progress().done() >= 32
            });
            if !found {
                return None;
            }
            thread::sleep(Duration::from_millis(25));
            let pid = backend.worker_pids().first().copied()?;
            // SAFETY: sending a signal to a worker process of this test.
            let rc = unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            assert_eq!(rc, 0, "kill({pid})");
            Some(pid)
        });
        let report = backend.run(&job).expect("the run survives a killed worker");
        (report, killer.join().expect("killer thread"))
    });
    let killed = killed.expect("a worker was running mid-crawl");
    // Not `crawlbench_conformance::run_and_verify`: it also asserts that the origin served exactly
    // the attempts the report counts, which cannot hold here — the killed worker's in-flight
    // requests reached the origin and were sent again by another worker. Every URL must still be
    // reported once, with the right result.
    assert_verified(&origin, &job, &report);
    assert!(report.urls > 400, "whole site crawled: {}", report.urls);
    assert!(
        extra(&report, "worker_restarts") >= 1.0,
        "{:?}",
        report.extra
    );
    assert!(extra(&report, "urls_requeued") >= 1.0, "{:?}", report.extra);
    assert_eq!(extra(&report, "urls_lost_to_worker_deaths"), 0.0);
    assert_eq!(extra(&report, "malformed_frames"), 0.0);
    assert!(!report.interrupted);
    assert!(!backend.worker_pids().contains(&killed));
    assert!(backend.worker_pids().is_empty());
    assert_no_children_left();
}

#[test]
fn async_survives_a_killed_worker() {
    survives_a_killed_worker(MultiProcess::asynchronous(worker()).with_workers(2));
}

#[test]
fn blocking_survives_a_killed_worker() {
    survives_a_killed_worker(MultiProcess::blocking(worker()));
}

/// Worker 0 writes an undecodable frame in place of its 6th outcome: it is replaced, the URLs it
/// held (that one at least) are fetched again, the event is counted.
fn survives_a_garbage_frame(backend: MultiProcess) {
    let _serial = serial();
    let origin = origin(SiteSpec {
        pages: 200,
        latency: "uniform:1ms..5ms".parse().expect("valid"),
        ..Default::default()
    });
    let job = CrawlJob::list(origin.site().list_urls(150).expect("pages"))
        .concurrency(8)
        .build()
        .expect("valid job");
    let report = backend.run(&job).expect("the run survives a garbage frame");
    // Verified directly (not run_and_verify): fetches the broken worker held were sent again.
    assert_verified(&origin, &job, &report);
    assert_eq!(
        extra(&report, "malformed_frames"),
        1.0,
        "{:?}",
        report.extra
    );
    assert_eq!(extra(&report, "worker_restarts"), 1.0, "{:?}", report.extra);
    assert!(extra(&report, "urls_requeued") >= 1.0, "{:?}", report.extra);
    assert_eq!(extra(&report, "urls_lost_to_worker_deaths"), 0.0);
    assert_no_children_left();
}

#[test]
fn async_survives_a_garbage_frame() {
    survives_a_garbage_frame(
        MultiProcess::asynchronous(worker().env(FAULT_ENV, "garbage-after:5")).with_workers(2),
    );
}

#[test]
fn blocking_survives_a_garbage_frame() {
    survives_a_garbage_frame(MultiProcess::blocking(
        worker().env(FAULT_ENV, "garbage-after:5"),
    ));
}

/// Worker 0 answers `Hello` with another version: refused before it gets any URL, replaced.
#[test]
fn wrong_version_worker_is_refused_and_replaced() {
    let _serial = serial();
    let origin = origin(SiteSpec {
        pages: 100,
        ..Default::default()
    });
    for backend in [
        MultiProcess::asynchronous(worker().env(FAULT_ENV, "wrong-version")).with_workers(2),
        MultiProcess::blocking(worker().env(FAULT_ENV, "wrong-version")),
    ] {
        let job = CrawlJob::list(origin.site().list_urls(60).expect("pages"))
            .concurrency(4)
            .build()
            .expect("valid job");
        // The refused worker never got a URL, so the origin's count must match exactly.
        let report = crawlbench_conformance::run_and_verify(&backend, &origin, &job);
        assert_eq!(
            extra(&report, "malformed_frames"),
            1.0,
            "{:?}",
            report.extra
        );
        assert_eq!(extra(&report, "worker_restarts"), 1.0, "{:?}", report.extra);
        assert_eq!(extra(&report, "urls_requeued"), 0.0, "{:?}", report.extra);
        assert_no_children_left();
    }
}

/// A worker binary from another build (here: a shell script that answers `Hello` with version
/// 99 and then waits) fails the run with both versions named, after bounded retries.
#[test]
fn foreign_protocol_version_fails_the_run_naming_both_versions() {
    let _serial = serial();
    // A frame of 3 bytes: postcard `FromWorker::Hello { version: 99, pid: 1 }` is variant 0,
    // then varints 99 (0o143) and 1.
    let command = WorkerCommand::new("/bin/sh")
        .arg("-c")
        .arg(r"printf '\003\000\000\000\000\143\001'; exec cat >/dev/null");
    let job = CrawlJob::list(vec!["http://127.0.0.1:9/never".parse().expect("valid")])
        .build()
        .expect("valid job");
    for backend in [
        MultiProcess::asynchronous(command.clone()),
        MultiProcess::blocking(command.clone()),
    ] {
        let err = backend.run(&job).expect_err("a foreign worker is refused");
        assert!(matches!(err, BackendError::Setup { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("protocol version 99")
                && msg.contains(&format!("version {PROTOCOL_VERSION}")),
            "names both versions: {msg}"
        );
        assert!(backend.worker_pids().is_empty());
        assert_no_children_left();
    }
}

#[test]
fn unstartable_worker_is_a_setup_error() {
    let _serial = serial();
    let job = CrawlJob::list(vec!["http://127.0.0.1:9/never".parse().expect("valid")])
        .build()
        .expect("valid job");
    let backend = MultiProcess::blocking(WorkerCommand::new("/nonexistent/crawlbench-worker"));
    let err = backend.run(&job).expect_err("no such program");
    let msg = err.to_string();
    assert!(
        matches!(err, BackendError::Setup { .. }) && msg.contains("/nonexistent/crawlbench-worker"),
        "{msg}"
    );
    assert_no_children_left();
}

/// `job.cancel()` mid-run: the run returns promptly with a partial, interrupted report, and
/// every worker is stopped and reaped.
fn cancel_stops_every_worker(backend: MultiProcess) {
    let _serial = serial();
    let origin = origin(slow_site());
    let job = CrawlJob::crawl(vec![origin.site().seed_url()], 100_000)
        .concurrency(16)
        .build()
        .expect("valid job");
    let (report, cancelled_at) = thread::scope(|s| {
        let canceller = s.spawn(|| {
            let ready = wait_until(Duration::from_secs(60), || job.progress().done() >= 20);
            assert!(ready, "the crawl made progress");
            job.cancel().cancel();
            Instant::now()
        });
        let report = backend.run(&job).expect("a cancelled run still reports");
        (report, canceller.join().expect("canceller thread"))
    });
    let stopping = cancelled_at.elapsed();
    assert!(report.interrupted);
    assert!(
        report.urls >= 20 && report.urls < 400,
        "partial: {}",
        report.urls
    );
    assert!(
        stopping < Duration::from_secs(5),
        "took {stopping:?} to stop"
    );
    assert!(backend.worker_pids().is_empty());
    assert_no_children_left();
}

#[test]
fn async_cancel_stops_every_worker() {
    cancel_stops_every_worker(MultiProcess::asynchronous(worker()).with_workers(2));
}

#[test]
fn blocking_cancel_stops_every_worker() {
    cancel_stops_every_worker(MultiProcess::blocking(worker()));
}

/// A clean run: exact IPC accounting, workers' CPU counted, no process left.
#[test]
fn clean_runs_leave_no_process_and_count_ipc_exactly() {
    let _serial = serial();
    let origin = origin(SiteSpec {
        pages: 100,
        latency: "20ms".parse().expect("valid"),
        ..Default::default()
    });
    for (backend, workers) in [
        (MultiProcess::asynchronous(worker()).with_workers(3), 3),
        (MultiProcess::asynchronous_smol(worker()).with_workers(2), 2),
        (MultiProcess::blocking(worker()), 6),
    ] {
        let job = CrawlJob::list(origin.site().list_urls(80).expect("pages"))
            .concurrency(6)
            .build()
            .expect("valid job");
        let (report, seen) = thread::scope(|s| {
            let watcher = s.spawn(|| {
                let mut most = 0;
                wait_until(Duration::from_secs(30), || {
                    most = most.max(backend.worker_pids().len());
                    job.progress().done() >= 40
                });
                most
            });
            let report = crawlbench_conformance::run_and_verify(&backend, &origin, &job);
            (report, watcher.join().expect("watcher thread"))
        });
        assert_eq!(seen, workers, "worker processes seen mid-run");
        assert_eq!(extra(&report, "workers"), workers as f64);
        assert_eq!(extra(&report, "worker_restarts"), 0.0);
        assert_eq!(extra(&report, "workers_stopped_by_watchdog"), 0.0);
        // One hello each way per worker, one fetch and one outcome per URL, and the heartbeats.
        assert_eq!(
            extra(&report, "ipc_messages"),
            (2 * workers + 2 * report.urls) as f64 + extra(&report, "heartbeats"),
            "{:?}",
            report.extra
        );
        assert!(extra(&report, "ipc_bytes_sent") > 0.0);
        assert!(extra(&report, "ipc_bytes_received") > extra(&report, "ipc_bytes_sent"));
        assert!(
            report.resources.children_cpu_secs > 0.0,
            "the reaped workers' CPU is counted: {:?}",
            report.resources
        );
        assert!(backend.worker_pids().is_empty());
        assert_no_children_left();
    }
}

/// A worker whose stdin closes exits at once, cleanly — so a coordinator that dies (and so closes
/// the pipe) never leaves a worker behind.
#[test]
fn worker_exits_when_stdin_closes() {
    let _serial = serial();
    let mut child = std::process::Command::new(WORKER)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the worker starts");
    drop(child.stdin.take());
    let mut status = None;
    wait_until(Duration::from_secs(10), || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the worker did not exit after stdin closed");
    };
    assert!(status.success(), "{status}");
    assert_no_children_left();
}

/// Runs `job` through `crawlbench_origin::verified_run` and checks the outcomes against the
/// origin's ground truth (every URL once, each result right). The origin's connection counters
/// are not held against the policy: a worker killed mid-run took its connections with it, and
/// its replacement opened new ones.
fn verified_despite_a_lost_worker(
    backend: &MultiProcess,
    origin: &RunningOrigin,
    job: &CrawlJob,
) -> CrawlReport {
    let mut origin_ref = origin;
    let report = crawlbench_origin::verified_run(backend, job, &mut origin_ref)
        .expect("the run survives a lost worker");
    assert_verified(origin, job, &report);
    report
}

/// SIGSTOPs one worker in the middle of a run: it never answers again, so only the watchdog can
/// notice. It must be killed and reaped, the URLs it held fetched by others, nothing lost.
fn survives_a_stopped_worker(backend: MultiProcess) {
    let _serial = serial();
    let origin = origin(SiteSpec {
        pages: 500,
        latency: "uniform:50ms..100ms".parse().expect("valid"),
        ..Default::default()
    });
    let job = CrawlJob::list(origin.site().list_urls(400).expect("pages"))
        .concurrency(40)
        .worker_watchdog(Duration::from_secs(1))
        .build()
        .expect("valid job");
    let started = Instant::now();
    let (report, stopped) = thread::scope(|s| {
        let stopper = s.spawn(|| {
            let found = wait_until(Duration::from_secs(60), || {
                !backend.worker_pids().is_empty() && job.progress().done() >= 60
            });
            if !found {
                return None;
            }
            let pid = backend.worker_pids().first().copied()?;
            // SAFETY: sending a signal to a worker process of this test.
            let rc = unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
            assert_eq!(rc, 0, "kill({pid}, SIGSTOP)");
            Some(pid)
        });
        let report = verified_despite_a_lost_worker(&backend, &origin, &job);
        (report, stopper.join().expect("stopper thread"))
    });
    let took = started.elapsed();
    let stopped = stopped.expect("a worker was running mid-run");
    eprintln!(
        "{}: stopped pid {stopped}; run took {took:?}; extra {:?}",
        backend.info().name,
        report.extra
    );
    assert_eq!(report.urls, 400);
    assert!(
        extra(&report, "workers_stopped_by_watchdog") >= 1.0,
        "{:?}",
        report.extra
    );
    assert!(extra(&report, "worker_restarts") >= 1.0);
    assert!(extra(&report, "urls_requeued") >= 1.0, "{:?}", report.extra);
    assert_eq!(extra(&report, "urls_lost_to_worker_deaths"), 0.0);
    assert_eq!(extra(&report, "malformed_frames"), 0.0);
    assert!(!report.interrupted);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(!backend.worker_pids().contains(&stopped));
    // The stopped process was killed and reaped: it is not even a zombie.
    assert!(
        !std::path::Path::new(&format!("/proc/{stopped}")).exists(),
        "the stopped worker {stopped} is still in the process table"
    );
    assert_no_children_left();
}

#[test]
fn async_survives_a_stopped_worker() {
    survives_a_stopped_worker(MultiProcess::asynchronous(worker()));
}

#[test]
fn smol_survives_a_stopped_worker() {
    survives_a_stopped_worker(MultiProcess::asynchronous_smol(worker()));
}

#[test]
fn blocking_survives_a_stopped_worker() {
    survives_a_stopped_worker(MultiProcess::blocking(worker()));
}

/// Worker 0's event loop blocks for good in place of its 6th outcome: its process is alive and
/// not stopped, but since its heartbeats come from that loop they stop too, and the watchdog
/// replaces it.
fn survives_a_hung_event_loop(backend: MultiProcess) {
    let _serial = serial();
    let origin = origin(SiteSpec {
        pages: 200,
        latency: "uniform:5ms..20ms".parse().expect("valid"),
        ..Default::default()
    });
    let job = CrawlJob::list(origin.site().list_urls(150).expect("pages"))
        .concurrency(8)
        .worker_watchdog(Duration::from_millis(500))
        .build()
        .expect("valid job");
    let report = verified_despite_a_lost_worker(&backend, &origin, &job);
    assert_eq!(
        extra(&report, "workers_stopped_by_watchdog"),
        1.0,
        "{:?}",
        report.extra
    );
    assert_eq!(extra(&report, "worker_restarts"), 1.0);
    assert!(extra(&report, "urls_requeued") >= 1.0, "{:?}", report.extra);
    assert_eq!(extra(&report, "urls_lost_to_worker_deaths"), 0.0);
    assert_no_children_left();
}

#[test]
fn async_survives_a_hung_event_loop() {
    survives_a_hung_event_loop(
        MultiProcess::asynchronous(worker().env(FAULT_ENV, "hang-after:5")).with_workers(2),
    );
}

#[test]
fn smol_survives_a_hung_event_loop() {
    survives_a_hung_event_loop(
        MultiProcess::asynchronous_smol(worker().env(FAULT_ENV, "hang-after:5")).with_workers(2),
    );
}

/// The job's `processes` sets the worker count (over the backend's own default), and every
/// async worker connects from its own loopback address.
#[test]
fn explicit_processes_give_that_many_workers() {
    let _serial = serial();
    let origin = origin(SiteSpec {
        pages: 100,
        latency: "10ms".parse().expect("valid"),
        ..Default::default()
    });
    for backend in [
        MultiProcess::asynchronous(worker()).with_workers(2),
        MultiProcess::asynchronous_smol(worker()),
    ] {
        let job = CrawlJob::list(origin.site().list_urls(60).expect("pages"))
            .concurrency(12)
            .processes(3)
            .build()
            .expect("valid job");
        let report = crawlbench_conformance::run_and_verify(&backend, &origin, &job);
        assert_eq!(extra(&report, "workers"), 3.0, "{:?}", report.extra);
        assert_eq!(report.resources.worker_processes, 3);
        assert_eq!(
            extra(&report, "source_addresses"),
            3.0,
            "{:?}",
            report.extra
        );
        assert_no_children_left();
    }
    // Blocking workers bind no source address (and take no process count).
    let job = CrawlJob::list(origin.site().list_urls(20).expect("pages"))
        .concurrency(4)
        .build()
        .expect("valid job");
    let report =
        crawlbench_conformance::run_and_verify(&MultiProcess::blocking(worker()), &origin, &job);
    assert_eq!(extra(&report, "source_addresses"), 0.0);
    assert_no_children_left();
}

/// A process count whose share of the concurrency is above what one process's open-file limit
/// allows is refused before anything starts, naming the numbers and the count that would work.
#[test]
fn an_over_budget_share_is_refused() {
    let _serial = serial();
    let budget = crawlbench_multiprocess::per_worker_in_flight();
    let concurrency = 2 * budget + 2;
    if concurrency > crawlbench_core::job::MAX_CONCURRENCY {
        eprintln!("skipped: the open-file limit allows {budget} per worker, no job exceeds it");
        return;
    }
    let urls = (0..concurrency)
        .map(|i| format!("http://127.0.0.1:9/{i}").parse().expect("valid"))
        .collect();
    let job = CrawlJob::list(urls)
        .concurrency(concurrency)
        .processes(2)
        .build()
        .expect("valid job");
    let err = MultiProcess::asynchronous(worker())
        .run(&job)
        .expect_err("refused");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, BackendError::Unsupported { .. }), "{err:?}");
    assert!(
        msg.contains(&format!("up to {} requests in flight each", budget + 1))
            && msg.contains(&format!("above the {budget}"))
            && msg.contains("use at least 3 processes"),
        "{msg}"
    );
    assert_no_children_left();
}
