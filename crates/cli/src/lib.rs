//! The `crawlbench` command line, and the one registry of backends.
//!
//! The registry is a closed list in [`backends`]: adding a backend is one crate, one workspace
//! line and one line here. The CLI, the benches and `cargo xtask` all read it, so a registered
//! backend shows up everywhere with no other edit.

use crawlbench_core::Backend;
use crawlbench_multiprocess::{MultiProcess, WorkerCommand};

pub mod cli;

/// If this process was started to play a child role for a measured run — a multi-process
/// backend's worker (`<exe> worker`) — runs it and returns its exit code. Every binary that uses
/// the registry (the CLI, the benches) calls this first, because backends that spawn helpers
/// re-execute the current executable.
pub fn child_role_main() -> Option<i32> {
    let role = std::env::args().nth(1)?;
    CHILD_ROLES
        .iter()
        .find(|(name, _)| *name == role)
        .map(|(_, run)| run())
}

/// A child role: the first argument that selects it, and its entry point.
type ChildRole = (&'static str, fn() -> i32);

/// Every child role a backend may start.
const CHILD_ROLES: &[ChildRole] = &[("worker", crawlbench_multiprocess::worker_main)];

/// Every registered backend, in the order listings and reports show them.
pub fn backends() -> Vec<Box<dyn Backend>> {
    vec![
        Box::new(crawlbench_threadpool_ureq::ThreadpoolUreq),
        Box::new(crawlbench_tokio_reqwest::TokioReqwest::multi_thread()),
        Box::new(crawlbench_tokio_reqwest::TokioReqwest::current_thread()),
        Box::new(crawlbench_tokio_blocking_ureq::TokioBlockingUreq),
        Box::new(crawlbench_asyncstd_surf::AsyncStdSurf::new()),
        Box::new(crawlbench_smol_hyper::SmolHyper::multi_thread()),
        Box::new(crawlbench_smol_hyper::SmolHyper::single_thread()),
        Box::new(MultiProcess::asynchronous(WorkerCommand::current_exe_with(
            ["worker"],
        ))),
        Box::new(MultiProcess::blocking(WorkerCommand::current_exe_with([
            "worker",
        ]))),
        // new-backend: registry line above (kept by `cargo xtask new-backend`)
    ]
}

/// The backend called `name`, or an error listing the valid names.
pub fn backend(name: &str) -> Result<Box<dyn Backend>, String> {
    let all = backends();
    let names: Vec<String> = all.iter().map(|b| b.info().name).collect();
    all.into_iter()
        .find(|b| b.info().name == name)
        .ok_or_else(|| {
            format!(
                "unknown backend {name:?}; valid backends: {}",
                names.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn registry_names_are_unique_and_resolvable() {
        let names: Vec<String> = super::backends().iter().map(|b| b.info().name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            names.len(),
            "duplicate backend names: {names:?}"
        );
        for n in &names {
            assert_eq!(&super::backend(n).unwrap().info().name, n);
        }
        let err = super::backend("nope").err().unwrap();
        assert!(err.contains("valid backends: threadpool-ureq"), "{err}");
    }
}
