//! The workload: what to fetch and under which limits.
//!
//! A [`CrawlJob`] is validated once, when it is built, so that every backend can trust it: a bad
//! value is refused with an error that names the field, the value and what is accepted, instead
//! of turning into a hang or a silent cap deep inside a runtime.

use std::{
    collections::HashSet,
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::rules::{CrawlRules, Politeness, ResolveMap, RobotsRule, ScopeRule};

/// What a run fetches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// A fixed list of independent GETs (the seed experiment). No links are followed.
    List {
        /// The URLs, each fetched exactly once.
        urls: Vec<Url>,
    },
    /// A link-following crawl from `seeds`, staying on the seeds' host and under their directory
    /// (like `wget --no-parent`), stopping once `max_pages` URLs have been attempted.
    Crawl {
        /// Where the crawl starts; they also define the scope.
        seeds: Vec<Url>,
        /// The most URLs the crawl attempts (successes and failures alike).
        max_pages: usize,
    },
}

/// Whether a backend keeps connections open between requests.
///
/// `reuse` is what a session, a pooled client or an `aiohttp.ClientSession` does; `fresh` is what
/// `requests.get(url)` without a session does — a new TCP (and TLS) connection for every request,
/// which on a real network costs at least one round trip each (two with TLS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionPolicy {
    /// Keep-alive connections, pooled and reused (the default).
    #[default]
    Reuse,
    /// A new connection for every request, closed after its response.
    Fresh,
}

impl ConnectionPolicy {
    /// Both policies, for listings.
    pub const ALL: [ConnectionPolicy; 2] = [Self::Reuse, Self::Fresh];
    /// `reuse` or `fresh`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reuse => "reuse",
            Self::Fresh => "fresh",
        }
    }
}

impl fmt::Display for ConnectionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ConnectionPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "reuse" => Ok(Self::Reuse),
            "fresh" => Ok(Self::Fresh),
            other => Err(format!(
                "unknown connection policy {other:?} (accepted: reuse, fresh)"
            )),
        }
    }
}

/// A counter of finished URLs that a caller can watch while a backend runs (for a progress bar).
///
/// It is shared, not part of the job's identity: cloning a job shares its counter.
#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<AtomicU64>);

impl Progress {
    /// URLs finished so far.
    pub fn done(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    /// Marks one more URL finished.
    pub fn add_one(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A shared "stop now" signal for a run (Ctrl-C, SIGTERM). The crawl loop stops dispatching and
/// returns the outcomes it has, so a partial report can still be written.
///
/// Cloning a job shares its flag.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<CancelInner>);

#[derive(Debug, Default)]
struct CancelInner {
    cancelled: std::sync::atomic::AtomicBool,
    waker: futures_util::task::AtomicWaker,
}

impl Cancel {
    /// Asks the run to stop (safe from any thread, idempotent).
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        self.0.waker.wake();
    }
    /// Whether the run was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }
    /// Completes once [`Cancel::cancel`] was called.
    pub fn cancelled(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.is_cancelled() {
                return std::task::Poll::Ready(());
            }
            self.0.waker.register(cx.waker());
            if self.is_cancelled() {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
    }
}

/// A validated workload plus the limits every backend must honour.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CrawlJob {
    /// The validated settings (a job is a builder that passed [`CrawlJobBuilder::build`]).
    spec: CrawlJobBuilder,
    #[serde(skip)]
    progress: Progress,
    #[serde(skip)]
    cancel: Cancel,
}

/// Why a job was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobError {
    /// A numeric or textual limit is out of range.
    #[error("invalid {field}: {value} (accepted: {accepted})")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        accepted: &'static str,
    },
    /// A URL cannot be fetched by this tool.
    #[error("invalid URL {url}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Builds a [`CrawlJob`]; [`CrawlJobBuilder::build`] validates it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CrawlJobBuilder {
    workload: Workload,
    concurrency: usize,
    #[serde(with = "duration_ms")]
    timeout: Duration,
    retries: u32,
    max_redirects: u32,
    max_body_bytes: u64,
    user_agent: String,
    allow_non_loopback: bool,
    #[serde(default)]
    connections: ConnectionPolicy,
    /// PEM certificates a backend trusts for `https://` URLs (the origin's per-run CA). Never
    /// empty when set; backends never turn verification off instead.
    #[serde(default)]
    trusted_ca_pem: Option<String>,
    /// When set, every 2xx body must be JSON echoing this query argument the way httpbin's
    /// `/get` does (`{"args": {"a": "7"}, …}`) — the seed experiment's `r.json()['args']['a']`.
    #[serde(default)]
    echo_argument: Option<String>,
    /// Scope, per-host politeness, robots.txt and nofollow (crawls only).
    #[serde(default)]
    rules: CrawlRules,
    /// Names the job resolves itself (lists and crawls).
    #[serde(default)]
    resolve: ResolveMap,
    /// New requests started per second while the first `concurrency` start (the connection
    /// ramp); `None` starts them all at once.
    #[serde(default)]
    ramp: Option<f64>,
    /// Worker processes for a multi-process backend; `None` lets it choose. A backend that runs
    /// in one process refuses a job that sets it ([`crate::BackendInfo::check_job`]).
    #[serde(default)]
    processes: Option<usize>,
    /// How long a multi-process backend's worker may stay silent before it is presumed stopped
    /// (SIGSTOP, a deadlock), killed and its URLs given to another; `None`: the default,
    /// [`DEFAULT_WORKER_WATCHDOG`].
    #[serde(default, with = "opt_duration_ms")]
    worker_watchdog: Option<Duration>,
}

