//! Criterion group `connection-floor`: what one request costs at the least, with and without a
//! new TLS connection — the floor the `tls` workload's `fresh` cell is read against.
//!
//! - `tls13-handshake-pair/{ecdsa-p256,rsa-2048}`: one rustls client and one rustls server
//!   completing a TLS 1.3 handshake in memory (no sockets, no waiting): the CPU both sides pay
//!   for a new connection, with the origin's own certificate and the ring provider every backend
//!   here uses.
//! - `plaintext-request`: one GET of a 2 KiB page over a kept-alive loopback connection to an
//!   in-process origin, through ureq (client and server on the same two cores, as in every run).
//! - `fresh-tls-request`: the same GET over a new TCP + TLS connection each time.
//!
//! A backend whose `fresh` CPU per request is near handshake pair + plaintext request is at the
//! floor; the report's target is within 1.5× of it.

use std::{hint::black_box, sync::Arc};

use crawlbench_core::{BlockingHttp, ConnectionPolicy, CrawlJob};
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec, TlsKey, tls::issue};
use crawlbench_threadpool_ureq::UreqClient;
use criterion::{Criterion, criterion_group, criterion_main};
use rustls::{ClientConfig, ClientConnection, Connection, RootCertStore, ServerConnection};
use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};

fn client_config(ca_pem: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("valid PEM")).expect("valid CA");
    }
    Arc::new(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS 1.3 and 1.2")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Moves every pending TLS record from `from` to `to` and lets `to` process them.
fn pump(from: &mut Connection, to: &mut Connection) {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).expect("in-memory write");
    }
    let mut slice = &buf[..];
    while !slice.is_empty() {
        to.read_tls(&mut slice).expect("in-memory read");
        to.process_new_packets().expect("handshake proceeds");
    }
}

fn bench_handshake(c: &mut Criterion) {
    let mut g = c.benchmark_group("connection-floor");
    let ip = std::net::IpAddr::from([127, 0, 0, 1]);
    for key in [TlsKey::EcdsaP256, TlsKey::Rsa2048] {
        let material = issue(key, ip).expect("certificate issued");
        let client = client_config(&material.ca_pem);
        let name = ServerName::IpAddress(ip.into());
        g.bench_function(format!("tls13-handshake-pair/{}", key.as_str()), |b| {
            b.iter(|| {
                let mut cl = Connection::Client(
                    ClientConnection::new(Arc::clone(&client), name.clone())
                        .expect("client connection"),
                );
                let mut sv = Connection::Server(
                    ServerConnection::new(Arc::clone(&material.server)).expect("server connection"),
                );
                while cl.is_handshaking() || sv.is_handshaking() {
                    pump(&mut cl, &mut sv);
                    pump(&mut sv, &mut cl);
                }
                black_box((cl, sv))
            })
        });
    }
    g.finish();
}

fn bench_requests(c: &mut Criterion) {
    let mut g = c.benchmark_group("connection-floor");
    let config = OriginConfig {
        threads: 1,
        ..Default::default()
    };
    let plain = RunningOrigin::start(SiteSpec::default(), config.clone()).expect("origin starts");
    let tls = RunningOrigin::start(
        SiteSpec {
            tls: Some(TlsKey::EcdsaP256),
            ..Default::default()
        },
        config,
    )
    .expect("TLS origin starts");
    let cases = [
        ("plaintext-request", &plain, ConnectionPolicy::Reuse),
        ("fresh-tls-request", &tls, ConnectionPolicy::Fresh),
    ];
    for (name, origin, policy) in cases {
        let site = origin.site();
        let url = site.page_url(1);
        let job: CrawlJob = site
            .list_job(1)
            .expect("one page")
            .connections(policy)
            .build()
            .expect("valid job");
        let client = UreqClient::new(&job, 1);
        g.bench_function(name, |b| {
            b.iter(|| {
                let response = client.get(black_box(&url)).expect("the page is served");
                assert_eq!(response.status, 200);
                response.body.len()
            })
        });
    }
    g.finish();
}

criterion_group!(connection_floor, bench_handshake, bench_requests);
criterion_main!(connection_floor);
