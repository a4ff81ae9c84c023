//! The keep-alive pool: connections are reused across requests, so the origin accepts no more
//! connections than requests were ever in flight at once, and every request is one the origin
//! saw (no hidden resends).

use crawlbench_core::{Backend, CrawlJob, CrawlReport, report::OriginStats};
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec};
use crawlbench_smol_hyper::SmolHyper;

fn run_list(backend: &SmolHyper, urls: u32, concurrency: usize) -> (CrawlReport, OriginStats) {
    let origin = RunningOrigin::start(
        SiteSpec {
            pages: urls + 10,
            latency: "uniform:0ms..3ms".parse().expect("valid"),
            ..Default::default()
        },
        OriginConfig {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("origin starts");
    let job = CrawlJob::list(origin.site().list_urls(urls).expect("pages"))
        .concurrency(concurrency)
        .build()
        .expect("valid job");
    origin.reset();
    let report = backend.run(&job).expect("run");
    (report, origin.stats())
}

fn check_reuse(backend: SmolHyper) {
    let (urls, concurrency) = (300, 8);
    let (report, stats) = run_list(&backend, urls, concurrency);
    assert_eq!(report.successes, urls as usize, "{:?}", report.errors);
    assert_eq!(stats.requests, u64::from(urls), "one request per URL");
    assert!(
        stats.connections >= 1 && stats.connections <= concurrency as u64,
        "the origin accepted {} connections for {urls} requests, {concurrency} in flight",
        stats.connections
    );
    let extra = |k: &str| report.extra.get(k).copied().unwrap_or(-1.0);
    assert_eq!(extra("connections_opened"), stats.connections as f64);
    assert_eq!(
        extra("connections_reused"),
        (u64::from(urls) - stats.connections) as f64,
        "every request not on a new connection went on a pooled one"
    );
}

#[test]
fn multi_thread_reuses_connections() {
    check_reuse(SmolHyper::multi_thread());
}

#[test]
fn single_thread_reuses_connections() {
    check_reuse(SmolHyper::single_thread());
}
