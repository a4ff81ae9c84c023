//! Backend `distributed-redis`: the crawl's work queue, leases and outcomes in Redis, and
//! workers on any number of hosts pulling URLs from it — the pattern of scrapy-redis and its
//! descendants, measured against the same origin and verified like every other backend.
//!
//! # Who does what
//! - **The coordinator** (this backend's `run`, in the calling process) runs the core's crawl
//!   loop: the frontier (scope, politeness, robots.txt, the seen-set), retries and redirects are
//!   decided where they are for every backend, and "exactly `concurrency` in flight" means the
//!   same here. Each URL it dispatches becomes an entry in the run's Redis queue; each outcome
//!   comes back through a Redis list (`coordinator.rs`).
//! - **Workers** (`crawlbench worker --redis redis://HOST:PORT/N`, `worker.rs`) on any machine
//!   take entries under a lease, fetch them with their stack (tokio + reqwest, the core's fetch
//!   policy: one GET attempt at a time, redirects and retries as the job says), and complete
//!   them. When the user starts none, the coordinator starts local ones (`local.rs`): the job's
//!   `processes`, else one per core, each with an even share of the concurrency.
//! - **Redis** holds nothing the coordinator needs to remember: a lost Redis fails the run with
//!   the reason, keeping every outcome already received. With no Redis named, each run starts a
//!   private `redis-server` on 127.0.0.1 (`server.rs`; persistence off).
//!
//! # Exactly once
//! A worker holds a URL under its lease (a key whose expiry its heartbeats renew, every fifth of
//! the job's `worker_watchdog`). A worker that dies or stalls stops renewing; the coordinator's
//! reaper returns what it held to the front of the queue; its late completions are refused
//! (`stale`), because a completion is accepted only while the worker still holds that URL. Each
//! step is one Lua script (`scripts.rs`), so no crash falls between a take and its lease, or
//! between accepting an outcome and forwarding it. A URL whose first worker died is fetched
//! again by another: the origin may see that request twice, the report has one outcome.
//!
//! # What the report adds
//! `extra`: `redis_commands` and `redis_cpu_secs` (from the server's own `INFO`, over the run),
//! `workers_joined` (worker ids handed out; a worker that rejoined counts again), `workers_reaped`,
//! `requeued_after_lost_lease`, `local_workers`. Local workers
//! and a private Redis are reaped inside the run, so their CPU is in the run's children CPU;
//! remote workers' CPU is theirs to report (the multi-host bench reads it per host).

mod connection;
mod coordinator;
mod keys;
mod local;
mod scripts;
mod server;
mod worker;

use std::time::Duration;

use crawlbench_core::{
    Backend, BackendError, BackendInfo, ConcurrencyModel, ConnectionPolicy, CrawlJob, CrawlReport,
    HttpVersion, UpstreamStatus, report::measure,
};
pub use crawlbench_multiprocess::WorkerCommand;

pub use connection::RedisTarget;
pub use server::PrivateRedis;
pub use worker::{Stack, USAGE as WORKER_USAGE, WorkerArgs, worker_main};

/// How long a run may go without any worker while URLs wait, unless set otherwise.
pub const DEFAULT_JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The `distributed-redis` backend.
#[derive(Debug)]
pub struct DistributedRedis {
    redis: Option<RedisTarget>,
    local_workers: Option<usize>,
    remote_workers: usize,
    command: WorkerCommand,
    stack: Stack,
    join_timeout: Duration,
}

impl DistributedRedis {
    /// A private Redis per run and local workers started with `command` (a program whose
    /// arguments, followed by [`WorkerArgs::to_args`], run [`worker_main`]: `crawlbench worker`).
    pub fn new(command: WorkerCommand) -> Self {
        Self {
            redis: None,
            local_workers: None,
            remote_workers: 0,
            command,
            stack: Stack::TokioReqwest,
            join_timeout: DEFAULT_JOIN_TIMEOUT,
        }
    }

    /// Uses this Redis instead of a private one.
    pub fn with_redis(self, redis: RedisTarget) -> Self {
        Self {
            redis: Some(redis),
            ..self
        }
    }

    /// Starts `n` local workers per run (0: rely on workers started elsewhere).
    pub fn with_local_workers(self, n: usize) -> Self {
        Self {
            local_workers: Some(n),
            ..self
        }
    }

