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
//! for, so the ground truth is computed by replaying these replies through the core's
//! [`FetchPolicy`] — the exact rules every backend follows.

use std::{fmt, str::FromStr, sync::OnceLock, time::Duration};

use bytes::Bytes;
use crawlbench_core::{
    CrawlJob, ErrorKind, Expected, FetchError, FetchPolicy, Frontier, GroundTruth, RawResponse,
    Workload, fetch::digest,
};
use serde::{Deserialize, Serialize};
use url::Url;

/// How long each request waits before its reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LatencyModel {
    /// The same delay for every request.
    Fixed {
        /// Milliseconds (fractions allowed).
        ms: f64,
    },
    /// Uniform between `min_ms` and `max_ms`, fixed per URL.
    Uniform {
        /// Lower bound, milliseconds.
        min_ms: f64,
        /// Upper bound, milliseconds.
        max_ms: f64,
    },
    /// Log-normal with the given median and sigma (of the underlying normal), fixed per URL.
    LogNormal {
        /// Median, milliseconds.
        median_ms: f64,
        /// Spread; 0.5 is moderate, 1.0 has a long tail.
        sigma: f64,
    },
}

impl Default for LatencyModel {
    fn default() -> Self {
        Self::Fixed { ms: 0.0 }
    }
}

impl LatencyModel {
    /// The delay for a request whose path hashes to `h`.
    pub fn delay(&self, h: u64) -> Duration {
        let ms = match *self {
            Self::Fixed { ms } => ms,
            Self::Uniform { min_ms, max_ms } => min_ms + unit(h) * (max_ms - min_ms),
            Self::LogNormal { median_ms, sigma } => {
                // Box–Muller from two hash-derived uniforms: deterministic per URL without
                // keeping RNG state (which rand_distr would need, per request, under contention).
                let u1 = unit(h).max(1e-12);
                let u2 = unit(mix(h ^ 0x9e37_79b9_7f4a_7c15));
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                median_ms * (sigma * z).exp()
            }
        };
        Duration::from_secs_f64(ms.max(0.0) / 1e3)
    }
}

impl fmt::Display for LatencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed { ms } => write!(f, "{ms}ms"),
            Self::Uniform { min_ms, max_ms } => write!(f, "uniform:{min_ms}ms..{max_ms}ms"),
            Self::LogNormal { median_ms, sigma } => write!(f, "lognormal:{median_ms}ms,{sigma}"),
        }
    }
}

/// Parses `50ms`, `0.2s`, `uniform:10ms..90ms`, `lognormal:50ms,0.5`.
impl FromStr for LatencyModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        const ACCEPTED: &str =
            "accepted: 50ms, 0.2s, uniform:10ms..90ms, lognormal:50ms,0.5 (median, sigma)";
        let bad = || format!("invalid latency {s:?} ({ACCEPTED})");
        if let Some(rest) = s.strip_prefix("uniform:") {
            let (a, b) = rest.split_once("..").ok_or_else(bad)?;
            let (min_ms, max_ms) = (parse_ms(a).ok_or_else(bad)?, parse_ms(b).ok_or_else(bad)?);
            if max_ms < min_ms {
                return Err(bad());
            }
            return Ok(Self::Uniform { min_ms, max_ms });
        }
        if let Some(rest) = s.strip_prefix("lognormal:") {
            let (m, sg) = rest.split_once(',').ok_or_else(bad)?;
            let median_ms = parse_ms(m).ok_or_else(bad)?;
            let sigma: f64 = sg.trim().parse().map_err(|_| bad())?;
            if !(0.0..=3.0).contains(&sigma) {
                return Err(format!(
                    "invalid latency {s:?}: sigma must be 0 to 3 ({ACCEPTED})"
                ));
            }
            return Ok(Self::LogNormal { median_ms, sigma });
        }
        Ok(Self::Fixed {
            ms: parse_ms(s).ok_or_else(bad)?,
        })
    }
}

