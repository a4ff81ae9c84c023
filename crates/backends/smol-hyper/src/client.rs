//! [`HyperClient`]: one GET attempt with hyper 1.x's low-level HTTP/1 connection API over smol's
//! `Async<TcpStream>` (plain, or inside a `futures-rustls` stream for `https://`), bounded by a
//! smol timer, with keep-alive through the crate's own pool or a new connection per request.
//!
//! hyper's `client::conn` layer is the bare protocol: no pool, no timeouts, no redirects, no
//! retries, no DNS, no TLS. That suits the benchmark — the core owns redirects and retries — but
//! means this file supplies the rest: connecting (and the TLS handshake, see `tls.rs`), spawning
//! each connection's driver on the smol executor, the per-attempt timeout (`race_timeout` with
//! `smol::Timer`), the body cap (`BodyBuffer`) and the mapping of hyper's errors onto the core's
//! [`ErrorKind`]s.
//!
//! hyper's `SendRequest` does not name the transport under it, so the pool holds plain and TLS
//! connections alike: only the connection's driver task is generic over the stream, and the
//! plain path is monomorphised over the bare `Async<TcpStream>` exactly as without TLS.

use std::{
    fmt,
    future::Future,
    io,
    net::{IpAddr, SocketAddr, TcpStream},
    sync::{Arc, Weak},
    time::Duration,
};

use bytes::Bytes;
use crawlbench_core::{
    AsyncHttp, BodyBuffer, ConnectionPolicy, CrawlJob, ErrorKind, FetchError, RawResponse,
    ResolveMap,
    fetch::{Phase, race_timeout},
};
use http_body_util::{BodyExt, Empty};
use hyper::{
    Request,
    client::conn::http1::{self, SendRequest},
    header::{self, HeaderValue},
};
use smol::{
    Async, Executor, Timer,
    io::{AsyncRead, AsyncWrite},
};
use smol_hyper::rt::FuturesIo;
use url::{Position, Url};

use crate::{
    pool::Pool,
    tls::{self, TlsSetupError},
};

/// The request body type: GETs carry none.
type ReqBody = Empty<Bytes>;

/// Why a [`HyperClient`] could not be built for a job.
#[derive(Debug)]
pub enum ClientSetupError {
    /// The job's user agent is not a valid header value.
    UserAgent(header::InvalidHeaderValue),
    /// The TLS configuration (the job's trusted CA) could not be built.
    Tls(TlsSetupError),
}

impl fmt::Display for ClientSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UserAgent(e) => write!(f, "invalid user agent: {e}"),
            Self::Tls(e) => write!(f, "TLS setup: {e}"),
        }
    }
}

impl std::error::Error for ClientSetupError {}

/// A hyper HTTP/1 client on a smol executor, configured for one job.
///
/// It holds a [`Weak`] handle to the executor its connection drivers are spawned on, so a task
/// that still holds the client (an abandoned fetch of a cancelled run) never keeps the executor
/// alive: dropping the executor's last [`Arc`] drops every task and closes every socket.
#[derive(Debug)]
pub struct HyperClient {
    executor: Weak<Executor<'static>>,
    pool: Pool<ReqBody>,
    /// The run's TLS connector; `None` for a job with no `https://` start URL and no CA.
    tls: Option<tls::TlsClient>,
    /// [`ConnectionPolicy::Fresh`]: one new connection per request, never pooled.
    fresh: bool,
    /// The job's own names ([`CrawlJob::resolve`]), looked up before any resolver.
    resolve: ResolveMap,
    /// The local address every connection is bound to, if one was chosen.
    source: Option<IpAddr>,
    user_agent: HeaderValue,
    max_body: u64,
    timeout: Duration,
}

