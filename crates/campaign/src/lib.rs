//! The campaign: how crawlbench produces numbers it publishes.
//!
//! A shared machine's speed drifts over minutes, so timing backend after backend in blocks and
//! ranking the medians reorders backends from one rerun to the next. A campaign instead runs
//! every workload cell in R *rounds*; each round runs every backend once, in an order shuffled
//! from a recorded seed, each run a fresh child process verified against the origin's ground
//! truth. Comparisons are made within rounds (paired ratios) and summarised with bootstrap
//! intervals (`crawlbench-stats`); a difference is claimed only when its interval excludes "no
//! difference". An A/A control — one backend entered twice — must come out tied, and shows that
//! it does. Noise probes before, between and after the workloads say how steady the machine was;
//! instruction counts under callgrind give a CPU ranking that does not drift at all.
//!
//! Output: `runs.jsonl` (every run, appended as it finishes) and `report.json` (the contract,
//! [`crawlbench_stats::CampaignReport`]); `cargo xtask report` renders them.

#![deny(missing_docs)]

pub mod callgrind;
pub mod child;
pub mod environment;
pub mod harness;
pub mod noise;
pub mod runner;
pub mod summarize;
pub mod workloads;

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

pub use child::{RunInChild, serve_run_request};
use crawlbench_stats::{
    BackendRow, CampaignInfo, CampaignReport, Control, HarnessCost, Metric, Noise, ParameterInfo,
    REPORT_SCHEMA, WorkloadInfo,
};
pub use runner::Host;
use runner::{Entry, RunLog};
pub use workloads::Profile;

/// How a campaign runs.
#[derive(Clone, Debug)]
pub struct CampaignConfig {
    /// Sizes of the workloads.
    pub profile: Profile,
    /// Rounds per cell.
    pub rounds: usize,
    /// Discarded warm-up runs per backend and cell.
    pub warmup: usize,
    /// Seed of the shuffles and bootstraps.
    pub seed: u64,
    /// Workloads to run, in order.
    pub workloads: Vec<String>,
    /// Where `runs.jsonl`, `report.json` and the callgrind files go.
    pub out: PathBuf,
    /// Count instructions under callgrind.
    pub callgrind: bool,
    /// The reference backend (ratios are to it; it is also the A/A control).
    pub reference: String,
    /// Only these backends (registry names; empty: every registered backend).
    pub backends: Vec<String>,
}

impl CampaignConfig {
    /// The defaults of `profile`: rounds chosen by measurement on a 2-core machine (quick ≈ 8
    /// minutes, full ≈ 40 minutes), one warm-up, every workload, tokio-reqwest as reference.
    pub fn new(profile: Profile, out: PathBuf) -> Self {
        Self {
            profile,
            rounds: profile.pick(5, 11),
            warmup: 1,
            seed: 20_261_125,
            workloads: workloads::NAMES.iter().map(|s| (*s).to_owned()).collect(),
            out,
            callgrind: true,
            reference: "tokio-reqwest".into(),
            backends: Vec::new(),
        }
    }
}