/// How long a worker process may stay silent (no frame, not even its heartbeat) before a
/// multi-process backend presumes it stopped: 5 s, twenty heartbeats.
pub const DEFAULT_WORKER_WATCHDOG: Duration = Duration::from_secs(5);

/// The most worker processes a job may ask for.
pub const MAX_PROCESSES: usize = 1024;

/// The largest accepted in-flight limit. Far past C10K, still a number a machine can hold
/// (each request needs a socket on each side of the connection).
pub const MAX_CONCURRENCY: usize = 1_000_000;

/// A list's default body cap: 1 MiB.
pub const DEFAULT_LIST_BODY_CAP: u64 = 1 << 20;
/// A crawl's default body cap: 16 MiB, above real documentation pages (the largest HTML page of
/// python3-doc is about 1.3 MiB; single-page manuals reach several MiB).
pub const DEFAULT_CRAWL_BODY_CAP: u64 = 16 << 20;

impl CrawlJob {
    /// A job that fetches each of `urls` once.
    pub fn list(urls: Vec<Url>) -> CrawlJobBuilder {
        CrawlJobBuilder::new(Workload::List { urls })
    }

    /// A job that crawls from `seeds`, attempting at most `max_pages` URLs.
    pub fn crawl(seeds: Vec<Url>, max_pages: usize) -> CrawlJobBuilder {
        CrawlJobBuilder::new(Workload::Crawl { seeds, max_pages })
    }

