//! Backend `asyncstd-surf`: the surf client on the async-std runtime, one task per in-flight
//! request. The stack is no longer developed (async-std's last release tells users to move to
//! smol, surf is unmaintained), so [`BackendInfo::status`] says so; it stays in the benchmark
//! because code running on it still exists and deserves a number next to its successors.
//!
//! Choices, and why:
//!
//! - **surf on async-h1, no TLS** (`h1-client-no-tls`). surf's default backend is libcurl through
//!   isahc, which runs its own event loop on its own thread: it would measure curl, not async-std.
//!   With async-h1 every socket is an `async_std::net::TcpStream` driven by async-std's reactor,
//!   and neither libcurl nor OpenSSL is linked (the origin is plain HTTP on loopback).
//! - **The global runtime.** async-std has no runtime object to build: tasks go to one global
//!   executor per process, started on first use with `ASYNC_STD_THREAD_COUNT` workers (default:
//!   one per core) plus async-io's reactor thread. So [`Backend::run`] cannot own it, the first run
//!   in a process pays its start-up and later runs do not, and the thread count reported in
//!   [`BackendInfo::threads`] is read the way async-std reads it. Each URL is an
//!   `async_std::task::spawn`ed task; the crawl loop is `async_std::task::block_on`. The blocking
//!   pool (`spawn_blocking`) is never used for IO (addresses are IP literals, resolved inline).
//! - **Timeouts.** surf's `Config::timeout` bounds only the wait for the response *head*
//!   (http-client wraps async-h1's `connect` in it, and the body streams afterwards, lazily), and
//!   not the pool's connect. So it is switched off and each attempt — connect, head and body — is
//!   raced against an async-std timer with the core's [`race_timeout`].
//! - **No surf middleware.** surf follows redirects only through its `Redirect` middleware and logs
//!   only through `Logger` (a default feature, off here); neither is added, so redirects are the
//!   core's and no proxy is consulted (async-h1 has no proxy support at all).
//! - **Connection reuse, per attempt** — see [`SurfClient`]. http-client's h1 pool caps
//!   connections per host (50 by default) *and* hands out connections whose previous response was
//!   abandoned half-read (a timed-out or oversized response goes back to the pool with its bytes
//!   still on the wire). Measured with one shared client: stalled connections were reused (the
//!   origin served 5 requests for 40 attempts) and the next response parsed an oversized body's
//!   leftovers as its head. So each attempt leases a surf client of its own (one keep-alive
//!   connection, `max_connections_per_host = 1`) from an idle list, and gives it back only after a
//!   complete response; a client whose exchange failed or was cut short is dropped with its
//!   connection. Clients are created on demand, so nothing caps concurrency below the job's
//!   limit.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use async_std::io::BufRead;
use crawlbench_core::{
    AsyncHttp, Backend, BackendError, BackendInfo, BodyBuffer, ConcurrencyModel, CrawlJob,
    CrawlReport, ErrorKind, FetchError, FetchOutcome, RawResponse, UpstreamStatus,
    driver::{drive, guard_panics},
    fetch::{Phase, fetch_async, race_timeout},
    report::measure,
};
use url::Url;

/// One GET attempt through surf (async-h1 on async-std), with keep-alive connections reused only
/// after a complete exchange.
///
/// Holds the idle surf clients, each with at most one open connection. An attempt takes one (or
/// builds one), and returns it only when the response was read to its end and the server did not
/// announce `Connection: close`; otherwise the client and its connection are dropped, so no
/// request is ever written behind a stalled or half-read response.
#[derive(Debug)]
pub struct SurfClient {
    idle: Mutex<Vec<surf::Client>>,
    user_agent: String,
    timeout: Duration,
    max_body: u64,
}

impl SurfClient {
    /// A client for `job`. Every attempt must run on async-std (the global runtime starts on
    /// first use).
    pub fn new(job: &CrawlJob) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            user_agent: job.user_agent().to_owned(),
            timeout: job.timeout(),
            max_body: job.max_body_bytes(),
        }
    }

    fn lease(&self) -> Lease<'_> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        Lease {
            owner: self,
            client: idle.unwrap_or_else(new_surf_client),
            reusable: false,
        }
    }

    /// One attempt without the timer: connect (or reuse), send, read the head, stream the body.
    async fn attempt(&self, url: &Url) -> Result<RawResponse, FetchError> {
        let mut lease = self.lease();
        let mut request = surf::Request::new(surf::http::Method::Get, url.clone());
        request.insert_header("user-agent", self.user_agent.as_str());
        let mut response = lease
            .client
            .send(request)
            .await
            .map_err(|e| map_error(&e, Phase::Head))?;
        let header = |name: &str| response.header(name).map(|v| v.last().as_str().to_owned());
        let (location, content_type) = (header("location"), header("content-type"));
        let closing = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let status = u16::from(response.status());
        // async-h1 knows the length only from Content-Length (chunked bodies are `None`).
        let announced = response.len().map(|n| n as u64);
        let mut body = BodyBuffer::new(self.max_body, announced)?;
        while std::future::poll_fn(|cx| poll_chunk(&mut response, cx, &mut body)).await? > 0 {}
        // async-h1 reads a Content-Length body through `take(len)`, which ends quietly when the
        // server closes early: `BodyBuffer::finish` compares against the announced length.
        let body = body.finish()?;
        drop(response);
        lease.reusable = !closing;
        Ok(RawResponse {
            status,
            location,
            content_type,
            body,
        })
    }
}

