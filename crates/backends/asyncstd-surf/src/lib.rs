//! Backend `asyncstd-surf`: the surf client on the async-std runtime, one task per in-flight
//! request. The stack is no longer developed (async-std's last release tells users to move to
//! smol, surf is unmaintained), so [`BackendInfo::status`] says so; it stays in the benchmark
//! because code running on it still exists and deserves a number next to its successors.
//!
//! Choices, and why:
//!
//! - **surf on async-h1** (`h1-client-no-tls`). surf's default backend is libcurl through isahc,
//!   which runs its own event loop on its own thread: it would measure curl, not async-std. With
//!   async-h1 every socket is an `async_std::net::TcpStream` driven by async-std's reactor, and
//!   neither libcurl nor OpenSSL is linked.
//! - **HTTPS: surf and async-h1 over futures-rustls, not surf's own rustls client.** surf's
//!   `h1-client-rustls` is http-client 6.5 with async-tls 0.10, i.e. rustls 0.18 and webpki 0.21.
//!   webpki 0.21 takes only DNS names as server names: tried against the origin (whose URLs are
//!   `https://127.0.0.1:…`, certificate SANs `127.0.0.1` and `localhost`, the run's CA set as the
//!   only root through `Config::set_tls_config`), every request failed before the handshake with
//!   "invalid domain", and the same request to `https://localhost:…` succeeded. Making it work
//!   would take a hand-written certificate verifier or rewriting the URLs' host, and neither is
//!   acceptable. So the https transport is our own small [`http_client::HttpClient`] under the
//!   same `surf::Client`: it opens an `async_std::net::TcpStream`, runs the handshake with
//!   futures-rustls 0.26 (rustls 0.23, ring, the job's CA as the only root, ALPN `http/1.1`,
//!   verification untouched), and hands the stream to `async_h1::client::connect` — exactly what
//!   http-client's h1 client does with async-tls. Plain `http://` still goes through http-client's
//!   stock `H1Client`. So a request is surf → http-client → async-h1 in both cases; only the TLS
//!   layer (and, for https, the connection keeping below) is ours. surf's rustls feature is not
//!   enabled, so rustls 0.18 and ring 0.16 are never compiled.
//! - **The global runtime.** async-std has no runtime object to build: tasks go to one global
//!   executor per process, started on first use with `ASYNC_STD_THREAD_COUNT` workers (default:
//!   one per core) plus async-io's reactor thread. So [`Backend::run`] cannot own it, the first run
//!   in a process pays its start-up and later runs do not, and the thread count reported in
//!   [`BackendInfo::threads`] is read the way async-std reads it. Each URL is an
//!   `async_std::task::spawn`ed task; the crawl loop is `async_std::task::block_on`. The blocking
//!   pool (`spawn_blocking`) is never used for IO (addresses are IP literals or names from the
//!   job's resolve map, resolved inline without a lookup).
//! - **Names the job resolves** ([`CrawlJob::resolve`], curl's `--resolve`). Neither surf nor
//!   http-client has a resolver hook: `H1Client` looks the URL's host up itself
//!   (`Url::socket_addrs`, a blocking `getaddrinfo`) and connects to what it finds. So the
//!   transport under surf (below) does the lookup for a name in the map. For `http://` it hands
//!   `H1Client` the request with the URL's host replaced by the mapped address and the `Host`
//!   header set to the name, written exactly as async-h1 would have written it from the URL
//!   (`name:port`, the port only when the URL has one): `H1Client` connects to the address and
//!   pools the connection under it, as it would had DNS answered the name, and the bytes on the
//!   wire are those of the unmapped request. For `https://` the transport's own connect uses the
//!   mapped address, and the TLS server name (SNI, and the name the certificate is verified
//!   against) is still the URL's name; a kept TLS connection is reused only for the same
//!   address *and* name. Names outside the map resolve as before.
//! - **Timeouts.** surf's `Config::timeout` bounds only the wait for the response *head*
//!   (http-client wraps async-h1's `connect` in it, and the body streams afterwards, lazily), and
//!   not the pool's connect. So it is switched off and each attempt — connect, handshake, head and
//!   body — is raced against an async-std timer with the core's [`race_timeout`].
//! - **No surf middleware.** surf follows redirects only through its `Redirect` middleware and logs
//!   only through `Logger` (a default feature, off here); neither is added, so redirects are the
//!   core's and no proxy is consulted (async-h1 has no proxy support at all).
//! - **Connection reuse, per attempt** — see [`SurfClient`]. http-client's h1 pool caps
//!   connections per host (50 by default) *and* hands out connections whose previous response was
//!   abandoned half-read (a timed-out or oversized response goes back to the pool with its bytes
//!   still on the wire). Measured with one shared client: stalled connections were reused (the
//!   origin served 5 requests for 40 attempts) and the next response parsed an oversized body's
//!   leftovers as its head. So each attempt leases a surf client of its own (one keep-alive
//!   connection per address: `max_connections_per_host = 1` for http, one kept TLS stream per
//!   address and server name for https) from an idle list, and gives it back only after a complete response; a client whose
//!   exchange failed or was cut short is dropped with its connection. Clients are created on
//!   demand, so nothing caps concurrency below the job's limit.
//! - **Fresh connections** (`ConnectionPolicy::Fresh`, like Python's `requests.get` without a
//!   session). One shared surf client whose transport keeps nothing: plain http uses
//!   http-client's own `http_keep_alive = false` path (a new `TcpStream` per request, no pool;
//!   that path leaves Nagle's algorithm on, as surf does), https opens a TCP connection and runs a
//!   TLS handshake per request. The connection lives inside the response's body reader and is
//!   closed when the response is dropped. rustls's client session cache is left at its default,
//!   as in every rustls client, so a fresh handshake may resume an earlier session.

