//! `ReqwestClient::with_source_address`: connections leave from the chosen local address (what
//! lets each worker process of a 100,000-connection run have its own ~28,000 ephemeral ports),
//! through the connect gate and the job's resolve map; without one, from the OS's choice.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use crawlbench_core::{
    ConnectionPolicy, CrawlJob, HttpVersion, ResolveMap,
    fetch::{Outcome, fetch_async},
};
use crawlbench_tokio_reqwest::ReqwestClient;
use url::Url;

/// Fetches `url` once through `fetch_async` with a client built with `source`, and returns the
/// address the server saw the connection come from.
fn fetch_from(
    source: Option<IpAddr>,
    http: HttpVersion,
    policy: ConnectionPolicy,
    host: &str,
) -> IpAddr {
    let (port, peer) = crawlbench_conformance::one_plain_connection();
    let url = Url::parse(&format!("http://{host}:{port}/x")).expect("URL");
    let mut map = ResolveMap::default();
    map.insert("src.crawl.test", Ipv4Addr::LOCALHOST.into());
    let job = CrawlJob::list(vec![url.clone()])
        .resolve(map)
        .connections(policy)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("valid job");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = runtime.block_on(async {
        let client = ReqwestClient::with_source_address(&job, http, 1, source).expect("client");
        fetch_async(&client, &job, url).await
    });
    assert_eq!(
        outcome.outcome,
        Outcome::Status(200),
        "{:?}",
        outcome.error_detail
    );
    peer.recv_timeout(Duration::from_secs(5))
        .expect("the server saw a connection")
}

const SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 77));

#[test]
fn a_source_address_is_where_connections_come_from() {
    // HTTP/1.1 `reuse` goes through the connect gate's budget; `fresh` has none.
    for (http, policy) in [
        (HttpVersion::Http1, ConnectionPolicy::Reuse),
        (HttpVersion::Http1, ConnectionPolicy::Fresh),
    ] {
        assert_eq!(
            fetch_from(Some(SOURCE), http, policy, "127.0.0.1"),
            SOURCE,
            "{http:?} {policy:?}"
        );
    }
}

#[test]
fn a_source_address_applies_to_names_the_job_resolves() {
    assert_eq!(
        fetch_from(
            Some(SOURCE),
            HttpVersion::Http1,
            ConnectionPolicy::Reuse,
            "src.crawl.test"
        ),
        SOURCE
    );
}

#[test]
fn without_a_source_address_the_os_chooses_127_0_0_1() {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    assert_eq!(
        fetch_from(
            None,
            HttpVersion::Http1,
            ConnectionPolicy::Reuse,
            "127.0.0.1"
        ),
        loopback
    );
    assert_eq!(
        fetch_from(
            None,
            HttpVersion::Http1,
            ConnectionPolicy::Reuse,
            "src.crawl.test"
        ),
        loopback
    );
}
