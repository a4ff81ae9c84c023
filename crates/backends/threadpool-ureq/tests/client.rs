//! The client on its own, one request at a time: which roots it trusts and whether it keeps
//! connections, checked against the origin's own counters.

use crawlbench_core::{BlockingHttp, ConnectionPolicy, CrawlJob, ErrorKind};
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec, TlsKey};
use crawlbench_threadpool_ureq::UreqClient;

fn start(tls: bool) -> RunningOrigin {
    RunningOrigin::start(
        SiteSpec {
            pages: 10,
            tls: tls.then_some(TlsKey::EcdsaP256),
            ..Default::default()
        },
        OriginConfig {
            threads: 1,
            ..Default::default()
        },
    )
    .expect("the test origin starts on 127.0.0.1:0")
}

/// Fetches every page of `origin` one after the other with `policy`; returns the origin's
/// (connections, requests, handshakes).
fn fetch_all(origin: &RunningOrigin, policy: ConnectionPolicy) -> (u64, u64, u64) {
    let urls = origin.site().list_urls(10).expect("pages");
    let mut job = CrawlJob::list(urls.clone()).connections(policy);
    if let Some(pem) = origin.site().ca_pem() {
        job = job.trust_ca_pem(pem);
    }
    let job = job.build().expect("valid job");
    let client = UreqClient::new(&job, 4);
    origin.reset();
    for url in &urls {
        let response = client.get(url).expect("page fetched");
        assert_eq!(response.status, 200, "{url}");
    }
    let stats = origin.stats();
    (stats.connections, stats.requests, stats.tls_handshakes)
}

#[test]
fn fresh_dials_per_request_and_reuse_keeps_one_connection() {
    let plain = start(false);
    assert_eq!(fetch_all(&plain, ConnectionPolicy::Fresh), (10, 10, 0));
    assert_eq!(fetch_all(&plain, ConnectionPolicy::Reuse), (1, 10, 0));
    let tls = start(true);
    assert_eq!(fetch_all(&tls, ConnectionPolicy::Fresh), (10, 10, 10));
    assert_eq!(fetch_all(&tls, ConnectionPolicy::Reuse), (1, 10, 1));
}

#[test]
fn https_without_a_trusted_ca_trusts_nothing() {
    let origin = start(true);
    let url = origin.site().list_urls(1).expect("pages").remove(0);
    assert_eq!(url.scheme(), "https");
    let job = CrawlJob::list(vec![url.clone()])
        .build()
        .expect("valid job");
    let err = UreqClient::new(&job, 1)
        .get(&url)
        .expect_err("no root is trusted without a CA");
    assert_eq!(err.kind, ErrorKind::Tls, "{}", err.detail);
    assert!(
        err.detail.to_ascii_lowercase().contains("certificate"),
        "{}",
        err.detail
    );
    assert_eq!(origin.stats().requests, 0);
}

#[test]
fn another_runs_ca_is_a_tls_error() {
    let origin = start(true);
    let other = start(true);
    let url = origin.site().list_urls(1).expect("pages").remove(0);
    let job = CrawlJob::list(vec![url.clone()])
        .trust_ca_pem(other.site().ca_pem().expect("TLS origin has a CA"))
        .build()
        .expect("valid job");
    let err = UreqClient::new(&job, 1)
        .get(&url)
        .expect_err("a certificate from another CA is not trusted");
    assert_eq!(err.kind, ErrorKind::Tls, "{}", err.detail);
    assert_eq!(origin.stats().requests, 0);
}
