//! `HyperClient::with_source_address`: connections leave from the chosen local address (what
//! lets each worker process of a 100,000-connection run have its own ~28,000 ephemeral ports per
//! destination), including for names the job resolves; without one, from the OS's choice; and a
//! connect that fails because of the source is still a `connect` outcome.

use std::{
    net::{IpAddr, Ipv4Addr, TcpListener},
    sync::Arc,
    time::Duration,
};

use crawlbench_core::{
    AsyncHttp, ConnectionPolicy, CrawlJob, ErrorKind, ResolveMap,
    fetch::{Outcome, fetch_async},
};
use crawlbench_smol_hyper::HyperClient;
use smol::Executor;
use url::Url;

const SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 77));

fn job(url: &Url, policy: ConnectionPolicy) -> CrawlJob {
    let mut map = ResolveMap::default();
    map.insert("src.crawl.test", Ipv4Addr::LOCALHOST.into());
    CrawlJob::list(vec![url.clone()])
        .resolve(map)
        .connections(policy)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("valid job")
}

/// Fetches `http://{host}:port/x` once through `fetch_async` with a client built with `source`,
/// on a one-thread smol executor, and returns the address the server saw the connection from.
fn fetch_from(source: Option<IpAddr>, policy: ConnectionPolicy, host: &str) -> IpAddr {
    let (port, peer) = crawlbench_conformance::one_plain_connection();
    let url = Url::parse(&format!("http://{host}:{port}/x")).expect("URL");
    let job = job(&url, policy);
    let executor = Arc::new(Executor::new());
    let client = HyperClient::with_source_address(&job, &executor, source).expect("client");
    let outcome = smol::block_on(executor.run(fetch_async(&client, &job, url)));
    assert_eq!(
        outcome.outcome,
        Outcome::Status(200),
        "{:?}",
        outcome.error_detail
    );
    assert_eq!(client.connections_opened(), 1);
    peer.recv_timeout(Duration::from_secs(5))
        .expect("the server saw a connection")
}

#[test]
fn a_source_address_is_where_connections_come_from() {
    for policy in [ConnectionPolicy::Reuse, ConnectionPolicy::Fresh] {
        assert_eq!(
            fetch_from(Some(SOURCE), policy, "127.0.0.1"),
            SOURCE,
            "{policy:?}"
        );
    }
}

#[test]
fn a_source_address_applies_to_names_the_job_resolves() {
    assert_eq!(
        fetch_from(Some(SOURCE), ConnectionPolicy::Reuse, "src.crawl.test"),
        SOURCE
    );
}

#[test]
fn without_a_source_address_the_os_chooses_127_0_0_1() {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    assert_eq!(
        fetch_from(None, ConnectionPolicy::Reuse, "127.0.0.1"),
        loopback
    );
    assert_eq!(
        fetch_from(None, ConnectionPolicy::Reuse, "src.crawl.test"),
        loopback
    );
}

/// The error kind of one attempt at `url` from `source`.
fn kind_from(source: IpAddr, url: &Url) -> ErrorKind {
    let executor = Arc::new(Executor::new());
    let client = HyperClient::with_source_address(
        &job(url, ConnectionPolicy::Reuse),
        &executor,
        Some(source),
    )
    .expect("client");
    match smol::block_on(executor.run(client.get(url))) {
        Ok(response) => panic!("expected an error, got HTTP {}", response.status),
        Err(e) => {
            eprintln!("{:?}: {}", e.kind, e.detail);
            e.kind
        }
    }
}

#[test]
fn connect_failures_from_a_source_address_are_connect_errors() {
    // Refused: a port nobody listens on any more (the error arrives after EINPROGRESS, through
    // `take_error`).
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        Url::parse(&format!("http://{}/x", l.local_addr().expect("addr"))).expect("url")
    };
    assert_eq!(kind_from(SOURCE, &refused), ErrorKind::Connect);
    // A source address that is not this machine's (TEST-NET-1): the bind fails.
    let (port, _peer) = crawlbench_conformance::one_plain_connection();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/x")).expect("url");
    assert_eq!(
        kind_from(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), &url),
        ErrorKind::Connect
    );
    // An IPv4 source for an IPv6 destination: refused before any socket is made.
    let v6 = Url::parse(&format!("http://[::1]:{port}/x")).expect("url");
    assert_eq!(kind_from(SOURCE, &v6), ErrorKind::Connect);
}
