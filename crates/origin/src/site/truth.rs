//! The ground truth: what a correct client reports for each URL of the site, and which URLs a
//! complete crawl reaches.
//!
//! It is stated from the site's own model, never by running the crawler: the core's fetch
//! policy, frontier and link extraction are the code under test, and if the truth were computed
//! with them, any bug in them would be in the truth too and every run would still "verify".
//! - A URL's outcome comes from the fault model, case by case, with the rules a correct client
//!   follows (retries after a retryable error or a 5xx, redirects up to `max_redirects` in a
//!   list, loops, the body cap, the timeout) restated for that case.
//! - A page's links come from the generator's [`Link`] list: each target's URL is known from what
//!   it is (and which host it lives on), so no HTML is parsed. A body past the cap still gives a
//!   crawl the links whose start tag ends before the cap — the generator notes where each ends.
//!   Every HTML body of the site starts with `<!doctype html>`, which sniffs as HTML; the
//!   oversize fault's filler (`crawlbench filler: …`) does not, nor do the plain-text bodies
//!   (500, 503, redirects, `robots.txt`), so those stay without links.
//! - In a crawl a redirect is not followed where it is met: its outcome is the 3xx itself (the
//!   redirect body's digest, one attempt) with its target as its one link, and the target is a
//!   URL of the walk like any other — reached once, and a redirect loop ends as a cycle of 3xx
//!   outcomes when the walk meets a URL it has seen. A list follows redirects inline, as before.
//! - The reachable set is a breadth-first walk over the generator's link graph from the seeds,
//!   within the job's scope, restated here in a few lines per rule (never the core's `Scope`):
//!   `Directory` (a seed's scheme, host and port, under its directory, like `wget
//!   --no-parent`), `Host` (a seed's scheme, host and port), `Domain` (a seed's scheme and
//!   registrable domain), `Hosts` (a listed `name` or `name:port`).
//! - When the job obeys `robots.txt`, every host the walk reaches (a URL on it is admitted) adds
//!   its `/robots.txt` as an outcome of its own, stated like any URL (a 200 with its digest, or a
//!   404). Its verdict decides the host's other URLs: a 2xx applies its rules, a 4xx allows
//!   everything, anything else (5xx, an error after the retries, a body past the cap) disallows
//!   everything. A disallowed URL is reached but never requested: `robots_disallowed`, no
//!   attempt, no digest, no links — so a page reachable only through it is not reachable. The
//!   rules are the site's own model ([`Site::robots_disallows`]): a path is disallowed when it
//!   starts with `/site/{p}.html` for a page `p` its host's file names. `Crawl-delay` and
//!   per-host politeness change when requests are made, never an outcome.
//! - `nofollow` changes nothing here: the generator emits no `rel=nofollow` and no robots meta.
//!
//! Cheap, too: per URL a route, a hash or two and a digest of a body rendered once.

use std::collections::{HashMap, HashSet, VecDeque};

use crawlbench_core::{
    CrawlJob, ErrorKind, Expected, GroundTruth, Outcome, ScopeRule, Workload, fetch::digest,
    rules::registrable_domain,
};
use url::Url;

use super::{
    BODY_404, BODY_500, BODY_503, BODY_REDIRECT, FILLER, Fault, Link, Query, Route, Site, SiteFile,
    generator::asset_body, parse_index, path_and_query,
};

/// A URL a crawl of this site can meet, named as the generator names it: cheap to hash, and
/// turned into a [`Url`] once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Node {
    /// `/site/{n}.html` on `host` (a 404 past the last page), or with `?via=redirect`, the
    /// address the redirect fault sends a page to, whose `#top` link names it. A real page is
    /// always named on its own host.
    Page { host: u32, n: u64, redirected: bool },
    /// `/site/{n}.html?loop={half}` on page `n`'s host: one half of a redirect loop.
    Loop { n: u32, half: u8 },
    /// `/site/assets/{k}.png` on `host`.
    Asset { host: u32, k: u32 },
    /// `/outside/{i}.html` on `host`.
    Outside { host: u32, i: u32 },
    /// `http://outside.invalid/site/{i}.html`.
    OtherHost(u32),
    /// `/` of a host.
    Index(u32),
    /// `/robots.txt` of a host.
    Robots(u32),
    /// A seed the generator does not name, by its position in the job's seeds.
    Seed(usize),
}

/// What a URL gives, and where its links lead when it is a page a crawl follows.
struct Resolved {
    expected: Expected,
    links: Vec<Node>,
}

/// An HTML document of the site: its body, its links and where their start tags end are
/// known without reading the body.
#[derive(Clone, Copy)]
enum Doc {
    Page(u32),
    Index(u32),
}

impl Doc {
    fn host(self, site: &Site) -> u32 {
        match self {
            Doc::Page(p) => site.host_of_page(u64::from(p)),
            Doc::Index(h) => h,
        }
    }
    fn links(self, site: &Site) -> Vec<Link> {
        match self {
            Doc::Page(p) => site.page_links(p),
            Doc::Index(_) => site.index_links().to_vec(),
        }
    }
    /// Where each link's start tag ends (only needed for a body past the cap).
    fn ends(self, site: &Site) -> Vec<usize> {
        match self {
            Doc::Page(p) => site.render_page_with_ends(p).1,
            Doc::Index(h) => site.render_index(h).1,
        }
    }
}

/// What a host's `robots.txt` outcome means for the host's other URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RobotsVerdict {
    /// 2xx: the file's rules apply.
    Rules,
    /// 4xx: no file, everything is allowed.
    AllowAll,
    /// 5xx or an error: everything is disallowed.
    DisallowAll,
}

impl Site {
    /// What a correct client reports for `url` under `job` (retries, redirects, timeout, cap),
    /// or `None` when `url` is not on this site. `robots.txt` rules are not applied here (they
    /// depend on the crawl: see [`Site::ground_truth`]).
    pub fn expected(&self, job: &CrawlJob, url: &Url) -> Option<Expected> {
        Truth::new(self, job, &[]).resolve(url).map(|r| r.expected)
    }

    /// The ground truth of `job` on this site: every listed URL, or every URL a complete crawl
    /// reaches, with the reachable set.
    pub fn ground_truth(&self, job: &CrawlJob) -> GroundTruth {
        self.walk(job).truth
    }

    /// For a full crawl of `job` (a list: its URLs), how many URLs of each host a correct client
    /// requests (every reachable URL with at least one attempt: `robots.txt` included, pages
    /// that `robots.txt` disallows not), indexed by host — the `pages_per_host` of
    /// [`crate::NetworkModel::ideal_polite_crawl_secs`].
    pub fn reachable_per_host(&self, job: &CrawlJob) -> Vec<u64> {
        let walked = self.walk(job);
        let mut per_host = vec![0u64; self.hosts.len()];
        let urls: Vec<&Url> = match job.workload() {
            Workload::List { urls } => urls.iter().collect(),
            Workload::Crawl { .. } => walked.truth.reachable().iter().collect(),
        };
        for url in urls {
            let requested = walked.truth.get(url).is_some_and(|e| e.attempts > 0);
            if let Some(h) = self.host_of_url(url).filter(|_| requested) {
                per_host[h as usize] += 1;
            }
        }
        per_host
    }

    /// The number of levels of a full crawl of `job`: the longest chain of links (from a seed,
    /// each URL found on the one before) a crawl must fetch one after another — the `depth` of
    /// [`crate::NetworkModel::ideal_polite_crawl_secs`]. `robots.txt` fetches are not counted,
    /// so it stays a lower bound. 1 for a list.
    pub fn crawl_depth(&self, job: &CrawlJob) -> u32 {
        self.walk(job).depth
    }

