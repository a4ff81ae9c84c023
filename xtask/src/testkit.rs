//! Test fixtures: whole `CampaignReport`s built in memory from a few knobs (backends with a
//! speed factor, workloads with parameters, rounds, noise), so the collation, the charts, the
//! comparison and the reproduction check are tested on the real contract without running a
//! campaign.
//!
//! Values are seeded and deterministic: each round has a drift factor every backend shares (as
//! a shared machine does) and each run a small jitter of its own. Medians are real; intervals are
//! the smallest and largest of the values — a cheap stand-in for the bootstrap, so a
//! realistic-size fixture builds in milliseconds even in a debug build. `compare` in
//! `crawlbench_stats` recomputes its own ratios from the per-round values, so the reproduction
//! tests exercise the real statistics.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
};

use crawlbench_stats::{
    BackendRow, CampaignInfo, CampaignReport, CellFailure, CellStat, Control, ControlCheck,
    Environment, HarnessCost, InstructionCount, Interval, Metric, Noise, NoiseProbe, ParameterInfo,
    ProbePoint, REPORT_SCHEMA, Ranking, RatioToReference, Rng, RoundOrder, WorkloadInfo,
    bootstrap::{Ratio, seed_of},
    median,
};

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "crawlbench-xtask-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// What happened to a backend's cells.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    Verified,
    /// Ran, did not verify (the reason goes to `failures[]`).
    Unverified(String),
    /// Could not run.
    Failed(String),
}

/// One backend of a fixture.
#[derive(Clone, Debug)]
pub(crate) struct Backend {
    pub(crate) label: String,
    pub(crate) model: String,
    /// Multiplies every metric but the origin's CPU.
    pub(crate) factor: f64,
    pub(crate) outcome: Outcome,
    /// The A/A control's second entry (of the reference backend).
    pub(crate) control: bool,
    /// Per workload, a factor in place of `factor` (a Python stack's wall time and CPU per
    /// request differ from Rust's by different multiples).
    pub(crate) factor_in: Vec<(String, f64)>,
    /// The workloads it is entered in (as the campaign enters external backends in a few);
    /// empty: every one.
    pub(crate) entered_in: Vec<String>,
}

impl Backend {
    pub(crate) fn new(label: &str, factor: f64) -> Self {
        Self {
            label: label.into(),
            model: "async tasks, multi-thread".into(),
            factor,
            outcome: Outcome::Verified,
            control: false,
            factor_in: Vec::new(),
            entered_in: Vec::new(),
        }
    }

    /// With `factor` in `workload` instead of its own (replacing any given before).
    pub(crate) fn factor_in(mut self, workload: &str, factor: f64) -> Self {
        self.set_factor_in(workload, factor);
        self
    }

    /// Sets the factor in `workload` (replacing any given before).
    pub(crate) fn set_factor_in(&mut self, workload: &str, factor: f64) {
        self.factor_in.retain(|(w, _)| w != workload);
        self.factor_in.push((workload.into(), factor));
    }

    /// Entered in `workloads` only.
    pub(crate) fn only_in(mut self, workloads: &[&str]) -> Self {
        self.entered_in = workloads.iter().map(|w| (*w).to_owned()).collect();
        self
    }

    /// With `model` as its concurrency model.
    pub(crate) fn model(mut self, model: &str) -> Self {
        self.model = model.into();
        self
    }

    fn factor_for(&self, workload: &str) -> f64 {
        self.factor_in
            .iter()
            .find(|(w, _)| w == workload)
            .map_or(self.factor, |(_, f)| *f)
    }

    fn enters(&self, workload: &str) -> bool {
        self.entered_in.is_empty() || self.entered_in.iter().any(|w| w == workload)
    }
}

/// The knobs of a fixture campaign.
#[derive(Clone, Debug)]
pub(crate) struct Fixture {
    pub(crate) profile: String,
    pub(crate) seed: u64,
    pub(crate) rounds: usize,
    /// The first is the reference.
    pub(crate) backends: Vec<Backend>,
    /// Workload name and its parameters with their ideal makespans.
    pub(crate) workloads: Vec<(String, Params)>,
    pub(crate) metrics: Vec<Metric>,
    /// Per-run jitter amplitude (0.01 = ±1 %).
    pub(crate) jitter: f64,
    /// Round-to-round drift amplitude every backend shares.
    pub(crate) drift: f64,
}

