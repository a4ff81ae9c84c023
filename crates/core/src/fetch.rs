//! One URL's fetch, the same for every backend: retries, redirects, the body cap, the digest,
//! link extraction and the resulting [`FetchOutcome`].
//!
//! Backends implement only a single GET attempt ([`BlockingHttp`] / [`AsyncHttp`]) with their
//! client's redirects and retries switched off. Everything that decides *what the result is*
//! lives in [`FetchPolicy`], so two backends that fetched the same bytes always report the same
//! outcome, and the only thing the benchmark compares is how the attempts were scheduled.

use std::{
    error::Error as StdError,
    future::Future,
    io,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::{CrawlJob, links};

/// Why a fetch failed, in terms every backend can map its client's errors to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The TCP connection could not be established (refused, unreachable, out of ports or fds).
    Connect,
    /// The attempt did not finish within the job's timeout.
    Timeout,
    /// The connection was reset or closed before a response arrived.
    Reset,
    /// The connection closed before the announced body was complete.
    Truncated,
    /// The body exceeded the job's `max_body_bytes`.
    BodyTooLarge,
    /// The peer did not speak valid HTTP/1.1.
    InvalidResponse,
    /// A redirect led back to a URL already visited in the same chain.
    RedirectLoop,
    /// More redirects than the job's `max_redirects`.
    TooManyRedirects,
    /// A redirect without a usable `Location`, or to a different host (never followed).
    BadRedirect,
    /// The TLS handshake failed: an untrusted or mismatched certificate, no shared protocol
    /// version or cipher, a TLS alert. Never retried: the same handshake fails again.
    Tls,
    /// A JSON body did not echo the query argument its URL sent (the job's `echo_argument`).
    EchoMismatch,
    /// Anything else the client reported (the detail says what).
    Other,
}

impl ErrorKind {
    /// Whether another attempt may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::Connect | Self::Timeout | Self::Reset | Self::Truncated
        )
    }
    /// Every kind, for tables.
    pub const ALL: [ErrorKind; 12] = [
        Self::Connect,
        Self::Timeout,
        Self::Reset,
        Self::Truncated,
        Self::BodyTooLarge,
        Self::InvalidResponse,
        Self::RedirectLoop,
        Self::TooManyRedirects,
        Self::BadRedirect,
        Self::Tls,
        Self::EchoMismatch,
        Self::Other,
    ];
    /// The snake_case name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Reset => "reset",
            Self::Truncated => "truncated",
            Self::BodyTooLarge => "body_too_large",
            Self::InvalidResponse => "invalid_response",
            Self::RedirectLoop => "redirect_loop",
            Self::TooManyRedirects => "too_many_redirects",
            Self::BadRedirect => "bad_redirect",
            Self::Tls => "tls",
            Self::EchoMismatch => "echo_mismatch",
            Self::Other => "other",
        }
    }
}

/// A failed attempt: its kind and the client's own words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchError {
    /// The kind.
    pub kind: ErrorKind,
    /// The client's message, for humans.
    pub detail: String,
}