use std::{
    fmt,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, Waker},
    time::Duration,
};

use async_std::{
    io::{BufRead, Read as _},
    net::TcpStream,
};
use crawlbench_core::{
    AsyncHttp, Backend, BackendError, BackendInfo, BodyBuffer, ConcurrencyModel, ConnectionPolicy,
    CrawlJob, CrawlReport, ErrorKind, FetchError, FetchOutcome, HttpVersion, RawResponse,
    ResolveMap, UpstreamStatus,
    driver::{drive, guard_panics},
    fetch::{Phase, fetch_async, race_timeout},
    report::measure,
};
use futures_rustls::{TlsConnector, client::TlsStream};
use http_client::{HttpClient, h1::H1Client};
use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};
use surf::http::{self as http_types, StatusCode};
use url::{Position, Url};

/// One GET attempt through surf (async-h1 on async-std, https through futures-rustls), with
/// keep-alive connections reused only after a complete exchange — or, with
/// [`ConnectionPolicy::Fresh`], a new connection for every attempt.
///
/// With [`ConnectionPolicy::Reuse`] it holds the idle surf clients, each with at most one open
/// connection per destination (plain: per address; TLS: per address and server name). An
/// attempt takes one (or builds one), and returns it only when the response was read to its end
/// and the server did not announce `Connection: close`; otherwise the client and its connections
/// are dropped, so no request is ever written behind a stalled or half-read response. With [`ConnectionPolicy::Fresh`] every attempt uses one shared client
/// whose transport keeps no connection at all.
pub struct SurfClient {
    idle: Mutex<Vec<surf::Client>>,
    /// The shared, connection-per-request client of [`ConnectionPolicy::Fresh`].
    fresh: Option<surf::Client>,
    tls: TlsConnector,
    /// The job's own names, shared by every surf client's transport.
    resolve: Arc<ResolveMap>,
    user_agent: String,
    timeout: Duration,
    max_body: u64,
}