/// A workload's parameters, each with its ideal makespan.
pub(crate) type Params = Vec<(String, Option<f64>)>;

fn params(list: &[(&str, Option<f64>)]) -> Params {
    list.iter().map(|(p, i)| ((*p).to_owned(), *i)).collect()
}

impl Fixture {
    /// Seven entries on `latency-list` and `concurrency-sweep` (two parameters), every metric,
    /// eight rounds: `a-ref` (the reference) with its A/A control, `b-tie` equal to it, `c-slow`
    /// 30 % slower, `d-wrong` unverified, `e-multi` a multi-process backend 15 % slower, and
    /// `f-refuses` which cannot run.
    pub(crate) fn small() -> Self {
        let mut control = Backend::new("a-ref (A/A)", 1.0);
        control.control = true;
        let mut wrong = Backend::new("d-wrong", 0.7);
        wrong.outcome = Outcome::Unverified(
            "3 of 8 runs failed verification: /site/7.html expected 200, got timeout".into(),
        );
        let mut multi = Backend::new("e-multi", 1.15);
        multi.model = "processes × async tasks".into();
        let mut refuses = Backend::new("f-refuses", 1.0);
        refuses.outcome = Outcome::Failed("concurrency 1024 is above its limit of 512".into());
        Self {
            profile: "quick".into(),
            seed: 7,
            rounds: 8,
            backends: vec![
                Backend::new("a-ref", 1.0),
                control,
                Backend::new("b-tie", 1.0),
                Backend::new("c-slow", 1.3),
                wrong,
                multi,
                refuses,
            ],
            workloads: vec![
                ("latency-list".into(), params(&[("400", Some(0.5))])),
                (
                    "concurrency-sweep".into(),
                    params(&[("16", Some(0.4)), ("1024", Some(0.4))]),
                ),
            ],
            metrics: Metric::ALL.to_vec(),
            // No jitter of its own: equal backends are exactly equal, so which ones tie does not
            // depend on the seed (the round drift still spreads every interval).
            jitter: 0.0,
            drift: 0.2,
        }
    }

    /// The size of a full campaign: 10 backends × 12 cells × 8 metrics × 15 rounds.
    pub(crate) fn realistic() -> Self {
        let mut backends: Vec<Backend> = (0..9)
            .map(|i| Backend::new(&format!("backend-{i}"), 1.0 + 0.07 * i as f64))
            .collect();
        let mut control = Backend::new("backend-0 (A/A)", 1.0);
        control.control = true;
        backends.insert(1, control);
        backends[9].model = "processes".into();
        Self {
            profile: "full".into(),
            seed: 3,
            rounds: 15,
            backends,
            // Every cell with an ideal makespan, so every one of the 8 metrics is present.
            workloads: vec![
                (
                    "seed-replica".into(),
                    params(&[("6", Some(0.1)), ("60", Some(0.1)), ("114", Some(0.1))]),
                ),
                ("latency-list".into(), params(&[("2000", Some(0.5))])),
                ("throughput".into(), params(&[("20000", Some(0.3))])),
                ("crawl".into(), params(&[("5000", Some(1.0))])),
                (
                    "concurrency-sweep".into(),
                    params(&[
                        ("16", Some(0.8)),
                        ("128", Some(0.8)),
                        ("1024", Some(0.8)),
                        ("4096", Some(0.8)),
                        ("10000", Some(0.8)),
                    ]),
                ),
                ("faults".into(), params(&[("2000", Some(2.0))])),
            ],
            metrics: Metric::ALL.to_vec(),
            jitter: 0.02,
            drift: 0.3,
        }
    }