impl HyperClient {
    /// A client for `job` whose connections are driven by tasks on `executor`.
    ///
    /// The TLS connector is built here, once, when the job has an `https://` start URL or a
    /// trusted CA (a plain-HTTP job builds none). Fails when the job's user agent is not a valid
    /// header value or its CA cannot be read.
    ///
    /// Connects from whatever source address the OS picks for the destination (127.0.0.1 for
    /// the loopback origin): [`HyperClient::with_source_address`] with `None`.
    pub fn new(
        job: &CrawlJob,
        executor: &Arc<Executor<'static>>,
    ) -> Result<Self, ClientSetupError> {
        Self::with_source_address(job, executor, None)
    }

    /// [`HyperClient::new`], with every connection made from `source`; `None` connects exactly
    /// as `new` does.
    ///
    /// Why: a TCP connection is identified by (source address, source port, destination
    /// address, destination port), and the ephemeral source ports are only ~28,000
    /// (`net.ipv4.ip_local_port_range`, 32768–60999) per address pair. To hold 100,000
    /// connections to one origin on one machine, the multi-process coordinator gives each worker
    /// process its own loopback source address (`127.0.x.y`, all of 127.0.0.0/8 is local on
    /// Linux) and builds its client with it.
    ///
    /// The socket is bound to `(source, 0)` with `IP_BIND_ADDRESS_NO_PORT` (Linux), so the port
    /// is chosen at connect time and is unique only per (source, destination) pair, not
    /// reserved for the source address across all destinations. A destination of the other
    /// address family than `source` (an IPv6 address for an IPv4 source) cannot be reached from
    /// it: that connect fails with [`ErrorKind::Connect`] rather than silently leaving from
    /// another address.
    pub fn with_source_address(
        job: &CrawlJob,
        executor: &Arc<Executor<'static>>,
        source: Option<IpAddr>,
    ) -> Result<Self, ClientSetupError> {
        let tls = if job.uses_tls() || job.trusted_ca_pem().is_some() {
            Some(tls::client(job.trusted_ca_pem()).map_err(ClientSetupError::Tls)?)
        } else {
            None
        };
        Ok(Self {
            executor: Arc::downgrade(executor),
            pool: Pool::default(),
            tls,
            fresh: job.connections() == ConnectionPolicy::Fresh,
            resolve: job.resolve().clone(),
            source,
            user_agent: HeaderValue::from_str(job.user_agent())
                .map_err(ClientSetupError::UserAgent)?,
            max_body: job.max_body_bytes(),
            timeout: job.timeout(),
        })
    }

