//! `hosts`: `multiprocess-async` on one host against `distributed-redis` over 1, 2 and 4 worker
//! hosts on the same workload (issue 14, part 5) — not a criterion bench (`harness = false`,
//! no criterion): an interleaved measurement with its own rounds, like the campaign's.
//!
//! What it measures, per run (every run through `crawlbench_origin::verified_run`; a run that
//! does not verify stops the measurement with the differences):
//! - wall ÷ ideal (the list's ideal makespan, `NetworkModel::ideal_list_secs`);
//! - CPU per URL, attributed: the coordinator (this process, from the report), the workers —
//!   per worker host, the difference of `/proc/<pid>/stat` CPU of the host's processes around
//!   the run (`crawlbench_testnet::cpu_secs_of`), or the reaped local workers for
//!   `multiprocess-async` — Redis (the server's own `INFO`, report `extra`) and the origin (its
//!   own process);
//! - Redis commands per URL.
//!
//! Then the frontier's own ceiling: `distributed-redis` over 1, 2 and 4 hosts whose workers run
//! the `null` stack (no fetch; every URL a fixed 200) — URLs per second through Redis. Those
//! runs are **not verified** (nothing was fetched) and are labelled so.
//!
//! Layout: the origin is a child process on this machine's loopback; Redis and each worker host
//! are network namespaces of a `crawlbench-testnet` network (workers are this executable in its
//! `worker --redis …` role); the coordinator is this process. Each round runs every layout once
//! in a shuffled, seeded order (the seed is printed); statistics are medians over rounds with
//! 95 % bootstrap intervals, and ratios to `multiprocess-async` paired within rounds
//! (`crawlbench-stats`). Everything shares this machine's cores: the "hosts" add links and
//! processes, not CPUs, so past the core count the curve flattens — the CPU attribution says
//! where the cores went.
//!
//! Caveats, stated with the results: all three `distributed-redis` networks stay up through
//! the measured phase, so the idle workers of the two not in use poll their own Redis once a
//! second (negligible, and not attributed); `/proc` CPU has the clock tick's resolution (10 ms
//! at 100 Hz: 1.7 µs per URL at 6,000 URLs) — sizes are chosen so that it stays well below the
//! figures.
//!
//! Run: `cargo bench -p crawlbench-benches --bench hosts -- [--rounds R] [--small] [--seed S]
//! [--publish]` (as root, with `ip` and `redis-server`). Output: `target/crawlbench/hosts/`
//! (`hosts.json`, `hosts.md`), or `results/hosts/` with `--publish`.

#[path = "hosts/render.rs"]
mod render;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use crawlbench::Role;
use crawlbench_core::{Backend, CrawlJob, CrawlReport, resources::raise_fd_limit};
use crawlbench_distributed_redis::{DistributedRedis, RedisTarget, WorkerCommand};
use crawlbench_multiprocess::MultiProcess;
use crawlbench_origin::{LatencyModel, NetworkModel, OriginProcess, SiteSpec, verified_run};
use crawlbench_stats::{Interval, Rng, bootstrap::seed_of, median, median_ci, paired_ratio};
use crawlbench_testnet::{TestNet, WorkerLaunch, cpu_secs_of, host_pids};
use serde_json::{Value, json};

/// Worker host counts of the `distributed-redis` layouts.
const HOST_COUNTS: [usize; 3] = [1, 2, 4];
/// The reference layout's label.
const REFERENCE: &str = "multiprocess-async";

/// The workload's sizes.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    urls: u32,
    concurrency: usize,
    delay_ms: f64,
    body_bytes: u32,
    ceiling_urls: u32,
    /// In flight for the ceiling: enough that the store, not the window, is the limit.
    ceiling_concurrency: usize,
}

