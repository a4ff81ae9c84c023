//! Workload `seed-replica`: the original Python experiment's shape, to show where its
//! conclusion came from. Lists of N = 6·i URLs, a slow server (250 ms per response in the full
//! profile), thread and process pools of 3 workers, async backends unbounded (the original's
//! `asyncio.gather`). Pools take ceil(N / 3) rounds; async takes one.

use crawlbench_benches::{Cell, Profile, Workload, is_pool_model, list_job};
use crawlbench_origin::SiteSpec;

fn workload(profile: Profile) -> Workload {
    let delay_ms = profile.pick(25.0, 250.0);
    let steps: &[u32] = profile.pick(&[1, 10, 19], &[1, 7, 13, 19]);
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
