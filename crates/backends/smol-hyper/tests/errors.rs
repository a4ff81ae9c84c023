//! How `HyperClient` maps what a misbehaving server does onto the core's error kinds, against
//! hand-written servers that do exactly one thing wrong — including the cases the shared origin
//! does not produce (a clean FIN instead of a reset, a non-HTTP reply, an idle keep-alive
//! connection the server closes between requests).

use std::{
    io::{BufRead, BufReader, Write},
    net::{TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
    time::Duration,
};

use crawlbench_core::{AsyncHttp, CrawlJob, ErrorKind, FetchError, RawResponse};
use crawlbench_smol_hyper::HyperClient;
use smol::Executor;
use url::Url;

/// Reads one request head; false when the client closed first.
fn read_request(reader: &mut BufReader<TcpStream>) -> bool {
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

/// A loopback server handing each accepted connection to `handle`, counting requests read.
struct Server {
    url: Url,
    requests: Arc<AtomicUsize>,
}

fn serve(
    handle: impl Fn(&mut BufReader<TcpStream>, &AtomicUsize) + Send + Sync + 'static,
) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = Url::parse(&format!(
        "http://{}/page",
        listener.local_addr().expect("addr")
    ))
    .expect("url");
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let handle = Arc::new(handle);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (handle, counter) = (Arc::clone(&handle), Arc::clone(&counter));
            thread::spawn(move || handle(&mut BufReader::new(stream), &counter));
        }
    });
    Server { url, requests }
}