impl SurfClient {
    /// A client for `job`, trusting exactly the job's CA for `https://` (none given: no https
    /// server is trusted). Every attempt must run on async-std (the global runtime starts on
    /// first use). Fails only when the job's CA cannot be read as a root certificate.
    pub fn new(job: &CrawlJob) -> Result<Self, String> {
        let tls = tls_connector(job.trusted_ca_pem())?;
        let resolve = Arc::new(job.resolve().clone());
        let fresh = (job.connections() == ConnectionPolicy::Fresh)
            .then(|| new_surf_client(&tls, &resolve, ConnectionPolicy::Fresh));
        Ok(Self {
            idle: Mutex::new(Vec::new()),
            fresh,
            tls,
            resolve,
            user_agent: job.user_agent().to_owned(),
            timeout: job.timeout(),
            max_body: job.max_body_bytes(),
        })
    }

    fn lease(&self) -> Lease<'_> {
        if let Some(shared) = &self.fresh {
            return Lease {
                owner: self,
                client: shared.clone(),
                reusable: false,
            };
        }
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        Lease {
            owner: self,
            client: idle.unwrap_or_else(|| {
                new_surf_client(&self.tls, &self.resolve, ConnectionPolicy::Reuse)
            }),
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
        // Dropping the response hands its connection back to the leased client's transport.
        drop(response);
        lease.reusable = !closing && self.fresh.is_none();
        Ok(RawResponse {
            status,
            location,
            content_type,
            body,
        })
    }
}

impl fmt::Debug for SurfClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("SurfClient")
            .field("idle_clients", &idle)
            .field("fresh", &self.fresh.is_some())
            .field("user_agent", &self.user_agent)
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
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

/// A surf client over a [`Transport`] with no timeout of its own (the attempt's timer covers the
/// whole exchange): with `Reuse`, one keep-alive connection per destination; with `Fresh`, none
/// kept.
fn new_surf_client(
    tls: &TlsConnector,
    resolve: &Arc<ResolveMap>,
    policy: ConnectionPolicy,
) -> surf::Client {
    let keep_alive = policy == ConnectionPolicy::Reuse;
    let config = http_client::Config::new()
        .set_http_keep_alive(keep_alive)
        .set_tcp_no_delay(true)
        .set_timeout(None)
        .set_max_connections_per_host(1);
    let plain = match H1Client::try_from(config) {
        Ok(client) => client,
        Err(never) => match never {},
    };
    surf::Client::with_http_client(Transport {
        plain,
        tls: tls.clone(),
        resolve: Arc::clone(resolve),
        keep_alive,
        idle_tls: Arc::new(Mutex::new(Vec::new())),
    })
}

