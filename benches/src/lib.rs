//! The criterion bench suite's shared harness: one criterion group per workload (defined once,
//! in `crawlbench-campaign`), every registered backend a function in it, each run a fresh child
//! process going through the one verified-run path — a run that does not verify stops the bench.
//!
//! What criterion measures here, and what it does not: criterion times one backend at a time,
//! sample after sample, so its estimates track *one backend's* changes from commit to commit
//! (`cargo bench` baselines). It does not interleave backends, so its numbers are not a ranking
//! on a shared machine whose speed drifts over minutes; the published comparison comes from the
//! interleaved campaign (`crawlbench campaign`, `cargo xtask report --run`). The time criterion
//! records is taken here, around each whole verified run (process start, run, origin reset,
//! verification) — nothing measured elsewhere is fed to it.
//!
//! Profiles: `CRAWLBENCH_PROFILE=quick` (or criterion's `--quick`) uses the quick sizes.
//! External backends run where their workload admits them (`Entrants`); the Python ones make
//! their locked environment on first use (`crawlbench::campaign_host`).

use std::time::{Duration, Instant};

use crawlbench_campaign::{Profile, workloads};
use crawlbench_core::{Backend, resources::raise_fd_limit};
use crawlbench_origin::verified_run;
use criterion::{BenchmarkId, Criterion, SamplingMode};

/// The profile: `quick` with `CRAWLBENCH_PROFILE=quick` or criterion's `--quick`.
pub fn profile() -> Profile {
    let quick_flag = std::env::args().any(|a| a == "--quick");
    match std::env::var("CRAWLBENCH_PROFILE") {
        Ok(p) => Profile::parse(&p).unwrap_or_else(|e| {
            eprintln!("CRAWLBENCH_PROFILE: {e}");
            std::process::exit(2);
        }),
        Err(_) if quick_flag => Profile::Quick,
        Err(_) => Profile::Full,
    }
}

/// The entry point of every workload bench binary: plays a child role if asked to (a run, the
/// origin, a worker), otherwise benches workload `name` under criterion.
pub fn main(name: &str) {
    if let Some(code) = crawlbench::child_role_main() {
        std::process::exit(code);
    }
    raise_fd_limit();
    let profile = profile();
    let workload = workloads::workload(name, profile).unwrap_or_else(|e| {
        eprintln!("bench: {e}");
        std::process::exit(2);
    });
    let host = crawlbench::campaign_host().unwrap_or_else(|e| {
        eprintln!("bench {name}: cannot find this executable: {e}");
        std::process::exit(1);
    });
    let mut origin = host
        .start_origin_with(&workload.site, None, workload.origin_processes)
        .unwrap_or_else(|e| {
            eprintln!("bench {name}: cannot start the origin: {e}");
            std::process::exit(1);
        });
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(profile.pick(Duration::from_secs(2), Duration::from_millis(1)))
        .configure_from_args();
    let mut group = criterion.benchmark_group(workload.name);
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    let site = std::sync::Arc::clone(origin.site());
    for (backend, why) in &host.unavailable {
        eprintln!("{name}/{backend}: not run: unavailable on this machine: {why}");
    }
    let entrants = host.backends.iter().filter(|info| {
        let external = host.external.contains(&info.name);
        workload.entrants.admits(&info.name, external, "")
    });
    for info in entrants {
        let backend = host.child(info);
        for cell in &workload.cells {
            let job = (cell.job)(&site, info);
            if let Err(refused) = info.check_job(&job) {
                eprintln!(
                    "{name}/{}/{}: not run: {refused}",
                    info.name, cell.parameter
                );
                continue;
            }
            group.bench_with_input(
                BenchmarkId::new(&info.name, &cell.parameter),
                &job,
                |b, job| {
                    b.iter_custom(|iters| {
                        let started = Instant::now();
                        for _ in 0..iters {
                            check(&backend, job, &mut origin);
                        }
                        started.elapsed()
                    });
                },
            );
        }
    }
    group.finish();
    origin.stop();
    criterion.final_summary();
}

/// One verified run; a run that fails or does not verify stops the bench with the reason.
fn check(
    backend: &dyn Backend,
    job: &crawlbench_core::CrawlJob,
    origin: &mut crawlbench_origin::OriginProcess,
) {
    let name = backend.info().name;
    match verified_run(backend, job, origin) {
        Ok(report) if report.verified() == Some(true) => {}
        Ok(report) => {
            let v = report
                .verification
                .unwrap_or_else(|| unreachable!("a complete run is verified"));
            eprintln!(
                "{name}: the run did NOT verify ({} differences): {:?}",
                v.total_differences,
                v.differences.iter().take(3).collect::<Vec<_>>()
            );
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("{name}: the run failed: {e}");
            std::process::exit(1);
        }
    }
}