/// Parses a duration like `50ms`, `0.2s`, `1m`, `250us` into milliseconds (≥ 0, ≤ 1 hour).
pub fn parse_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e3)
    } else {
        return None;
    };
    let v: f64 = num.trim().parse().ok()?;
    let ms = v * scale;
    (ms.is_finite() && (0.0..=3_600_000.0).contains(&ms)).then_some(ms)
}

/// The fault kinds the origin can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// HTTP 500 on every attempt.
    Status500,
    /// HTTP 503 on the first attempt, the page afterwards.
    Status503Once,
    /// Connection reset (RST) before any response, on every attempt.
    Reset,
    /// Connection reset on the first attempt only.
    ResetOnce,
    /// No response for `stall_ms` (past any sane client timeout).
    Stall,
    /// `Content-Length` of the whole page, half of it sent, then the connection closed.
    Truncate,
    /// A streamed (chunked) body of `oversize_bytes`.
    Oversize,
    /// A 302 to the same page with `?via=redirect`.
    Redirect,
    /// A 302 into a two-URL redirect cycle.
    RedirectLoop,
}

impl Fault {
    /// Every fault, in profile order.
    pub const ALL: [Fault; 9] = [
        Fault::Status500,
        Fault::Status503Once,
        Fault::Reset,
        Fault::ResetOnce,
        Fault::Stall,
        Fault::Truncate,
        Fault::Oversize,
        Fault::Redirect,
        Fault::RedirectLoop,
    ];
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Status500 => "500",
            Fault::Status503Once => "503-once",
            Fault::Reset => "reset",
            Fault::ResetOnce => "reset-once",
            Fault::Stall => "stall",
            Fault::Truncate => "truncate",
            Fault::Oversize => "oversize",
            Fault::Redirect => "redirect",
            Fault::RedirectLoop => "redirect-loop",
        }
    }
}

/// The share of pages (0..=1) given each fault.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultProfile {
    /// `(fault, share)` pairs; shares add up to at most 1.
    pub rates: Vec<(Fault, f64)>,
}

impl FaultProfile {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }
    /// `total` spread evenly over the given faults.
    pub fn spread(total: f64, faults: &[Fault]) -> Self {
        let each = total / faults.len().max(1) as f64;
        Self {
            rates: faults.iter().map(|f| (*f, each)).collect(),
        }
    }
    /// The fault for a page whose number hashes to `h` (page 0 never gets one).
    fn pick(&self, h: u64) -> Option<Fault> {
        let mut u = unit(h);
        for (fault, rate) in &self.rates {
            if u < *rate {
                return Some(*fault);
            }
            u -= rate;
        }
        None
    }
}

impl fmt::Display for FaultProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rates.is_empty() {
            return f.write_str("none");
        }
        let parts: Vec<String> = self
            .rates
            .iter()
            .map(|(k, r)| format!("{}={}%", k.name(), r * 100.0))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Parses `none`, `5%` (spread over every fault), or `reset=2%,stall=1%,500=0.5%`.
impl FromStr for FaultProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        let accepted = format!(
            "accepted: none, a share like 5% spread over all faults, or name=share pairs \
             like reset=2%,stall=1% with names {}",
            names.join(", ")
        );
        let share = |v: &str| -> Result<f64, String> {
            let v = v.trim();
            let x = match v.strip_suffix('%') {
                Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
                None => v.parse::<f64>(),
            }
            .map_err(|_| format!("invalid fault share {v:?} ({accepted})"))?;
            if (0.0..=1.0).contains(&x) {
                Ok(x)
            } else {
                Err(format!("fault share {v:?} is outside 0..100% ({accepted})"))
            }
        };
        let s = s.trim();
        if s == "none" || s.is_empty() {
            return Ok(Self::none());
        }
        if !s.contains('=') {
            return Ok(Self::spread(share(s)?, &Fault::ALL));
        }
        let mut rates = Vec::new();
        for part in s.split(',') {
            let (name, v) = part
                .split_once('=')
                .ok_or_else(|| format!("invalid fault {part:?} ({accepted})"))?;
            let fault = Fault::ALL
                .into_iter()
                .find(|f| f.name() == name.trim())
                .ok_or_else(|| format!("unknown fault {:?} ({accepted})", name.trim()))?;
            rates.push((fault, share(v)?));
        }
        let total: f64 = rates.iter().map(|(_, r)| r).sum();
        if total > 1.0 + 1e-9 {
            return Err(format!(
                "fault shares add up to {:.1}%, more than 100%",
                total * 100.0
            ));
        }
        Ok(Self { rates })
    }
}

