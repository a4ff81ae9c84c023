//! Argument parsing and the three commands. Exit codes: 0 ok, 1 verification or the run failed,
//! 2 bad usage or input (including a job a backend refuses), 130 interrupted (partial report).

use std::{
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use crawlbench_core::{
    ConnectionPolicy, CrawlJob, CrawlReport, Workload, resources::raise_fd_limit,
};
use crawlbench_origin::{
    HostNaming, LatencyModel, NetworkModel, OriginConfig, SiteSpec, TlsKey,
    network::{parse_bandwidth, parse_rtt},
    site::{FaultProfile, parse_ms},
};
use url::Url;

#[derive(Parser, Debug)]
#[command(
    name = "crawlbench",
    version,
    about = "Which concurrency model for IO-bound HTTP work? Measured, verified."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List the registered backends.
    List,
    /// Run one backend on a workload, verify it, and print a summary.
    Run(Box<RunArgs>),
    /// Serve the synthetic origin site on loopback until interrupted.
    Serve(ServeArgs),
    /// Run the interleaved campaign every published number comes from (see ARCHITECTURE.md):
    /// rounds of every backend in shuffled order, each run a fresh verified process; writes
    /// report.json and runs.jsonl (render with `cargo xtask report`).
    Campaign(CampaignArgs),
}

#[derive(Args, Debug)]
struct CampaignArgs {
    /// Workload sizes: quick (minutes) or full (what results/ publishes).
    #[arg(long, default_value = "quick", value_parser = crawlbench_campaign::Profile::parse)]
    profile: crawlbench_campaign::Profile,
    /// Rounds per cell (default: 5 quick, 11 full).
    #[arg(long)]
    rounds: Option<usize>,
    /// Discarded warm-up runs per backend and cell.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Seed of the per-round shuffles and of the bootstraps (recorded).
    #[arg(long)]
    seed: Option<u64>,
    /// Comma-separated workloads (default: all, in report order).
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<String>,
    /// Comma-separated backends to enter (default: every registered backend).
    #[arg(long, value_delimiter = ',')]
    backends: Vec<String>,
    /// The reference backend every ratio is taken to, and the A/A control.
    #[arg(long, default_value = "tokio-reqwest")]
    reference: String,
    /// Skip the instruction counts under valgrind.
    #[arg(long)]
    no_callgrind: bool,
    /// Output directory.
    #[arg(long, default_value = "target/crawlbench/report")]
    out: PathBuf,
}

/// The synthetic site's shape (shared by `run` and `serve`).
#[derive(Args, Debug, Clone)]
struct SiteArgs {
    /// Pages on the site (and, for a list run, URLs in the list).
    #[arg(long, default_value_t = 1000)]
    pages: u32,
    /// Per-request latency: 50ms, 0.2s, uniform:10ms..90ms or lognormal:50ms,0.5.
    #[arg(long, default_value = "0ms", value_parser = parse_latency)]
    delay: LatencyModel,
    /// Fault profile: none, 5% (spread over all kinds) or reset=2%,stall=1%,500=1%.
    #[arg(long, default_value = "none", value_parser = parse_faults)]
    faults: FaultProfile,
    /// Approximate page size in bytes.
    #[arg(long, default_value_t = 2048)]
    body_bytes: u32,
    /// Extra links per page.
    #[arg(long, default_value_t = 8)]
    links: u32,
    /// Seed of the site's pseudo-random choices.
    #[arg(long, default_value_t = 1)]
    site_seed: u64,
    /// How long a stalled request hangs.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    stall: Duration,
    /// Size of an oversized body: 4MiB, 100KiB or bytes.
    #[arg(long, default_value = "4MiB", value_parser = parse_bytes)]
    oversize: u64,
    /// Origin worker threads (default: one per core).
    #[arg(long)]
    origin_threads: Option<usize>,
    /// Serve HTTPS (rustls, ALPN h2 and http/1.1) with a certificate from a CA made for this
    /// run; the backend trusts that CA and nothing else.
    #[arg(long)]
    tls: bool,
    /// The certificate's key type with --tls: ecdsa-p256 or rsa-2048.
    #[arg(long, default_value = "ecdsa-p256", value_parser = |s: &str| s.parse::<TlsKey>())]
    tls_key: TlsKey,
    /// Modelled round-trip time: 1 RTT per new TCP connection, 1 per TLS handshake, 1 per
    /// request (0, 100ms, 0.15s; up to 10s).
    #[arg(long, default_value = "0", value_parser = parse_rtt)]
    rtt: f64,
    /// Modelled per-connection bandwidth of the origin's responses (512KB/s, 1MB/s,
    /// 100Mbit/s; default unlimited).
    #[arg(long, value_parser = parse_bandwidth)]
    bandwidth: Option<u64>,
    /// Spread the site's pages over this many hosts (1 to 200); page i lives on host i % H.
    #[arg(long, default_value_t = 1)]
    hosts: u32,
    /// How the hosts are told apart: names (h0.crawl.test … on one listener, resolved by the
    /// job itself) or addresses (127.0.1.1 … each with a listener of its own).
    #[arg(long, default_value = "names", value_parser = |s: &str| s.parse::<HostNaming>())]
    host_naming: HostNaming,
    /// Serve a robots.txt on each host (disallowing some pages; some hosts with a Crawl-delay,
    /// some with none); pair with --robots to obey it.
    #[arg(long)]
    site_robots: bool,
}

