//! The synthetic site: what the origin serves for each path, and the ground truth it implies.
//!
//! Layout (everything under `/site/`, so a crawl seeded at `/site/0.html` is scoped to it):
//! - `/site/{i}.html`, `i < pages`: real HTML pages. Page `i` links to pages `2i+1` and `2i+2`
//!   (so every page is reachable), plus `links_per_page` pseudo-random pages written in varied
//!   styles — relative, `./`, root-relative, absolute with host, `../site/…`, with fragments —
//!   and some links that must not be followed: out of scope (`/outside/…`, another host),
//!   `mailto:`, and now and then a page that does not exist (404). Every fourth page links an
//!   image under `/site/assets/` (non-HTML, no links extracted).
//! - Faults, chosen per page from the [`FaultProfile`] by a hash of the page number (never page
//!   0): 500s, a 503 only on the first attempt, a connection reset (always, or only the first
//!   time), a stall far past any sane timeout, a truncated body, an oversized streamed body, a
//!   redirect, and a redirect loop.
//! - Latency per request from the [`LatencyModel`], by a hash of the path (the same every run).
//!
//! **Hosts.** A site spans `hosts` hosts (1 by default: the listener's own address, exactly as
//! before hosts existed). Host `h` is `h{h}.crawl.test` ([`HostNaming::Names`]: one listener on
//! the base address tells them apart by `Host`/`:authority`; a job resolves the names itself
//! through [`Site::resolve_map`]) or `127.0.1.{h+1}` ([`HostNaming::Addresses`]: a listener each,
//! on the base listener's port). Page `i` lives on host `i % hosts`, at the same path
//! (`/site/{i}.html`); a link to a page on another host is spelled as an absolute URL naming that
//! host (with the fragment its spelling carries), links within a host keep their varied
//! spellings. Asking a host for a page that lives on another one, or asking a host the site does
//! not have, is a 404: a client that ignores the resolve map or sends the wrong `Host` fails
//! verification. Everything else — images, `/outside/…`, broken links, the index — is per host,
//! as on a one-host site; the echo route is host 0's.
//!
//! **robots.txt** (when the spec's `robots` is set; otherwise `/robots.txt` is a 404 everywhere,
//! as it always was). Host `h` with `h % 5 == 4` has none (a 404: a crawler allows everything).
//! Every other host serves `text/plain`:
//! ```text
//! # crawlbench origin, host {h}
//! User-agent: *
//! Crawl-delay: 0.05          (only on hosts with h % 4 == 1)
//! Disallow: /site/{p}.html   (one line per disallowed page of this host, in page order)
//! ```
//! Page `p` (of host `p % hosts`) is disallowed when `p != 0` (never the seed), its rank on its
//! host `p / hosts` is below 100,000 (so a file stays far below the 500 KiB a crawler parses),
//! and the seeded hash of `p` falls in the lowest 10 % ([`Site::robots_disallows`]). A rule is
//! a path prefix, so it covers that page's redirect addresses (`?via=redirect`, `?loop=…`) too,
//! and nothing else (`/site/12.html` is no prefix of `/site/120.html`).
//!
//! Everything is a pure function of the spec, the path and how many times that page was asked
//! for. The parts: `spec` (the parameters and their parsers), `generator` (which page links
//! where, as data, and the HTML rendered from it), `hosts` (how hosts are named and reached),
//! `robots` (each host's robots.txt), this module (routing a request to its reply),
//! and `truth` (what a correct client must report, stated from the generator's link graph and
//! the fault model — never by running the crawler's own fetch policy, frontier or link
//! extraction, which are what the truth checks).

mod generator;
mod hosts;
mod robots;
mod spec;
mod truth;

use std::{sync::OnceLock, time::Duration};

use bytes::Bytes;
use crawlbench_core::fetch::digest;
use url::Url;

pub use generator::{Link, SiteFile, Spelling};
pub use hosts::HOST_DOMAIN;
use hosts::Host;
pub use spec::{Fault, FaultProfile, HostNaming, LatencyModel, MAX_HOSTS, SiteSpec, parse_ms};
use spec::{mix, unit};

