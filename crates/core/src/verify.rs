//! Verification: did a run fetch the right pages and get the right answers?
//!
//! The origin states a [`GroundTruth`] — for every URL it serves, what a correct client reports,
//! and for a crawl the set of URLs a complete crawl reaches. The origin states both from its own
//! model of the site (which page links where, which fault it injects), never by running this
//! crate's fetch policy, frontier or link extraction: code under test cannot vouch for itself.
//! A fast run that fetched the wrong set of pages is wrong, so every run is checked:
//! - a list: exactly the listed URLs, each once;
//! - a crawl that can reach everything: exactly the reachable set;
//! - a crawl stopped by `max_pages` below the reachable set: *which* pages it reaches depends on
//!   timing, so instead of set equality it checks the count, that every page was reachable from
//!   pages the run itself fetched, and every page's result. Never flaky, still strict.
//!
//! Each URL's status or error kind, final URL, attempts, body digest and links must match.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    ConnectionPolicy, CrawlJob, ErrorKind, FetchOutcome, Outcome, Workload, report::OriginStats,
};

/// What a correct client reports for one URL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expected {
    /// Status or error kind.
    pub outcome: Outcome,
    /// Where the last attempt goes.
    pub final_url: Url,
    /// Attempts, with retries and redirect hops.
    pub attempts: u32,
    /// Digest of the final body, if one is received.
    pub digest: Option<u64>,
    /// Links in the body.
    pub links: Vec<Url>,
    /// When the origin's delay for this URL is close to the job's timeout, a timeout is an
    /// acceptable outcome too (the race is real; flagging it would make verification flaky).
    pub timeout_acceptable: bool,
}

/// Expected results for every URL an origin serves, and the URLs a complete crawl reaches.
#[derive(Clone, Debug, Default)]
pub struct GroundTruth {
    expected: HashMap<Url, Expected>,
    reachable: HashSet<Url>,
}

/// The verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// True when nothing differed.
    pub verified: bool,
    /// How the set of URLs was checked: `list`, `crawl: reachable set` or `crawl: max_pages`.
    pub mode: String,
    /// URLs the run should have attempted (for `max_pages`: the cap).
    pub expected_urls: usize,
    /// URLs it attempted.
    pub reported_urls: usize,
    /// The first differences, in words.
    pub differences: Vec<String>,
    /// How many differences there were in all.
    pub total_differences: usize,
}

const SHOWN_DIFFERENCES: usize = 20;

impl GroundTruth {
    /// An empty truth; add URLs with [`GroundTruth::insert`] (and, for a crawl,
    /// [`GroundTruth::mark_reachable`]).
    pub fn new() -> Self {
        Self::default()
    }
    /// States what fetching `url` must give.
    pub fn insert(&mut self, url: Url, expected: Expected) {
        self.expected.insert(url, expected);
    }
    /// What fetching `url` must give, if the origin serves it.
    pub fn get(&self, url: &Url) -> Option<&Expected> {
        self.expected.get(url)
    }
    /// Number of URLs known.
    pub fn len(&self) -> usize {
        self.expected.len()
    }
    /// True when no URL is known.
    pub fn is_empty(&self) -> bool {
        self.expected.is_empty()
    }

    /// States that a complete crawl (ignoring `max_pages`) reaches `url`.
    pub fn mark_reachable(&mut self, url: Url) {
        self.reachable.insert(url);
    }
    /// The URLs a complete crawl reaches (ignoring `max_pages`), as the origin stated them.
    pub fn reachable(&self) -> &HashSet<Url> {
        &self.reachable
    }

