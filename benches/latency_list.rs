//! Workload `latency-list`: a latency-bound list — N URLs, C in flight, a fixed server delay.
//! The ideal makespan is ceil(N / C) × delay; efficiency = ideal / measured shows how much a
//! model's scheduling adds on top of waiting.

use crawlbench_benches::{Cell, Profile, Workload, list_job};
use crawlbench_origin::{LatencyModel, SiteSpec};

fn workload(profile: Profile) -> Workload {
    let (n, c, delay_ms) = profile.pick((400u32, 40usize, 50.0), (2000, 200, 50.0));
    Workload {
        name: "latency-list",
        site: SiteSpec {
            pages: n,
            latency: LatencyModel::Fixed { ms: delay_ms },
            ..Default::default()
        },
        cells: vec![Cell {
            parameter: n.to_string(),
            job: Box::new(move |site, _| list_job(site, n, c).build().expect("valid job")),
            ideal_secs: Some((n as usize).div_ceil(c) as f64 * delay_ms / 1e3),
        }],
    }
}

fn main() {
    crawlbench_benches::main(workload);
}
