//! The shared conformance suite, run against both smol flavours of this backend.
mod multi_thread {
    crawlbench_conformance::conformance_suite!(crawlbench_smol_hyper::SmolHyper::multi_thread());
}
mod single_thread {
    crawlbench_conformance::conformance_suite!(crawlbench_smol_hyper::SmolHyper::single_thread());
}
