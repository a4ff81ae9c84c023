//! Backend `threadpool-ureq`: a fixed pool of OS threads, one per in-flight request, each making
//! blocking calls with one shared [`ureq`] agent — the seed experiment's `requests + ThreadPool`.
//!
//! [`UreqClient`] is public because other backends (thread-pool-under-tokio, the blocking
//! multi-process workers) measure the same client under a different scheduler: they reuse it
//! rather than copy it.
//!
//! Silent caps avoided here: ureq 3 keeps only 10 idle connections (3 per host) by default, so
//! most requests would open a new connection; the pool is sized to the job's concurrency.
//! ureq reads `HTTP_PROXY`/`ALL_PROXY` from the environment by default; that is switched off so
//! a benchmark is never silently rerouted.

use std::sync::Arc;

use crawlbench_core::{
    Backend, BackendError, BackendInfo, BlockingHttp, BodyBuffer, ConcurrencyModel, CrawlJob,
    CrawlReport, ErrorKind, FetchError, RawResponse, UpstreamStatus,
    driver::run_on_thread_pool,
    fetch::{Phase, body_read_error},
    report::measure,
};
use url::Url;

/// One ureq agent configured for a job: pool sized to the concurrency, no proxy, no redirects
/// (the core follows them), statuses returned rather than raised, the job's timeout on the
/// whole call.
#[derive(Debug)]
pub struct UreqClient {
    agent: ureq::Agent,
    max_body: u64,
}

impl UreqClient {
    /// A client for `job`, sized for `connections` concurrent connections.
    pub fn new(job: &CrawlJob, connections: usize) -> Self {
        let agent = ureq::Agent::config_builder()
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(job.timeout()))
            .max_idle_connections(connections.max(1))
            .max_idle_connections_per_host(connections.max(1))
            .user_agent(job.user_agent())
            .no_delay(true)
            .build()
            .new_agent();
        Self {
            agent,
            max_body: job.max_body_bytes(),
        }
    }
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

fn map_error(err: ureq::Error) -> FetchError {
    let kind = match &err {
        ureq::Error::Timeout(_) => ErrorKind::Timeout,
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => ErrorKind::Connect,
        ureq::Error::Protocol(_) => ErrorKind::InvalidResponse,
        ureq::Error::BodyExceedsLimit(_) => ErrorKind::BodyTooLarge,
        ureq::Error::Io(io) => return FetchError::from_io(io, Phase::Head),
        _ => return FetchError::classify(&err, Phase::Head),
    };
    FetchError::new(kind, err.to_string())
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
            tls: None,
            http: crawlbench_core::HttpVersion::Http1,
            connection_policies: vec![crawlbench_core::ConnectionPolicy::Reuse],
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
