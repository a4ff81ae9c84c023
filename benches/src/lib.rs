//! The bench harness shared by every workload in `benches/`: one criterion group per workload,
//! every registered backend a function in it, each measured run verified against the origin's
//! ground truth and summarised (CPU, memory, latency, errors) next to criterion's timings.
//!
//! How a group runs:
//! - the origin starts once, in its own process (this bench binary re-executed with
//!   `CRAWLBENCH_ROLE=origin`), so its CPU is never the client's; it is reset before every run so
//!   transient faults fire again;
//! - backends run in registry order, or shuffled with `CRAWLBENCH_ORDER_SEED` (run order has
//!   flipped published runtime comparisons before; a user must be able to check it does not
//!   here); the order is recorded;
//! - each run goes through `iter_custom` and reports the backend's own wall time (its runtime's
//!   setup and teardown included, the origin reset and verification excluded);
//! - each run happens in a fresh child process (this binary re-executed with
//!   `CRAWLBENCH_ROLE=run`): a process's peak RSS cannot be un-done, and an allocator keeps the
//!   memory a previous backend freed (1,024 threads' worth after a thread-pool run), so measuring
//!   several backends in one process would charge each with its predecessors' memory. The child
//!   gets the job as JSON on stdin and answers with the `CrawlReport` on stdout; the parent
//!   verifies it;
//! - a job a backend refuses (above its declared concurrency limit) or a run that fails becomes a
//!   failed cell with its reason, never a silent skip or a lower concurrency.
//!
//! Profiles: `CRAWLBENCH_PROFILE=quick` (or criterion's `--quick`) shrinks every workload so the
//! whole suite runs in minutes; the default, `full`, is what `results/` publishes.
//!
//! Output: `target/crawlbench/<workload>/<backend>/<parameter>.json` ([`CellMetrics`]),
//! `target/crawlbench/<workload>/order.json`, `target/crawlbench/environment.json`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::Duration,
};

use crawlbench_core::{
    Backend, BackendInfo, ConcurrencyModel, CrawlJob,
    report::JobSummary,
    resources::raise_fd_limit,
    summary::{CellMetrics, Environment, METRICS_SCHEMA, RunSummary},
};
use crawlbench_origin::{OriginConfig, OriginProcess, Site, SiteSpec};
use criterion::{BenchmarkId, Criterion, SamplingMode};

/// Which size of the suite runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Small workloads, few samples: the whole suite in minutes, labelled "quick".
    Quick,
    /// The published sizes.
    Full,
}

impl Profile {
    /// `quick` when criterion's `--quick` flag or `CRAWLBENCH_PROFILE=quick` is given.
    pub fn current() -> Self {
        let quick_flag = std::env::args().any(|a| a == "--quick");
        match std::env::var("CRAWLBENCH_PROFILE").as_deref() {
            Ok("quick") => Profile::Quick,
            Ok("full") if !quick_flag => Profile::Full,
            _ if quick_flag => Profile::Quick,
            Ok("full") | Err(_) => Profile::Full,
            Ok(other) => {
                eprintln!("CRAWLBENCH_PROFILE={other:?} is not a profile (accepted: quick, full)");
                std::process::exit(2);
            }
        }
    }
    /// `quick` or `full`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Quick => "quick",
            Profile::Full => "full",
        }
    }
    /// `quick` or `full` value.
    pub fn pick<T>(self, quick: T, full: T) -> T {
        match self {
            Profile::Quick => quick,
            Profile::Full => full,
        }
    }
}

/// One cell of a workload: a parameter value and how to build its job for a backend.
pub struct Cell {
    /// The criterion parameter (URL count, concurrency, …).
    pub parameter: String,
    /// Builds the job for `backend` on `site`.
    #[allow(clippy::type_complexity)]
    pub job: Box<dyn Fn(&Site, &BackendInfo) -> CrawlJob>,
    /// The ideal makespan in seconds, where defined.
    pub ideal_secs: Option<f64>,
}

