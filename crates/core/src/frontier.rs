//! The frontier: which URL comes next, and which discovered links are admitted.
//!
//! Shared by every backend so that "in scope", "already seen" and "`max_pages` reached" mean the
//! same thing everywhere. It runs inside every measured crawl, once per discovered link, so it
//! allocates only for a link it admits. (Verification does not use it: the origin states the
//! reachable set from its own link graph, so a frontier bug cannot hide in the ground truth.)

use std::collections::{HashSet, VecDeque};

use url::Url;

use crate::{CrawlJob, Workload};

/// Which URLs a crawl may visit: the seeds' scheme, host and port, under a seed's directory
/// (everything up to the last `/` of its path), like `wget --no-parent`.
#[derive(Clone, Debug)]
pub struct Scope {
    prefixes: Vec<Prefix>,
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
    /// The scope of `seeds`.
    pub fn of(seeds: &[Url]) -> Self {
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
        Self { prefixes }
    }
    /// Whether `url` is in scope.
    pub fn contains(&self, url: &Url) -> bool {
        // Only hierarchical http(s) URLs have an origin a crawl can share.
        url.host().is_some()
            && self.prefixes.iter().any(|p| {
                p.host.as_deref() == url.host_str()
                    && p.port == url.port_or_known_default()
                    && p.scheme == url.scheme()
                    && url.path().starts_with(p.dir.as_str())
            })
    }
}

/// Hands out URLs breadth-first, deduplicated, within scope, at most `max_pages` in all.
#[derive(Debug)]
pub struct Frontier {
    scope: Option<Scope>,
    seen: HashSet<Url>,
    queue: VecDeque<Url>,
    admitted: usize,
    max: usize,
}

impl Frontier {
    /// The frontier of `job`: the list as given, or the crawl's seeds.
    pub fn new(job: &CrawlJob) -> Self {
        match job.workload() {
            // A built job lists each URL once, so a list needs no `seen` set.
            Workload::List { urls } => Self {
                scope: None,
                seen: HashSet::new(),
                queue: urls.iter().cloned().collect(),
                admitted: urls.len(),
                max: urls.len(),
            },
            Workload::Crawl { seeds, max_pages } => {
                let mut frontier = Self {
                    scope: Some(Scope::of(seeds)),
                    seen: HashSet::new(),
                    queue: VecDeque::new(),
                    admitted: 0,
                    max: *max_pages,
                };
                for seed in seeds {
                    frontier.admit(seed);
                }
                frontier
            }
        }
    }

    /// Queues `url` (without its fragment) unless it was seen or the cap is reached.
    fn admit(&mut self, url: &Url) {
        if self.admitted >= self.max {
            return;
        }
        let url = if url.fragment().is_some() {
            let mut url = url.clone();
            url.set_fragment(None);
            if self.seen.contains(&url) {
                return;
            }
            url
        } else if self.seen.contains(url) {
            return;
        } else {
            url.clone()
        };
        self.seen.insert(url.clone());
        self.queue.push_back(url);
        self.admitted += 1;
    }

    /// The next URL to fetch, if any is queued.
    pub fn next_url(&mut self) -> Option<Url> {
        self.queue.pop_front()
    }

    /// Offers the links found on a fetched page; in a list job they are ignored.
    pub fn offer(&mut self, links: &[Url]) {
        let Some(scope) = self.scope.take() else {
            return;
        };
        for link in links {
            if scope.contains(link) {
                self.admit(link);
            }
        }
        self.scope = Some(scope);
    }

    /// URLs admitted so far (handed out or queued).
    pub fn admitted(&self) -> usize {
        self.admitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn scope_is_host_and_directory() {
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
    fn list_ignores_links() {
        let job = CrawlJob::list(vec![u("http://127.0.0.1:8/a")])
            .build()
            .unwrap();
        let mut f = Frontier::new(&job);
        f.offer(&[u("http://127.0.0.1:8/b")]);
        assert_eq!(f.next_url().unwrap().path(), "/a");
        assert!(f.next_url().is_none());
    }
}