impl SiteArgs {
    fn spec(&self) -> Result<SiteSpec> {
        let spec = SiteSpec {
            pages: self.pages,
            body_bytes: self.body_bytes,
            links_per_page: self.links,
            seed: self.site_seed,
            latency: self.delay.clone(),
            faults: self.faults.clone(),
            stall_ms: self.stall.as_millis() as u64,
            oversize_bytes: self.oversize,
            tls: self.tls.then_some(self.tls_key),
            network: NetworkModel {
                rtt_ms: self.rtt,
                bandwidth_bytes_per_sec: self.bandwidth,
            },
            hosts: self.hosts,
            host_naming: self.host_naming,
            robots: self.site_robots,
        };
        spec.validate().map_err(|e| anyhow!(e))?;
        Ok(spec)
    }
    fn config(&self) -> OriginConfig {
        let mut config = OriginConfig::default();
        if let Some(t) = self.origin_threads {
            config.threads = t.max(1);
        }
        config
    }
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The backend (see `crawlbench list`).
    #[arg(long)]
    backend: String,
    /// Crawl by following links instead of fetching a fixed list.
    #[arg(long)]
    crawl: bool,
    /// Crawl this URL (repeatable) on a loopback server of your own instead of the built-in
    /// origin. Implies --crawl; nothing to verify against, so the run reports what it found.
    #[arg(long = "seed", value_name = "URL")]
    seeds: Vec<Url>,
    /// Most URLs a crawl attempts (default: no limit below 10,000,000).
    #[arg(long)]
    max_pages: Option<usize>,
    /// Most requests in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Per-attempt timeout.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// Retries after a retryable failure.
    #[arg(long, default_value_t = 1)]
    retries: u32,
    /// Largest accepted body: 16MiB, 512KiB or bytes. A larger body is the outcome
    /// `body_too_large` (a crawl still follows the links before the cap) [default: 1MiB for a
    /// list, 16MiB for a crawl]
    #[arg(long, value_parser = parse_bytes)]
    max_body: Option<u64>,
    /// User-Agent header.
    #[arg(long)]
    user_agent: Option<String>,
    /// Write the full report (every URL's outcome) as JSON here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Allow --seed URLs that are not on loopback.
    #[arg(long)]
    allow_non_loopback: bool,
    /// Connections: reuse (pooled keep-alive) or fresh (a new connection per request, like
    /// `requests.get` without a session).
    #[arg(long, default_value = "reuse", value_parser = |s: &str| s.parse::<ConnectionPolicy>())]
    connections: ConnectionPolicy,
    /// Fetch the seed experiment's URLs, `/get?a=N` (httpbin's echo), and check that every JSON
    /// body echoes its URL's argument, instead of the site's pages.
    #[arg(long, conflicts_with = "crawl")]
    httpbin: bool,
    /// Fetch the URLs in FILE (one per line; blank lines and # comments skipped) from a
    /// loopback server of your own, once each, instead of the built-in origin. Nothing to verify
    /// against, so the run reports what it got.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["seeds", "crawl", "httpbin"])]
    urls: Option<PathBuf>,
    /// With --seed or --urls: a PEM file of the CA(s) to trust for https:// URLs.
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
    /// Connection ramp: start at most this many new requests per second until --concurrency
    /// are in flight (e.g. 25000; 100,000 connects at once overflow the SYN and accept queues).
    /// The ideal makespan includes it. Default: all at once.
    #[arg(long, value_name = "PER_SEC")]
    ramp: Option<f64>,
    /// Worker processes of a multi-process async backend (default: one per core, more when
    /// the concurrency exceeds one process's open-file budget).
    #[arg(long, value_name = "K")]
    processes: Option<usize>,
    /// How long a multi-process backend's worker may stay silent before it is presumed stopped,
    /// killed and its URLs given to another (100ms to 1h).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    worker_watchdog: Duration,
    /// distributed-redis: the Redis holding the frontier, redis://[:PASSWORD@]HOST:PORT/DB
    /// (default: a private redis-server on 127.0.0.1 for the run). Workers started anywhere
    /// with `crawlbench worker --redis URL` join the run; the password is never printed.
    #[arg(long, value_name = "URL", value_parser = parse_redis)]
    redis: Option<crawlbench_distributed_redis::RedisTarget>,
    /// distributed-redis: worker processes to start on this host (default: --processes, else
    /// one per core; 0 to rely on workers started elsewhere).
    #[arg(long, value_name = "N")]
    local_workers: Option<usize>,
    /// distributed-redis: workers started elsewhere (`crawlbench worker --redis URL`) this run
    /// expects besides the local ones; the concurrency is split evenly over all workers.
    #[arg(long, value_name = "N", default_value_t = 0)]
    remote_workers: usize,
    /// Origin processes sharing the port through SO_REUSEPORT (default: enough that each holds
    /// at most about 15,000 connections of --concurrency; a multi-host site uses one).
    #[arg(long, value_name = "P")]
    origin_processes: Option<usize>,
    #[command(flatten)]
    rules: crate::job_args::RuleArgs,
    #[command(flatten)]
    site: SiteArgs,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on (loopback only unless --allow-non-loopback).
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Allow binding a non-loopback address.
    #[arg(long)]
    allow_non_loopback: bool,
    #[command(flatten)]
    site: SiteArgs,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match cli.command {
        Cmd::List => list().map(|()| 0),
        Cmd::Run(args) => run(*args),
        Cmd::Serve(args) => serve(args).map(|()| 0),
        Cmd::Campaign(args) => campaign(args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        2
    })
}

