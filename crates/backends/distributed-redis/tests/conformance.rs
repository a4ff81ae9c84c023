//! The shared conformance suite on one host: a private Redis per run and local workers (the
//! backend as `crawlbench run --backend distributed-redis` runs it by default). Skips, saying
//! why, where redis-server is not installed — unless `CRAWLBENCH_REQUIRE_NETNS=1` (CI), which
//! turns that into failures.

use crawlbench_core::Backend;
use crawlbench_distributed_redis::{DistributedRedis, WorkerCommand};

fn backend() -> DistributedRedis {
    DistributedRedis::new(WorkerCommand::new(env!(
        "CARGO_BIN_EXE_crawlbench-redis-worker"
    )))
}

fn unavailable() -> Option<String> {
    backend()
        .unavailable()
        .filter(|_| std::env::var_os("CRAWLBENCH_REQUIRE_NETNS").is_none_or(|v| v != "1"))
}

crawlbench_conformance::conformance_suite!(backend(), skip_unless = unavailable());