    /// The walk behind [`Site::ground_truth`].
    fn walk(&self, job: &CrawlJob) -> Walked {
        let mut truth = GroundTruth::new();
        let seeds = match job.workload() {
            Workload::List { urls } => {
                let mut stating = Truth::new(self, job, &[]);
                for u in urls {
                    if let Some(r) = stating.resolve(u) {
                        truth.insert(u.clone(), r.expected);
                    }
                }
                return Walked { truth, depth: 1 };
            }
            Workload::Crawl { seeds, .. } => seeds,
        };
        let mut stating = Truth::new(self, job, seeds);
        let scope = CrawlScope::of(self, &job.rules().scope, seeds);
        let mut bfs = Bfs {
            obeys_robots: job.rules().robots.obeys(),
            seen: HashSet::new(),
            reached: HashSet::new(),
            queue: VecDeque::new(),
        };
        for (i, seed) in seeds.iter().enumerate() {
            let node = self.seed_node(i, seed);
            bfs.admit(self, seeds, node, 1);
        }
        let mut depth = 0;
        while let Some((node, level)) = bfs.queue.pop_front() {
            let url = stating.url_of(node);
            truth.mark_reachable(url.clone());
            if bfs.obeys_robots
                && !matches!(node, Node::Robots(_))
                && let Some(h) = self.node_host(node, seeds)
                && stating.disallowed(h, &url)
            {
                truth.insert(url.clone(), disallowed(url));
                continue;
            }
            let Some(resolved) = stating.resolve(&url) else {
                continue;
            };
            if resolved.expected.attempts > 0 && !matches!(node, Node::Robots(_)) {
                depth = depth.max(level);
            }
            for next in &resolved.links {
                if scope.admits(*next) {
                    bfs.admit(self, seeds, *next, level + 1);
                }
            }
            truth.insert(url, resolved.expected);
        }
        Walked { truth, depth }
    }
}

/// A walk's result: the truth, and its number of levels.
struct Walked {
    truth: GroundTruth,
    depth: u32,
}

/// The breadth-first walk's state: URLs admitted so far, and hosts reached.
struct Bfs {
    obeys_robots: bool,
    seen: HashSet<Node>,
    reached: HashSet<u32>,
    queue: VecDeque<(Node, u32)>,
}

impl Bfs {
    /// Admits `node` once; the first URL admitted on a host brings in that host's
    /// `robots.txt` when the crawl obeys it.
    fn admit(&mut self, site: &Site, seeds: &[Url], node: Node, level: u32) {
        if !self.seen.insert(node) {
            return;
        }
        self.queue.push_back((node, level));
        if self.obeys_robots
            && let Some(h) = site.node_host(node, seeds)
            && self.reached.insert(h)
        {
            let robots = Node::Robots(h);
            if self.seen.insert(robots) {
                self.queue.push_back((robots, level));
            }
        }
    }
}

/// The outcome of a URL that `robots.txt` disallows: never requested.
fn disallowed(url: Url) -> Expected {
    Expected {
        outcome: Outcome::Error(ErrorKind::RobotsDisallowed),
        final_url: url,
        attempts: 0,
        digest: None,
        links: Vec::new(),
        timeout_acceptable: false,
    }
}

/// One computation of the truth: the site, the job, the URL of every node met so far (a page
/// is linked from many others; its URL is built once) and each host's `robots.txt` verdict.
struct Truth<'a> {
    site: &'a Site,
    job: &'a CrawlJob,
    seeds: &'a [Url],
    urls: HashMap<Node, Url>,
    robots: HashMap<u32, RobotsVerdict>,
}

impl<'a> Truth<'a> {
    fn new(site: &'a Site, job: &'a CrawlJob, seeds: &'a [Url]) -> Self {
        Self {
            site,
            job,
            seeds,
            urls: HashMap::new(),
            robots: HashMap::new(),
        }
    }

    fn url_of(&mut self, node: Node) -> Url {
        let (site, seeds) = (self.site, self.seeds);
        self.urls
            .entry(node)
            .or_insert_with(|| site.node_url(node, seeds))
            .clone()
    }

    /// What host `h`'s `robots.txt` outcome means (stated like any URL's outcome, once).
    fn robots_verdict(&mut self, h: u32) -> RobotsVerdict {
        if let Some(v) = self.robots.get(&h) {
            return *v;
        }
        let url = self.url_of(Node::Robots(h));
        let verdict = match self.resolve(&url).map(|r| r.expected.outcome) {
            Some(o) if o.is_success() => RobotsVerdict::Rules,
            Some(Outcome::Status(400..=499)) => RobotsVerdict::AllowAll,
            _ => RobotsVerdict::DisallowAll,
        };
        self.robots.insert(h, verdict);
        verdict
    }

    /// Whether `url`, on host `h`, is disallowed by that host's `robots.txt`: with rules, when
    /// its path starts with `/site/{p}.html` for a page `p` of host `h` that the file names.
    fn disallowed(&mut self, h: u32, url: &Url) -> bool {
        match self.robots_verdict(h) {
            RobotsVerdict::AllowAll => false,
            RobotsVerdict::DisallowAll => true,
            RobotsVerdict::Rules => {
                let pq = path_and_query(url);
                let Some(rest) = pq.strip_prefix("/site/") else {
                    return false;
                };
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                rest[digits..].starts_with(".html")
                    && parse_index(&rest[..digits]).is_some_and(|p| {
                        self.site.host_of_page(u64::from(p)) == h && self.site.robots_disallows(p)
                    })
            }
        }
    }