impl Sizes {
    /// ≈ 2–4 s a run: 6,000 URLs of 2 KiB, 20 ms each, 64 in flight (ideal 1.88 s).
    const FULL: Sizes = Sizes {
        urls: 6_000,
        concurrency: 64,
        delay_ms: 20.0,
        body_bytes: 2048,
        ceiling_urls: 100_000,
        ceiling_concurrency: 256,
    };
    /// A smoke test's: well under a second a run.
    const SMALL: Sizes = Sizes {
        urls: 600,
        concurrency: 32,
        delay_ms: 20.0,
        body_bytes: 2048,
        ceiling_urls: 2_000,
        ceiling_concurrency: 64,
    };
}

/// The command line.
#[derive(Debug)]
struct Args {
    rounds: usize,
    seed: u64,
    sizes: Sizes,
    ceiling: bool,
    out: PathBuf,
    publish: bool,
}

const USAGE: &str = "usage: cargo bench -p crawlbench-benches --bench hosts -- [--rounds R \
     (default 5)] [--small] [--urls N] [--seed S] [--no-ceiling] [--ceiling-urls N] \
     [--ceiling-concurrency C] [--out DIR] [--publish]";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ is inside the workspace")
        .to_path_buf()
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Self {
            rounds: 5,
            seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64),
            sizes: Sizes::FULL,
            ceiling: true,
            out: workspace_root().join("target/crawlbench/hosts"),
            publish: false,
        };
        let mut urls = None;
        let mut ceiling_urls = None;
        let mut ceiling_concurrency = None;
        let mut out = None;
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = |what: &str| {
                it.next()
                    .ok_or_else(|| format!("{flag} needs {what}; {USAGE}"))
            };
            let number = |v: String| -> Result<u64, String> {
                v.parse::<u64>()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| format!("{flag} {v:?}: a whole number ≥ 1 is accepted"))
            };
            match flag.as_str() {
                // cargo bench passes --bench; criterion-style filters are not used here.
                "--bench" => {}
                "--rounds" => args.rounds = number(value("a round count")?)? as usize,
                "--seed" => args.seed = number(value("a seed")?)?,
                "--urls" => urls = Some(number(value("a URL count")?)? as u32),
                "--small" => args.sizes = Sizes::SMALL,
                "--no-ceiling" => args.ceiling = false,
                "--ceiling-urls" => ceiling_urls = Some(number(value("a URL count")?)? as u32),
                "--ceiling-concurrency" => {
                    ceiling_concurrency = Some(number(value("a concurrency")?)? as usize);
                }
                "--out" => out = Some(PathBuf::from(value("a directory")?)),
                "--publish" => args.publish = true,
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unexpected argument {other:?}; {USAGE}")),
            }
        }
        if let Some(n) = urls {
            args.sizes.urls = n;
        }
        if let Some(n) = ceiling_urls {
            args.sizes.ceiling_urls = n;
        }
        if let Some(c) = ceiling_concurrency {
            args.sizes.ceiling_concurrency = c;
        }
        args.out = match (out, args.publish) {
            (Some(dir), _) => dir,
            (None, true) => workspace_root().join("results/hosts"),
            (None, false) => args.out,
        };
        Ok(args)
    }
}

/// One layout of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// `multiprocess-async`: the coordinator and 2 local workers, one host.
    MultiProcess,
    /// `distributed-redis` over this many worker hosts (one worker each).
    Redis(usize),
}

impl Layout {
    fn label(self) -> String {
        match self {
            Self::MultiProcess => REFERENCE.to_owned(),
            Self::Redis(1) => "distributed-redis, 1 worker host".to_owned(),
            Self::Redis(n) => format!("distributed-redis, {n} worker hosts"),
        }
    }
    fn hosts(self) -> usize {
        match self {
            Self::MultiProcess => 1,
            Self::Redis(n) => n,
        }
    }
}