fn list() -> Result<()> {
    let header = [
        "backend", "model", "runtime", "client", "tls", "http", "threads", "status",
    ];
    let rows: Vec<[String; 8]> = crate::backends()
        .iter()
        .map(|b| {
            let i = b.info();
            let status = match (b.unavailable(), &i.status) {
                (Some(why), _) => format!("UNAVAILABLE: {why}"),
                (None, crawlbench_core::UpstreamStatus::Maintained) => "maintained".to_owned(),
                (None, crawlbench_core::UpstreamStatus::Discontinued(note)) => {
                    format!("discontinued: {note}")
                }
            };
            [
                i.name,
                i.model.label().to_owned(),
                i.runtime,
                i.client,
                i.tls.unwrap_or_else(|| "none".to_owned()),
                i.http.label().to_owned(),
                i.threads,
                status,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let header = header.map(str::to_owned);
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    writeln!(
        out,
        "\nexternal backends: one manifest each in {} (PROTOCOL.md says how to add one)",
        crawlbench_external::manifest::dir().display()
    )?;
    Ok(())
}

fn campaign(args: CampaignArgs) -> Result<i32> {
    let mut config = crawlbench_campaign::CampaignConfig::new(args.profile, args.out);
    if let Some(r) = args.rounds {
        if r == 0 {
            bail!("--rounds 0: a campaign needs at least 1 round (accepted: 1 or more)");
        }
        config.rounds = r;
    }
    config.warmup = args.warmup;
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if !args.workloads.is_empty() {
        config.workloads = args.workloads;
    }
    config.reference = args.reference;
    config.backends = args.backends;
    config.callgrind = !args.no_callgrind;
    raise_fd_limit();
    let host = crate::campaign_host().context("cannot find the crawlbench executable")?;
    let stop = Arc::new(AtomicBool::new(false));
    let handle = {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .context("cannot install signal handlers")?;
        let handle = signals.handle();
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            for signal in signals.forever() {
                if stop.swap(true, Ordering::SeqCst) {
                    std::process::exit(128 + signal);
                }
                eprintln!(
                    "\ninterrupted: finishing the report of what was measured (again to quit at once)"
                );
            }
        });
        handle
    };
    let result = crawlbench_campaign::run_campaign(&config, &host, &stop);
    handle.close();
    let (report, interrupted) = result.map_err(|e| anyhow!(e))?;
    eprintln!(
        "campaign: {} cells, {} failed, {} rankings in {:.0} s; wrote {} and runs.jsonl",
        report.cells.len(),
        report.failures.len(),
        report.rankings.len(),
        report.campaign.duration_secs,
        config.out.join("report.json").display()
    );
    Ok(if interrupted { 130 } else { 0 })
}

fn serve(args: ServeArgs) -> Result<()> {
    let spec = args.site.spec()?;
    if !args.bind.is_loopback() && !args.allow_non_loopback {
        bail!(
            "--bind {} is not a loopback address (accepted: 127.0.0.0/8 or ::1; pass --allow-non-loopback to serve elsewhere on purpose)",
            args.bind
        );
    }
    raise_fd_limit();
    let mut config = args.site.config();
    config.bind = std::net::SocketAddr::new(args.bind, args.port);
    let origin = crawlbench_origin::RunningOrigin::start(spec.clone(), config.clone())
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    println!(
        "crawlbench origin: {} pages, latency {}, faults {} — crawl from {}\n\
         listen backlog {} (requested 65535, capped by net.core.somaxconn), {} threads. Ctrl-C stops it.",
        spec.pages,
        spec.latency,
        spec.faults,
        origin.site().seed_url(),
        origin.stats().listen_backlog,
        config.threads
    );
    loop {
        thread::park();
    }
}

fn parse_redis(s: &str) -> Result<crawlbench_distributed_redis::RedisTarget, String> {
    crawlbench_distributed_redis::RedisTarget::parse(s)
}

fn run(args: RunArgs) -> Result<i32> {
    let backend: Box<dyn crawlbench_core::Backend> =
        if args.redis.is_some() || args.local_workers.is_some() || args.remote_workers > 0 {
            if args.backend != "distributed-redis" {
                bail!(
                    "--redis, --local-workers and --remote-workers apply to --backend \
                     distributed-redis only (got {:?})",
                    args.backend
                );
            }
            Box::new(
                crate::distributed_redis(args.redis.clone(), args.local_workers)
                    .with_remote_workers(args.remote_workers),
            )
        } else {
            crate::backend(&args.backend).map_err(|e| anyhow!(e))?
        };
    if let Some(path) = &args.json {
        check_writable(path)?;
    }
    // A single-process backend past the open-file budget is refused by name before it starts
    // (`BackendInfo::check_job`); a multi-process one spreads the sockets over its workers.
    raise_fd_limit();
    if args.ca_cert.is_some() && args.seeds.is_empty() && args.urls.is_none() {
        bail!(
            "--ca-cert is for --seed or --urls servers of your own (the built-in origin hands its CA to the job itself)"
        );
    }
    let mut origin = None;
    let mut site = None;
    let job = if args.seeds.is_empty() && args.urls.is_none() {
        let spec = args.site.spec()?;
        let host = crate::campaign_host().context("cannot find the crawlbench executable")?;
        let child = host
            .start_origin_with(&spec, args.site.origin_threads, origin_processes(&args)?)
            .context("cannot start the origin process")?;
        let s = Arc::clone(child.site());
        let workload = if args.crawl {
            Workload::Crawl {
                seeds: vec![s.seed_url()],
                max_pages: args.max_pages.unwrap_or(10_000_000),
            }
        } else if args.httpbin {
            Workload::List {
                urls: s.echo_urls(args.site.pages).map_err(|e| anyhow!(e))?,
            }
        } else {
            Workload::List {
                urls: s.list_urls(args.site.pages).map_err(|e| anyhow!(e))?,
            }
        };
        let ca = s.ca_pem().map(str::to_owned);
        let job = build_job(&args, workload, ca, s.site_scope(), s.resolve_map())?;
        origin = Some(child);
        site = Some(s);
        job
    } else if let Some(path) = &args.urls {
        let resolve = args.rules.resolve_map(Default::default())?;
        let urls = crate::job_args::read_url_list(path, args.allow_non_loopback, &resolve)?;
        build_job(
            &args,
            Workload::List { urls },
            read_ca_cert(&args)?,
            None,
            resolve,
        )?
    } else {
        let resolve = args.rules.resolve_map(Default::default())?;
        for s in &args.seeds {
            if !args.allow_non_loopback && !crate::job_args::is_local(s, &resolve) {
                bail!(
                    "--seed {s} is not on loopback (accepted: 127.0.0.0/8, [::1], localhost, or a name given to --resolve; pass --allow-non-loopback to crawl elsewhere on purpose)"
                );
            }
        }
        let workload = Workload::Crawl {
            seeds: args.seeds.clone(),
            max_pages: args.max_pages.unwrap_or(10_000_000),
        };
        build_job(&args, workload, read_ca_cert(&args)?, None, resolve)?
    };

    let interrupts = stop_on_signals(&job)?;
    let progress = ProgressReporter::start(&job);
    let result = match origin.as_mut() {
        Some(o) => crawlbench_origin::verified_run(&*backend, &job, o).map_err(|e| anyhow!(e)),
        None => backend.run(&job).map_err(|e| anyhow!(e)),
    };
    progress.finish();
    interrupts.close();
    if let Some(o) = origin {
        o.stop();
    }
    let report = result?;
    print_summary(&report, &args, site.is_some());
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report)?;
        std::fs::write(path, json)
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    Ok(match report.verified() {
        _ if report.interrupted => 130,
        Some(false) => 1,
        _ if report.failure.is_some() => 1,
        _ => 0,
    })
}

