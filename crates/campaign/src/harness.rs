//! The harness's own cost per URL, measured in-process with a dispatch that does no IO, so the
//! report can state how much of a backend's CPU per request is the shared harness rather than
//! the stack under test (the goal: ≤ 5 % of the fastest backend's CPU per request on a list).

use std::sync::Arc;

use crawlbench_core::{
    BackendInfo, ConcurrencyModel, CrawlReport, FetchOutcome, UpstreamStatus, driver::drive, links,
    resources::process_cpu_secs,
};
use crawlbench_origin::{Site, SiteSpec};
use futures_util::future;
use url::Url;

use crate::workloads::list_job;

/// CPU µs per URL of a list job through the crawl loop and the report (what the client process
/// spends on the harness), and µs per KiB of link extraction on the crawl workload's pages.
pub fn measure() -> (f64, f64) {
    let base = Url::parse("http://127.0.0.1:9/").expect("a valid URL");
    let n = 50_000u32;
    let site = Arc::new(Site::new(
        SiteSpec {
            pages: n,
            body_bytes: 512,
            links_per_page: 4,
            ..Default::default()
        },
        base.clone(),
    ));
    let job = list_job(&site, n, 64).build().expect("a valid job");
    let truth = site.ground_truth(&job);
    let info = BackendInfo {
        name: "null".into(),
        runtime: "none".into(),
        client: "none (answers from the ground truth)".into(),
        model: ConcurrencyModel::AsyncSingleThread,
        threads: "1".into(),
        status: UpstreamStatus::Maintained,
        max_concurrency: None,
        tls: None,
        http: crawlbench_core::HttpVersion::Http1,
        connection_policies: vec![crawlbench_core::ConnectionPolicy::Reuse],
    };
    let cpu = process_cpu_secs();
    let driven = futures_executor::block_on(drive(&job, |url: Url| {
        let e = truth.get(&url).expect("listed URLs are in the truth");
        future::ready(FetchOutcome {
            final_url: e.final_url.clone(),
            url,
            outcome: e.outcome.clone(),
            error_detail: None,
            attempts: e.attempts,
            bytes: 512,
            html: false,
            digest: e.digest,
            links: e.links.clone(),
            links_partial: false,
            robots_txt: None,
            latency_us: 0,
            service_us: 0,
            extract_ns: 0,
        })
    }));
    let report = CrawlReport::new(info, &job, driven, 0.0, Default::default());
    let list_us = (process_cpu_secs() - cpu) * 1e6 / f64::from(n);
    std::hint::black_box(report);

    let crawl = Site::new(SiteSpec::default(), base);
    let pages: Vec<_> = (0..crawl.spec().pages.min(500))
        .map(|i| (crawl.page_url(i), crawl.page_body(i)))
        .collect();
    let bytes: usize = pages.iter().map(|(_, b)| b.len()).sum();
    let cpu = process_cpu_secs();
    let mut found = 0;
    for _ in 0..10 {
        for (url, body) in &pages {
            found += links::extract(url, body).len();
        }
    }
    std::hint::black_box(found);
    let extract_us_per_kib = (process_cpu_secs() - cpu) * 1e6 / (10.0 * bytes as f64 / 1024.0);
    (list_us, extract_us_per_kib)
}
