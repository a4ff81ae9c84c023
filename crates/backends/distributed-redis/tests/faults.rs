//! Faults of the store itself, on one host: a Redis that goes away mid-run fails the run with
//! the reason and keeps every outcome already received; a run no worker joins fails with the
//! reason instead of hanging; a Redis serving another run refuses a second one by name, and
//! the refused run leaves none of its keys behind. Skips where redis-server is missing (never
//! in CI).

use std::{
    thread,
    time::{Duration, Instant},
};

use crawlbench_core::{Backend, CrawlJob, Outcome};
use crawlbench_distributed_redis::{DistributedRedis, PrivateRedis, WorkerCommand};
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec};

fn backend() -> DistributedRedis {
    DistributedRedis::new(WorkerCommand::new(env!(
        "CARGO_BIN_EXE_crawlbench-redis-worker"
    )))
}

fn skip_without_redis(test: &str) -> bool {
    match backend().unavailable() {
        Some(why) if std::env::var_os("CRAWLBENCH_REQUIRE_NETNS").is_none_or(|v| v != "1") => {
            eprintln!("{test}: skipped: {why}");
            true
        }
        _ => false,
    }
}

fn slow_origin() -> RunningOrigin {
    RunningOrigin::start(
        SiteSpec {
            pages: 300,
            latency: "100ms".parse().expect("valid"),
            ..Default::default()
        },
        OriginConfig {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("the test origin starts")
}

#[test]
fn redis_going_away_fails_the_run_and_keeps_what_was_received() {
    if skip_without_redis("redis_going_away_fails_the_run_and_keeps_what_was_received") {
        return;
    }
    let origin = slow_origin();
    let redis = PrivateRedis::start().expect("a private Redis");
    let job = CrawlJob::list(origin.site().list_urls(300).expect("pages"))
        .concurrency(10)
        .build()
        .expect("valid job");
    let backend = backend()
        .with_redis(redis.target().clone())
        .with_local_workers(1);
    let started = Instant::now();
    let report = thread::scope(|s| {
        s.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(60);
            while job.progress().done() < 30 && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            drop(redis);
        });
        backend
            .run(&job)
            .expect("a run that breaks down still reports")
    });
    let failure = report.failure.as_deref().expect("the run failed");
    assert!(failure.contains("Redis went away mid-run"), "{failure}");
    let fetched = report
        .outcomes
        .iter()
        .filter(|o| o.outcome == Outcome::Status(200))
        .count();
    assert!(
        fetched >= 30,
        "outcomes received before the failure kept: {fetched}"
    );
    assert!(fetched < 300, "the run ended early: {fetched}");
    assert_eq!(
        report.urls, 300,
        "every URL has an outcome (lost ones name the reason)"
    );
    let lost = report
        .outcomes
        .iter()
        .find(|o| o.outcome != Outcome::Status(200));
    let detail = lost
        .and_then(|o| o.error_detail.as_deref())
        .unwrap_or_default();
    assert!(detail.contains("Redis"), "{detail}");
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_run_no_worker_joins_fails_with_the_reason() {
    if skip_without_redis("a_run_no_worker_joins_fails_with_the_reason") {
        return;
    }
    let origin = slow_origin();
    let job = CrawlJob::list(origin.site().list_urls(5).expect("pages"))
        .build()
        .expect("valid job");
    let backend = backend()
        .with_local_workers(0)
        .with_remote_workers(1)
        .with_join_timeout(Duration::from_secs(1));
    let report = backend.run(&job).expect("the run reports");
    let failure = report.failure.as_deref().expect("the run failed");
    assert!(failure.contains("no worker held a lease"), "{failure}");
    assert!(failure.contains("crawlbench worker --redis"), "{failure}");
    assert_eq!(report.urls, 5);
}

#[test]
fn a_busy_redis_refuses_a_second_run_by_name() {
    if skip_without_redis("a_busy_redis_refuses_a_second_run_by_name") {
        return;
    }
    let origin = slow_origin();
    let redis = PrivateRedis::start().expect("a private Redis");
    let mut conn = redis::Client::open(redis.target().url())
        .and_then(|c| c.get_connection())
        .expect("a connection");
    let _: () = redis::cmd("SET")
        .arg("crawlbench:current")
        .arg("another-run")
        .arg("PX")
        .arg(60_000)
        .query(&mut conn)
        .expect("SET");
    let job = CrawlJob::list(origin.site().list_urls(5).expect("pages"))
        .build()
        .expect("valid job");
    let err = backend()
        .with_redis(redis.target().clone())
        .with_local_workers(1)
        .run(&job)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("serving another crawlbench run (another-run)"),
        "{err}"
    );
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("crawlbench:*")
        .query(&mut conn)
        .expect("KEYS");
    assert_eq!(
        keys,
        vec!["crawlbench:current".to_owned()],
        "nothing else left"
    );
}
