//! `HyperClient` over TLS and with fresh connections, against hand-written servers: the plain
//! end of a TLS stream (no `close_notify`) is a reset or a truncation like over plain TCP — not
//! a TLS failure; ALPN offers only `http/1.1`; keep-alive works through TLS; `fresh` opens one
//! connection per request and pools none; a `localhost` URL is verified as a DNS name.

use std::{
    io::{BufRead, BufReader, Write},
    net::{IpAddr, Ipv4Addr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
    time::Duration,
};

use crawlbench_core::{AsyncHttp, ConnectionPolicy, CrawlJob, ErrorKind, FetchError, RawResponse};
use crawlbench_origin::{TlsKey, tls::issue};
use crawlbench_smol_hyper::HyperClient;
use rustls::{ServerConnection, StreamOwned};
use smol::Executor;
use url::Url;

type Tls = StreamOwned<ServerConnection, TcpStream>;

/// A loopback server: TLS (with the CA to trust) or plain, handing each connection to `handle`.
struct Server {
    url: Url,
    ca_pem: Option<String>,
    connections: Arc<AtomicUsize>,
    /// The ALPN protocol each TLS connection negotiated.
    alpn: Arc<Mutex<Vec<Option<Vec<u8>>>>>,
}

/// Reads one request head; false when the client closed (or failed) first.
fn read_request<R: BufRead>(reader: &mut R) -> bool {
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) if line == "\r\n" => return true,
            Ok(_) => {}
        }
    }
}

fn serve_tls(handle: impl Fn(&mut BufReader<Tls>) + Send + Sync + 'static) -> Server {
    let material = issue(TlsKey::EcdsaP256, IpAddr::V4(Ipv4Addr::LOCALHOST)).expect("cert");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = Url::parse(&format!("https://{}/page", listener.local_addr().unwrap())).unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let alpn: Arc<Mutex<Vec<Option<Vec<u8>>>>> = Arc::default();
    let (counter, seen, config) = (Arc::clone(&connections), Arc::clone(&alpn), material.server);
    let handle = Arc::new(handle);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let (handle, seen) = (Arc::clone(&handle), Arc::clone(&seen));
            let conn = ServerConnection::new(Arc::clone(&config)).expect("server connection");
            thread::spawn(move || {
                let mut tls = StreamOwned::new(conn, stream);
                while tls.conn.is_handshaking() {
                    if tls.conn.complete_io(&mut tls.sock).is_err() {
                        return;
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(tls.conn.alpn_protocol().map(<[u8]>::to_vec));
                handle(&mut BufReader::new(tls));
            });
        }
    });
    Server {
        url,
        ca_pem: Some(material.ca_pem),
        connections,
        alpn,
    }
}

fn serve_plain(handle: impl Fn(&mut BufReader<TcpStream>) + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = Url::parse(&format!("http://{}/page", listener.local_addr().unwrap())).unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    let handle = Arc::new(handle);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let handle = Arc::clone(&handle);
            thread::spawn(move || handle(&mut BufReader::new(stream)));
        }
    });
    Server {
        url,
        ca_pem: None,
        connections,
        alpn: Arc::default(),
    }
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// Answers every request on the connection until the client closes it.
fn keep_alive<S: std::io::Read + Write>(r: &mut BufReader<S>) {
    while read_request(r) {
        let _ = r.get_mut().write_all(OK);
        let _ = r.get_mut().flush();
    }
}

/// `gets` sequential attempts at `url` with one client; the results and the idle pool after.
fn get_n(
    server: &Server,
    url: &Url,
    policy: ConnectionPolicy,
    gets: usize,
) -> (Vec<Result<RawResponse, FetchError>>, usize) {
    let mut job = CrawlJob::list(vec![url.clone()])
        .timeout(Duration::from_secs(5))
        .connections(policy);
    if let Some(pem) = &server.ca_pem {
        job = job.trust_ca_pem(pem.clone());
    }
    let job = job.build().expect("valid job");
    let executor = Arc::new(Executor::new());
    let client = HyperClient::new(&job, &executor).expect("client");
    let results = smol::block_on(executor.run(async {
        let mut results = Vec::new();
        for _ in 0..gets {
            results.push(client.get(url).await);
        }
        results
    }));
    (results, client.idle_connections())
}

fn error_kind(server: &Server) -> ErrorKind {
    let (mut results, idle) = get_n(server, &server.url, ConnectionPolicy::Reuse, 1);
    assert_eq!(idle, 0, "a failed connection was pooled");
    match results.remove(0) {
        Ok(r) => panic!("expected an error, got HTTP {}", r.status),
        Err(e) => {
            eprintln!("{:?}: {}", e.kind, e.detail);
            e.kind
        }
    }
}

fn assert_all_ok(results: &[Result<RawResponse, FetchError>]) {
    for result in results {
        let status = result.as_ref().map(|r| r.status);
        assert_eq!(status.ok(), Some(200), "{results:?}");
    }
}

#[test]
fn tls_stream_ended_without_close_notify_before_the_response_is_a_reset() {
    // Dropping the rustls stream closes the TCP connection with no `close_notify`: rustls's
    // error text says "TLS", but this is a connection that closed, as over plain TCP.
    let server = serve_tls(|r| {
        read_request(r);
    });
    assert_eq!(error_kind(&server), ErrorKind::Reset);
}

#[test]
fn tls_stream_ended_in_the_middle_of_the_body_is_truncated() {
    let server = serve_tls(|r| {
        if read_request(r) {
            let _ = r
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
            let _ = r.get_mut().flush();
        }
    });
    assert_eq!(error_kind(&server), ErrorKind::Truncated);
}

#[test]
fn an_untrusted_certificate_is_tls() {
    let mut server = serve_tls(keep_alive);
    // Another run's CA: the server's certificate chains to nothing the client trusts.
    server.ca_pem = Some(
        issue(TlsKey::EcdsaP256, IpAddr::V4(Ipv4Addr::LOCALHOST))
            .expect("cert")
            .ca_pem,
    );
    assert_eq!(error_kind(&server), ErrorKind::Tls);
}

#[test]
fn tls_offers_only_http1_and_keeps_connections_alive() {
    let server = serve_tls(keep_alive);
    let (results, idle) = get_n(&server, &server.url, ConnectionPolicy::Reuse, 3);
    assert_all_ok(&results);
    assert_eq!(idle, 1);
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    assert_eq!(
        *server.alpn.lock().unwrap(),
        vec![Some(b"http/1.1".to_vec())]
    );
}

#[test]
fn a_localhost_url_is_verified_as_a_dns_name() {
    let server = serve_tls(keep_alive);
    let mut url = server.url.clone();
    url.set_host(Some("localhost")).unwrap();
    let (results, _) = get_n(&server, &url, ConnectionPolicy::Reuse, 1);
    assert_all_ok(&results);
}

#[test]
fn fresh_opens_a_connection_per_request_and_pools_none() {
    for server in [serve_plain(keep_alive), serve_tls(keep_alive)] {
        let (results, idle) = get_n(&server, &server.url, ConnectionPolicy::Fresh, 3);
        assert_all_ok(&results);
        assert_eq!(idle, 0, "{}", server.url);
        assert_eq!(
            server.connections.load(Ordering::SeqCst),
            3,
            "{}",
            server.url
        );
    }
}
