//! surf's own pool across name-based virtual hosts (the resolve map's wire behaviour — Host,
//! SNI, unmapped names — is checked for every backend by the conformance suite).

use crawlbench_asyncstd_surf::SurfClient;
use crawlbench_core::AsyncHttp;

/// Requests alternating between two TLS hosts, one at a time, keep one connection per host — a
/// surf client keeps one TLS connection per address *and* name, so moving to the other host
/// does not close the first one's.
#[test]
fn each_virtual_host_keeps_its_own_tls_connection() {
    let (origin, urls, job) = crawlbench_conformance::two_tls_hosts();
    let client = SurfClient::new(&job).expect("client");
    async_std::task::block_on(async {
        for url in &urls {
            let response = client.get(url).await.expect("fetched");
            assert_eq!(response.status, 200, "{url}");
        }
    });
    let stats = origin.stats();
    assert_eq!(
        (stats.connections, stats.requests, stats.tls_handshakes),
        (2, 8, 2)
    );
}
