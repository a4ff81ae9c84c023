//! Criterion group `tls`: HTTPS over a modelled 50 ms round trip, N 2,000 with 200 in flight,
//! connections reused or opened per request.
//!
//! The workload is defined once, in `crawlbench-campaign` (`workloads.rs`), so this bench and
//! the published campaign measure the same thing; `src/lib.rs` says what criterion's numbers
//! are for. `connection_floor.rs` measures the per-request floor its `fresh` cell is read
//! against.

fn main() {
    crawlbench_benches::main("tls");
}