/// What the server does with one request.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Wait this long first.
    pub delay: Duration,
    /// Then do this.
    pub action: Action,
}

/// The server's action after the delay.
#[derive(Clone, Debug)]
pub enum Action {
    /// A complete response.
    Respond {
        /// Status code.
        status: u16,
        /// `Content-Type`.
        content_type: &'static str,
        /// `Location`, for redirects.
        location: Option<String>,
        /// The body.
        body: Bytes,
    },
    /// Reset the connection without replying.
    Reset,
    /// Announce `body.len()` bytes, send the first half, close.
    Truncate {
        /// The whole body that was announced.
        body: Bytes,
    },
    /// Stream `len` bytes of filler with chunked encoding.
    Stream {
        /// Total bytes.
        len: u64,
    },
}

/// A [`SiteSpec`] bound to the address it is served at (absolute links name it).
#[derive(Debug)]
pub struct Site {
    spec: SiteSpec,
    /// The base listener's URL, `scheme://ip:port/`.
    listen: Url,
    /// Host 0's root URL (the listener's URL on a one-host site).
    base: Url,
    /// `scheme://host:port` of `base`, the prefix of every URL on host 0.
    origin: String,
    /// The scheme and port every host shares.
    scheme: String,
    port: u16,
    hosts: Vec<Host>,
    pages: Vec<OnceLock<Bytes>>,
    /// Each host's `robots.txt` (rendered once).
    robots: Vec<OnceLock<Bytes>>,
    /// The run's CA certificate (PEM) when the site is served over HTTPS.
    ca_pem: Option<String>,
}

const SALT_FAULT: u64 = 0x6661_756c_7473;
const SALT_LINK: u64 = 0x006c_696e_6b73;
const SALT_DELAY: u64 = 0x0064_656c_6179;

/// The filler byte pattern of streamed bodies.
pub(crate) const FILLER: &[u8] =
    b"crawlbench filler: this body is larger than a client will accept\n";
/// The body of an injected 500.
const BODY_500: &[u8] = b"injected fault: internal server error";
/// The body of an injected 503.
const BODY_503: &[u8] = b"injected fault: try again";
/// The body of a redirect.
const BODY_REDIRECT: &[u8] = b"moved";
/// The body of a 404.
const BODY_404: &[u8] = b"<!doctype html><title>404</title><p>not found</p>";
/// The `Content-Type` of pages, the index and 404s.
const HTML: &str = "text/html; charset=utf-8";

impl Site {
    /// The site of `spec`, served by a listener at `listen` (e.g. `http://127.0.0.1:8080/`):
    /// a one-host site at that very address, the hosts of a multi-host one on its port
    /// (see [`HostNaming`]).
    pub fn new(spec: SiteSpec, listen: Url) -> Self {
        let pages = (0..spec.pages).map(|_| OnceLock::new()).collect();
        let scheme = listen.scheme().to_owned();
        let port = listen.port_or_known_default().unwrap_or(80);
        let names: Vec<String> = if spec.hosts <= 1 {
            vec![listen.host_str().unwrap_or("127.0.0.1").to_owned()]
        } else {
            (0..spec.hosts)
                .map(|h| match spec.host_naming {
                    HostNaming::Names => format!("h{h}.{HOST_DOMAIN}"),
                    HostNaming::Addresses => Self::host_address(h).to_string(),
                })
                .collect()
        };
        let hosts: Vec<Host> = names
            .into_iter()
            .map(|name| {
                let root = Url::parse(&format!("{scheme}://{name}:{port}/"))
                    .expect("host names and addresses make valid URLs");
                Host {
                    origin: root.origin().ascii_serialization(),
                    name,
                }
            })
            .collect();
        let base = Url::parse(&format!("{}/", hosts[0].origin)).expect("a valid origin");
        let origin = hosts[0].origin.clone();
        let robots = hosts.iter().map(|_| OnceLock::new()).collect();
        Self {
            spec,
            listen,
            base,
            origin,
            scheme,
            port,
            hosts,
            pages,
            robots,
            ca_pem: None,
        }
    }

