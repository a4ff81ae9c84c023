//! Workload `seed-replica`: the original Python experiment's shape, to show where its
//! conclusion came from. Lists of N = 6·i URLs, a slow server (250 ms per response in the full
//! profile), thread and process pools of 3 workers, async backends unbounded (the original's
//! `asyncio.gather`). Pools take ceil(N / 3) rounds; async takes one.
//!
//! Criterion measures every point at least 11 times; all 19 points at 250 ms would keep the three
//! pool-of-3 backends busy for about 50 minutes, so the full profile samples i = 1, 10 and 19
//! (the pools' line and the async backends' flat one need no more). `CRAWLBENCH_SEED_REPLICA_ALL=1`
//! measures all 19.

use crawlbench_benches::{Cell, Profile, Workload, is_pool_model, list_job};
use crawlbench_origin::SiteSpec;

fn workload(profile: Profile) -> Workload {
    let delay_ms = profile.pick(25.0, 250.0);
    let all: Vec<u32> = (1..=19).collect();
    let steps: &[u32] = if std::env::var_os("CRAWLBENCH_SEED_REPLICA_ALL").is_some() {
        &all
    } else {
        &[1, 10, 19]
    };
    let cells = steps
        .iter()
        .map(|&i| {
            let n = 6 * i;
            Cell {
                parameter: n.to_string(),
                job: Box::new(move |site, info| {
                    let concurrency = if is_pool_model(info) { 3 } else { n as usize };
                    list_job(site, n, concurrency).build().expect("valid job")
                }),
                ideal_secs: None,
            }
        })
        .collect();
    Workload {
        name: "seed-replica",
        site: SiteSpec {
            pages: 6 * 19,
            latency: crawlbench_origin::LatencyModel::Fixed { ms: delay_ms },
            ..Default::default()
        },
        cells,
    }
}

fn main() {
    crawlbench_benches::main(workload);
}
