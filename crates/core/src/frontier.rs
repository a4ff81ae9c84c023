//! The frontier: which URL comes next, and which discovered links are admitted.
//!
//! Shared by every backend so that "in scope", "already seen", "`max_pages` reached", "this host
//! is busy" and "robots.txt forbids it" mean the same thing everywhere. It runs inside every
//! measured crawl, once per discovered link, so the common path is hash lookups and queue moves:
//! - **Dedupe** keeps a 128-bit digest per URL (not a second copy of the URL): at a million URLs
//!   that is 16 bytes a URL, and two URLs sharing a digest are a 2⁻⁸⁸ event.
//! - **Queued URLs** are kept as their text (a boxed `str`, 16 bytes plus the text) and parsed
//!   again when handed out: a parsed `Url` is 88 bytes before its text, and a queue's spare
//!   capacity multiplies that. (Parsing an already normalised URL is a fraction of a
//!   microsecond; it keeps a million queued URLs under 200 bytes each.)
//! - **Hosts** (scheme, host, port) each have a queue. Hosts with work that may start now are in
//!   a round-robin ring; a host at its connection limit leaves the ring until one of its fetches
//!   finishes, a host waiting out its delay sits in a timer heap. So one slow or throttled host
//!   never blocks the others (no head-of-line blocking), and every step is O(1) per URL (the heap
//!   is O(log hosts)).
//! - **robots.txt** is fetched once per host before its first page, when the job obeys robots;
//!   the host's pages wait for it. Disallowed URLs come back as outcomes without a request.
//!
//! (Verification does not use this code: the origin states the reachable set from its own link
//! graph, so a frontier bug cannot hide in the ground truth.)

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, HashSet, VecDeque},
    hash::{BuildHasherDefault, Hasher},
    time::{Duration, Instant},
};

use url::Url;

use crate::{
    CrawlJob, ErrorKind, FetchOutcome, Outcome, Workload,
    rules::{CrawlRules, RobotsRule, ScopeRule, registrable_domain},
};

/// Whether `url` is a host's `robots.txt` (`/robots.txt`, no query).
pub fn is_robots_txt(url: &Url) -> bool {
    url.path() == "/robots.txt" && url.query().is_none()
}

/// Which URLs a crawl may visit, by the job's [`ScopeRule`].
#[derive(Clone, Debug)]
pub struct Scope {
    rule: ScopeRule,
    prefixes: Vec<Prefix>,
    domains: Vec<(String, String)>,
    /// [`ScopeRule::Hosts`], split into host (IPv6 in brackets, as [`Url::host_str`] gives it)
    /// and optional port.
    hosts: Vec<(String, Option<u16>)>,
}

/// One seed's part of the scope, compared field by field ([`Url::origin`] would allocate).
#[derive(Clone, Debug)]
struct Prefix {
    scheme: String,
    host: Option<String>,
    port: Option<u16>,
    dir: String,
}

impl Scope {
    /// The scope of `seeds` under [`ScopeRule::Directory`] (like `wget --no-parent`).
    pub fn of(seeds: &[Url]) -> Self {
        Self::new(seeds, &ScopeRule::Directory)
    }

    /// The scope of `seeds` under `rule`.
    pub fn new(seeds: &[Url], rule: &ScopeRule) -> Self {
        let prefixes = seeds
            .iter()
            .map(|s| {
                let path = s.path();
                Prefix {
                    scheme: s.scheme().to_owned(),
                    host: s.host_str().map(str::to_owned),
                    port: s.port_or_known_default(),
                    dir: path[..=path.rfind('/').unwrap_or(0)].to_owned(),
                }
            })
            .collect();
        let domains = seeds
            .iter()
            .filter_map(|s| {
                let host = s.host_str()?;
                Some((s.scheme().to_owned(), registrable_domain(host).to_owned()))
            })
            .collect();
        let hosts = match rule {
            ScopeRule::Hosts(list) => list.iter().map(|h| split_host_port(h)).collect(),
            _ => Vec::new(),
        };
        Self {
            rule: rule.clone(),
            prefixes,
            domains,
            hosts,
        }
    }

