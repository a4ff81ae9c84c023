//! Backends `multiprocess-async`, `multiprocess-smol` and `multiprocess-blocking`: a
//! coordinator in the calling process fans URLs out to worker processes over framed stdio pipes —
//! the Rust counterparts of Python's `aiomultiprocess` (an event loop per process) and
//! `requests` + `ProcessPoolExecutor` (one blocking request per process).
//!
//! A worker is the same fetch code as the in-process backends behind a different dispatcher:
//! `multiprocess-async` workers run [`crawlbench_tokio_reqwest`]'s engine on a current-thread
//! tokio runtime, `multiprocess-smol` workers run [`crawlbench_smol_hyper::HyperClient`] on one
//! `smol::Executor` on the worker's main thread (each fetch a task running the core's
//! `fetch_async`), `multiprocess-blocking` workers run
//! [`crawlbench_threadpool_ureq::UreqClient`] through the core's `fetch_blocking`. The frontier,
//! scope, retries and outcomes stay in the core; the coordinator runs the core's `drive` loop, so
//! "exactly `concurrency` in flight" means what it means for every backend.
//!
//! # How many workers (K) and the file budget
//! Every request in flight holds a socket, and a worker can open at most its `RLIMIT_NOFILE`
//! hard limit of descriptors (each worker raises its soft limit to it at start); [`FD_RESERVE`](crawlbench_core::resources::FD_RESERVE)
//! (1,000) of those are kept for the runtime, pipes and TLS files, so one worker holds at most
//! [`per_worker_in_flight`] requests (19,000 with this machine's hard limit of 20,000).
//! Async modes: K is the job's `processes` (or [`MultiProcess::with_workers`]) when set, else
//! `max(cores, ⌈C ÷ 8,000⌉)` (`plan::AUTO_IN_FLIGHT_PER_WORKER`: connects slow down as a source
//! address's port range fills); never more than `min(C, URLs)`; C is split evenly. So
//! C = 100,000 runs 13 workers of ~7,700 each here. An explicit K whose share exceeds the budget
//! is refused (`Unsupported`), naming the share, the budget and the smallest K that fits.
//! Blocking mode: one process per in-flight request, C ≤ [`MAX_BLOCKING_WORKERS`].
//!
//! # Source addresses
//! A source address has ~28,000 ephemeral ports, so 100,000 connections to one origin cannot all
//! leave from 127.0.0.1. When a job stays on IPv4 loopback (it does not allow other addresses and
//! every start URL is a 127.0.0.0/8 address or a name the job maps to an IPv4 address), async
//! worker slot `i` connects from its own address in a block of 127.0.0.0/8 drawn at random for
//! the run (`plan::source_address`: never 127.0.x.x; all of 127.0.0.0/8 is local on Linux — a
//! fresh block per run because reqwest binds its port at `bind` time, so ports a previous run left
//! in TIME_WAIT stay taken for a minute), sent in its `Hello` and handed to
//! `ReqwestClient::with_source_address` / `HyperClient::with_source_address`. Blocking workers
//! (≤ 512 connections in all) bind nothing. The report's `extra` counts them
//! (`source_addresses`).
//!
//! # TLS, connection policy and resolve map
//! Nothing of its own: the job a worker gets ([`CrawlJob::limits_only`]) carries the connection
//! policy, the trusted CA, the crawl rules and the resolve map ([`CrawlJob::resolve`]), and each
//! worker builds the same client the in-process backend builds from them.
//! `multiprocess-async`: [`crawlbench_tokio_reqwest::ReqwestClient`] (HTTP/1.1,
//! rustls on ring trusting only the job's CA; `reuse` keeps keep-alive connections with a budget
//! of the worker's share of the concurrency, `fresh` disables the pool so every request connects
//! anew). `multiprocess-smol`: [`crawlbench_smol_hyper::HyperClient`] (hyper's HTTP/1 connections
//! with its own keep-alive pool, bypassed under `fresh`; rustls via futures-rustls).
//! `multiprocess-blocking`: [`crawlbench_threadpool_ureq::UreqClient`] with a pool of one
//! connection per process (`reuse`) or none (`fresh`), ureq's rustls on ring with the same single
//! root. So the origin sees the same connections it would from the in-process backends, and
//! `verified_run` checks their count against the policy. A name in the resolve map is connected
//! to at its address and still sent as the name (Host header, TLS server name). The rules
//! themselves (scope, politeness, robots.txt, nofollow) are applied by the coordinator's `drive`
//! loop, never by a worker.
//!
//! # Protocol (version 5)
//! Frames are a `u32` little-endian length (capped at [`MAX_FRAME_BYTES`]) and a postcard payload,
//! on the worker's stdin (coordinator → worker) and stdout (worker → coordinator); stderr is for
//! diagnostics only.
//! - coordinator → worker: `Hello { version, mode, job, slots, worker, incarnation, source }`
//!   first, then `Fetch { id, url }`. Closing stdin means "stop now": the worker exits at once.
//! - worker → coordinator: `Hello { version, pid }` once its engine is built (or
//!   `Refused { reason }` when it cannot run the job), then `Outcome { id, outcome }` per fetch
//!   and an `Alive` heartbeat every fifth of the job's [`CrawlJob::worker_watchdog`].
//!
//! Both `Hello`s carry [`PROTOCOL_VERSION`]; `Hello` is variant 0 with `version` first in every
//! version (new variants go at the end), so a worker from another build is refused by name
//! ("speaks protocol version X, this coordinator speaks Y") rather than by a decode error. `job`
//! holds the limits only (a one-URL stand-in workload), never the whole URL list, as JSON bytes
//! inside the frame (the job's own serde form; postcard cannot decode its tagged scope rule).
//! Version 4: the job carries its crawl rules and resolve map, an outcome `links_partial` and
//! `robots_txt`. Version 5: three engines in `mode`, the `source` address, `Alive` heartbeats.
//!
//! # Heartbeats and the watchdog
//! Async workers send `Alive` from their event loop itself (a timer polled by the loop that
//! forwards outcomes), so a stuck loop falls silent; a blocking worker sends it from a small
//! thread (a blocking fetch may take its whole timeout × attempts), the output shared under a
//! mutex. The coordinator counts *any* frame as a sign of life. A `Ready` worker silent for
//! longer than the watchdog (default 5 s; [`WATCHDOG_ENV`] overrides it on the coordinator side)
//! is killed with SIGKILL (which also ends a SIGSTOPped process), reaped, its URLs reassigned and
//! its slot restarted — the same path as a death — and counted in `workers_stopped_by_watchdog`.
//!
//! # Coordinator state machine
//! The calling thread runs `drive`; `dispatch(url)` sends the URL to the supervisor thread and
//! returns a future completed when its outcome arrives. The supervisor drives a *pure* state
//! machine (`state.rs`: events in, actions out, time passed in, no processes or clocks inside)
//! and performs its actions; per worker a reader thread decodes its stdout and a writer thread
//! writes its stdin (so a worker that stops reading can never block the supervisor). Each worker
//! *slot* is `Starting` (spawned, `Hello` sent) → `Ready` (its `Hello` had our version; it gets
//! one token per fetch slot) → `Dead`.
//! - Dispatch: the URL gets an id and waits in a queue until a token is free; then a `Fetch` is
//!   sent to that worker and the URL is recorded as held by it.
//! - Outcome: must name a URL that worker holds (else it is a protocol violation); the future is
//!   completed and the token returned.
//! - EOF, a malformed frame, a wrong version, a stray outcome, a failed write, no `Hello` within
//!   30 s, silence past the watchdog: the worker is killed and reaped, the URLs it held go back
//!   to the *front* of the queue (their futures stay pending), and the slot is restarted as its
//!   next *incarnation* (events from an old incarnation are stale and ignored). Restarts are
//!   bounded (2·K+4 per run); past the budget, or for a URL whose workers died three times, the
//!   held URLs become lost outcomes. A slot that fails to start three times in a row, a
//!   `Refused`, or a first spawn that fails, fails the run with the reason (e.g. both protocol
//!   versions).
//! - Finish (the loop returned, cancelled or not): what is left is answered as lost, every stdin
//!   is closed, workers get 500 ms (`CRAWLBENCH_WORKER_GRACE_MS`) to exit, the rest are killed,
//!   all are reaped inside `run` — so their CPU is in the report's `children_cpu_secs` — and no
//!   process outlives the run.
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
//! `ipc_bytes_sent`, `ipc_bytes_received`, `ipc_messages` (frames, headers and heartbeats
//! included), `heartbeats`, `urls_requeued`, `urls_lost_to_worker_deaths`,
//! `workers_stopped_by_watchdog`, `worker_peaks_from_rusage`, `source_addresses`,
//! `worker_in_flight_budget`, `worker_watchdog_ms`.

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
mod plan;
mod protocol;
mod state;
mod worker;

