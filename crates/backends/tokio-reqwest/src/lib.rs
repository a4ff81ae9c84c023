//! Backends `tokio-reqwest`, `tokio-st-reqwest` and `tokio-reqwest-h2`: one [`reqwest`] client on
//! a tokio runtime, one task per in-flight request — the Rust counterpart of the seed's
//! `asyncio + aiohttp`.
//!
//! Three registry rows: the multi-thread runtime (a worker per core) and the current-thread
//! runtime (one thread, many requests in flight, like a single asyncio loop), both speaking
//! HTTP/1.1; and the multi-thread runtime speaking HTTP/2 (`tokio-reqwest-h2`: many streams over
//! few connections — ALPN `h2` over TLS, prior knowledge in plain text).
//!
//! [`ReqwestClient`] and [`spawn_fetch`] are public for backends that reuse the tokio + reqwest
//! engine under another dispatcher (the multi-process workers).
//!
//! # TLS
//! reqwest is built with `rustls-no-provider` (its `rustls` feature would compile aws-lc-rs) and
//! handed a preconfigured rustls 0.23 `ClientConfig` on the ring provider
//! (`tls_backend_preconfigured`): its only root is the job's CA
//! ([`CrawlJob::trusted_ca_pem`]) — no system or webpki roots, verification never switched off.
//! A plain-`http://` job gets the same config with an empty root store, which trusts nothing:
//! reqwest must be given *some* rustls config, because without a provider of its own it would
//! otherwise look for a process-wide default one. reqwest does not touch a preconfigured
//! config's ALPN, so it is set here: `http/1.1` for the HTTP/1 client, `h2` for the HTTP/2 one.
//!
//! # Names the job resolves
//! [`CrawlJob::resolve`] (curl's `--resolve`) becomes reqwest's own DNS override,
//! `ClientBuilder::resolve(name, addr:0)` per entry: reqwest connects to the address with the
//! URL's port and keeps the name everywhere else — the `Host` header (HTTP/1.1) or `:authority`
//! (HTTP/2), the TLS server name and the certificate check. Other hosts resolve as before. The
//! override sits in reqwest's resolver, inside the connector the gate wraps, so the gate sees a
//! mapped host's connects like any other's.
//!
//! # Source address
//! [`ReqwestClient::with_source_address`] binds every connection to a chosen local address
//! (reqwest's `local_address`), so that worker processes of one machine each connect from their
//! own loopback address and each get their own ~28,000 ephemeral ports. reqwest binds port 0
//! before connecting (no `IP_BIND_ADDRESS_NO_PORT`), so that is ~28,000 connections per source
//! address in all, whatever the destination; see the function for why that is enough.
//!
//! # Connections
//! `reuse`: hyper-util's pool, keep-alive connections kept without an idle timeout (HTTP/1: one
//! request per connection at a time; HTTP/2: every request multiplexed over the host's one
//! connection). hyper-util races each request's pool checkout against a new connect and parks a
//! connect that lost the race in the pool, which opens connections beyond the `concurrency` an
//! HTTP/1 client can use at once; a connect gate (`connector_layer`, see `gate.rs`) gives the
//! HTTP/1 client a budget, per host (`scheme://host:port`, as hyper-util pools them), of
//! `in_flight` connections plus one per failed attempt, and drops a losing connect that is still
//! waiting for it.
//! `fresh`: `pool_max_idle_per_host(0)`, which makes hyper-util *disable* its pool altogether —
//! no idle list, no waiters handed a returning connection, no shared HTTP/2 connection — so every
//! request connects (and handshakes) anew and its connection closes once the response is read,
//! like `requests.get` without a session. The origin counts the connections and `verified_run`
//! checks them against the policy.
//!
//! # Errors
//! A timeout is a timeout; a failed handshake (reqwest calls it a connect error) is
//! [`ErrorKind::Tls`]; an HTTP/2 stream reset or GOAWAY (an [`h2::Error`] with a reason in the
//! source chain — how the origin's "reset" fault reaches an HTTP/2 client) is
//! [`ErrorKind::Reset`] before the response head and [`ErrorKind::Truncated`] after it, as a
//! reset TCP connection is for HTTP/1; the rest goes through [`FetchError::classify`]. HTTP/2
//! requests that waited for another request's connect, which failed, get only "request was
//! canceled" from hyper-util; they report the failure the gate recorded for that connect (an
//! untrusted certificate is a `tls` outcome for every one of them, not a retried `connect`).
//!
//! Silent caps avoided: reqwest limits only *idle* connections per host (unbounded by default),
//! never active ones, and the gate's budget is one connection per request in flight for each
//! host (a request that finds it spent while no connection comes back connects anyway after a
//! grace period), so the origin's peak in-flight reaches the job's limit; proxies from the
//! environment are ignored (`no_proxy`); redirects and retries are the core's, not reqwest's.

