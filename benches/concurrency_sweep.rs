//! Workload `concurrency-sweep`: the C10K question. In-flight limit C ∈ {16, 128, 1,024, 10,000}
//! with a 200 ms server delay and N = 4·C URLs: throughput and peak memory against C. A backend
//! that cannot reach a C (thread, process or descriptor limits) shows the failure with its reason
//! instead of running at a lower C.

use crawlbench_benches::{Cell, Profile, Workload, list_job};
use crawlbench_origin::{LatencyModel, SiteSpec};

fn workload(profile: Profile) -> Workload {
    let (limits, delay_ms): (&[usize], f64) =
        profile.pick((&[16, 128, 1024], 100.0), (&[16, 128, 1024, 10_000], 200.0));
    let max_n = 4 * limits.iter().max().copied().unwrap_or(16) as u32;
    Workload {
        name: "concurrency-sweep",
        site: SiteSpec {
            pages: max_n,
            body_bytes: 512,
            links_per_page: 4,
            latency: LatencyModel::Fixed { ms: delay_ms },
            ..Default::default()
        },
        cells: limits
            .iter()
            .map(|&c| Cell {
                parameter: c.to_string(),
                job: Box::new(move |site, _| {
                    list_job(site, 4 * c as u32, c)
                        .timeout(std::time::Duration::from_secs(30))
                        .build()
                        .expect("valid job")
                }),
                ideal_secs: Some(4.0 * delay_ms / 1e3),
            })
            .collect(),
    }
}

fn main() {
    crawlbench_benches::main(workload);
}
