//! Backend `tokio-reqwest` (and `tokio-st-reqwest`): one [`reqwest`] client on a tokio runtime,
//! one task per in-flight request — the Rust counterpart of the seed's `asyncio + aiohttp`.
//!
//! Two flavours, each its own registry row: the multi-thread runtime (a worker per core) and the
//! current-thread runtime (one thread, many requests in flight, like a single asyncio loop).
//!
//! [`ReqwestClient`] and [`spawn_fetch`] are public for backends that reuse the tokio + reqwest
//! engine under another dispatcher (the multi-process workers).
//!
//! Silent caps avoided: reqwest limits only *idle* connections per host (unbounded by default),
//! never active ones, so the origin's peak in-flight reaches the job's limit; proxies from the
//! environment are ignored (`no_proxy`); redirects and retries are the core's, not reqwest's.

use std::{future::Future, sync::Arc};

use crawlbench_core::{
    AsyncHttp, Backend, BackendError, BackendInfo, BodyBuffer, ConcurrencyModel, CrawlJob,
    CrawlReport, ErrorKind, FetchError, FetchOutcome, RawResponse, UpstreamStatus,
    driver::{drive, settle},
    fetch::{Phase, fetch_async},
    report::measure,
};
use url::Url;

/// A reqwest client configured for a job.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
    max_body: u64,
}

impl ReqwestClient {
    /// A client for `job`. Must be built inside (or used only within) a tokio runtime.
    pub fn new(job: &CrawlJob) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .timeout(job.timeout())
            .user_agent(job.user_agent())
            .tcp_nodelay(true)
            .http1_only()
            .build()?;
        Ok(Self {
            client,
            max_body: job.max_body_bytes(),
        })
    }
}

fn map_error(err: &reqwest::Error, phase: Phase) -> FetchError {
    if err.is_timeout() {
        FetchError::new(ErrorKind::Timeout, err.to_string())
    } else if err.is_connect() {
        FetchError::new(ErrorKind::Connect, err.to_string())
    } else {
        FetchError::classify(err, phase)
    }
}

impl AsyncHttp for ReqwestClient {
    fn get(&self, url: &Url) -> impl Future<Output = Result<RawResponse, FetchError>> + Send {
        let request = self.client.get(url.as_str());
        let max_body = self.max_body;
        async move {
            let mut response = request
                .send()
                .await
                .map_err(|e| map_error(&e, Phase::Head))?;
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
}

impl TokioReqwest {
    /// `tokio-reqwest`: the multi-thread runtime, one worker per core.
    pub fn multi_thread() -> Self {
        Self {
            flavor: Flavor::MultiThread,
        }
    }
    /// `tokio-st-reqwest`: the current-thread runtime.
    pub fn current_thread() -> Self {
        Self {
            flavor: Flavor::CurrentThread,
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
        let (name, runtime, model, threads) = match self.flavor {
            Flavor::MultiThread => (
                "tokio-reqwest",
                "tokio 1 (multi-thread)",
                ConcurrencyModel::AsyncMultiThread,
                format!("{} (one per core)", cores()),
            ),
            Flavor::CurrentThread => (
                "tokio-st-reqwest",
                "tokio 1 (current-thread)",
                ConcurrencyModel::AsyncSingleThread,
                "1".to_owned(),
            ),
        };
        BackendInfo {
            name: name.into(),
            runtime: runtime.into(),
            client: "reqwest 0.13".into(),
            model,
            threads,
            status: UpstreamStatus::Maintained,
            max_concurrency: None,
            tls: None,
            http: crawlbench_core::HttpVersion::Http1,
            connection_policies: vec![crawlbench_core::ConnectionPolicy::Reuse],
        }
    }

    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError> {
        let info = self.info();
        measure(info.clone(), job, || {
            let runtime = self.runtime().map_err(|e| info.setup_error(e))?;
            let shared_job = Arc::new(job.clone());
            runtime.block_on(async {
                let client = Arc::new(ReqwestClient::new(job).map_err(|e| info.setup_error(e))?);
                Ok(drive(job, |url| spawn_fetch(&client, &shared_job, url)).await)
            })
        })
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
