//! Backends `multiprocess-async` and `multiprocess-blocking`: a coordinator in the calling process
//! fans URLs out to worker processes over framed stdio pipes — the Rust counterparts of Python's
//! `aiomultiprocess` (an event loop per process) and `requests` + `ProcessPoolExecutor` (one
//! blocking request per process).
//!
//! A worker is the same fetch code as the in-process backends behind a different dispatcher:
//! `multiprocess-async` workers run [`crawlbench_tokio_reqwest`]'s engine on a current-thread
//! tokio runtime, `multiprocess-blocking` workers run [`crawlbench_threadpool_ureq::UreqClient`]
//! through the core's `fetch_blocking`. The frontier, scope, retries and outcomes stay in the
//! core; the coordinator runs the core's `drive` loop, so "exactly `concurrency` in flight" means
//! what it means for every backend.
//!
//! # TLS, connection policy and resolve map
//! Nothing of its own: the job a worker gets ([`CrawlJob::limits_only`]) carries the connection
//! policy, the trusted CA, the crawl rules and the resolve map ([`CrawlJob::resolve`]), and each
//! worker builds the same client the in-process backend builds from them.
//! `multiprocess-async`: [`crawlbench_tokio_reqwest::ReqwestClient`] (HTTP/1.1,
//! rustls on ring trusting only the job's CA; `reuse` keeps keep-alive connections with a budget
//! of the worker's share of the concurrency, `fresh` disables the pool so every request connects
//! anew). `multiprocess-blocking`: [`crawlbench_threadpool_ureq::UreqClient`] with a pool of one
//! connection per process (`reuse`) or none (`fresh`), ureq's rustls on ring with the same single
//! root. So the origin sees the same connections it would from the in-process backends, and
//! `verified_run` checks their count against the policy. A name in the resolve map is connected
//! to at its address and still sent as the name (Host header, TLS server name), through
//! reqwest's DNS overrides (async) or the ureq agent's resolver (blocking). The rules themselves
//! (scope, politeness, robots.txt, nofollow) are applied by the coordinator's `drive` loop, never
//! by a worker.
//!
//! # Protocol
//! Frames are a `u32` little-endian length (capped at [`MAX_FRAME_BYTES`]) and a postcard payload,
//! on the worker's stdin (coordinator → worker) and stdout (worker → coordinator); stderr is for
//! diagnostics only.
//! - coordinator → worker: `Hello { version, mode, job, slots, worker, incarnation }` first, then
//!   `Fetch { id, url }`. Closing stdin means "stop now": the worker exits at once.
//! - worker → coordinator: `Hello { version, pid }` once its engine is built (or
//!   `Refused { reason }` when it cannot run the job), then `Outcome { id, outcome }` per fetch.
//!
//! Both `Hello`s carry [`PROTOCOL_VERSION`]; `Hello` is variant 0 with `version` first in every
//! version, so a worker from another build is refused by name ("speaks protocol version X, this
//! coordinator speaks Y") rather than by a decode error. `job` holds the limits only (a one-URL
//! stand-in workload), never the whole URL list, as JSON bytes inside the frame (the job's own
//! serde form; postcard cannot decode its tagged scope rule). Version 4: the job carries its
//! crawl rules and resolve map, an outcome `links_partial` and `robots_txt`.
//!
//! # Coordinator state machine
//! The calling thread runs `drive`; `dispatch(url)` sends the URL to the supervisor thread and
//! returns a future completed when its outcome arrives. The supervisor owns all state; one reader
//! thread per worker decodes its stdout. Each worker *slot* is `Starting` (spawned, `Hello` sent)
//! → `Ready` (its `Hello` had our version; it gets one token per fetch slot) → `Dead`.
//! - Dispatch: the URL gets an id and waits in a queue until a token is free; then a `Fetch` is
//!   written to that worker and the URL is recorded as held by it.
//! - Outcome: must name a URL that worker holds (else it is a protocol violation); the future is
//!   completed and the token returned.
//! - EOF, a malformed frame, a wrong version, a stray outcome, a failed write, no `Hello` within
//!   30 s: the worker is killed and reaped, the URLs it held go back to the *front* of the queue
//!   (their futures stay pending), and the slot is restarted as its next *incarnation* (events
//!   from an old incarnation are stale and ignored). Restarts are bounded (2·K+4 per run); past
//!   the budget, or for a URL whose workers died three times, the held URLs become lost outcomes.
//!   A slot that fails to start three times in a row, or a `Refused`, fails the run with the
//!   reason (e.g. both protocol versions).
//! - Finish (the loop returned, cancelled or not): every stdin is closed, workers get 500 ms to
//!   exit, the rest are killed, all are reaped inside `run` — so their CPU is in the report's
//!   `children_cpu_secs` — and no process outlives the run.
//!
//! # Memory
//! The report's memory is a *sum of per-process peaks*
//! ([`ResourceUsage::peak_rss_sum_bytes`](crawlbench_core::resources::ResourceUsage::peak_rss_sum_bytes)):
//! the coordinator's own peak plus every worker process's, restarted incarnations included
//! (`workers_peak_rss_sum_bytes`, `worker_processes`). A worker's peak is its own `VmHWM`, read
//! while it is alive — just before its stdin closes, or before it is killed. Not `wait4`'s
//! `ru_maxrss`: the kernel charges a spawned child with its parent's resident pages, so that
//! figure is at least the coordinator's RSS at spawn time; it stands in only for a worker that
//! had already exited (counted in `worker_peaks_from_rusage`).
//!
//! Counters in the report's `extra`: `workers`, `worker_restarts`, `malformed_frames`,
//! `ipc_bytes_sent`, `ipc_bytes_received`, `ipc_messages` (frames, headers included),
//! `urls_requeued`, `urls_lost_to_worker_deaths`, `worker_peaks_from_rusage`.