use std::{
    error::Error as StdError,
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use crawlbench_core::{
    AsyncHttp, Backend, BackendError, BackendInfo, BodyBuffer, ConcurrencyModel, ConnectionPolicy,
    CrawlJob, CrawlReport, ErrorKind, FetchError, FetchOutcome, HttpVersion, RawResponse,
    UpstreamStatus,
    driver::{drive, settle},
    fetch::{Phase, fetch_async},
    report::measure,
};
use rustls_pki_types::{CertificateDer, pem::PemObject};
use url::Url;

mod gate;

use gate::ConnectGate;

/// The TLS stack every reqwest client here uses (rustls 0.23.x in `Cargo.lock`).
pub const TLS_LIBRARY: &str = "rustls 0.23 (ring)";

/// Why a [`ReqwestClient`] could not be built.
#[derive(Debug)]
pub enum ClientError {
    /// The job's trusted CA could not be loaded into a root store.
    Tls(String),
    /// reqwest refused the configuration.
    Build(reqwest::Error),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tls(reason) => write!(f, "cannot set up TLS: {reason}"),
            Self::Build(err) => write!(f, "cannot build the reqwest client: {err}"),
        }
    }
}

impl StdError for ClientError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Tls(_) => None,
            Self::Build(err) => Some(err),
        }
    }
}

/// A reqwest client configured for a job.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
    max_body: u64,
    /// HTTP/2 with `reuse`: requests wait for one shared connect (see [`AsyncHttp::get`]).
    shares_connects: bool,
    gate: Arc<ConnectGate>,
}

impl ReqwestClient {
    /// A client for `job` speaking `http` (HTTP/2: ALPN `h2` over TLS, prior knowledge in plain
    /// text), for at most `in_flight` requests at once (the job's concurrency, or a worker
    /// process's share of it: with `reuse` over HTTP/1.1 it is the connection budget). Must be
    /// built inside (or used only within) a tokio runtime.
    ///
    /// Connects from whatever source address the OS picks for the destination (127.0.0.1 for
    /// the loopback origin): [`ReqwestClient::with_source_address`] with `None`.
    pub fn new(job: &CrawlJob, http: HttpVersion, in_flight: usize) -> Result<Self, ClientError> {
        Self::with_source_address(job, http, in_flight, None)
    }

    /// [`ReqwestClient::new`], with every connection made from `source` (bound before connect,
    /// reqwest's `ClientBuilder::local_address`); `None` lets the OS choose, as `new` does.
    ///
    /// Why: a TCP connection is identified by (source address, source port, destination
    /// address, destination port), and the ephemeral source ports are only ~28,000
    /// (`net.ipv4.ip_local_port_range`, 32768–60999) per address pair. To hold 100,000
    /// connections to one origin on one machine, the multi-process coordinator gives each worker
    /// process its own loopback source address (`127.0.x.y`, all of 127.0.0.0/8 is local on
    /// Linux) and builds its client with it.
    ///
    /// Limit of this client: reqwest (hyper-util's `HttpConnector`) binds `(source, 0)` *before*
    /// connecting and exposes no way to set `IP_BIND_ADDRESS_NO_PORT`, so the kernel picks the
    /// port at bind time, when it cannot know the destination, and hands out each port of
    /// `source` only once whatever the destination: one source address holds at most ~28,000
    /// connections *in all* (not per destination). That is enough here — a worker holds at most
    /// ~15,000 connections — so it is left as it is. (smol-hyper's client sets the option.)
    ///
    /// The source applies to connects whose destination is of the same family (an IPv4 source to
    /// an IPv4 destination); hyper-util connects to a destination of the other family without
    /// binding. The connect gate and the job's resolve map are unaffected: the gate wraps
    /// reqwest's connector, which binds, and the map only changes the destination address.
    pub fn with_source_address(
        job: &CrawlJob,
        http: HttpVersion,
        in_flight: usize,
        source: Option<IpAddr>,
    ) -> Result<Self, ClientError> {
        let budget = (http == HttpVersion::Http1 && job.connections() == ConnectionPolicy::Reuse)
            .then_some(in_flight);
        let gate = ConnectGate::new(budget, (job.timeout() / 2).min(Duration::from_secs(1)));
        let builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .timeout(job.timeout())
            .user_agent(job.user_agent())
            .tcp_nodelay(true)
            // `None` is reqwest's default (no bind before connect).
            .local_address(source)
            .tls_backend_preconfigured(tls_config(job, http)?)
            .connector_layer(gate.layer());
        // The job's own names (curl's `--resolve`): reqwest's DNS overrides. Port 0 means the
        // URL's port (or the scheme's default); only the address changes — the Host header /
        // `:authority`, SNI and certificate verification keep the name.
        let builder = job.resolve().iter().fold(builder, |builder, (name, ip)| {
            builder.resolve(name, SocketAddr::new(ip, 0))
        });
        let builder = match http {
            HttpVersion::Http1 => builder.http1_only(),
            HttpVersion::Http2 => builder.http2_prior_knowledge(),
        };
        let builder = match job.connections() {
            // No idle timeout: a connection the pool dropped would leave a permit of the budget
            // unreturned.
            ConnectionPolicy::Reuse => builder.pool_idle_timeout(None),
            // 0 idle connections disables hyper-util's pool: a new connection per request.
            ConnectionPolicy::Fresh => builder.pool_max_idle_per_host(0),
        };
        Ok(Self {
            client: builder.build().map_err(ClientError::Build)?,
            max_body: job.max_body_bytes(),
            shares_connects: http == HttpVersion::Http2
                && job.connections() == ConnectionPolicy::Reuse,
            gate,
        })
    }
}

