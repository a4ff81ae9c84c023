//! Criterion group `crawl-hosts`: a crawl of a site spread over many name-based virtual hosts,
//! with at most 2 connections per host and robots.txt obeyed — per-host politeness, the thing
//! that bounds a real crawler's concurrency.
//!
//! The workload is defined once, in `crawlbench-campaign` (`workloads.rs`), so this bench and
//! the published campaign measure the same thing; `src/lib.rs` says what criterion's numbers
//! are for.

fn main() {
    crawlbench_benches::main("crawl-hosts");
}