    /// Checks a run's outcomes against this truth.
    pub fn verify(&self, job: &CrawlJob, outcomes: &[FetchOutcome]) -> Verification {
        let mut diffs = Vec::new();
        let mut reported: HashMap<&Url, &FetchOutcome> = HashMap::with_capacity(outcomes.len());
        for o in outcomes {
            if reported.insert(&o.url, o).is_some() {
                diffs.push(format!("{} reported more than once", o.url));
            }
        }
        let (mode, expected_urls) = match job.workload() {
            Workload::List { urls } => {
                for u in urls {
                    if !reported.contains_key(u) {
                        diffs.push(format!("{u} was listed but never reported"));
                    }
                }
                let listed: HashSet<&Url> = urls.iter().collect();
                for u in reported.keys() {
                    if !listed.contains(u) {
                        diffs.push(format!("{u} was reported but not listed"));
                    }
                }
                ("list", urls.len())
            }
            Workload::Crawl { seeds, max_pages } => {
                let reachable = &self.reachable;
                for u in reported.keys() {
                    if !reachable.contains(*u) {
                        diffs.push(format!("{u} is not reachable in scope from the seeds"));
                    }
                }
                if reachable.len() <= *max_pages {
                    for u in reachable {
                        if !reported.contains_key(u) {
                            diffs.push(format!("{u} is reachable but was never fetched"));
                        }
                    }
                    ("crawl: reachable set", reachable.len())
                } else {
                    if outcomes.len() != *max_pages {
                        diffs.push(format!(
                            "fetched {} URLs; max_pages is {max_pages} and {} are reachable",
                            outcomes.len(),
                            reachable.len()
                        ));
                    }
                    // Every non-seed page must be linked from a page this run fetched (a link to a
                    // reachable URL is in scope: the reachable set holds nothing else).
                    let mut linked: HashSet<&Url> = seeds.iter().collect();
                    for u in reported.keys() {
                        if let Some(e) = self.expected.get(*u) {
                            linked.extend(e.links.iter().filter(|l| reachable.contains(*l)));
                        }
                    }
                    for u in reported.keys() {
                        // A host's robots.txt is fetched because a page of that host was
                        // reached, not because something links to it.
                        if !linked.contains(*u) && !crate::frontier::is_robots_txt(u) {
                            diffs.push(format!("{u} is not linked from any page this run fetched"));
                        }
                    }
                    ("crawl: max_pages", *max_pages)
                }
            }
        };
        for o in outcomes {
            match self.expected.get(&o.url) {
                Some(e) => compare(o, e, &mut diffs),
                None => diffs.push(format!("{} is not served by the origin", o.url)),
            }
        }
        let total = diffs.len();
        diffs.truncate(SHOWN_DIFFERENCES);
        Verification {
            verified: total == 0,
            mode: mode.into(),
            expected_urls,
            reported_urls: outcomes.len(),
            differences: diffs,
            total_differences: total,
        }
    }
}

impl Verification {
    /// Fails the verdict because the run itself broke down (`why`), stated before any other
    /// difference.
    pub fn add_failure(&mut self, why: &str) {
        self.total_differences += 1;
        self.verified = false;
        self.differences.insert(0, format!("the run failed: {why}"));
        self.differences.truncate(SHOWN_DIFFERENCES);
    }

    /// Adds differences found by a check outside the per-URL comparison (the connection
    /// accounting below); any difference makes the run unverified.
    pub fn add_differences(&mut self, found: Vec<String>) {
        self.total_differences += found.len();
        self.verified &= found.is_empty();
        let room = SHOWN_DIFFERENCES.saturating_sub(self.differences.len());
        self.differences.extend(found.into_iter().take(room));
    }
}

/// Checks the origin's connection counters against the job's connection policy, so a backend
/// that says `fresh` but pools (or says `reuse` but reconnects) is caught by the server's own
/// count, not by anything the backend reports:
/// - `fresh`: connections accepted = requests received (one request per connection);
/// - `reuse`: connections ≤ in-flight slots + attempts that may have cost a connection (retries,
///   and URLs that ended in an error: resets, truncations, timeouts close the connection); the
///   slots are the concurrency, times the hosts over several (a slot may keep a connection to
///   each host);
/// - `https://`: every accepted connection completed a TLS handshake; plain text: none did.
pub fn check_connections(
    job: &CrawlJob,
    outcomes: &[FetchOutcome],
    origin: &OriginStats,
) -> Vec<String> {
    let mut diffs = Vec::new();
    match job.connections() {
        ConnectionPolicy::Fresh => {
            if origin.connections != origin.requests {
                diffs.push(format!(
                    "connections fresh: the origin accepted {} connections for {} requests \
                     (expected one connection per request)",
                    origin.connections, origin.requests
                ));
            }
        }
        ConnectionPolicy::Reuse => {
            let closing: u64 = outcomes
                .iter()
                .map(|o| {
                    u64::from(o.attempts.saturating_sub(1))
                        + u64::from(matches!(o.outcome, Outcome::Error(_)))
                })
                .sum();
            // Over H hosts an in-flight slot may keep one idle connection to each host (a
            // worker process, a leased client or a thread has a pool of its own), so the slots
            // are C × H.
            let c = job.concurrency() as u64;
            let slots = c * u64::from(origin.hosts.max(1));
            let allowed = slots + closing;
            if origin.connections > allowed {
                diffs.push(format!(
                    "connections reuse: the origin accepted {} connections; at most {allowed} \
                     expected ({slots} in flight over {} host(s) + {closing} attempts that may \
                     close one)",
                    origin.connections,
                    origin.hosts.max(1)
                ));
            }
        }
    }
    let expected_handshakes = if job.uses_tls() {
        origin.connections
    } else {
        0
    };
    if origin.tls_handshakes != expected_handshakes {
        diffs.push(format!(
            "TLS: the origin completed {} handshakes over {} connections (expected {})",
            origin.tls_handshakes, origin.connections, expected_handshakes
        ));
    }
    diffs
}

