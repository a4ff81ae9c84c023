//! Backend `threadpool-ureq`: a fixed pool of OS threads, one per in-flight request, each making
//! blocking calls with one shared [`ureq`] agent — the seed experiment's `requests + ThreadPool`.
//!
//! [`UreqClient`] is public because other backends (thread-pool-under-tokio, the blocking
//! multi-process workers) measure the same client under a different scheduler: they reuse it
//! rather than copy it.
//!
//! Silent caps avoided here: ureq 3 keeps only 10 idle connections (3 per host) by default, so
//! most requests would open a new connection; the pool is sized to the job's concurrency, per
//! host, for every host the job names (its start URLs' hosts and the names it resolves itself —
//! the virtual hosts of a multi-host site), so a crawl that moves between hosts does not evict
//! one host's connections to make room for another's.
//! ureq reads `HTTP_PROXY`/`ALL_PROXY` from the environment by default; that is switched off so
//! a benchmark is never silently rerouted.
//!
//! **TLS.** `https://` goes through ureq's own rustls connector ([`TLS`]). ureq is built with
//! `rustls-no-provider` and the agent is handed ring's `CryptoProvider` explicitly, so the
//! provider is the same as every other backend's and never whatever a process-wide default
//! happens to be (ureq's `rustls` feature would also compile in the webpki root store). The
//! only trusted roots are the certificates in the job's [`CrawlJob::trusted_ca_pem`] — never
//! the webpki or system roots, and verification is never disabled. A job without a CA gets an
//! empty root store: plain HTTP is untouched, and any `https://` URL fails its handshake as a
//! [`ErrorKind::Tls`] outcome instead of trusting something by default. A handshake failure
//! surfaces from ureq as an `io::Error` wrapping a `rustls::Error` (or as `Error::Tls` /
//! `Error::Rustls`); the error mapping names each of those `tls` explicitly rather than letting the
//! `InvalidData` kind read as an invalid response.
//!
//! **Fresh connections.** With [`ConnectionPolicy::Fresh`] the agent keeps no idle connection at
//! all (`max_idle_connections` and `max_idle_connections_per_host` are 0): after each response
//! ureq hands the connection back to a pool that may hold nothing, so it is closed by the
//! client, and the next request dials (and handshakes) anew — what `requests.get` without a
//! `Session` does. No `Connection: close` header is sent, so the request bytes are the same as
//! with `reuse`; only the pool differs. The origin's connection count checks it (one connection
//! per request).
//!
//! **Names the job resolves** ([`CrawlJob::resolve`], curl's `--resolve`). ureq looks names up
//! through a pluggable [`Resolver`] (`ureq::unversioned::resolver`); the agent is built with one
//! of its own, which answers a name in the job's map with its address (the URL's port, or the
//! scheme's default) and hands every other host to ureq's own [`DefaultResolver`]. Only the
//! address changes: ureq still takes the `Host` header, the pool key, the TLS server name (SNI)
//! and the name the certificate is verified against from the URL, so a mapped
//! `https://h1.crawl.test:…` is verified as `h1.crawl.test`.

use std::{collections::BTreeSet, net::SocketAddr, sync::Arc};

use crawlbench_core::{
    Backend, BackendError, BackendInfo, BlockingHttp, BodyBuffer, ConcurrencyModel,
    ConnectionPolicy, CrawlJob, CrawlReport, ErrorKind, FetchError, HttpVersion, RawResponse,
    ResolveMap, UpstreamStatus,
    driver::run_on_thread_pool,
    fetch::{Phase, body_read_error},
    report::measure,
};
use ureq::{
    config::Config,
    http::Uri,
    tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider},
    unversioned::{
        resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver},
        transport::{DefaultConnector, NextTimeout},
    },
};
use url::Url;

/// The TLS stack behind [`UreqClient`], as reported in [`BackendInfo::tls`]: ureq's rustls
/// connector with ring as the crypto provider (the minor version is the one in `Cargo.lock`).
pub const TLS: &str = "rustls 0.23 (ring)";

/// One ureq agent configured for a job: pool sized to the concurrency (or no pool at all for
/// [`ConnectionPolicy::Fresh`]), no proxy, no redirects (the core follows them), statuses
/// returned rather than raised, the job's timeout on the whole call, and TLS that trusts only
/// the job's CA.
#[derive(Debug)]
pub struct UreqClient {
    agent: ureq::Agent,
    max_body: u64,
}

impl UreqClient {
    /// A client for `job`, sized for `connections` concurrent connections. The job's
    /// [`CrawlJob::connections`] policy decides whether they are kept: with
    /// [`ConnectionPolicy::Fresh`] nothing is kept and every request opens its own connection.
    pub fn new(job: &CrawlJob, connections: usize) -> Self {
        let idle = match job.connections() {
            ConnectionPolicy::Reuse => connections.max(1),
            ConnectionPolicy::Fresh => 0,
        };
        let hosts = named_hosts(job);
        let config = ureq::Agent::config_builder()
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(job.timeout()))
            .max_idle_connections(idle.saturating_mul(hosts))
            .max_idle_connections_per_host(idle)
            .user_agent(job.user_agent())
            .no_delay(true)
            .tls_config(tls_config(job.trusted_ca_pem()))
            .build();
        let resolver = JobResolver {
            map: job.resolve().clone(),
            fallback: DefaultResolver::default(),
        };
        let agent = ureq::Agent::with_parts(config, DefaultConnector::new(), resolver);
        Self {
            agent,
            max_body: job.max_body_bytes(),
        }
    }
}

