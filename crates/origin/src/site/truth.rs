//! The ground truth: what a correct client reports for each URL of the site, and which URLs a
//! complete crawl reaches.
//!
//! It is stated from the site's own model, never by running the crawler: the core's fetch
//! policy, frontier and link extraction are the code under test, and if the truth were computed
//! with them, any bug in them would be in the truth too and every run would still "verify".
//! - A URL's outcome comes from the fault model, case by case, with the rules a correct client
//!   follows (retries after a retryable error or a 5xx, redirects up to `max_redirects`, loops,
//!   the body cap, the timeout) restated for that case.
//! - A page's links come from the generator's [`Link`] list: each target's URL is known from what
//!   it is, so no HTML is parsed.
//! - The reachable set is a breadth-first walk over the generator's link graph from the seeds,
//!   within the scope a crawl of this site has: this origin, under a seed's directory (`/site/`
//!   for a crawl from `/site/0.html`, like `wget --no-parent`).
//!
//! Cheap, too: per URL a route, a hash or two and a digest of a body rendered once.

use std::collections::{HashMap, HashSet, VecDeque};

use crawlbench_core::{
    CrawlJob, ErrorKind, Expected, GroundTruth, Outcome, Workload, fetch::digest,
};
use url::Url;

use super::{
    BODY_404, BODY_500, BODY_503, BODY_REDIRECT, FILLER, Fault, Link, Query, Route, Site, SiteFile,
    generator::asset_body, path_and_query,
};

/// A URL a crawl of this site can meet, named as the generator names it: cheap to hash, and
/// turned into a [`Url`] once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Node {
    /// `/site/{n}.html` (a 404 past the last page), or with `?via=redirect`, the address the
    /// redirect fault sends a page to, whose `#top` link names it.
    Page { n: u64, redirected: bool },
    /// `/site/assets/{k}.png`.
    Asset(u32),
    /// `/outside/{i}.html`.
    Outside(u32),
    /// `http://outside.invalid/site/{i}.html`.
    OtherHost(u32),
    /// `/`.
    Index,
    /// A seed the generator does not name, by its position in the job's seeds.
    Seed(usize),
}

/// What a URL gives, and where its links lead when it is a page a crawl follows.
struct Resolved {
    expected: Expected,
    links: Vec<Node>,
}

impl Site {
    /// What a correct client reports for `url` under `job` (retries, redirects, timeout, cap),
    /// or `None` when `url` is not on this origin.
    pub fn expected(&self, job: &CrawlJob, url: &Url) -> Option<Expected> {
        Truth::new(self, job, &[]).resolve(url).map(|r| r.expected)
    }

    /// The ground truth of `job` on this site: every listed URL, or every URL a complete crawl
    /// reaches, with the reachable set.
    pub fn ground_truth(&self, job: &CrawlJob) -> GroundTruth {
        let mut truth = GroundTruth::new();
        let seeds = match job.workload() {
            Workload::List { urls } => {
                let mut stating = Truth::new(self, job, &[]);
                for u in urls {
                    if let Some(r) = stating.resolve(u) {
                        truth.insert(u.clone(), r.expected);
                    }
                }
                return truth;
            }
            Workload::Crawl { seeds, .. } => seeds,
        };
        let mut stating = Truth::new(self, job, seeds);
        let scope = CrawlScope::of(self, seeds);
        let mut seen = HashSet::new();
        let mut queue = VecDeque::new();
        for (i, seed) in seeds.iter().enumerate() {
            let node = self.seed_node(i, seed);
            if seen.insert(node) {
                queue.push_back(node);
            }
        }
        while let Some(node) = queue.pop_front() {
            let url = stating.url_of(node);
            truth.mark_reachable(url.clone());
            let Some(resolved) = stating.resolve(&url) else {
                continue;
            };
            for next in &resolved.links {
                if scope.admits(*next) && seen.insert(*next) {
                    queue.push_back(*next);
                }
            }
            truth.insert(url, resolved.expected);
        }
        truth
    }
}

