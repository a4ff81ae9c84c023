//! The shared conformance suite, run against this backend.
crawlbench_conformance::conformance_suite!(crawlbench_threadpool_ureq::ThreadpoolUreq);
