//! Connection keeping, the one thing this backend does beyond stock surf: each attempt leases a
//! surf client and returns it only after a complete response, and https goes through our own
//! transport (async-h1 over futures-rustls) that keeps one TLS connection per leased client.
//! These checks make sure that keeps keep-alive working in plain text and over TLS (a lease or a
//! TLS stream that was never returned would silently turn the backend into connection-per-request),
//! that the origin never sees more connections than the job's limit, and that `fresh` really opens
//! one connection (and one handshake) per request.

use crawlbench_asyncstd_surf::AsyncStdSurf;
use crawlbench_conformance::run_and_verify;
use crawlbench_core::ConnectionPolicy;
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec, TlsKey};

fn start(tls: Option<TlsKey>) -> RunningOrigin {
    RunningOrigin::start(
        SiteSpec {
            pages: 300,
            tls,
            ..Default::default()
        },
        OriginConfig {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("origin starts")
}

#[test]
fn healthy_connections_are_reused_and_bounded_by_concurrency_in_both_schemes() {
    for tls in [None, Some(TlsKey::EcdsaP256)] {
        let origin = start(tls);
        let job = origin
            .site()
            .list_job(240)
            .expect("pages")
            .concurrency(8)
            .build()
            .expect("valid job");
        let report = run_and_verify(&AsyncStdSurf::new(), &origin, &job);
        let stats = report.origin.expect("origin stats");
        assert_eq!(stats.requests, 240);
        assert!(
            stats.connections <= 8,
            "{} connections for {} requests at concurrency 8 (TLS {tls:?}): healthy \
             keep-alive connections were not reused",
            stats.connections,
            stats.requests
        );
        let expected_handshakes = if tls.is_some() { stats.connections } else { 0 };
        assert_eq!(stats.tls_handshakes, expected_handshakes);
    }
}

#[test]
fn fresh_opens_one_connection_per_request_in_both_schemes() {
    for tls in [None, Some(TlsKey::EcdsaP256)] {
        let origin = start(tls);
        let job = origin
            .site()
            .list_job(60)
            .expect("pages")
            .concurrency(4)
            .connections(ConnectionPolicy::Fresh)
            .build()
            .expect("valid job");
        let report = run_and_verify(&AsyncStdSurf::new(), &origin, &job);
        let stats = report.origin.expect("origin stats");
        assert_eq!((stats.requests, stats.connections), (60, 60), "tls {tls:?}");
        let handshakes = if tls.is_some() { 60 } else { 0 };
        assert_eq!(stats.tls_handshakes, handshakes, "tls {tls:?}");
    }
}