/// The site's parameters. Two origins with the same spec serve the same bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SiteSpec {
    /// Pages `/site/0.html` ..
    pub pages: u32,
    /// Approximate size of a page body (padding is added to reach it).
    pub body_bytes: u32,
    /// Extra pseudo-random links per page, on top of the two tree links.
    pub links_per_page: u32,
    /// Seed of every pseudo-random choice.
    pub seed: u64,
    /// Per-request latency.
    pub latency: LatencyModel,
    /// Faults.
    pub faults: FaultProfile,
    /// How long a stalled request waits before replying, in milliseconds.
    pub stall_ms: u64,
    /// Size of an oversized body.
    pub oversize_bytes: u64,
}

impl Default for SiteSpec {
    fn default() -> Self {
        Self {
            pages: 1000,
            body_bytes: 2048,
            links_per_page: 8,
            seed: 1,
            latency: LatencyModel::default(),
            faults: FaultProfile::none(),
            stall_ms: 60_000,
            oversize_bytes: 4 << 20,
        }
    }
}

impl SiteSpec {
    /// Checks the spec's ranges; the message names what is accepted.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=10_000_000).contains(&self.pages) {
            return Err(format!(
                "invalid pages: {} (accepted: 1 to 10000000)",
                self.pages
            ));
        }
        if self.body_bytes > 64 << 20 {
            return Err(format!(
                "invalid body size: {} (accepted: up to 64 MiB)",
                self.body_bytes
            ));
        }
        if self.links_per_page > 1000 {
            return Err(format!(
                "invalid links per page: {} (accepted: 0 to 1000)",
                self.links_per_page
            ));
        }
        if self.oversize_bytes > 1 << 30 {
            return Err(format!(
                "invalid oversize: {} (accepted: up to 1 GiB)",
                self.oversize_bytes
            ));
        }
        Ok(())
    }
}

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
    pages: Vec<OnceLock<Bytes>>,
}

const SALT_FAULT: u64 = 0x6661_756c_7473;
const SALT_LINK: u64 = 0x006c_696e_6b73;
const SALT_DELAY: u64 = 0x0064_656c_6179;

/// The filler byte pattern of streamed bodies.
pub(crate) const FILLER: &[u8] =
    b"crawlbench filler: this body is larger than a client will accept\n";