/// One computation of the truth: the site, the job, and the URL of every node met so far (a
/// page is linked from many others; its URL is built once).
struct Truth<'a> {
    site: &'a Site,
    job: &'a CrawlJob,
    seeds: &'a [Url],
    urls: HashMap<Node, Url>,
}

impl<'a> Truth<'a> {
    fn new(site: &'a Site, job: &'a CrawlJob, seeds: &'a [Url]) -> Self {
        Self {
            site,
            job,
            seeds,
            urls: HashMap::new(),
        }
    }

    fn url_of(&mut self, node: Node) -> Url {
        let (site, seeds) = (self.site, self.seeds);
        self.urls
            .entry(node)
            .or_insert_with(|| site.node_url(node, seeds))
            .clone()
    }

    /// The outcome of `url`, hop by hop through the site's redirects (at most three).
    fn resolve(&mut self, url: &Url) -> Option<Resolved> {
        if url.origin() != self.site.base.origin() {
            return None;
        }
        let mut walk = Walk::new(self.job, url);
        let mut hop = url.clone();
        loop {
            let pq = path_and_query(&hop);
            let route = self.site.route(&pq);
            if let Some(done) = walk.times_out(self.site.delay(&pq, route), &hop) {
                return Some(done.into());
            }
            let (page, query) = match route {
                Route::Index => {
                    let e = walk.response(&hop, 200, self.site.index_body().as_bytes());
                    return Some(self.document(e, Node::Index, &self.site.index_links()));
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
                (Query::Loop(n), _) => format!("{page}.html?loop={}", 3 - n),
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
                    // The announced length is checked against the cap before any byte is read.
                    let done = if self.site.page_body(page).len() as u64 > walk.max_body {
                        walk.too_large(&hop)
                    } else {
                        walk.fails_every_attempt(&hop, ErrorKind::Truncated)
                    };
                    return Some(done.into());
                }
                (Query::None, Some(Fault::Oversize)) => {
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
                (Query::None, Some(Fault::Redirect)) => format!("{page}.html?via=redirect"),
                (Query::None, Some(Fault::RedirectLoop)) => format!("{page}.html?loop=1"),
            };
            let target = Url::parse(&format!("{}/site/{target}", self.site.origin))
                .expect("redirect targets are valid URLs");
            if let Some(done) = walk.redirect(&mut hop, target) {
                return Some(done.into());
            }
        }
    }

    /// Page `page` served at `hop`: its digest and, in a crawl, its links.
    fn page(&mut self, walk: &mut Walk, hop: &Url, page: u32, query: Query) -> Resolved {
        let expected = walk.response(hop, 200, &self.site.page_body(page));
        let node = Node::Page {
            n: u64::from(page),
            redirected: query == Query::Redirected,
        };
        self.document(expected, node, &self.site.page_links(page))
    }

    /// An HTML document's result: a crawl follows its links when it was served whole.
    fn document(&mut self, mut expected: Expected, at: Node, links: &[Link]) -> Resolved {
        if !self.job.follows_links() || !expected.outcome.is_success() {
            return expected.into();
        }
        let mut nodes = Vec::with_capacity(links.len());
        let mut once = HashSet::with_capacity(links.len());
        for link in links {
            let node = match *link {
                Link::Site(SiteFile::Page(n), _) => Node::Page {
                    n,
                    redirected: false,
                },
                Link::Site(SiteFile::Asset(k), _) => Node::Asset(k),
                Link::OutOfScope(i) => Node::Outside(i),
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
        let origin = &self.origin;
        let text = match node {
            Node::Page { n, redirected } => {
                let query = if redirected { "?via=redirect" } else { "" };
                format!("{origin}/site/{n}.html{query}")
            }
            Node::Asset(k) => format!("{origin}/site/assets/{k}.png"),
            Node::Outside(i) => format!("{origin}/outside/{i}.html"),
            Node::OtherHost(i) => format!("http://outside.invalid/site/{i}.html"),
            Node::Index => format!("{origin}/"),
            Node::Seed(i) => {
                let mut seed = seeds[i].clone();
                seed.set_fragment(None);
                return seed;
            }
        };
        Url::parse(&text).expect("the site's URLs are valid")
    }

    /// The node of seed `i`: the generator's name for it when it has one, so that a link back
    /// to the seed is recognised as the seed.
    fn seed_node(&self, i: usize, seed: &Url) -> Node {
        let mut seed = seed.clone();
        seed.set_fragment(None);
        let named = match self.route(&path_and_query(&seed)) {
            Route::Index => Some(Node::Index),
            Route::Asset(k) => Some(Node::Asset(k)),
            Route::Page { page, query } if query != Query::Loop(1) && query != Query::Loop(2) => {
                Some(Node::Page {
                    n: u64::from(page),
                    redirected: query == Query::Redirected,
                })
            }
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

/// Which of the site's kinds of URL a crawl may visit: those on this origin under a seed's
/// directory. A directory ends with `/`, so it holds either every file of a kind or none
/// (`/site/0.html` stands for all pages).
struct CrawlScope {
    pages: bool,
    assets: bool,
    outside: bool,
    index: bool,
}

impl CrawlScope {
    fn of(site: &Site, seeds: &[Url]) -> Self {
        let dirs: Vec<&str> = seeds
            .iter()
            .filter(|s| s.origin() == site.base.origin())
            .map(|s| &s.path()[..=s.path().rfind('/').unwrap_or(0)])
            .collect();
        let covers = |path: &str| dirs.iter().any(|d| path.starts_with(d));
        Self {
            pages: covers("/site/0.html"),
            assets: covers("/site/assets/0.png"),
            outside: covers("/outside/0.html"),
            index: covers("/"),
        }
    }

    fn admits(&self, node: Node) -> bool {
        match node {
            Node::Page { .. } => self.pages,
            Node::Asset(_) => self.assets,
            Node::Outside(_) => self.outside,
            Node::Index => self.index,
            Node::OtherHost(_) => false,
            Node::Seed(_) => true,
        }
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

    use crawlbench_core::{FetchError, FetchOutcome, FetchPolicy, Frontier, RawResponse, links};

    use super::*;
    use crate::site::{Action, SiteSpec};

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
            let attempt = site.page_of(&pq).map_or(1, |p| {
                let a = attempts.entry(p).or_insert(0);
                *a += 1;
                *a
            });
            let reply = site.reply(&pq, attempt);
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

    /// What a client following the rules receives for `action`.
    fn receive(action: &Action, max_body: u64) -> Result<RawResponse, FetchError> {
        match action {
            Action::Respond { body, .. } | Action::Truncate { body }
                if body.len() as u64 > max_body =>
            {
                Err(FetchError::body_too_large(max_body))
            }
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

    /// A whole crawl in memory with the core's frontier and fetch policy, and `extract` as the
    /// link extractor.
    fn crawl(
        site: &Site,
        job: &CrawlJob,
        extract: impl Fn(&Url, &[u8]) -> Vec<Url>,
    ) -> Vec<FetchOutcome> {
        let mut frontier = Frontier::new(job);
        let mut outcomes = Vec::new();
        while let Some(url) = frontier.next_url() {
            let (mut o, body, _) = replay(site, job, &url);
            if !o.links.is_empty() {
                o.links = extract(&o.final_url, &body);
            }
            frontier.offer(&o.links);
            outcomes.push(o);
        }
        outcomes
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
        // Page 3 is read at its redirect target, so `#top` names that address.
        let three = truth.get(&u(&format!("{p}3.html"))).unwrap();
        assert_eq!(
            (three.attempts, three.final_url.as_str()),
            (2, format!("{p}3.html?via=redirect").as_str())
        );
        assert_eq!(
            links("3.html"),
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
}
