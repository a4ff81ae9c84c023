//! Connection reuse, the one thing this backend does beyond stock surf: each attempt leases a
//! surf client and returns it only after a complete response. These checks make sure that keeps
//! keep-alive working (a lease that was never returned would silently turn the backend into
//! connection-per-request), and that the origin never sees more connections than the job's limit.

use crawlbench_asyncstd_surf::AsyncStdSurf;
use crawlbench_conformance::run_and_verify;
use crawlbench_core::CrawlJob;
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec};

#[test]
fn healthy_connections_are_reused_and_bounded_by_concurrency() {
    let origin = RunningOrigin::start(
        SiteSpec {
            pages: 300,
            ..Default::default()
        },
        OriginConfig {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("origin starts");
    let job = CrawlJob::list(origin.site().list_urls(240).expect("pages"))
        .concurrency(8)
        .build()
        .expect("valid job");
    let report = run_and_verify(&AsyncStdSurf::new(), &origin, &job);
    let stats = report.origin.expect("origin stats");
    assert_eq!(stats.requests, 240);
    assert!(
        stats.connections <= 8,
        "{} connections for {} requests at concurrency 8: healthy keep-alive connections \
         were not reused",
        stats.connections,
        stats.requests
    );
}
