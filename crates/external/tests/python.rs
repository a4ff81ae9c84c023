//! The shared conformance suite, run against every Python backend in `external/`: the
//! original experiment's six setups (and aiohttp's two forms) are judged by the same checks as
//! every Rust backend. The locked Python environment is made on first use (`python::ensure`:
//! `python3` 3.11+ with venv, and the package index, are needed); a machine that cannot make it
//! fails here with the reason.

use crawlbench_external::{ExternalBackend, python};

fn backend(name: &str) -> ExternalBackend {
    if let Err(why) = python::ensure() {
        panic!("the Python environment cannot be made: {why}");
    }
    ExternalBackend::named(name).unwrap_or_else(|e| panic!("{e}"))
}

mod py_requests_threads {
    crawlbench_conformance::conformance_suite!(super::backend("py-requests-threads"));
}
mod py_requests_processes {
    crawlbench_conformance::conformance_suite!(super::backend("py-requests-processes"));
}
mod py_asyncio_threads {
    crawlbench_conformance::conformance_suite!(super::backend("py-asyncio-threads"));
}
mod py_asyncio_processes {
    crawlbench_conformance::conformance_suite!(super::backend("py-asyncio-processes"));
}
mod py_aiohttp {
    crawlbench_conformance::conformance_suite!(super::backend("py-aiohttp"));
}
mod py_aiohttp_gather {
    crawlbench_conformance::conformance_suite!(super::backend("py-aiohttp-gather"));
}
mod py_aiomultiprocess {
    crawlbench_conformance::conformance_suite!(super::backend("py-aiomultiprocess"));
}