/// Runs a campaign and writes `report.json` into `config.out`, also when it is interrupted by
/// `stop` (the report then says so). Returns the report and whether it was interrupted.
pub fn run_campaign(
    config: &CampaignConfig,
    host: &Host,
    stop: &Arc<AtomicBool>,
) -> Result<(CampaignReport, bool), String> {
    if config.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    let known: Vec<&str> = host.backends.iter().map(|b| b.name.as_str()).collect();
    if let Some(unknown) = config
        .backends
        .iter()
        .find(|b| !known.contains(&b.as_str()))
    {
        return Err(format!(
            "unknown backend {unknown:?} (accepted: {})",
            known.join(", ")
        ));
    }
    if !config.backends.is_empty() && !config.backends.contains(&config.reference) {
        return Err(format!(
            "the reference backend {:?} must be among --backends (it is also the A/A control)",
            config.reference
        ));
    }
    let mut host = host.clone();
    host.backends
        .retain(|b| config.backends.is_empty() || config.backends.contains(&b.name));
    let host = &host;
    let reference = host
        .backends
        .iter()
        .find(|b| b.name == config.reference)
        .ok_or_else(|| {
            format!(
                "unknown reference backend {:?} (accepted: {})",
                config.reference,
                host.backends
                    .iter()
                    .map(|b| b.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let workloads = config
        .workloads
        .iter()
        .map(|w| workloads::workload(w, config.profile))
        .collect::<Result<Vec<_>, _>>()?;
    std::fs::create_dir_all(&config.out)
        .map_err(|e| format!("cannot create {}: {e}", config.out.display()))?;
    let mut entries: Vec<Entry> = host
        .backends
        .iter()
        .map(|info| Entry {
            label: info.name.clone(),
            info: info.clone(),
            control: false,
        })
        .collect();
    let control = Control {
        backend: reference.name.clone(),
        label: format!("{} (A/A)", reference.name),
    };
    entries.push(Entry {
        label: control.label.clone(),
        info: reference.clone(),
        control: true,
    });

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let environment = environment::record(vec![
        format!(
            "client and origin share this machine's {cores} cores; the origin runs in its own process and its CPU is reported apart"
        ),
        "wall time is Backend::run: runtime, pool or process setup and teardown included".into(),
        "latency is dispatch-to-outcome: from the crawl loop handing a URL to the backend until its outcome is back in the loop".into(),
        "peak RSS of a multi-process backend is the sum of per-process peaks (coordinator + every worker)".into(),
    ]);
    let started = Instant::now();
    let started_at = environment.date.clone();
    let unavailable_warnings = host.unavailable.iter().map(|(name, why)| {
        format!("{name} did not run: it is unavailable on this machine ({why})")
    });
    let mut log = RunLog::create(&config.out.join("runs.jsonl"))
        .map_err(|e| format!("cannot create runs.jsonl in {}: {e}", config.out.display()))?;
    let mut warnings: Vec<String> = unavailable_warnings.collect();
    let mut noise = noise::NoiseRecorder::default();
    noise.probe("start");
    for (i, w) in workloads.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let rounds = w.rounds(config.rounds);
        eprintln!("campaign: workload {} ({rounds} rounds)", w.name);
        let admitted: Vec<Entry> = entries
            .iter()
            .filter(|e| {
                let external = host.external.contains(&e.info.name);
                w.entrants.admits(&e.info.name, external, &config.reference)
            })
            .cloned()
            .collect();
        if let Err(e) = runner::run_workload(
            host,
            w,
            &admitted,
            rounds,
            config.warmup,
            config.seed,
            &mut log,
            stop,
        ) {
            warnings.push(e);
        }
        if config.profile == Profile::Full && i + 1 < workloads.len() {
            noise.probe(&format!("after {}", w.name));
        }
    }
    noise.probe("end");
    let interrupted = stop.load(Ordering::Relaxed);
    if interrupted {
        warnings.push("the campaign was interrupted: this report is partial".into());
    }

    let instructions = if !config.callgrind || interrupted {
        Vec::new()
    } else if callgrind::valgrind_version().is_none() {
        warnings.push(
            "valgrind is not installed, so there are no instruction counts (apt-get install valgrind)"
                .into(),
        );
        Vec::new()
    } else {
        callgrind::count_all(host, &config.out.join("callgrind"))
    };

    let rounds_of = |name: &str| {
        workloads
            .iter()
            .find(|w| w.name == name)
            .map_or(config.rounds, |w| w.rounds(config.rounds))
    };
    let summary = summarize::summarize(&log.records, &entries, &reference.name, &rounds_of);
    let (list_us, extract_us) = harness::measure();
    let harness = fastest_cpu(&summary.cells).map(|(backend, cpu)| HarnessCost {
        list_cpu_us_per_url: list_us,
        extract_us_per_kib: extract_us,
        fastest_backend: backend,
        fastest_cpu_us_per_request: cpu,
        fraction_of_fastest: list_us / cpu,
    });
    let (probes, probe_errors) = noise.finish();
    warnings.extend(probe_errors);
    let report = CampaignReport {
        schema: REPORT_SCHEMA,
        profile: config.profile.name().into(),
        campaign: CampaignInfo {
            rounds: config.rounds,
            warmup_runs: config.warmup,
            seed: config.seed,
            reference: reference.name.clone(),
            control,
            orders: std::mem::take(&mut log.orders),
            started: started_at,
            finished: environment::now_utc(),
            duration_secs: started.elapsed().as_secs_f64(),
        },
        environment,
        noise: Noise { probes },
        backends: entries
            .iter()
            .map(|e| BackendRow {
                label: e.label.clone(),
                name: e.info.name.clone(),
                model: e.info.model.label().into(),
                runtime: e.info.runtime.clone(),
                client: e.info.client.clone(),
                tls: e.info.tls.clone().unwrap_or_else(|| "none".into()),
                http: e.info.http.label().into(),
                threads: e.info.threads.clone(),
                status: match &e.info.status {
                    crawlbench_core::UpstreamStatus::Maintained => "maintained".into(),
                    crawlbench_core::UpstreamStatus::Discontinued(n) => {
                        format!("discontinued: {n}")
                    }
                },
                control: e.control,
            })
            .collect(),
        workloads: workloads
            .iter()
            .map(|w| describe_workload(w, reference))
            .collect(),
        cells: summary.cells,
        rankings: summary.rankings,
        failures: summary.failures,
        controls: summary.controls,
        instructions,
        harness,
        warnings,
    };
    let path = config.out.join("report.json");
    let json = serde_json::to_vec_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((report, interrupted))
}

fn describe_workload(
    w: &workloads::Workload,
    reference: &crawlbench_core::BackendInfo,
) -> WorkloadInfo {
    // The scheme the origin will serve, so each cell's job is described as it will run.
    let scheme = if w.site.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let base = url::Url::parse(&format!("{scheme}://127.0.0.1:9/")).expect("a valid URL");
    let site = crawlbench_origin::Site::new(w.site.clone(), base);
    WorkloadInfo {
        name: w.name.into(),
        description: w.description.into(),
        parameters: w
            .cells
            .iter()
            .map(|c| ParameterInfo {
                parameter: c.parameter.clone(),
                job: workloads::describe(&(c.job)(&site, reference), &w.site),
                ideal_secs: c.ideal_secs,
            })
            .collect(),
    }
}

/// The verified backend with the lowest median CPU per request on `throughput`.
fn fastest_cpu(cells: &[crawlbench_stats::CellStat]) -> Option<(String, f64)> {
    cells
        .iter()
        .filter(|c| c.workload == "throughput" && c.metric == Metric::CpuUsPerRequest && c.verified)
        .min_by(|a, b| a.median.total_cmp(&b.median))
        .map(|c| (c.backend.clone(), c.median))
}