/// The rustls config for `job`: ring, the safe default protocol versions, the job's CA as the
/// only root (none for a plain-text job), and the ALPN protocol of `http`.
fn tls_config(job: &CrawlJob, http: HttpVersion) -> Result<rustls::ClientConfig, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = job.trusted_ca_pem() {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| ClientError::Tls(format!("bad CA PEM: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| ClientError::Tls(format!("unusable CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(ClientError::Tls(
                "the trusted CA PEM holds no certificate".into(),
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![match http {
        HttpVersion::Http1 => b"http/1.1".to_vec(),
        HttpVersion::Http2 => b"h2".to_vec(),
    }];
    Ok(config)
}

fn map_error(err: &reqwest::Error, phase: Phase) -> FetchError {
    if err.is_timeout() {
        return FetchError::new(ErrorKind::Timeout, err.to_string());
    }
    if let Some(h2) = h2_error(err)
        && h2.reason().is_some()
    {
        // RST_STREAM or GOAWAY: HTTP/2's reset connection.
        let kind = match phase {
            Phase::Head => ErrorKind::Reset,
            Phase::Body => ErrorKind::Truncated,
        };
        return FetchError::new(kind, crawlbench_core::fetch::error_chain_text(err));
    }
    let classified = FetchError::classify(err, phase);
    // A failed handshake is a connect error to reqwest; TLS is what failed.
    if classified.kind != ErrorKind::Tls && err.is_connect() {
        return FetchError::new(ErrorKind::Connect, classified.detail);
    }
    classified
}

/// The HTTP/2 protocol error in `err`'s source chain, if any.
fn h2_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a h2::Error> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return Some(h2);
        }
        cur = e.source();
    }
    None
}

impl AsyncHttp for ReqwestClient {
    fn get(&self, url: &Url) -> impl Future<Output = Result<RawResponse, FetchError>> + Send {
        let request = self.client.get(url.as_str());
        let (max_body, shares_connects) = (self.max_body, self.shares_connects);
        let gate = Arc::clone(&self.gate);
        // Only a budgeted gate tells hosts apart (`closed_one` is a no-op without a budget).
        let host = if gate.budgeted() {
            gate::host_key(url)
        } else {
            0
        };
        async move {
            let connect_failures = gate.failures();
            let sent = if gate.budgeted() {
                gate.scope(host, request.send()).await
            } else {
                request.send().await
            };
            let mut response = match sent {
                Ok(response) => response,
                Err(err) => {
                    let mut error = map_error(&err, Phase::Head);
                    if err.is_connect() {
                        // The gate already saw this connect fail. Over HTTP/2 the request may
                        // have waited for another's connect: report what failed there.
                        if shares_connects
                            && error.kind != ErrorKind::Tls
                            && let Some(shared) = gate.failure_since(connect_failures)
                        {
                            error = FetchError::new(
                                shared.kind,
                                format!(
                                    "{}; the HTTP/2 connection it waited for failed: {}",
                                    error.detail, shared.detail
                                ),
                            );
                        }
                    } else {
                        gate.closed_one(host);
                    }
                    return Err(error);
                }
            };
            let result = async {
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let (location, content_type) = (header("location"), header("content-type"));
                let status = response.status().as_u16();
                let mut body = BodyBuffer::new(max_body, response.content_length())?;
                while let Some(chunk) = response
                    .chunk()
                    .await
                    .map_err(|e| map_error(&e, Phase::Body))?
                {
                    body.push(&chunk)?;
                }
                Ok(RawResponse {
                    status,
                    location,
                    content_type,
                    body: body.finish()?,
                })
            }
            .await;
            if result.is_err() {
                // An unfinished response closes its HTTP/1.1 connection.
                gate.closed_one(host);
            }
            result
        }
    }
}

/// Spawns one URL's fetch as a tokio task and returns its outcome's future (a panicked task
/// becomes an error outcome, never a lost URL).
pub fn spawn_fetch(
    client: &Arc<ReqwestClient>,
    job: &Arc<CrawlJob>,
    url: Url,
) -> impl Future<Output = FetchOutcome> + use<> {
    let (client, job, lost) = (Arc::clone(client), Arc::clone(job), url.clone());
    settle(
        lost,
        tokio::spawn(async move { fetch_async(&*client, &job, url).await }),
    )
}

/// Which tokio runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    MultiThread,
    CurrentThread,
}

