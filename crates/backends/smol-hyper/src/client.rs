//! [`HyperClient`]: one GET attempt with hyper 1.x's low-level HTTP/1 connection API over smol's
//! `Async<TcpStream>`, bounded by a smol timer, with keep-alive through the crate's own pool.
//!
//! hyper's `client::conn` layer is the bare protocol: no pool, no timeouts, no redirects, no
//! retries, no DNS. That suits the benchmark — the core owns redirects and retries — but means
//! this file supplies the rest: connecting, spawning each connection's driver on the smol
//! executor, the per-attempt timeout (`race_timeout` with `smol::Timer`), the body cap
//! (`BodyBuffer`) and the mapping of hyper's errors onto the core's [`ErrorKind`]s.

use std::{
    future::Future,
    io,
    net::{IpAddr, SocketAddr, TcpStream},
    sync::{Arc, Weak},
    time::Duration,
};

use bytes::Bytes;
use crawlbench_core::{
    AsyncHttp, BodyBuffer, CrawlJob, ErrorKind, FetchError, RawResponse,
    fetch::{Phase, race_timeout},
};
use http_body_util::{BodyExt, Empty};
use hyper::{
    Request,
    client::conn::http1::{self, SendRequest},
    header::{self, HeaderValue},
};
use smol::{Async, Executor, Timer};
use smol_hyper::rt::FuturesIo;
use url::{Position, Url};

use crate::pool::Pool;

/// The request body type: GETs carry none.
type ReqBody = Empty<Bytes>;

/// A hyper HTTP/1 client on a smol executor, configured for one job.
///
/// It holds a [`Weak`] handle to the executor its connection drivers are spawned on, so a task
/// that still holds the client (an abandoned fetch of a cancelled run) never keeps the executor
/// alive: dropping the executor's last [`Arc`] drops every task and closes every socket.
#[derive(Debug)]
pub struct HyperClient {
    executor: Weak<Executor<'static>>,
    pool: Pool<ReqBody>,
    user_agent: HeaderValue,
    max_body: u64,
    timeout: Duration,
}

impl HyperClient {
    /// A client for `job` whose connections are driven by tasks on `executor`.
    ///
    /// Fails only when the job's user agent is not a valid header value.
    pub fn new(
        job: &CrawlJob,
        executor: &Arc<Executor<'static>>,
    ) -> Result<Self, header::InvalidHeaderValue> {
        Ok(Self {
            executor: Arc::downgrade(executor),
            pool: Pool::default(),
            user_agent: HeaderValue::from_str(job.user_agent())?,
            max_body: job.max_body_bytes(),
            timeout: job.timeout(),
        })
    }

    /// TCP connections opened so far.
    pub fn connections_opened(&self) -> u64 {
        self.pool.opened()
    }

    /// Requests sent on a pooled (reused) connection so far.
    pub fn connections_reused(&self) -> u64 {
        self.pool.reused()
    }

    /// Idle keep-alive connections in the pool right now.
    pub fn idle_connections(&self) -> usize {
        self.pool.idle()
    }

