//! Criterion group `c100k`: past C10K — up to 100,000 requests in flight at once, held by a long
//! delay behind a connection ramp, with several origin processes.
//!
//! The workload is defined once, in `crawlbench-campaign` (`workloads.rs`), so this bench and
//! the published campaign measure the same thing; `src/lib.rs` says what criterion's numbers
//! are for. Single-process backends are refused above their open-file budget ("not run").

fn main() {
    crawlbench_benches::main("c100k");
}
