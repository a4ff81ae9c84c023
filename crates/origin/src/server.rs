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
//! Several origin processes can serve one site on one port ([`OriginConfig::reuse_port`],
//! [`OriginConfig::port`]): with `SO_REUSEPORT` the kernel spreads incoming connections over
//! every process's listener, so together they hold more connections than one process's
//! open-file limit allows. Each process then also records its in-flight count over time
//! ([`crate::timeline`]) so the cluster's concurrency can be proven from all of them.
//!
//! Delays use tokio timers, never a blocked thread, so a slow site costs the origin no threads.
//!
//! A multi-host site ([`crate::site`]) is served by one listener that tells hosts apart by the
//! request's `Host` (HTTP/1.1) or `:authority` (HTTP/2) when hosts are names, or by one listener
//! per address (`127.0.1.{h+1}`, all on the base listener's port; the base listener itself then
//! serves no host, only 404s) when hosts are addresses. Per host it counts requests in flight
//! and the span of arrivals, so a crawl's per-host politeness is checked by the server's own
//! clock ([`OriginStats::host_peak_in_flight`], [`OriginStats::host_arrivals`]).

use std::{
    io,
    net::{IpAddr, SocketAddr},
    os::fd::AsRawFd,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use std::future::Future as _;

use crawlbench_core::report::{HostArrivals, OriginStats};
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
    site::{HOST_DOMAIN, HostNaming, Site, SiteSpec},
    timeline::{InFlightTimeline, Step, monotonic_ns},
    tls::{CpuTimed, issue_for},
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
    /// Sets `SO_REUSEPORT` on every listener, so other origin processes can listen on the same
    /// port and share its connections (the kernel spreads them). Default false.
    pub reuse_port: bool,
    /// The port to listen on, overriding `bind`'s: the base listener's and, for a site whose
    /// hosts are addresses, every host address's. `None`: `bind`'s port (0 picks a free one).
    pub port: Option<u16>,
}

impl Default for OriginConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            backlog: 65_535,
            reuse_port: false,
            port: None,
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
    /// Per host of the site.
    hosts: Vec<HostCounters>,
    /// The in-flight count over time, for a cluster's proven concurrency.
    timeline: Mutex<InFlightTimeline>,
}

/// One host's counters.
#[derive(Debug, Default)]
struct HostCounters {
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    /// Requests that arrived, and when the first and the last did (`CLOCK_MONOTONIC`
    /// nanoseconds, comparable between processes).
    arrivals: Mutex<(u64, Option<(u64, u64)>)>,
}

impl Counters {
    /// Records a request's arrival at `host`.
    fn arrive(&self, host: &HostCounters) {
        let now = monotonic_ns();
        let mut arrivals = host.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        arrivals.0 += 1;
        let first = arrivals.1.map_or(now, |(first, _)| first);
        arrivals.1 = Some((first, now));
    }
}