impl AsyncHttp for SurfClient {
    fn get(&self, url: &Url) -> impl Future<Output = Result<RawResponse, FetchError>> + Send {
        race_timeout(
            self.attempt(url),
            async_std::task::sleep(self.timeout),
            self.timeout,
        )
    }
}

/// A surf client checked out for one attempt; back to the idle list only if `reusable`.
struct Lease<'a> {
    owner: &'a SurfClient,
    client: surf::Client,
    reusable: bool,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if self.reusable {
            let client = self.client.clone();
            self.owner
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(client);
        }
    }
}

/// A surf client with its own h1 pool of one keep-alive connection and no timeout of its own
/// (the attempt's timer covers the whole exchange).
fn new_surf_client() -> surf::Client {
    let config = surf::Config::new()
        .set_http_keep_alive(true)
        .set_tcp_no_delay(true)
        .set_timeout(None)
        .set_max_connections_per_host(1);
    match surf::Client::try_from(config) {
        Ok(client) => client,
        Err(never) => match never {},
    }
}

/// Moves the next buffered piece of the body into `body` without an intermediate buffer (the
/// response is an `AsyncBufRead` over async-h1's reader). `Ready(Ok(0))` is the end.
fn poll_chunk(
    response: &mut surf::Response,
    cx: &mut Context<'_>,
    body: &mut BodyBuffer,
) -> Poll<Result<usize, FetchError>> {
    let chunk = match Pin::new(&mut *response).poll_fill_buf(cx) {
        Poll::Pending => return Poll::Pending,
        Poll::Ready(Err(e)) => return Poll::Ready(Err(FetchError::from_io(&e, Phase::Body))),
        Poll::Ready(Ok(chunk)) => chunk,
    };
    let n = chunk.len();
    body.push(chunk)?;
    Pin::new(&mut *response).consume(n);
    Poll::Ready(Ok(n))
}

/// Maps a surf error. Two of http-client's and async-h1's errors carry no `io::Error` and are
/// named here; the rest go through the core's classification of the error chain.
fn map_error(err: &surf::Error, phase: Phase) -> FetchError {
    let text = err.to_string();
    // http-client turns a failed pool connect into a string ("An error occured while creating a
    // new object: Connection refused (os error 111)"), dropping the io::Error.
    if text.contains("creating a new object") {
        return FetchError::new(ErrorKind::Connect, text);
    }
    // async-h1's own words for a connection that ended before a response head.
    if phase == Phase::Head && (text == "connection closed" || text == "empty response") {
        return FetchError::new(ErrorKind::Reset, text);
    }
    let inner: &(dyn std::error::Error + Send + Sync + 'static) = err.as_ref();
    FetchError::classify(inner, phase)
}

/// Spawns one URL's fetch as an async-std task and returns its outcome's future. A panic in the
/// fetch is caught inside the task (async-std would re-raise it in the crawl loop) and becomes an
/// error outcome, never a lost URL.
pub fn spawn_fetch(
    client: &Arc<SurfClient>,
    job: &Arc<CrawlJob>,
    url: Url,
) -> impl Future<Output = FetchOutcome> + use<> {
    let (client, job, lost) = (Arc::clone(client), Arc::clone(job), url.clone());
    async_std::task::spawn(guard_panics(lost, async move {
        fetch_async(&*client, &job, url).await
    }))
}

/// The async-std + surf backend (registry name `asyncstd-surf`).
#[derive(Debug, Default)]
pub struct AsyncStdSurf;

impl AsyncStdSurf {
    /// The backend.
    pub fn new() -> Self {
        Self
    }
}

impl Backend for AsyncStdSurf {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "asyncstd-surf".into(),
            runtime: "async-std 1.13 (global executor)".into(),
            client: "surf 2.3 (async-h1, no TLS)".into(),
            model: ConcurrencyModel::AsyncMultiThread,
            threads: executor_threads(),
            status: UpstreamStatus::Discontinued(
                "async-std discontinued upstream (its last release points users to smol); \
                 surf unmaintained"
                    .into(),
            ),
            max_concurrency: None,
            tls: None,
            http: crawlbench_core::HttpVersion::Http1,
            connection_policies: vec![crawlbench_core::ConnectionPolicy::Reuse],
        }
    }

    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError> {
        measure(self.info(), job, || {
            let client = Arc::new(SurfClient::new(job));
            let shared_job = Arc::new(job.clone());
            Ok(async_std::task::block_on(drive(job, |url| {
                spawn_fetch(&client, &shared_job, url)
            })))
        })
    }
}

/// The global executor's worker count, read as async-std reads it (async-global-executor: a
/// number in `ASYNC_STD_THREAD_COUNT`, at least 1, else one per core). The executor reads the
/// variable once, when it starts; changing it later in the process changes nothing.
fn executor_threads() -> String {
    match std::env::var("ASYNC_STD_THREAD_COUNT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(n) => format!("{} (ASYNC_STD_THREAD_COUNT)", n.max(1)),
        None => format!(
            "{} (one per core)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        ),
    }
}
