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
//! Everything is a pure function of the spec, the path and how many times that page was asked
//! for. The parts: `spec` (the parameters and their parsers), `generator` (which page links
//! where, as data, and the HTML rendered from it), this module (routing a request to its reply),
//! and `truth` (what a correct client must report, stated from the generator's link graph and
//! the fault model — never by running the crawler's own fetch policy, frontier or link
//! extraction, which are what the truth checks).

mod generator;
mod spec;
mod truth;

use std::{sync::OnceLock, time::Duration};

use bytes::Bytes;
use crawlbench_core::fetch::digest;
use url::Url;

pub use generator::{Link, SiteFile, Spelling};
use spec::mix;
pub use spec::{Fault, FaultProfile, LatencyModel, SiteSpec, parse_ms};

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
    base: Url,
    /// `scheme://host:port` of `base`, the prefix of every URL on this origin.
    origin: String,
    pages: Vec<OnceLock<Bytes>>,
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
    /// The site of `spec`, served at `base` (e.g. `http://127.0.0.1:8080/`).
    pub fn new(spec: SiteSpec, base: Url) -> Self {
        let pages = (0..spec.pages).map(|_| OnceLock::new()).collect();
        let origin = base.origin().ascii_serialization();
        Self {
            spec,
            base,
            origin,
            pages,
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
    /// A job builder for `workload` on this site: over HTTPS it trusts the run's CA.
    pub fn job(&self, workload: crawlbench_core::Workload) -> crawlbench_core::CrawlJobBuilder {
        let builder = match workload {
            crawlbench_core::Workload::List { urls } => crawlbench_core::CrawlJob::list(urls),
            crawlbench_core::Workload::Crawl { seeds, max_pages } => {
                crawlbench_core::CrawlJob::crawl(seeds, max_pages)
            }
        };
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
    /// A crawl job from the seed page, trusting the run's CA.
    pub fn crawl_job(&self, max_pages: usize) -> crawlbench_core::CrawlJobBuilder {
        self.job(crawlbench_core::Workload::Crawl {
            seeds: vec![self.seed_url()],
            max_pages,
        })
    }
    /// The spec.
    pub fn spec(&self) -> &SiteSpec {
        &self.spec
    }
    /// The root URL.
    pub fn base(&self) -> &Url {
        &self.base
    }
    /// The URL of page `i`.
    pub fn page_url(&self, i: u32) -> Url {
        self.base
            .join(&format!("/site/{i}.html"))
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

    /// The reply to a request for `path_and_query`, the `attempt`-th (1-based) for that page.
    pub fn reply(&self, path_and_query: &str, attempt: u32) -> Reply {
        let route = self.route(path_and_query);
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

    /// The page number a path asks for, if it is a page of this site; transient faults count
    /// attempts per page.
    pub fn page_of(&self, path_and_query: &str) -> Option<u32> {
        match self.route(path_and_query) {
            Route::Page {
                page,
                query: Query::None,
            } => Some(page),
            _ => None,
        }
    }

    fn route(&self, path_and_query: &str) -> Route {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        if path == "/" {
            return Route::Index;
        }
        if path == "/get" {
            return match query.strip_prefix("a=").and_then(parse_index) {
                Some(a) if a < self.spec.pages => Route::Echo(a),
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
        let Some(page) = parse_index(n).filter(|p| *p < self.spec.pages) else {
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
            Route::Index => html(200, Bytes::from(self.index_body())),
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
    Index,
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
}