    /// The same site, served over HTTPS with a certificate signed by the CA in `ca_pem`.
    pub fn with_ca_pem(mut self, ca_pem: Option<String>) -> Self {
        self.ca_pem = ca_pem;
        self
    }
    /// The CA certificate (PEM) a client must trust, when the site is served over HTTPS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }
    /// A job builder for `workload` on this site: it resolves the site's host names
    /// ([`Site::resolve_map`]) and, over HTTPS, trusts the run's CA.
    pub fn job(&self, workload: crawlbench_core::Workload) -> crawlbench_core::CrawlJobBuilder {
        let builder = match workload {
            crawlbench_core::Workload::List { urls } => crawlbench_core::CrawlJob::list(urls),
            crawlbench_core::Workload::Crawl { seeds, max_pages } => {
                crawlbench_core::CrawlJob::crawl(seeds, max_pages)
            }
        };
        let builder = builder.resolve(self.resolve_map());
        match &self.ca_pem {
            Some(pem) => builder.trust_ca_pem(pem.clone()),
            None => builder,
        }
    }
    /// A list job over the first `n` pages (see [`Site::list_urls`]), trusting the run's CA.
    pub fn list_job(&self, n: u32) -> Result<crawlbench_core::CrawlJobBuilder, String> {
        Ok(self.job(crawlbench_core::Workload::List {
            urls: self.list_urls(n)?,
        }))
    }
    /// A crawl job from the seed page, trusting the run's CA. On a multi-host site its scope
    /// takes in every host: [`ScopeRule::Domain`] with names (they share `crawl.test`),
    /// [`ScopeRule::Hosts`] with addresses (each address is a domain of its own).
    pub fn crawl_job(&self, max_pages: usize) -> crawlbench_core::CrawlJobBuilder {
        let builder = self.job(crawlbench_core::Workload::Crawl {
            seeds: vec![self.seed_url()],
            max_pages,
        });
        match self.site_scope() {
            Some(scope) => builder.scope(scope),
            None => builder,
        }
    }
    /// The spec.
    pub fn spec(&self) -> &SiteSpec {
        &self.spec
    }
    /// Host 0's root URL (on a one-host site, the listener's).
    pub fn base(&self) -> &Url {
        &self.base
    }
    /// The base listener's URL, `scheme://ip:port/` (what [`Site::new`] was given).
    pub fn listen_url(&self) -> &Url {
        &self.listen
    }
    /// The URL of page `i`, on its host.
    pub fn page_url(&self, i: u32) -> Url {
        let host = self.host_of_page(u64::from(i));
        Url::parse(&format!("{}/site/{i}.html", self.host_origin(host)))
            .expect("page paths are valid")
    }
    /// The crawl seed, `/site/0.html`.
    pub fn seed_url(&self) -> Url {
        self.page_url(0)
    }
    /// The first `n` page URLs (the list workload). Fails if the site has fewer pages.
    pub fn list_urls(&self, n: u32) -> Result<Vec<Url>, String> {
        if n > self.spec.pages {
            return Err(format!(
                "the site has {} pages; {n} were asked for",
                self.spec.pages
            ));
        }
        Ok((0..n).map(|i| self.page_url(i)).collect())
    }
    /// `/get?a=0` … `/get?a={n-1}`: the seed experiment's URLs, each answered with httpbin-shaped
    /// JSON echoing its argument. Fails if `n` is above the site's page count.
    pub fn echo_urls(&self, n: u32) -> Result<Vec<Url>, String> {
        if n > self.spec.pages {
            return Err(format!(
                "the site echoes {} arguments; {n} were asked for",
                self.spec.pages
            ));
        }
        Ok((0..n)
            .map(|a| {
                self.base
                    .join(&format!("/get?a={a}"))
                    .expect("echo paths are valid")
            })
            .collect())
    }

    /// The JSON httpbin's `GET /get?a={a}` answers with: `args` echoes the query; `headers` is
    /// left empty so the body does not depend on which client asked; `origin` and `url` as
    /// httpbin fills them.
    pub fn echo_body(&self, a: u32) -> String {
        format!(
            "{{\n  \"args\": {{\n    \"a\": \"{a}\"\n  }},\n  \"headers\": {{}},\n  \
             \"origin\": \"127.0.0.1\",\n  \"url\": \"{}/get?a={a}\"\n}}\n",
            self.origin
        )
    }