pub use coordinator::WATCHDOG_ENV;
pub use plan::per_worker_in_flight;
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

/// The multi-process backend in one of its three modes.
#[derive(Debug)]
pub struct MultiProcess {
    mode: Mode,
    command: WorkerCommand,
    /// Async modes: workers when the job does not say (`None`: automatic).
    workers: Option<usize>,
    pids: coordinator::PidSet,
}

impl MultiProcess {
    /// `multiprocess-async`: worker processes (see the crate docs for how many), each an event
    /// loop (a current-thread tokio runtime with reqwest) holding its share of the concurrency —
    /// like `aiomultiprocess`.
    pub fn asynchronous(command: WorkerCommand) -> Self {
        Self::new(Mode::AsyncTokio, command)
    }

    /// `multiprocess-smol`: the same split as [`MultiProcess::asynchronous`], each worker one
    /// `smol::Executor` on its main thread driving smol-hyper's client.
    pub fn asynchronous_smol(command: WorkerCommand) -> Self {
        Self::new(Mode::AsyncSmol, command)
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
            workers: None,
            pids: Arc::new(Mutex::new(BTreeSet::new())),
        }
    }

    /// Sets the number of workers of the async modes for jobs that do not set `processes`
    /// (default: automatic, see the crate docs; at least 1). A job's `processes` wins. The
    /// blocking mode always runs one process per in-flight request and ignores it.
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers.max(1));
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

    fn async_threads(&self) -> String {
        match self.workers {
            Some(k) => format!("{k} worker processes × 1 thread (unless the job sets processes)"),
            None => format!(
                "max({} cores, ⌈concurrency ÷ {}⌉) worker processes × 1 thread",
                cores(),
                plan::AUTO_IN_FLIGHT_PER_WORKER.min(per_worker_in_flight())
            ),
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Backend for MultiProcess {
    fn info(&self) -> BackendInfo {
        match self.mode {
            Mode::AsyncTokio => BackendInfo {
                name: "multiprocess-async".into(),
                runtime: "worker processes, each a tokio 1 current-thread runtime".into(),
                client: "reqwest 0.13".into(),
                model: ConcurrencyModel::AsyncProcesses,
                threads: self.async_threads(),
                status: UpstreamStatus::Maintained,
                max_concurrency: None,
                tls: Some(crawlbench_tokio_reqwest::TLS_LIBRARY.into()),
                http: HttpVersion::Http1,
                connection_policies: ConnectionPolicy::ALL.to_vec(),
            },
            Mode::AsyncSmol => BackendInfo {
                name: "multiprocess-smol".into(),
                runtime: "worker processes, each a smol 2 executor on one thread".into(),
                client: "hyper 1 (http1 conn, own pool)".into(),
                model: ConcurrencyModel::AsyncProcesses,
                threads: self.async_threads(),
                status: UpstreamStatus::Maintained,
                max_concurrency: None,
                // The in-process smol-hyper backend's own statement of its TLS stack.
                tls: crawlbench_smol_hyper::SmolHyper::single_thread().info().tls,
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
            // The coordinator holds two pipes per worker: up to its hard limit too.
            crawlbench_core::resources::raise_fd_limit();
            let requested = job.processes().or(self.workers);
            let plan = plan::plan(
                self.mode,
                job,
                requested,
                cores(),
                per_worker_in_flight(),
                plan::random_source_block(),
            )
            .map_err(|reason| BackendError::Unsupported {
                backend: info.name.clone(),
                reason,
            })?;
            coordinator::run(&info, job, self.mode, &self.command, plan, &self.pids)
        })
    }
}