/// One measured run.
#[derive(Clone, Debug)]
struct Run {
    round: usize,
    position: usize,
    layout: String,
    urls: usize,
    wall_secs: f64,
    ideal_secs: Option<f64>,
    verified: Option<bool>,
    /// This process's CPU over the run (the coordinator).
    coordinator_cpu_secs: f64,
    /// Workers' CPU: per worker host (`distributed-redis`), or the local workers reaped in the
    /// run (`multiprocess-async`, one entry).
    host_cpu_secs: Vec<f64>,
    redis_cpu_secs: Option<f64>,
    redis_commands: Option<f64>,
    origin_cpu_secs: Option<f64>,
}

impl Run {
    fn per_url(&self, secs: f64) -> f64 {
        secs * 1e6 / self.urls.max(1) as f64
    }
    fn workers_cpu_secs(&self) -> f64 {
        self.host_cpu_secs.iter().sum()
    }
    /// Client-side CPU: coordinator, workers and Redis (not the origin).
    fn client_cpu_secs(&self) -> f64 {
        self.coordinator_cpu_secs + self.workers_cpu_secs() + self.redis_cpu_secs.unwrap_or(0.0)
    }
    fn metrics(&self) -> BTreeMap<&'static str, f64> {
        let mut m = BTreeMap::new();
        m.insert("wall_secs", self.wall_secs);
        if let Some(ideal) = self.ideal_secs {
            m.insert("wall_over_ideal", self.wall_secs / ideal);
        }
        m.insert("urls_per_sec", self.urls as f64 / self.wall_secs);
        m.insert(
            "coordinator_cpu_us_per_url",
            self.per_url(self.coordinator_cpu_secs),
        );
        m.insert(
            "workers_cpu_us_per_url",
            self.per_url(self.workers_cpu_secs()),
        );
        if let Some(r) = self.redis_cpu_secs {
            m.insert("redis_cpu_us_per_url", self.per_url(r));
        }
        if let Some(c) = self.redis_commands {
            m.insert("redis_commands_per_url", c / self.urls.max(1) as f64);
        }
        m.insert(
            "client_cpu_us_per_url",
            self.per_url(self.client_cpu_secs()),
        );
        if let Some(o) = self.origin_cpu_secs {
            m.insert("origin_cpu_us_per_url", self.per_url(o));
        }
        m
    }
    fn to_json(&self) -> Value {
        json!({
            "round": self.round,
            "position": self.position,
            "layout": self.layout,
            "urls": self.urls,
            "wall_secs": self.wall_secs,
            "ideal_secs": self.ideal_secs,
            "verified": self.verified,
            "coordinator_cpu_secs": self.coordinator_cpu_secs,
            "host_cpu_secs": self.host_cpu_secs,
            "redis_cpu_secs": self.redis_cpu_secs,
            "redis_commands": self.redis_commands,
            "origin_cpu_secs": self.origin_cpu_secs,
            "metrics": self.metrics(),
        })
    }
}

fn fail(why: impl std::fmt::Display) -> ! {
    eprintln!("hosts: {why}");
    std::process::exit(1);
}

/// This executable as the origin for `spec` (a child process: its CPU is never the client's).
fn start_origin(spec: &SiteSpec) -> std::io::Result<OriginProcess> {
    let json = serde_json::to_string(spec).map_err(std::io::Error::other)?;
    let role = Role::ServeOrigin(crawlbench::roles::ServeOrigin {
        spec_json: json,
        threads: None,
        reuse_port: None,
    });
    let mut command = Command::new(std::env::current_exe()?);
    command.args(role.to_args());
    OriginProcess::spawn(command, spec.clone())
}

/// The networks of the `distributed-redis` layouts, one per host count, each with its own Redis
/// and workers (this executable in the `worker --redis …` role, `trailing` added).
fn networks(trailing: &[&str]) -> Vec<(usize, TestNet)> {
    let program = std::env::current_exe().unwrap_or_else(|e| fail(format!("no executable: {e}")));
    HOST_COUNTS
        .iter()
        .map(|&n| {
            let launch = WorkerLaunch::new(&program)
                .leading(["worker"])
                .trailing(trailing.iter().copied());
            let net = TestNet::up_with(n, 1, launch)
                .unwrap_or_else(|why| fail(format!("no test network: {why}")));
            (n, net)
        })
        .collect()
}

