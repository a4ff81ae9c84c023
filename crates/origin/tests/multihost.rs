//! A multi-host site served for real: hosts told apart by `Host` (names) or by listener
//! (addresses), a wrong or unknown host answered 404, `robots.txt` per host, the per-host
//! counters, HTTPS certificates naming every host, and the truth of a crawl checked URL by URL
//! against what the server sends.
//!
//! The client here is a few lines over `std::net::TcpStream` with the request written by hand,
//! so the `Host` header is exactly what each test says (and the origin needs no HTTP client
//! dependency): a backend that ignored the resolve map or sent the wrong `Host` would get what
//! these requests get.

use std::{
    io::{Read, Write},
    net::{IpAddr, SocketAddr, TcpStream},
    sync::Arc,
    time::Duration,
};

use crawlbench_core::{CrawlJob, Outcome, RobotsRule, fetch::digest, links};
use crawlbench_origin::{
    NetworkModel, OriginConfig, RunningOrigin, Site, SiteSpec, TlsKey, site::HostNaming,
};
use url::Url;

fn start(spec: SiteSpec) -> RunningOrigin {
    RunningOrigin::start(
        spec,
        OriginConfig {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("the origin starts")
}

fn spec(hosts: u32, naming: HostNaming) -> SiteSpec {
    SiteSpec {
        pages: 60,
        body_bytes: 1200,
        links_per_page: 3,
        hosts,
        host_naming: naming,
        robots: true,
        ..Default::default()
    }
}

/// One reply, as read off the wire.
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// Sends `GET pq` to `addr` with `Host: host` (none when `None`) and reads the whole reply.
fn get_at(addr: SocketAddr, host: Option<&str>, pq: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut request = format!("GET {pq} HTTP/1.1\r\n");
    if let Some(host) = host {
        request.push_str(&format!("Host: {host}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    assert!(
        !header("transfer-encoding").contains("chunked"),
        "these tests ask for no streamed body"
    );
    Reply {
        status,
        content_type: header("content-type"),
        body: raw[split + 4..].to_vec(),
    }
}

/// Where a client connects for `url`: the job's resolve map for a name, else the address.
fn address_of(site: &Site, url: &Url) -> SocketAddr {
    let host = url.host_str().unwrap();
    let ip: IpAddr = site
        .resolve_map()
        .get(host)
        .unwrap_or_else(|| host.parse().expect("an address or a resolved name"));
    SocketAddr::new(ip, url.port_or_known_default().unwrap())
}

/// `GET url` the way a correct client does: resolved as the job says, `Host` naming it.
fn get(site: &Site, url: &Url) -> Reply {
    let pq = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    get_at(address_of(site, url), Some(url.authority()), &pq)
}

#[test]
fn hosts_by_name_are_told_apart_by_the_host_header() {
    let origin = start(spec(3, HostNaming::Names));
    let site = origin.site();
    let listen = origin.listen_addr();
    let port = listen.port();
    assert_eq!(site.hosts(), 3);
    assert_eq!(
        origin.base_url().as_str(),
        format!("http://h0.crawl.test:{port}/")
    );
    let page = |host: &str, p: u32| get_at(listen, Some(host), &format!("/site/{p}.html"));
    // Page 4 lives on host 1.
    let right = page(&format!("h1.crawl.test:{port}"), 4);
    assert_eq!(right.status, 200);
    assert_eq!(right.body, site.page_body(4));
    // The wrong host, a host the site does not have, the bare address: 404, nothing else.
    for wrong in [
        format!("h2.crawl.test:{port}"),
        format!("h0.crawl.test:{port}"),
        format!("h3.crawl.test:{port}"),
        format!("127.0.0.1:{port}"),
        "elsewhere.test".to_owned(),
    ] {
        let r = page(&wrong, 4);
        assert_eq!(r.status, 404, "Host: {wrong}");
    }
    // Images and the index are every host's.
    for h in 0..3 {
        let host = format!("h{h}.crawl.test:{port}");
        assert_eq!(get_at(listen, Some(&host), "/").status, 200);
        assert_eq!(
            get_at(listen, Some(&host), "/site/assets/1.png").status,
            200
        );
    }
}

#[test]
fn hosts_by_address_listen_on_their_own_addresses() {
    let origin = start(spec(3, HostNaming::Addresses));
    let site = origin.site();
    let port = origin.listen_addr().port();
    assert_eq!(
        origin.base_url().as_str(),
        format!("http://127.0.1.1:{port}/")
    );
    let at = |h: u8| SocketAddr::from(([127, 0, 1, h + 1], port));
    // Page 5 lives on host 2, at 127.0.1.3.
    let right = get_at(at(2), Some(&format!("127.0.1.3:{port}")), "/site/5.html");
    assert_eq!(
        (right.status, right.body),
        (200, site.page_body(5).to_vec())
    );
    // Asked of host 1's address, or naming another host at the right address: 404.
    let wrong_address = get_at(at(1), Some(&format!("127.0.1.2:{port}")), "/site/5.html");
    assert_eq!(wrong_address.status, 404);
    let wrong_name = get_at(at(2), Some(&format!("127.0.1.2:{port}")), "/site/5.html");
    assert_eq!(wrong_name.status, 404);
    // The base listener only holds the port: it serves no host.
    let base = get_at(
        origin.listen_addr(),
        Some(&format!("127.0.1.3:{port}")),
        "/site/5.html",
    );
    assert_eq!(base.status, 404);
}

#[test]
fn each_host_serves_its_robots_txt() {
    let origin = start(SiteSpec {
        pages: 600,
        ..spec(6, HostNaming::Names)
    });
    let site = origin.site();
    for h in 0..6 {
        let r = get(site, &site.robots_url(h));
        if h == 4 {
            assert_eq!(r.status, 404, "every fifth host has none");
            continue;
        }
        assert_eq!((r.status, r.content_type.as_str()), (200, "text/plain"));
        assert_eq!(r.body, site.robots_body(h));
        let text = String::from_utf8(r.body).unwrap();
        assert!(text.contains("User-agent: *\n"), "{text}");
        assert_eq!(text.contains("Crawl-delay: 0.05\n"), h == 1 || h == 5);
        // Every `Disallow` names a page of this host that the site says is disallowed.
        let named: Vec<u32> = text
            .lines()
            .filter_map(|l| l.strip_prefix("Disallow: /site/")?.strip_suffix(".html"))
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(!named.is_empty(), "host {h}");
        assert!(
            named
                .iter()
                .all(|p| p % 6 == h && site.robots_disallows(*p))
        );
    }
    // Without `robots`, none anywhere.
    let plain = start(SiteSpec {
        robots: false,
        ..spec(3, HostNaming::Names)
    });
    let plain_site = plain.site();
    assert!((0..3).all(|h| get(plain_site, &plain_site.robots_url(h)).status == 404));
}

/// Every URL the truth of a full crawl names, fetched from the server the way a correct client
/// would (resolved by the job's map, `Host` naming it): the status, the body's digest and, for a
/// page, the links the core's extractor finds in it are what the truth says.
fn the_truth_matches_the_server(naming: HostNaming) {
    let origin = start(spec(3, naming));
    let site = origin.site();
    for robots in [RobotsRule::Ignore, RobotsRule::Obey] {
        let job = site.crawl_job(100_000).robots(robots).build().unwrap();
        let truth = site.ground_truth(&job);
        let mut hosts = [0u32; 3];
        let mut disallowed = 0;
        for url in truth.reachable() {
            let expected = truth.get(url).unwrap();
            if expected.attempts == 0 {
                disallowed += 1;
                continue;
            }
            if let Some(h) = site.host_of_url(url) {
                hosts[h as usize] += 1;
            }
            let reply = get(site, url);
            assert_eq!(
                Outcome::Status(reply.status),
                expected.outcome,
                "{url} ({naming})"
            );
            assert_eq!(Some(digest(&reply.body)), expected.digest, "{url}");
            if reply.status == 200 && reply.content_type.starts_with("text/html") {
                assert_eq!(links::extract(url, &reply.body), expected.links, "{url}");
            }
        }
        assert!(hosts.iter().all(|n| *n > 10), "{naming}: {hosts:?}");
        assert_eq!(disallowed > 0, robots.obeys(), "{naming}");
    }
}

#[test]
fn the_truth_of_a_names_crawl_is_what_the_server_sends() {
    the_truth_matches_the_server(HostNaming::Names);
}

#[test]
fn the_truth_of_an_addresses_crawl_is_what_the_server_sends() {
    the_truth_matches_the_server(HostNaming::Addresses);
}

#[test]
fn the_listen_url_rebuilds_the_same_site() {
    // What a child origin announces is all its parent needs (with the spec) to rebuild the
    // site: names, addresses, resolve map and scope follow from the base listener.
    for naming in [HostNaming::Names, HostNaming::Addresses] {
        let origin = start(spec(3, naming));
        let served = origin.site();
        let rebuilt = Site::new(served.spec().clone(), served.listen_url().clone());
        assert_eq!(rebuilt.base(), served.base());
        assert_eq!(rebuilt.resolve_map(), served.resolve_map());
        assert_eq!(rebuilt.site_scope(), served.site_scope());
        for p in [0, 1, 2, 59] {
            assert_eq!(rebuilt.page_url(p), served.page_url(p));
        }
    }
}

#[test]
fn one_host_sites_are_as_they_were() {
    let origin = start(SiteSpec {
        pages: 10,
        ..Default::default()
    });
    let site = origin.site();
    let listen = origin.listen_addr();
    assert_eq!(origin.base_url().as_str(), format!("http://{listen}/"));
    assert_eq!(site.base(), site.listen_url());
    assert!(site.resolve_map().is_empty());
    // Whatever the request names, the one host answers.
    for host in [format!("{listen}"), "anything.test".to_owned()] {
        assert_eq!(get_at(listen, Some(&host), "/site/3.html").status, 200);
    }
    assert_eq!(get_at(listen, Some("x"), "/robots.txt").status, 404);
    let stats = origin.stats();
    assert_eq!(stats.hosts, 1);
    assert_eq!(stats.host_peak_in_flight, 1);
}

#[test]
fn the_origin_counts_in_flight_and_arrivals_per_host() {
    let origin = start(SiteSpec {
        latency: "700ms".parse().unwrap(),
        ..spec(3, HostNaming::Names)
    });
    let site = Arc::clone(origin.site());
    let stats = origin.stats();
    assert_eq!((stats.hosts, stats.host_peak_in_flight), (3, 0));
    assert!(stats.host_arrivals.iter().all(|a| a.requests == 0));
    // Two requests at each host at once: six in flight, two at any one host.
    let threads: Vec<_> = (0..6u32)
        .map(|i| {
            let site = Arc::clone(&site);
            std::thread::spawn(move || get(&site, &site.page_url(i % 3)).status)
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    let stats = origin.stats();
    assert_eq!(stats.peak_in_flight, 6);
    assert_eq!(stats.host_peak_in_flight, 2);
    for a in &stats.host_arrivals {
        assert_eq!(a.requests, 2);
        assert!(a.first_to_last_us < 700_000, "{a:?}");
    }
    // After a reset: one request at a time, 250 ms apart, never at the same host twice in a
    // row: host 0's first and last arrivals are three of those intervals apart at least.
    origin.reset();
    assert!(origin.stats().host_arrivals.iter().all(|a| a.requests == 0));
    let fast = start(spec(3, HostNaming::Names));
    let fast_site = fast.site();
    for p in [0, 1, 2, 3] {
        assert_eq!(get(fast_site, &fast_site.page_url(p)).status, 200);
        std::thread::sleep(Duration::from_millis(250));
    }
    let stats = fast.stats();
    assert_eq!(stats.host_peak_in_flight, 1);
    let host0 = stats.host_arrivals[0];
    assert_eq!(host0.requests, 2, "pages 0 and 3");
    assert!(host0.first_to_last_us >= 3 * 250_000, "{host0:?}");
}

#[test]
fn https_certificates_name_every_host() {
    use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
    for naming in [HostNaming::Names, HostNaming::Addresses] {
        let origin = start(SiteSpec {
            tls: Some(TlsKey::EcdsaP256),
            network: NetworkModel::default(),
            ..spec(3, naming)
        });
        let site = origin.site();
        let mut roots = rustls::RootCertStore::empty();
        let ca = CertificateDer::from_pem_slice(site.ca_pem().unwrap().as_bytes()).unwrap();
        roots.add(ca).unwrap();
        let config = Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
        );
        let job = site.crawl_job(10).build().unwrap();
        assert!(job.uses_tls());
        for p in [0, 1, 2] {
            let url = site.page_url(p);
            let name = ServerName::try_from(url.host_str().unwrap().to_owned()).unwrap();
            let conn = rustls::ClientConnection::new(Arc::clone(&config), name).unwrap();
            let tcp = TcpStream::connect(address_of(site, &url)).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let request = format!(
                "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                url.path(),
                url.authority()
            );
            tls.write_all(request.as_bytes())
                .unwrap_or_else(|e| panic!("{url} ({naming}): {e}"));
            let mut raw = Vec::new();
            let _ = tls.read_to_end(&mut raw);
            let reply = parse(&raw);
            assert_eq!(reply.status, 200, "{url}");
            assert_eq!(reply.body, site.page_body(p));
        }
    }
}

#[test]
fn a_crawl_job_of_a_multi_host_site_builds_and_resolves() {
    let origin = start(spec(3, HostNaming::Names));
    let site = origin.site();
    let job: CrawlJob = site.crawl_job(100).build().expect("a valid job");
    assert_eq!(job.resolve(), &site.resolve_map());
    assert_eq!(Some(&job.rules().scope), site.site_scope().as_ref());
    let list = site.list_job(6).unwrap().build().expect("a valid list");
    assert_eq!(list.resolve(), &site.resolve_map());
}