    /// The number of images under `/site/assets/`.
    fn assets(&self) -> u32 {
        (self.spec.pages / 20).max(1)
    }

    /// The fault injected on page `i`, if any.
    pub fn fault(&self, page: u32) -> Option<Fault> {
        if page == 0 {
            return None;
        }
        self.spec
            .faults
            .pick(mix(self.spec.seed ^ SALT_FAULT ^ mix(u64::from(page))))
    }

    /// The reply to a request for `path_and_query` on host 0 (the one host of a one-host
    /// site), the `attempt`-th (1-based) for that page.
    pub fn reply(&self, path_and_query: &str, attempt: u32) -> Reply {
        self.reply_on(Some(0), path_and_query, attempt)
    }

    /// The reply to a request for `path_and_query` on `host` (`None`: a host the site does
    /// not have, see [`Site::host_of_authority`]), the `attempt`-th (1-based) for that page.
    pub fn reply_on(&self, host: Option<u32>, path_and_query: &str, attempt: u32) -> Reply {
        let route = self.route(host, path_and_query);
        Reply {
            delay: self.delay(path_and_query, route),
            action: self.action(route, attempt),
        }
    }

    /// How long a request for `path_and_query` waits: a stalled page's stall, otherwise the
    /// latency model's delay for the path.
    fn delay(&self, path_and_query: &str, route: Route) -> Duration {
        match route {
            Route::Page {
                page,
                query: Query::None,
            } if self.fault(page) == Some(Fault::Stall) => {
                Duration::from_millis(self.spec.stall_ms)
            }
            _ => self.spec.latency.delay(mix(self.spec.seed
                ^ SALT_DELAY
                ^ digest(path_and_query.as_bytes()))),
        }
    }

    /// The page number a path asks for on host 0, if it is a page of this site; transient
    /// faults count attempts per page.
    pub fn page_of(&self, path_and_query: &str) -> Option<u32> {
        self.page_on(Some(0), path_and_query)
    }

    /// The page number a request for `path_and_query` on `host` asks for, if that host serves
    /// it (a page asked of the wrong host is a 404, and no attempt of that page).
    pub fn page_on(&self, host: Option<u32>, path_and_query: &str) -> Option<u32> {
        match self.route(host, path_and_query) {
            Route::Page {
                page,
                query: Query::None,
            } => Some(page),
            _ => None,
        }
    }

    fn route(&self, host: Option<u32>, path_and_query: &str) -> Route {
        let Some(host) = host else {
            return Route::NotFound;
        };
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        if path == "/" {
            return Route::Index(host);
        }
        if path == "/robots.txt" {
            return match query.is_empty() && self.serves_robots(host) {
                true => Route::Robots(host),
                false => Route::NotFound,
            };
        }
        if path == "/get" {
            return match query.strip_prefix("a=").and_then(parse_index) {
                Some(a) if a < self.spec.pages && host == 0 => Route::Echo(a),
                _ => Route::NotFound,
            };
        }
        if let Some(n) = path
            .strip_prefix("/site/assets/")
            .and_then(|r| r.strip_suffix(".png"))
        {
            return match parse_index(n) {
                Some(k) if k < self.assets() && query.is_empty() => Route::Asset(k),
                _ => Route::NotFound,
            };
        }
        let Some(n) = path
            .strip_prefix("/site/")
            .and_then(|r| r.strip_suffix(".html"))
        else {
            return Route::NotFound;
        };
        let Some(page) = parse_index(n)
            .filter(|p| *p < self.spec.pages && self.host_of_page(u64::from(*p)) == host)
        else {
            return Route::NotFound;
        };
        let query = match query {
            "" => Query::None,
            "via=redirect" => Query::Redirected,
            "loop=1" => Query::Loop(1),
            "loop=2" => Query::Loop(2),
            _ => return Route::NotFound,
        };
        Route::Page { page, query }
    }

