//! The origin as several processes sharing one port (`SO_REUSEPORT`), through the real binary:
//! a 3-process cluster serves a verified run of a real backend, every member takes a share, and
//! the merged counters prove the run's concurrency across them; sites the cluster cannot prove
//! (several hosts) and bad `serve-origin` arguments are refused, saying what is accepted.

use std::{path::PathBuf, process::Command, time::Duration};

use crawlbench_campaign::Host;
use crawlbench_origin::{LatencyModel, SiteSpec, verified_run};

/// The campaign's host, with the real binary playing the origin.
fn host() -> Host {
    Host {
        program: PathBuf::from(env!("CARGO_BIN_EXE_crawlbench")),
        ..crawlbench::campaign_host().expect("this test's executable")
    }
}

#[test]
fn three_processes_serve_one_port_and_prove_the_concurrency_together() {
    crawlbench_core::resources::raise_fd_limit();
    let spec = SiteSpec {
        pages: 600,
        latency: LatencyModel::Fixed { ms: 300.0 },
        ..Default::default()
    };
    let mut origin = host()
        .start_origin_with(&spec, Some(1), 3)
        .expect("a 3-process origin starts");
    assert_eq!(origin.processes(), 3);
    let mut pids = origin.pids();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 3, "three distinct processes: {pids:?}");

    let job = origin
        .site()
        .list_job(600)
        .expect("600 pages")
        .concurrency(300)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a valid job");
    let backend = crawlbench::backend("tokio-reqwest").expect("registered");
    let report = verified_run(&*backend, &job, &mut origin).expect("the run completes");
    let stats = report.origin.clone().expect("the origin's counters");
    eprintln!(
        "origin_cluster: client peak {}, cluster peak {}, members {:?}",
        report.peak_in_flight, stats.peak_in_flight, stats.processes
    );

    assert_eq!(report.verified(), Some(true), "{:?}", report.verification);
    assert_eq!(stats.requests, 600);
    assert_eq!(report.peak_in_flight, 300, "the client kept 300 in flight");
    // The cluster's peak is a lower bound (per 10 ms bucket, the sum of each member's fewest in
    // flight), so it never exceeds the truth. With 300 ms per request the first wave's 300
    // requests are all in flight together for far longer than a bucket, so it is exact here;
    // 5 of slack only covers a machine so loaded that the first wave's arrivals spread over
    // nearly the whole 300 ms, leaving no whole bucket of the plateau.
    assert!(
        (295..=300).contains(&stats.peak_in_flight),
        "cluster peak {} (client peak {})",
        stats.peak_in_flight,
        report.peak_in_flight
    );
    assert_eq!(stats.processes.len(), 3, "{:?}", stats.processes);
    for m in &stats.processes {
        assert!(m.requests > 0, "every member served requests: {m:?}");
        assert!(m.connections > 0, "{m:?}");
        assert!(m.cpu_secs > 0.0, "a member's CPU is reported: {m:?}");
        assert!(
            m.peak_rss_bytes > 0,
            "a member's peak RSS is reported: {m:?}"
        );
        assert!(m.peak_in_flight <= 300, "{m:?}");
    }
    assert_eq!(stats.processes.iter().map(|m| m.requests).sum::<u64>(), 600);
    assert_eq!(
        stats.processes.iter().map(|m| m.connections).sum::<u64>(),
        stats.connections
    );
    // No member alone held the peak: the merged figure is more than any member's own.
    let most = stats.processes.iter().map(|m| m.peak_in_flight).max();
    assert!(Some(stats.peak_in_flight) > most, "{stats:?}");
    let cpu: f64 = stats.processes.iter().map(|m| m.cpu_secs).sum();
    assert!((stats.cpu_secs.expect("cluster CPU") - cpu).abs() < 1e-9);

    // Reset reaches every member.
    origin.reset().expect("reset");
    let after = origin.stats().expect("stats after reset");
    assert_eq!((after.requests, after.peak_in_flight), (0, 0), "{after:?}");
    assert!(after.processes.iter().all(|m| m.requests == 0));
    origin.stop();
}

#[test]
fn one_child_origin_reports_its_own_entry() {
    let spec = SiteSpec {
        pages: 20,
        ..Default::default()
    };
    let mut origin = host().start_origin(&spec).expect("a one-process origin");
    let job = origin
        .site()
        .list_job(20)
        .unwrap()
        .concurrency(4)
        .build()
        .unwrap();
    let backend = crawlbench::backend("tokio-reqwest").expect("registered");
    let report = verified_run(&*backend, &job, &mut origin).expect("the run completes");
    assert_eq!(report.verified(), Some(true));
    let stats = report.origin.expect("the origin's counters");
    assert_eq!(stats.processes.len(), 1, "{stats:?}");
    let only = &stats.processes[0];
    assert_eq!(only.pid, origin.pid());
    assert_eq!((only.requests, stats.requests), (20, 20));
    assert_eq!(only.peak_in_flight, stats.peak_in_flight);
    assert!(only.peak_rss_bytes > 0 && only.cpu_secs > 0.0, "{only:?}");
}

#[test]
fn a_multi_host_site_is_served_by_one_process() {
    let spec = SiteSpec {
        pages: 40,
        hosts: 4,
        ..Default::default()
    };
    let err = host()
        .start_origin_with(&spec, None, 2)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("a multi-host site is served by one origin process")
            && err.contains("accepted: processes = 1 for hosts > 1"),
        "{err}"
    );
}

#[test]
fn bad_serve_origin_arguments_exit_2_saying_what_is_accepted() {
    let spec = serde_json::to_string(&SiteSpec::default()).unwrap();
    for bad in [
        vec!["--reuse-port"],
        vec!["--reuse-port", "http"],
        vec!["--reuse-port", "70000"],
        vec!["2", "3"],
        vec!["zero"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_crawlbench"))
            .arg("serve-origin")
            .arg(&spec)
            .args(&bad)
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(
            stderr.contains("usage: serve-origin SPEC_JSON [THREADS] [--reuse-port PORT]"),
            "{bad:?}: {stderr}"
        );
    }
}
