//! Workload `throughput`: no server delay, small bodies, 64 in flight — what each model costs per
//! request in CPU, and how many requests per second it can ask for on a shared 2-core machine
//! (the origin's own CPU is reported apart).

use crawlbench_benches::{Cell, Profile, Workload, list_job};
use crawlbench_origin::SiteSpec;

fn workload(profile: Profile) -> Workload {
    let n = profile.pick(3000u32, 20_000);
    Workload {
        name: "throughput",
        site: SiteSpec {
            pages: n,
            body_bytes: 512,
            links_per_page: 4,
            ..Default::default()
        },
        cells: vec![Cell {
            parameter: n.to_string(),
            job: Box::new(move |site, _| list_job(site, n, 64).build().expect("valid job")),
            ideal_secs: None,
        }],
    }
}

fn main() {
    crawlbench_benches::main(workload);
}