impl std::fmt::Debug for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cell")
            .field("parameter", &self.parameter)
            .finish_non_exhaustive()
    }
}

/// A workload: the site it is served from and its cells.
#[derive(Debug)]
pub struct Workload {
    /// The criterion group name, e.g. `latency-list`.
    pub name: &'static str,
    /// The site.
    pub site: SiteSpec,
    /// Its cells.
    pub cells: Vec<Cell>,
}

/// The list of the first `n` pages of `site` as a job builder with `concurrency` in flight.
pub fn list_job(site: &Site, n: u32, concurrency: usize) -> crawlbench_core::CrawlJobBuilder {
    CrawlJob::list(
        site.list_urls(n)
            .expect("the workload's site has enough pages"),
    )
    .concurrency(concurrency)
}

/// True for models whose concurrency is a pool of workers (threads or processes) rather than
/// tasks — the seed experiment gave those a pool of 3 and let async run unbounded.
pub fn is_pool_model(info: &BackendInfo) -> bool {
    matches!(
        info.model,
        ConcurrencyModel::Threads
            | ConcurrencyModel::AsyncOverThreads
            | ConcurrencyModel::Processes
    )
}

/// The entry point of every bench binary: plays a child role if asked to (origin, worker),
/// otherwise runs `workload` under criterion.
pub fn main(workload: fn(Profile) -> Workload) {
    // Argument roles first: a worker started by a `run` child inherits its environment.
    if let Some(code) = crawlbench::child_role_main() {
        std::process::exit(code);
    }
    match std::env::var("CRAWLBENCH_ROLE").as_deref() {
        Ok("origin") => std::process::exit(serve_origin_role()),
        Ok("run") => std::process::exit(run_role()),
        _ => {}
    }
    raise_fd_limit();
    let profile = Profile::current();
    let workload = workload(profile);
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(profile.pick(Duration::from_secs(2), Duration::from_millis(1)))
        .nresamples(20_000)
        .configure_from_args();
    if let Err(e) = run_workload(&mut criterion, profile, &workload) {
        eprintln!("bench {}: {e}", workload.name);
        std::process::exit(1);
    }
    criterion.final_summary();
}

fn serve_origin_role() -> i32 {
    let spec = std::env::var("CRAWLBENCH_ORIGIN_SPEC")
        .ok()
        .and_then(|s| serde_json::from_str::<SiteSpec>(&s).ok());
    let Some(spec) = spec else {
        eprintln!("CRAWLBENCH_ROLE=origin needs CRAWLBENCH_ORIGIN_SPEC (a site spec as JSON)");
        return 2;
    };
    match crawlbench_origin::process::serve_stdio(spec, OriginConfig::default()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("origin: {e}");
            1
        }
    }
}

/// What the parent sends a `run` child.
#[derive(serde::Serialize, serde::Deserialize)]
struct RunRequest {
    backend: String,
    job: CrawlJob,
}

/// The `run` child: one run of one backend in a fresh process; the report (or the reason it
/// could not run) as JSON on stdout.
fn run_role() -> i32 {
    let answer: Result<crawlbench_core::CrawlReport, String> = (|| {
        let request: RunRequest = serde_json::from_reader(std::io::stdin().lock())
            .map_err(|e| format!("bad run request: {e}"))?;
        request.job.validate().map_err(|e| e.to_string())?;
        raise_fd_limit();
        let backend = crawlbench::backend(&request.backend)?;
        backend.run(&request.job).map_err(|e| e.to_string())
    })();
    let stdout = std::io::stdout().lock();
    match serde_json::to_writer(std::io::BufWriter::new(stdout), &answer) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("run child: cannot write the report: {e}");
            1
        }
    }
}

