//! Criterion group `faults`: 5 % resets, 500s and stalls past a 1 s timeout, with one retry.
//!
//! The workload is defined once, in `crawlbench-campaign` (`workloads.rs`), so this bench and
//! the published campaign measure the same thing; `src/lib.rs` says what criterion's numbers
//! are for.

fn main() {
    crawlbench_benches::main("faults");
}