use std::{
    collections::BTreeSet,
    ffi::OsString,
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
};

use crawlbench_core::{
    Backend, BackendError, BackendInfo, ConcurrencyModel, ConnectionPolicy, CrawlJob, CrawlReport,
    HttpVersion, UpstreamStatus, report::measure,
};

mod coordinator;
mod protocol;
mod worker;

pub use protocol::{MAX_FRAME_BYTES, PROTOCOL_VERSION};
pub use worker::FAULT_ENV;

use protocol::Mode;

/// The most worker processes `multiprocess-blocking` starts (one per in-flight request); a job
/// asking for more concurrency is refused with this limit named.
pub const MAX_BLOCKING_WORKERS: usize = 512;

/// Runs a worker on this process's stdin/stdout until stdin closes; returns the exit code.
///
/// Call it from a binary's `main` (the `crawlbench-worker` binary of this crate, or the
/// `crawlbench` CLI's hidden `worker` subcommand) and exit with the result. Exit codes: 0 when
/// stdin closed, 1 when the coordinator's pipe failed, 2 for usage or protocol errors and refused
/// jobs, 3 for a protocol version mismatch.
pub fn worker_main() -> i32 {
    worker::main()
}

/// How to start a worker process: a program that calls [`worker_main`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerCommand {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments (e.g. `["worker"]` for the `crawlbench` CLI).
    pub args: Vec<String>,
    /// Extra environment variables for the worker (tests use it for [`FAULT_ENV`]).
    pub env: Vec<(OsString, OsString)>,
}

impl WorkerCommand {
    /// Runs `program` with no arguments.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Runs this very executable with `args` (for a CLI with a `worker` subcommand). When the
    /// executable's path cannot be found, `/proc/self/exe` is used, which on Linux names the same
    /// file in the forked child.
    pub fn current_exe_with<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
        Self {
            program,
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable for the worker.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// The multi-process backend in one of its two modes.
#[derive(Debug)]
pub struct MultiProcess {
    mode: Mode,
    command: WorkerCommand,
    async_workers: usize,
    pids: coordinator::PidSet,
}

impl MultiProcess {
    /// `multiprocess-async`: one worker per core (see [`MultiProcess::with_workers`]), each an
    /// event loop (a current-thread tokio runtime with reqwest) holding its share of the
    /// concurrency — like `aiomultiprocess`.
    pub fn asynchronous(command: WorkerCommand) -> Self {
        Self::new(Mode::Async, command)
    }

    /// `multiprocess-blocking`: one worker per in-flight request (up to
    /// [`MAX_BLOCKING_WORKERS`]), each doing one blocking ureq fetch at a time — like `requests`
    /// in a `ProcessPoolExecutor`.
    pub fn blocking(command: WorkerCommand) -> Self {
        Self::new(Mode::Blocking, command)
    }

    fn new(mode: Mode, command: WorkerCommand) -> Self {
        Self {
            mode,
            command,
            async_workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            pids: Arc::new(Mutex::new(BTreeSet::new())),
        }
    }

    /// Sets the number of `multiprocess-async` workers (default: one per core; at least 1). The
    /// blocking mode always runs one process per in-flight request and ignores it.
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.async_workers = workers.max(1);
        self
    }

    /// The PIDs of this backend's worker processes running right now (empty between runs).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.pids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect()
    }
}

impl Backend for MultiProcess {
    fn info(&self) -> BackendInfo {
        match self.mode {
            Mode::Async => BackendInfo {
                name: "multiprocess-async".into(),
                runtime: "worker processes, each a tokio 1 current-thread runtime".into(),
                client: "reqwest 0.13".into(),
                model: ConcurrencyModel::AsyncProcesses,
                threads: format!(
                    "{} worker processes × 1 thread (one per core)",
                    self.async_workers
                ),
                status: UpstreamStatus::Maintained,
                max_concurrency: None,
                tls: Some(crawlbench_tokio_reqwest::TLS_LIBRARY.into()),
                http: HttpVersion::Http1,
                connection_policies: ConnectionPolicy::ALL.to_vec(),
            },
            Mode::Blocking => BackendInfo {
                name: "multiprocess-blocking".into(),
                runtime: "worker processes, one blocking request each".into(),
                client: "ureq 3".into(),
                model: ConcurrencyModel::Processes,
                threads: "= concurrency (one process each)".into(),
                status: UpstreamStatus::Maintained,
                max_concurrency: Some(MAX_BLOCKING_WORKERS),
                tls: Some(crawlbench_threadpool_ureq::TLS.into()),
                http: HttpVersion::Http1,
                connection_policies: ConnectionPolicy::ALL.to_vec(),
            },
        }
    }

    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError> {
        let info = self.info();
        measure(info.clone(), job, || {
            let capacities = coordinator::plan(self.mode, job, self.async_workers);
            coordinator::run(&info, job, self.mode, &self.command, capacities, &self.pids)
        })
    }
}