    /// Whether `url` is in scope.
    pub fn contains(&self, url: &Url) -> bool {
        // Only hierarchical http(s) URLs have a host a crawl can share.
        let Some(host) = url.host_str() else {
            return false;
        };
        let same_origin = |p: &Prefix| {
            p.host.as_deref() == Some(host)
                && p.port == url.port_or_known_default()
                && p.scheme == url.scheme()
        };
        match &self.rule {
            ScopeRule::Directory => self
                .prefixes
                .iter()
                .any(|p| same_origin(p) && url.path().starts_with(p.dir.as_str())),
            ScopeRule::Host => self.prefixes.iter().any(same_origin),
            ScopeRule::Domain => {
                let domain = registrable_domain(host);
                self.domains
                    .iter()
                    .any(|(scheme, d)| scheme == url.scheme() && d == domain)
            }
            ScopeRule::Hosts(_) => self.hosts.iter().any(|(name, port)| {
                name == host && port.is_none_or(|p| Some(p) == url.port_or_known_default())
            }),
        }
    }
}

/// `name`, `name:port`, `[v6]` or `[v6]:port` → host and port (a port that does not parse stays
/// part of the host, so it matches nothing rather than everything).
fn split_host_port(entry: &str) -> (String, Option<u16>) {
    let (host, port) = match entry.strip_prefix('[').and_then(|_| entry.find(']')) {
        Some(end) => (&entry[..=end], entry[end + 1..].strip_prefix(':')),
        None => match entry.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (entry, None),
        },
    };
    match port.map(str::parse) {
        None => (host.to_owned(), None),
        Some(Ok(p)) => (host.to_owned(), Some(p)),
        Some(Err(_)) => (entry.to_owned(), None),
    }
}

/// What the frontier offers the crawl loop next.
#[derive(Debug)]
pub enum Next {
    /// Fetch this URL now.
    Fetch(Url),
    /// This URL is settled without a request (robots.txt disallows it): record the outcome.
    Settled(Box<FetchOutcome>),
    /// Nothing may start before this instant (every host with work is waiting out its delay).
    WaitUntil(Instant),
    /// Nothing to start until an outstanding fetch finishes (or the crawl is done).
    Idle,
}

/// A hasher for keys that are already digests: the low 64 bits are the hash.
#[derive(Default)]
struct DigestHasher(u64);
impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only reached for the u128 keys below through `write_u128`'s default, which writes
        // their bytes: fold them.
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}
type DigestSet = HashSet<u128, BuildHasherDefault<DigestHasher>>;
type DigestMap<V> = HashMap<u64, V, BuildHasherDefault<DigestHasher>>;

/// `url`'s serialization without its fragment (a `#` elsewhere is always percent-encoded), and
/// its digest.
fn unfragmented(url: &Url) -> (&str, u128) {
    let text = url.as_str();
    let text = &text[..text.find('#').unwrap_or(text.len())];
    (text, text_digest(text))
}

fn text_digest(url: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(url.as_bytes())
}

/// [`is_robots_txt`] of a serialized URL: its path (after `scheme://authority`) is exactly
/// `/robots.txt`.
fn is_robots_txt_text(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        == Some("/robots.txt")
}

/// A host's key: scheme, host and port, hashed (the host's record keeps them to compare).
fn host_digest(url: &Url) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(url.scheme().as_bytes());
    h.update(url.host_str().unwrap_or_default().as_bytes());
    h.update(&url.port_or_known_default().unwrap_or(0).to_le_bytes());
    h.digest()
}

/// One host's state.
#[derive(Debug)]
struct Host {
    scheme: String,
    name: String,
    port: Option<u16>,
    queue: VecDeque<Box<str>>,
    in_flight: usize,
    /// The earliest start of its next request (per-host delay).
    not_before: Option<Instant>,
    /// Its delay: the job's, raised by `Crawl-delay` when the job honours it.
    delay: Duration,
    robots: Robots,
    /// Whether the host is in the ready ring or the timer heap (never both, never twice).
    scheduled: bool,
}

