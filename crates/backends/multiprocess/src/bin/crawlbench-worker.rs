//! The multiprocess backend's worker as a standalone binary (`crawlbench-worker`), so this crate's
//! tests — and anyone embedding the backend without the `crawlbench` CLI — have a worker to start.
//! The CLI runs the same code through its hidden `worker` subcommand.

fn main() {
    std::process::exit(crawlbench_multiprocess::worker_main());
}
