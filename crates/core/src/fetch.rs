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
    /// Never requested: the host's `robots.txt` disallows it (a crawl that obeys robots).
    RobotsDisallowed,
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
    pub const ALL: [ErrorKind; 13] = [
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
        Self::RobotsDisallowed,
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
            Self::RobotsDisallowed => "robots_disallowed",
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
    /// For [`ErrorKind::BodyTooLarge`]: the body up to the cap, so a crawl can still follow the
    /// links found before it (and say they are partial). Never sent between processes.
    #[serde(skip)]
    pub partial_body: Option<Vec<u8>>,
}

impl FetchError {
    /// An error of `kind` with `detail`.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            partial_body: None,
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
            return Self::new(ErrorKind::Tls, detail);
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
            return Self::new(kind_of_io(io, phase), detail);
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
        Self::new(kind, detail)
    }

    /// Classifies an [`io::Error`] met in `phase`.
    pub fn from_io(err: &io::Error, phase: Phase) -> Self {
        Self::new(kind_of_io(err, phase), err.to_string())
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
/// `limit` bytes is accepted, one byte more is [`ErrorKind::BodyTooLarge`] — and the error
/// carries the first `limit` bytes, so a crawl follows the links before the cap instead of
/// silently losing them. A body announced as larger than the cap is therefore still read up to
/// the cap, never past it.
#[derive(Debug)]
pub struct BodyBuffer {
    limit: u64,
    announced: Option<u64>,
    body: Vec<u8>,
}

impl BodyBuffer {
    /// A buffer for a body announced as `content_length` (if known). (It returns a `Result` so
    /// a client's error path stays one `?`; it does not fail today: an announced length over the
    /// cap is read up to the cap, for its links.)
    pub fn new(limit: u64, content_length: Option<u64>) -> Result<Self, FetchError> {
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
            let room = (self.limit - self.body.len() as u64) as usize;
            self.body.extend_from_slice(&chunk[..room]);
            let mut err = FetchError::body_too_large(self.limit);
            err.partial_body = Some(std::mem::take(&mut self.body));
            return Err(err);
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
    /// The final response said `Content-Type: text/html` (what a crawl parses for links, and
    /// what a crawler's "pages" are).
    pub html: bool,
    /// xxh3-64 of the final body, when one was received.
    pub digest: Option<u64>,
    /// Links found in an HTML body, resolved and without fragments; in a crawl, a redirect's
    /// target is its one link (the frontier admits it once, like any link).
    pub links: Vec<Url>,
    /// The links come from only the part of the body before the cap (the outcome is
    /// `body_too_large`).
    pub links_partial: bool,
    /// The body of a `robots.txt` fetched for a crawl that obeys it (at most 500 KiB, the least
    /// RFC 9309 asks a crawler to parse); no other outcome keeps its body.
    pub robots_txt: Option<Vec<u8>>,
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

impl FetchOutcome {
    /// The outcome of a URL settled without a successful attempt of its own — disallowed by
    /// robots.txt, or lost by the machinery that ran it: `kind`, with `detail`, no body.
    pub fn settled(url: Url, kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self {
            final_url: url.clone(),
            url,
            outcome: Outcome::Error(kind),
            error_detail: Some(detail.into()),
            attempts: 0,
            bytes: 0,
            html: false,
            digest: None,
            links: Vec::new(),
            links_partial: false,
            robots_txt: None,
            latency_us: 0,
            service_us: 0,
            extract_ns: 0,
        }
    }
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
    /// Honour `nofollow` (see [`crate::CrawlRules::nofollow`]).
    nofollow: bool,
    /// This is a crawl's `robots.txt` fetch: keep the body for the frontier.
    keep_robots_body: bool,
}

/// The most of a `robots.txt` a crawl keeps and parses: RFC 9309 asks for at least 500 KiB.
pub const ROBOTS_TXT_CAP: usize = 500 * 1024;

impl FetchPolicy {
    /// Starts fetching `url` under `job`'s limits.
    pub fn new(job: &CrawlJob, url: Url) -> Self {
        Self {
            current: url.clone(),
            chain: vec![url.clone()],
            started: Instant::now(),
            attempts: 0,
            failures_left: job.retries(),
            redirects_left: job.max_redirects(),
            max_redirects: job.max_redirects(),
            extract_links: job.follows_links(),
            echo_argument: job.echo_argument().map(str::to_owned),
            nofollow: job.rules().nofollow,
            keep_robots_body: job.follows_links()
                && job.rules().robots.obeys()
                && crate::frontier::is_robots_txt(&url),
            url,
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
            // A crawl hands a redirect's target to the frontier as the response's one link, so
            // it is deduplicated like any link: a target also linked elsewhere is fetched once,
            // one out of scope is not fetched, and a loop ends at the first URL seen twice
            // (scrapy's redirects go back through its scheduler's dupefilter the same way). A
            // robots.txt follows its redirects inline, as RFC 9309 asks.
            Ok(resp)
                if is_redirect(resp.status) && self.extract_links && !self.keep_robots_body =>
            {
                let target = resp
                    .location
                    .as_deref()
                    .and_then(|l| self.current.join(l).ok())
                    .filter(|t| matches!(t.scheme(), "http" | "https"));
                let mut outcome = self.finish(resp);
                outcome.links = target
                    .map(|mut t| {
                        t.set_fragment(None);
                        vec![t]
                    })
                    .unwrap_or_default();
                Some(outcome)
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
        let html = is_html();
        let (links, extract_ns) = if self.extract_links && (200..300).contains(&resp.status) && html
        {
            self.extract(&resp.body)
        } else {
            (Vec::new(), 0)
        };
        let robots_txt = (self.keep_robots_body && (200..300).contains(&resp.status))
            .then(|| resp.body[..resp.body.len().min(ROBOTS_TXT_CAP)].to_vec());
        FetchOutcome {
            url: self.url.clone(),
            final_url: self.current.clone(),
            outcome: Outcome::Status(resp.status),
            error_detail: None,
            attempts: self.attempts,
            bytes: resp.body.len() as u64,
            html,
            digest: Some(digest(&resp.body)),
            links,
            links_partial: false,
            robots_txt,
            latency_us: self.latency_us(),
            service_us: self.latency_us(),
            extract_ns,
        }
    }

    /// The links of an HTML body, and the nanoseconds spent finding them.
    fn extract(&self, body: &[u8]) -> (Vec<Url>, u64) {
        let started = Instant::now();
        let options = links::LinkOptions {
            nofollow: self.nofollow,
        };
        let links = links::extract_with(&self.current, body, &options);
        (links, started.elapsed().as_nanos() as u64)
    }

    fn finish_error(&mut self, mut err: FetchError) -> FetchOutcome {
        // A crawl still follows the links before the cap of an HTML body that passed it (no
        // content type survives the error, so the prefix is sniffed the way browsers sniff an
        // unlabelled body).
        let partial = err
            .partial_body
            .take()
            .filter(|b| self.extract_links && looks_like_html(b));
        let (links, extract_ns) = partial.map(|b| self.extract(&b)).unwrap_or_default();
        FetchOutcome {
            links_partial: !links.is_empty(),
            robots_txt: None,
            url: self.url.clone(),
            final_url: self.current.clone(),
            outcome: Outcome::Error(err.kind),
            error_detail: Some(err.detail),
            attempts: self.attempts,
            bytes: 0,
            html: false,
            digest: None,
            links,
            latency_us: self.latency_us(),
            service_us: self.latency_us(),
            extract_ns,
        }
    }
}

/// Whether a body with no known type starts like HTML, by the WHATWG MIME-sniffing rule for
/// HTML: after whitespace, one of its tag openings followed by a space or `>` (or `<!--`).
fn looks_like_html(body: &[u8]) -> bool {
    const TAGS: [&[u8]; 17] = [
        b"<!DOCTYPE HTML",
        b"<HTML",
        b"<HEAD",
        b"<SCRIPT",
        b"<IFRAME",
        b"<H1",
        b"<DIV",
        b"<FONT",
        b"<TABLE",
        b"<A",
        b"<STYLE",
        b"<TITLE",
        b"<B",
        b"<BODY",
        b"<BR",
        b"<P",
        b"<!--",
    ];
    let start = body
        .iter()
        .position(|b| !matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' '))
        .unwrap_or(body.len());
    let body = &body[start..];
    TAGS.iter().any(|tag| {
        body.len() > tag.len()
            && body[..tag.len()].eq_ignore_ascii_case(tag)
            && (*tag == b"<!--" || matches!(body[tag.len()], b' ' | b'>'))
    })
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
    fn a_crawl_hands_redirects_to_the_frontier_but_robots_txt_follows_them() {
        let url = Url::parse("http://127.0.0.1:1/a").unwrap();
        let crawl = CrawlJob::crawl(vec![url.clone()], 10)
            .robots(crate::RobotsRule::Obey)
            .build()
            .unwrap();
        let mut p = FetchPolicy::new(&crawl, url.clone());
        let o = p.record(redirect("/b#frag")).unwrap();
        assert_eq!(o.outcome, Outcome::Status(302));
        assert_eq!((o.final_url, o.attempts), (url.clone(), 1));
        assert_eq!(o.links, [url.join("/b").unwrap()]);
        // Off-host targets are links too: the frontier's scope decides.
        let o = FetchPolicy::new(&crawl, url.clone())
            .record(redirect("http://127.0.0.2:1/x"))
            .unwrap();
        assert_eq!(o.links[0].as_str(), "http://127.0.0.2:1/x");
        let robots = url.join("/robots.txt").unwrap();
        let mut p = FetchPolicy::new(&crawl, robots);
        assert!(p.record(redirect("/r.txt")).is_none(), "followed inline");
        let o = p
            .record(Ok(RawResponse {
                status: 200,
                body: b"User-agent: *".to_vec(),
                ..Default::default()
            }))
            .unwrap();
        assert_eq!(o.robots_txt.as_deref(), Some(&b"User-agent: *"[..]));
    }

    #[test]
    fn a_crawl_follows_links_before_the_cap_and_says_they_are_partial() {
        let url = Url::parse("http://127.0.0.1:1/d/big.html").unwrap();
        let crawl = CrawlJob::crawl(vec![url.clone()], 10).build().unwrap();
        let over = |prefix: &[u8]| {
            let mut err = FetchError::body_too_large(4);
            err.partial_body = Some(prefix.to_vec());
            Err(err)
        };
        let o = FetchPolicy::new(&crawl, url.clone())
            .record(over(b"\n <!DOCTYPE html><a href=one.html>1</a><a href=tw"))
            .unwrap();
        assert_eq!(o.outcome, Outcome::Error(ErrorKind::BodyTooLarge));
        assert_eq!(o.links, [url.join("one.html").unwrap()]);
        assert!(o.links_partial);
        // Not HTML by its first bytes: no links, nothing partial.
        let o = FetchPolicy::new(&crawl, url.clone())
            .record(over(b"%PDF-1.7 <a href=x>"))
            .unwrap();
        assert!(o.links.is_empty() && !o.links_partial);
        // A list extracts nothing, capped or not.
        let o = FetchPolicy::new(&job(0), url)
            .record(over(b"<html><a href=one.html>"))
            .unwrap();
        assert!(o.links.is_empty() && !o.links_partial);
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
        let err = b.push(b"ef").unwrap_err();
        assert_eq!(err.kind, ErrorKind::BodyTooLarge);
        assert_eq!(
            err.partial_body.as_deref(),
            Some(&b"abcd"[..]),
            "the prefix survives"
        );
        // An announced length over the cap is read up to the cap, for its links.
        let mut b = BodyBuffer::new(4, Some(5)).unwrap();
        let err = b.push(b"<a h").and_then(|()| b.push(b"x")).unwrap_err();
        assert_eq!(err.partial_body.as_deref(), Some(&b"<a h"[..]));
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
