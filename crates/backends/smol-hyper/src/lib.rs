//! Backend `smol-hyper` (and `smol-st-hyper`): hyper 1.x's low-level HTTP/1 client on a smol
//! executor, one task per in-flight request — the smol-ecosystem counterpart of
//! `tokio-reqwest`, with no tokio runtime anywhere on the client side.
//!
//! Two flavours, each its own registry row:
//!
//! - [`SmolHyper::multi_thread`] (`smol-hyper`): one `async_executor::Executor` run on exactly
//!   as many OS threads as there are cores — the calling thread plus `cores - 1` helpers the
//!   backend starts and joins itself. smol's global executor is *not* used: it runs one thread
//!   unless the `SMOL_THREADS` environment variable says otherwise, a hidden knob.
//! - [`SmolHyper::single_thread`] (`smol-st-hyper`): the same executor run only on the calling
//!   thread — one thread, many requests in flight, like a single asyncio loop. It is an
//!   `Executor` rather than a `LocalExecutor` because the core's `AsyncHttp` wants a `Send +
//!   Sync` client returning `Send` futures, and the client must hold a handle to the executor to
//!   spawn connection drivers; with a single runner its synchronisation is uncontended.
//!
//! Every thread blocks in `smol::block_on`, so the blocked thread drives async-io's reactor and
//! timers itself. async-io also starts one process-wide "async-io" fallback thread on first use
//! (it cannot be switched off); it mostly sleeps while a `block_on` is driving the reactor, and
//! it is not counted in [`BackendInfo::threads`].
//!
//! **No hidden tokio.** TCP is smol's `Async<std::net::TcpStream>`, adapted to hyper's
//! `rt::Read`/`rt::Write` by the `smol-hyper` crate's `FuturesIo`; each connection's driver is a
//! task on the backend's executor; timeouts are `smol::Timer`s. No `async-compat`, no tokio
//! runtime, reactor or timer. (The `tokio` crate is still linked, with only its `sync` feature:
//! hyper 1.x uses its channels internally, which need no runtime.)
//!
//! **The pool.** hyper's `client::conn` has no pool, so [`HyperClient`] keeps idle keep-alive
//! connections itself: a connection goes back after its response was read to the end, is taken
//! by the next attempt to the same `host:port`, and is dropped on any error, on the body cap, or
//! when it has closed. A request that a dead idle connection could not even start sending is
//! moved to another connection (the server never saw it, so it is no attempt and no hidden
//! retry). Counts of connections opened and reused go into the report's `extra`.
//!
//! **Fresh connections.** With `connections = fresh` (a new TCP — and TLS — connection for every
//! request, like Python's `requests.get` without a `Session`) the client simply bypasses the
//! pool: every attempt connects, and the connection is never put back, so dropping its last
//! handle after the response makes hyper's driver shut it down and close the socket. Nothing
//! else changes — the same executor, tasks, timeouts and request — so `fresh` minus `reuse` is
//! the cost of connection setup on this stack and nothing more. The origin's own connection
//! count checks it (connections = requests).
//!
//! **TLS.** `https://` goes through rustls 0.23 with the ring provider, via `futures-rustls`
//! (rustls for `futures-io` streams): the TLS stream wraps the same `Async<TcpStream>` and is
//! handed to hyper through the same `FuturesIo` adaptor, so TLS, like TCP, runs on smol's
//! reactor with no tokio involved (`tokio-rustls` would need tokio's IO traits and an
//! `async-compat` layer). The one `rustls::ClientConfig` is built once per run, only for a job
//! that uses TLS, and trusts exactly the job's CA (never system roots, never verification off);
//! ALPN offers only `http/1.1`, since hyper's HTTP/1 connection drives the stream. hyper's
//! `SendRequest` does not name its transport, so one pool holds plain and TLS connections (keyed
//! by scheme, host and port) and the plain path stays a bare `Async<TcpStream>` — no enum, no
//! box. A failed handshake (an untrusted certificate, an alert) is the outcome `tls`.
//!
//! **Names the job resolves** ([`CrawlJob::resolve`], curl's `--resolve`). hyper's low-level
//! client does no DNS, so the connect code is the resolver: a URL host found in the job's map is
//! connected to at the mapped address (the URL's port, or the scheme's default) without any
//! lookup; other names go to smol's resolver as before. The pool key, the `Host` header and the
//! TLS server name (SNI, and the name the certificate is verified against) stay the URL's, so
//! `h0.crawl.test` and `h1.crawl.test` on one address are two hosts with their own connections.
//!
//! **Source address.** [`HyperClient::with_source_address`] makes every connection from a chosen
//! local address, so that worker processes of one machine each connect from their own loopback
//! address and each get their own ~28,000 ephemeral ports per destination. smol's
//! `Async::<TcpStream>::connect` cannot bind first, so that path makes the socket with socket2,
//! sets `IP_BIND_ADDRESS_NO_PORT`, binds, connects and hands the socket to smol's reactor; the
//! path without a source address is smol's connect as before.

