//! The job's resolve map (curl's `--resolve`): a mapped name is connected to at the mapped
//! address, and still sent as the name — the `Host` header over HTTP, the TLS server name (SNI)
//! over HTTPS. There is no DNS for `*.crawl.test` here, so ignoring the map is a connect error.

use std::{
    io::{Read, Write},
    net::TcpListener,
    thread::JoinHandle,
    time::Duration,
};

use crawlbench_core::{
    AsyncHttp, CrawlJob, ErrorKind, FetchError, HttpVersion, RawResponse, ResolveMap,
};
use crawlbench_tokio_reqwest::ReqwestClient;
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

/// One attempt through the HTTP/1.1 client, on a current-thread runtime.
fn get(url: &Url) -> Result<RawResponse, FetchError> {
    let job = job_for(url);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = ReqwestClient::new(&job, HttpVersion::Http1, 1).expect("client");
        client.get(url).await
    })
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

/// A keep-alive server on 127.0.0.1: every connection answers every request with a small 200
/// and stays open. Returns its port and the number of connections accepted so far.
fn keep_alive_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::{Arc, atomic::AtomicUsize, atomic::Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    while let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        got.drain(..end + 4);
                        if conn
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            });
        }
    });
    (port, accepted)
}

/// The connect gate's budget is per host, as hyper-util's pool is: an idle keep-alive connection
/// to one virtual host must not make a connect to another wait out the gate's grace period.
#[test]
fn each_host_has_its_own_connection_budget() {
    let (port, accepted) = keep_alive_server();
    let url = |host: &str| Url::parse(&format!("http://{host}:{port}/x")).expect("URL");
    let mut map = ResolveMap::default();
    for host in ["h1.crawl.test", "h2.crawl.test"] {
        map.insert(host, "127.0.0.1".parse().expect("an address"));
    }
    let job = CrawlJob::list(vec![url("h1.crawl.test")])
        .resolve(map)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("valid job");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        // One request in flight: a budget of one connection per host.
        let client = ReqwestClient::new(&job, HttpVersion::Http1, 1).expect("client");
        for host in ["h1.crawl.test", "h2.crawl.test", "h1.crawl.test"] {
            let started = std::time::Instant::now();
            let response = client.get(&url(host)).await.expect("fetched");
            assert_eq!(response.status, 200);
            // The grace period is a second here; a shared budget would wait it out for h2.
            assert!(
                started.elapsed() < Duration::from_millis(500),
                "{host} took {:?}",
                started.elapsed()
            );
        }
    });
    // One connection per host, the first reused for the third request.
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
}