    /// TCP connections opened so far (including any whose TLS handshake then failed).
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
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::new(
                ErrorKind::Other,
                format!("only http and https are supported, not {}", url.scheme()),
            ));
        }
        // `host:port` as written in the URL (IPv6 in brackets): the Host header.
        let authority = &url[Position::BeforeHost..Position::AfterPort];
        // `scheme://host:port`: the pool key (a plain and a TLS connection are never swapped).
        let pool_key = &url[..Position::AfterPort];
        let path_and_query = &url[Position::BeforePath..Position::AfterQuery];
        let mut request = Request::get(path_and_query)
            .header(header::HOST, authority)
            .header(header::USER_AGENT, self.user_agent.clone())
            .body(ReqBody::new())
            .map_err(|e| {
                FetchError::new(ErrorKind::Other, format!("bad request for {url}: {e}"))
            })?;

        let (sender, response) = loop {
            // Fresh: never take from the pool (nothing is ever put back either).
            let pooled = if self.fresh {
                None
            } else {
                self.pool.take(pool_key)
            };
            let (mut sender, reused) = match pooled {
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
        // connection: only a connection whose response was read to its end goes back, and with
        // `fresh` none does — dropping the last handle makes its driver shut it down (a TLS
        // stream sends `close_notify` first) and close the socket.
        let mut buffer = BodyBuffer::new(self.max_body, content_length)?;
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| map_hyper_error(&e, Phase::Body))?;
            if let Some(chunk) = frame.data_ref() {
                buffer.push(chunk)?;
            }
        }
        if !self.fresh {
            self.pool.put(pool_key, sender);
        }
        Ok(RawResponse {
            status,
            location,
            content_type,
            body: buffer.finish()?,
        })
    }

    /// Opens a TCP connection to `url`'s host, for `https://` performs the TLS handshake over
    /// it, then hyper's (IO-free) HTTP/1 handshake, and spawns the connection's driver on the
    /// executor.
    async fn connect(&self, url: &Url) -> Result<SendRequest<ReqBody>, FetchError> {
        // Checked before connecting, so a URL that cannot be fetched opens no connection.
        let tls = match url.scheme() {
            "https" => Some(self.tls.as_ref().ok_or_else(|| {
                FetchError::new(
                    ErrorKind::Tls,
                    format!(
                        "TLS: {url} is https, but the job has no https start URL and no \
                         trusted CA, so no certificate can be trusted"
                    ),
                )
            })?),
            _ => None,
        };
        let stream = connect_tcp(url, &self.resolve, self.source)
            .await
            .map_err(|e| connect_error(&e))?;
        self.pool.record_opened();
        // Small requests and responses: no Nagle delay (the other clients set it too).
        let _ = stream.get_ref().set_nodelay(true);
        match tls {
            Some(tls) => self.start_http1(tls.connect(url, stream).await?).await,
            None => self.start_http1(stream).await,
        }
    }

    /// hyper's HTTP/1 handshake over an established stream (plain or TLS), with the
    /// connection's driver spawned on the executor.
    async fn start_http1<T>(&self, stream: T) -> Result<SendRequest<ReqBody>, FetchError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
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
        Ok(sender)
    }
}

impl AsyncHttp for HyperClient {
    fn get(&self, url: &Url) -> impl Future<Output = Result<RawResponse, FetchError>> + Send {
        race_timeout(self.attempt(url), Timer::after(self.timeout), self.timeout)
    }
}

/// Connects to the first address of `url`'s host that accepts. IP literals (the usual case)
/// and names in the job's resolve map need no lookup; other names (`localhost`) are resolved on
/// smol's blocking pool. Only the address comes from the map: the Host header and the TLS server
/// name are the URL's. With a `source`, each connection is made from it ([`connect_from`]).
async fn connect_tcp(
    url: &Url,
    resolve: &ResolveMap,
    source: Option<IpAddr>,
) -> io::Result<Async<TcpStream>> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "URL has no port"))?;
    let addrs = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(url::Host::Domain(domain)) => match resolve.get(domain) {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => smol::net::resolve((domain, port)).await?,
        },
        None => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "URL has no host",
            ));
        }
    };
    let mut last = io::Error::new(io::ErrorKind::AddrNotAvailable, "host has no address");
    for addr in addrs {
        let connected = match source {
            // The path without a source address stays smol's own connect, syscall for syscall.
            None => Async::<TcpStream>::connect(addr).await,
            Some(source) => connect_from(source, addr).await,
        };
        match connected {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Connects to `addr` from `source`: what `Async::<TcpStream>::connect` does, with a bind in
/// between, which smol's connect cannot do (it creates and connects the socket in one call).
async fn connect_from(source: IpAddr, addr: SocketAddr) -> io::Result<Async<TcpStream>> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};

    if source.is_ipv4() != addr.is_ipv4() {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("source address {source} cannot connect to {addr} (another address family)"),
        ));
    }
    // Close-on-exec (socket2 sets `SOCK_CLOEXEC` at creation) and non-blocking, like smol's.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let socket = {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        socket
    };
    // A plain `bind(source:0)` makes the kernel choose the source port *at bind time*, before it
    // knows the destination, so it must pick a port no other socket on `source` holds: one
    // source address could then hold only ~28,000 connections in all, whatever the
    // destinations. With `IP_BIND_ADDRESS_NO_PORT` the bind only records the address and the
    // port is chosen at `connect`, when the kernel can reuse a port for another destination: the
    // ~28,000 are per (source, destination) pair, as for a connect without a bind. Best effort:
    // on a kernel without it (before Linux 4.2) the bind still works, with the smaller limit.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = bind_address_no_port(&socket);
    socket.bind(&SockAddr::from(SocketAddr::new(source, 0)))?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        // In progress, as smol's connect accepts it (EINPROGRESS, or EAGAIN/EWOULDBLOCK).
        Err(e)
            if e.raw_os_error() == Some(libc::EINPROGRESS)
                || e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    // Already non-blocking: register it with the reactor as it is.
    let stream = Async::new_nonblocking(TcpStream::from(socket))?;
    // Writable once the handshake is done (or has failed): the outcome is the socket's error.
    stream.writable().await?;
    match stream.get_ref().take_error()? {
        None => Ok(stream),
        Some(err) => Err(err),
    }
}