    /// One attempt without the timeout: connect or reuse, send, read the head and the body.
    async fn attempt(&self, url: &Url) -> Result<RawResponse, FetchError> {
        if url.scheme() != "http" {
            return Err(FetchError::new(
                ErrorKind::Other,
                format!("only plain http is supported, not {}", url.scheme()),
            ));
        }
        // `host:port` as written in the URL (IPv6 in brackets): the Host header and pool key.
        let authority = &url[Position::BeforeHost..Position::AfterPort];
        let path_and_query = &url[Position::BeforePath..Position::AfterQuery];
        let mut request = Request::get(path_and_query)
            .header(header::HOST, authority)
            .header(header::USER_AGENT, self.user_agent.clone())
            .body(ReqBody::new())
            .map_err(|e| {
                FetchError::new(ErrorKind::Other, format!("bad request for {url}: {e}"))
            })?;

        let (sender, response) = loop {
            let (mut sender, reused) = match self.pool.take(authority) {
                Some(sender) => (sender, true),
                None => (self.connect(url).await?, false),
            };
            // A pooled connection may be mid-way back to idle (its driver has not run since the
            // last body ended): wait for it; an error means the server closed it meanwhile.
            if reused && sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    if reused {
                        self.pool.record_reused();
                    }
                    break (sender, response);
                }
                Err(mut err) => match err.take_message() {
                    // The request never reached the wire (the idle connection died under us):
                    // not an attempt the server saw, so send it on another connection.
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(map_hyper_error(err.error(), Phase::Head)),
                },
            }
        };

        let header = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let location = header(header::LOCATION);
        let content_type = header(header::CONTENT_TYPE);
        let content_length = header(header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok());
        let status = response.status().as_u16();

        // Any early return below drops `sender` and the body mid-stream, which closes the
        // connection: only a connection whose response was read to its end goes back.
        let mut buffer = BodyBuffer::new(self.max_body, content_length)?;
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| map_hyper_error(&e, Phase::Body))?;
            if let Some(chunk) = frame.data_ref() {
                buffer.push(chunk)?;
            }
        }
        self.pool.put(authority, sender);
        Ok(RawResponse {
            status,
            location,
            content_type,
            body: buffer.finish()?,
        })
    }

    /// Opens a TCP connection to `url`'s host, performs hyper's (IO-free) HTTP/1 handshake and
    /// spawns the connection's driver on the executor.
    async fn connect(&self, url: &Url) -> Result<SendRequest<ReqBody>, FetchError> {
        let stream = connect_tcp(url).await.map_err(|e| connect_error(&e))?;
        // Small requests and responses: no Nagle delay (the other clients set it too).
        let _ = stream.get_ref().set_nodelay(true);
        let (sender, connection) = http1::handshake(FuturesIo::new(stream))
            .await
            .map_err(|e| map_hyper_error(&e, Phase::Head))?;
        let executor = self.executor.upgrade().ok_or_else(|| {
            FetchError::new(ErrorKind::Other, "the executor has shut down (run is over)")
        })?;
        // The driver ends when the connection closes or every handle to it is dropped; its
        // error, if any, reaches the request or body that was in progress.
        executor
            .spawn(async move {
                let _ = connection.await;
            })
            .detach();
        self.pool.record_opened();
        Ok(sender)
    }
}

impl AsyncHttp for HyperClient {
    fn get(&self, url: &Url) -> impl Future<Output = Result<RawResponse, FetchError>> + Send {
        race_timeout(self.attempt(url), Timer::after(self.timeout), self.timeout)
    }
}

/// Connects to the first address of `url`'s host that accepts. IP literals (the usual case)
/// need no lookup; `localhost` is resolved on smol's blocking pool.
async fn connect_tcp(url: &Url) -> io::Result<Async<TcpStream>> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "URL has no port"))?;
    let addrs = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(url::Host::Domain(domain)) => smol::net::resolve((domain, port)).await?,
        None => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "URL has no host",
            ));
        }
    };
    let mut last = io::Error::new(io::ErrorKind::AddrNotAvailable, "host has no address");
    for addr in addrs {
        match Async::<TcpStream>::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A failed TCP connect is [`ErrorKind::Connect`] whatever the errno (refused, unreachable, out
/// of ports or fds, reset during the handshake), except a timeout.
fn connect_error(err: &io::Error) -> FetchError {
    let mut e = FetchError::from_io(err, Phase::Head);
    if e.kind != ErrorKind::Timeout {
        e.kind = ErrorKind::Connect;
    }
    e.detail = format!("connect: {}", e.detail);
    e
}

/// Maps a hyper error met in `phase` (the connection already exists, so never `Connect`).
///
/// hyper's typed kinds come first where the core's text heuristics would misread them: an
/// "incomplete message" or "connection closed" has no `io::Error` underneath, and its text
/// contains "connect"ion. An error that carries a specific `io::Error` (a reset, a timeout)
/// is classified by that, through the core.
pub(crate) fn map_hyper_error(err: &hyper::Error, phase: Phase) -> FetchError {
    let mut mapped = FetchError::classify(err, phase);
    if err.is_parse() {
        mapped.kind = ErrorKind::InvalidResponse;
    } else if err.is_timeout() {
        mapped.kind = ErrorKind::Timeout;
    } else if has_specific_io_error(err) {
        // The core classified it by the io::Error (reset → Reset / Truncated, …).
    } else if phase == Phase::Body {
        mapped.kind = ErrorKind::Truncated;
    } else if err.is_incomplete_message()
        || err.is_canceled()
        || err.is_closed()
        || err.is_body_write_aborted()
        || err.is_shutdown()
        || mapped.kind == ErrorKind::Connect
    {
        // The connection went away before a response: "connection closed before message
        // completed", or a request canceled because its connection closed.
        mapped.kind = ErrorKind::Reset;
    }
    mapped
}

/// Whether `err`'s source chain holds an [`io::Error`] of a specific (non-`Other`) kind.
fn has_specific_io_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() != io::ErrorKind::Other)
        {
            return true;
        }
        cur = e.source();
    }
    false
}
