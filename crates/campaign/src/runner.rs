//! The campaign loop: for every workload cell, one discarded warm-up run per backend, then R
//! rounds, each running every backend once in an order shuffled from the recorded seed. Every
//! run is a fresh child process going through the one verified-run path, against an origin
//! (its own process, one per workload) reset before every run, so every backend of a round meets
//! the same origin state. A workload whose concurrency one process's open-file limit cannot hold
//! is served by several origin processes on one port (`Workload::origin_processes`,
//! `SO_REUSEPORT`), reset and read together ([`OriginProcess::spawn_cluster`]).
//!
//! Raw runs are appended to `runs.jsonl` as they finish, so an interrupted or failed campaign
//! loses nothing already measured; [`crate::summarize`] turns them into `report.json`.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::PathBuf,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use crawlbench_core::{Backend, BackendInfo, CrawlReport, summary::RunSummary};
use crawlbench_origin::{OriginProcess, SiteSpec, verified_run};
use crawlbench_stats::{Metric, Rng, RoundOrder, bootstrap::seed_of};
use serde::{Deserialize, Serialize};

use crate::{RunInChild, workloads::Workload};

/// How this binary plays the child roles a campaign needs.
#[derive(Clone, Debug)]
pub struct Host {
    /// The executable to re-run (the crawlbench binary, or a bench binary).
    pub program: PathBuf,
    /// Arguments that make it answer one run request ([`crate::child::serve_run_request`]).
    pub run_args: Vec<String>,
    /// The arguments that make it serve the origin on stdio
    /// ([`crawlbench_origin::process::serve_stdio`]) for a site spec (JSON), with a thread
    /// count (default: one per core) and, for a member of several, a port to share with
    /// `SO_REUSEPORT` (0 for a free one). The binary that parses them formats them (the CLI's
    /// `Role`), so parent and child cannot disagree.
    pub origin_args: fn(&str, Option<usize>, Option<u16>) -> Vec<String>,
    /// Every registered backend that can run here, in registry order.
    pub backends: Vec<BackendInfo>,
    /// The names of those that are external programs (run only where a workload's
    /// [`crate::workloads::Entrants`] admits them).
    pub external: Vec<String>,
    /// Registered backends that cannot run on this machine, with the reason (the report lists
    /// them: never silently omitted).
    pub unavailable: Vec<(String, String)>,
}

impl Host {
    /// A child-process origin serving `spec`: one process, one thread per core.
    pub fn start_origin(&self, spec: &SiteSpec) -> std::io::Result<OriginProcess> {
        self.start_origin_with(spec, None, 1)
    }

    /// An origin of `processes` child processes sharing one port (`SO_REUSEPORT` when more than
    /// one), each with `threads` server threads (default: one per core). More than one process
    /// is refused for a multi-host or HTTPS site ([`OriginProcess::spawn_cluster`]).
    pub fn start_origin_with(
        &self,
        spec: &SiteSpec,
        threads: Option<usize>,
        processes: usize,
    ) -> std::io::Result<OriginProcess> {
        let json = serde_json::to_string(spec).map_err(std::io::Error::other)?;
        let command = |reuse_port: Option<u16>| {
            let mut cmd = Command::new(&self.program);
            cmd.args((self.origin_args)(&json, threads, reuse_port));
            // Its own process group: a terminal's Ctrl-C reaches the campaign, which stops it
            // in order.
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            cmd
        };
        OriginProcess::spawn_cluster(command, spec.clone(), processes)
    }

    /// `info`'s backend, run in a fresh child per job.
    pub fn child(&self, info: &BackendInfo) -> RunInChild {
        RunInChild::new(info.clone(), self.program.clone(), self.run_args.clone())
    }
}

/// One entered backend: its label and the backend it runs (the A/A control runs the same
/// backend as another entry under a second label).
#[derive(Clone, Debug)]
pub struct Entry {
    /// Label in reports.
    pub label: String,
    /// The backend.
    pub info: BackendInfo,
    /// True for the control's second entry.
    pub control: bool,
}

/// One measured (or failed) run, as written to `runs.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    /// Workload.
    pub workload: String,
    /// Parameter.
    pub parameter: String,
    /// Backend label.
    pub backend: String,
    /// Round, `None` for the warm-up.
    pub round: Option<usize>,
    /// Position within its round's order.
    pub position: usize,
    /// Metric values of the run (absent when it failed).
    pub metrics: Vec<(Metric, f64)>,
    /// The run completed and matched the ground truth.
    pub verified: bool,
    /// The run's summary (absent when it failed).
    pub summary: Option<RunSummary>,
    /// Why the run failed (the backend refused, the process died, the origin failed).
    pub error: Option<String>,
}

