//! The keep-alive pool: connections are reused across requests, so the origin accepts no more
//! connections than requests were ever in flight at once, and every request is one the origin
//! saw (no hidden resends) — in plain text and over TLS. With `connections = fresh` nothing is
//! reused: one connection (and one handshake) per request.

use crawlbench_core::{Backend, ConnectionPolicy, CrawlReport, report::OriginStats};
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec, TlsKey};
use crawlbench_smol_hyper::SmolHyper;

fn run_list(
    backend: &SmolHyper,
    urls: u32,
    concurrency: usize,
    tls: bool,
    policy: ConnectionPolicy,
) -> (CrawlReport, OriginStats) {
    let origin = RunningOrigin::start(
        SiteSpec {
            pages: urls + 10,
            latency: "uniform:0ms..3ms".parse().expect("valid"),
            tls: tls.then_some(TlsKey::EcdsaP256),
            ..Default::default()
        },
        OriginConfig {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("origin starts");
    let job = origin
        .site()
        .list_job(urls)
        .expect("pages")
        .concurrency(concurrency)
        .connections(policy)
        .build()
        .expect("valid job");
    origin.reset();
    let report = backend.run(&job).expect("run");
    (report, origin.stats())
}

fn check_reuse(backend: SmolHyper, tls: bool) {
    let (urls, concurrency) = (300, 8);
    let (report, stats) = run_list(&backend, urls, concurrency, tls, ConnectionPolicy::Reuse);
    assert_eq!(report.successes, urls as usize, "{:?}", report.errors);
    assert_eq!(stats.requests, u64::from(urls), "one request per URL");
    let handshakes = if tls { stats.connections } else { 0 };
    assert_eq!(stats.tls_handshakes, handshakes, "{stats:?}");
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

fn check_fresh(backend: SmolHyper, tls: bool) {
    let (urls, concurrency) = (60, 8);
    let (report, stats) = run_list(&backend, urls, concurrency, tls, ConnectionPolicy::Fresh);
    assert_eq!(report.successes, urls as usize, "{:?}", report.errors);
    let handshakes = if tls { u64::from(urls) } else { 0 };
    assert_eq!(
        (stats.requests, stats.connections, stats.tls_handshakes),
        (u64::from(urls), u64::from(urls), handshakes)
    );
    let extra = |k: &str| report.extra.get(k).copied().unwrap_or(-1.0);
    assert_eq!(extra("connections_opened"), f64::from(urls));
    assert_eq!(extra("connections_reused"), 0.0);
}

#[test]
fn multi_thread_reuses_connections() {
    check_reuse(SmolHyper::multi_thread(), false);
    check_reuse(SmolHyper::multi_thread(), true);
}

#[test]
fn single_thread_reuses_connections() {
    check_reuse(SmolHyper::single_thread(), false);
    check_reuse(SmolHyper::single_thread(), true);
}

#[test]
fn fresh_never_reuses_a_connection() {
    for tls in [false, true] {
        check_fresh(SmolHyper::multi_thread(), tls);
        check_fresh(SmolHyper::single_thread(), tls);
    }
}
