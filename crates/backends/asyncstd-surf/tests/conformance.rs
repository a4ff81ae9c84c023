//! The shared conformance suite, run against the async-std + surf backend.
crawlbench_conformance::conformance_suite!(crawlbench_asyncstd_surf::AsyncStdSurf::new());
