//! Serving a [`Site`] with hyper on a tokio runtime of its own: HTTP/1.1 and HTTP/2 (by ALPN
//! over TLS, by prior knowledge in plain text), plain or over rustls, with the round trips and
//! bandwidth of [`crate::network`] applied where a network would apply them.
//!
//! The listener is built by hand ([`tokio::net::TcpSocket::listen`]) with a large backlog:
//! `TcpListener::bind` listens with 1,024, and at 1,000+ simultaneous connects the accept queue
//! overflows and clients stall a full second on SYN retry — which would be measured as the
//! backend's latency. The kernel caps the backlog at `net.core.somaxconn`; the effective value
//! is reported in [`OriginStats::listen_backlog`].
//!
//! Delays use tokio timers, never a blocked thread, so a slow site costs the origin no threads.

use std::{
    io,
    net::SocketAddr,
    os::fd::AsRawFd,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use std::future::Future as _;

use crawlbench_core::report::OriginStats;
use http_body_util::BodyExt;
use hyper::{Request, Response, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::io::{AsyncRead, AsyncWrite};
use url::Url;

use crate::{
    network::NetworkModel,
    respond::{InjectedReset, SiteBody, respond},
    site::{Site, SiteSpec},
    tls::{CpuTimed, issue},
};

/// Where and how the origin listens.
#[derive(Clone, Debug)]
pub struct OriginConfig {
    /// Address to bind; port 0 picks a free port. Default `127.0.0.1:0`.
    pub bind: SocketAddr,
    /// Tokio worker threads. Default: one per core.
    pub threads: usize,
    /// Requested listen backlog (the kernel caps it at `net.core.somaxconn`). Default 65,535.
    pub backlog: u32,
}

impl Default for OriginConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            backlog: 65_535,
        }
    }
}

/// Counters shared by every connection.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    connections: AtomicU64,
    tls_handshakes: AtomicU64,
    tls_handshake_cpu_ns: AtomicU64,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    /// Requests per page number, for faults that only hit the first attempt.
    attempts: Vec<AtomicU32>,
}

struct InFlight<'a>(&'a Counters);
impl<'a> InFlight<'a> {
    fn enter(c: &'a Counters) -> Self {
        let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        c.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(c)
    }
}
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running origin; dropping it stops the server.
#[derive(Debug)]
pub struct RunningOrigin {
    site: Arc<Site>,
    counters: Arc<Counters>,
    backlog: u32,
    runtime: Option<tokio::runtime::Runtime>,
}

impl RunningOrigin {
    /// Starts serving `spec` on a runtime of its own threads.
    pub fn start(spec: SiteSpec, config: OriginConfig) -> io::Result<Self> {
        spec.validate().map_err(io::Error::other)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads.max(1))
            .thread_name("origin")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(async {
            let socket = if config.bind.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            socket.set_reuseaddr(true)?;
            socket.bind(config.bind)?;
            socket.listen(config.backlog)
        })?;
        let addr = listener.local_addr()?;
        let tls = spec.tls.map(|key| issue(key, addr.ip())).transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = Url::parse(&format!("{scheme}://{addr}/")).map_err(io::Error::other)?;
        let counters = Arc::new(Counters {
            attempts: (0..spec.pages).map(|_| AtomicU32::new(0)).collect(),
            ..Default::default()
        });
        let network = spec.network;
        let site =
            Arc::new(Site::new(spec, base).with_ca_pem(tls.as_ref().map(|t| t.ca_pem.clone())));
        let mut http = auto::Builder::new(TokioExecutor::new());
        http.http1().keep_alive(true).header_read_timeout(None);
        // No cap on streams per connection (hyper's default is 200, which would silently cap an
        // HTTP/2 client's concurrency) and none on reset streams (the reset fault is one).
        http.http2()
            .max_concurrent_streams(1_000_000)
            .max_local_error_reset_streams(None)
            .max_pending_accept_reset_streams(None);
        let shared = Arc::new(Shared {
            site: Arc::clone(&site),
            counters: Arc::clone(&counters),
            network,
            tls: tls.map(|t| tokio_rustls::TlsAcceptor::from(t.server)),
            http,
        });
        runtime.spawn(accept_loop(listener, shared));
        let backlog = config.backlog.min(somaxconn().unwrap_or(config.backlog));
        Ok(Self {
            site,
            counters,
            backlog,
            runtime: Some(runtime),
        })
    }

    /// The site served (for its URLs and ground truth).
    pub fn site(&self) -> &Arc<Site> {
        &self.site
    }
    /// The root URL, e.g. `http://127.0.0.1:41234/`.
    pub fn base_url(&self) -> &Url {
        self.site.base()
    }
    /// The counters so far.
    pub fn stats(&self) -> OriginStats {
        let c = &self.counters;
        OriginStats {
            requests: c.requests.load(Ordering::SeqCst),
            peak_in_flight: c.peak_in_flight.load(Ordering::SeqCst),
            connections: c.connections.load(Ordering::SeqCst),
            tls_handshakes: c.tls_handshakes.load(Ordering::SeqCst),
            tls_handshake_cpu_secs: c.tls_handshake_cpu_ns.load(Ordering::SeqCst) as f64 / 1e9,
            cpu_secs: None,
            listen_backlog: self.backlog,
        }
    }
    /// Zeroes the counters and the per-page attempt counts (so transient faults fire again).
    pub fn reset(&self) {
        let c = &self.counters;
        c.requests.store(0, Ordering::SeqCst);
        c.connections.store(0, Ordering::SeqCst);
        c.tls_handshakes.store(0, Ordering::SeqCst);
        c.tls_handshake_cpu_ns.store(0, Ordering::SeqCst);
        c.peak_in_flight
            .store(c.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
        for a in &c.attempts {
            a.store(0, Ordering::Relaxed);
        }
    }
}