/// Runs `job` on `backend` in a fresh child process and returns its report.
fn run_in_child(backend: &str, job: &CrawlJob) -> Result<crawlbench_core::CrawlReport, String> {
    use std::io::Write;
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the bench executable: {e}"))?;
    let mut child = Command::new(exe)
        .env("CRAWLBENCH_ROLE", "run")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the run process: {e}"))?;
    let request = RunRequest {
        backend: backend.to_owned(),
        job: job.clone(),
    };
    let sent = child.stdin.take().map(|mut stdin| {
        serde_json::to_writer(&mut stdin, &request)
            .map_err(|e| e.to_string())
            .and_then(|()| stdin.flush().map_err(|e| e.to_string()))
    });
    let output = child
        .wait_with_output()
        .map_err(|e| format!("run process failed: {e}"))?;
    if let Some(Err(e)) = sent {
        return Err(format!("cannot send the job to the run process: {e}"));
    }
    if !output.status.success() {
        return Err(format!("the run process exited with {}", output.status));
    }
    serde_json::from_slice::<Result<crawlbench_core::CrawlReport, String>>(&output.stdout)
        .map_err(|e| format!("the run process sent no report ({e})"))?
}

/// Where results go: `target/crawlbench` of this workspace.
pub fn output_root() -> PathBuf {
    target_dir().join("crawlbench")
}

fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // The bench binary lives in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("the running executable has a path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

fn ordered_backends() -> (Option<u64>, Vec<Box<dyn Backend>>) {
    let mut backends = crawlbench::backends();
    let seed = std::env::var("CRAWLBENCH_ORDER_SEED").ok().map(|s| {
        s.parse::<u64>().unwrap_or_else(|_| {
            eprintln!(
                "CRAWLBENCH_ORDER_SEED={s:?} is not a number (accepted: an unsigned integer)"
            );
            std::process::exit(2);
        })
    });
    if let Some(seed) = seed {
        // Fisher–Yates with SplitMix64: a seeded shuffle of a dozen items does not need a
        // random-number crate.
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        for i in (1..backends.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            backends.swap(i, j);
        }
    }
    (seed, backends)
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        path,
        serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?,
    )
}