#[derive(Debug)]
enum Robots {
    /// The job ignores robots.txt, or this is a list.
    NotUsed,
    /// Its robots.txt is queued or in flight; pages wait.
    Pending,
    /// Rules known (`None`: everything allowed).
    Known(Option<Box<texting_robots::Robot>>),
    /// robots.txt could not be fetched (5xx, error): RFC 9309 says assume complete disallow.
    DisallowAll,
}

impl Host {
    fn matches(&self, url: &Url) -> bool {
        self.name == url.host_str().unwrap_or_default()
            && self.port == url.port_or_known_default()
            && self.scheme == url.scheme()
    }
}

/// Hands out URLs breadth-first per host, deduplicated, within scope, at most `max_pages` in
/// all, under the job's per-host limits and robots.txt.
#[derive(Debug)]
pub struct Frontier {
    /// `None` for a list: nothing discovered is admitted.
    scope: Option<Scope>,
    seen: DigestSet,
    hosts: Vec<Host>,
    host_index: DigestMap<Vec<usize>>,
    /// Hosts that may start a request now, round-robin.
    ready: VecDeque<usize>,
    /// Hosts waiting out a delay, by when.
    waiting: BinaryHeap<Reverse<(Instant, usize)>>,
    admitted: usize,
    max: usize,
    rules: CrawlRules,
    user_agent: String,
    /// A list with no per-host limit, handed out in order: no hosts, no text round trip (the
    /// common load-test case, kept as cheap as a plain queue).
    plain_list: Option<VecDeque<Url>>,
    /// Unless the job allows other hosts on purpose, the names it resolves to loopback itself:
    /// a link (or a redirect) off loopback is never admitted, whatever the scope says.
    loopback_only: Option<crate::ResolveMap>,
}

impl Frontier {
    /// The frontier of `job`: the list as given, or the crawl's seeds.
    pub fn new(job: &CrawlJob) -> Self {
        let (scope, rules) = match job.workload() {
            Workload::List { .. } => (
                None,
                // A list fetches exactly what it names: politeness applies, robots and scope
                // do not.
                CrawlRules {
                    politeness: job.rules().politeness,
                    ..CrawlRules::default()
                },
            ),
            Workload::Crawl { seeds, .. } => (
                Some(Scope::new(seeds, &job.rules().scope)),
                job.rules().clone(),
            ),
        };
        let mut frontier = Self {
            scope,
            seen: DigestSet::default(),
            hosts: Vec::new(),
            host_index: DigestMap::default(),
            ready: VecDeque::new(),
            waiting: BinaryHeap::new(),
            admitted: 0,
            max: job.max_urls(),
            rules,
            user_agent: job.user_agent().to_owned(),
            loopback_only: (!job.allows_non_loopback()).then(|| job.resolve().clone()),
            plain_list: None,
        };
        match job.workload() {
            Workload::List { urls } if !job.rules().politeness.is_limited() => {
                frontier.plain_list = Some(urls.iter().cloned().collect());
                frontier.admitted = urls.len();
            }
            // A built job lists each URL once, so a list's URLs need no `seen` set.
            Workload::List { urls } => {
                for url in urls {
                    frontier.enqueue(url);
                }
                frontier.admitted = urls.len();
            }
            Workload::Crawl { seeds, .. } => {
                for seed in seeds {
                    frontier.admit(seed);
                }
            }
        }
        frontier
    }

    /// Admits `url` (without its fragment) unless it was seen or the cap is reached. The first
    /// URL of a new host brings the host's robots.txt (when the job obeys robots), admitted
    /// first: it takes a slot under the cap like any URL, so near the cap it may take the last
    /// one and the page waits for a slot that never comes — the cap is never passed.
    fn admit(&mut self, url: &Url) {
        if self.admitted >= self.max {
            return;
        }
        let (text, digest) = unfragmented(url);
        if self.seen.contains(&digest) {
            return;
        }
        self.admit_unseen(url, text, digest);
    }

