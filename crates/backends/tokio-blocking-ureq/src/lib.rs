//! Backend `tokio-blocking-ureq`: a tokio runtime that hands every blocking ureq call to
//! `spawn_blocking` — the seed experiment's "asyncio + requests + ThreadPool" (an event loop that
//! offloads a blocking client to threads).
//!
//! The seed found this gains nothing over plain threads; this row shows whether that holds in
//! Rust and what the extra layer costs (compare it with `threadpool-ureq`, which runs the very
//! same [`UreqClient`] on plain threads).
//!
//! Silent cap avoided: tokio allows at most 512 blocking threads by default, which would quietly
//! limit a job asking for more in flight; `max_blocking_threads` is set to the job's concurrency.
//!
//! TLS, the connection policy and the job's resolve map are the client's, unchanged: `https://`
//! through ureq's rustls with ring, trusting only the job's CA, `fresh` as an agent that keeps
//! no idle connection, and mapped names answered by the agent's resolver before any DNS (see
//! [`crawlbench_threadpool_ureq`] for how and why). Only the scheduler differs from
//! `threadpool-ureq`, so a difference between the two rows is the cost of the extra layer.

use std::sync::Arc;

use crawlbench_core::{
    Backend, BackendError, BackendInfo, ConcurrencyModel, ConnectionPolicy, CrawlJob, CrawlReport,
    HttpVersion, UpstreamStatus,
    driver::{MAX_POOL_THREADS, drive, settle},
    fetch::fetch_blocking,
    report::measure,
};
use crawlbench_threadpool_ureq::{TLS, UreqClient};

/// The `tokio-blocking-ureq` backend.
#[derive(Debug, Default)]
pub struct TokioBlockingUreq;

impl Backend for TokioBlockingUreq {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "tokio-blocking-ureq".into(),
            runtime: "tokio 1 (multi-thread + spawn_blocking)".into(),
            client: "ureq 3".into(),
            model: ConcurrencyModel::AsyncOverThreads,
            threads: "one per core + up to concurrency blocking".into(),
            status: UpstreamStatus::Maintained,
            max_concurrency: Some(MAX_POOL_THREADS),
            tls: Some(TLS.into()),
            http: HttpVersion::Http1,
            connection_policies: ConnectionPolicy::ALL.to_vec(),
        }
    }

    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError> {
        let info = self.info();
        measure(info.clone(), job, || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .max_blocking_threads(job.concurrency())
                .thread_stack_size(512 * 1024)
                .enable_all()
                .build()
                .map_err(|e| info.setup_error(e))?;
            let client = Arc::new(UreqClient::new(job, job.concurrency()));
            let shared_job = Arc::new(job.clone());
            Ok(runtime.block_on(drive(job, |url| {
                let (client, job) = (Arc::clone(&client), Arc::clone(&shared_job));
                let lost = url.clone();
                settle(
                    lost,
                    tokio::task::spawn_blocking(move || fetch_blocking(&*client, &job, url)),
                )
            })))
        })
    }
}