impl Counters {
    fn timeline(&self) -> std::sync::MutexGuard<'_, InFlightTimeline> {
        self.timeline.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct InFlight<'a>(&'a Counters, Option<&'a HostCounters>);
impl<'a> InFlight<'a> {
    fn enter(c: &'a Counters, host: Option<&'a HostCounters>) -> Self {
        let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        c.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        c.timeline().enter(monotonic_ns());
        if let Some(h) = host {
            let now = h.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            h.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        }
        Self(c, host)
    }
}
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.timeline().leave(monotonic_ns());
        if let Some(h) = self.1 {
            h.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Which host a listener's requests are for.
#[derive(Clone, Copy, Debug)]
enum ListenerHost {
    /// The one the request names (`Host` / `:authority`): a one-host site, or hosts by name.
    ByHeader,
    /// Host `h`'s own address: the request must name it too.
    Only(u32),
    /// The base listener of a site whose hosts are addresses: no host.
    None,
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
        let by_address = spec.hosts > 1 && spec.host_naming == HostNaming::Addresses;
        let listeners = runtime.block_on(bind_all(&config, by_address.then_some(spec.hosts)))?;
        let addr = listeners[0].local_addr()?;
        let tls = match spec.tls {
            None => None,
            Some(key) => {
                let (ips, names) = certificate_subjects(&spec, addr.ip());
                Some(issue_for(key, &ips, &names)?)
            }
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listen = Url::parse(&format!("{scheme}://{addr}/")).map_err(io::Error::other)?;
        let counters = Arc::new(Counters {
            attempts: (0..spec.pages).map(|_| AtomicU32::new(0)).collect(),
            hosts: (0..spec.hosts).map(|_| HostCounters::default()).collect(),
            ..Default::default()
        });
        let network = spec.network;
        let site =
            Arc::new(Site::new(spec, listen).with_ca_pem(tls.as_ref().map(|t| t.ca_pem.clone())));
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
        for (i, listener) in listeners.into_iter().enumerate() {
            let which = match (by_address, i) {
                (false, _) => ListenerHost::ByHeader,
                (true, 0) => ListenerHost::None,
                (true, i) => ListenerHost::Only(i as u32 - 1),
            };
            runtime.spawn(accept_loop(listener, Arc::clone(&shared), which));
        }
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
    /// Host 0's root URL, e.g. `http://127.0.0.1:41234/` (on a multi-host site
    /// `http://h0.crawl.test:41234/` or `http://127.0.1.1:41234/`).
    pub fn base_url(&self) -> &Url {
        self.site.base()
    }
    /// The base listener's address.
    pub fn listen_addr(&self) -> std::net::SocketAddr {
        let url = self.site.listen_url();
        let ip: IpAddr = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.into(),
            Some(url::Host::Ipv6(ip)) => ip.into(),
            _ => IpAddr::from([127, 0, 0, 1]),
        };
        SocketAddr::new(ip, url.port_or_known_default().unwrap_or(80))
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
            hosts: c.hosts.len() as u32,
            host_peak_in_flight: c
                .hosts
                .iter()
                .map(|h| h.peak_in_flight.load(Ordering::SeqCst))
                .max()
                .unwrap_or(0),
            host_arrivals: c
                .hosts
                .iter()
                .map(|h| {
                    let (requests, span) = *h.arrivals.lock().unwrap_or_else(|p| p.into_inner());
                    HostArrivals {
                        requests,
                        first_to_last_us: span
                            .map_or(0, |(first, last)| last.saturating_sub(first) / 1_000),
                    }
                })
                .collect(),
            processes: Vec::new(),
        }
    }

    /// Its in-flight count over time since the last reset ([`crate::timeline`]), for combining
    /// with other processes serving the same port.
    pub fn in_flight_steps(&self) -> Vec<Step> {
        self.counters.timeline().steps().to_vec()
    }

    /// Per host, when the first and the last request since the last reset arrived
    /// (`CLOCK_MONOTONIC` nanoseconds, comparable between processes); `None` for a host that
    /// got none.
    pub fn host_arrival_spans_ns(&self) -> Vec<Option<(u64, u64)>> {
        self.counters
            .hosts
            .iter()
            .map(|h| h.arrivals.lock().unwrap_or_else(|p| p.into_inner()).1)
            .collect()
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
        c.timeline().reset(monotonic_ns());
        for h in &c.hosts {
            h.peak_in_flight
                .store(h.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
            *h.arrivals.lock().unwrap_or_else(|p| p.into_inner()) = (0, None);
        }
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

/// How many times a set of listeners on one free port is tried before giving up.
const BIND_TRIES: usize = 8;

/// Binds the base listener and, for a site whose hosts are addresses, one listener per host on
/// `127.0.1.{h+1}` at the same port (`config.port` when given, else `bind`'s). When the port
/// was picked by the kernel and another address has it taken, the whole set is tried again on a
/// new port.
async fn bind_all(
    config: &OriginConfig,
    address_hosts: Option<u32>,
) -> io::Result<Vec<tokio::net::TcpListener>> {
    let mut last_error = None;
    let bind = SocketAddr::new(
        config.bind.ip(),
        config.port.unwrap_or_else(|| config.bind.port()),
    );
    for _ in 0..BIND_TRIES {
        let base = listen(bind, config)?;
        let Some(hosts) = address_hosts else {
            return Ok(vec![base]);
        };
        let port = base.local_addr()?.port();
        let mut all = vec![base];
        for h in 0..hosts {
            let addr = SocketAddr::new(IpAddr::V4(Site::host_address(h)), port);
            match listen(addr, config) {
                Ok(l) => all.push(l),
                Err(e) => {
                    last_error = Some(io::Error::new(
                        e.kind(),
                        format!("cannot listen on host {h}'s address {addr}: {e}"),
                    ));
                    break;
                }
            }
        }
        if all.len() == hosts as usize + 1 {
            return Ok(all);
        }
        if bind.port() != 0 {
            break;
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no listeners")))
}

/// One listener with the requested backlog (and `SO_REUSEPORT` when asked).
fn listen(addr: SocketAddr, config: &OriginConfig) -> io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if config.reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(config.backlog)
}

/// The addresses and names the run's certificate must name: the listener's address and
/// `localhost`, and every host (its name, or its address).
fn certificate_subjects(spec: &SiteSpec, listen: IpAddr) -> (Vec<IpAddr>, Vec<String>) {
    let mut ips = vec![listen];
    let mut names = vec!["localhost".to_owned()];
    if spec.hosts > 1 {
        match spec.host_naming {
            HostNaming::Names => {
                names.extend((0..spec.hosts).map(|h| format!("h{h}.{HOST_DOMAIN}")));
            }
            HostNaming::Addresses => {
                ips.extend((0..spec.hosts).map(|h| IpAddr::V4(Site::host_address(h))));
            }
        }
    }
    (ips, names)
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

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>, which: ListenerHost) {
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
        tokio::spawn(connection(stream, Arc::clone(&shared), which));
    }
}

/// One connection: the modelled TCP round trip, the TLS handshake (its round trip, counted and
/// CPU-timed), then HTTP/1.1 or HTTP/2 until the client closes.
async fn connection(stream: tokio::net::TcpStream, shared: Arc<Shared>, which: ListenerHost) {
    let fd = stream.as_raw_fd();
    let rtt = shared.network.rtt();
    // TCP: the client's request cannot arrive before SYN, SYN-ACK has crossed the network.
    sleep_unless_zero(rtt).await;
    let stream = Paced::new(stream, shared.network.bandwidth_bytes_per_sec);
    match &shared.tls {
        None => serve(stream, fd, &shared, which).await,
        Some(acceptor) => {
            // TLS 1.3: ClientHello there, ServerHello … Finished back.
            sleep_unless_zero(rtt).await;
            let counters = &shared.counters;
            let handshake = CpuTimed::new(acceptor.accept(stream), &counters.tls_handshake_cpu_ns);
            if let Ok(tls) = handshake.await {
                counters.tls_handshakes.fetch_add(1, Ordering::Relaxed);
                serve(tls, fd, &shared, which).await;
            }
        }
    }
}

async fn sleep_unless_zero(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

async fn serve<I>(io: I, fd: i32, shared: &Arc<Shared>, which: ListenerHost)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let shared = Arc::clone(shared);
        service_fn(move |req| {
            let shared = Arc::clone(&shared);
            async move { handle(req, &shared, fd, which).await }
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

/// The host a request is for: the one it names (`:authority`, else `Host`), which on a
/// host's own listener must be that host.
fn request_host(
    site: &Site,
    req: &Request<hyper::body::Incoming>,
    which: ListenerHost,
) -> Option<u32> {
    let authority = req.uri().authority().map(|a| a.as_str()).or_else(|| {
        req.headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
    });
    let named = site.host_of_authority(authority);
    match which {
        ListenerHost::ByHeader => named,
        ListenerHost::Only(h) => named.filter(|n| *n == h),
        ListenerHost::None => None,
    }
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    shared: &Shared,
    fd: i32,
    which: ListenerHost,
) -> Result<Response<SiteBody>, InjectedReset> {
    let (site, counters) = (&*shared.site, &*shared.counters);
    let host = request_host(site, &req, which);
    let host_counters = host.and_then(|h| counters.hosts.get(h as usize));
    if let Some(h) = host_counters {
        counters.arrive(h);
    }
    let _in_flight = InFlight::enter(counters, host_counters);
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
        .page_on(host, &pq)
        .and_then(|p| counters.attempts.get(p as usize))
        .map_or(1, |a| a.fetch_add(1, Ordering::SeqCst) + 1);
    let reply = site.reply_on(host, &pq, attempt);
    // The request's round trip (there and back) on top of the site's own delay.
    sleep_unless_zero(reply.delay + shared.network.rtt()).await;
    respond(reply.action, http2, fd)
}