    /// What to fetch.
    pub fn workload(&self) -> &Workload {
        &self.spec.workload
    }
    /// The most requests in flight at any moment; backends must reach it and never exceed it.
    pub fn concurrency(&self) -> usize {
        self.spec.concurrency
    }
    /// Limit on one attempt (connect, headers and body).
    pub fn timeout(&self) -> Duration {
        self.spec.timeout
    }
    /// Extra attempts after a retryable failure.
    pub fn retries(&self) -> u32 {
        self.spec.retries
    }
    /// Redirects followed per URL before giving up.
    pub fn max_redirects(&self) -> u32 {
        self.spec.max_redirects
    }
    /// Largest body accepted; a larger one is the outcome `body_too_large` (a crawl still
    /// follows the links found before the cap, marked partial).
    pub fn max_body_bytes(&self) -> u64 {
        self.spec.max_body_bytes
    }
    /// The User-Agent header every request sends.
    pub fn user_agent(&self) -> &str {
        &self.spec.user_agent
    }
    /// Whether URLs off loopback were allowed on purpose.
    pub fn allows_non_loopback(&self) -> bool {
        self.spec.allow_non_loopback
    }
    /// Whether connections are reused or opened per request.
    pub fn connections(&self) -> ConnectionPolicy {
        self.spec.connections
    }
    /// The PEM certificate(s) to trust for `https://` URLs, if any were given.
    pub fn trusted_ca_pem(&self) -> Option<&str> {
        self.spec.trusted_ca_pem.as_deref()
    }
    /// Whether any start URL is `https://` (a backend without TLS refuses such a job).
    pub fn uses_tls(&self) -> bool {
        self.start_urls().iter().any(|u| u.scheme() == "https")
    }
    /// The query argument a JSON body must echo, if the job checks echoes.
    pub fn echo_argument(&self) -> Option<&str> {
        self.spec.echo_argument.as_deref()
    }
    /// Scope, politeness, robots.txt and nofollow; meaningful for crawls.
    pub fn rules(&self) -> &CrawlRules {
        &self.spec.rules
    }
    /// New requests started per second until `concurrency` are in flight (`None`: all at once).
    pub fn ramp(&self) -> Option<f64> {
        self.spec.ramp
    }
    /// Worker processes asked for (multi-process backends only).
    pub fn processes(&self) -> Option<usize> {
        self.spec.processes
    }
    /// How long a worker process may stay silent before it is presumed stopped.
    pub fn worker_watchdog(&self) -> Duration {
        self.spec.worker_watchdog.unwrap_or(DEFAULT_WORKER_WATCHDOG)
    }
    /// Names this job resolves itself, to the addresses every backend must connect to.
    pub fn resolve(&self) -> &ResolveMap {
        &self.spec.resolve
    }
    /// The shared counter of finished URLs.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }
    /// The shared stop signal.
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }
    /// The number of URLs the job will attempt at most (list length or `max_pages`).
    pub fn max_urls(&self) -> usize {
        match &self.spec.workload {
            Workload::List { urls } => urls.len(),
            Workload::Crawl { max_pages, .. } => *max_pages,
        }
    }
    /// The URLs the job starts from.
    pub fn start_urls(&self) -> &[Url] {
        match &self.spec.workload {
            Workload::List { urls } => urls,
            Workload::Crawl { seeds, .. } => seeds,
        }
    }
    /// Whether fetched pages' links matter: true for a crawl, false for a list (a list has
    /// nothing to follow, so its outcomes carry no links and no extraction is paid for).
    pub fn follows_links(&self) -> bool {
        matches!(self.spec.workload, Workload::Crawl { .. })
    }
    /// The same job — every limit, policy, trusted CA and check — with its workload cut to the
    /// first start URL, keeping its kind (a crawl's fetches extract links, a list's do not). For
    /// worker processes, which need the rules but never the frontier: a list of a million URLs
    /// is not copied to each, and no field can be forgotten on the way.
    pub fn limits_only(&self) -> Result<CrawlJob, JobError> {
        let first = self
            .start_urls()
            .first()
            .cloned()
            .ok_or(JobError::Invalid {
                field: "urls",
                value: "none".into(),
                accepted: "at least one URL",
            })?;
        let mut spec = self.spec.clone();
        spec.workload = match &spec.workload {
            Workload::List { .. } => Workload::List { urls: vec![first] },
            Workload::Crawl { .. } => Workload::Crawl {
                seeds: vec![first],
                max_pages: 1,
            },
        };
        spec.build()
    }
    /// Re-checks a job that came from outside (e.g. deserialized by a worker process).
    pub fn validate(&self) -> Result<(), JobError> {
        self.spec.clone().build().map(drop)
    }
}