/// Reads a request and counts it.
fn next_request(reader: &mut BufReader<TcpStream>, counter: &AtomicUsize) -> bool {
    let got = read_request(reader);
    if got {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    got
}

fn job(url: &Url) -> CrawlJob {
    CrawlJob::list(vec![url.clone()])
        .timeout(Duration::from_millis(500))
        .max_body_bytes(1000)
        .build()
        .expect("valid job")
}

/// What a sequence of attempts with one client gave.
struct Gets {
    results: Vec<Result<RawResponse, FetchError>>,
    /// Connections left idle in the client's pool afterwards.
    idle: usize,
}

/// Runs `gets` attempts in sequence with one client on a one-thread executor.
fn get_n(url: &Url, gets: usize, pause: Duration) -> Gets {
    let executor = Arc::new(Executor::new());
    let client = HyperClient::new(&job(url), &executor).expect("client");
    let results = smol::block_on(executor.run(async {
        let mut results = Vec::new();
        for _ in 0..gets {
            results.push(client.get(url).await);
            smol::Timer::after(pause).await;
        }
        results
    }));
    Gets {
        results,
        idle: client.idle_connections(),
    }
}

/// The error kind of one attempt; a connection that failed never goes back to the pool.
fn kind_of(url: &Url) -> ErrorKind {
    let mut gets = get_n(url, 1, Duration::ZERO);
    assert_eq!(gets.idle, 0, "a failed connection was pooled");
    match gets.results.remove(0) {
        Ok(r) => panic!("expected an error, got HTTP {}", r.status),
        Err(e) => {
            eprintln!("{:?}: {}", e.kind, e.detail);
            e.kind
        }
    }
}

fn reply(reader: &mut BufReader<TcpStream>, bytes: &[u8]) {
    let _ = reader.get_mut().write_all(bytes);
}

#[test]
fn clean_close_before_the_response_is_a_reset_not_a_connect_error() {
    let server = serve(|r, n| {
        next_request(r, n);
    });
    assert_eq!(kind_of(&server.url), ErrorKind::Reset);
}

#[test]
fn close_in_the_middle_of_the_body_is_truncated() {
    let server = serve(|r, n| {
        if next_request(r, n) {
            reply(
                r,
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
            );
        }
    });
    assert_eq!(kind_of(&server.url), ErrorKind::Truncated);
}

#[test]
fn a_reply_that_is_not_http_is_an_invalid_response() {
    let server = serve(|r, n| {
        if next_request(r, n) {
            reply(r, b"SSH-2.0-OpenSSH_9.6\r\n\r\n");
        }
    });
    assert_eq!(kind_of(&server.url), ErrorKind::InvalidResponse);
}

#[test]
fn bodies_over_the_cap_fail_announced_or_streamed() {
    let announced = serve(|r, n| {
        if next_request(r, n) {
            reply(r, b"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n");
            reply(r, &[b'x'; 1001]);
        }
    });
    assert_eq!(kind_of(&announced.url), ErrorKind::BodyTooLarge);
    let chunked = serve(|r, n| {
        if next_request(r, n) {
            reply(r, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            for _ in 0..3 {
                reply(r, b"190\r\n");
                reply(r, &[b'x'; 400]);
                reply(r, b"\r\n");
            }
            reply(r, b"0\r\n\r\n");
        }
    });
    assert_eq!(kind_of(&chunked.url), ErrorKind::BodyTooLarge);
}

#[test]
fn a_body_of_exactly_the_cap_is_accepted() {
    // Keeps the connection open, so it can go back to the pool.
    let server = serve(|r, n| {
        while next_request(r, n) {
            reply(r, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
            reply(r, &[b'x'; 1000]);
        }
    });
    let mut gets = get_n(&server.url, 1, Duration::ZERO);
    let response = gets.results.remove(0).expect("ok");
    assert_eq!((response.status, response.body.len()), (200, 1000));
    assert_eq!(gets.idle, 1, "a complete response returns its connection");
}

#[test]
fn a_silent_server_costs_the_timeout() {
    let server = serve(|r, n| {
        if next_request(r, n) {
            thread::sleep(Duration::from_secs(5));
        }
    });
    let started = std::time::Instant::now();
    assert_eq!(kind_of(&server.url), ErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn refused_is_connect() {
    let url = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        Url::parse(&format!("http://{}/x", l.local_addr().expect("addr"))).expect("url")
    };
    assert_eq!(kind_of(&url), ErrorKind::Connect);
}

#[test]
fn requests_carry_host_user_agent_and_path() {
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let record = Arc::clone(&seen);
    let server = serve(move |r, _| {
        let mut head = String::new();
        let mut line = String::new();
        while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            head.push_str(&line);
            line.clear();
        }
        *record.lock().unwrap() = head;
        reply(r, b"HTTP/1.1 204 No Content\r\n\r\n");
    });
    let url = server.url.join("/a/b.html?q=1&r=%20x").expect("url");
    let response = get_n(&url, 1, Duration::ZERO)
        .results
        .remove(0)
        .expect("ok");
    assert_eq!(response.status, 204);
    let head = seen.lock().unwrap().to_ascii_lowercase();
    assert!(
        head.starts_with("get /a/b.html?q=1&r=%20x http/1.1\r\n"),
        "{head}"
    );
    let authority = format!("host: {}\r\n", url.authority());
    assert!(head.contains(&authority), "{head}");
    assert!(head.contains("user-agent: crawlbench"), "{head}");
}

#[test]
fn keep_alive_connection_is_reused_and_a_closed_one_replaced() {
    // Connection 1 answers two requests, then closes while idle (no `Connection: close`);
    // later connections answer every request until the client closes them.
    let connections = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::clone(&connections);
    let server = serve(move |r, n| {
        let answers = if accepted.fetch_add(1, Ordering::SeqCst) == 0 {
            2
        } else {
            usize::MAX
        };
        for _ in 0..answers {
            if !next_request(r, n) {
                return;
            }
            reply(r, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    let Gets { results, idle } = get_n(&server.url, 4, Duration::from_millis(50));
    assert_eq!(idle, 1);
    for result in &results {
        assert_eq!(
            result.as_ref().map(|r| r.status).ok(),
            Some(200),
            "{results:?}"
        );
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 4, "no resends");
    // Requests 1 and 2 on connection 1; 3 on connection 2 (1 closed meanwhile); 4 reuses 2.
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}