    /// The original experiment's stacks on `seed-curve` (N = 6, 60, 114, a 0.1 s ideal) and
    /// `throughput` (N = 20000), eight rounds, no jitter of their own (equal factors tie, any
    /// other difference is significant), and a case where every verdict of "The original
    /// experiment, redrawn" holds or meets its target:
    ///
    /// - wall at every N: `py-aiohttp-gather` 1.2× `tokio-reqwest`, `py-requests-threads` 20×,
    ///   `py-requests-processes` 24×, `py-aiohttp` 1.3×, `py-aiomultiprocess` 3×;
    /// - throughput CPU per request (50 µs × factor): `threadpool-ureq` 0.8 (the best Rust),
    ///   `py-aiohttp` 12, `py-requests-threads` 16, `tokio-st-reqwest` 0.9 and
    ///   `ext-tokio-st-reqwest` 0.945 (×1.05 of it).
    pub(crate) fn seed_stacks() -> Self {
        let seed = ["seed-curve", "throughput"];
        let py = |label: &str, wall: f64, cpu: f64, model: &str| {
            Backend::new(label, 1.0)
                .factor_in("seed-curve", wall)
                .factor_in("throughput", cpu)
                .only_in(&seed)
                .model(model)
        };
        let rust = |label: &str, wall: f64, cpu: f64, model: &str| {
            Backend::new(label, 1.0)
                .factor_in("seed-curve", wall)
                .factor_in("throughput", cpu)
                .model(model)
        };
        let mut control = Backend::new("tokio-reqwest (A/A)", 1.0);
        control.control = true;
        Self {
            profile: "quick".into(),
            seed: 11,
            rounds: 8,
            backends: vec![
                Backend::new("tokio-reqwest", 1.0),
                control,
                py("py-requests-threads", 20.0, 16.0, "threads"),
                py("py-requests-processes", 24.0, 18.0, "processes"),
                py("py-asyncio-threads", 21.0, 17.0, "async over threads"),
                py("py-asyncio-processes", 25.0, 19.0, "async over processes"),
                py("py-aiohttp", 1.3, 12.0, "async tasks, single thread"),
                py("py-aiohttp-gather", 1.2, 12.5, "async tasks, single thread"),
                py("py-aiomultiprocess", 3.0, 14.0, "async over processes"),
                rust("threadpool-ureq", 19.0, 0.8, "threads"),
                rust("tokio-blocking-ureq", 19.5, 1.1, "async over threads"),
                rust("multiprocess-async", 1.5, 1.4, "async over processes"),
                Backend::new("tokio-st-reqwest", 0.9).only_in(&["throughput"]),
                Backend::new("ext-tokio-st-reqwest", 0.945).only_in(&["throughput"]),
            ],
            workloads: vec![
                (
                    "seed-curve".into(),
                    params(&[("6", Some(0.1)), ("60", Some(0.1)), ("114", Some(0.1))]),
                ),
                ("throughput".into(), params(&[("20000", Some(0.3))])),
            ],
            metrics: vec![
                Metric::WallSecs,
                Metric::WallOverIdeal,
                Metric::CpuUsPerRequest,
            ],
            jitter: 0.0,
            drift: 0.2,
        }
    }

    /// The backend labelled `label`, to change.
    pub(crate) fn backend(&mut self, label: &str) -> &mut Backend {
        self.backends
            .iter_mut()
            .find(|b| b.label == label)
            .unwrap_or_else(|| panic!("no backend {label} in the fixture"))
    }