/// The rustls 0.23 client configuration of a run: ring, TLS 1.2 and 1.3, exactly the job's CA
/// certificates as roots (no system or webpki roots), ALPN `http/1.1` (async-h1 speaks nothing
/// else), certificate verification as rustls does it.
fn tls_connector(ca_pem: Option<&str>) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("the trusted CA PEM cannot be read: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("the trusted CA is not a usable root certificate: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("rustls configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The http-client transport under one surf client: `http://` through http-client's stock
/// `H1Client`, `https://` through async-h1 over a futures-rustls stream; a host in the job's
/// resolve map is connected to at its mapped address either way (see [`Transport::send`]).
///
/// This stands in for http-client's own `rustls` feature (rustls 0.18 through async-tls), which
/// cannot verify a certificate for an IP address. Like that client it sends
/// `Connection: keep-alive` and keeps at most one TLS connection per destination — here per
/// address *and* server name (http-client keys by address alone, which would send one virtual
/// host's requests over a connection verified for another's name); the connection goes back to
/// `idle_tls` when its response is dropped (see [`TlsConn`]), and only if `keep_alive`.
struct Transport {
    plain: H1Client,
    tls: TlsConnector,
    resolve: Arc<ResolveMap>,
    keep_alive: bool,
    idle_tls: TlsSlot,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("plain", &self.plain)
            .field("tls", &"futures-rustls 0.26 (rustls 0.23, ring)")
            .field("keep_alive", &self.keep_alive)
            .finish_non_exhaustive()
    }
}

#[http_client::async_trait]
impl HttpClient for Transport {
    async fn send(&self, mut req: http_types::Request) -> http_types::Result<http_types::Response> {
        if req.url().scheme() == "https" {
            return self.send_tls(req).await;
        }
        // A mapped name: H1Client connects to the URL's host, so it gets the address, and the
        // name goes in the Host header exactly as async-h1 would have written it from the URL.
        if let Some(ip) = self.mapped(req.url()) {
            // `name:port` with the port only when the URL has one, as async-h1 writes it.
            let host = req.url()[Position::BeforeHost..Position::AfterPort].to_owned();
            req.url_mut().set_ip_host(ip).map_err(|()| {
                http_types::Error::from_str(StatusCode::BadRequest, "URL cannot have a host")
            })?;
            req.insert_header("Host", host);
        }
        self.plain.send(req).await
    }
}

impl Transport {
    /// The job's address for `url`'s host, when it is a name the job resolves.
    fn mapped(&self, url: &http_types::Url) -> Option<std::net::IpAddr> {
        match url.host() {
            Some(url::Host::Domain(name)) => self.resolve.get(name),
            _ => None,
        }
    }

    /// Where an https request connects: the mapped address of a name the job resolves (the
    /// URL's port, or 443), else the URL's own address (an IP literal, or a name looked up as
    /// http-client's own client does).
    fn tls_addr(&self, url: &http_types::Url) -> http_types::Result<SocketAddr> {
        if let Some(ip) = self.mapped(url) {
            return Ok(SocketAddr::new(ip, url.port().unwrap_or(443)));
        }
        url.socket_addrs(|| Some(443))?
            .first()
            .copied()
            .ok_or_else(|| {
                http_types::Error::from_str(StatusCode::BadRequest, "missing valid address")
            })
    }

    async fn send_tls(
        &self,
        mut req: http_types::Request,
    ) -> http_types::Result<http_types::Response> {
        req.insert_header("Connection", "keep-alive");
        let name = server_name(req.url())?;
        let addr = self.tls_addr(req.url())?;
        let stream = match self.take_idle(addr, &name) {
            Some(stream) => stream,
            None => self.open(addr, name.clone()).await?,
        };
        req.set_peer_addr(stream.get_ref().0.peer_addr().ok());
        req.set_local_addr(stream.get_ref().0.local_addr().ok());
        let conn = TlsConn {
            stream: Some(stream),
            home: self.keep_alive.then(|| TlsHome {
                slot: Arc::clone(&self.idle_tls),
                addr,
                name,
            }),
        };
        async_h1::client::connect(conn, req).await
    }

    /// A new TCP connection and a full TLS handshake. A handshake rejected by rustls (an
    /// untrusted or mismatched certificate, an alert) is reported as a TLS failure.
    async fn open(
        &self,
        addr: SocketAddr,
        name: ServerName<'static>,
    ) -> io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        self.tls.connect(name, tcp).await.map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidData {
                io::Error::new(e.kind(), format!("TLS handshake with {addr} failed: {e}"))
            } else {
                e
            }
        })
    }

    /// The kept connection to this address and name, if it is still open: a peek with a no-op
    /// waker must find nothing to read (end of stream, an error or stray bytes discard it).
    fn take_idle(&self, addr: SocketAddr, name: &ServerName<'_>) -> Option<TlsStream<TcpStream>> {
        let idle = {
            let mut kept = self.idle_tls.lock().unwrap_or_else(PoisonError::into_inner);
            let at = kept
                .iter()
                .position(|idle| idle.addr == addr && idle.name == *name)?;
            kept.swap_remove(at)
        };
        let mut stream = idle.stream;
        let mut probe = [0u8; 1];
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut stream).poll_read(&mut cx, &mut probe) {
            Poll::Pending => Some(stream),
            Poll::Ready(_) => None,
        }
    }
}