impl Drop for RunningOrigin {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// `net.core.somaxconn`, the kernel's cap on a listen backlog.
pub fn somaxconn() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// What every connection task needs.
struct Shared {
    site: Arc<Site>,
    counters: Arc<Counters>,
    network: NetworkModel,
    tls: Option<tokio_rustls::TlsAcceptor>,
    http: auto::Builder<TokioExecutor>,
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors or a connection aborted in the queue: back off briefly
                // instead of spinning; the client sees a slow connect, not a dead server.
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, Arc::clone(&shared)));
    }
}

/// One connection: the modelled TCP round trip, the TLS handshake (its round trip, counted and
/// CPU-timed), then HTTP/1.1 or HTTP/2 until the client closes.
async fn connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let fd = stream.as_raw_fd();
    let rtt = shared.network.rtt();
    // TCP: the client's request cannot arrive before SYN, SYN-ACK has crossed the network.
    sleep_unless_zero(rtt).await;
    let stream = Paced::new(stream, shared.network.bandwidth_bytes_per_sec);
    match &shared.tls {
        None => serve(stream, fd, &shared).await,
        Some(acceptor) => {
            // TLS 1.3: ClientHello there, ServerHello … Finished back.
            sleep_unless_zero(rtt).await;
            let counters = &shared.counters;
            let handshake = CpuTimed::new(acceptor.accept(stream), &counters.tls_handshake_cpu_ns);
            if let Ok(tls) = handshake.await {
                counters.tls_handshakes.fetch_add(1, Ordering::Relaxed);
                serve(tls, fd, &shared).await;
            }
        }
    }
}

async fn sleep_unless_zero(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

async fn serve<I>(io: I, fd: i32, shared: &Arc<Shared>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let shared = Arc::clone(shared);
        service_fn(move |req| {
            let shared = Arc::clone(&shared);
            async move { handle(req, &shared, fd).await }
        })
    };
    let _ = shared
        .http
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// A connection whose writes are paced to a bandwidth (bytes per second), per connection.
/// Reads pass through. With no cap it adds one branch per call.
struct Paced<S> {
    inner: S,
    bytes_per_sec: Option<u64>,
    /// When the bytes written so far will have left at the capped rate.
    busy_until: Option<tokio::time::Instant>,
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> Paced<S> {
    fn new(inner: S, bytes_per_sec: Option<u64>) -> Self {
        Self {
            inner,
            bytes_per_sec,
            busy_until: None,
            wait: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Paced<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Paced<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(rate) = this.bytes_per_sec else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        let now = tokio::time::Instant::now();
        if let Some(until) = this.busy_until
            && until > now
        {
            let wait = this
                .wait
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
            wait.as_mut().reset(until);
            std::task::ready!(wait.as_mut().poll(cx));
        }
        // At most 10 ms worth of bytes per write, so pacing is smooth rather than bursty.
        let slice = (rate / 100).max(1) as usize;
        let n = std::task::ready!(
            Pin::new(&mut this.inner).poll_write(cx, &buf[..buf.len().min(slice)])
        )?;
        let start = this.busy_until.filter(|u| *u > now).unwrap_or(now);
        this.busy_until = Some(start + Duration::from_secs_f64(n as f64 / rate as f64));
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    shared: &Shared,
    fd: i32,
) -> Result<Response<SiteBody>, InjectedReset> {
    let (site, counters) = (&*shared.site, &*shared.counters);
    let _in_flight = InFlight::enter(counters);
    let http2 = req.version() == hyper::Version::HTTP_2;
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let pq = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    // Drain whatever body the client sent so keep-alive stays usable.
    let _ = req.into_body().collect().await;
    let attempt = site
        .page_of(&pq)
        .and_then(|p| counters.attempts.get(p as usize))
        .map_or(1, |a| a.fetch_add(1, Ordering::SeqCst) + 1);
    let reply = site.reply(&pq, attempt);
    // The request's round trip (there and back) on top of the site's own delay.
    sleep_unless_zero(reply.delay + shared.network.rtt()).await;
    respond(reply.action, http2, fd)
}
