//! The connect gate across name-based virtual hosts (the resolve map's wire behaviour — Host,
//! SNI, unmapped names — is checked for every backend by the conformance suite).

use std::{
    io::{Read, Write},
    net::TcpListener,
    time::Duration,
};

use crawlbench_core::{AsyncHttp, CrawlJob, HttpVersion, ResolveMap};
use crawlbench_tokio_reqwest::ReqwestClient;
use url::Url;

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
