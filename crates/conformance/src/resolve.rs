//! Checks of the job's resolve map (curl's `--resolve`) on the wire: a mapped name is connected
//! to at its mapped address and still sent as the name — the `Host` header over HTTP/1.1, the
//! TLS server name (SNI) over HTTPS — and names outside the map resolve as before.
//!
//! The multi-host crawls elsewhere in the suite prove the map is honoured end to end (the origin
//! routes by `Host`); these look at the bytes a backend sends, through a one-connection listener
//! of their own, so a backend that connects to the right place but names the wrong host (or the
//! address as SNI) is caught by what it wrote, not by a 404.

use std::{
    io::{Read, Write},
    net::{IpAddr, TcpListener},
    sync::mpsc,
    thread::JoinHandle,
    time::Duration,
};

use crawlbench_core::{ConnectionPolicy, CrawlJob, ErrorKind, HttpVersion, Outcome, ResolveMap};
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec, TlsKey};
use url::Url;

use crate::{Backend, has_tls_or_refuses, start};

/// The name the checks map to 127.0.0.1 (no DNS knows it).
const NAME: &str = "h1.crawl.test";

/// A listener on 127.0.0.1 that takes one connection and returns what it received: for plain
/// HTTP the request head (answered with a small 200 and closed), for TLS the ClientHello (then
/// the connection is dropped).
fn one_connection(tls: bool) -> (u16, JoinHandle<Vec<u8>>) {
    let (port, server, _peer) = listen_once(tls);
    (port, server)
}

/// A plain-HTTP listener on 127.0.0.1 for one connection, answered with a small 200, for a
/// client's own tests (e.g. of the address it connects from): its port, and the address the
/// connection came from once it arrived.
pub fn one_plain_connection() -> (u16, mpsc::Receiver<IpAddr>) {
    let (port, _server, peer) = listen_once(false);
    (port, peer)
}

/// [`one_connection`], with the peer's address sent on a channel as soon as it connects.
fn listen_once(tls: bool) -> (u16, JoinHandle<Vec<u8>>, mpsc::Receiver<IpAddr>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    let (peer_tx, peer) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let (mut conn, from) = listener.accept().expect("one connection");
        let _ = peer_tx.send(from.ip());
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !(got.windows(4).any(|w| w == b"\r\n\r\n") || tls && got.len() >= 64) {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        if tls {
            // Let the rest of the ClientHello arrive (the name may come late in it).
            std::thread::sleep(Duration::from_millis(100));
            conn.set_nonblocking(true).expect("nonblocking");
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
        } else {
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
        got
    });
    (port, server, peer)
}

/// A one-URL job for `url` with [`NAME`] mapped to 127.0.0.1, one attempt.
fn job_for(url: &Url, ca_pem: Option<&str>, policy: ConnectionPolicy) -> CrawlJob {
    let mut map = ResolveMap::default();
    map.insert(NAME, "127.0.0.1".parse().expect("an address"));
    let job = CrawlJob::list(vec![url.clone()])
        .resolve(map)
        .concurrency(1)
        .timeout(Duration::from_secs(5))
        .retries(0)
        .connections(policy);
    match ca_pem {
        Some(pem) => job.trust_ca_pem(pem),
        None => job,
    }
    .build()
    .expect("valid job")
}

/// Runs `url` on `backend` against a one-connection listener; returns the one outcome and what
/// the listener received.
fn fetch_once(
    backend: &dyn Backend,
    host: &str,
    tls: bool,
    ca_pem: Option<&str>,
    policy: ConnectionPolicy,
) -> (Outcome, Vec<u8>) {
    let (port, server) = one_connection(tls);
    let scheme = if tls { "https" } else { "http" };
    let url = Url::parse(&format!("{scheme}://{host}:{port}/x")).expect("URL");
    let report = backend
        .run(&job_for(&url, ca_pem, policy))
        .unwrap_or_else(|e| panic!("{}: run failed: {e}", backend.info().name));
    let outcome = report
        .outcomes
        .first()
        .expect("one outcome")
        .outcome
        .clone();
    (outcome, server.join().expect("the listener thread"))
}

