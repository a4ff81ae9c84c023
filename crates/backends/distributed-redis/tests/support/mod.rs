//! The multi-host tests' network: a thin wrapper over `crawlbench-testnet` (which makes the
//! namespaces, starts Redis and the workers, and tears everything down), binding it to this
//! crate's worker binary and to the `distributed-redis` backend.
//!
//! ```text
//!  this test process (origin + coordinator) ── bridge cbtN (198.18.N.1/24)
//!      ├─ veth ── namespace cbtN-r      198.18.N.11   redis-server (persistence off)
//!      ├─ veth ── namespace cbtN-w1     198.18.N.21   crawlbench-redis-worker
//!      └─ veth ── namespace cbtN-w2     198.18.N.22   crawlbench-redis-worker
//! ```
//!
//! The origin is the unchanged conformance suite's, on this process's loopback; worker hosts
//! route 127.0.0.0/8 over the bridge, so every request a worker makes crosses a veth pair and
//! arrives from 198.18.N.2x — the tests check that it does. Teardown (drop, `atexit`, stale
//! networks of dead processes) and the skip rules (`CRAWLBENCH_REQUIRE_NETNS=1` makes a missing
//! capability a failure) are the crate's.

#![allow(dead_code)] // Each test binary uses part of this module.

use std::{
    path::Path,
    sync::{Mutex, MutexGuard, OnceLock, PoisonError},
};

use crawlbench_core::{Backend, BackendError, BackendInfo, CrawlJob, CrawlReport};
use crawlbench_distributed_redis::{DistributedRedis, RedisTarget, WorkerCommand};
pub(crate) use crawlbench_testnet::{TestNet, kill_all_in, skip};

/// The worker binary of this crate.
pub(crate) const WORKER: &str = env!("CARGO_BIN_EXE_crawlbench-redis-worker");

/// A network of `workers` worker hosts, one worker each, running this crate's worker binary.
pub(crate) fn up(workers: usize) -> Result<TestNet, String> {
    TestNet::up(workers, 1, Path::new(WORKER))
}

/// A network of `workers` worker hosts whose workers run the `null` stack (no fetch).
pub(crate) fn up_null(workers: usize) -> Result<TestNet, String> {
    let launch = crawlbench_testnet::WorkerLaunch::new(WORKER).trailing(["--stack", "null"]);
    TestNet::up_with(workers, 1, launch)
}

/// The Redis on `net`.
pub(crate) fn redis(net: &TestNet) -> RedisTarget {
    RedisTarget::parse(&net.redis_url()).expect("a Redis URL")
}

/// The network a test binary shares: two worker hosts, made on first use.
static SHARED: OnceLock<Result<Mutex<TestNet>, String>> = OnceLock::new();

/// The shared network, locked (one run at a time: a Redis serves one run at a time, and the
/// fault tests signal its workers).
pub(crate) fn shared_net() -> Result<MutexGuard<'static, TestNet>, String> {
    match SHARED.get_or_init(|| up(2).map(Mutex::new)) {
        Ok(net) => Ok(net.lock().unwrap_or_else(PoisonError::into_inner)),
        Err(why) => Err(why.clone()),
    }
}

/// Why the shared network cannot be made, for `conformance_suite!(…, skip_unless = …)`.
pub(crate) fn shared_net_unavailable() -> Option<String> {
    shared_net().err()
}

/// `distributed-redis` with no local workers, its Redis and both workers in namespaces of the
/// shared network; each run holds the network's lock.
#[derive(Debug)]
pub(crate) struct OnTestNet;

impl OnTestNet {
    /// The backend for the network `net`.
    pub(crate) fn backend(net: &TestNet) -> DistributedRedis {
        DistributedRedis::new(WorkerCommand::new(WORKER))
            .with_redis(redis(net))
            .with_local_workers(0)
            .with_remote_workers(net.workers())
    }
}

impl Backend for OnTestNet {
    fn info(&self) -> BackendInfo {
        DistributedRedis::new(WorkerCommand::new(WORKER)).info()
    }

    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError> {
        let net = shared_net().map_err(|reason| BackendError::Setup {
            backend: self.info().name,
            reason,
        })?;
        Self::backend(&net).run(job)
    }
}