impl Site {
    /// The site of `spec`, served at `base` (e.g. `http://127.0.0.1:8080/`).
    pub fn new(spec: SiteSpec, base: Url) -> Self {
        let pages = (0..spec.pages).map(|_| OnceLock::new()).collect();
        Self { spec, base, pages }
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
        let delay = self
            .spec
            .latency
            .delay(mix(self.spec.seed ^ SALT_DELAY ^ hash_str(path_and_query)));
        let action = self.action(path_and_query, attempt);
        let delay = match (&action, self.route(path_and_query)) {
            (
                _,
                Route::Page {
                    page,
                    query: Query::None,
                },
            ) if self.fault(page) == Some(Fault::Stall) => {
                Duration::from_millis(self.spec.stall_ms)
            }
            _ => delay,
        };
        Reply { delay, action }
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

    fn action(&self, path_and_query: &str, attempt: u32) -> Action {
        let html = |status: u16, body: Bytes| Action::Respond {
            status,
            content_type: "text/html; charset=utf-8",
            location: None,
            body,
        };
        let redirect = |to: String| Action::Respond {
            status: 302,
            content_type: "text/plain",
            location: Some(to),
            body: Bytes::from_static(b"moved"),
        };
        match self.route(path_and_query) {
            Route::Index => html(
                200,
                Bytes::from(
                    "<!doctype html><title>crawlbench origin</title>\
                     <p>Synthetic site: start at <a href=\"/site/0.html\">/site/0.html</a>.</p>",
                ),
            ),
            Route::NotFound => html(
                404,
                Bytes::from_static(b"<!doctype html><title>404</title><p>not found</p>"),
            ),
            Route::Asset(k) => Action::Respond {
                status: 200,
                content_type: "image/png",
                location: None,
                body: asset_body(k),
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
                Some(Fault::Status500) => Action::Respond {
                    status: 500,
                    content_type: "text/plain",
                    location: None,
                    body: Bytes::from_static(b"injected fault: internal server error"),
                },
                Some(Fault::Status503Once) if attempt <= 1 => Action::Respond {
                    status: 503,
                    content_type: "text/plain",
                    location: None,
                    body: Bytes::from_static(b"injected fault: try again"),
                },
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

    fn render_page(&self, i: u32) -> String {
        use std::fmt::Write as _;
        let pages = self.spec.pages;
        let authority = self.base.authority().to_owned();
        let mut s = String::with_capacity(self.spec.body_bytes as usize + 256);
        let _ = write!(
            s,
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Page {i}</title></head>\n\
             <body><h1 id=\"top\">Page {i}</h1>\n<nav><ul>\n"
        );
        for child in [2 * u64::from(i) + 1, 2 * u64::from(i) + 2] {
            if child < u64::from(pages) {
                let _ = writeln!(s, "<li><a href=\"{child}.html\">child {child}</a></li>");
            }
        }
        for k in 0..self.spec.links_per_page {
            let r = mix(self.spec.seed ^ SALT_LINK ^ mix((u64::from(i) << 20) ^ u64::from(k)));
            let j = r % u64::from(pages);
            let href = match (r >> 40) % 6 {
                0 => format!("{j}.html"),
                1 => format!("./{j}.html#part-{k}"),
                2 => format!("/site/{j}.html"),
                3 => format!("http://{authority}/site/{j}.html"),
                4 => format!("../site/{j}.html"),
                _ => format!("{j}.html#top"),
            };
            let _ = writeln!(s, "<li><a href='{href}' class=\"x\">page {j}</a></li>");
        }
        s.push_str("</ul></nav>\n<p>");
        if i % 4 == 0 {
            let _ = write!(
                s,
                "<a href=\"assets/{}.png\"><img src=\"assets/{0}.png\" alt=\"\"></a> ",
                i % self.assets()
            );
        }
        match i % 3 {
            0 => {
                let _ = write!(s, "<a href=\"/outside/{i}.html\">out of scope</a> ");
            }
            1 => {
                let _ = write!(
                    s,
                    "<a href=\"http://outside.invalid/site/{i}.html\">other host</a> "
                );
            }
            _ => s.push_str("<a href=\"mailto:nobody@outside.invalid\">mail</a> "),
        }
        if i % 50 == 7 {
            let _ = write!(
                s,
                "<a href=\"{}.html\">broken link</a> ",
                u64::from(pages) + u64::from(i)
            );
        }
        s.push_str("<a href=\"#top\">top</a></p>\n<article>\n");
        let mut n = 0u64;
        while s.len() + 30 < self.spec.body_bytes as usize {
            let _ = writeln!(
                s,
                "<p>Filler paragraph {n} &amp; more text for page {i}.</p>"
            );
            n += 1;
        }
        s.push_str("</article></body></html>\n");
        s
    }

    /// What a correct client reports for `url` under `job` (retries, redirects, timeout, cap),
    /// or `None` when `url` is not on this origin.
    pub fn expected(&self, job: &CrawlJob, url: &Url) -> Option<Expected> {
        if url.origin() != self.base.origin() {
            return None;
        }
        let mut policy = FetchPolicy::new(job, url.clone());
        let mut attempts_per_page = std::collections::HashMap::<u32, u32>::new();
        let mut near_timeout = false;
        loop {
            let current = policy.current().clone();
            let pq = path_and_query(&current);
            let attempt = match self.page_of(&pq) {
                Some(p) => {
                    let a = attempts_per_page.entry(p).or_insert(0);
                    *a += 1;
                    *a
                }
                None => 1,
            };
            let reply = self.reply(&pq, attempt);
            let t = job.timeout().as_secs_f64();
            let d = reply.delay.as_secs_f64();
            near_timeout |= d > t * 0.5 && d < t * 2.0;
            let result = if d >= t {
                Err(FetchError::new(ErrorKind::Timeout, "stall"))
            } else {
                simulate(&reply.action, job.max_body_bytes())
            };
            if let Some(o) = policy.record(result) {
                return Some(Expected {
                    outcome: o.outcome,
                    final_url: o.final_url,
                    attempts: o.attempts,
                    digest: o.digest,
                    links: o.links,
                    timeout_acceptable: near_timeout,
                });
            }
        }
    }

    /// The ground truth of `job` on this site: every listed URL, or every URL a complete crawl
    /// reaches.
    pub fn ground_truth(&self, job: &CrawlJob) -> GroundTruth {
        let mut truth = GroundTruth::new();
        match job.workload() {
            Workload::List { urls } => {
                for u in urls {
                    if let Some(e) = self.expected(job, u) {
                        truth.insert(u.clone(), e);
                    }
                }
            }
            Workload::Crawl { .. } => {
                let mut frontier = Frontier::unbounded(job);
                while let Some(u) = frontier.next_url() {
                    if let Some(e) = self.expected(job, &u) {
                        frontier.offer(&e.links);
                        truth.insert(u, e);
                    }
                }
            }
        }
        truth
    }
}

/// The path and query of `url`, as a client sends it.
pub fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// What a client following the rules sees for `action`.
fn simulate(action: &Action, max_body: u64) -> Result<RawResponse, FetchError> {
    match action {
        Action::Respond {
            status,
            content_type,
            location,
            body,
        } => {
            if body.len() as u64 > max_body {
                return Err(FetchError::body_too_large(max_body));
            }
            Ok(RawResponse {
                status: *status,
                location: location.clone(),
                content_type: Some((*content_type).to_owned()),
                body: body.to_vec(),
            })
        }
        Action::Reset => Err(FetchError::new(ErrorKind::Reset, "reset")),
        Action::Truncate { body } if body.len() as u64 > max_body => {
            Err(FetchError::body_too_large(max_body))
        }
        Action::Truncate { .. } => Err(FetchError::new(ErrorKind::Truncated, "truncated")),
        Action::Stream { len } if *len > max_body => Err(FetchError::body_too_large(max_body)),
        Action::Stream { len } => Ok(RawResponse {
            status: 200,
            location: None,
            content_type: Some("application/octet-stream".into()),
            body: FILLER.iter().copied().cycle().take(*len as usize).collect(),
        }),
    }
}

fn asset_body(k: u32) -> Bytes {
    let mut body = b"\x89PNG\r\n\x1a\n".to_vec();
    body.extend((0..504u32).map(|i| (mix(u64::from(k) << 16 | u64::from(i)) & 0xff) as u8));
    Bytes::from(body)
}

#[derive(Clone, Copy, Debug)]
enum Route {
    Index,
    NotFound,
    Asset(u32),
    Page { page: u32, query: Query },
}

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

/// SplitMix64's finalizer: a fast, well-mixed hash of one integer (deterministic on every
/// platform, unlike `std`'s `RandomState`).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hash_str(s: &str) -> u64 {
    digest(s.as_bytes())
}

/// A hash mapped to [0, 1).
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(spec: SiteSpec) -> Site {
        Site::new(spec, Url::parse("http://127.0.0.1:4000/").unwrap())
    }

    #[test]
    fn parses_latency_and_faults() {
        assert_eq!(
            "50ms".parse::<LatencyModel>().unwrap(),
            LatencyModel::Fixed { ms: 50.0 }
        );
        assert_eq!(
            "0.2s".parse::<LatencyModel>().unwrap(),
            LatencyModel::Fixed { ms: 200.0 }
        );
        assert!(matches!(
            "uniform:10ms..90ms".parse().unwrap(),
            LatencyModel::Uniform { .. }
        ));
        assert!(matches!(
            "lognormal:50ms,0.5".parse().unwrap(),
            LatencyModel::LogNormal { .. }
        ));
        let e = "fast".parse::<LatencyModel>().unwrap_err();
        assert!(e.contains("accepted"), "{e}");
        let p: FaultProfile = "9%".parse().unwrap();
        assert_eq!(p.rates.len(), 9);
        let p: FaultProfile = "reset=2%,stall=0.01".parse().unwrap();
        assert_eq!(p.rates, vec![(Fault::Reset, 0.02), (Fault::Stall, 0.01)]);
        assert!(
            "nope=1%"
                .parse::<FaultProfile>()
                .unwrap_err()
                .contains("unknown fault")
        );
        assert!(
            "reset=80%,stall=30%"
                .parse::<FaultProfile>()
                .unwrap_err()
                .contains("more than 100%")
        );
    }

    #[test]
    fn pages_are_deterministic_sized_html_with_links() {
        let spec = SiteSpec {
            pages: 100,
            body_bytes: 3000,
            ..Default::default()
        };
        let (a, b) = (site(spec.clone()), site(spec));
        assert_eq!(a.page_body(5), b.page_body(5));
        let body = a.page_body(5);
        assert!(body.len() >= 2970 && body.len() < 3300, "{}", body.len());
        let links = crawlbench_core::links::extract(&a.page_url(5), &body);
        assert!(links.iter().any(|l| l.path() == "/site/11.html"));
        let four = crawlbench_core::links::extract(&a.page_url(4), &a.page_body(4));
        assert!(four.iter().any(|l| l.host_str() == Some("outside.invalid")));
        assert!(
            four.iter().any(|l| l.path() == "/site/assets/4.png"),
            "{four:?}"
        );
        assert!(links.len() >= 8, "{links:?}");
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
    fn ground_truth_replays_faults_through_the_policy() {
        let spec = SiteSpec {
            pages: 2000,
            faults: "45%".parse().unwrap(),
            stall_ms: 5000,
            ..Default::default()
        };
        let s = site(spec);
        let job = CrawlJob::list(s.list_urls(2000).unwrap())
            .retries(1)
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let find = |f: Fault| (1..2000).find(|p| s.fault(*p) == Some(f)).unwrap();
        let exp = |f: Fault| s.expected(&job, &s.page_url(find(f))).unwrap();
        use crawlbench_core::Outcome::{Error, Status};
        assert_eq!(
            (
                exp(Fault::Status503Once).outcome,
                exp(Fault::Status503Once).attempts
            ),
            (Status(200), 2)
        );
        assert_eq!(
            (
                exp(Fault::Status500).outcome,
                exp(Fault::Status500).attempts
            ),
            (Status(500), 2)
        );
        assert_eq!(
            (exp(Fault::Reset).outcome, exp(Fault::Reset).attempts),
            (Error(ErrorKind::Reset), 2)
        );
        assert_eq!(
            (
                exp(Fault::ResetOnce).outcome,
                exp(Fault::ResetOnce).attempts
            ),
            (Status(200), 2)
        );
        assert_eq!(exp(Fault::Stall).outcome, Error(ErrorKind::Timeout));
        assert_eq!(exp(Fault::Truncate).outcome, Error(ErrorKind::Truncated));
        assert_eq!(exp(Fault::Oversize).outcome, Error(ErrorKind::BodyTooLarge));
        assert_eq!(exp(Fault::Oversize).attempts, 1);
        let r = exp(Fault::Redirect);
        assert_eq!(
            (r.outcome, r.attempts, r.final_url.query()),
            (Status(200), 2, Some("via=redirect"))
        );
        assert_eq!(
            exp(Fault::RedirectLoop).outcome,
            Error(ErrorKind::RedirectLoop)
        );
        let crawl = CrawlJob::crawl(vec![s.seed_url()], 100_000)
            .build()
            .unwrap();
        let truth = s.ground_truth(&crawl);
        assert!(truth.len() > 1000, "{}", truth.len());
        assert!(
            truth
                .get(&s.base.join("/site/2007.html").unwrap())
                .is_some(),
            "broken link in truth"
        );
    }
}
