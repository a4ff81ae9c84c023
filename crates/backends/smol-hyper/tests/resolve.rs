//! The job's resolve map (curl's `--resolve`): a mapped name is connected to at the mapped
//! address, and still sent as the name — the `Host` header over HTTP, the TLS server name (SNI)
//! over HTTPS. There is no DNS for `*.crawl.test` here, so ignoring the map is a connect error.

use std::{
    io::{Read, Write},
    net::TcpListener,
    sync::Arc,
    thread::JoinHandle,
    time::Duration,
};

use crawlbench_core::{AsyncHttp, CrawlJob, ErrorKind, FetchError, RawResponse, ResolveMap};
use crawlbench_smol_hyper::HyperClient;
use smol::Executor;
use url::Url;

/// A listener on 127.0.0.1 that takes one connection and returns what it received: for plain
/// HTTP the request head (answered with a small 200), for TLS the first bytes of the ClientHello
/// (then the connection is dropped).
fn one_connection(tls: bool) -> (u16, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("one connection");
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
    (port, server)
}

fn job_for(url: &Url) -> CrawlJob {
    let mut map = ResolveMap::default();
    map.insert("h1.crawl.test", "127.0.0.1".parse().expect("an address"));
    CrawlJob::list(vec![url.clone()])
        .resolve(map)
        .timeout(Duration::from_secs(5))
        .retries(0)
        .build()
        .expect("valid job")
}

/// One attempt through the client, on a one-thread executor.
fn get(url: &Url) -> Result<RawResponse, FetchError> {
    let executor = Arc::new(Executor::new());
    let client = HyperClient::new(&job_for(url), &executor).expect("client");
    smol::block_on(executor.run(client.get(url)))
}

#[test]
fn a_mapped_name_connects_to_its_address_and_sends_the_name() {
    let (port, server) = one_connection(false);
    let url = Url::parse(&format!("http://h1.crawl.test:{port}/x")).expect("URL");
    let response = get(&url).expect("fetched");
    assert_eq!((response.status, &response.body[..]), (200, &b"ok"[..]));
    let head = String::from_utf8(server.join().expect("server thread")).expect("UTF-8 head");
    assert!(head.starts_with("GET /x HTTP/1.1\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("\r\nhost: h1.crawl.test:{port}\r\n")),
        "{head}"
    );
}

#[test]
fn a_mapped_https_name_is_the_tls_server_name() {
    let (port, server) = one_connection(true);
    let url = Url::parse(&format!("https://h1.crawl.test:{port}/x")).expect("URL");
    let err = get(&url).expect_err("the listener speaks no TLS");
    assert_ne!(err.kind, ErrorKind::Connect, "{}", err.detail);
    let hello = server.join().expect("server thread");
    assert_eq!(hello.first(), Some(&0x16), "a TLS handshake record");
    assert!(
        hello.windows(13).any(|w| w == b"h1.crawl.test"),
        "SNI carries the name"
    );
}

#[test]
fn names_outside_the_map_resolve_as_before() {
    let (port, server) = one_connection(false);
    let url = Url::parse(&format!("http://localhost:{port}/y")).expect("URL");
    let response = get(&url).expect("fetched");
    assert_eq!(response.status, 200);
    let head = String::from_utf8(server.join().expect("server thread")).expect("UTF-8 head");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("\r\nhost: localhost:{port}\r\n")),
        "{head}"
    );
}