mod client;
mod executor;
mod pool;
mod tls;

use std::sync::Arc;

use crawlbench_core::{
    Backend, BackendError, BackendInfo, ConcurrencyModel, CrawlJob, CrawlReport, UpstreamStatus,
    driver::{Driven, drive},
    fetch::fetch_async,
    report::measure,
};
use smol::Executor;
use url::Url;

pub use client::{ClientSetupError, HyperClient};
use executor::{ExecutorThreads, spawn_guarded};
pub use tls::TlsSetupError;

/// How many threads run the executor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    /// One per core.
    MultiThread,
    /// The calling thread only.
    SingleThread,
}

/// The smol + hyper backend in one of its flavours.
#[derive(Debug)]
pub struct SmolHyper {
    flavor: Flavor,
}

impl SmolHyper {
    /// `smol-hyper`: the executor on one thread per core.
    pub fn multi_thread() -> Self {
        Self {
            flavor: Flavor::MultiThread,
        }
    }

    /// `smol-st-hyper`: the executor on the calling thread only.
    pub fn single_thread() -> Self {
        Self {
            flavor: Flavor::SingleThread,
        }
    }

    /// The number of OS threads that run the executor (and so the requests).
    pub fn executor_threads(&self) -> usize {
        match self.flavor {
            Flavor::MultiThread => cores(),
            Flavor::SingleThread => 1,
        }
    }

    /// Runs the crawl loop on a fresh executor and tears everything down before returning.
    fn run_job(&self, info: &BackendInfo, job: &CrawlJob) -> Result<Driven, BackendError> {
        let executor = Arc::new(Executor::new());
        let threads = self.executor_threads();
        let helpers = ExecutorThreads::start(&executor, threads - 1).map_err(|e| {
            info.setup_error(format!("cannot start {threads} executor threads: {e}"))
        })?;
        let client = Arc::new(
            HyperClient::new(job, &executor).map_err(|e| info.setup_error(e.to_string()))?,
        );
        let shared_job = Arc::new(job.clone());
        let dispatch = |url: Url| {
            let (client, job, lost) = (Arc::clone(&client), Arc::clone(&shared_job), url.clone());
            spawn_guarded(&executor, lost, async move {
                fetch_async(&*client, &job, url).await
            })
        };
        let mut driven = smol::block_on(executor.run(drive(job, dispatch)));
        for (key, value) in [
            ("executor_threads", threads as f64),
            ("connections_opened", client.connections_opened() as f64),
            ("connections_reused", client.connections_reused() as f64),
        ] {
            driven.extra.insert(key.to_owned(), value);
        }
        // Order matters for a clean end: drop the pool (its connections' drivers then finish),
        // stop and join the helpers, then drop the executor with any task still in it.
        drop(client);
        drop(helpers);
        drop(executor);
        Ok(driven)
    }
}

impl Backend for SmolHyper {
    fn info(&self) -> BackendInfo {
        let threads = self.executor_threads();
        let (name, runtime, model, threads) = match self.flavor {
            Flavor::MultiThread => (
                "smol-hyper",
                format!("smol 2 (async-executor on {threads} threads)"),
                ConcurrencyModel::AsyncMultiThread,
                format!("{threads} (one per core)"),
            ),
            Flavor::SingleThread => (
                "smol-st-hyper",
                "smol 2 (one thread)".to_owned(),
                ConcurrencyModel::AsyncSingleThread,
                "1".to_owned(),
            ),
        };
        BackendInfo {
            name: name.into(),
            runtime,
            client: "hyper 1 (http1 conn, own pool)".into(),
            model,
            threads,
            status: UpstreamStatus::Maintained,
            max_concurrency: None,
            tls: Some("rustls 0.23 (ring) via futures-rustls".into()),
            http: crawlbench_core::HttpVersion::Http1,
            connection_policies: crawlbench_core::ConnectionPolicy::ALL.to_vec(),
        }
    }

    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError> {
        let info = self.info();
        measure(info.clone(), job, || self.run_job(&info, job))
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