fn redis_backend(net: &TestNet) -> DistributedRedis {
    let target = RedisTarget::parse(&net.redis_url()).expect("a Redis URL");
    DistributedRedis::new(WorkerCommand::current_exe_with(Role::Worker.to_args()))
        .with_redis(target)
        .with_local_workers(0)
        .with_remote_workers(net.workers())
}

/// Runs `job` once on `layout`, attributing CPU per host: through `verified_run` against
/// `origin` when there is one, else the backend's bare `run` (the unverified ceiling).
fn run_once(
    layout: Layout,
    nets: &[(usize, TestNet)],
    job: &CrawlJob,
    origin: Option<&mut OriginProcess>,
) -> (CrawlReport, Vec<f64>) {
    let backend: Box<dyn Backend> = match layout {
        Layout::MultiProcess => Box::new(
            MultiProcess::asynchronous(WorkerCommand::current_exe_with(Role::Worker.to_args()))
                .with_workers(2),
        ),
        Layout::Redis(n) => {
            let net = &nets.iter().find(|(k, _)| *k == n).expect("a network").1;
            Box::new(redis_backend(net))
        }
    };
    let hosts: Vec<Vec<u32>> = match layout {
        Layout::MultiProcess => Vec::new(),
        Layout::Redis(n) => {
            let net = &nets.iter().find(|(k, _)| *k == n).expect("a network").1;
            (1..=n).map(|i| host_pids(&net.worker_ns(i))).collect()
        }
    };
    let before: Vec<f64> = hosts.iter().map(|p| cpu_secs_of(p)).collect();
    let report = match origin {
        Some(origin) => verified_run(backend.as_ref(), job, origin),
        None => backend.run(job).map_err(Into::into),
    }
    .unwrap_or_else(|e| fail(format!("{}: the run failed: {e}", layout.label())));
    let host_cpu = match layout {
        // The local workers are reaped inside the run: their CPU is the run's children CPU.
        Layout::MultiProcess => vec![report.resources.children_cpu_secs],
        Layout::Redis(_) => hosts
            .iter()
            .zip(&before)
            .map(|(p, b)| cpu_secs_of(p) - b)
            .collect(),
    };
    (report, host_cpu)
}

fn record(
    round: usize,
    position: usize,
    layout: Layout,
    report: &CrawlReport,
    host_cpu_secs: Vec<f64>,
    sizes: &Sizes,
    ideal: bool,
) -> Run {
    let ideal_secs = ideal.then(|| {
        let body = report.bytes / report.urls.max(1) as u64;
        NetworkModel::default().ideal_list_secs(
            report.job.max_urls,
            report.job.concurrency,
            sizes.delay_ms / 1e3,
            body,
            report.job.connections,
            report.job.tls,
        )
    });
    Run {
        round,
        position,
        layout: layout.label(),
        urls: report.urls,
        wall_secs: report.wall_secs,
        ideal_secs: ideal_secs.filter(|i| *i > 0.0),
        verified: report.verified(),
        coordinator_cpu_secs: report.resources.cpu_user_secs + report.resources.cpu_sys_secs,
        host_cpu_secs,
        redis_cpu_secs: report.extra.get("redis_cpu_secs").copied(),
        redis_commands: report.extra.get("redis_commands").copied(),
        origin_cpu_secs: report.origin.as_ref().and_then(|o| o.cpu_secs),
    }
}