    /// The outcome of `url`, hop by hop through the site's redirects in a list (at most
    /// three), or the redirect itself in a crawl.
    fn resolve(&mut self, url: &Url) -> Option<Resolved> {
        let host = self.site.host_of_url(url)?;
        let mut walk = Walk::new(self.job, url);
        let mut hop = url.clone();
        loop {
            let pq = path_and_query(&hop);
            let route = self.site.route(Some(host), &pq);
            if let Some(done) = walk.times_out(self.site.delay(&pq, route), &hop) {
                return Some(done.into());
            }
            let (page, query) = match route {
                Route::Index(h) => {
                    let body = self.site.index_body(h);
                    let e = walk.response(&hop, 200, body.as_bytes());
                    return Some(self.follow(e, walk.max_body, Node::Index(h), Doc::Index(h)));
                }
                Route::Robots(h) => {
                    return Some(walk.response(&hop, 200, &self.site.robots_body(h)).into());
                }
                Route::NotFound => return Some(walk.response(&hop, 404, BODY_404).into()),
                Route::Echo(a) => {
                    let body = self.site.echo_body(a);
                    return Some(walk.response(&hop, 200, body.as_bytes()).into());
                }
                Route::Asset(k) => return Some(walk.response(&hop, 200, &asset_body(k)).into()),
                Route::Page { page, query } => (page, query),
            };
            let target = match (query, self.site.fault(page)) {
                // Each half of the two-URL cycle redirects to the other.
                (Query::Loop(n), _) => Node::Loop {
                    n: page,
                    half: 3 - n,
                },
                (Query::Redirected, _) | (Query::None, None | Some(Fault::Stall)) => {
                    return Some(self.page(&mut walk, &hop, page, query));
                }
                (Query::None, Some(Fault::Status500)) => {
                    return Some(walk.status_on_every_attempt(&hop, 500, BODY_500).into());
                }
                (Query::None, Some(Fault::Status503Once)) => {
                    if let Some(done) = walk.first_attempt_fails(&hop, FirstAttempt::Status503) {
                        return Some(done.into());
                    }
                    return Some(self.page(&mut walk, &hop, page, query));
                }
                (Query::None, Some(Fault::Reset)) => {
                    return Some(walk.fails_every_attempt(&hop, ErrorKind::Reset).into());
                }
                (Query::None, Some(Fault::ResetOnce)) => {
                    if let Some(done) = walk.first_attempt_fails(&hop, FirstAttempt::Reset) {
                        return Some(done.into());
                    }
                    return Some(self.page(&mut walk, &hop, page, query));
                }
                (Query::None, Some(Fault::Truncate)) => {
                    // A client reads any body up to the cap, whatever length was announced:
                    // when the half that is sent passes the cap, the body is too large (and a
                    // crawl keeps the links before the cap); otherwise the connection closes
                    // short of the announced length on every attempt.
                    let half = self.site.page_body(page).len() / 2;
                    if half as u64 > walk.max_body {
                        let e = walk.too_large(&hop);
                        let at = self.page_node(page, query);
                        return Some(self.follow(e, walk.max_body, at, Doc::Page(page)));
                    }
                    return Some(walk.fails_every_attempt(&hop, ErrorKind::Truncated).into());
                }
                (Query::None, Some(Fault::Oversize)) => {
                    // The filler does not sniff as HTML: past the cap it has no links.
                    let len = self.site.spec.oversize_bytes;
                    let done = if len > walk.max_body {
                        walk.too_large(&hop)
                    } else {
                        let filler: Vec<u8> =
                            FILLER.iter().copied().cycle().take(len as usize).collect();
                        walk.response(&hop, 200, &filler)
                    };
                    return Some(done.into());
                }
                (Query::None, Some(Fault::Redirect)) => Node::Page {
                    host,
                    n: u64::from(page),
                    redirected: true,
                },
                (Query::None, Some(Fault::RedirectLoop)) => Node::Loop { n: page, half: 1 },
            };
            let target_url = self.url_of(target);
            if self.job.follows_links() {
                // A crawl ends the URL at the redirect: the 3xx with its body's digest, and its
                // target as its one link (unless the body passed the cap: then no target).
                let mut expected = walk.response(&hop, 302, BODY_REDIRECT);
                if expected.outcome != Outcome::Status(302) {
                    return Some(expected.into());
                }
                expected.links = vec![target_url];
                return Some(Resolved {
                    expected,
                    links: vec![target],
                });
            }
            if let Some(done) = walk.redirect(&mut hop, target_url) {
                return Some(done.into());
            }
        }
    }

    /// The node of page `page` asked for with `query`.
    fn page_node(&self, page: u32, query: Query) -> Node {
        Node::Page {
            host: self.site.host_of_page(u64::from(page)),
            n: u64::from(page),
            redirected: query == Query::Redirected,
        }
    }

    /// Page `page` served at `hop`: its digest and, in a crawl, its links.
    fn page(&mut self, walk: &mut Walk, hop: &Url, page: u32, query: Query) -> Resolved {
        let expected = walk.response(hop, 200, &self.site.page_body(page));
        let at = self.page_node(page, query);
        self.follow(expected, walk.max_body, at, Doc::Page(page))
    }

    /// An HTML document's result: a crawl follows its links when it was served whole, and the
    /// links whose start tag ends within the first `cap` bytes when it passed the cap.
    fn follow(&mut self, mut expected: Expected, cap: u64, at: Node, doc: Doc) -> Resolved {
        if !self.job.follows_links() {
            return expected.into();
        }
        let mut links = doc.links(self.site);
        if expected.outcome == Outcome::Error(ErrorKind::BodyTooLarge) {
            let before_cap = doc
                .ends(self.site)
                .iter()
                .take_while(|end| **end as u64 <= cap)
                .count();
            links.truncate(before_cap);
        } else if !expected.outcome.is_success() {
            return expected.into();
        }
        let host = doc.host(self.site);
        let pages = u64::from(self.site.spec.pages);
        let mut nodes = Vec::with_capacity(links.len());
        let mut once = HashSet::with_capacity(links.len());
        for link in links {
            let node = match link {
                Link::Site(SiteFile::Page(n), _) => Node::Page {
                    // A real page is named on its own host; a broken link on the linking one.
                    host: if n < pages {
                        self.site.host_of_page(n)
                    } else {
                        host
                    },
                    n,
                    redirected: false,
                },
                Link::Site(SiteFile::Asset(k), _) => Node::Asset { host, k },
                Link::OutOfScope(i) => Node::Outside { host, i },
                Link::OtherHost(i) => Node::OtherHost(i),
                Link::Mail => continue,
                Link::Top => at,
            };
            if once.insert(node) {
                nodes.push(node);
            }
        }
        expected.links = nodes.iter().map(|n| self.url_of(*n)).collect();
        Resolved {
            expected,
            links: nodes,
        }
    }
}

impl Site {
    /// The URL of `node` (seeds are looked up in `seeds`).
    fn node_url(&self, node: Node, seeds: &[Url]) -> Url {
        let text = match node {
            Node::Page {
                host,
                n,
                redirected,
            } => {
                let query = if redirected { "?via=redirect" } else { "" };
                format!("{}/site/{n}.html{query}", self.host_origin(host))
            }
            Node::Loop { n, half } => {
                let origin = self.host_origin(self.host_of_page(u64::from(n)));
                format!("{origin}/site/{n}.html?loop={half}")
            }
            Node::Asset { host, k } => format!("{}/site/assets/{k}.png", self.host_origin(host)),
            Node::Outside { host, i } => format!("{}/outside/{i}.html", self.host_origin(host)),
            Node::OtherHost(i) => format!("http://outside.invalid/site/{i}.html"),
            Node::Index(h) => format!("{}/", self.host_origin(h)),
            Node::Robots(h) => format!("{}/robots.txt", self.host_origin(h)),
            Node::Seed(i) => {
                let mut seed = seeds[i].clone();
                seed.set_fragment(None);
                return seed;
            }
        };
        Url::parse(&text).expect("the site's URLs are valid")
    }

    /// The host of this site `node` is on, if any.
    fn node_host(&self, node: Node, seeds: &[Url]) -> Option<u32> {
        match node {
            Node::Page { host, .. }
            | Node::Asset { host, .. }
            | Node::Outside { host, .. }
            | Node::Index(host)
            | Node::Robots(host) => Some(host),
            Node::Loop { n, .. } => Some(self.host_of_page(u64::from(n))),
            Node::OtherHost(_) => None,
            Node::Seed(i) => self.host_of_url(&seeds[i]),
        }
    }

    /// The node of seed `i`: the generator's name for it when it has one, so that a link back
    /// to the seed is recognised as the seed.
    fn seed_node(&self, i: usize, seed: &Url) -> Node {
        let mut seed = seed.clone();
        seed.set_fragment(None);
        let Some(host) = self.host_of_url(&seed) else {
            return Node::Seed(i);
        };
        let pq = path_and_query(&seed);
        let named = match self.route(Some(host), &pq) {
            Route::Index(h) => Some(Node::Index(h)),
            Route::Robots(h) => Some(Node::Robots(h)),
            Route::NotFound if pq == "/robots.txt" => Some(Node::Robots(host)),
            Route::Asset(k) => Some(Node::Asset { host, k }),
            Route::Page {
                page,
                query: Query::Loop(half),
            } => Some(Node::Loop { n: page, half }),
            Route::Page { page, query } => Some(Node::Page {
                host,
                n: u64::from(page),
                redirected: query == Query::Redirected,
            }),
            _ => None,
        };
        named
            .filter(|n| self.node_url(*n, &[]) == seed)
            .unwrap_or(Node::Seed(i))
    }
}