impl CrawlJobBuilder {
    fn new(workload: Workload) -> Self {
        // A crawl meets real documentation pages, some several MiB; a list is usually an API or
        // load test whose bodies are small, and its cap bounds memory at high concurrency.
        let max_body_bytes = match workload {
            Workload::List { .. } => DEFAULT_LIST_BODY_CAP,
            Workload::Crawl { .. } => DEFAULT_CRAWL_BODY_CAP,
        };
        Self {
            workload,
            concurrency: 64,
            timeout: Duration::from_secs(10),
            retries: 1,
            max_redirects: 5,
            max_body_bytes,
            user_agent: concat!("crawlbench/", env!("CARGO_PKG_VERSION")).to_owned(),
            allow_non_loopback: false,
            connections: ConnectionPolicy::Reuse,
            trusted_ca_pem: None,
            echo_argument: None,
            rules: CrawlRules::default(),
            resolve: ResolveMap::default(),
            ramp: None,
            processes: None,
            worker_watchdog: None,
        }
    }
    /// All crawl rules at once.
    pub fn rules(mut self, rules: CrawlRules) -> Self {
        self.rules = rules;
        self
    }
    /// Which links a crawl may follow. Default [`ScopeRule::Directory`].
    pub fn scope(mut self, scope: ScopeRule) -> Self {
        self.rules.scope = scope;
        self
    }
    /// Per-host limits: most requests in flight to one host, least time between two starts.
    pub fn politeness(mut self, politeness: Politeness) -> Self {
        self.rules.politeness = politeness;
        self
    }
    /// Whether a crawl fetches and obeys `robots.txt`. Default [`RobotsRule::Ignore`].
    pub fn robots(mut self, robots: RobotsRule) -> Self {
        self.rules.robots = robots;
        self
    }
    /// Honour `rel=nofollow` and `<meta name=robots content=nofollow>`. Default off.
    pub fn nofollow(mut self, nofollow: bool) -> Self {
        self.rules.nofollow = nofollow;
        self
    }
    /// Resolves these names to these addresses (replacing any earlier map).
    pub fn resolve(mut self, map: ResolveMap) -> Self {
        self.resolve = map;
        self
    }
    /// Starts at most `per_sec` new requests per second until `concurrency` are in flight (the
    /// connection ramp: 100,000 connects at once overflow the SYN and accept queues). Accepted:
    /// 1 to 10,000,000 per second. Default: no ramp.
    pub fn ramp(mut self, per_sec: f64) -> Self {
        self.ramp = Some(per_sec);
        self
    }
    /// Worker processes for a multi-process backend (1 ..= [`MAX_PROCESSES`]).
    pub fn processes(mut self, k: usize) -> Self {
        self.processes = Some(k);
        self
    }
    /// How long a worker process may stay silent before it is presumed stopped (100 ms ..= 1 h).
    /// Default [`DEFAULT_WORKER_WATCHDOG`].
    pub fn worker_watchdog(mut self, silence: Duration) -> Self {
        self.worker_watchdog = Some(silence);
        self
    }
    /// Reuse connections or open one per request. Default [`ConnectionPolicy::Reuse`].
    pub fn connections(mut self, policy: ConnectionPolicy) -> Self {
        self.connections = policy;
        self
    }
    /// Trusts the PEM certificate(s) in `pem` for `https://` URLs (in addition to nothing: a
    /// backend given a CA trusts only it).
    pub fn trust_ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.trusted_ca_pem = Some(pem.into());
        self
    }
    /// Checks that every 2xx body is JSON echoing the URL's query argument `name` under `args`.
    pub fn echo_argument(mut self, name: impl Into<String>) -> Self {
        self.echo_argument = Some(name.into());
        self
    }
    /// Most requests in flight (1 ..= [`MAX_CONCURRENCY`]). Default 64.
    pub fn concurrency(mut self, c: usize) -> Self {
        self.concurrency = c;
        self
    }
    /// Limit on one attempt (1 ms ..= 1 hour). Default 10 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// Extra attempts after a retryable failure (0 ..= 10). Default 1.
    pub fn retries(mut self, r: u32) -> Self {
        self.retries = r;
        self
    }
    /// Redirects followed per URL (0 ..= 20). Default 5.
    pub fn max_redirects(mut self, r: u32) -> Self {
        self.max_redirects = r;
        self
    }
    /// Largest accepted body (1 byte ..= 1 GiB). Default 1 MiB for a list, 16 MiB for a crawl.
    pub fn max_body_bytes(mut self, b: u64) -> Self {
        self.max_body_bytes = b;
        self
    }
    /// The User-Agent header (visible ASCII and spaces, not empty).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }
    /// Allows URLs whose host is not a loopback address. Off by default: a benchmark must never
    /// send traffic anywhere a user did not explicitly ask for.
    pub fn allow_non_loopback(mut self, allow: bool) -> Self {
        self.allow_non_loopback = allow;
        self
    }

    /// Validates every field and returns the job.
    pub fn build(self) -> Result<CrawlJob, JobError> {
        fn invalid(
            field: &'static str,
            value: impl fmt::Display,
            accepted: &'static str,
        ) -> JobError {
            JobError::Invalid {
                field,
                value: value.to_string(),
                accepted,
            }
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(invalid("concurrency", self.concurrency, "1 to 1000000"));
        }
        if self.timeout < Duration::from_millis(1) || self.timeout > Duration::from_secs(3600) {
            return Err(invalid(
                "timeout",
                format!("{:?}", self.timeout),
                "1ms to 1h",
            ));
        }
        if let Some(r) = self.ramp
            && !(1.0..=1e7).contains(&r)
        {
            return Err(invalid("ramp", r, "1 to 10000000 new requests per second"));
        }
        if let Some(k) = self.processes
            && !(1..=MAX_PROCESSES).contains(&k)
        {
            return Err(invalid("processes", k, "1 to 1024"));
        }
        if let Some(w) = self.worker_watchdog
            && (w < Duration::from_millis(100) || w > Duration::from_secs(3600))
        {
            return Err(invalid("worker_watchdog", format!("{w:?}"), "100ms to 1h"));
        }
        if self.retries > 10 {
            return Err(invalid("retries", self.retries, "0 to 10"));
        }
        if self.max_redirects > 20 {
            return Err(invalid("max_redirects", self.max_redirects, "0 to 20"));
        }
        if !(1..=1 << 30).contains(&self.max_body_bytes) {
            return Err(invalid(
                "max_body_bytes",
                self.max_body_bytes,
                "1 to 1073741824 bytes",
            ));
        }
        if self.user_agent.is_empty() || !self.user_agent.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            return Err(invalid(
                "user_agent",
                format!("{:?}", self.user_agent),
                "non-empty printable ASCII",
            ));
        }
        if let Some(pem) = &self.trusted_ca_pem
            && !pem.contains("-----BEGIN CERTIFICATE-----")
        {
            return Err(invalid(
                "trusted_ca_pem",
                format!("{} bytes without a certificate", pem.len()),
                "one or more PEM certificates (-----BEGIN CERTIFICATE-----)",
            ));
        }
        if let Some(name) = &self.echo_argument
            && (name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(invalid(
                "echo_argument",
                format!("{name:?}"),
                "a query argument name of ASCII letters, digits and _",
            ));
        }
        if let Some(c) = self.rules.politeness.connections
            && !(1..=MAX_CONCURRENCY).contains(&c)
        {
            return Err(invalid("per_host_connections", c, "1 to 1000000"));
        }
        if self.rules.politeness.delay > Duration::from_secs(3600) {
            return Err(invalid(
                "per_host_delay",
                format!("{:?}", self.rules.politeness.delay),
                "0 to 1h",
            ));
        }
        if let ScopeRule::Hosts(hosts) = &self.rules.scope
            && hosts.is_empty()
        {
            return Err(invalid("scope", "hosts: with no host", "at least one host"));
        }
        if !self.allow_non_loopback
            && let Some((name, addr)) = self.resolve.iter().find(|(_, a)| !a.is_loopback())
        {
            return Err(JobError::Url {
                url: format!("{name} → {addr}"),
                reason: "--resolve maps it off loopback; pass --allow-non-loopback to crawl \
                         elsewhere on purpose"
                    .into(),
            });
        }
        let urls = match &self.workload {
            Workload::List { urls } => {
                if urls.is_empty() {
                    return Err(invalid("urls", "an empty list", "at least one URL"));
                }
                let mut seen = HashSet::with_capacity(urls.len());
                for u in urls {
                    if !seen.insert(u.as_str()) {
                        return Err(JobError::Url {
                            url: u.to_string(),
                            reason: "listed twice; a list job fetches each URL exactly once".into(),
                        });
                    }
                }
                urls
            }
            Workload::Crawl { seeds, max_pages } => {
                if seeds.is_empty() {
                    return Err(invalid("seeds", "none", "at least one seed URL"));
                }
                if *max_pages == 0 {
                    return Err(invalid("max_pages", 0, "1 or more"));
                }
                seeds
            }
        };
        for u in urls {
            check_url(u, self.allow_non_loopback, &self.resolve)?;
        }
        Ok(CrawlJob {
            spec: self,
            progress: Progress::default(),
            cancel: Cancel::default(),
        })
    }
}