    /// Expects `n` workers started elsewhere (`crawlbench worker --redis …`) besides the local
    /// ones: the run's concurrency is split evenly over all of them, each worker holding at most
    /// its share, so their connection pools together never exceed the concurrency (start as
    /// many as you declare: fewer cannot reach it, more may hold extra connections).
    pub fn with_remote_workers(self, n: usize) -> Self {
        Self {
            remote_workers: n,
            ..self
        }
    }

    /// Starts local workers with this fetch stack (default: tokio + reqwest; `Stack::Null` for
    /// the store's own ceiling — such runs never verify). Workers started elsewhere choose
    /// their own (`--stack`).
    pub fn with_stack(self, stack: Stack) -> Self {
        Self { stack, ..self }
    }

    /// How long a run may have no worker while URLs wait before it fails.
    pub fn with_join_timeout(self, timeout: Duration) -> Self {
        Self {
            join_timeout: timeout,
            ..self
        }
    }

    /// Local workers for `job`: the job's `processes`, else what was configured, else one per
    /// core; never more than the job's concurrency.
    fn local_count(&self, job: &CrawlJob) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        job.processes()
            .or(self.local_workers)
            .unwrap_or(cores)
            .min(job.concurrency().min(job.max_urls()))
    }
}

/// A run id: unique across runs and coordinators sharing one Redis.
fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{nanos}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    );
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(seed.as_bytes()))
}

impl Backend for DistributedRedis {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "distributed-redis".into(),
            runtime: "workers on any host, each a tokio 1 current-thread runtime; frontier in \
                      Redis"
                .into(),
            client: "reqwest 0.13 (workers), redis-rs 1 (frontier)".into(),
            model: ConcurrencyModel::AsyncProcesses,
            threads: "1 per worker process".into(),
            status: UpstreamStatus::Maintained,
            max_concurrency: None,
            tls: Some(crawlbench_tokio_reqwest::TLS_LIBRARY.into()),
            http: HttpVersion::Http1,
            connection_policies: ConnectionPolicy::ALL.to_vec(),
        }
    }

    fn unavailable(&self) -> Option<String> {
        match self.redis {
            Some(_) => None,
            None => server::find().err(),
        }
    }

    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError> {
        let info = self.info();
        let setup_error = |reason: String| BackendError::Setup {
            backend: info.name.clone(),
            reason,
        };
        measure(info.clone(), job, || {
            let private = match &self.redis {
                Some(_) => None,
                None => Some(PrivateRedis::start().map_err(setup_error)?),
            };
            let target = self
                .redis
                .clone()
                .or_else(|| private.as_ref().map(|p| p.target().clone()))
                .expect("a named or a private Redis");
            let run_id = new_run_id();
            let local = self.local_count(job);
            let expected = local + self.remote_workers;
            if expected == 0 {
                return Err(BackendError::Unsupported {
                    backend: info.name.clone(),
                    reason: "no workers: start local ones (--local-workers N, N ≥ 1) or declare \
                             those started elsewhere (--remote-workers N)"
                        .into(),
                });
            }
            // Only as many requests as URLs can ever be in flight.
            let in_flight = job.concurrency().min(job.max_urls());
            let budget = crawlbench_multiprocess::per_worker_in_flight();
            let share = in_flight.div_ceil(expected);
            if local > 0 && share > budget {
                return Err(BackendError::Unsupported {
                    backend: info.name.clone(),
                    reason: format!(
                        "{expected} workers would hold up to {share} requests in flight each, \
                         above one process's budget of {budget} (its open-file limit); use at \
                         least {} (--processes or --local-workers)",
                        in_flight.div_ceil(budget)
                    ),
                });
            }
            let args = WorkerArgs {
                redis: target.clone(),
                stack: self.stack,
                slots: None,
                run: Some(run_id.clone()),
                exit_with_stdin: true,
            };
            let mut workers = None;
            let mut start_workers = || {
                workers = Some(local::LocalWorkers::start(&self.command, &args, local)?);
                Ok(())
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| setup_error(format!("cannot build the tokio runtime: {e}")))?;
            let result = runtime.block_on(coordinator::run(
                job,
                coordinator::RunSetup {
                    redis: &target,
                    run_id: &run_id,
                    share,
                    join_timeout: self.join_timeout,
                    on_ready: &mut start_workers,
                },
            ));
            let peaks = workers.map(local::LocalWorkers::stop).unwrap_or_default();
            drop(private);
            let mut driven = result.map_err(setup_error)?;
            driven.worker_peaks = peaks;
            driven.extra.insert("local_workers".into(), local as f64);
            Ok(driven)
        })
    }
}
