//! Workload `faults`: a list with 5 % faulty URLs — connection resets, 5xx, and stalls past the
//! 1 s timeout — with one retry allowed. Measures time and outcomes under failure; every run is
//! still verified (each faulty URL must end in exactly the outcome the origin predicts).

use std::time::Duration;

use crawlbench_benches::{Cell, Profile, Workload, list_job};
use crawlbench_origin::{LatencyModel, SiteSpec};

fn workload(profile: Profile) -> Workload {
    let (n, c) = profile.pick((400u32, 50usize), (2000, 100));
    Workload {
        name: "faults",
        site: SiteSpec {
            pages: n,
            latency: LatencyModel::Fixed { ms: 20.0 },
            faults: "reset=2%,500=1.5%,stall=1.5%"
                .parse()
                .expect("valid profile"),
            stall_ms: 30_000,
            ..Default::default()
        },
        cells: vec![Cell {
            parameter: n.to_string(),
            job: Box::new(move |site, _| {
                list_job(site, n, c)
                    .timeout(Duration::from_secs(1))
                    .retries(1)
                    .build()
                    .expect("valid job")
            }),
            ideal_secs: None,
        }],
    }
}

fn main() {
    crawlbench_benches::main(workload);
}