impl FetchError {
    /// An error of `kind` with `detail`.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// Classifies a client error by walking its `source()` chain for an [`io::Error`].
    ///
    /// `phase` says whether the response head had already arrived: a connection that dies while
    /// the body streams is [`ErrorKind::Truncated`], before that it is [`ErrorKind::Reset`].
    /// Clients that know better (a typed timeout, a parse error) should map those first.
    pub fn classify(err: &(dyn StdError + 'static), phase: Phase) -> Self {
        let detail = error_chain_text(err);
        if phase == Phase::Head && mentions_tls(&detail) {
            // rustls and the clients around it wrap handshake failures in io errors of kind
            // `InvalidData` or in "connect" errors; what failed is the handshake.
            return Self {
                kind: ErrorKind::Tls,
                detail,
            };
        }
        // The deepest io::Error with a specific kind says most (clients wrap them in
        // `io::ErrorKind::Other` layers of their own).
        let mut best: Option<&io::Error> = None;
        let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
        while let Some(e) = cur {
            if let Some(io) = e.downcast_ref::<io::Error>()
                && (best.is_none() || io.kind() != io::ErrorKind::Other)
            {
                best = Some(io);
            }
            cur = e.source();
        }
        if let Some(io) = best
            && io.kind() != io::ErrorKind::Other
        {
            return Self {
                kind: kind_of_io(io, phase),
                detail,
            };
        }
        let lower = detail.to_ascii_lowercase();
        let kind = if lower.contains("timed out") || lower.contains("timeout") {
            ErrorKind::Timeout
        } else if phase == Phase::Body {
            ErrorKind::Truncated
        } else if lower.contains("closed")
            || lower.contains("reset")
            || lower.contains("incomplete")
        {
            // Checked before "connect": "connection closed before message completed" is a reset.
            ErrorKind::Reset
        } else if lower.contains("connect") {
            ErrorKind::Connect
        } else if lower.contains("parse") || lower.contains("invalid") {
            ErrorKind::InvalidResponse
        } else {
            ErrorKind::Other
        };
        Self { kind, detail }
    }

    /// Classifies an [`io::Error`] met in `phase`.
    pub fn from_io(err: &io::Error, phase: Phase) -> Self {
        Self {
            kind: kind_of_io(err, phase),
            detail: err.to_string(),
        }
    }

    /// The error for a body that passed the cap.
    pub fn body_too_large(limit: u64) -> Self {
        Self::new(
            ErrorKind::BodyTooLarge,
            format!("body larger than the {limit}-byte limit"),
        )
    }

    /// The error for an attempt that ran out of time.
    pub fn timeout(limit: Duration) -> Self {
        Self::new(
            ErrorKind::Timeout,
            format!("no complete response within {limit:?}"),
        )
    }
}

/// Where in an attempt an error happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Connecting, sending the request or waiting for the response head.
    Head,
    /// Reading the body.
    Body,
}

fn kind_of_io(err: &io::Error, phase: Phase) -> ErrorKind {
    use io::ErrorKind as K;
    match err.kind() {
        K::TimedOut | K::WouldBlock => ErrorKind::Timeout,
        K::ConnectionRefused
        | K::AddrNotAvailable
        | K::AddrInUse
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::NotConnected => ErrorKind::Connect,
        _ if err.raw_os_error() == Some(libc::EMFILE)
            || err.raw_os_error() == Some(libc::ENFILE) =>
        {
            ErrorKind::Connect
        }
        K::InvalidData => ErrorKind::InvalidResponse,
        _ if phase == Phase::Body => ErrorKind::Truncated,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            ErrorKind::Reset
        }
        _ => ErrorKind::Other,
    }
}

/// Whether an error text describes a failed TLS handshake (the words rustls, webpki and the
/// clients around them use: an untrusted issuer, a bad certificate, an alert, a handshake).
pub fn mentions_tls(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["certificate", "unknownissuer", "tls", "handshake", "alert"]
        .iter()
        .any(|w| lower.contains(w))
}

/// An error's message followed by each of its sources' (skipping one already contained), joined
/// by `: ` — what a human needs from a client's nested errors.
pub fn error_chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cur = e.source();
    }
    text
}

/// One attempt's response, body already read (and capped) by the backend.
#[derive(Clone, Debug, Default)]
pub struct RawResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// Collects a streamed body and enforces the job's cap without buffering past it.
///
/// Shared by every client so the cap means the same thing everywhere: a body of exactly
/// `limit` bytes is accepted, one byte more is [`ErrorKind::BodyTooLarge`].
#[derive(Debug)]
pub struct BodyBuffer {
    limit: u64,
    announced: Option<u64>,
    body: Vec<u8>,
}