    /// [`Frontier::admit`] of a URL known to be unseen, with its text and digest.
    fn admit_unseen(&mut self, url: &Url, text: &str, digest: u128) {
        let h = self.host_of(url).unwrap_or_else(|| self.add_host(url));
        // (A link to a new host's robots.txt was just admitted by `add_host`: not twice.)
        if self.admitted >= self.max || !self.seen.insert(digest) {
            return;
        }
        self.admitted += 1;
        self.hosts[h].queue.push_back(text.into());
        self.schedule(h);
    }

    /// Puts a listed URL on its host's queue (a list is admitted whole, with no dedupe).
    fn enqueue(&mut self, url: &Url) {
        let h = self.host_of(url).unwrap_or_else(|| self.add_host(url));
        self.hosts[h].queue.push_back(url.as_str().into());
        self.schedule(h);
    }

    fn host_of(&self, url: &Url) -> Option<usize> {
        self.host_index
            .get(&host_digest(url))?
            .iter()
            .copied()
            .find(|&h| self.hosts[h].matches(url))
    }

    fn add_host(&mut self, url: &Url) -> usize {
        let h = self.hosts.len();
        let mut host = Host {
            scheme: url.scheme().to_owned(),
            name: url.host_str().unwrap_or_default().to_owned(),
            port: url.port_or_known_default(),
            queue: VecDeque::new(),
            in_flight: 0,
            not_before: None,
            delay: self.rules.politeness.delay,
            robots: Robots::NotUsed,
            scheduled: false,
        };
        if self.rules.robots.obeys() && self.admitted < self.max {
            let mut robots = url.clone();
            robots.set_path("/robots.txt");
            robots.set_query(None);
            robots.set_fragment(None);
            // Marked seen so a link to it is not fetched a second time; it counts as a URL
            // attempted, like any other.
            if self.seen.insert(text_digest(robots.as_str())) {
                self.admitted += 1;
                host.robots = Robots::Pending;
                host.queue.push_back(robots.as_str().into());
            } else {
                host.robots = Robots::Known(None);
            }
        }
        self.hosts.push(host);
        self.host_index.entry(host_digest(url)).or_default().push(h);
        h
    }

    /// Whether host `h` may start its next request now, and if not, from when.
    fn may_start(&self, h: usize, now: Instant) -> Result<(), Option<Instant>> {
        let host = &self.hosts[h];
        let Some(front) = host.queue.front() else {
            return Err(None);
        };
        // A URL robots.txt settles needs no request, so no slot and no delay.
        if disallowed(&host.robots, front).is_some() {
            return Ok(());
        }
        // While its robots.txt is pending only that (at the queue's front) may go.
        if matches!(host.robots, Robots::Pending) && !is_robots_txt_text(front) {
            return Err(None);
        }
        if let Some(limit) = self.rules.politeness.connections
            && host.in_flight >= limit
        {
            return Err(None);
        }
        match host.not_before {
            Some(t) if t > now => Err(Some(t)),
            _ => Ok(()),
        }
    }

    /// Puts host `h` in the ring or the timer heap if it has work it could start.
    fn schedule(&mut self, h: usize) {
        if self.hosts[h].scheduled {
            return;
        }
        match self.may_start(h, Instant::now()) {
            Ok(()) => self.ready.push_back(h),
            Err(Some(t)) => self.waiting.push(Reverse((t, h))),
            Err(None) => return,
        }
        self.hosts[h].scheduled = true;
    }