/// On SIGINT or SIGTERM, asks the run to stop (it returns a partial report, still written with
/// `--json`); a second signal exits at once. Child processes (origin, workers) run in their own
/// process groups and exit when our pipes to them close.
fn stop_on_signals(job: &CrawlJob) -> Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("cannot install signal handlers")?;
    let handle = signals.handle();
    let cancel = job.cancel().clone();
    thread::spawn(move || {
        for signal in signals.forever() {
            if cancel.is_cancelled() {
                std::process::exit(128 + signal);
            }
            eprintln!("\ninterrupted: stopping the run (again to quit at once)");
            cancel.cancel();
        }
    });
    Ok(handle)
}

fn read_ca_cert(args: &RunArgs) -> Result<Option<String>> {
    let Some(path) = &args.ca_cert else {
        return Ok(None);
    };
    std::fs::read_to_string(path)
        .map(Some)
        .with_context(|| format!("--ca-cert {}: cannot read the PEM file", path.display()))
}

/// The job the flags describe; `site_scope` and `resolve` are the built-in site's own (its hosts'
/// scope and names), or for a server of the user's own, none and the --resolve entries.
fn build_job(
    args: &RunArgs,
    workload: Workload,
    ca_pem: Option<String>,
    site_scope: Option<crawlbench_core::ScopeRule>,
    resolve: crawlbench_core::ResolveMap,
) -> Result<CrawlJob> {
    let builder = match workload {
        Workload::List { urls } => CrawlJob::list(urls),
        Workload::Crawl { seeds, max_pages } => CrawlJob::crawl(seeds, max_pages),
    };
    let mut builder = builder
        .concurrency(args.concurrency)
        .timeout(args.timeout)
        .retries(args.retries)
        .allow_non_loopback(args.allow_non_loopback)
        .connections(args.connections)
        .rules(args.rules.rules(site_scope))
        .resolve(args.rules.resolve_map(resolve)?);
    if let Some(cap) = args.max_body {
        builder = builder.max_body_bytes(cap);
    }
    if let Some(ua) = &args.user_agent {
        builder = builder.user_agent(ua);
    }
    if let Some(pem) = ca_pem {
        builder = builder.trust_ca_pem(pem);
    }
    if args.httpbin {
        builder = builder.echo_argument("a");
    }
    if let Some(per_sec) = args.ramp {
        builder = builder.ramp(per_sec);
    }
    if let Some(k) = args.processes {
        builder = builder.processes(k);
    }
    builder = builder.worker_watchdog(args.worker_watchdog);
    builder.build().map_err(|e| anyhow!(e))
}