/// Stops the measurement when a run is wrong: not verified, failed, or short of URLs.
fn check(layout: Layout, report: &CrawlReport, expect_urls: usize, must_verify: bool) {
    if let Some(why) = &report.failure {
        fail(format!("{}: the run broke down: {why}", layout.label()));
    }
    if report.urls != expect_urls {
        fail(format!(
            "{}: {} outcomes for {expect_urls} URLs",
            layout.label(),
            report.urls
        ));
    }
    if must_verify {
        match &report.verification {
            Some(v) if v.verified => {}
            Some(v) => fail(format!(
                "{}: verification failed ({} differences, mode {}):\n  {}",
                layout.label(),
                v.total_differences,
                v.mode,
                v.differences.join("\n  ")
            )),
            None => fail(format!("{}: no verdict", layout.label())),
        }
    }
}

/// One phase: a warm-up run per layout, then `rounds` rounds of every layout in a shuffled
/// order.
fn phase(
    name: &str,
    layouts: &[Layout],
    nets: &[(usize, TestNet)],
    job: &CrawlJob,
    mut origin: Option<&mut OriginProcess>,
    args: &Args,
) -> Vec<Run> {
    let expect = job.max_urls();
    let verify = origin.is_some();
    for &layout in layouts {
        let (report, _) = run_once(layout, nets, job, origin.as_deref_mut());
        check(layout, &report, expect, verify);
        eprintln!(
            "hosts: {name}: warm-up {:<36} {:.3} s",
            layout.label(),
            report.wall_secs
        );
    }
    let mut rng = Rng::new(args.seed ^ seed_of(&[name]));
    let mut runs = Vec::new();
    for round in 0..args.rounds {
        let mut order = layouts.to_vec();
        rng.shuffle(&mut order);
        for (position, &layout) in order.iter().enumerate() {
            let (report, host_cpu) = run_once(layout, nets, job, origin.as_deref_mut());
            check(layout, &report, expect, verify);
            let run = record(
                round,
                position,
                layout,
                &report,
                host_cpu,
                &args.sizes,
                verify,
            );
            let m = run.metrics();
            eprintln!(
                "hosts: {name}: round {}/{} {:<36} {:.3} s{} {:>8.0} URLs/s, client CPU \
                 {:.0} µs/URL{}",
                round + 1,
                args.rounds,
                run.layout,
                run.wall_secs,
                m.get("wall_over_ideal")
                    .map_or(String::new(), |r| format!(" ({r:.2}× ideal)")),
                m["urls_per_sec"],
                m["client_cpu_us_per_url"],
                if verify {
                    ", verified"
                } else {
                    ", not verified (null fetch)"
                }
            );
            runs.push(run);
        }
    }
    runs
}

/// A metric's median and 95 % bootstrap interval over rounds.
fn summary(values: &[f64], seed: u64) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    let ci: Interval = median_ci(values, seed);
    json!({ "median": median(values), "ci95": [ci.lo, ci.hi], "n": values.len() })
}

