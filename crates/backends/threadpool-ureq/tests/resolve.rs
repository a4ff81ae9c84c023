//! The shared `UreqClient`'s pool across name-based virtual hosts (the resolve map's wire
//! behaviour — Host, SNI, unmapped names — is checked for every backend by the conformance
//! suite).

use crawlbench_core::BlockingHttp;
use crawlbench_threadpool_ureq::UreqClient;

/// With the pool sized for one connection, requests alternating between two TLS hosts keep one
/// connection per host — the pool holds its per-host limit for every host the job names, so
/// moving to the other host does not evict the first one's connection.
#[test]
fn each_virtual_host_keeps_its_own_tls_connection() {
    let (origin, urls, job) = crawlbench_conformance::two_tls_hosts();
    // One connection, as a `multiprocess-blocking` worker sizes it.
    let client = UreqClient::new(&job, 1);
    for url in &urls {
        let response = client.get(url).expect("fetched");
        assert_eq!(response.status, 200, "{url}");
    }
    let stats = origin.stats();
    assert_eq!(
        (stats.connections, stats.requests, stats.tls_handshakes),
        (2, 8, 2)
    );
}