/// The name rustls checks the certificate against: an IP address (an `IpAddress` SAN) or a DNS
/// name, as the URL has it (a name the job maps to an address stays the name).
fn server_name(url: &Url) -> http_types::Result<ServerName<'static>> {
    let name = match url.host() {
        Some(url::Host::Ipv4(ip)) => ServerName::from(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => ServerName::from(std::net::IpAddr::V6(ip)),
        Some(url::Host::Domain(domain)) => ServerName::try_from(domain.to_owned())
            .map_err(|e| http_types::Error::from_str(StatusCode::BadRequest, e.to_string()))?,
        None => {
            return Err(http_types::Error::from_str(
                StatusCode::BadRequest,
                "missing hostname",
            ));
        }
    };
    Ok(name)
}

/// A TLS connection kept by a [`Transport`] between two requests.
struct IdleTls {
    addr: SocketAddr,
    name: ServerName<'static>,
    stream: TlsStream<TcpStream>,
}

/// The stream async-h1 reads and writes for one https request. It lives inside the response's
/// body reader; when that is dropped the connection goes back to its transport's slot (if it
/// has one — with `Fresh` it does not, and the connection closes). Whether that slot survives is
/// the lease's decision: a client whose response was cut short is dropped, slot and all.
struct TlsConn {
    stream: Option<TlsStream<TcpStream>>,
    home: Option<TlsHome>,
}

/// Where a [`TlsConn`] goes back to, and under which address and name.
struct TlsHome {
    slot: TlsSlot,
    addr: SocketAddr,
    name: ServerName<'static>,
}

/// A [`Transport`]'s kept TLS connections, at most one per address and server name.
type TlsSlot = Arc<Mutex<Vec<IdleTls>>>;

impl TlsConn {
    fn stream(&mut self) -> io::Result<Pin<&mut TlsStream<TcpStream>>> {
        self.stream
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl Drop for TlsConn {
    fn drop(&mut self) {
        if let (Some(stream), Some(TlsHome { slot, addr, name })) =
            (self.stream.take(), self.home.take())
        {
            let mut kept = slot.lock().unwrap_or_else(PoisonError::into_inner);
            // One per destination: a newer connection replaces an older one to the same.
            kept.retain(|idle| idle.addr != addr || idle.name != name);
            kept.push(IdleTls { addr, name, stream });
        }
    }
}

impl async_std::io::Read for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.stream() {
            Ok(s) => s.poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl async_std::io::Write for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.stream() {
            Ok(s) => s.poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(s) => s.poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(s) => s.poll_close(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
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
/// named here; a failed TLS handshake says so in its text (see [`Transport::open`]) and the core
/// classifies it as [`ErrorKind::Tls`]; the rest go through the core's classification of the
/// error chain.
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
            client: "surf 2.3 on async-h1 2.3".into(),
            model: ConcurrencyModel::AsyncMultiThread,
            threads: executor_threads(),
            status: UpstreamStatus::Discontinued(
                "async-std discontinued upstream (its last release points users to smol); \
                 surf unmaintained"
                    .into(),
            ),
            max_concurrency: None,
            tls: Some(
                "rustls 0.23 (ring) via futures-rustls, not surf's own rustls 0.18 \
                 (cannot verify an IP certificate)"
                    .into(),
            ),
            http: HttpVersion::Http1,
            connection_policies: ConnectionPolicy::ALL.to_vec(),
        }
    }

    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError> {
        measure(self.info(), job, || {
            let client = Arc::new(SurfClient::new(job).map_err(|e| self.info().setup_error(e))?);
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
