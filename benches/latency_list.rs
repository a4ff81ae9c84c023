//! Criterion group `latency-list`: a latency-bound list; wall ÷ the ideal makespan is what a model's
//! scheduling adds on top of waiting.
//!
//! The workload is defined once, in `crawlbench-campaign` (`workloads.rs`), so this bench and
//! the published campaign measure the same thing; `src/lib.rs` says what criterion's numbers
//! are for.

fn main() {
    crawlbench_benches::main("latency-list");
}
