//! The executor runs on exactly the threads the backend declares, and `run` leaves none of them
//! behind. Alone in its test binary, so no other run's threads are counted.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread,
    time::Duration,
};

use crawlbench_core::{Backend, CrawlJob};
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec};
use crawlbench_smol_hyper::SmolHyper;

/// Helper threads of this process, counted by distinct name (`smol-exec-1`, `smol-exec-2`, …).
///
/// Distinct names, not threads: a thread that a helper spawns (async-io's driver, a `blocking`
/// pool thread) carries its parent's name from `clone` until it names itself, and a sample that
/// lands in that window would count one helper twice. CI saw exactly that once under load.
fn helper_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("procfs")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .filter(|name| name.starts_with("smol-exec-"))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// Runs a slow list on `backend` and returns the most helper threads seen during the run.
fn peak_helpers_during_run(backend: &SmolHyper, origin: &RunningOrigin) -> usize {
    let job = CrawlJob::list(origin.site().list_urls(40).expect("pages"))
        .concurrency(8)
        .build()
        .expect("valid job");
    let (running, peak) = (
        Arc::new(AtomicBool::new(true)),
        Arc::new(AtomicUsize::new(0)),
    );
    let watcher = {
        let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
        thread::spawn(move || {
            while running.load(Ordering::SeqCst) {
                peak.fetch_max(helper_threads(), Ordering::SeqCst);
                thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let report = backend.run(&job).expect("run");
    running.store(false, Ordering::SeqCst);
    watcher.join().expect("watcher");
    assert_eq!(report.successes, 40);
    assert_eq!(
        report.extra.get("executor_threads").copied(),
        Some(backend.executor_threads() as f64)
    );
    peak.load(Ordering::SeqCst)
}

#[test]
fn executor_threads_match_the_flavour_and_are_joined() {
    let origin = RunningOrigin::start(
        SiteSpec {
            pages: 50,
            latency: "40ms".parse().expect("valid"),
            ..Default::default()
        },
        OriginConfig {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("origin starts");
    let cores = thread::available_parallelism().map_or(1, |n| n.get());

    let multi = SmolHyper::multi_thread();
    assert_eq!(multi.executor_threads(), cores);
    assert_eq!(peak_helpers_during_run(&multi, &origin), cores - 1);
    assert_eq!(helper_threads(), 0, "helpers joined when run returns");

    let single = SmolHyper::single_thread();
    assert_eq!(single.executor_threads(), 1);
    assert_eq!(peak_helpers_during_run(&single, &origin), 0);
    assert_eq!(helper_threads(), 0);
}