/// How many hosts `job` names: its start URLs' hosts and the names it resolves itself (at least
/// one). The pool keeps up to the per-host limit of idle connections for each.
fn named_hosts(job: &CrawlJob) -> usize {
    let mut hosts: BTreeSet<&str> = job.start_urls().iter().filter_map(Url::host_str).collect();
    hosts.extend(job.resolve().iter().map(|(name, _)| name));
    // A crawl meets hosts no field of the job names (links to other addresses in scope): room
    // for that many more. ureq's idle pool is a list pruned to these caps, not a reservation,
    // so a generous cap costs nothing until connections are actually idle.
    let unnamed = if job.follows_links() { CRAWL_HOSTS } else { 0 };
    hosts.len().max(1) + unnamed
}

/// Hosts a crawl may meet beyond those its job names, for the idle pool's total cap.
const CRAWL_HOSTS: usize = 256;

/// ureq's name resolver for a job: a name in the job's [`ResolveMap`] is answered from the map
/// (with the URL's port, or the scheme's default), anything else goes to ureq's
/// [`DefaultResolver`] (IP literals, `localhost`, real names).
#[derive(Debug)]
struct JobResolver {
    map: ResolveMap,
    fallback: DefaultResolver,
}

impl Resolver for JobResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mapped = uri.authority().and_then(|authority| {
            let ip = self.map.get(authority.host())?;
            let port = authority.port_u16().or(match uri.scheme_str() {
                Some("http") => Some(80),
                Some("https") => Some(443),
                _ => None,
            })?;
            Some(SocketAddr::new(ip, port))
        });
        match mapped {
            Some(addr) => {
                let mut addrs = self.empty();
                addrs.push(addr);
                Ok(addrs)
            }
            None => self.fallback.resolve(uri, config, timeout),
        }
    }
}

/// rustls with ring, trusting exactly the certificates in `ca_pem` (none when there is no PEM).
fn tls_config(ca_pem: Option<&str>) -> TlsConfig {
    TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(RootCerts::new_with_certs(&trusted_roots(ca_pem)))
        .disable_verification(false)
        .build()
}

/// The certificates in `ca_pem`. Anything unparsable is left out, never replaced by other
/// roots: with nothing trusted every handshake fails as a `tls` outcome.
fn trusted_roots(ca_pem: Option<&str>) -> Vec<Certificate<'static>> {
    let Some(pem) = ca_pem else {
        return Vec::new();
    };
    ureq::tls::parse_pem(pem.as_bytes())
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect()
}

impl BlockingHttp for UreqClient {
    fn get(&self, url: &Url) -> Result<RawResponse, FetchError> {
        let response = self.agent.get(url.as_str()).call().map_err(map_error)?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (status, location, content_type) = (
            response.status().as_u16(),
            header("location"),
            header("content-type"),
        );
        let content_length = header("content-length").and_then(|v| v.parse().ok());
        let buffer = BodyBuffer::new(self.max_body, content_length)?;
        let body = buffer
            .read_from(response.into_body().into_reader())
            .map_err(|e| body_read_error(&e))?;
        Ok(RawResponse {
            status,
            location,
            content_type,
            body,
        })
    }
}

/// Maps one attempt's ureq error to the core's kinds. TLS failures are named explicitly: ureq
/// reports a failed handshake (an untrusted issuer, a bad certificate, an alert) as an
/// `io::Error` of kind `InvalidData` wrapping the `rustls::Error`, which would otherwise read as
/// an invalid response.
fn map_error(err: ureq::Error) -> FetchError {
    let kind = match &err {
        ureq::Error::Timeout(_) => ErrorKind::Timeout,
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => ErrorKind::Connect,
        ureq::Error::Tls(_)
        | ureq::Error::Rustls(_)
        | ureq::Error::Pem(_)
        | ureq::Error::TlsRequired => ErrorKind::Tls,
        ureq::Error::Io(io) if is_rustls_error(io) => ErrorKind::Tls,
        ureq::Error::Protocol(_) => ErrorKind::InvalidResponse,
        ureq::Error::BodyExceedsLimit(_) => ErrorKind::BodyTooLarge,
        ureq::Error::Io(io) => return FetchError::from_io(io, Phase::Head),
        _ => return FetchError::classify(&err, Phase::Head),
    };
    FetchError::new(kind, err.to_string())
}

fn is_rustls_error(err: &std::io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>())
}

/// The `threadpool-ureq` backend.
#[derive(Debug, Default)]
pub struct ThreadpoolUreq;

impl Backend for ThreadpoolUreq {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "threadpool-ureq".into(),
            runtime: "std::thread pool".into(),
            client: "ureq 3".into(),
            model: ConcurrencyModel::Threads,
            threads: "= concurrency".into(),
            status: UpstreamStatus::Maintained,
            max_concurrency: Some(crawlbench_core::driver::MAX_POOL_THREADS),
            tls: Some(TLS.into()),
            http: HttpVersion::Http1,
            connection_policies: ConnectionPolicy::ALL.to_vec(),
        }
    }

    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError> {
        let info = self.info();
        measure(info.clone(), job, || {
            let client = Arc::new(UreqClient::new(job, job.concurrency()));
            run_on_thread_pool(&info, job, job.concurrency(), client)
        })
    }
}