/// How many origin processes serve the run: `--origin-processes`, or enough that each holds at
/// most `process::CONNECTIONS_PER_PROCESS` of the in-flight requests.
fn origin_processes(args: &RunArgs) -> Result<usize> {
    let auto = crawlbench_origin::process::processes_for(args.concurrency);
    match args.origin_processes {
        Some(p) if !(1..=64).contains(&p) => {
            bail!("--origin-processes {p}: accepted 1 to 64")
        }
        Some(p) if p > 1 && args.site.hosts > 1 => bail!(
            "--origin-processes {p} with --hosts {}: a multi-host site is served by one origin \
             process, whose counters prove the per-host limits (accepted: --origin-processes 1)",
            args.site.hosts
        ),
        Some(p) if p > 1 && args.site.tls => bail!(
            "--origin-processes {p} with --tls: an HTTPS site is served by one origin process \
             (each process issues its own CA for the run, and a job trusts one; accepted: \
             --origin-processes 1)"
        ),
        Some(p) => Ok(p),
        None if args.site.hosts > 1 || args.site.tls => Ok(1),
        None => Ok(auto),
    }
}

/// Fails before the run, not after it, when the report could not be written.
fn check_writable(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!(
            "--json {}: directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    if path.is_dir() {
        bail!("--json {} is a directory; give a file path", path.display());
    }
    Ok(())
}

