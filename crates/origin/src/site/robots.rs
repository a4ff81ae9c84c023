//! Each host's `robots.txt`: which pages it disallows, its `Crawl-delay`, its body — the rule
//! is in the site's module doc. Kept apart because the truth and the server both ask it and it
//! changes only with that rule.

use std::time::Duration;

use bytes::Bytes;
use url::Url;

use super::{Site, mix, unit};

const SALT_ROBOTS: u64 = 0x726f_626f_7473;
/// The share of a host's pages its `robots.txt` disallows.
const ROBOTS_SHARE: f64 = 0.10;
/// Only a host's first pages (by rank `p / hosts`) are ever disallowed: 10 % of 100,000 is
/// 10,000 lines of at most 30 bytes, well below the 500 KiB a crawler must parse.
const ROBOTS_RANKS: u32 = 100_000;
/// The `Crawl-delay` of hosts with `h % 4 == 1`.
const CRAWL_DELAY: &str = "0.05";

impl Site {
    /// The URL of host `h`'s `robots.txt`.
    pub fn robots_url(&self, h: u32) -> Url {
        Url::parse(&format!("{}/robots.txt", self.host_origin(h))).expect("a valid URL")
    }
    /// Whether host `h` serves a `robots.txt` (the spec asks for them, and `h % 5 != 4`).
    pub fn serves_robots(&self, h: u32) -> bool {
        self.spec.robots && h % 5 != 4
    }

    /// Whether page `p`'s host's `robots.txt` disallows it (see the module doc for the rule;
    /// always false on a host that serves none).
    pub fn robots_disallows(&self, p: u32) -> bool {
        let hosts = self.hosts();
        p != 0
            && p < self.spec.pages
            && self.serves_robots(p % hosts)
            && p / hosts < ROBOTS_RANKS
            && unit(mix(self.spec.seed ^ SALT_ROBOTS ^ mix(u64::from(p)))) < ROBOTS_SHARE
    }

    /// The `Crawl-delay` host `h`'s `robots.txt` states, if any.
    pub fn crawl_delay(&self, h: u32) -> Option<Duration> {
        (self.serves_robots(h) && h % 4 == 1)
            .then(|| Duration::from_secs_f64(CRAWL_DELAY.parse().expect("a number")))
    }

    /// The body of host `h`'s `robots.txt` (rendered once; meaningful when it serves one).
    pub fn robots_body(&self, h: u32) -> Bytes {
        self.robots[h as usize]
            .get_or_init(|| {
                let mut s = format!("# crawlbench origin, host {h}\nUser-agent: *\n");
                if self.crawl_delay(h).is_some() {
                    s.push_str(&format!("Crawl-delay: {CRAWL_DELAY}\n"));
                }
                let hosts = self.hosts();
                let last = self.spec.pages.min(ROBOTS_RANKS.saturating_mul(hosts));
                for p in (h..last).step_by(hosts as usize) {
                    if self.robots_disallows(p) {
                        s.push_str(&format!("Disallow: /site/{p}.html\n"));
                    }
                }
                Bytes::from(s)
            })
            .clone()
    }
}
