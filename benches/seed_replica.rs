//! Criterion group `seed-replica`: the original Python experiment's shape — N = 6·i URLs, pools of 3
//! workers for thread and process models, async unbounded.
//!
//! The workload is defined once, in `crawlbench-campaign` (`workloads.rs`), so this bench and
//! the published campaign measure the same thing; `src/lib.rs` says what criterion's numbers
//! are for.

fn main() {
    crawlbench_benches::main("seed-replica");
}