/// A progress bar on stderr for runs longer than a second, only on a terminal.
struct ProgressReporter {
    done: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

impl ProgressReporter {
    fn start(job: &CrawlJob) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        if !std::io::stderr().is_terminal() {
            return Self { done, handle: None };
        }
        let (progress, total, stop) = (
            job.progress().clone(),
            job.max_urls() as u64,
            Arc::clone(&done),
        );
        let is_list = matches!(job.workload(), Workload::List { .. });
        let handle = thread::spawn(move || {
            let started = std::time::Instant::now();
            let mut bar: Option<indicatif::ProgressBar> = None;
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(100));
                if bar.is_none() && started.elapsed() >= Duration::from_secs(1) {
                    let b = if is_list {
                        indicatif::ProgressBar::new(total)
                    } else {
                        indicatif::ProgressBar::new_spinner()
                    };
                    b.set_style(
                        indicatif::ProgressStyle::with_template(if is_list {
                            "{elapsed:>4} [{bar:40}] {pos}/{len} URLs ({per_sec})"
                        } else {
                            "{elapsed:>4} {spinner} {pos} URLs crawled ({per_sec})"
                        })
                        .expect("valid template")
                        .progress_chars("=> "),
                    );
                    bar = Some(b);
                }
                if let Some(b) = &bar {
                    b.set_position(progress.done());
                }
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
        });
        Self {
            done,
            handle: Some(handle),
        }
    }
    fn finish(self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle {
            let _ = h.join();
        }
    }
}