impl BodyBuffer {
    /// A buffer for a body announced as `content_length` (if known). Fails at once when the
    /// announced length is already over `limit`.
    pub fn new(limit: u64, content_length: Option<u64>) -> Result<Self, FetchError> {
        if let Some(len) = content_length
            && len > limit
        {
            return Err(FetchError::body_too_large(limit));
        }
        let capacity = content_length.unwrap_or(8 * 1024).min(limit) as usize;
        Ok(Self {
            limit,
            announced: content_length,
            body: Vec::with_capacity(capacity),
        })
    }
    /// Appends a chunk, failing once the total passes the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), FetchError> {
        if self.body.len() as u64 + chunk.len() as u64 > self.limit {
            return Err(FetchError::body_too_large(self.limit));
        }
        self.body.extend_from_slice(chunk);
        Ok(())
    }
    /// Reads a blocking body to its end through the cap.
    pub fn read_from(mut self, mut reader: impl io::Read) -> Result<Vec<u8>, io::Error> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = reader.read(&mut chunk)?;
            if n == 0 {
                // A short body is Truncated: carried through the io::Error like the cap.
                return self
                    .finish()
                    .map_err(|e| io::Error::other(BodyTooLargeMarker(e)));
            }
            self.push(&chunk[..n])
                .map_err(|e| io::Error::other(BodyTooLargeMarker(e)))?;
        }
    }
    /// The collected body; [`ErrorKind::Truncated`] when fewer bytes arrived than the response
    /// announced (some clients end a short body quietly at EOF).
    pub fn finish(self) -> Result<Vec<u8>, FetchError> {
        match self.announced {
            Some(len) if (self.body.len() as u64) < len => Err(FetchError::new(
                ErrorKind::Truncated,
                format!(
                    "connection closed after {} of {len} announced body bytes",
                    self.body.len()
                ),
            )),
            _ => Ok(self.body),
        }
    }
}

/// Carries a [`FetchError`] (the cap, or a short body) through an [`io::Error`] so blocking
/// readers can report it.
#[derive(Debug)]
struct BodyTooLargeMarker(FetchError);
impl std::fmt::Display for BodyTooLargeMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.detail)
    }
}
impl StdError for BodyTooLargeMarker {}

/// Maps an error from [`BodyBuffer::read_from`]: the cap, a timeout, or a truncated body.
pub fn body_read_error(err: &io::Error) -> FetchError {
    if let Some(marker) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<BodyTooLargeMarker>())
    {
        return marker.0.clone();
    }
    FetchError::classify(err, Phase::Body)
}

/// A blocking HTTP client performing one GET attempt: no redirects, no retries, body capped at
/// the job's `max_body_bytes`, the whole attempt bounded by the job's timeout.
pub trait BlockingHttp: Send + Sync {
    /// One attempt.
    fn get(&self, url: &Url) -> Result<RawResponse, FetchError>;
}

/// An async HTTP client performing one GET attempt, with the same contract as [`BlockingHttp`].
pub trait AsyncHttp: Send + Sync {
    /// One attempt.
    fn get(&self, url: &Url) -> impl Future<Output = Result<RawResponse, FetchError>> + Send;
}

/// What became of one URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A response with this status (after redirects).
    Status(u16),
    /// No usable response.
    Error(ErrorKind),
}

impl Outcome {
    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Status(s) if (200..300).contains(s))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Status(s) => write!(f, "HTTP {s}"),
            Outcome::Error(k) => f.write_str(k.as_str()),
        }
    }
}

/// The result of fetching one URL, as every backend reports it.
///
/// Every field is always serialized (no `skip_serializing_if`): outcomes also travel between
/// processes in postcard, a format that cannot decode skipped fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FetchOutcome {
    /// The URL as the frontier handed it out.
    pub url: Url,
    /// Where the last attempt went (differs from `url` after redirects).
    pub final_url: Url,
    /// Status or error kind.
    pub outcome: Outcome,
    /// The client's message for the last failed attempt.
    pub error_detail: Option<String>,
    /// Attempts made, counting retries and redirect hops.
    pub attempts: u32,
    /// Body bytes received on the final attempt.
    pub bytes: u64,
    /// xxh3-64 of the final body, when one was received.
    pub digest: Option<u64>,
    /// Links found in an HTML body, resolved and without fragments.
    pub links: Vec<Url>,
    /// From the moment the crawl loop dispatched the URL to the moment its outcome was back in
    /// the loop, in microseconds: executor queueing, thread hand-offs and inter-process hops are
    /// the costs under comparison, so they count. Set by [`crate::driver::drive`].
    pub latency_us: u64,
    /// Service time inside the backend: from the first attempt's start to the outcome, in
    /// microseconds (no queueing before the fetch started, no hand-off back).
    pub service_us: u64,
    /// Nanoseconds this URL spent in link extraction — harness work every backend pays alike,
    /// reported so a backend's own CPU can be shown without it.
    pub extract_ns: u64,
}