/// Per-layout statistics of a phase's runs, with ratios to `reference` paired within rounds.
fn summarize(
    phase: &str,
    layouts: &[Layout],
    runs: &[Run],
    rounds: usize,
    reference: Option<&str>,
) -> Value {
    let value_of = |label: &str, metric: &str| -> Vec<Option<f64>> {
        (0..rounds)
            .map(|r| {
                runs.iter()
                    .find(|x| x.round == r && x.layout == label)
                    .and_then(|x| x.metrics().get(metric).copied())
            })
            .collect()
    };
    let metrics: Vec<&str> = runs
        .first()
        .map(|r| r.metrics().keys().copied().collect())
        .unwrap_or_default();
    let mut rows = Vec::new();
    for &layout in layouts {
        let label = layout.label();
        let mut stats = serde_json::Map::new();
        let mut ratios = serde_json::Map::new();
        for metric in &metrics {
            let values: Vec<f64> = value_of(&label, metric).into_iter().flatten().collect();
            stats.insert(
                (*metric).to_owned(),
                summary(&values, seed_of(&[phase, &label, metric])),
            );
            if let Some(reference) = reference.filter(|r| *r != label) {
                let ratio = paired_ratio(
                    &value_of(reference, metric),
                    &value_of(&label, metric),
                    seed_of(&[phase, "ratio", &label, metric]),
                );
                if let Some(ratio) = ratio {
                    ratios.insert(
                        (*metric).to_owned(),
                        json!({ "median": ratio.median, "ci95": [ratio.ci95.lo, ratio.ci95.hi] }),
                    );
                }
            }
        }
        // CPU per worker host, one series per host.
        let hosts: Vec<Value> = (0..layout.hosts())
            .map(|h| {
                let values: Vec<f64> = runs
                    .iter()
                    .filter(|x| x.layout == label)
                    .filter_map(|x| x.host_cpu_secs.get(h).map(|s| x.per_url(*s)))
                    .collect();
                summary(&values, seed_of(&[phase, &label, "host", &h.to_string()]))
            })
            .collect();
        rows.push(json!({
            "layout": label,
            "worker_hosts": match layout { Layout::MultiProcess => 0, Layout::Redis(n) => n },
            "stats": stats,
            "worker_cpu_us_per_url_by_host": hosts,
            "ratio_to_reference": ratios,
        }));
    }
    Value::Array(rows)
}