    /// What the crawl loop should do next.
    pub fn next_step(&mut self) -> Next {
        if let Some(list) = &mut self.plain_list {
            return list.pop_front().map_or(Next::Idle, Next::Fetch);
        }
        let now = Instant::now();
        while let Some(&Reverse((t, h))) = self.waiting.peek() {
            if t > now {
                break;
            }
            self.waiting.pop();
            self.ready.push_back(h);
        }
        while let Some(h) = self.ready.pop_front() {
            match self.may_start(h, now) {
                Ok(()) => {}
                Err(Some(t)) => {
                    self.waiting.push(Reverse((t, h)));
                    continue;
                }
                Err(None) => {
                    self.hosts[h].scheduled = false;
                    continue;
                }
            }
            let host = &mut self.hosts[h];
            let text = host.queue.pop_front().expect("may_start checked the queue");
            let url = Url::parse(&text).expect("a queued URL is the serialization of a Url");
            if let Some(why) = disallowed(&host.robots, &text) {
                // Settled without a request: the host's turn and limits are untouched.
                self.ready.push_front(h);
                return Next::Settled(Box::new(FetchOutcome::settled(
                    url,
                    ErrorKind::RobotsDisallowed,
                    why,
                )));
            }
            host.in_flight += 1;
            if !host.delay.is_zero() {
                host.not_before = Some(now + host.delay);
            }
            // Round-robin: back of the ring (or the heap) if it has more to start.
            host.scheduled = false;
            self.schedule(h);
            return Next::Fetch(url);
        }
        match self.waiting.peek() {
            Some(&Reverse((t, _))) => Next::WaitUntil(t),
            None => Next::Idle,
        }
    }

    /// The next URL to fetch, ignoring delays and settled URLs (for callers without a clock:
    /// benches, tests). `None` when nothing can start now.
    pub fn next_url(&mut self) -> Option<Url> {
        loop {
            match self.next_step() {
                Next::Fetch(url) => return Some(url),
                Next::Settled(_) => continue,
                Next::WaitUntil(_) | Next::Idle => return None,
            }
        }
    }

    /// Takes a finished fetch back: frees its host's slot, learns robots.txt rules, and admits
    /// the links found (a list admits none).
    pub fn complete(&mut self, outcome: &FetchOutcome) {
        if let Some(h) = self.host_of(&outcome.url) {
            let host = &mut self.hosts[h];
            host.in_flight = host.in_flight.saturating_sub(1);
            if matches!(host.robots, Robots::Pending) && is_robots_txt(&outcome.url) {
                host.robots = learn_robots(&self.user_agent, outcome);
                if self.rules.robots == RobotsRule::ObeyWithCrawlDelay
                    && let Robots::Known(Some(robot)) = &host.robots
                    && let Some(secs) = robot.delay
                    && secs.is_finite()
                    && secs > 0.0
                {
                    // Capped at an hour, the longest per-host delay a job accepts.
                    let crawl_delay = Duration::from_secs_f32(secs.min(3600.0));
                    host.delay = host.delay.max(crawl_delay);
                }
            }
            self.schedule(h);
        }
        self.offer(&outcome.links);
    }

    /// Offers links found on a fetched page; in a list job they are ignored.
    pub fn offer(&mut self, links: &[Url]) {
        let Some(scope) = self.scope.take() else {
            return;
        };
        for link in links {
            if self.admitted >= self.max {
                break;
            }
            // Seen first: most links on a site lead to pages already met, and the digest is
            // cheaper than the scope's checks (a registrable domain is a suffix-list lookup).
            let (text, digest) = unfragmented(link);
            if !self.seen.contains(&digest) && scope.contains(link) && self.may_visit(link) {
                self.admit_unseen(link, text, digest);
            }
        }
        self.scope = Some(scope);
    }

    /// Whether `url` is on loopback (or a name the job resolves, which the job checked is), or
    /// the job allows other hosts.
    fn may_visit(&self, url: &Url) -> bool {
        match &self.loopback_only {
            None => true,
            Some(resolve) => {
                crate::job::is_loopback(url)
                    || url.host_str().is_some_and(|h| resolve.get(h).is_some())
            }
        }
    }

