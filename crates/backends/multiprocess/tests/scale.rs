//! Many requests in flight through real worker processes (ignored by default: it holds
//! thousands of sockets on both sides and takes seconds; run with `--ignored --nocapture`).
//! Prints the wall time and the coordinator's share of the CPU, the figures to watch for the
//! coordinator becoming the bottleneck.

use crawlbench_core::{Backend, CrawlJob};
use crawlbench_multiprocess::{MultiProcess, WorkerCommand};
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec};

const WORKER: &str = env!("CARGO_BIN_EXE_crawlbench-worker");

#[test]
#[ignore = "thousands of sockets; run on purpose"]
fn ten_thousand_in_flight() {
    crawlbench_core::resources::raise_fd_limit();
    let concurrency: u32 = std::env::var("MP_SCALE_C")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(8_000);
    let origin = RunningOrigin::start(
        SiteSpec {
            pages: 2 * concurrency,
            latency: "200ms".parse().expect("valid"),
            ..Default::default()
        },
        OriginConfig {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("the test origin starts");
    for backend in [
        MultiProcess::asynchronous(WorkerCommand::new(WORKER)),
        MultiProcess::asynchronous_smol(WorkerCommand::new(WORKER)),
    ] {
        let job = CrawlJob::list(origin.site().list_urls(2 * concurrency).expect("pages"))
            .concurrency(concurrency as usize)
            .build()
            .expect("valid job");
        let report = crawlbench_conformance::run_and_verify(&backend, &origin, &job);
        let r = &report.resources;
        let own_cpu = r.cpu_user_secs + r.cpu_sys_secs;
        eprintln!(
            "{}: {} URLs at {concurrency} in flight in {:.2} s; coordinator CPU {:.2} s, \
             workers' CPU {:.2} s; extra {:?}",
            backend.info().name,
            report.urls,
            report.wall_secs,
            own_cpu,
            r.children_cpu_secs,
            report.extra
        );
        assert_eq!(report.urls, 2 * concurrency as usize);
    }
}
