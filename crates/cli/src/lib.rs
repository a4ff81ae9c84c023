//! The `crawlbench` command line, and the one registry of backends.
//!
//! The registry is a closed list in [`backends`]: adding a backend is one crate, one workspace
//! line and one line here. The CLI, the campaign and the benches all read it, so a registered
//! backend shows up everywhere with no other edit. The child roles this executable plays for
//! them are one type, [`Role`] (`roles.rs`), parsed and formatted in one place.

use crawlbench_core::Backend;
use crawlbench_multiprocess::{MultiProcess, WorkerCommand};

pub mod cli;
mod job_args;
pub mod roles;

pub use roles::Role;

/// If this process was started to play a child role ([`Role`]: a measured run in a fresh
/// process, the origin serving a site on stdio, a multi-process backend's worker) runs it and
/// returns its exit code (2 with the reason when the role's arguments are wrong). Every binary
/// that uses the registry (the CLI, each bench) calls this first, because the campaign, the
/// benches and backends that spawn helpers re-execute the current executable.
pub fn child_role_main() -> Option<i32> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    Some(match Role::parse(&args)? {
        Ok(role) => role.run(),
        Err(why) => {
            eprintln!("{why}");
            2
        }
    })
}

/// How this executable plays the campaign's child roles: every run and the origin are this
/// binary re-executed with a role's arguments.
///
/// External backends are read from their manifests here; when one needs the project's Python
/// environment and it is missing, it is made first (`crawlbench_external::python::ensure`), so a
/// campaign or a bench on a fresh machine runs the Python stacks too. A backend that still cannot
/// run is passed on as unavailable, with the reason, for the report to list.
pub fn campaign_host() -> std::io::Result<crawlbench_campaign::Host> {
    let external =
        crawlbench_external::ExternalBackend::load_dir(&crawlbench_external::manifest::dir());
    if external.iter().any(|b| b.needs_python())
        && crawlbench_external::python::interpreter().is_err()
    {
        if let Err(why) = crawlbench_external::python::ensure() {
            eprintln!("crawlbench: the Python backends will not run: {why}");
        }
    }
    let external_names: Vec<String> = external.iter().map(|b| b.info().name).collect();
    let mut available = Vec::new();
    let mut unavailable = Vec::new();
    for backend in backends() {
        let info = backend.info();
        match backend.unavailable() {
            Some(why) => unavailable.push((info.name, why)),
            None => available.push(info),
        }
    }
    Ok(crawlbench_campaign::Host {
        program: std::env::current_exe()?,
        run_args: Role::RunOne.to_args(),
        origin_args: roles::serve_origin_args,
        backends: available,
        external: external_names,
        unavailable,
    })
}

/// The command that starts a multi-process backend's worker: this executable in the worker role.
fn worker_command() -> WorkerCommand {
    WorkerCommand::current_exe_with(Role::Worker.to_args())
}

/// `distributed-redis` with its local workers started as this executable's `worker` role: a
/// private Redis per run unless `redis` names one, and the job's (or one per core) local
/// workers unless `local_workers` says how many (0: only workers started elsewhere).
pub fn distributed_redis(
    redis: Option<crawlbench_distributed_redis::RedisTarget>,
    local_workers: Option<usize>,
) -> crawlbench_distributed_redis::DistributedRedis {
    let mut backend = crawlbench_distributed_redis::DistributedRedis::new(worker_command());
    if let Some(redis) = redis {
        backend = backend.with_redis(redis);
    }
    if let Some(n) = local_workers {
        backend = backend.with_local_workers(n);
    }
    backend
}

/// Every registered backend, in the order listings and reports show them: the built-in ones,
/// then one per external-backend manifest (`external/*.json`, or `CRAWLBENCH_EXTERNAL_DIR`).
pub fn backends() -> Vec<Box<dyn Backend>> {
    let mut all = builtin_backends();
    let external =
        crawlbench_external::ExternalBackend::load_dir(&crawlbench_external::manifest::dir());
    all.extend(
        external
            .into_iter()
            .map(|b| Box::new(b) as Box<dyn Backend>),
    );
    all
}

fn builtin_backends() -> Vec<Box<dyn Backend>> {
    vec![
        Box::new(crawlbench_threadpool_ureq::ThreadpoolUreq),
        Box::new(crawlbench_tokio_reqwest::TokioReqwest::multi_thread()),
        Box::new(crawlbench_tokio_reqwest::TokioReqwest::current_thread()),
        Box::new(crawlbench_tokio_reqwest::TokioReqwest::multi_thread_h2()),
        Box::new(crawlbench_tokio_blocking_ureq::TokioBlockingUreq),
        Box::new(crawlbench_asyncstd_surf::AsyncStdSurf::new()),
        Box::new(crawlbench_smol_hyper::SmolHyper::multi_thread()),
        Box::new(crawlbench_smol_hyper::SmolHyper::single_thread()),
        Box::new(MultiProcess::asynchronous(worker_command())),
        Box::new(MultiProcess::asynchronous_smol(worker_command())),
        Box::new(MultiProcess::blocking(worker_command())),
        Box::new(distributed_redis(None, None)),
        // new-backend: registry line above (kept by `cargo xtask new-backend`)
    ]
}

/// The backend called `name`, or an error listing the valid names. An external backend that
/// needs the Python environment gets it made first, if it is missing.
pub fn backend(name: &str) -> Result<Box<dyn Backend>, String> {
    let external =
        crawlbench_external::ExternalBackend::load_dir(&crawlbench_external::manifest::dir());
    if let Some(chosen) = external.iter().position(|b| b.info().name == name) {
        let chosen = &external[chosen..=chosen];
        if let Err(why) = crawlbench_external::ExternalBackend::prepare(chosen) {
            eprintln!("crawlbench: cannot make the Python environment: {why}");
        }
    }
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
