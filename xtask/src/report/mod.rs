//! `cargo xtask report` and `cargo xtask compare`: collate the bench suite's output into
//! `REPORT.md`, SVG charts and `results.json`, and compare two `results.json` files.
//!
//! The pipeline is `load` (files → [`load::Input`]) → `derive` (numbers → [`results::Results`])
//! → `charts` and `tables` (presentation). [`collate`] takes the target directory and the output
//! directory as parameters, so tests run it on fixtures without touching `target/` or `results/`.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, SystemTime},
};

use anyhow::{Context, Result, bail, ensure};

mod charts;
mod compare;
mod derive;
mod format;
mod load;
mod results;
mod tables;
mod workloads;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use results::Results;

/// What one collation wrote.
#[derive(Debug)]
pub(crate) struct Collated {
    pub(crate) results: Results,
    pub(crate) report: PathBuf,
    pub(crate) json: PathBuf,
}

/// Reads the bench output under `target_dir` and writes `REPORT.md`, the charts and
/// `results.json` into `out`. A `results.json` already in `out` is compared against and replaced.
/// `not_before`: criterion estimates older than this are treated as stale (see [`load::load`]).
pub(crate) fn collate(
    target_dir: &Path,
    out: &Path,
    not_before: Option<SystemTime>,
) -> Result<Collated> {
    let input = load::load(target_dir, not_before)?;
    let mut results = derive::build(&input);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let json = out.join("results.json");
    let previous = if json.is_file() {
        match Results::read(&json) {
            Ok(previous) => Some(previous),
            Err(e) => {
                results.warnings.push(format!(
                    "the previous results could not be read, so there is no change column: {e:#}"
                ));
                None
            }
        }
    } else {
        None
    };
    results.charts = charts::draw_all(&results, out)?;
    if let Some(previous) = &previous {
        charts::remove_stale(out, &previous.charts, &results.charts)?;
    }
    let report = out.join("REPORT.md");
    std::fs::write(&report, tables::render(&results, previous.as_ref()))
        .with_context(|| format!("cannot write {}", report.display()))?;
    results.write(&json)?;
    Ok(Collated {
        results,
        report,
        json,
    })
}

/// The bench profile `--run` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Profile {
    Quick,
    Full,
}

impl Profile {
    fn as_str(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::Full => "full",
        }
    }
}

/// `cargo xtask report` arguments.
#[derive(Debug, PartialEq, Eq)]
struct ReportArgs {
    run: bool,
    profile: Profile,
    seed: Option<u64>,
    out: Option<PathBuf>,
}

fn parse_report_args(args: &[String]) -> Result<ReportArgs> {
    let mut parsed = ReportArgs {
        run: false,
        profile: Profile::Quick,
        seed: None,
        out: None,
    };
    let (mut profile_given, mut it) = (false, args.iter());
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--run" => parsed.run = true,
            "--profile" => {
                profile_given = true;
                parsed.profile = match value("--profile")?.as_str() {
                    "quick" => Profile::Quick,
                    "full" => Profile::Full,
                    other => bail!("unknown profile {other:?} (accepted: quick, full)"),
                }
            }
            "--seed" => {
                let v = value("--seed")?;
                parsed.seed = Some(v.parse().with_context(|| {
                    format!("--seed {v:?} is not a number (accepted: 0 to {})", u64::MAX)
                })?);
            }
            "--out" => parsed.out = Some(PathBuf::from(value("--out")?)),
            other => bail!(
                "unknown argument {other:?} for report (accepted: --run, --profile quick|full, \
                 --seed N, --out DIR)"
            ),
        }
    }
    ensure!(
        parsed.run || (!profile_given && parsed.seed.is_none()),
        "--profile and --seed choose how the benches run, so they need --run (without it the \
         report collates the data already in target/crawlbench, whose profile and seed it shows)"
    );
    Ok(parsed)
}

/// `cargo xtask report [--run] [--profile quick|full] [--seed N] [--out DIR]`.
pub(crate) fn report_command(root: &Path, args: &[String]) -> Result<()> {
    let args = parse_report_args(args)?;
    let target_dir = target_dir(root);
    let out = args.out.clone().unwrap_or_else(|| root.join("results"));
    let not_before = if args.run {
        Some(run_benches(root, &target_dir, &args)?)
    } else {
        None
    };
    let started = std::time::Instant::now();
    let collated = collate(&target_dir, &out, not_before)?;
    let r = &collated.results;
    println!(
        "report: {} workloads, {} cells ({} profile) in {:.0} ms",
        r.workloads.len(),
        r.workloads.iter().map(|w| w.cells.len()).sum::<usize>(),
        r.profile,
        started.elapsed().as_secs_f64() * 1e3
    );
    if !r.missing_workloads.is_empty() {
        println!(
            "report: partial — missing workloads: {}",
            r.missing_workloads.join(", ")
        );
    }
    for warning in &r.warnings {
        println!("report: warning: {warning}");
    }
    println!("report: wrote {}", collated.report.display());
    println!("report: wrote {}", collated.json.display());
    for chart in &r.charts {
        println!("report: wrote {}", out.join(&chart.file).display());
    }
    Ok(())
}

/// Where cargo puts build output: `CARGO_TARGET_DIR`, else `<root>/target`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// Runs the bench suite with fresh output; returns when it started (older criterion files are
/// stale).
fn run_benches(root: &Path, target_dir: &Path, args: &ReportArgs) -> Result<SystemTime> {
    let data = target_dir.join("crawlbench");
    if data.exists() {
        std::fs::remove_dir_all(&data)
            .with_context(|| format!("cannot remove old bench data {}", data.display()))?;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let (mut cmd, shown) = bench_command(&cargo, root, args);
    println!("report: running {shown}");
    // Coarse file-system timestamps must not make this run's own files look older than it.
    let started = SystemTime::now() - Duration::from_secs(2);
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cargo} bench"))?;
    ensure!(
        status.success(),
        "`{shown}` failed ({status}); whatever it wrote is in {} — `cargo xtask report` (without \
         --run) collates it into a partial report",
        data.display()
    );
    Ok(started)
}

/// The bench command for `args`, and how to show it (output is streamed: stdio is inherited).
fn bench_command(cargo: &str, root: &Path, args: &ReportArgs) -> (Command, String) {
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["bench", "-p", "crawlbench-benches"])
        .env("CRAWLBENCH_PROFILE", args.profile.as_str());
    let mut shown = format!(
        "CRAWLBENCH_PROFILE={} cargo bench -p crawlbench-benches",
        args.profile.as_str()
    );
    if let Some(seed) = args.seed {
        cmd.env("CRAWLBENCH_ORDER_SEED", seed.to_string());
        shown = format!("CRAWLBENCH_ORDER_SEED={seed} {shown}");
    }
    if args.profile == Profile::Quick {
        cmd.args(["--", "--quick"]);
        shown += " -- --quick";
    }
    (cmd, shown)
}

/// `cargo xtask compare OLD NEW`.
pub(crate) fn compare_command(args: &[String]) -> Result<()> {
    let [old, new] = args else {
        bail!(
            "compare needs two results.json files: `cargo xtask compare OLD NEW`, e.g. \
             `cargo xtask compare /tmp/old/results.json results/results.json`"
        );
    };
    let (old_results, new_results) = (
        Results::read(Path::new(old))?,
        Results::read(Path::new(new))?,
    );
    print!("{}", compare::render(old, new, &old_results, &new_results));
    Ok(())
}
