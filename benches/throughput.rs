//! Criterion group `throughput`: no server delay, 512-byte pages, 64 in flight — CPU per request.
//!
//! The workload is defined once, in `crawlbench-campaign` (`workloads.rs`), so this bench and
//! the published campaign measure the same thing; `src/lib.rs` says what criterion's numbers
//! are for.

fn main() {
    crawlbench_benches::main("throughput");
}