    /// URLs admitted so far (handed out, settled or queued), robots.txt files included.
    pub fn admitted(&self) -> usize {
        self.admitted
    }

    /// Hosts met so far.
    pub fn hosts(&self) -> usize {
        self.hosts.len()
    }
}

/// Why `url` may not be fetched under `robots`, if it may not.
fn disallowed(robots: &Robots, url: &str) -> Option<String> {
    if is_robots_txt_text(url) {
        return None;
    }
    match robots {
        Robots::Known(Some(robot)) if !robot.allowed(url) => {
            Some("disallowed by the host's robots.txt".to_owned())
        }
        Robots::DisallowAll => Some(
            "the host's robots.txt could not be fetched (5xx or error): RFC 9309 treats the \
             whole host as disallowed"
                .to_owned(),
        ),
        _ => None,
    }
}

/// The rules a robots.txt outcome gives (RFC 9309 §2.3.1: 2xx parsed; 4xx "unavailable", so
/// everything is allowed; 5xx or no response "unreachable", so everything is disallowed).
fn learn_robots(user_agent: &str, outcome: &FetchOutcome) -> Robots {
    match &outcome.outcome {
        Outcome::Status(s) if (200..300).contains(s) => {
            let body = outcome.robots_txt.as_deref().unwrap_or_default();
            // The product token: `crawlbench` of `crawlbench/0.1.0`.
            let agent = user_agent.split(['/', ' ']).next().unwrap_or(user_agent);
            // A robots.txt the parser rejects outright is treated as empty (allow all), as
            // Google's parser does with unparseable lines.
            Robots::Known(texting_robots::Robot::new(agent, body).ok().map(Box::new))
        }
        Outcome::Status(s) if (400..500).contains(s) => Robots::Known(None),
        _ => Robots::DisallowAll,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Politeness;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn drain(f: &mut Frontier) -> Vec<String> {
        std::iter::from_fn(|| f.next_url())
            .map(|u| u.to_string())
            .collect()
    }

    #[test]
    fn directory_scope_is_host_and_directory() {
        let scope = Scope::of(&[u("http://127.0.0.1:8/site/0.html")]);
        assert!(scope.contains(&u("http://127.0.0.1:8/site/9.html")));
        assert!(scope.contains(&u("http://127.0.0.1:8/site/assets/1.png")));
        assert!(!scope.contains(&u("http://127.0.0.1:8/other/9.html")));
        assert!(!scope.contains(&u("http://127.0.0.1:9/site/9.html")));
        assert!(!scope.contains(&u("http://127.0.0.2:8/site/9.html")));
        assert!(!scope.contains(&u("http://127.0.0.1:8/sitemap.html")));
        assert!(!scope.contains(&u("https://127.0.0.1:8/site/9.html")));
        assert!(!scope.contains(&u("mailto:x@127.0.0.1")));
        let default_port = Scope::of(&[u("http://localhost/site/")]);
        assert!(default_port.contains(&u("http://localhost:80/site/a")));
        assert!(!default_port.contains(&u("http://LOCALHOST:81/site/a")));
    }

    #[test]
    fn host_domain_and_host_list_scopes() {
        let seeds = [u("http://h0.crawl.test:8/site/0.html")];
        let host = Scope::new(&seeds, &ScopeRule::Host);
        assert!(host.contains(&u("http://h0.crawl.test:8/elsewhere")));
        assert!(!host.contains(&u("http://h1.crawl.test:8/site/1.html")));
        let domain = Scope::new(&seeds, &ScopeRule::Domain);
        assert!(domain.contains(&u("http://h1.crawl.test:9/x")));
        assert!(domain.contains(&u("http://crawl.test/")));
        assert!(!domain.contains(&u("http://h1.other.test:8/x")));
        assert!(!domain.contains(&u("https://h1.crawl.test:8/x")));
        let list = Scope::new(
            &seeds,
            &"hosts:127.0.1.1:8,127.0.1.2,[::1]:8".parse().unwrap(),
        );
        assert!(list.contains(&u("http://127.0.1.1:8/a")));
        assert!(!list.contains(&u("http://127.0.1.1:9/a")));
        assert!(list.contains(&u("http://127.0.1.2:1234/a")));
        assert!(list.contains(&u("http://[::1]:8/a")));
        assert!(!list.contains(&u("http://h0.crawl.test:8/a")));
    }

    #[test]
    fn dedupes_and_stops_at_max_pages() {
        let job = CrawlJob::crawl(vec![u("http://127.0.0.1:8/site/0.html")], 3)
            .build()
            .unwrap();
        let mut f = Frontier::new(&job);
        assert_eq!(f.next_url().unwrap().path(), "/site/0.html");
        f.offer(&[
            u("http://127.0.0.1:8/site/0.html"),
            u("http://127.0.0.1:8/site/1.html"),
            u("http://127.0.0.1:8/elsewhere/1.html"),
            u("http://127.0.0.1:8/site/1.html#frag"),
            u("http://127.0.0.1:8/site/2.html"),
            u("http://127.0.0.1:8/site/3.html"),
        ]);
        let rest: Vec<String> = std::iter::from_fn(|| f.next_url())
            .map(|u| u.path().into())
            .collect();
        assert_eq!(rest, ["/site/1.html", "/site/2.html"]);
        assert_eq!(f.admitted(), 3);
    }

    #[test]
    fn links_off_loopback_are_never_admitted_unless_allowed() {
        let seeds = vec![u("http://127.0.0.1:8/")];
        let off = [
            u("http://192.0.2.1:8/x"),
            u("http://docs.test:8/x"),
            u("http://127.0.0.9:8/y"),
        ];
        for (allow, expected) in [(false, 1), (true, 3)] {
            let job = CrawlJob::crawl(seeds.clone(), 100)
                .scope("hosts:192.0.2.1:8,docs.test:8,127.0.0.9:8".parse().unwrap())
                .allow_non_loopback(allow)
                .build()
                .unwrap();
            let mut f = Frontier::new(&job);
            f.next_url();
            f.offer(&off);
            assert_eq!(drain(&mut f).len(), expected, "allow_non_loopback {allow}");
        }
        // A name the job resolves to loopback itself is fine.
        let mut map = crate::ResolveMap::default();
        map.insert("docs.test", "127.0.0.2".parse().unwrap());
        let job = CrawlJob::crawl(seeds, 100)
            .scope("hosts:docs.test:8,192.0.2.1:8".parse().unwrap())
            .resolve(map)
            .build()
            .unwrap();
        let mut f = Frontier::new(&job);
        f.next_url();
        f.offer(&[u("http://docs.test:8/x"), u("http://192.0.2.1:8/x")]);
        assert_eq!(drain(&mut f), ["http://docs.test:8/x"]);
    }

    #[test]
    fn list_ignores_links() {
        let job = CrawlJob::list(vec![u("http://127.0.0.1:8/a")])
            .build()
            .unwrap();
        let mut f = Frontier::new(&job);
        f.offer(&[u("http://127.0.0.1:8/b")]);
        assert_eq!(f.next_url().unwrap().path(), "/a");
        assert!(f.next_url().is_none());
    }

    #[test]
    fn hosts_take_turns_and_a_busy_host_does_not_block_the_others() {
        let urls: Vec<Url> = (0..4)
            .map(|i| u(&format!("http://127.0.0.1:8/{i}")))
            .chain((0..2).map(|i| u(&format!("http://127.0.0.2:8/{i}"))))
            .collect();
        let job = CrawlJob::list(urls)
            .politeness(Politeness {
                connections: Some(1),
                delay: Duration::ZERO,
            })
            .build()
            .unwrap();
        let mut f = Frontier::new(&job);
        // One per host, then both hosts are at their limit.
        assert_eq!(
            drain(&mut f),
            ["http://127.0.0.1:8/0", "http://127.0.0.2:8/0"]
        );
        let done = |url: &str| FetchOutcome::settled(u(url), ErrorKind::Other, String::new());
        f.complete(&done("http://127.0.0.2:8/0"));
        assert_eq!(drain(&mut f), ["http://127.0.0.2:8/1"]);
        f.complete(&done("http://127.0.0.1:8/0"));
        assert_eq!(drain(&mut f), ["http://127.0.0.1:8/1"]);
    }

    #[test]
    fn a_host_delay_makes_the_loop_wait() {
        let urls: Vec<Url> = (0..3)
            .map(|i| u(&format!("http://127.0.0.1:8/{i}")))
            .collect();
        let job = CrawlJob::list(urls)
            .politeness(Politeness {
                connections: None,
                delay: Duration::from_millis(30),
            })
            .build()
            .unwrap();
        let mut f = Frontier::new(&job);
        let start = Instant::now();
        assert!(matches!(f.next_step(), Next::Fetch(_)));
        let Next::WaitUntil(t) = f.next_step() else {
            panic!("the second request must wait for the delay")
        };
        assert!(t >= start + Duration::from_millis(29));
        std::thread::sleep(t.saturating_duration_since(Instant::now()));
        assert!(matches!(f.next_step(), Next::Fetch(_)));
    }

    #[test]
    fn robots_txt_comes_first_and_its_rules_settle_urls() {
        let job = CrawlJob::crawl(vec![u("http://127.0.0.1:8/site/0.html")], 100)
            .robots(RobotsRule::ObeyWithCrawlDelay)
            .build()
            .unwrap();
        let mut f = Frontier::new(&job);
        assert_eq!(drain(&mut f), ["http://127.0.0.1:8/robots.txt"]);
        let mut robots = FetchOutcome::settled(
            u("http://127.0.0.1:8/robots.txt"),
            ErrorKind::Other,
            String::new(),
        );
        robots.outcome = Outcome::Status(200);
        robots.robots_txt =
            Some(b"User-agent: *\nDisallow: /site/1.html\nCrawl-delay: 0.02\n".to_vec());
        f.complete(&robots);
        assert!(matches!(f.next_step(), Next::Fetch(url) if url.path() == "/site/0.html"));
        let mut page = FetchOutcome::settled(
            u("http://127.0.0.1:8/site/0.html"),
            ErrorKind::Other,
            String::new(),
        );
        page.links = vec![
            u("http://127.0.0.1:8/site/1.html"),
            u("http://127.0.0.1:8/site/2.html"),
            u("http://127.0.0.1:8/robots.txt"),
        ];
        f.complete(&page);
        match f.next_step() {
            Next::Settled(o) => {
                assert_eq!(o.url.path(), "/site/1.html");
                assert_eq!(o.outcome, Outcome::Error(ErrorKind::RobotsDisallowed));
                assert_eq!(o.attempts, 0);
            }
            other => panic!("expected a settled URL, got {other:?}"),
        }
        // Crawl-delay 0.02 s applies to the host: page 2 waits for it.
        assert!(matches!(f.next_step(), Next::WaitUntil(_)));
        assert_eq!(f.admitted(), 4, "robots.txt, 0, 1, 2 — robots.txt once");
    }

    #[test]
    fn unreachable_robots_txt_disallows_the_host() {
        let job = CrawlJob::crawl(vec![u("http://127.0.0.1:8/a")], 10)
            .robots(RobotsRule::Obey)
            .build()
            .unwrap();
        let mut f = Frontier::new(&job);
        assert_eq!(drain(&mut f), ["http://127.0.0.1:8/robots.txt"]);
        let mut robots = FetchOutcome::settled(
            u("http://127.0.0.1:8/robots.txt"),
            ErrorKind::Other,
            String::new(),
        );
        robots.outcome = Outcome::Status(503);
        f.complete(&robots);
        assert!(matches!(f.next_step(), Next::Settled(o) if o.url.path() == "/a"));
        assert!(matches!(f.next_step(), Next::Idle));
    }
}