    fn action(&self, route: Route, attempt: u32) -> Action {
        let html = |status: u16, body: Bytes| Action::Respond {
            status,
            content_type: HTML,
            location: None,
            body,
        };
        let text = |status: u16, body: &'static [u8]| Action::Respond {
            status,
            content_type: "text/plain",
            location: None,
            body: Bytes::from_static(body),
        };
        let redirect = |to: String| Action::Respond {
            status: 302,
            content_type: "text/plain",
            location: Some(to),
            body: Bytes::from_static(BODY_REDIRECT),
        };
        match route {
            Route::Index(h) => html(200, Bytes::from(self.index_body(h))),
            Route::Robots(h) => Action::Respond {
                status: 200,
                content_type: "text/plain",
                location: None,
                body: self.robots_body(h),
            },
            Route::Echo(a) => Action::Respond {
                status: 200,
                content_type: "application/json",
                location: None,
                body: Bytes::from(self.echo_body(a)),
            },
            Route::NotFound => html(404, Bytes::from_static(BODY_404)),
            Route::Asset(k) => Action::Respond {
                status: 200,
                content_type: "image/png",
                location: None,
                body: generator::asset_body(k),
            },
            Route::Page {
                page,
                query: Query::Redirected,
            } => html(200, self.page_body(page)),
            Route::Page {
                page,
                query: Query::Loop(n),
            } => redirect(format!("{page}.html?loop={}", if n == 1 { 2 } else { 1 })),
            Route::Page {
                page,
                query: Query::None,
            } => match self.fault(page) {
                None | Some(Fault::Stall) => html(200, self.page_body(page)),
                Some(Fault::Status500) => text(500, BODY_500),
                Some(Fault::Status503Once) if attempt <= 1 => text(503, BODY_503),
                Some(Fault::ResetOnce) if attempt <= 1 => Action::Reset,
                Some(Fault::Status503Once | Fault::ResetOnce) => html(200, self.page_body(page)),
                Some(Fault::Reset) => Action::Reset,
                Some(Fault::Truncate) => Action::Truncate {
                    body: self.page_body(page),
                },
                Some(Fault::Oversize) => Action::Stream {
                    len: self.spec.oversize_bytes,
                },
                Some(Fault::Redirect) => redirect(format!("{page}.html?via=redirect")),
                Some(Fault::RedirectLoop) => redirect(format!("{page}.html?loop=1")),
            },
        }
    }

    /// The HTML of page `i` (generated once, then shared).
    pub fn page_body(&self, i: u32) -> Bytes {
        self.pages[i as usize]
            .get_or_init(|| Bytes::from(self.render_page(i)))
            .clone()
    }
}

/// The path and query of `url`, as a client sends it.
pub fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// What a request asks for.
#[derive(Clone, Copy, Debug)]
enum Route {
    /// `/` of a host.
    Index(u32),
    /// `/robots.txt` of a host that serves one.
    Robots(u32),
    NotFound,
    Asset(u32),
    /// `/get?a={n}`: httpbin's echo, shaped like its JSON.
    Echo(u32),
    Page {
        page: u32,
        query: Query,
    },
}

/// The query a page was asked for with: none, or one of the redirects' targets.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Query {
    None,
    Redirected,
    Loop(u8),
}