/// The tokio + reqwest backend in one of its flavours.
#[derive(Debug)]
pub struct TokioReqwest {
    flavor: Flavor,
    http: HttpVersion,
}

impl TokioReqwest {
    /// `tokio-reqwest`: the multi-thread runtime, one worker per core, HTTP/1.1.
    pub fn multi_thread() -> Self {
        Self {
            flavor: Flavor::MultiThread,
            http: HttpVersion::Http1,
        }
    }
    /// `tokio-st-reqwest`: the current-thread runtime, HTTP/1.1.
    pub fn current_thread() -> Self {
        Self {
            flavor: Flavor::CurrentThread,
            http: HttpVersion::Http1,
        }
    }
    /// `tokio-reqwest-h2`: the multi-thread runtime, HTTP/2 (many streams over few connections).
    pub fn multi_thread_h2() -> Self {
        Self {
            flavor: Flavor::MultiThread,
            http: HttpVersion::Http2,
        }
    }

    /// Builds the runtime this flavour measures.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        match self.flavor {
            Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build(),
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
        }
    }
}

impl Backend for TokioReqwest {
    fn info(&self) -> BackendInfo {
        let (name, runtime, model, threads) = match (self.flavor, self.http) {
            (Flavor::MultiThread, HttpVersion::Http1) => (
                "tokio-reqwest",
                "tokio 1 (multi-thread)",
                ConcurrencyModel::AsyncMultiThread,
                format!("{} (one per core)", cores()),
            ),
            (Flavor::MultiThread, HttpVersion::Http2) => (
                "tokio-reqwest-h2",
                "tokio 1 (multi-thread)",
                ConcurrencyModel::AsyncMultiThread,
                format!("{} (one per core)", cores()),
            ),
            (Flavor::CurrentThread, HttpVersion::Http1) => (
                "tokio-st-reqwest",
                "tokio 1 (current-thread)",
                ConcurrencyModel::AsyncSingleThread,
                "1".to_owned(),
            ),
            (Flavor::CurrentThread, HttpVersion::Http2) => (
                "tokio-st-reqwest-h2",
                "tokio 1 (current-thread)",
                ConcurrencyModel::AsyncSingleThread,
                "1".to_owned(),
            ),
        };
        let client = match self.http {
            HttpVersion::Http1 => "reqwest 0.13",
            HttpVersion::Http2 => "reqwest 0.13 (h2 0.4)",
        };
        BackendInfo {
            name: name.into(),
            runtime: runtime.into(),
            client: client.into(),
            model,
            threads,
            status: UpstreamStatus::Maintained,
            max_concurrency: None,
            tls: Some(TLS_LIBRARY.into()),
            http: self.http,
            connection_policies: ConnectionPolicy::ALL.to_vec(),
        }
    }

    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError> {
        let info = self.info();
        measure(info.clone(), job, || {
            let runtime = self.runtime().map_err(|e| info.setup_error(e))?;
            let shared_job = Arc::new(job.clone());
            runtime.block_on(async {
                let client = Arc::new(
                    ReqwestClient::new(job, self.http, job.concurrency())
                        .map_err(|e| info.setup_error(e))?,
                );
                Ok(drive(job, |url| spawn_fetch(&client, &shared_job, url)).await)
            })
        })
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