fn print_summary(r: &CrawlReport, args: &RunArgs, own_origin: bool) {
    let b = &r.backend;
    let ms = |us: u64| us as f64 / 1e3;
    println!(
        "backend     {} — {}; {} + {}; threads {}",
        b.name,
        b.model.label(),
        b.runtime,
        b.client,
        b.threads
    );
    let what = match r.job.kind.as_str() {
        "list" => format!("list of {} URLs", r.job.max_urls),
        _ if own_origin && args.site.hosts > 1 => format!(
            "crawl of a {}-page site over {} hosts ({})",
            args.site.pages, args.site.hosts, args.site.host_naming
        ),
        _ if own_origin => format!("crawl of a {}-page site", args.site.pages),
        _ => "crawl of an external loopback server".to_owned(),
    };
    let network = NetworkModel {
        rtt_ms: args.site.rtt,
        bandwidth_bytes_per_sec: args.site.bandwidth,
    };
    let site = if own_origin {
        format!(
            ", latency {}, faults {}, {network}",
            args.site.delay, args.site.faults
        )
    } else {
        String::new()
    };
    println!(
        "workload    {what}, {} in flight{site}, timeout {:?}, retries {}",
        r.job.concurrency, args.timeout, r.job.retries
    );
    println!(
        "connections {}, {}{}",
        r.job.connections,
        if r.job.tls { "HTTPS" } else { "plain HTTP" },
        match (&r.backend.tls, r.job.tls) {
            (Some(lib), true) => format!(" through {lib}"),
            _ => String::new(),
        }
    );
    // The ideal makespan is defined for a fault-free list with a fixed delay (the same for
    // every URL): waves of (RTT + delay + transfer) plus the modelled connection set-up.
    let ideal = match (
        &args.site.delay,
        r.job.kind.as_str(),
        own_origin,
        args.site.faults.rates.is_empty(),
    ) {
        (LatencyModel::Fixed { ms }, "list", true, true) if !r.interrupted => {
            let body = r.bytes / r.urls.max(1) as u64;
            Some(
                network.ideal_list_secs(
                    r.job.max_urls,
                    r.job.concurrency,
                    ms / 1e3,
                    body,
                    r.job.connections,
                    r.job.tls,
                ) + NetworkModel::ramp_secs(r.job.max_urls, r.job.concurrency, args.ramp),
            )
            .filter(|i| *i > 0.0)
        }
        _ => None,
    };
    match ideal {
        Some(i) => println!(
            "wall        {:.3} s (ideal {i:.3} s: {:.2}× the ideal makespan)",
            r.wall_secs,
            r.wall_secs / i
        ),
        None => println!("wall        {:.3} s", r.wall_secs),
    }
    println!(
        "urls        {} ({} 2xx), {} requests, {:.1} MB received, {:.0} URLs/s",
        r.urls,
        r.successes,
        r.requests,
        r.bytes as f64 / 1e6,
        r.urls_per_sec()
    );
    println!(
        "latency     p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (dispatch to outcome)",
        ms(r.latency.p50_us),
        ms(r.latency.p90_us),
        ms(r.latency.p99_us),
        ms(r.latency.max_us)
    );
    let res = &r.resources;
    let origin_cpu = r
        .origin
        .as_ref()
        .and_then(|o| Some((o.cpu_secs?, o.processes.len())))
        .map(|(c, n)| match n {
            0 | 1 => format!("; origin {c:.2} s in its own process"),
            n => format!("; origin {c:.2} s in its {n} processes"),
        })
        .unwrap_or_default();
    println!(
        "cpu         client {:.2} s user + {:.2} s sys + {:.2} s children = {:.0} µs/request{origin_cpu}",
        res.cpu_user_secs,
        res.cpu_sys_secs,
        res.children_cpu_secs,
        r.cpu_us_per_request()
    );
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "memory      client peak RSS {:.1} MiB{}{}",
        mib(res.peak_rss_bytes),
        if res.peak_rss_is_lifetime {
            " (lifetime peak: could not reset)"
        } else {
            ""
        },
        if res.worker_processes > 0 {
            format!(
                "; with {} worker processes {:.1} MiB (sum of per-process peaks)",
                res.worker_processes,
                mib(res.peak_rss_sum_bytes())
            )
        } else {
            String::new()
        }
    );
    match &r.origin {
        Some(o) => println!(
            "in flight   peak {} (client), {} (origin); origin accepted {} connections, \
             completed {} TLS handshakes ({:.3} s of its CPU); listen backlog {}",
            r.peak_in_flight,
            o.peak_in_flight,
            o.connections,
            o.tls_handshakes,
            o.tls_handshake_cpu_secs,
            o.listen_backlog
        ),
        None => println!("in flight   peak {} (client)", r.peak_in_flight),
    }
    if let Some(o) = r.origin.as_ref().filter(|o| o.processes.len() > 1) {
        let rss: u64 = o.processes.iter().map(|p| p.peak_rss_bytes).sum();
        println!(
            "origin      {} processes sharing the port (SO_REUSEPORT): {} requests each at most, \
             peak in flight summed over them (a proven lower bound), {:.1} MiB peak RSS in all",
            o.processes.len(),
            o.processes.iter().map(|p| p.requests).max().unwrap_or(0),
            rss as f64 / (1 << 20) as f64
        );
    }
    let rules = &args.rules;
    if rules.per_host_connections.is_some() || !rules.per_host_delay.is_zero() || rules.robots {
        let per_host_peak = match &r.origin {
            Some(o) => format!(
                "; the origin saw at most {} in flight at one host of {}",
                o.host_peak_in_flight,
                o.hosts.max(1)
            ),
            None => String::new(),
        };
        println!(
            "per host    {} in flight, {:?} between starts, robots.txt {}{per_host_peak}",
            rules
                .per_host_connections
                .map_or("no limit on requests".to_owned(), |k| format!(
                    "at most {k}"
                )),
            rules.per_host_delay,
            match (rules.robots, rules.crawl_delay) {
                (false, _) => "ignored",
                (true, false) => "obeyed",
                (true, true) => "obeyed with its Crawl-delay",
            }
        );
    }
    if !r.extra.is_empty() {
        let counters: Vec<String> = r.extra.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("backend     {}", counters.join(", "));
        if let (Some(sent), Some(received)) = (
            r.extra.get("ipc_bytes_sent"),
            r.extra.get("ipc_bytes_received"),
        ) && r.urls > 0
        {
            println!(
                "ipc         {:.0} bytes per URL (both directions)",
                (sent + received) / r.urls as f64
            );
        }
    }
    let statuses: Vec<String> = r
        .statuses
        .iter()
        .filter(|(s, _)| !(200..300).contains(*s))
        .map(|(s, n)| format!("HTTP {s}: {n}"))
        .collect();
    let errors: Vec<String> = r
        .errors
        .iter()
        .map(|(k, n)| format!("{}: {n}", k.as_str()))
        .collect();
    let problems: Vec<String> = statuses.into_iter().chain(errors).collect();
    println!(
        "non-2xx     {}",
        if problems.is_empty() {
            "none".to_owned()
        } else {
            problems.join(", ")
        }
    );
    match &r.verification {
        Some(v) if v.verified => println!(
            "verified    yes ({}: {} URLs match the origin's ground truth)",
            v.mode, v.reported_urls
        ),
        Some(v) => {
            println!(
                "verified    NO ({}: {} differences)",
                v.mode, v.total_differences
            );
            for d in &v.differences {
                println!("            {d}");
            }
        }
        None if r.interrupted => {
            println!("verified    no: the run was interrupted (partial report)")
        }
        None => println!("verified    n/a (external server: no ground truth)"),
    }
    if let Some(why) = &r.failure {
        println!("FAILED      {why}");
    }
    println!(
        "note        client and origin share this machine's {} cores",
        thread::available_parallelism().map_or(1, |n| n.get())
    );
}

