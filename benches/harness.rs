//! Criterion group `harness`: the harness's own cost per URL, apart from any backend.
//!
//! Every backend pays for the crawl loop, the fetch policy, the frontier and link extraction
//! inside its measured run, and verification runs after it. These micro-benches measure that
//! shared work alone — no sockets, no runtime — so the report can state it as a fraction of a
//! backend's CPU per request, and so a change that makes it dearer shows up here first:
//! - `drive`: `driver::drive` over a list job whose dispatch hands back a ready outcome — the
//!   loop alone, and with the fetch policy of a 512-byte HTML page (per URL);
//! - `verify`: `GroundTruth::verify` of a list's outcomes (per URL);
//! - `truth`: computing the ground truth of a list and of a whole crawl on a fresh site, page
//!   rendering included (per URL);
//! - `frontier`: a crawl's frontier offered each page's links and handing out URLs (per URL);
//! - `extract`: link extraction per byte of HTML — generated pages (the crawl workload's and one
//!   with many links) and a real one, `data/platform-support.html`: "Platform Support" from The
//!   rustc book (rust-lang/rust, `src/doc/rustc`), copied from the Rust 1.95 toolchain's docs;
//!   licence MIT OR Apache-2.0.

use std::{
    future::{Future, ready},
    hint::black_box,
    pin::pin,
    task::{Context, Poll, Waker},
};

use crawlbench_core::{
    CrawlJob, FetchOutcome, FetchPolicy, Frontier, RawResponse,
    driver::{drive, lost_outcome},
    links,
};
use crawlbench_origin::{Site, SiteSpec};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// URLs per list or crawl: enough that per-run setup vanishes in the per-URL figure.
const URLS: u32 = 10_000;

/// A real page with scripts, styles, tables and a few hundred links.
const REAL_PAGE: &[u8] = include_bytes!("data/platform-support.html");

fn site(spec: SiteSpec) -> Site {
    // (The URL type is inferred: this crate names no URL library of its own.)
    Site::new(spec, "http://127.0.0.1:4000/".parse().expect("valid"))
}

/// Polls `fut` to completion with a waker that does nothing: every future here is ready at
/// once, so no executor (and none of its cost) is needed.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn bench_drive(c: &mut Criterion) {
    let site = site(SiteSpec {
        pages: URLS,
        body_bytes: 512,
        ..Default::default()
    });
    let job = CrawlJob::list(site.list_urls(URLS).expect("enough pages"))
        .concurrency(64)
        .build()
        .expect("valid job");
    let page = RawResponse {
        status: 200,
        location: None,
        content_type: Some("text/html; charset=utf-8".into()),
        body: site.page_body(1).to_vec(),
    };
    let mut g = c.benchmark_group("harness/drive");
    g.throughput(Throughput::Elements(u64::from(URLS)));
    g.bench_function("ready-outcome", |b| {
        b.iter(|| {
            block_on(drive(&job, |url| ready(lost_outcome(url, ""))))
                .outcomes
                .len()
        });
    });
    g.bench_function("fetch-policy-512B", |b| {
        b.iter(|| {
            let fetch = |url| {
                let mut policy = FetchPolicy::new(&job, url);
                ready(policy.record(Ok(page.clone())).expect("a 200 is final"))
            };
            block_on(drive(&job, fetch)).outcomes.len()
        });
    });
    g.finish();
}

fn bench_verify_and_truth(c: &mut Criterion) {
    let spec = SiteSpec {
        pages: URLS,
        ..Default::default()
    };
    let s = site(spec.clone());
    let list = CrawlJob::list(s.list_urls(URLS).expect("enough pages"))
        .build()
        .expect("valid job");
    let truth = s.ground_truth(&list);
    let outcomes: Vec<FetchOutcome> = list
        .start_urls()
        .iter()
        .map(|url| {
            // The outcome a correct run reports, built from the truth.
            let e = truth.get(url).expect("the truth covers every listed URL");
            let mut o = lost_outcome(url.clone(), "");
            o.outcome = e.outcome.clone();
            o.error_detail = None;
            o.final_url = e.final_url.clone();
            o.attempts = e.attempts;
            o.digest = e.digest;
            o.links = e.links.clone();
            o
        })
        .collect();
    assert!(truth.verify(&list, &outcomes).verified);
    let mut g = c.benchmark_group("harness/verify");
    g.throughput(Throughput::Elements(outcomes.len() as u64));
    g.bench_function("list", |b| {
        b.iter(|| truth.verify(&list, black_box(&outcomes)).verified);
    });
    g.finish();

    let crawl = CrawlJob::crawl(vec![s.seed_url()], usize::MAX)
        .build()
        .expect("valid job");
    let reached = s.ground_truth(&crawl).len();
    let mut g = c.benchmark_group("harness/truth");
    for (name, job, urls) in [("list", &list, outcomes.len()), ("crawl", &crawl, reached)] {
        g.throughput(Throughput::Elements(urls as u64));
        g.bench_function(name, |b| {
            b.iter_batched(
                || site(spec.clone()),
                |fresh| fresh.ground_truth(job).len(),
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

fn bench_frontier(c: &mut Criterion) {
    let s = site(SiteSpec {
        pages: URLS,
        ..Default::default()
    });
    let job = CrawlJob::crawl(vec![s.seed_url()], usize::MAX)
        .build()
        .expect("valid job");
    let truth = s.ground_truth(&job);
    // Each URL's links in the order the frontier hands the URLs out, so the timed loop does
    // nothing but offer and take.
    let mut order = Vec::new();
    let mut frontier = Frontier::new(&job);
    while let Some(url) = frontier.next_url() {
        let found = truth.get(&url).map(|e| e.links.clone()).unwrap_or_default();
        frontier.offer(&found);
        order.push(found);
    }
    let mut g = c.benchmark_group("harness/frontier");
    g.throughput(Throughput::Elements(order.len() as u64));
    g.bench_function("crawl", |b| {
        b.iter(|| {
            let mut frontier = Frontier::new(&job);
            let mut handed = 0;
            while let Some(url) = frontier.next_url() {
                frontier.offer(&order[handed]);
                handed += 1;
                black_box(url);
            }
            handed
        });
    });
    g.finish();
}

fn bench_extract(c: &mut Criterion) {
    let crawl_site = site(SiteSpec::default());
    let linky = site(SiteSpec {
        pages: URLS,
        body_bytes: 16 << 10,
        links_per_page: 400,
        ..Default::default()
    });
    let real_base = "https://doc.rust-lang.org/rustc/platform-support.html"
        .parse()
        .expect("valid");
    let pages = [
        (
            "generated-crawl-page",
            crawl_site.page_url(8),
            crawl_site.page_body(8).to_vec(),
        ),
        (
            "generated-400-links",
            linky.page_url(8),
            linky.page_body(8).to_vec(),
        ),
        ("rustc-platform-support", real_base, REAL_PAGE.to_vec()),
    ];
    let mut g = c.benchmark_group("harness/extract");
    for (name, base, body) in &pages {
        assert!(!links::extract(base, body).is_empty(), "{name} has links");
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| links::extract(base, black_box(body)).len())
        });
    }
    g.finish();
}

criterion_group!(
    harness,
    bench_drive,
    bench_verify_and_truth,
    bench_frontier,
    bench_extract
);
criterion_main!(harness);
