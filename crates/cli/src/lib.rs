//! The `crawlbench` command line, and the one registry of backends.
//!
//! The registry is a closed list in [`backends`]: adding a backend is one crate, one workspace
//! line and one line here. The CLI, the campaign and the benches all read it, so a registered
//! backend shows up everywhere with no other edit. The child roles this executable plays for
//! them are declared once, in `CHILD_ROLES`.

use crawlbench_core::Backend;
use crawlbench_multiprocess::{MultiProcess, WorkerCommand};

pub mod cli;
mod job_args;

/// If this process was started to play a child role — a measured run in a fresh process
/// (`run-one`), the origin serving a site on stdio (`serve-origin`), a multi-process backend's
/// worker (`worker`) — runs it and returns its exit code. Every binary that uses the registry
/// (the CLI, each bench) calls this first, because the campaign, the benches and backends that
/// spawn helpers re-execute the current executable.
pub fn child_role_main() -> Option<i32> {
    let role = std::env::args().nth(1)?;
    CHILD_ROLES
        .iter()
        .find(|(name, _)| *name == role)
        .map(|(_, run)| run())
}

/// A child role: the first argument that selects it, and its entry point.
type ChildRole = (&'static str, fn() -> i32);

/// Every child role, declared once.
const CHILD_ROLES: &[ChildRole] = &[
    (RUN_ONE, run_one_main),
    (SERVE_ORIGIN, serve_origin_main),
    ("worker", crawlbench_multiprocess::worker_main),
];

/// `<exe> run-one`: one run of one registry backend; the request on stdin, the report on stdout.
const RUN_ONE: &str = "run-one";
/// `<exe> serve-origin SPEC_JSON [THREADS]`: the origin for a site spec, controlled over stdio.
const SERVE_ORIGIN: &str = "serve-origin";

fn run_one_main() -> i32 {
    crawlbench_campaign::serve_run_request(|name, job| {
        crawlbench_core::resources::raise_fd_limit();
        backend(name)?.run(job).map_err(|e| e.to_string())
    })
}

fn serve_origin_main() -> i32 {
    let spec = std::env::args()
        .nth(2)
        .map(|json| serde_json::from_str::<crawlbench_origin::SiteSpec>(&json));
    let spec = match spec {
        Some(Ok(spec)) => spec,
        Some(Err(e)) => {
            eprintln!("{SERVE_ORIGIN}: the argument is not a site spec: {e}");
            return 2;
        }
        None => {
            eprintln!("usage: {SERVE_ORIGIN} SPEC_JSON (a site spec as JSON)");
            return 2;
        }
    };
    let mut config = crawlbench_origin::OriginConfig::default();
    match std::env::args().nth(3).map(|t| t.parse::<usize>()) {
        Some(Ok(t)) if t > 0 => config.threads = t,
        Some(_) => {
            eprintln!("{SERVE_ORIGIN}: the thread count must be a whole number of at least 1");
            return 2;
        }
        None => {}
    }
    crawlbench_core::resources::raise_fd_limit();
    match crawlbench_origin::process::serve_stdio(spec, config) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("origin: {e}");
            1
        }
    }
}

/// How this executable plays the campaign's child roles: every run and the origin are this
/// binary re-executed with a role argument.
pub fn campaign_host() -> std::io::Result<crawlbench_campaign::Host> {
    Ok(crawlbench_campaign::Host {
        program: std::env::current_exe()?,
        run_args: vec![RUN_ONE.into()],
        origin_args: vec![SERVE_ORIGIN.into()],
        backends: backends().iter().map(|b| b.info()).collect(),
    })
}

/// Every registered backend, in the order listings and reports show them.
pub fn backends() -> Vec<Box<dyn Backend>> {
    vec![
        Box::new(crawlbench_threadpool_ureq::ThreadpoolUreq),
        Box::new(crawlbench_tokio_reqwest::TokioReqwest::multi_thread()),
        Box::new(crawlbench_tokio_reqwest::TokioReqwest::current_thread()),
        Box::new(crawlbench_tokio_reqwest::TokioReqwest::multi_thread_h2()),
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