/// How late the first request to a host may reach the origin after the crawl started it (a
/// connect, a thread hand-off, a loaded machine's scheduling), in the per-host delay check.
pub const ARRIVAL_SLACK: std::time::Duration = std::time::Duration::from_millis(25);

/// Checks the origin's per-host counters against the job's per-host limits (see
/// [`crate::Politeness`]), so a crawl loop that let a host be pressed harder than the job allows
/// is caught by the server, not by anything the crawl reports:
/// - at most `connections` requests were ever in flight at one host;
/// - n requests to one host started at least `delay` apart reach it over at least
///   (n − 1)·delay, less [`ARRIVAL_SLACK`] for a first request that met a slow connect. (The
///   span, not the shortest gap: two arrivals may come closer than their starts were when the
///   first one was held up on the way, but the span only loses what the first one lost.)
pub fn check_politeness(job: &CrawlJob, origin: &OriginStats) -> Vec<String> {
    let mut diffs = Vec::new();
    let politeness = job.rules().politeness;
    if let Some(limit) = politeness.connections
        && origin.host_peak_in_flight > limit as u64
    {
        diffs.push(format!(
            "per-host connections: the origin saw {} requests in flight at one host (limit {limit})",
            origin.host_peak_in_flight
        ));
    }
    let delay = politeness.delay;
    if delay.is_zero() {
        return diffs;
    }
    let slack = ARRIVAL_SLACK.as_micros() as u64;
    let too_close = origin.host_arrivals.iter().enumerate().find(|(_, a)| {
        let least = a.requests.saturating_sub(1) * delay.as_micros() as u64;
        a.requests >= 2 && a.first_to_last_us + slack < least
    });
    if let Some((h, a)) = too_close {
        diffs.push(format!(
            "per-host delay: host {h} got {} requests within {:.1} ms; with {delay:?} between \
             starts they span at least {:.1} ms (less {ARRIVAL_SLACK:?} of slack)",
            a.requests,
            a.first_to_last_us as f64 / 1e3,
            (a.requests - 1) as f64 * delay.as_secs_f64() * 1e3
        ));
    }
    diffs
}