impl From<Expected> for Resolved {
    fn from(expected: Expected) -> Self {
        Self {
            expected,
            links: Vec::new(),
        }
    }
}

/// Which of the site's kinds of URL a crawl may visit, per host, under the job's scope rule.
/// Every file of a kind shares its host and directory (a directory ends with `/`, so it holds
/// either every file of a kind or none: `/site/0.html` stands for all pages), so the rule is
/// evaluated once per host and kind.
struct CrawlScope {
    /// Per host: pages, assets, `/outside/`, the index.
    hosts: Vec<[bool; 4]>,
    other_host: bool,
}

/// A path standing for each kind of URL, in [`CrawlScope::hosts`] order.
const KINDS: [&str; 4] = ["/site/0.html", "/site/assets/0.png", "/outside/0.html", "/"];

/// A seed as the scope rules read it.
struct SeedPlace {
    scheme: String,
    host: String,
    port: Option<u16>,
    dir: String,
}

impl CrawlScope {
    fn of(site: &Site, rule: &ScopeRule, seeds: &[Url]) -> Self {
        let seeds: Vec<SeedPlace> = seeds
            .iter()
            .filter_map(|s| {
                let path = s.path();
                Some(SeedPlace {
                    scheme: s.scheme().to_owned(),
                    host: s.host_str()?.to_owned(),
                    port: s.port_or_known_default(),
                    dir: path[..=path.rfind('/').unwrap_or(0)].to_owned(),
                })
            })
            .collect();
        let hosts = (0..site.hosts())
            .map(|h| {
                KINDS.map(|path| {
                    rule_admits(
                        rule,
                        &seeds,
                        &site.scheme,
                        site.host_name(h),
                        Some(site.port),
                        path,
                    )
                })
            })
            .collect();
        let other_host = rule_admits(rule, &seeds, "http", "outside.invalid", Some(80), KINDS[0]);
        Self { hosts, other_host }
    }

    fn admits(&self, node: Node) -> bool {
        let kind = |host: u32, k: usize| self.hosts[host as usize][k];
        match node {
            Node::Page { host, .. } => kind(host, 0),
            Node::Loop { n, .. } => kind(n % self.hosts.len() as u32, 0),
            Node::Asset { host, .. } => kind(host, 1),
            Node::Outside { host, .. } => kind(host, 2),
            Node::Index(host) => kind(host, 3),
            Node::OtherHost(_) => self.other_host,
            // Only the robots rule brings a `robots.txt` in; the site never links one.
            Node::Robots(_) => false,
            Node::Seed(_) => true,
        }
    }
}

/// Whether `rule` admits a URL at `scheme://host:port` + `path`, for these seeds.
fn rule_admits(
    rule: &ScopeRule,
    seeds: &[SeedPlace],
    scheme: &str,
    host: &str,
    port: Option<u16>,
    path: &str,
) -> bool {
    let same_origin = |s: &SeedPlace| s.scheme == scheme && s.host == host && s.port == port;
    match rule {
        ScopeRule::Directory => seeds
            .iter()
            .any(|s| same_origin(s) && path.starts_with(s.dir.as_str())),
        ScopeRule::Host => seeds.iter().any(same_origin),
        ScopeRule::Domain => seeds
            .iter()
            .any(|s| s.scheme == scheme && registrable_domain(&s.host) == registrable_domain(host)),
        ScopeRule::Hosts(listed) => listed.iter().any(|entry| {
            entry == host
                || port.is_some_and(|p| {
                    entry
                        .strip_prefix(host)
                        .and_then(|rest| rest.strip_prefix(':'))
                        .is_some_and(|listed_port| listed_port == p.to_string())
                })
        }),
    }
}
/// A failure the site injects on a page's first attempt only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FirstAttempt {
    Status503,
    Reset,
}

/// A correct client's way through one URL: attempts so far, retries and redirect hops left.
/// Each method is one case of the client rules, applied to one of the site's replies.
struct Walk {
    chain: Vec<Url>,
    attempts: u32,
    retries_left: u32,
    redirects_left: u32,
    max_body: u64,
    timeout_secs: f64,
    near_timeout: bool,
}

impl Walk {
    fn new(job: &CrawlJob, url: &Url) -> Self {
        Self {
            chain: vec![url.clone()],
            attempts: 0,
            retries_left: job.retries(),
            redirects_left: job.max_redirects(),
            max_body: job.max_body_bytes(),
            timeout_secs: job.timeout().as_secs_f64(),
            near_timeout: false,
        }
    }

    /// The result `outcome` at `hop` after the attempts made so far.
    fn result(&self, hop: &Url, outcome: Outcome, digest: Option<u64>) -> Expected {
        Expected {
            outcome,
            final_url: hop.clone(),
            attempts: self.attempts,
            digest,
            links: Vec::new(),
            timeout_acceptable: self.near_timeout,
        }
    }

    /// The delay at `hop` is the same on every attempt: at or past the timeout, every attempt
    /// left times out. Within a factor of two of it, a timeout is an acceptable outcome too.
    fn times_out(&mut self, delay: std::time::Duration, hop: &Url) -> Option<Expected> {
        let (d, t) = (delay.as_secs_f64(), self.timeout_secs);
        self.near_timeout |= d > t * 0.5 && d < t * 2.0;
        (d >= t).then(|| self.fails_every_attempt(hop, ErrorKind::Timeout))
    }

    /// A retryable error on every attempt: the retries run out, the error is the outcome.
    fn fails_every_attempt(&mut self, hop: &Url, kind: ErrorKind) -> Expected {
        self.attempts += 1 + self.retries_left;
        self.retries_left = 0;
        self.result(hop, Outcome::Error(kind), None)
    }

    /// A body over the cap: `body_too_large` at once, never retried.
    fn too_large(&mut self, hop: &Url) -> Expected {
        self.attempts += 1;
        self.result(hop, Outcome::Error(ErrorKind::BodyTooLarge), None)
    }

    /// One complete response.
    fn response(&mut self, hop: &Url, status: u16, body: &[u8]) -> Expected {
        if body.len() as u64 > self.max_body {
            return self.too_large(hop);
        }
        self.attempts += 1;
        self.result(hop, Outcome::Status(status), Some(digest(body)))
    }

    /// A 5xx on every attempt: retried until the retries run out, then the status stands.
    fn status_on_every_attempt(&mut self, hop: &Url, status: u16, body: &[u8]) -> Expected {
        if body.len() as u64 > self.max_body {
            return self.too_large(hop);
        }
        self.attempts += self.retries_left;
        self.retries_left = 0;
        self.response(hop, status, body)
    }

    /// The first attempt fails (a 503, or a retryable error); `None` when a retry is left, so
    /// the next attempt gets the page, else the failure is the outcome.
    fn first_attempt_fails(&mut self, hop: &Url, failure: FirstAttempt) -> Option<Expected> {
        if failure == FirstAttempt::Status503 && BODY_503.len() as u64 > self.max_body {
            return Some(self.too_large(hop));
        }
        if self.retries_left == 0 {
            return Some(match failure {
                FirstAttempt::Reset => self.fails_every_attempt(hop, ErrorKind::Reset),
                FirstAttempt::Status503 => self.response(hop, 503, BODY_503),
            });
        }
        self.attempts += 1;
        self.retries_left -= 1;
        None
    }

