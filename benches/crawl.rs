//! Criterion group `crawl`: a link-following crawl of the whole synthetic site through the shared frontier.
//!
//! The workload is defined once, in `crawlbench-campaign` (`workloads.rs`), so this bench and
//! the published campaign measure the same thing; `src/lib.rs` says what criterion's numbers
//! are for.

fn main() {
    crawlbench_benches::main("crawl");
}
