//! Criterion group `seed-curve`: the original Python experiment's chart — N = 6·i URLs for
//! i = 1..19, the six Python stacks (external backends) and their Rust counterparts, pools of 3,
//! async unbounded.
//!
//! The workload is defined once, in `crawlbench-campaign` (`workloads.rs`), so this bench and
//! the published campaign measure the same thing; `src/lib.rs` says what criterion's numbers
//! are for.

fn main() {
    crawlbench_benches::main("seed-curve");
}