/// True when `url` points at this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn check_url(url: &Url, allow_non_loopback: bool, resolve: &ResolveMap) -> Result<(), JobError> {
    let err = |reason: &str| JobError::Url {
        url: url.to_string(),
        reason: reason.to_owned(),
    };
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(err("only http:// and https:// URLs are accepted"));
    }
    if url.host().is_none() {
        return Err(err("it has no host"));
    }
    // A name the job resolves itself is checked by its address (above, in `build`).
    let resolved_here = url.host_str().is_some_and(|h| resolve.get(h).is_some());
    if !allow_non_loopback && !is_loopback(url) && !resolved_here {
        return Err(err(
            "its host is not a loopback address (127.0.0.0/8, [::1] or localhost); \
             pass --allow-non-loopback to crawl elsewhere on purpose",
        ));
    }
    Ok(())
}

pub(crate) mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// An optional [`Duration`] as whole milliseconds (absent or `null` for none).
pub(crate) mod opt_duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn defaults_build() {
        let job = CrawlJob::list(vec![u("http://127.0.0.1:1/a")])
            .build()
            .unwrap();
        assert_eq!(job.concurrency(), 64);
        assert_eq!(job.max_urls(), 1);
    }

    #[test]
    fn bad_values_name_field_and_range() {
        let e = CrawlJob::list(vec![u("http://127.0.0.1:1/a")])
            .concurrency(0)
            .build()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid concurrency: 0 (accepted: 1 to 1000000)"
        );
        let e = CrawlJob::crawl(vec![u("http://127.0.0.1:1/a")], 0)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("max_pages"), "{e}");
        let e = CrawlJob::list(vec![]).build().unwrap_err();
        assert!(e.to_string().contains("at least one URL"), "{e}");
        let e = CrawlJob::list(vec![u("http://127.0.0.1:1/a")])
            .retries(11)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("0 to 10"), "{e}");
        let e = CrawlJob::list(vec![u("http://127.0.0.1:1/a")])
            .timeout(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("timeout"), "{e}");
    }

    #[test]
    fn only_loopback_http_by_default() {
        let e = CrawlJob::list(vec![u("http://10.0.0.1/a")])
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("not a loopback"), "{e}");
        let e = CrawlJob::list(vec![u("ftp://127.0.0.1/a")])
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("only http:// and https://"), "{e}");
        assert!(
            CrawlJob::list(vec![u("https://127.0.0.1/a")])
                .build()
                .unwrap()
                .uses_tls()
        );
        assert!(
            CrawlJob::list(vec![u("http://localhost:8/a")])
                .build()
                .is_ok()
        );
        assert!(
            CrawlJob::list(vec![u("http://127.9.9.9:8/a")])
                .build()
                .is_ok()
        );
        assert!(CrawlJob::list(vec![u("http://[::1]:8/a")]).build().is_ok());
        assert!(
            CrawlJob::list(vec![u("http://10.0.0.1/a")])
                .allow_non_loopback(true)
                .build()
                .is_ok()
        );
    }

    #[test]
    fn only_crawls_follow_links() {
        let list = CrawlJob::list(vec![u("http://127.0.0.1:1/a")])
            .build()
            .unwrap();
        let crawl = CrawlJob::crawl(vec![u("http://127.0.0.1:1/a")], 5)
            .build()
            .unwrap();
        assert!(!list.follows_links());
        assert!(crawl.follows_links());
    }

    #[test]
    fn tls_and_connection_fields_validate() {
        let e = CrawlJob::list(vec![u("https://127.0.0.1:1/a")])
            .trust_ca_pem("not a certificate")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("trusted_ca_pem"), "{e}");
        let e = CrawlJob::list(vec![u("http://127.0.0.1:1/a")])
            .echo_argument("a b")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("echo_argument"), "{e}");
        let job = CrawlJob::list(vec![u("http://127.0.0.1:1/a")])
            .connections(ConnectionPolicy::Fresh)
            .build()
            .unwrap();
        assert_eq!(job.connections(), ConnectionPolicy::Fresh);
        assert!(!job.uses_tls());
        assert_eq!("fresh".parse(), Ok(ConnectionPolicy::Fresh));
        let e = "pooled".parse::<ConnectionPolicy>().unwrap_err();
        assert!(e.contains("accepted: reuse, fresh"), "{e}");
    }

    #[test]
    fn duplicate_list_urls_are_refused() {
        let e = CrawlJob::list(vec![u("http://127.0.0.1:1/a"), u("http://127.0.0.1:1/a")])
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("listed twice"), "{e}");
    }

    #[test]
    fn serde_round_trip_revalidates() {
        let job = CrawlJob::crawl(vec![u("http://127.0.0.1:1/s/")], 10)
            .build()
            .unwrap();
        let back: CrawlJob = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
        back.validate().unwrap();
        assert_eq!(back.workload(), job.workload());
        assert_eq!(back.timeout(), job.timeout());
    }
}
