//! Criterion group `concurrency-sweep`: the C10K question — in-flight limit C against wall and memory.
//!
//! The workload is defined once, in `crawlbench-campaign` (`workloads.rs`), so this bench and
//! the published campaign measure the same thing; `src/lib.rs` says what criterion's numbers
//! are for.

fn main() {
    crawlbench_benches::main("concurrency-sweep");
}
