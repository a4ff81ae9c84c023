//! The shared conformance suite, run against every flavour of this backend.
mod multi_thread {
    crawlbench_conformance::conformance_suite!(
        crawlbench_tokio_reqwest::TokioReqwest::multi_thread()
    );
}
mod current_thread {
    crawlbench_conformance::conformance_suite!(
        crawlbench_tokio_reqwest::TokioReqwest::current_thread()
    );
}
mod multi_thread_h2 {
    crawlbench_conformance::conformance_suite!(
        crawlbench_tokio_reqwest::TokioReqwest::multi_thread_h2()
    );
}