    /// The fixture as a campaign report.
    pub(crate) fn build(&self) -> CampaignReport {
        let reference = self.backends[0].label.clone();
        let mut cells = Vec::new();
        let mut rankings = Vec::new();
        let mut failures = Vec::new();
        let mut controls = Vec::new();
        let mut orders = Vec::new();
        for (w, ps) in &self.workloads {
            let entrants: Vec<&Backend> = self.backends.iter().filter(|b| b.enters(w)).collect();
            assert!(
                entrants.first().is_some_and(|b| b.label == reference),
                "the reference enters every workload"
            );
            for (p, ideal) in ps {
                let drift = self.drift_factors(w, p);
                let mut order: Vec<String> = entrants.iter().map(|b| b.label.clone()).collect();
                for round in 0..self.rounds {
                    Rng::new(seed_of(&[w, p, &round.to_string()])).shuffle(&mut order);
                    orders.push(RoundOrder {
                        workload: w.clone(),
                        parameter: p.clone(),
                        round: Some(round),
                        order: order.clone(),
                    });
                }
                for b in &entrants {
                    match &b.outcome {
                        Outcome::Failed(reason) => {
                            failures.push(failure(w, p, &b.label, reason));
                            continue;
                        }
                        Outcome::Unverified(reason) => {
                            failures.push(failure(w, p, &b.label, reason))
                        }
                        Outcome::Verified => {}
                    }
                }
                for &m in &self.metrics {
                    if m == Metric::WallOverIdeal && ideal.is_none() {
                        continue;
                    }
                    let series: Vec<(&Backend, Vec<Option<f64>>)> = entrants
                        .iter()
                        .filter(|b| !matches!(b.outcome, Outcome::Failed(_)))
                        .map(|b| (*b, self.values(w, p, *ideal, m, b, &drift)))
                        .collect();
                    let ref_values = &series[0].1;
                    for (b, values) in &series {
                        let present: Vec<f64> = values.iter().flatten().copied().collect();
                        cells.push(CellStat {
                            workload: w.clone(),
                            parameter: p.clone(),
                            backend: b.label.clone(),
                            metric: m,
                            median: median(&present),
                            ci95: spread(&present),
                            ratio_to_reference: (b.label != reference).then(|| {
                                let r = quick_ratio(ref_values, values);
                                RatioToReference {
                                    reference: reference.clone(),
                                    median: r.median,
                                    ci95: r.ci95,
                                }
                            }),
                            rounds: present.len(),
                            verified: b.outcome == Outcome::Verified,
                            values: values.clone(),
                        });
                    }
                    if let Some((_, control)) = series.iter().find(|(b, _)| b.control) {
                        let ratio = quick_ratio(ref_values, control);
                        controls.push(ControlCheck {
                            workload: w.clone(),
                            parameter: p.clone(),
                            metric: m,
                            tied: ratio.significant().is_none(),
                            ratio,
                        });
                    }
                    if Metric::RANKED.contains(&m) {
                        let verified: Vec<&(&Backend, Vec<Option<f64>>)> = series
                            .iter()
                            .filter(|(b, _)| b.outcome == Outcome::Verified)
                            .collect();
                        rankings.push(Ranking {
                            workload: w.clone(),
                            parameter: p.clone(),
                            metric: m,
                            groups: quick_groups(&verified),
                        });
                    }
                }
            }
        }
        let instructions = self
            .backends
            .iter()
            .filter(|b| !matches!(b.outcome, Outcome::Failed(_)))
            .map(|b| InstructionCount {
                backend: b.label.clone(),
                job: "list of 1000 URLs, 64 in flight, no delay".into(),
                requests: 1000,
                instructions: (250_000.0 * b.factor * 1000.0) as u64,
                per_request: 250_000.0 * b.factor,
                per_request_runs: vec![250_000.0 * b.factor; 3],
                processes: if b.model.contains("process") { 3 } else { 1 },
                sys_cpu_us_per_request: 12.0 * b.factor,
                verified: b.outcome == Outcome::Verified,
                failure: None,
            })
            .collect();
        CampaignReport {
            schema: REPORT_SCHEMA,
            profile: self.profile.clone(),
            campaign: CampaignInfo {
                rounds: self.rounds,
                warmup_runs: 1,
                seed: self.seed,
                reference: reference.clone(),
                control: Control {
                    backend: reference.clone(),
                    label: self
                        .backends
                        .iter()
                        .find(|b| b.control)
                        .map_or_else(|| format!("{reference} (A/A)"), |b| b.label.clone()),
                },
                orders,
                started: format!("2026-11-25T10:00:{:02}Z", self.seed % 60),
                finished: "2026-11-25T10:05:00Z".into(),
                duration_secs: 300.0,
            },
            environment: Environment {
                date: "2026-11-25T10:00:00Z".into(),
                git_commit: "0123456789abcdef0123456789abcdef01234567".into(),
                command_line: [
                    "crawlbench",
                    "campaign",
                    "--profile",
                    &self.profile,
                    "--out",
                    "dir with space",
                ]
                .map(String::from)
                .to_vec(),
                env: [("CRAWLBENCH_ORDER_SEED".to_owned(), self.seed.to_string())].into(),
                rustc: "rustc 1.95.0 (59807616e 2026-04-14)".into(),
                cpu_model: "AMD EPYC".into(),
                cores: 2,
                memory_bytes: 24 << 30,
                kernel: "Linux 6.18.44".into(),
                valgrind: Some("valgrind-3.24.0".into()),
                crate_versions: [("tokio".to_owned(), "1.54.1".to_owned())].into(),
                notes: vec!["client and origin share this machine's 2 cores".into()],
            },
            noise: Noise {
                probes: vec![
                    probe("cpu-loop", 0.010, 0.004),
                    probe("loopback-rtt", 0.00002, 0.006),
                ],
            },
            backends: self
                .backends
                .iter()
                .map(|b| BackendRow {
                    label: b.label.clone(),
                    name: b.label.trim_end_matches(" (A/A)").to_owned(),
                    model: b.model.clone(),
                    runtime: "tokio 1".into(),
                    client: "reqwest 0.13".into(),
                    tls: "rustls 0.23 (ring)".into(),
                    http: "HTTP/1.1".into(),
                    threads: "2".into(),
                    status: "maintained".into(),
                    control: b.control,
                })
                .collect(),
            workloads: self
                .workloads
                .iter()
                .map(|(w, ps)| WorkloadInfo {
                    name: w.clone(),
                    description: format!("what {w} measures"),
                    parameters: ps
                        .iter()
                        .map(|(p, ideal)| ParameterInfo {
                            parameter: p.clone(),
                            job: format!("list of {p} URLs, 50 in flight, rtt 50ms"),
                            ideal_secs: *ideal,
                        })
                        .collect(),
                })
                .collect(),
            cells,
            rankings,
            failures,
            controls,
            instructions,
            harness: Some(HarnessCost {
                list_cpu_us_per_url: 1.2,
                extract_us_per_kib: 3.4,
                fastest_backend: reference,
                fastest_cpu_us_per_request: 40.0,
                fraction_of_fastest: 0.03,
            }),
            warnings: vec!["fixture warning: nothing is real".into()],
        }
    }

