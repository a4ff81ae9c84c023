//! The example external backend in Rust (`ext-tokio-st-reqwest`: the `external-example` role of
//! the crawlbench binary, speaking PROTOCOL.md) passes the shared conformance suite, as every
//! backend does — through its manifest, the way a user's program would be run.

fn backend() -> crawlbench_external::ExternalBackend {
    crawlbench_external::ExternalBackend::named("ext-tokio-st-reqwest")
        .unwrap_or_else(|e| panic!("{e}"))
        .with_crawlbench_exe(env!("CARGO_BIN_EXE_crawlbench"))
}

crawlbench_conformance::conformance_suite!(backend());