fn parse_index(s: &str) -> Option<u32> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use crawlbench_core::ScopeRule;

    use super::*;

    fn site(spec: SiteSpec) -> Site {
        Site::new(spec, Url::parse("http://127.0.0.1:4000/").unwrap())
    }

    #[test]
    fn faults_follow_the_profile() {
        let spec = SiteSpec {
            pages: 10_000,
            faults: "10%".parse().unwrap(),
            ..Default::default()
        };
        let s = site(spec);
        assert_eq!(s.fault(0), None);
        let faulty = (1..10_000).filter(|p| s.fault(*p).is_some()).count();
        assert!((800..1200).contains(&faulty), "{faulty}");
        for f in Fault::ALL {
            assert!(
                (1..10_000).any(|p| s.fault(p) == Some(f)),
                "{f:?} never chosen"
            );
        }
    }

    #[test]
    fn replies_route_by_path_and_attempt() {
        let s = site(SiteSpec {
            pages: 2000,
            faults: "45%".parse().unwrap(),
            stall_ms: 5000,
            ..Default::default()
        });
        let find = |f: Fault| (1..2000).find(|p| s.fault(*p) == Some(f)).unwrap();
        let status = |pq: &str, attempt: u32| match s.reply(pq, attempt).action {
            Action::Respond { status, .. } => status,
            other => panic!("{pq}: {other:?}"),
        };
        assert_eq!(status("/", 1), 200);
        assert_eq!(status("/site/2000.html", 1), 404);
        assert_eq!(status("/site/01.html", 1), 404);
        assert_eq!(status("/site/assets/0.png", 1), 200);
        let once = format!("/site/{}.html", find(Fault::Status503Once));
        assert_eq!((status(&once, 1), status(&once, 2)), (503, 200));
        let stall = format!("/site/{}.html", find(Fault::Stall));
        assert_eq!(s.reply(&stall, 1).delay, Duration::from_secs(5));
        let looped = find(Fault::RedirectLoop);
        match s.reply(&format!("/site/{looped}.html?loop=1"), 1).action {
            Action::Respond { location, .. } => {
                assert_eq!(location, Some(format!("{looped}.html?loop=2")));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.page_of(&format!("/site/{looped}.html?loop=1")), None);
        assert_eq!(s.page_of("/site/7.html"), Some(7));
    }

    fn hosts(n: u32, naming: HostNaming) -> Site {
        site(SiteSpec {
            pages: 300,
            hosts: n,
            host_naming: naming,
            robots: true,
            ..Default::default()
        })
    }

    fn status(s: &Site, host: Option<u32>, pq: &str) -> u16 {
        match s.reply_on(host, pq, 1).action {
            Action::Respond { status, .. } => status,
            other => panic!("{pq}: {other:?}"),
        }
    }

    #[test]
    fn one_host_is_the_listener_itself() {
        let s = site(SiteSpec::default());
        assert_eq!(s.hosts(), 1);
        assert_eq!(s.base().as_str(), "http://127.0.0.1:4000/");
        assert_eq!(s.page_url(7).as_str(), "http://127.0.0.1:4000/site/7.html");
        assert!(s.resolve_map().is_empty());
        assert_eq!(s.site_scope(), None);
        // Whatever a request names, a one-host site answers it; without `robots`, no file.
        assert_eq!(s.host_of_authority(Some("elsewhere.test:1")), Some(0));
        assert_eq!(s.host_of_authority(None), Some(0));
        assert_eq!(status(&s, Some(0), "/robots.txt"), 404);
    }

    #[test]
    fn hosts_by_name_share_the_listener_and_route_by_host() {
        let s = hosts(3, HostNaming::Names);
        assert_eq!(s.base().as_str(), "http://h0.crawl.test:4000/");
        assert_eq!(s.listen_url().as_str(), "http://127.0.0.1:4000/");
        assert_eq!(s.host_url(2).as_str(), "http://h2.crawl.test:4000/");
        assert_eq!(
            s.page_url(5).as_str(),
            "http://h2.crawl.test:4000/site/5.html"
        );
        let map = s.resolve_map();
        let names: Vec<(&str, IpAddr)> = map.iter().collect();
        let lo = IpAddr::from([127, 0, 0, 1]);
        assert_eq!(
            names,
            [
                ("h0.crawl.test", lo),
                ("h1.crawl.test", lo),
                ("h2.crawl.test", lo)
            ]
        );
        assert_eq!(s.site_scope(), Some(ScopeRule::Domain));
        for (authority, host) in [
            ("h1.crawl.test:4000", Some(1)),
            ("H2.Crawl.Test:4000", Some(2)),
            ("h2.crawl.test", Some(2)),
            ("h2.crawl.test:4001", None),
            ("h3.crawl.test:4000", None),
            ("h01.crawl.test:4000", None),
            ("127.0.0.1:4000", None),
            ("h1.crawl.testx:4000", None),
        ] {
            assert_eq!(s.host_of_authority(Some(authority)), host, "{authority}");
        }
        assert_eq!(s.host_of_authority(None), None);
        // Page 5 lives on host 2: any other host, or none, says 404, and counts no attempt.
        assert_eq!(status(&s, Some(2), "/site/5.html"), 200);
        assert_eq!(status(&s, Some(1), "/site/5.html"), 404);
        assert_eq!(status(&s, None, "/site/5.html"), 404);
        assert_eq!(s.page_on(Some(2), "/site/5.html"), Some(5));
        assert_eq!(s.page_on(Some(0), "/site/5.html"), None);
        // Every host has its index, images and broken links.
        for h in 0..3 {
            assert_eq!(status(&s, Some(h), "/"), 200);
            assert_eq!(status(&s, Some(h), "/site/assets/0.png"), 200);
            assert_eq!(status(&s, Some(h), "/site/900.html"), 404);
        }
        // The echo route is host 0's.
        assert_eq!(status(&s, Some(0), "/get?a=1"), 200);
        assert_eq!(status(&s, Some(1), "/get?a=1"), 404);
    }

    #[test]
    fn hosts_by_address_have_their_own() {
        let s = hosts(3, HostNaming::Addresses);
        assert_eq!(s.base().as_str(), "http://127.0.1.1:4000/");
        assert_eq!(s.page_url(4).as_str(), "http://127.0.1.2:4000/site/4.html");
        assert!(s.resolve_map().is_empty());
        assert_eq!(
            s.site_scope(),
            Some(ScopeRule::Hosts(vec![
                "127.0.1.1:4000".into(),
                "127.0.1.2:4000".into(),
                "127.0.1.3:4000".into(),
            ]))
        );
        assert_eq!(s.host_of_authority(Some("127.0.1.3:4000")), Some(2));
        assert_eq!(s.host_of_authority(Some("127.0.1.4:4000")), None);
        assert_eq!(s.host_of_authority(Some("127.0.0.1:4000")), None);
        let url = |t: &str| Url::parse(t).unwrap();
        assert_eq!(s.host_of_url(&url("http://127.0.1.2:4000/x")), Some(1));
        assert_eq!(s.host_of_url(&url("https://127.0.1.2:4000/x")), None);
        assert_eq!(s.host_of_url(&url("http://127.0.1.2:4001/x")), None);
    }

    #[test]
    fn robots_txt_disallows_a_tenth_of_each_hosts_pages() {
        let s = site(SiteSpec {
            pages: 6000,
            hosts: 6,
            robots: true,
            ..Default::default()
        });
        assert!(!s.robots_disallows(0));
        for h in 0..6 {
            let route = s.reply_on(Some(h), "/robots.txt", 1).action;
            if h == 4 {
                // Every fifth host has no robots.txt.
                assert!(!s.serves_robots(h));
                assert!(matches!(route, Action::Respond { status: 404, .. }));
                assert!(
                    (0..6000)
                        .filter(|p| p % 6 == 4)
                        .all(|p| !s.robots_disallows(p))
                );
                continue;
            }
            let Action::Respond {
                status: 200,
                content_type: "text/plain",
                body,
                ..
            } = route
            else {
                panic!("host {h}: {route:?}");
            };
            let text = String::from_utf8(body.to_vec()).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines[1], "User-agent: *", "{text}");
            assert_eq!(
                lines.contains(&"Crawl-delay: 0.05"),
                h % 4 == 1,
                "host {h}: {text}"
            );
            assert_eq!(s.crawl_delay(h).is_some(), h % 4 == 1);
            let named: Vec<u32> = lines
                .iter()
                .filter_map(|l| l.strip_prefix("Disallow: /site/"))
                .map(|p| p.strip_suffix(".html").unwrap().parse().unwrap())
                .collect();
            let expected: Vec<u32> = (0..6000)
                .filter(|p| p % 6 == h && s.robots_disallows(*p))
                .collect();
            assert_eq!(named, expected, "host {h}");
            // About a tenth of its thousand pages.
            assert!(
                (60..140).contains(&named.len()),
                "host {h}: {}",
                named.len()
            );
        }
        // Without `robots`, none anywhere.
        let plain = hosts(3, HostNaming::Names);
        let plain = site(SiteSpec {
            robots: false,
            ..plain.spec.clone()
        });
        assert!((0..3).all(|h| status(&plain, Some(h), "/robots.txt") == 404));
        assert!((0..300).all(|p| !plain.robots_disallows(p)));
    }
}