    /// Writes the report as `dir/report.json` and returns it.
    pub(crate) fn write(&self, dir: &Path) -> CampaignReport {
        let report = self.build();
        write_report(dir, &report);
        report
    }

    fn drift_factors(&self, w: &str, p: &str) -> Vec<f64> {
        let mut rng = Rng::new(seed_of(&[w, p, "drift"]) ^ self.seed);
        (0..self.rounds)
            .map(|_| 1.0 + self.drift * (rng.below(2001) as f64 / 1000.0 - 1.0))
            .collect()
    }

    fn values(
        &self,
        w: &str,
        p: &str,
        ideal: Option<f64>,
        m: Metric,
        b: &Backend,
        drift: &[f64],
    ) -> Vec<Option<f64>> {
        let n: f64 = p.parse().unwrap_or(100.0);
        let wall = ideal.unwrap_or(n / 2000.0 + 0.05) * 1.1;
        let base = match m {
            Metric::WallSecs => wall,
            Metric::WallOverIdeal => 1.1,
            Metric::CpuUsPerRequest => 50.0,
            Metric::CpuUsPerRequestNoExtract => 40.0,
            Metric::PeakRssBytes => 30.0 * 1024.0 * 1024.0,
            Metric::LatencyP50Us => 50_000.0,
            Metric::LatencyP99Us => 70_000.0,
            Metric::OriginCpuUsPerRequest => 10.0,
            Metric::OriginTlsCpuUsPerRequest => 5.0,
            Metric::OriginPeakInFlight => n,
            Metric::RssBytesPerInFlight => 30.0 * 1024.0 * 1024.0 / n.max(1.0),
            Metric::OriginPeakRssBytes => 20.0 * 1024.0 * 1024.0,
        };
        let factor = if matches!(
            m,
            Metric::OriginCpuUsPerRequest
                | Metric::OriginTlsCpuUsPerRequest
                | Metric::OriginPeakInFlight
                | Metric::OriginPeakRssBytes
        ) {
            1.0
        } else {
            b.factor_for(w)
        };
        let mut rng = Rng::new(seed_of(&[w, p, m.as_str(), &b.label]) ^ self.seed);
        drift
            .iter()
            .map(|d| {
                Some(
                    base * factor
                        * d
                        * (1.0 + self.jitter * (rng.below(2001) as f64 / 1000.0 - 1.0)),
                )
            })
            .collect()
    }
}

