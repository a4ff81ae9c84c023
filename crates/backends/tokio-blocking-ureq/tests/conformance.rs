//! The shared conformance suite, run against this backend.
crawlbench_conformance::conformance_suite!(crawlbench_tokio_blocking_ureq::TokioBlockingUreq);
