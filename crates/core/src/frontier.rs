//! The frontier: which URL comes next, and which discovered links are admitted.
//!
//! Shared by every backend (and by verification, which replays it over the ground truth) so that
//! "in scope", "already seen" and "`max_pages` reached" mean the same thing everywhere.

use std::collections::{HashSet, VecDeque};

use url::Url;

use crate::{CrawlJob, Workload};

/// Which URLs a crawl may visit: the seeds' scheme, host and port, under a seed's directory
/// (everything up to the last `/` of its path), like `wget --no-parent`.
#[derive(Clone, Debug)]
pub struct Scope {
    prefixes: Vec<(url::Origin, String)>,
}

impl Scope {
    /// The scope of `seeds`.
    pub fn of(seeds: &[Url]) -> Self {
        let prefixes = seeds
            .iter()
            .map(|s| {
                let path = s.path();
                let dir = &path[..=path.rfind('/').unwrap_or(0)];
                (s.origin(), dir.to_owned())
            })
            .collect();
        Self { prefixes }
    }
    /// Whether `url` is in scope.
    pub fn contains(&self, url: &Url) -> bool {
        let origin = url.origin();
        self.prefixes
            .iter()
            .any(|(o, dir)| *o == origin && url.path().starts_with(dir.as_str()))
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
        let mut frontier = match job.workload() {
            Workload::List { urls } => Self {
                scope: None,
                seen: HashSet::new(),
                queue: VecDeque::with_capacity(urls.len()),
                admitted: 0,
                max: urls.len(),
            },
            Workload::Crawl { seeds, max_pages } => Self {
                scope: Some(Scope::of(seeds)),
                seen: HashSet::new(),
                queue: VecDeque::new(),
                admitted: 0,
                max: *max_pages,
            },
        };
        for url in job.start_urls() {
            frontier.admit(url.clone());
        }
        frontier
    }

    fn admit(&mut self, mut url: Url) {
        if self.admitted >= self.max {
            return;
        }
        url.set_fragment(None);
        if self.seen.insert(url.clone()) {
            self.admitted += 1;
            self.queue.push_back(url);
        }
    }

    /// The next URL to fetch, if any is queued.
    pub fn next_url(&mut self) -> Option<Url> {
        self.queue.pop_front()
    }

    /// Offers the links found on a fetched page; in a list job they are ignored.
    pub fn offer(&mut self, links: &[Url]) {
        let Some(scope) = &self.scope else { return };
        let admissible: Vec<Url> = links
            .iter()
            .filter(|l| scope.contains(l))
            .cloned()
            .collect();
        for link in admissible {
            self.admit(link);
        }
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