fn compare(o: &FetchOutcome, e: &Expected, diffs: &mut Vec<String>) {
    if e.timeout_acceptable && o.outcome == Outcome::Error(ErrorKind::Timeout) {
        return;
    }
    if o.outcome != e.outcome {
        let detail = o
            .error_detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        diffs.push(format!(
            "{}: got {}{detail}, expected {}",
            o.url, o.outcome, e.outcome
        ));
        return;
    }
    if o.attempts != e.attempts {
        diffs.push(format!(
            "{}: {} attempts, expected {}",
            o.url, o.attempts, e.attempts
        ));
    }
    if o.final_url != e.final_url {
        diffs.push(format!(
            "{}: ended at {}, expected {}",
            o.url, o.final_url, e.final_url
        ));
    }
    if o.digest != e.digest {
        diffs.push(format!(
            "{}: body digest {:?}, expected {:?}",
            o.url, o.digest, e.digest
        ));
    }
    if o.links != e.links {
        diffs.push(format!(
            "{}: {} links found, expected {}",
            o.url,
            o.links.len(),
            e.links.len()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }
    fn page(links: &[&str]) -> Expected {
        Expected {
            outcome: Outcome::Status(200),
            final_url: u("http://127.0.0.1:1/"),
            attempts: 1,
            digest: Some(7),
            links: links.iter().map(|l| u(l)).collect(),
            timeout_acceptable: false,
        }
    }
    fn truth() -> GroundTruth {
        let mut t = GroundTruth::new();
        let base = "http://127.0.0.1:1/s/";
        for (i, links) in [
            vec![
                "http://127.0.0.1:1/s/1",
                "http://127.0.0.1:1/s/2",
                "http://127.0.0.1:1/x/out",
            ],
            vec!["http://127.0.0.1:1/s/3"],
            vec![],
            vec![],
        ]
        .into_iter()
        .enumerate()
        {
            let url = u(&format!("{base}{i}"));
            let mut e = page(&links);
            e.final_url = url.clone();
            // The origin states the reachable set: every page here but `/x/out`.
            t.mark_reachable(url.clone());
            t.insert(url, e);
        }
        t
    }
    fn outcome(t: &GroundTruth, path: &str) -> FetchOutcome {
        let url = u(&format!("http://127.0.0.1:1/s/{path}"));
        let e = t.get(&url).unwrap();
        FetchOutcome {
            url: url.clone(),
            final_url: e.final_url.clone(),
            outcome: e.outcome.clone(),
            error_detail: None,
            attempts: e.attempts,
            bytes: 1,
            html: false,
            digest: e.digest,
            links: e.links.clone(),
            links_partial: false,
            robots_txt: None,
            latency_us: 1,
            service_us: 1,
            extract_ns: 0,
        }
    }

    #[test]
    fn full_crawl_needs_the_exact_reachable_set() {
        let t = truth();
        let job = CrawlJob::crawl(vec![u("http://127.0.0.1:1/s/0")], 100)
            .build()
            .unwrap();
        assert_eq!(t.reachable().len(), 4);
        let all: Vec<_> = ["0", "1", "2", "3"]
            .iter()
            .map(|p| outcome(&t, p))
            .collect();
        assert!(t.verify(&job, &all).verified);
        let v = t.verify(&job, &all[..3]);
        assert!(!v.verified);
        assert!(v.differences[0].contains("never fetched"), "{v:?}");
        let mut twice = all.clone();
        twice.push(all[1].clone());
        assert!(!t.verify(&job, &twice).verified);
    }

    #[test]
    fn capped_crawl_checks_count_reachability_and_results() {
        let t = truth();
        let job = CrawlJob::crawl(vec![u("http://127.0.0.1:1/s/0")], 3)
            .build()
            .unwrap();
        let ok: Vec<_> = ["0", "1", "2"].iter().map(|p| outcome(&t, p)).collect();
        assert!(t.verify(&job, &ok).verified);
        let ok2: Vec<_> = ["0", "1", "3"].iter().map(|p| outcome(&t, p)).collect();
        assert!(t.verify(&job, &ok2).verified);
        // 3 is reachable, but only through 1, which this run did not fetch.
        let bad: Vec<_> = ["0", "2", "3"].iter().map(|p| outcome(&t, p)).collect();
        let v = t.verify(&job, &bad);
        assert!(
            !v.verified && v.differences[0].contains("not linked"),
            "{v:?}"
        );
        let mut wrong = ok.clone();
        wrong[1].digest = Some(8);
        let v = t.verify(&job, &wrong);
        assert!(v.differences[0].contains("digest"), "{v:?}");
    }

    #[test]
    fn a_run_that_drops_a_link_fails_even_if_its_crawl_set_is_right() {
        let t = truth();
        let job = CrawlJob::crawl(vec![u("http://127.0.0.1:1/s/0")], 100)
            .build()
            .unwrap();
        let mut all: Vec<_> = ["0", "1", "2", "3"]
            .iter()
            .map(|p| outcome(&t, p))
            .collect();
        // An extractor that misses links to other directories.
        all[0].links.retain(|l| l.path().starts_with("/s/"));
        let v = t.verify(&job, &all);
        assert!(!v.verified);
        assert_eq!(
            v.differences,
            ["http://127.0.0.1:1/s/0: 2 links found, expected 3"]
        );
    }

    #[test]
    fn the_stated_reachable_set_is_the_reference() {
        // Page 3 is stated reachable (say, linked from a page the test truth does not show):
        // a run that never fetched it fails, whatever the links it saw.
        let mut t = truth();
        let extra = u("http://127.0.0.1:1/s/9");
        t.mark_reachable(extra.clone());
        let job = CrawlJob::crawl(vec![u("http://127.0.0.1:1/s/0")], 100)
            .build()
            .unwrap();
        let all: Vec<_> = ["0", "1", "2", "3"]
            .iter()
            .map(|p| outcome(&t, p))
            .collect();
        let v = t.verify(&job, &all);
        assert_eq!(
            v.differences,
            [format!("{extra} is reachable but was never fetched")]
        );
    }

    #[test]
    fn list_needs_each_url_once_with_the_right_result() {
        let t = truth();
        let urls = vec![u("http://127.0.0.1:1/s/2"), u("http://127.0.0.1:1/s/3")];
        let job = CrawlJob::list(urls).build().unwrap();
        let mut got = vec![outcome(&t, "2"), outcome(&t, "3")];
        assert!(t.verify(&job, &got).verified);
        got[0].outcome = Outcome::Error(ErrorKind::Timeout);
        let v = t.verify(&job, &got);
        assert_eq!(v.total_differences, 1);
        assert!(
            v.differences[0].contains("got timeout, expected HTTP 200"),
            "{v:?}"
        );
    }
}
