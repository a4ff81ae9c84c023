//! Criterion group `frontier-scale`: the crawl frontier and link extraction at 1,000,000 URLs —
//! time per URL (criterion) and memory per URL (printed, from an allocation counter).
//!
//! A crawler of a large site holds every URL it has seen and every URL it has yet to fetch; if
//! either costs more than a few hundred bytes or the dedupe is not O(1), the crawl slows or runs
//! out of memory long before the network is the limit. Targets (issue 11): ≤ 1 µs and ≤ 200
//! bytes per URL at 1,000,000 URLs.
//! - `admit-and-hand-out`: 1,000,000 distinct URLs over 50 hosts (two offers each, so half the
//!   offers are duplicates the seen-set must reject), then every URL handed out — per URL.
//! - `extract`: link extraction of 2,500 generated pages with 400 links each (1,000,000 links)
//!   — per link.
//!
//! Memory is counted by a global allocator that wraps the system's and keeps a running total of
//! live bytes (criterion measures time only; counting allocations is exact where RSS is not).

use std::{
    alloc::{GlobalAlloc, Layout, System},
    hint::black_box,
    sync::atomic::{AtomicIsize, Ordering},
};

use crawlbench_core::{CrawlJob, Frontier, ResolveMap, ScopeRule, links};
use crawlbench_origin::{Site, SiteSpec};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use url::Url;

/// Live heap bytes, counted on every allocation and free.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only a counter is updated beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded with the caller's arguments.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const URLS: usize = 1_000_000;
const HOSTS: usize = 50;

/// The URLs: `http://hN.crawl.test:8080/site/…/I.html`, paths of realistic length.
fn urls() -> Vec<Url> {
    (0..URLS)
        .map(|i| {
            let host = i % HOSTS;
            format!(
                "http://h{host}.crawl.test:8080/site/section-{}/page-{i}.html",
                i / 1000
            )
            .parse()
            .expect("valid URL")
        })
        .collect()
}

fn job() -> CrawlJob {
    // The names resolve to loopback through the job itself (the frontier admits nothing else).
    let mut names = ResolveMap::default();
    for h in 0..HOSTS {
        names.insert(&format!("h{h}.crawl.test"), [127, 0, 0, 1].into());
    }
    CrawlJob::crawl(
        vec!["http://h0.crawl.test:8080/site/".parse().expect("valid")],
        usize::MAX,
    )
    .scope(ScopeRule::Domain)
    .resolve(names)
    .build()
    .expect("valid job")
}

/// Offers every URL twice (in chunks, as pages' links would arrive), then hands them all out.
fn admit_and_hand_out(job: &CrawlJob, urls: &[Url]) -> usize {
    let mut frontier = Frontier::new(job);
    for chunk in urls.chunks(400) {
        frontier.offer(chunk);
        frontier.offer(chunk);
    }
    let mut handed = 0;
    while let Some(url) = frontier.next_url() {
        black_box(url);
        handed += 1;
    }
    handed
}

fn bench_frontier(c: &mut Criterion) {
    let job = job();
    let urls = urls();
    // Memory: everything the frontier holds with every URL admitted and none handed out — the
    // seen-set and the queues at their fullest.
    let before = LIVE.load(Ordering::Relaxed);
    let mut frontier = Frontier::new(&job);
    for chunk in urls.chunks(400) {
        frontier.offer(chunk);
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
    assert_eq!(
        frontier.admitted(),
        URLS + 1,
        "every URL (and the seed) admitted once"
    );
    eprintln!(
        "frontier-scale: {} URLs over {} hosts held in {:.1} MiB = {:.0} bytes per URL \
         (seen-set and queues; a queued URL is kept as its text)",
        URLS,
        frontier.hosts(),
        held as f64 / (1 << 20) as f64,
        held as f64 / URLS as f64
    );
    drop(frontier);

    let mut g = c.benchmark_group("frontier-scale");
    g.sample_size(10);
    g.throughput(Throughput::Elements(URLS as u64));
    g.bench_function("admit-and-hand-out", |b| {
        b.iter_batched(
            || urls.clone(),
            |urls| admit_and_hand_out(&job, &urls),
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn bench_extract(c: &mut Criterion) {
    let site = Site::new(
        SiteSpec {
            pages: 2_500,
            body_bytes: 16 << 10,
            links_per_page: 400,
            ..Default::default()
        },
        "http://127.0.0.1:4000/".parse().expect("valid"),
    );
    let pages: Vec<(Url, Vec<u8>)> = (0..2_500)
        .map(|i| (site.page_url(i), site.page_body(i).to_vec()))
        .collect();
    let before = LIVE.load(Ordering::Relaxed);
    let found: Vec<Vec<Url>> = pages
        .iter()
        .map(|(base, body)| links::extract(base, body))
        .collect();
    let held = LIVE.load(Ordering::Relaxed) - before;
    let links: usize = found.iter().map(Vec::len).sum();
    eprintln!(
        "frontier-scale: extraction found {links} links in 2,500 pages, {:.0} bytes per link \
         held in the results",
        held as f64 / links as f64
    );
    drop(found);
    let mut g = c.benchmark_group("frontier-scale");
    g.sample_size(10);
    g.throughput(Throughput::Elements(links as u64));
    g.bench_function("extract", |b| {
        b.iter(|| {
            pages
                .iter()
                .map(|(base, body)| links::extract(base, body).len())
                .sum::<usize>()
        });
    });
    g.finish();
}

criterion_group!(frontier_scale, bench_frontier, bench_extract);
criterion_main!(frontier_scale);
