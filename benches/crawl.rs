//! Workload `crawl`: link-following over a synthetic site through the shared frontier (scope,
//! dedupe), 100 in flight, 20 ms per response. Exercises what a list does not: discovery, HTML
//! parsing, and a frontier that starts narrow and widens.

use crawlbench_benches::{Cell, Profile, Workload};
use crawlbench_core::CrawlJob;
use crawlbench_origin::{LatencyModel, SiteSpec};

fn workload(profile: Profile) -> Workload {
    let (pages, c, delay_ms) = profile.pick((1000u32, 50usize, 10.0), (5000, 100, 20.0));
    Workload {
        name: "crawl",
        site: SiteSpec {
            pages,
            latency: LatencyModel::Fixed { ms: delay_ms },
            ..Default::default()
        },
        cells: vec![Cell {
            parameter: pages.to_string(),
            job: Box::new(move |site, _| {
                CrawlJob::crawl(vec![site.seed_url()], 10_000_000)
                    .concurrency(c)
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