fn parse_latency(s: &str) -> Result<LatencyModel, String> {
    s.parse()
}

fn parse_faults(s: &str) -> Result<FaultProfile, String> {
    s.parse()
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    parse_ms(s)
        .map(|ms| Duration::from_secs_f64(ms / 1e3))
        .ok_or_else(|| {
            format!("invalid duration {s:?} (accepted: 250us, 500ms, 10s, 1m; at most 1 hour)")
        })
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = [
        ("GiB", 1u64 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("GB", 1_000_000_000),
        ("MB", 1_000_000),
        ("KB", 1000),
        ("kB", 1000),
        ("B", 1),
    ]
    .iter()
    .find_map(|(suffix, m)| t.strip_suffix(suffix).map(|n| (n.trim(), *m)))
    .unwrap_or((t, 1));
    num.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| (v * mult as f64) as u64)
        .ok_or_else(|| {
            format!(
                "invalid size {s:?} (accepted: bytes, or a number with KiB, MiB, GiB, KB, MB, GB)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_or_say_what_is_accepted() {
        assert_eq!(parse_bytes("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_bytes("512 KiB").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert!(parse_bytes("lots").unwrap_err().contains("accepted"));
        assert_eq!(parse_duration("50ms").unwrap(), Duration::from_millis(50));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("2 weeks").unwrap_err().contains("accepted"));
    }
}