/// The per-URL state machine behind every fetch.
///
/// Drive it with a loop: request [`FetchPolicy::current`], pass the result to
/// [`FetchPolicy::record`], and stop when it returns the outcome. [`fetch_blocking`] and
/// [`fetch_async`] are that loop.
#[derive(Debug)]
pub struct FetchPolicy {
    url: Url,
    current: Url,
    started: Instant,
    attempts: u32,
    failures_left: u32,
    redirects_left: u32,
    chain: Vec<Url>,
    max_redirects: u32,
    /// Only a crawl follows links; a list's outcomes carry none (see [`CrawlJob::follows_links`]).
    extract_links: bool,
    /// The query argument a 2xx JSON body must echo (see [`CrawlJob::echo_argument`]).
    echo_argument: Option<String>,
}

impl FetchPolicy {
    /// Starts fetching `url` under `job`'s limits.
    pub fn new(job: &CrawlJob, url: Url) -> Self {
        Self {
            current: url.clone(),
            chain: vec![url.clone()],
            url,
            started: Instant::now(),
            attempts: 0,
            failures_left: job.retries(),
            redirects_left: job.max_redirects(),
            max_redirects: job.max_redirects(),
            extract_links: job.follows_links(),
            echo_argument: job.echo_argument().map(str::to_owned),
        }
    }

    /// The URL the next attempt must request.
    pub fn current(&self) -> &Url {
        &self.current
    }

    /// Records one attempt. Returns the outcome when the URL is done, `None` when another
    /// attempt (a retry or a redirect hop) must follow.
    pub fn record(&mut self, result: Result<RawResponse, FetchError>) -> Option<FetchOutcome> {
        self.attempts += 1;
        match result {
            Err(err) => {
                if err.kind.is_retryable() && self.failures_left > 0 {
                    self.failures_left -= 1;
                    return None;
                }
                Some(self.finish_error(err))
            }
            Ok(resp) if (500..600).contains(&resp.status) && self.failures_left > 0 => {
                self.failures_left -= 1;
                None
            }
            Ok(resp) if is_redirect(resp.status) => self.redirect(resp),
            Ok(resp) => Some(self.finish(resp)),
        }
    }

    fn redirect(&mut self, resp: RawResponse) -> Option<FetchOutcome> {
        let Some(target) = resp
            .location
            .as_deref()
            .and_then(|l| self.current.join(l).ok())
        else {
            return Some(self.finish_error(FetchError::new(
                ErrorKind::BadRedirect,
                format!("HTTP {} without a usable Location header", resp.status),
            )));
        };
        let mut target = target;
        target.set_fragment(None);
        if target.origin() != self.url.origin() {
            return Some(self.finish_error(FetchError::new(
                ErrorKind::BadRedirect,
                format!("redirect to another host ({target}) is never followed"),
            )));
        }
        if self.chain.contains(&target) {
            return Some(self.finish_error(FetchError::new(
                ErrorKind::RedirectLoop,
                format!("redirect back to {target}"),
            )));
        }
        if self.redirects_left == 0 {
            return Some(self.finish_error(FetchError::new(
                ErrorKind::TooManyRedirects,
                format!("more than {} redirects", self.max_redirects),
            )));
        }
        self.redirects_left -= 1;
        self.chain.push(target.clone());
        self.current = target;
        None
    }

    fn latency_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    fn finish(&mut self, resp: RawResponse) -> FetchOutcome {
        if let Some(name) = &self.echo_argument
            && (200..300).contains(&resp.status)
            && let Err(why) = check_echo(&self.url, name, &resp.body)
        {
            return self.finish_error(FetchError::new(ErrorKind::EchoMismatch, why));
        }
        let is_html = || {
            resp.content_type.as_deref().is_some_and(|ct| {
                ct.trim_start()
                    .get(..9)
                    .is_some_and(|t| t.eq_ignore_ascii_case("text/html"))
            })
        };
        let (links, extract_ns) =
            if self.extract_links && (200..300).contains(&resp.status) && is_html() {
                let started = Instant::now();
                let links = links::extract(&self.current, &resp.body);
                (links, started.elapsed().as_nanos() as u64)
            } else {
                (Vec::new(), 0)
            };
        FetchOutcome {
            url: self.url.clone(),
            final_url: self.current.clone(),
            outcome: Outcome::Status(resp.status),
            error_detail: None,
            attempts: self.attempts,
            bytes: resp.body.len() as u64,
            digest: Some(digest(&resp.body)),
            links,
            latency_us: self.latency_us(),
            service_us: self.latency_us(),
            extract_ns,
        }
    }