/// The metric values of one report.
pub fn metrics_of(report: &CrawlReport, ideal_secs: Option<f64>) -> Vec<(Metric, f64)> {
    let requests = report.requests.max(1) as f64;
    let cpu = report.resources.total_cpu_secs();
    let extract_secs = report.outcomes.iter().map(|o| o.extract_ns).sum::<u64>() as f64 / 1e9;
    let mut m = vec![
        (Metric::WallSecs, report.wall_secs),
        (Metric::CpuUsPerRequest, cpu * 1e6 / requests),
        (
            Metric::CpuUsPerRequestNoExtract,
            (cpu - extract_secs).max(0.0) * 1e6 / requests,
        ),
        (
            Metric::PeakRssBytes,
            report.resources.peak_rss_sum_bytes() as f64,
        ),
        (Metric::LatencyP50Us, report.latency.p50_us as f64),
        (Metric::LatencyP99Us, report.latency.p99_us as f64),
    ];
    if let Some(ideal) = ideal_secs.filter(|i| *i > 0.0) {
        m.push((Metric::WallOverIdeal, report.wall_secs / ideal));
    }
    if let Some(cpu) = report.origin.as_ref().and_then(|o| o.cpu_secs) {
        m.push((Metric::OriginCpuUsPerRequest, cpu * 1e6 / requests));
    }
    if report.job.tls
        && let Some(origin) = &report.origin
    {
        m.push((
            Metric::OriginTlsCpuUsPerRequest,
            origin.tls_handshake_cpu_secs * 1e6 / requests,
        ));
    }
    if let Some(origin) = &report.origin {
        m.push((Metric::OriginPeakInFlight, origin.peak_in_flight as f64));
        // Per request the origin proves was in flight at once: memory a client holds for a
        // request it only *thinks* it has in flight would otherwise look cheaper.
        if origin.peak_in_flight > 0 {
            m.push((
                Metric::RssBytesPerInFlight,
                report.resources.peak_rss_sum_bytes() as f64 / origin.peak_in_flight as f64,
            ));
        }
        if !origin.processes.is_empty() {
            m.push((
                Metric::OriginPeakRssBytes,
                origin
                    .processes
                    .iter()
                    .map(|p| p.peak_rss_bytes)
                    .sum::<u64>() as f64,
            ));
        }
    }
    m
}

/// Writes records as JSON lines, flushed after each, and keeps them.
#[derive(Debug)]
pub struct RunLog {
    file: BufWriter<File>,
    /// Every record so far.
    pub records: Vec<RunRecord>,
    /// Every round order so far.
    pub orders: Vec<RoundOrder>,
}

impl RunLog {
    /// Creates (truncates) `path`.
    pub fn create(path: &std::path::Path) -> std::io::Result<Self> {
        Ok(Self {
            file: BufWriter::new(File::create(path)?),
            records: Vec::new(),
            orders: Vec::new(),
        })
    }
    fn push(&mut self, record: RunRecord) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.file, &record).map_err(std::io::Error::other)?;
        self.file.write_all(b"\n")?;
        self.file.flush()?;
        self.records.push(record);
        Ok(())
    }
}

/// Runs one workload: every cell, warm-up then `rounds` interleaved rounds. Returns early (with
/// what it has logged) when `stop` is set.
#[allow(clippy::too_many_arguments)]
pub fn run_workload(
    host: &Host,
    workload: &Workload,
    entries: &[Entry],
    rounds: usize,
    warmup: usize,
    seed: u64,
    log: &mut RunLog,
    stop: &Arc<AtomicBool>,
) -> Result<(), String> {
    let mut origin = host
        .start_origin_with(&workload.site, None, workload.origin_processes)
        .map_err(|e| format!("{}: cannot start the origin: {e}", workload.name))?;
    let site = Arc::clone(origin.site());
    for cell in &workload.cells {
        let children: Vec<(RunInChild, crawlbench_core::CrawlJob)> = entries
            .iter()
            .map(|e| (host.child(&e.info), (cell.job)(&site, &e.info)))
            .collect();
        let passes = (0..warmup).map(|_| None).chain((0..rounds).map(Some));
        for round in passes {
            let mut order: Vec<usize> = (0..entries.len()).collect();
            let round_tag = round.map_or_else(|| "warm-up".to_owned(), |r| r.to_string());
            Rng::new(seed ^ seed_of(&[workload.name, &cell.parameter, &round_tag]))
                .shuffle(&mut order);
            log.orders.push(RoundOrder {
                workload: workload.name.into(),
                parameter: cell.parameter.clone(),
                round,
                order: order.iter().map(|&i| entries[i].label.clone()).collect(),
            });
            for (position, &i) in order.iter().enumerate() {
                if stop.load(Ordering::Relaxed) {
                    origin.stop();
                    return Ok(());
                }
                let (backend, job) = &children[i];
                let started = Instant::now();
                let result = verified_run(backend, job, &mut origin);
                let mut record = RunRecord {
                    workload: workload.name.into(),
                    parameter: cell.parameter.clone(),
                    backend: entries[i].label.clone(),
                    round,
                    position,
                    metrics: Vec::new(),
                    verified: false,
                    summary: None,
                    error: None,
                };
                match result {
                    Ok(report) => {
                        record.metrics = metrics_of(&report, cell.ideal_secs);
                        record.verified = report.verified() == Some(true);
                        record.summary = Some(RunSummary::from(&report));
                    }
                    Err(e) => record.error = Some(e.to_string()),
                }
                eprintln!(
                    "campaign: {}/{} {} {:>8} {:>6.2} s{}",
                    workload.name,
                    cell.parameter,
                    round.map_or_else(|| "warm-up".to_owned(), |r| format!("round {}", r + 1)),
                    entries[i].label,
                    started.elapsed().as_secs_f64(),
                    match (&record.error, record.verified) {
                        (Some(e), _) => format!("  FAILED: {e}"),
                        (None, true) => String::new(),
                        (None, false) => "  NOT VERIFIED".into(),
                    }
                );
                log.push(record)
                    .map_err(|e| format!("cannot append to runs.jsonl: {e}"))?;
            }
        }
    }
    origin.stop();
    Ok(())
}

/// Runs `backend` once on `job` against a fresh origin for `spec` (used by the instruction
/// count, which wraps the child in valgrind).
pub fn run_once(
    host: &Host,
    spec: &SiteSpec,
    backend: &dyn Backend,
    job: impl FnOnce(&crawlbench_origin::Site) -> crawlbench_core::CrawlJob,
) -> Result<CrawlReport, String> {
    let mut origin = host
        .start_origin(spec)
        .map_err(|e| format!("cannot start the origin: {e}"))?;
    let job = job(origin.site());
    let report = verified_run(backend, &job, &mut origin).map_err(|e| e.to_string());
    origin.stop();
    report
}