/// Over plain HTTP, under each connection policy the backend implements (a pool and a
/// connection per request can take different connect paths), a mapped name reaches the mapped
/// address and is sent as the name; a name outside the map (`localhost`) resolves as before. HTTP/1.1 backends are read by their
/// request head (`Host: h1.crawl.test:PORT`); an HTTP/2 backend speaks prior knowledge, whose
/// `:authority` is compressed, so for it the connection reaching the listener with the HTTP/2
/// preface is what is checked (its names are checked end to end by the multi-host crawls).
pub fn resolve_map_connects_to_the_address_and_sends_the_name(backend: &dyn Backend) {
    let info = backend.info();
    let name = info.name;
    let cases = info
        .connection_policies
        .iter()
        .flat_map(|&policy| [(NAME, policy), ("localhost", policy)]);
    for (host, policy) in cases {
        let (outcome, head) = fetch_once(backend, host, false, None, policy);
        if info.http == HttpVersion::Http2 {
            assert!(
                head.starts_with(b"PRI * HTTP/2.0\r\n"),
                "{name}: {host}: {:?}",
                String::from_utf8_lossy(&head)
            );
            continue;
        }
        assert_eq!(outcome, Outcome::Status(200), "{name}: {host}");
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        assert!(head.starts_with("get /x http/1.1\r\n"), "{name}: {head}");
        assert!(
            head.contains(&format!("\r\nhost: {host}:")),
            "{name}: the Host header names {host}: {head}"
        );
    }
}

/// Over HTTPS, a mapped name is the TLS server name the backend sends (SNI), not the address:
/// the listener speaks no TLS, so the run's outcome is a failed handshake — never a connect
/// error, which would mean the name was looked up instead of mapped.
pub fn resolve_map_name_is_the_tls_server_name(backend: &dyn Backend) {
    if !has_tls_or_refuses(backend) {
        return;
    }
    // Any run's CA will do: the listener never gets as far as a certificate.
    let origin = start(SiteSpec {
        pages: 1,
        tls: Some(TlsKey::EcdsaP256),
        ..Default::default()
    });
    let ca = origin.site().ca_pem().expect("a TLS origin has a CA");
    let (outcome, hello) = fetch_once(backend, NAME, true, Some(ca), ConnectionPolicy::Reuse);
    let name = backend.info().name;
    assert_ne!(
        outcome,
        Outcome::Error(ErrorKind::Connect),
        "{name}: {NAME} was not connected to its mapped address"
    );
    assert_eq!(hello.first(), Some(&0x16), "{name}: a TLS handshake record");
    assert!(
        hello.windows(NAME.len()).any(|w| w == NAME.as_bytes()),
        "{name}: the ClientHello's server name is {NAME}"
    );
}

/// For a client's own pool test: a two-host HTTPS site by name (the certificate is checked
/// against each name), its 8 pages alternating between `h0.crawl.test` and `h1.crawl.test`, and
/// a list job of them with one request in flight; the origin's counters are reset. A client that
/// keeps a connection per host then opens exactly 2 connections for the 8 requests.
pub fn two_tls_hosts() -> (RunningOrigin, Vec<Url>, CrawlJob) {
    let origin = RunningOrigin::start(
        SiteSpec {
            pages: 8,
            hosts: 2,
            tls: Some(TlsKey::EcdsaP256),
            ..Default::default()
        },
        OriginConfig {
            threads: 1,
            ..Default::default()
        },
    )
    .expect("the test origin starts on 127.0.0.1:0");
    let urls = origin.site().list_urls(8).expect("pages");
    let hosts: std::collections::BTreeSet<_> = urls.iter().filter_map(Url::host_str).collect();
    assert_eq!(
        hosts.into_iter().collect::<Vec<_>>(),
        ["h0.crawl.test", "h1.crawl.test"]
    );
    let job = origin
        .site()
        .list_job(8)
        .expect("pages")
        .concurrency(1)
        .build()
        .expect("valid job");
    origin.reset();
    (origin, urls, job)
}