fn run_workload(c: &mut Criterion, profile: Profile, workload: &Workload) -> std::io::Result<()> {
    let root = output_root();
    let group_dir = root.join(workload.name);
    if group_dir.exists() {
        std::fs::remove_dir_all(&group_dir)?;
    }
    let (seed, backends) = ordered_backends();
    write_json(&root.join("environment.json"), &environment(profile, seed))?;
    let order: Vec<String> = backends.iter().map(|b| b.info().name).collect();
    write_json(
        &group_dir.join("order.json"),
        &serde_json::json!({ "seed": seed, "order": order }),
    )?;

    let mut command = Command::new(std::env::current_exe()?);
    command.env("CRAWLBENCH_ROLE", "origin").env(
        "CRAWLBENCH_ORIGIN_SPEC",
        serde_json::to_string(&workload.site).map_err(std::io::Error::other)?,
    );
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut origin = OriginProcess::spawn(command, workload.site.clone())?;
    let site = Arc::clone(origin.site());

    let mut group = c.benchmark_group(workload.name);
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    for (position, backend) in backends.iter().enumerate() {
        let info = backend.info();
        for cell in &workload.cells {
            let job = (cell.job)(&site, &info);
            let mut metrics = CellMetrics {
                schema: METRICS_SCHEMA,
                profile: profile.name().into(),
                workload: workload.name.into(),
                backend: info.clone(),
                parameter: cell.parameter.clone(),
                criterion_dir: format!("{}/{}/{}", workload.name, info.name, cell.parameter),
                order: position,
                job: JobSummary::of(&job),
                ideal_secs: cell.ideal_secs,
                failure: info.check_concurrency(&job).err().map(|e| e.to_string()),
                runs: Vec::new(),
            };
            if metrics.failure.is_none() {
                let truth = site.ground_truth(&job);
                let runs = &mut metrics.runs;
                let failure = &mut metrics.failure;
                group.bench_with_input(
                    BenchmarkId::new(&info.name, &cell.parameter),
                    &job,
                    |b, job| {
                        b.iter_custom(|iters| {
                            let mut total = Duration::ZERO;
                            for _ in 0..iters {
                                if failure.is_some() {
                                    break;
                                }
                                if let Err(e) = origin.reset() {
                                    *failure = Some(format!("origin reset failed: {e}"));
                                    break;
                                }
                                match run_in_child(&info.name, job) {
                                    Ok(mut report) => {
                                        report.origin = origin.stats().ok();
                                        report.verification =
                                            Some(truth.verify(job, &report.outcomes));
                                        total += Duration::from_secs_f64(report.wall_secs);
                                        runs.push(RunSummary::from(&report));
                                    }
                                    Err(e) => *failure = Some(e),
                                }
                            }
                            total
                        });
                    },
                );
            } else {
                eprintln!(
                    "{}/{}/{}: not run: {}",
                    workload.name,
                    info.name,
                    cell.parameter,
                    metrics.failure.as_deref().unwrap_or_default()
                );
            }
            let unverified = metrics
                .runs
                .iter()
                .filter(|r| r.verified != Some(true))
                .count();
            if unverified > 0 {
                eprintln!(
                    "{}/{}/{}: {unverified} of {} runs did NOT verify: {:?}",
                    workload.name,
                    info.name,
                    cell.parameter,
                    metrics.runs.len(),
                    metrics
                        .runs
                        .iter()
                        .flat_map(|r| r.differences.iter())
                        .take(3)
                        .collect::<Vec<_>>()
                );
            }
            write_json(
                &group_dir
                    .join(&info.name)
                    .join(format!("{}.json", cell.parameter)),
                &metrics,
            )?;
        }
    }
    group.finish();
    origin.stop();
    Ok(())
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The machine and software of this run.
pub fn environment(profile: Profile, order_seed: Option<u64>) -> Environment {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or_else(|| "unknown".to_owned(), |m| m.trim().to_owned());
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    let kernel = format!(
        "Linux {}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );
    let workspace = target_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(&workspace)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    let git_commit = git(&["rev-parse", "HEAD"])
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .map(|c| {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|o| !o.stdout.is_empty());
            if dirty { format!("{c}-dirty") } else { c }
        })
        .unwrap_or_else(|| "unknown".into());
    let rustc = command_output(
        &std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()),
        &["--version"],
    )
    .unwrap_or_else(|| "unknown".into());
    let date =
        command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]).unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (fd_soft, _) = raise_fd_limit();
    let somaxconn = crawlbench_origin::server::somaxconn().unwrap_or(0);
    Environment {
        schema: METRICS_SCHEMA,
        profile: profile.name().into(),
        date,
        git_commit,
        rustc,
        cpu_model,
        cores,
        memory_bytes,
        kernel,
        command: match profile {
            Profile::Quick => "cargo xtask report --run --profile quick".into(),
            Profile::Full => "cargo xtask report --run --profile full".into(),
        },
        order_seed,
        crate_versions: crate_versions(&workspace.join("Cargo.lock")),
        notes: vec![
            format!(
                "client and origin share this machine's {cores} cores; the origin runs in its own process and its CPU is reported apart"
            ),
            format!(
                "open files per process: {fd_soft}; net.core.somaxconn: {somaxconn}; loopback only"
            ),
            "wall time is Backend::run, runtime/pool/process setup and teardown included".into(),
        ],
    }
}

/// Versions of the crates that make up the measured stacks, read from `Cargo.lock`.
fn crate_versions(lock: &Path) -> BTreeMap<String, String> {
    const STACK: &[&str] = &[
        "tokio",
        "hyper",
        "hyper-util",
        "reqwest",
        "ureq",
        "async-std",
        "surf",
        "async-h1",
        "http-client",
        "smol",
        "smol-hyper",
        "async-executor",
        "async-io",
        "postcard",
        "html5gum",
        "criterion",
    ];
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let mut versions = BTreeMap::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_owned());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take())
            && STACK.contains(&n.as_str())
        {
            versions.insert(n, v.trim_matches('"').to_owned());
        }
    }
    versions
}