/// Writes `report` as `dir/report.json`.
pub(crate) fn write_report(dir: &Path, report: &CampaignReport) {
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(report).unwrap(),
    )
    .unwrap();
}

fn failure(w: &str, p: &str, b: &str, reason: &str) -> CellFailure {
    CellFailure {
        workload: w.into(),
        parameter: p.into(),
        backend: b.into(),
        reason: reason.into(),
    }
}

fn probe(name: &str, secs: f64, cv: f64) -> NoiseProbe {
    NoiseProbe {
        name: name.into(),
        description: format!("{name}, timed five times"),
        points: ["start", "end"]
            .map(|at| ProbePoint {
                at: at.into(),
                secs: vec![secs; 5],
            })
            .to_vec(),
        cv,
        drift: 1.0 + cv / 2.0,
    }
}

/// The smallest and the largest value: the fixtures' stand-in for a 95 % interval (as wide as
/// a bootstrap's with few rounds, and never narrower, so equal backends tie).
fn spread(values: &[f64]) -> Interval {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.is_empty() {
        Interval {
            lo: f64::NAN,
            hi: f64::NAN,
        }
    } else {
        Interval { lo, hi }
    }
}

fn quick_ratio(a: &[Option<f64>], b: &[Option<f64>]) -> Ratio {
    let ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .filter_map(|(x, y)| Some(y.as_ref()? / x.as_ref()?))
        .collect();
    Ratio {
        median: median(&ratios),
        ci95: spread(&ratios),
    }
}

/// Rank groups as the campaign builds them (greedy, against each group's leader), with the
/// fixtures' interval.
fn quick_groups(series: &[&(&Backend, Vec<Option<f64>>)]) -> Vec<Vec<String>> {
    let mut sorted: Vec<(&Backend, &Vec<Option<f64>>, f64)> = series
        .iter()
        .map(|(b, v)| {
            (
                *b,
                v,
                median(&v.iter().flatten().copied().collect::<Vec<_>>()),
            )
        })
        .collect();
    sorted.sort_by(|a, b| a.2.total_cmp(&b.2).then_with(|| a.0.label.cmp(&b.0.label)));
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut leader: Option<&Vec<Option<f64>>> = None;
    for (b, v, _) in sorted {
        if leader.is_some_and(|l| quick_ratio(l, v).significant().is_none()) {
            groups.last_mut().unwrap().push(b.label.clone());
        } else {
            groups.push(vec![b.label.clone()]);
            leader = Some(v);
        }
    }
    groups
}

/// A stand-in for the release `crawlbench` binary: a shell script that exits with the status
/// written in `dir/code` and, when that is 0 or 130, first copies `dir/report-<seed>.json`
/// (`dir/report-.json` without `--seed`) into its `--out` directory. Tests that run it
/// live in one test function: a script written while another test forks can fail to exec
/// ("text file busy").
#[cfg(unix)]
pub(crate) fn fake_campaign(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("crawlbench");
    let body = format!(
        r#"#!/bin/sh
[ "$1" = campaign ] || exit 3
out=""; seed=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --seed) seed="$2"; shift ;;
  esac
  shift
done
code="$(cat "{dir}/code")"
src="{dir}/report-$seed.json"
case "$code" in 0|130) [ -f "$src" ] && cp "$src" "$out/report.json" ;; esac
exit "$code"
"#,
        dir = dir.display()
    );
    fs::write(&script, body).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}