    /// A 302 from `hop` to `target` (the site only redirects within its origin): followed (the
    /// next hop is `target`) unless it returns to a URL of this chain or no redirect is left.
    fn redirect(&mut self, hop: &mut Url, target: Url) -> Option<Expected> {
        if BODY_REDIRECT.len() as u64 > self.max_body {
            return Some(self.too_large(hop));
        }
        self.attempts += 1;
        if self.chain.contains(&target) {
            return Some(self.result(hop, Outcome::Error(ErrorKind::RedirectLoop), None));
        }
        if self.redirects_left == 0 {
            return Some(self.result(hop, Outcome::Error(ErrorKind::TooManyRedirects), None));
        }
        self.redirects_left -= 1;
        self.chain.push(target.clone());
        *hop = target;
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crawlbench_core::{
        FetchError, FetchOutcome, FetchPolicy, Frontier, RawResponse, RobotsRule, frontier::Next,
        links,
    };

    use super::*;
    use crate::site::{Action, HostNaming, SiteSpec};

    fn site(spec: SiteSpec) -> Site {
        Site::new(spec, Url::parse("http://127.0.0.1:4000/").unwrap())
    }

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    /// A correct client in memory: the core's fetch policy fed with the site's replies (what
    /// the ground truth used to be). Tests only: here it is the thing checked, not the judge.
    /// Returns the outcome, the last body and whether an attempt's delay was near the timeout.
    fn replay(site: &Site, job: &CrawlJob, url: &Url) -> (FetchOutcome, Vec<u8>, bool) {
        let mut policy = FetchPolicy::new(job, url.clone());
        let mut attempts = std::collections::HashMap::<u32, u32>::new();
        let (mut near, mut body) = (false, Vec::new());
        loop {
            let pq = path_and_query(policy.current());
            let host = site.host_of_url(policy.current());
            let attempt = site.page_on(host, &pq).map_or(1, |p| {
                let a = attempts.entry(p).or_insert(0);
                *a += 1;
                *a
            });
            let reply = site.reply_on(host, &pq, attempt);
            let (d, t) = (reply.delay.as_secs_f64(), job.timeout().as_secs_f64());
            near |= d > t * 0.5 && d < t * 2.0;
            let result = if d >= t {
                Err(FetchError::timeout(job.timeout()))
            } else {
                receive(&reply.action, job.max_body_bytes())
            };
            if let Ok(r) = &result {
                body.clone_from(&r.body);
            }
            if let Some(o) = policy.record(result) {
                return (o, body, near);
            }
        }
    }

    /// What a client following the rules receives for `action`: a body is read up to the cap
    /// whatever length was announced, and past it the error carries the part before the cap
    /// (as the core's `BodyBuffer` does).
    fn receive(action: &Action, max_body: u64) -> Result<RawResponse, FetchError> {
        let too_large = |body: &[u8]| {
            let mut e = FetchError::body_too_large(max_body);
            e.partial_body = Some(body[..max_body as usize].to_vec());
            e
        };
        match action {
            Action::Respond { body, .. } if body.len() as u64 > max_body => Err(too_large(body)),
            Action::Respond {
                status,
                content_type,
                location,
                body,
            } => Ok(RawResponse {
                status: *status,
                location: location.clone(),
                content_type: Some((*content_type).to_owned()),
                body: body.to_vec(),
            }),
            Action::Reset => Err(FetchError::new(ErrorKind::Reset, "reset")),
            Action::Truncate { body } if (body.len() / 2) as u64 > max_body => Err(too_large(body)),
            Action::Truncate { .. } => Err(FetchError::new(ErrorKind::Truncated, "truncated")),
            Action::Stream { len } => {
                let filler: Vec<u8> = FILLER
                    .iter()
                    .copied()
                    .cycle()
                    .take((*len).min(max_body + 1) as usize)
                    .collect();
                if *len > max_body {
                    return Err(too_large(&filler));
                }
                Ok(RawResponse {
                    status: 200,
                    location: None,
                    content_type: Some("application/octet-stream".into()),
                    body: filler,
                })
            }
        }
    }

    /// A whole crawl in memory with the core's frontier and fetch policy, and `extract` as the
    /// link extractor. Each fetch completes before the next step, so `Idle` means done.
    fn crawl(
        site: &Site,
        job: &CrawlJob,
        extract: impl Fn(&Url, &[u8]) -> Vec<Url>,
    ) -> Vec<FetchOutcome> {
        let mut frontier = Frontier::new(job);
        let mut outcomes = Vec::new();
        loop {
            match frontier.next_step() {
                Next::Fetch(url) => {
                    let (mut o, body, _) = replay(site, job, &url);
                    // A whole page's links through `extract` (a redirect's one link, and the
                    // links of a body past the cap, are the fetch policy's own).
                    if o.outcome.is_success() && !o.links.is_empty() {
                        o.links = extract(&o.final_url, &body);
                    }
                    frontier.complete(&o);
                    outcomes.push(o);
                }
                Next::Settled(o) => outcomes.push(*o),
                Next::WaitUntil(_) => panic!("these crawls have no per-host delay"),
                Next::Idle => return outcomes,
            }
        }
    }

    #[test]
    fn a_small_site_has_the_hand_checked_truth() {
        // Seven pages, one random link each; pages 3 and 6 redirect to `?via=redirect`.
        let s = site(SiteSpec {
            pages: 7,
            links_per_page: 1,
            body_bytes: 0,
            faults: "redirect=30%".parse().unwrap(),
            ..Default::default()
        });
        assert_eq!(s.fault(3), Some(Fault::Redirect));
        assert_eq!(s.fault(6), Some(Fault::Redirect));
        let job = CrawlJob::crawl(vec![s.seed_url()], 1000).build().unwrap();
        let truth = s.ground_truth(&job);
        let mut reached: Vec<&str> = truth.reachable().iter().map(Url::as_str).collect();
        reached.sort_unstable();
        let p = "http://127.0.0.1:4000/site/";
        let expected: Vec<String> = [
            "0.html",
            "1.html",
            "2.html",
            "3.html",
            "3.html?via=redirect",
            "4.html",
            "5.html",
            "6.html",
            "6.html?via=redirect",
            "assets/0.png",
        ]
        .iter()
        .map(|f| format!("{p}{f}"))
        .collect();
        assert_eq!(reached, expected);
        let links = |path: &str| -> Vec<String> {
            let e = truth.get(&u(&format!("{p}{path}"))).unwrap();
            e.links.iter().map(|l| l.to_string()).collect()
        };
        // Page 0: `1.html`, `2.html`, `./2.html#part-0` (the same page again), an image,
        // `/outside/0.html` (followed by no crawl, but a link all the same) and `#top`.
        assert_eq!(
            links("0.html"),
            [
                format!("{p}1.html"),
                format!("{p}2.html"),
                format!("{p}assets/0.png"),
                "http://127.0.0.1:4000/outside/0.html".into(),
                format!("{p}0.html"),
            ]
        );
        // A crawl does not follow page 3's redirect: the 302 is its outcome, the target its one
        // link, and the target a page of its own whose `#top` names that address.
        let three = truth.get(&u(&format!("{p}3.html"))).unwrap();
        assert_eq!(
            (&three.outcome, three.attempts, three.final_url.as_str()),
            (&Outcome::Status(302), 1, format!("{p}3.html").as_str())
        );
        assert_eq!(three.digest, Some(digest(BODY_REDIRECT)));
        assert_eq!(links("3.html"), [format!("{p}3.html?via=redirect")]);
        assert_eq!(
            links("3.html?via=redirect"),
            [
                format!("{p}1.html"),
                "http://127.0.0.1:4000/outside/3.html".into(),
                format!("{p}3.html?via=redirect"),
            ]
        );
        // Page 1 links another host; page 2 a `mailto:`, which is no link at all.
        assert_eq!(links("1.html")[3], "http://outside.invalid/site/1.html");
        assert_eq!(links("2.html").len(), 4);
        assert!(links("assets/0.png").is_empty());
        // A list reads bodies and follows nothing.
        let list = CrawlJob::list(s.list_urls(7).unwrap()).build().unwrap();
        let listed = s.ground_truth(&list);
        assert!(listed.get(&s.seed_url()).unwrap().links.is_empty());
        assert!(listed.reachable().is_empty());
    }

    #[test]
    fn each_fault_gives_its_outcome() {
        let spec = SiteSpec {
            pages: 2000,
            faults: "45%".parse().unwrap(),
            stall_ms: 5000,
            ..Default::default()
        };
        let s = site(spec);
        let find = |f: Fault| (1..2000).find(|p| s.fault(*p) == Some(f)).unwrap();
        let job = |retries: u32, redirects: u32| {
            CrawlJob::list(s.list_urls(2000).unwrap())
                .retries(retries)
                .max_redirects(redirects)
                .timeout(Duration::from_millis(500))
                .build()
                .unwrap()
        };
        let exp = |job: &CrawlJob, f: Fault| {
            let e = s.expected(job, &s.page_url(find(f))).unwrap();
            (e.outcome, e.attempts)
        };
        use crawlbench_core::Outcome::{Error, Status};
        let (one, two, none) = (job(1, 5), job(2, 5), job(0, 5));
        assert_eq!(exp(&one, Fault::Status503Once), (Status(200), 2));
        assert_eq!(exp(&none, Fault::Status503Once), (Status(503), 1));
        assert_eq!(exp(&two, Fault::Status500), (Status(500), 3));
        assert_eq!(exp(&two, Fault::Reset), (Error(ErrorKind::Reset), 3));
        assert_eq!(exp(&one, Fault::ResetOnce), (Status(200), 2));
        assert_eq!(exp(&none, Fault::ResetOnce), (Error(ErrorKind::Reset), 1));
        assert_eq!(exp(&two, Fault::Stall), (Error(ErrorKind::Timeout), 3));
        assert_eq!(exp(&one, Fault::Truncate), (Error(ErrorKind::Truncated), 2));
        assert_eq!(
            exp(&two, Fault::Oversize),
            (Error(ErrorKind::BodyTooLarge), 1)
        );
        let r = s
            .expected(&one, &s.page_url(find(Fault::Redirect)))
            .unwrap();
        assert_eq!(
            (r.outcome, r.attempts, r.final_url.query()),
            (Status(200), 2, Some("via=redirect"))
        );
        assert_eq!(
            exp(&one, Fault::RedirectLoop),
            (Error(ErrorKind::RedirectLoop), 3)
        );
        let no_hops = job(1, 0);
        assert_eq!(
            exp(&no_hops, Fault::Redirect),
            (Error(ErrorKind::TooManyRedirects), 1)
        );
        let one_hop = job(1, 1);
        let e = s
            .expected(&one_hop, &s.page_url(find(Fault::RedirectLoop)))
            .unwrap();
        assert_eq!(
            (e.outcome, e.attempts, e.final_url.query()),
            (Error(ErrorKind::TooManyRedirects), 2, Some("loop=1"))
        );
        // A stall just past half the timeout may or may not time out: both are accepted.
        let stall = s
            .expected(&job(1, 5), &s.page_url(find(Fault::Stall)))
            .unwrap();
        assert!(!stall.timeout_acceptable);
        let near = CrawlJob::list(vec![s.seed_url()])
            .timeout(Duration::from_secs(6))
            .build()
            .unwrap();
        let e = s.expected(&near, &s.page_url(find(Fault::Stall))).unwrap();
        assert_eq!(e.outcome, Status(200));
        assert!(e.timeout_acceptable);
        // Broken links are 404s, and a crawl reaches them.
        let crawl = CrawlJob::crawl(vec![s.seed_url()], 100_000)
            .build()
            .unwrap();
        let truth = s.ground_truth(&crawl);
        assert!(truth.len() > 1000, "{}", truth.len());
        let broken = truth.get(&s.base.join("/site/2007.html").unwrap()).unwrap();
        assert_eq!(broken.outcome, Status(404));
    }

    /// The truth is stated independently of the core, so agreeing with a replay through the
    /// core's fetch policy and link extraction — for every fault, under many limits, for lists
    /// and crawls — checks both.
    #[test]
    fn agrees_with_a_correct_client_for_every_fault_and_limit() {
        let s = site(SiteSpec {
            pages: 400,
            body_bytes: 1500,
            links_per_page: 5,
            faults: "60%".parse().unwrap(),
            stall_ms: 400,
            oversize_bytes: 3000,
            ..Default::default()
        });
        let mut seen = HashSet::new();
        for retries in [0, 1, 3] {
            for redirects in [0, 1, 2, 5] {
                for (cap, timeout_ms) in [(1 << 20, 10_000), (4000, 300), (1000, 700), (30, 600)] {
                    for crawl in [false, true] {
                        let builder = if crawl {
                            CrawlJob::crawl(vec![s.seed_url()], 100_000)
                        } else {
                            CrawlJob::list(s.list_urls(400).unwrap())
                        };
                        let job = builder
                            .retries(retries)
                            .max_redirects(redirects)
                            .max_body_bytes(cap)
                            .timeout(Duration::from_millis(timeout_ms))
                            .build()
                            .unwrap();
                        let truth = s.ground_truth(&job);
                        let urls: Vec<Url> = if crawl {
                            let outcomes = crawl_with_core(&s, &job);
                            let v = truth.verify(&job, &outcomes);
                            assert!(v.verified, "{job:?}: {v:?}");
                            outcomes.into_iter().map(|o| o.url).collect()
                        } else {
                            s.list_urls(400).unwrap()
                        };
                        for url in urls {
                            let (o, _, near) = replay(&s, &job, &url);
                            let e = truth.get(&url).unwrap();
                            let got = (&o.outcome, o.attempts, &o.final_url, o.digest, &o.links);
                            let want = (&e.outcome, e.attempts, &e.final_url, e.digest, &e.links);
                            assert_eq!(got, want, "{url} under {job:?}");
                            assert_eq!(near, e.timeout_acceptable, "{url}");
                            seen.insert(o.outcome);
                        }
                    }
                }
            }
        }
        let mut want: Vec<Outcome> = [200, 404, 500, 503].map(Outcome::Status).into();
        want.extend(
            [
                ErrorKind::Timeout,
                ErrorKind::Reset,
                ErrorKind::Truncated,
                ErrorKind::BodyTooLarge,
                ErrorKind::RedirectLoop,
                ErrorKind::TooManyRedirects,
            ]
            .map(Outcome::Error),
        );
        assert!(want.iter().all(|o| seen.contains(o)), "{seen:?}");
    }

    fn crawl_with_core(s: &Site, job: &CrawlJob) -> Vec<FetchOutcome> {
        crawl(s, job, links::extract)
    }

    #[test]
    fn a_crawler_with_a_wrong_extractor_fails_verification() {
        let s = site(SiteSpec {
            pages: 300,
            faults: "20%".parse().unwrap(),
            stall_ms: 100,
            ..Default::default()
        });
        let job = CrawlJob::crawl(vec![s.seed_url()], 100_000)
            .build()
            .unwrap();
        let truth = s.ground_truth(&job);
        assert!(truth.verify(&job, &crawl_with_core(&s, &job)).verified);
        // An extractor that misses `../` links: had the truth been computed by the crawler's
        // own extractor, it would have agreed with itself.
        let wrong = crawl(&s, &job, |base, body| {
            let body = String::from_utf8_lossy(body).replace("href='../", "data-x='../");
            links::extract(base, body.as_bytes())
        });
        let v = truth.verify(&job, &wrong);
        assert!(!v.verified);
        assert!(
            v.differences.iter().any(|d| d.contains("links found")),
            "{v:?}"
        );
        // So does one that drops a single link of a single page, even when the crawl still
        // reaches every page.
        let mut one_short = crawl_with_core(&s, &job);
        let page = one_short.iter_mut().find(|o| o.links.len() > 3).unwrap();
        page.links.remove(1);
        let v = truth.verify(&job, &one_short);
        assert_eq!(v.total_differences, 1, "{v:?}");
    }

    fn multi_host(hosts: u32, naming: HostNaming, spec: SiteSpec) -> Site {
        site(SiteSpec {
            hosts,
            host_naming: naming,
            ..spec
        })
    }

    /// The hosts (as host indexes) the reachable URLs of `truth` are on.
    fn hosts_reached(s: &Site, truth: &GroundTruth) -> Vec<u32> {
        let mut hosts: Vec<u32> = truth
            .reachable()
            .iter()
            .map(|u| s.host_of_url(u).unwrap())
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        hosts
    }

    /// Under every scope rule, with and without robots.txt, with faults and a cap that cuts
    /// pages short, a crawl of a multi-host site through the core's frontier and fetch policy
    /// verifies against the truth stated here (which uses neither).
    #[test]
    fn multi_host_crawls_agree_with_the_core_under_every_scope_and_robots() {
        let mut disallowed = 0;
        for (hosts, naming) in [
            (3, HostNaming::Names),
            (3, HostNaming::Addresses),
            (6, HostNaming::Names),
        ] {
            let s = multi_host(
                hosts,
                naming,
                SiteSpec {
                    pages: 240,
                    body_bytes: 1500,
                    links_per_page: 4,
                    faults: "30%".parse().unwrap(),
                    stall_ms: 400,
                    oversize_bytes: 3000,
                    robots: true,
                    ..Default::default()
                },
            );
            let all = s.site_scope().unwrap();
            let some = ScopeRule::Hosts(vec![
                s.host_url(0).authority().to_owned(),
                s.host_url(2).host_str().unwrap().to_owned(),
            ]);
            for scope in [
                ScopeRule::Directory,
                ScopeRule::Host,
                ScopeRule::Domain,
                all,
                some,
            ] {
                for robots in [RobotsRule::Ignore, RobotsRule::Obey] {
                    for cap in [1 << 20, 1000] {
                        let job = s
                            .crawl_job(100_000)
                            .scope(scope.clone())
                            .robots(robots)
                            .retries(1)
                            .max_body_bytes(cap)
                            .timeout(Duration::from_millis(300))
                            .build()
                            .unwrap();
                        let truth = s.ground_truth(&job);
                        let outcomes = crawl_with_core(&s, &job);
                        let v = truth.verify(&job, &outcomes);
                        let what =
                            format!("{hosts} {naming} hosts, {scope}, {robots:?}, cap {cap}");
                        assert!(v.verified, "{what}: {v:?}");
                        disallowed += outcomes
                            .iter()
                            .filter(|o| o.outcome == Outcome::Error(ErrorKind::RobotsDisallowed))
                            .count();
                    }
                }
            }
        }
        assert!(disallowed > 100, "{disallowed}");
    }

    #[test]
    fn a_full_crawl_reaches_every_host_through_absolute_links() {
        for naming in [HostNaming::Names, HostNaming::Addresses] {
            let s = multi_host(
                3,
                naming,
                SiteSpec {
                    pages: 60,
                    links_per_page: 2,
                    ..Default::default()
                },
            );
            let job = s.crawl_job(100_000).build().unwrap();
            let truth = s.ground_truth(&job);
            assert_eq!(hosts_reached(&s, &truth), [0, 1, 2], "{naming}");
            for p in 0..60 {
                let e = truth.get(&s.page_url(p)).unwrap();
                assert_eq!(e.outcome, Outcome::Status(200), "page {p}");
            }
            // Page 0 (host 0) links its children on hosts 1 and 2 by their own URLs.
            let zero = truth.get(&s.seed_url()).unwrap();
            assert_eq!(zero.links[..2], [s.page_url(1), s.page_url(2)]);
            assert_eq!(zero.links[0].host_str(), s.host_url(1).host_str());
            // Every link of every page names a URL the truth knows, on the host it lives on.
            for url in truth.reachable() {
                for link in &truth.get(url).unwrap().links {
                    if link.host_str() == Some("outside.invalid") {
                        continue;
                    }
                    let host = s.host_of_url(link).unwrap();
                    if let Some(p) = link
                        .path()
                        .strip_prefix("/site/")
                        .and_then(|r| r.strip_suffix(".html"))
                        .and_then(|n| n.parse::<u64>().ok())
                        .filter(|p| *p < 60)
                    {
                        assert_eq!(host, s.host_of_page(p), "{link} from {url}");
                    }
                    assert!(truth.get(link).is_some(), "{link} from {url}");
                }
            }
            // The site has 60 pages, 3 images, 20 `/outside/` links and 1 broken link: with the
            // scope taking in every host and any path, all of them, on their hosts.
            let outside = truth
                .reachable()
                .iter()
                .filter(|u| u.path().starts_with("/outside/"))
                .count();
            assert_eq!(outside, 20);
            // A list of every page, on its host, is unchanged but for the URLs.
            let list = s.list_job(60).unwrap().build().unwrap();
            let listed = s.ground_truth(&list);
            assert_eq!(listed.len(), 60);
            assert!(listed.reachable().is_empty());
        }
    }

    #[test]
    fn the_truth_restates_each_scope_rule() {
        let s = multi_host(
            3,
            HostNaming::Names,
            SiteSpec {
                pages: 90,
                links_per_page: 3,
                ..Default::default()
            },
        );
        let reach = |scope: ScopeRule| {
            let job = s.crawl_job(100_000).scope(scope).build().unwrap();
            s.ground_truth(&job)
        };
        // Directory: host 0, under `/site/`.
        let dir = reach(ScopeRule::Directory);
        assert_eq!(hosts_reached(&s, &dir), [0]);
        assert!(
            dir.reachable()
                .iter()
                .all(|u| u.path().starts_with("/site/"))
        );
        // Host: host 0, any path (its `/outside/` links are 404s now reached).
        let host = reach(ScopeRule::Host);
        assert_eq!(hosts_reached(&s, &host), [0]);
        let outside: Vec<&Url> = host
            .reachable()
            .iter()
            .filter(|u| u.path().starts_with("/outside/"))
            .collect();
        assert!(!outside.is_empty());
        assert!(
            outside
                .iter()
                .all(|u| host.get(u).unwrap().outcome == Outcome::Status(404))
        );
        // Domain: every host shares `crawl.test`; `outside.invalid` is another domain.
        let domain = reach(ScopeRule::Domain);
        assert_eq!(hosts_reached(&s, &domain), [0, 1, 2]);
        assert!(domain.reachable().len() > host.reachable().len());
        // Hosts: exactly those listed (a name alone stands for any port).
        let listed = reach(ScopeRule::Hosts(vec![
            s.host_url(0).authority().to_owned(),
            "h2.crawl.test".into(),
        ]));
        assert_eq!(hosts_reached(&s, &listed), [0, 2]);
        let wrong_port = reach(ScopeRule::Hosts(vec!["h1.crawl.test:1".into()]));
        assert_eq!(wrong_port.reachable().len(), 1, "only the seed");
        // With addresses, each address is a domain of its own.
        let a = multi_host(3, HostNaming::Addresses, s.spec.clone());
        let job = a
            .crawl_job(100_000)
            .scope(ScopeRule::Domain)
            .build()
            .unwrap();
        assert_eq!(hosts_reached(&a, &a.ground_truth(&job)), [0]);
        let job = a.crawl_job(100_000).build().unwrap();
        assert_eq!(hosts_reached(&a, &a.ground_truth(&job)), [0, 1, 2]);
        // nofollow changes nothing: the site has no nofollow links.
        let plain = s.crawl_job(100_000).build().unwrap();
        let nofollow = s.crawl_job(100_000).nofollow(true).build().unwrap();
        assert_eq!(
            s.ground_truth(&plain).reachable(),
            s.ground_truth(&nofollow).reachable()
        );
    }

    #[test]
    fn robots_txt_is_an_outcome_and_disallowed_pages_end_their_branch() {
        // A tree only (no random links): a page is reachable through its parent alone.
        let s = multi_host(
            6,
            HostNaming::Names,
            SiteSpec {
                pages: 3000,
                links_per_page: 0,
                robots: true,
                ..Default::default()
            },
        );
        let job = s
            .crawl_job(1_000_000)
            .robots(RobotsRule::Obey)
            .build()
            .unwrap();
        let truth = s.ground_truth(&job);
        for h in 0..6 {
            let robots = truth.get(&s.robots_url(h)).unwrap();
            assert!(truth.reachable().contains(&s.robots_url(h)));
            if h == 4 {
                assert_eq!(robots.outcome, Outcome::Status(404));
                assert_eq!(robots.digest, Some(digest(BODY_404)));
            } else {
                assert_eq!(robots.outcome, Outcome::Status(200));
                assert_eq!(robots.digest, Some(digest(&s.robots_body(h))));
            }
            assert!(robots.links.is_empty());
        }
        let allowed_above = |mut p: u32| {
            while p > 0 {
                p = (p - 1) / 2;
                if s.robots_disallows(p) {
                    return false;
                }
            }
            true
        };
        let mut disallowed = 0;
        for p in 0..3000 {
            let url = s.page_url(p);
            assert_eq!(
                truth.reachable().contains(&url),
                allowed_above(p),
                "page {p}"
            );
            let Some(e) = truth.get(&url) else { continue };
            if s.robots_disallows(p) {
                disallowed += 1;
                assert_eq!(e.outcome, Outcome::Error(ErrorKind::RobotsDisallowed));
                assert_eq!((e.attempts, e.digest, e.links.len()), (0, None, 0));
                assert_eq!(e.final_url, url);
            } else {
                assert_eq!(e.outcome, Outcome::Status(200), "page {p}");
            }
        }
        assert!(disallowed > 10, "{disallowed}");
        // Host 4 has no robots.txt: nothing of it is disallowed.
        assert!(
            (0..3000)
                .filter(|p| p % 6 == 4)
                .all(|p| !s.robots_disallows(p))
        );
        // Ignoring robots.txt, no robots.txt is fetched and every page is reached.
        let ignore = s.ground_truth(&s.crawl_job(1_000_000).build().unwrap());
        assert!((0..6).all(|h| ignore.get(&s.robots_url(h)).is_none()));
        assert!((0..3000).all(|p| ignore.reachable().contains(&s.page_url(p))));
        // A list never applies robots.txt.
        let list = s
            .list_job(3000)
            .unwrap()
            .robots(RobotsRule::Obey)
            .build()
            .unwrap();
        let listed = s.ground_truth(&list);
        assert!(
            (0..3000).all(|p| listed.get(&s.page_url(p)).unwrap().outcome == Outcome::Status(200))
        );
        // Per host, what a full crawl requests: robots.txt and every page not disallowed.
        let per_host = s.reachable_per_host(&job);
        for (h, n) in per_host.iter().enumerate() {
            let requested = truth
                .reachable()
                .iter()
                .filter(|u| s.host_of_url(u) == Some(h as u32))
                .filter(|u| truth.get(u).unwrap().attempts > 0)
                .count();
            assert_eq!(*n, requested as u64, "host {h}");
        }
        // A tree of 3000 pages is 12 levels deep, and its last pages' images one more.
        let ignoring = s.crawl_job(1_000_000).build().unwrap();
        assert_eq!(s.crawl_depth(&ignoring), 13);
    }

    #[test]
    fn a_crawl_meets_redirects_as_outcomes_and_loops_as_cycles() {
        let s = multi_host(
            3,
            HostNaming::Names,
            SiteSpec {
                pages: 300,
                faults: "redirect-loop=20%,redirect=20%".parse().unwrap(),
                ..Default::default()
            },
        );
        let job = s.crawl_job(100_000).build().unwrap();
        let truth = s.ground_truth(&job);
        let looped = (1..300)
            .find(|p| s.fault(*p) == Some(Fault::RedirectLoop))
            .unwrap();
        let page = s.page_url(looped);
        let half = |n: u8| Url::parse(&format!("{page}?loop={n}")).unwrap();
        for (from, to) in [
            (page.clone(), half(1)),
            (half(1), half(2)),
            (half(2), half(1)),
        ] {
            let e = truth.get(&from).unwrap();
            assert_eq!(
                (&e.outcome, e.attempts, &e.final_url, e.digest),
                (&Outcome::Status(302), 1, &from, Some(digest(BODY_REDIRECT))),
                "{from}"
            );
            assert_eq!(e.links, [to], "{from}");
            assert!(truth.reachable().contains(&from));
        }
        let moved = (1..300)
            .find(|p| s.fault(*p) == Some(Fault::Redirect))
            .unwrap();
        let target = Url::parse(&format!("{}?via=redirect", s.page_url(moved))).unwrap();
        assert_eq!(
            truth.get(&s.page_url(moved)).unwrap().links,
            std::slice::from_ref(&target)
        );
        let landed = truth.get(&target).unwrap();
        assert_eq!(landed.outcome, Outcome::Status(200));
        assert_eq!(landed.digest, Some(digest(&s.page_body(moved))));
        // A list still follows them where it meets them.
        let list = s.list_job(300).unwrap().build().unwrap();
        let e = s.expected(&list, &s.page_url(looped)).unwrap();
        assert_eq!(e.outcome, Outcome::Error(ErrorKind::RedirectLoop));
        let e = s.expected(&list, &s.page_url(moved)).unwrap();
        assert_eq!((e.outcome, e.final_url), (Outcome::Status(200), target));
    }

    #[test]
    fn a_page_past_the_cap_gives_the_links_before_it() {
        let s = site(SiteSpec {
            pages: 100,
            body_bytes: 4000,
            links_per_page: 20,
            ..Default::default()
        });
        let (html, ends) = s.render_page_with_ends(0);
        let cut = ends[10];
        let job = s
            .crawl_job(100_000)
            .max_body_bytes(cut as u64)
            .build()
            .unwrap();
        let e = s.expected(&job, &s.seed_url()).unwrap();
        assert_eq!(e.outcome, Outcome::Error(ErrorKind::BodyTooLarge));
        let full = s
            .expected(&s.crawl_job(1).build().unwrap(), &s.seed_url())
            .unwrap();
        // The eleventh tag ends exactly at the cap, so it is complete; the twelfth is cut off.
        assert!(html.len() > cut && !e.links.is_empty());
        assert!(full.links.starts_with(&e.links), "{:?}", e.links);
        let one_short = s
            .crawl_job(1)
            .max_body_bytes(cut as u64 - 1)
            .build()
            .unwrap();
        let short = s.expected(&one_short, &s.seed_url()).unwrap();
        assert!(short.links.len() <= e.links.len());
        // The links the core extracts from that prefix are the same.
        let base = s.seed_url();
        assert_eq!(links::extract(&base, &html.as_bytes()[..cut]), e.links);
        // The oversize filler is no HTML: past the cap it has no links at all.
        assert!(!FILLER.starts_with(b"<"));
    }
}