/// Sets `IP_BIND_ADDRESS_NO_PORT` on `socket` (see [`connect_from`]).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn bind_address_no_port(socket: &socket2::Socket) -> io::Result<()> {
    use std::os::fd::AsRawFd;

    let on: libc::c_int = 1;
    // SAFETY: a valid, open socket descriptor, and a pointer to a live `c_int` whose size is
    // passed along; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            std::ptr::from_ref(&on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
/// A [`rustls::Error`] underneath (a TLS record or alert the client rejected on an established
/// connection) is [`ErrorKind::Tls`] in either phase. Otherwise hyper's typed kinds come first
/// where the core's text heuristics would misread them: an "incomplete message" or "connection
/// closed" has no `io::Error` underneath, and its text contains "connect"ion. An error that
/// carries a specific `io::Error` (a reset, a timeout) is classified by that io error's kind —
/// not by the core's text check for TLS words, which would call rustls's "peer closed
/// connection without sending TLS close_notify" (a plain end of the stream) a TLS failure.
pub(crate) fn map_hyper_error(err: &hyper::Error, phase: Phase) -> FetchError {
    let mut mapped = FetchError::classify(err, phase);
    if tls::is_rustls_error(err) {
        mapped.kind = ErrorKind::Tls;
    } else if err.is_parse() {
        mapped.kind = ErrorKind::InvalidResponse;
    } else if err.is_timeout() {
        mapped.kind = ErrorKind::Timeout;
    } else if let Some(io) = deepest_specific_io_error(err) {
        // The kind of the deepest specific io::Error (reset → Reset / Truncated, …), as the core
        // classifies it, without the text check for TLS words.
        mapped.kind = FetchError::from_io(io, phase).kind;
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

/// The deepest [`io::Error`] of a specific (non-`Other`) kind in `err`'s source chain.
fn deepest_specific_io_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a io::Error> {
    let mut found = None;
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && io.kind() != io::ErrorKind::Other
        {
            found = Some(io);
        }
        cur = e.source();
    }
    found
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};

    use socket2::{Domain, SockAddr, Socket, Type};

    use super::bind_address_no_port;

    /// The source port a socket bound to `127.0.0.77:0` holds before it connects.
    fn port_after_bind(no_port: bool) -> u16 {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        if no_port {
            bind_address_no_port(&socket).expect("IP_BIND_ADDRESS_NO_PORT");
        }
        let source = SocketAddr::new(Ipv4Addr::new(127, 0, 0, 77).into(), 0);
        socket.bind(&SockAddr::from(source)).expect("bind");
        let local = socket.local_addr().expect("local address");
        local.as_socket().expect("an IP address").port()
    }

    /// With the option the bind reserves no port (the kernel picks one at connect, per
    /// destination); without it the bind already holds one.
    #[test]
    fn bind_address_no_port_defers_the_port_to_connect() {
        assert_eq!(port_after_bind(true), 0);
        assert_ne!(port_after_bind(false), 0);
    }
}
