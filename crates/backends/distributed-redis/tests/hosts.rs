//! `distributed-redis` across hosts: Redis in one network namespace, a worker in each of two
//! others, the origin and the coordinator in this process (the network is
//! `crawlbench-testnet`'s; `support/mod.rs` shares one per test binary). The shared conformance
//! suite runs there, and so do the faults a real cluster has: a worker host killed mid-crawl,
//! one that stalls, both without a URL lost or doubled.
//!
//! Skips with the reason where namespaces cannot be made; CI sets `CRAWLBENCH_REQUIRE_NETNS=1`,
//! so there it must run.

mod support;

use std::{
    net::IpAddr,
    thread,
    time::{Duration, Instant},
};

use crawlbench_conformance::lost_worker::{assert_outcomes_verified, extra, wait_until};
use crawlbench_core::{Backend, CrawlJob, CrawlReport, Outcome};
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec};
use support::{OnTestNet, kill_all_in, shared_net, shared_net_unavailable, skip};

crawlbench_conformance::conformance_suite!(OnTestNet, skip_unless = shared_net_unavailable());

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

/// Every URL once, each result right, and no breakdown (not the origin's request count: a
/// worker lost mid-run took requests the origin had already seen, and another sent them again).
fn assert_verified(origin: &RunningOrigin, job: &CrawlJob, report: &CrawlReport) {
    assert_outcomes_verified(origin, job, report);
    assert!(report.failure.is_none(), "{:?}", report.failure);
}

#[test]
fn requests_cross_the_test_network_from_worker_hosts() {
    let net = match shared_net() {
        Ok(net) => net,
        Err(why) => return skip("requests_cross_the_test_network_from_worker_hosts", &why),
    };
    let mut peers = Vec::new();
    for _ in 0..4 {
        let (port, peer) = crawlbench_conformance::one_plain_connection();
        let url = format!("http://127.0.0.1:{port}/x").parse().expect("a URL");
        let job = CrawlJob::list(vec![url])
            .retries(0)
            .build()
            .expect("valid job");
        let report = OnTestNet::backend(&net).run(&job).expect("the run");
        assert_eq!(report.outcomes[0].outcome, Outcome::Status(200));
        peers.push(peer.recv_timeout(Duration::from_secs(10)).expect("a peer"));
    }
    let workers: Vec<IpAddr> = [net.addr(21), net.addr(22)].map(IpAddr::V4).into();
    assert!(
        peers.iter().all(|p| workers.contains(p)),
        "every request came from a worker host {workers:?}: {peers:?}"
    );
}

/// SIGKILLs every process of worker host 1 in the middle of a slow crawl: its lease lapses,
/// what it held goes back to the queue, host 2 fetches it; the crawl still verifies.
#[test]
fn a_killed_worker_host_loses_and_doubles_nothing() {
    let mut net = match shared_net() {
        Ok(net) => net,
        Err(why) => return skip("a_killed_worker_host_loses_and_doubles_nothing", &why),
    };
    let origin = origin(SiteSpec {
        pages: 400,
        latency: "100ms".parse().expect("valid"),
        ..Default::default()
    });
    let job = CrawlJob::crawl(vec![origin.site().seed_url()], 100_000)
        .concurrency(16)
        .worker_watchdog(Duration::from_secs(1))
        .build()
        .expect("valid job");
    let host = net.worker_ns(1);
    let backend = OnTestNet::backend(&net);
    let (report, killed) = thread::scope(|s| {
        let killer = s.spawn(|| {
            if !wait_until(Duration::from_secs(60), || job.progress().done() >= 40) {
                return 0;
            }
            // Mid-page: every worker holds URLs.
            thread::sleep(Duration::from_millis(30));
            kill_all_in(&host, libc::SIGKILL)
        });
        let report = backend.run(&job).expect("the run survives a lost host");
        (report, killer.join().expect("killer thread"))
    });
    net.start_worker(1).expect("worker 1 starts again");
    assert!(killed >= 1, "worker host 1 had a process to kill");
    assert_verified(&origin, &job, &report);
    assert!(report.urls > 400, "whole site crawled: {}", report.urls);
    assert!(
        extra(&report, "workers_reaped") >= 1.0,
        "{:?}",
        report.extra
    );
    assert!(
        extra(&report, "requeued_after_lost_lease") >= 1.0,
        "{:?}",
        report.extra
    );
}

/// SIGSTOPs worker host 2 mid-run and resumes it after: its lease lapses, its URLs are fetched
/// by host 1, and what it completes after waking is refused — one outcome per URL, no hang.
#[test]
fn a_stalled_worker_host_loses_and_doubles_nothing() {
    let net = match shared_net() {
        Ok(net) => net,
        Err(why) => return skip("a_stalled_worker_host_loses_and_doubles_nothing", &why),
    };
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
    let host = net.worker_ns(2);
    let backend = OnTestNet::backend(&net);
    let started = Instant::now();
    let (report, stopped) = thread::scope(|s| {
        let stopper = s.spawn(|| {
            if !wait_until(Duration::from_secs(60), || job.progress().done() >= 60) {
                return 0;
            }
            kill_all_in(&host, libc::SIGSTOP)
        });
        let report = backend.run(&job).expect("the run survives a stalled host");
        (report, stopper.join().expect("stopper thread"))
    });
    let took = started.elapsed();
    kill_all_in(&host, libc::SIGCONT);
    assert!(stopped >= 1, "worker host 2 had a process to stop");
    assert_verified(&origin, &job, &report);
    assert_eq!(report.urls, 400);
    assert!(
        extra(&report, "workers_reaped") >= 1.0,
        "{:?}",
        report.extra
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

/// A network of its own, torn down when the test ends: nothing of it is left behind.
#[test]
fn a_test_network_leaves_nothing_behind() {
    let tag = {
        let net = match support::up(1) {
            Ok(net) => net,
            Err(why) => return skip("a_test_network_leaves_nothing_behind", &why),
        };
        net.worker_ns(1)
    };
    let namespaces = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    assert!(
        !String::from_utf8_lossy(&namespaces.stdout).contains(&tag),
        "{tag} still exists"
    );
}

/// Workers on the `null` stack answer every URL with a 200 and send no request: what the bench
/// uses to measure the frontier's own ceiling (such runs never verify: nothing was fetched).
#[test]
fn null_stack_workers_answer_every_url_without_a_request() {
    let net = match support::up_null(2) {
        Ok(net) => net,
        Err(why) => {
            return skip(
                "null_stack_workers_answer_every_url_without_a_request",
                &why,
            );
        }
    };
    let origin = origin(SiteSpec {
        pages: 300,
        ..Default::default()
    });
    let job = CrawlJob::list(origin.site().list_urls(300).expect("pages"))
        .concurrency(32)
        .build()
        .expect("valid job");
    origin.reset();
    let report = OnTestNet::backend(&net).run(&job).expect("the run");
    assert_eq!(report.urls, 300);
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(
        report
            .outcomes
            .iter()
            .all(|o| o.outcome == Outcome::Status(200) && o.bytes == 0),
        "every outcome a bodiless 200"
    );
    assert_eq!(origin.stats().requests, 0, "no request reached the origin");
    assert!(
        extra(&report, "redis_commands") >= 300.0,
        "{:?}",
        report.extra
    );
}
