//! The shared conformance suite, run against both tokio flavours of this backend.
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