/// The machine and the versions measured, in one line for `hosts.md` (all of it is in
/// `hosts.json`'s `environment`).
fn machine_line(env: &crawlbench_stats::contract::Environment) -> String {
    let redis = Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.split_whitespace()
                .find_map(|w| w.strip_prefix("v="))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".into());
    let version = |name: &str| {
        env.crate_versions
            .get(name)
            .map_or("?".to_owned(), Clone::clone)
    };
    format!(
        "Machine: {}, {} cores, {:.0} GiB, {}; {} at commit `{}`, {}. Stacks: redis-server {redis}, \
         redis-rs {}, tokio {}, reqwest {}.",
        env.cpu_model,
        env.cores,
        env.memory_bytes as f64 / f64::from(1u32 << 30),
        env.kernel,
        env.date,
        match env.git_commit.strip_suffix("-dirty") {
            Some(c) => format!("{} with uncommitted changes", c.get(..12).unwrap_or(c)),
            None => env
                .git_commit
                .get(..12)
                .unwrap_or(&env.git_commit)
                .to_owned(),
        },
        env.rustc,
        version("redis"),
        version("tokio"),
        version("reqwest"),
    )
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    if let Some(code) = crawlbench::child_role_main() {
        std::process::exit(code);
    }
    let args = Args::parse().unwrap_or_else(|why| {
        eprintln!("{why}");
        std::process::exit(2);
    });
    if !std::env::args().any(|a| a == "--bench") && std::env::args().len() == 1 {
        // `cargo test --benches` runs this with no arguments: a measurement is not a test.
        eprintln!("hosts: a measurement, not a test; run it with `{USAGE}`");
        return;
    }
    raise_fd_limit();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let note = format!(
        "Machine note: the client (coordinator), the origin, Redis and every worker \"host\" \
         share this machine's {cores} cores; the hosts are network namespaces (their own \
         addresses and links), not machines, so more hosts add processes and links, not CPUs. \
         Past {cores} busy processes the curve flattens; the CPU attribution shows where the \
         cores went. Load average at start: {}.",
        load_average()
    );
    eprintln!("hosts: {note}");
    let environment = crawlbench_campaign::environment::record(vec![note.clone()]);
    let machine = machine_line(&environment);
    eprintln!("hosts: {machine}");
    eprintln!(
        "hosts: seed {} (repeat with --seed {})",
        args.seed, args.seed
    );
    if let Some(why) = crawlbench_testnet::unavailable() {
        // Like a test: skipped with the reason (CRAWLBENCH_REQUIRE_NETNS=1 makes it a panic).
        eprintln!("hosts: not run: cannot make the test network: {why}");
        return;
    }
    let s = args.sizes;
    let spec = SiteSpec {
        pages: s.urls.max(s.ceiling_urls),
        body_bytes: s.body_bytes,
        latency: LatencyModel::Fixed { ms: s.delay_ms },
        ..Default::default()
    };
    let started = Instant::now();
    let mut origin = start_origin(&spec).unwrap_or_else(|e| fail(format!("no origin: {e}")));
    let site = std::sync::Arc::clone(origin.site());
    let job = CrawlJob::list(site.list_urls(s.urls).unwrap_or_else(|e| fail(e)))
        .concurrency(s.concurrency)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| fail(e));

    let mut layouts = vec![Layout::MultiProcess];
    layouts.extend(HOST_COUNTS.map(Layout::Redis));
    let nets = networks(&[]);
    let runs = phase("measured", &layouts, &nets, &job, Some(&mut origin), &args);
    drop(nets);
    let measured = summarize("measured", &layouts, &runs, args.rounds, Some(REFERENCE));

    let (ceiling_runs, ceiling) = if args.ceiling {
        let ceiling_layouts: Vec<Layout> = HOST_COUNTS.map(Layout::Redis).to_vec();
        let nets = networks(&["--stack", "null"]);
        let ceiling_job =
            CrawlJob::list(site.list_urls(s.ceiling_urls).unwrap_or_else(|e| fail(e)))
                .concurrency(s.ceiling_concurrency)
                .build()
                .unwrap_or_else(|e| fail(e));
        let runs = phase(
            "ceiling",
            &ceiling_layouts,
            &nets,
            &ceiling_job,
            None,
            &args,
        );
        drop(nets);
        let summary = summarize("ceiling", &ceiling_layouts, &runs, args.rounds, None);
        (runs, Some(summary))
    } else {
        (Vec::new(), None)
    };
    origin.stop();

    let report = json!({
        "schema": 1,
        "what": "multiprocess-async on one host vs distributed-redis over 1, 2 and 4 worker \
                 hosts (network namespaces on one machine); issue 14 part 5",
        "machine_note": note,
        "environment": environment,
        "cores": cores,
        "seed": args.seed,
        "rounds": args.rounds,
        "workload": {
            "urls": s.urls, "concurrency": s.concurrency, "delay_ms": s.delay_ms,
            "body_bytes": s.body_bytes, "ceiling_urls": s.ceiling_urls,
            "ceiling_concurrency": s.ceiling_concurrency,
        },
        "reference": REFERENCE,
        "measured": measured,
        "ceiling": ceiling.clone().map(|c| json!({
            "verified": false,
            "note": "workers on the null stack: no fetch, every URL a fixed 200; not verified",
            "layouts": c,
        })),
        "runs": runs.iter().map(Run::to_json).collect::<Vec<_>>(),
        "ceiling_runs": ceiling_runs.iter().map(Run::to_json).collect::<Vec<_>>(),
        "took_secs": started.elapsed().as_secs_f64(),
    });
    let md = render::markdown(&note, &machine, &args, &measured, ceiling.as_ref());
    std::fs::create_dir_all(&args.out)
        .unwrap_or_else(|e| fail(format!("cannot create {}: {e}", args.out.display())));
    let json_path = args.out.join("hosts.json");
    let md_path = args.out.join("hosts.md");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&report).expect("JSON") + "\n",
    )
    .unwrap_or_else(|e| fail(format!("cannot write {}: {e}", json_path.display())));
    std::fs::write(&md_path, &md)
        .unwrap_or_else(|e| fail(format!("cannot write {}: {e}", md_path.display())));
    println!("{md}");
    eprintln!(
        "hosts: wrote {} and {} in {:.1} s",
        json_path.display(),
        md_path.display(),
        started.elapsed().as_secs_f64()
    );
}