    fn finish_error(&mut self, err: FetchError) -> FetchOutcome {
        FetchOutcome {
            url: self.url.clone(),
            final_url: self.current.clone(),
            outcome: Outcome::Error(err.kind),
            error_detail: Some(err.detail),
            attempts: self.attempts,
            bytes: 0,
            digest: None,
            links: Vec::new(),
            latency_us: self.latency_us(),
            service_us: self.latency_us(),
            extract_ns: 0,
        }
    }
}

/// Checks that `body` is JSON whose `args` echo `url`'s query argument `name`, as httpbin's
/// `/get` does — the seed experiment read `r.json()['args']['a']` from every response.
fn check_echo(url: &Url, name: &str, body: &[u8]) -> Result<(), String> {
    let sent = url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let echoed = json
        .get("args")
        .and_then(|a| a.get(name))
        .and_then(|v| v.as_str());
    if echoed == sent.as_deref() {
        Ok(())
    } else {
        Err(format!(
            "sent {name}={sent:?}, the body echoed args.{name} = {echoed:?}"
        ))
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The body digest every backend and the origin's ground truth use.
pub fn digest(body: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(body)
}

/// Bounds one attempt by `limit` with a timer from the backend's runtime: whichever finishes
/// first wins, and a timer win is [`ErrorKind::Timeout`]. For clients with no timeout of their
/// own (hyper's connection API, surf on async-h1); the attempt is dropped, closing its connection.
pub async fn race_timeout<A, T>(
    attempt: A,
    timer: T,
    limit: Duration,
) -> Result<RawResponse, FetchError>
where
    A: Future<Output = Result<RawResponse, FetchError>>,
    T: Future,
{
    match futures_util::future::select(std::pin::pin!(attempt), std::pin::pin!(timer)).await {
        futures_util::future::Either::Left((result, _)) => result,
        futures_util::future::Either::Right(_) => Err(FetchError::timeout(limit)),
    }
}

/// Fetches `url` to its outcome with a blocking client.
pub fn fetch_blocking(client: &impl BlockingHttp, job: &CrawlJob, url: Url) -> FetchOutcome {
    let mut policy = FetchPolicy::new(job, url);
    loop {
        let result = client.get(policy.current());
        if let Some(outcome) = policy.record(result) {
            return outcome;
        }
    }
}

/// Fetches `url` to its outcome with an async client.
pub async fn fetch_async(client: &impl AsyncHttp, job: &CrawlJob, url: Url) -> FetchOutcome {
    let mut policy = FetchPolicy::new(job, url);
    loop {
        let result = client.get(policy.current()).await;
        if let Some(outcome) = policy.record(result) {
            return outcome;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(retries: u32) -> CrawlJob {
        CrawlJob::list(vec![Url::parse("http://127.0.0.1:1/a").unwrap()])
            .retries(retries)
            .max_redirects(2)
            .build()
            .unwrap()
    }
    fn ok(status: u16) -> Result<RawResponse, FetchError> {
        Ok(RawResponse {
            status,
            ..Default::default()
        })
    }
    fn redirect(to: &str) -> Result<RawResponse, FetchError> {
        Ok(RawResponse {
            status: 302,
            location: Some(to.into()),
            ..Default::default()
        })
    }

    #[test]
    fn retries_only_retryable_failures() {
        let url = Url::parse("http://127.0.0.1:1/a").unwrap();
        let mut p = FetchPolicy::new(&job(2), url.clone());
        assert!(
            p.record(Err(FetchError::new(ErrorKind::Reset, "x")))
                .is_none()
        );
        assert!(p.record(ok(503)).is_none());
        let o = p.record(ok(503)).unwrap();
        assert_eq!((o.outcome, o.attempts), (Outcome::Status(503), 3));

        let mut p = FetchPolicy::new(&job(2), url.clone());
        let o = p.record(Err(FetchError::body_too_large(1))).unwrap();
        assert_eq!(
            (o.outcome, o.attempts),
            (Outcome::Error(ErrorKind::BodyTooLarge), 1)
        );

        let mut p = FetchPolicy::new(&job(0), url);
        let o = p
            .record(Err(FetchError::new(ErrorKind::Timeout, "t")))
            .unwrap();
        assert_eq!(o.outcome, Outcome::Error(ErrorKind::Timeout));
    }

    #[test]
    fn follows_redirects_and_detects_loops() {
        let url = Url::parse("http://127.0.0.1:1/a").unwrap();
        let mut p = FetchPolicy::new(&job(0), url.clone());
        assert!(p.record(redirect("/b#frag")).is_none());
        assert_eq!(p.current().as_str(), "http://127.0.0.1:1/b");
        let o = p.record(ok(200)).unwrap();
        assert_eq!(o.final_url.as_str(), "http://127.0.0.1:1/b");
        assert_eq!((o.url, o.attempts), (url.clone(), 2));

        let mut p = FetchPolicy::new(&job(0), url.clone());
        assert!(p.record(redirect("/b")).is_none());
        let o = p.record(redirect("/a")).unwrap();
        assert_eq!(o.outcome, Outcome::Error(ErrorKind::RedirectLoop));

        let mut p = FetchPolicy::new(&job(0), url.clone());
        assert!(p.record(redirect("/b")).is_none());
        assert!(p.record(redirect("/c")).is_none());
        let o = p.record(redirect("/d")).unwrap();
        assert_eq!(o.outcome, Outcome::Error(ErrorKind::TooManyRedirects));

        let mut p = FetchPolicy::new(&job(0), url);
        let o = p.record(redirect("http://127.0.0.2:1/x")).unwrap();
        assert_eq!(o.outcome, Outcome::Error(ErrorKind::BadRedirect));
    }

    #[test]
    fn echo_checks_the_argument_the_url_sent() {
        let url = Url::parse("http://127.0.0.1:1/get?a=7").unwrap();
        let job = CrawlJob::list(vec![url.clone()])
            .echo_argument("a")
            .build()
            .unwrap();
        let outcome = |body: &str| {
            let mut p = FetchPolicy::new(&job, url.clone());
            p.record(Ok(RawResponse {
                status: 200,
                body: body.as_bytes().to_vec(),
                ..Default::default()
            }))
            .unwrap()
        };
        assert_eq!(
            outcome(r#"{"args": {"a": "7"}, "url": "x"}"#).outcome,
            Outcome::Status(200)
        );
        let wrong = outcome(r#"{"args": {"a": "8"}}"#);
        assert_eq!(wrong.outcome, Outcome::Error(ErrorKind::EchoMismatch));
        assert!(wrong.error_detail.unwrap().contains("\"8\""));
        assert_eq!(
            outcome("<html>").outcome,
            Outcome::Error(ErrorKind::EchoMismatch)
        );
    }

    #[test]
    fn tls_failures_classify_as_tls() {
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        );
        assert_eq!(FetchError::classify(&io, Phase::Head).kind, ErrorKind::Tls);
        assert!(!ErrorKind::Tls.is_retryable());
    }

    #[test]
    fn body_cap_is_exact() {
        let mut b = BodyBuffer::new(4, None).unwrap();
        b.push(b"ab").unwrap();
        b.push(b"cd").unwrap();
        assert_eq!(b.push(b"e").unwrap_err().kind, ErrorKind::BodyTooLarge);
        assert!(BodyBuffer::new(4, Some(5)).is_err());
        let err = BodyBuffer::new(3, None)
            .unwrap()
            .read_from(&b"abcd"[..])
            .unwrap_err();
        assert_eq!(body_read_error(&err).kind, ErrorKind::BodyTooLarge);
        assert_eq!(
            BodyBuffer::new(4, None)
                .unwrap()
                .read_from(&b"abcd"[..])
                .unwrap(),
            b"abcd"
        );
    }

    #[test]
    fn io_errors_classify_by_phase() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(
            FetchError::from_io(&reset, Phase::Head).kind,
            ErrorKind::Reset
        );
        assert_eq!(
            FetchError::from_io(&reset, Phase::Body).kind,
            ErrorKind::Truncated
        );
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            FetchError::from_io(&refused, Phase::Head).kind,
            ErrorKind::Connect
        );
        let wrapped = io::Error::other(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(
            FetchError::classify(&wrapped, Phase::Head).kind,
            ErrorKind::Timeout
        );
    }
}
