//! The shared conformance suite, run against the three modes of this backend with the crate's own
//! `crawlbench-worker` binary as the worker.
mod asynchronous {
    crawlbench_conformance::conformance_suite!(
        crawlbench_multiprocess::MultiProcess::asynchronous(
            crawlbench_multiprocess::WorkerCommand::new(env!("CARGO_BIN_EXE_crawlbench-worker"))
        )
    );
}
mod smol {
    crawlbench_conformance::conformance_suite!(
        crawlbench_multiprocess::MultiProcess::asynchronous_smol(
            crawlbench_multiprocess::WorkerCommand::new(env!("CARGO_BIN_EXE_crawlbench-worker"))
        )
    );
}
mod blocking {
    crawlbench_conformance::conformance_suite!(crawlbench_multiprocess::MultiProcess::blocking(
        crawlbench_multiprocess::WorkerCommand::new(env!("CARGO_BIN_EXE_crawlbench-worker"))
    ));
}
