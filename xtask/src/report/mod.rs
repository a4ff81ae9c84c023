//! `cargo xtask report` and `cargo xtask compare`: a campaign's `report.json` (the
//! `crawlbench_stats::CampaignReport` contract) collated into `REPORT.md` and SVG charts beside
//! it, and two campaigns compared.
//!
//! The pipeline is `report.json` → [`view::View`] (indexed once) → `markdown` and `charts`
//! (presentation only: every number comes from the campaign). [`collate`] takes the directory as
//! a parameter, so tests run it on fixtures without touching `target/` or `results/`.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, ensure};
use crawlbench_stats::{CampaignReport, reproduce::Reproduction};

use crate::{
    args::{self, Flag, Profile},
    campaign::{self, Finished, REPORT_JSON, Spec},
};

pub(crate) mod charts;
mod compare;
pub(crate) mod format;
pub(crate) mod markdown;
mod readme;
mod view;
mod workloads;

#[cfg(test)]
pub(crate) mod tests;

pub(crate) use compare::compare_command;

/// What one collation wrote.
#[derive(Debug)]
pub(crate) struct Collated {
    pub(crate) report_md: PathBuf,
    pub(crate) charts: Vec<charts::ChartFile>,
    /// Stale charts removed.
    pub(crate) removed: Vec<String>,
    pub(crate) elapsed: Duration,
}

/// Reads `path` as a campaign report; a missing or unreadable file is an error naming it and
/// `produce`, the command that writes one.
pub(crate) fn read_report(path: &Path, produce: &str) -> Result<CampaignReport> {
    ensure!(
        path.is_file(),
        "no campaign report at {}: `{produce}` produces it",
        path.display()
    );
    CampaignReport::read(path).map_err(|e| anyhow!("{e}; `{produce}` writes a fresh one"))
}

/// Collates `dir/report.json` into `dir/REPORT.md`, the charts and `dir/charts.json`, removing
/// charts an earlier collation wrote there and this one did not. `produce` names the command
/// that writes `report.json`, for the error when it is missing or corrupt.
pub(crate) fn collate(dir: &Path, produce: &str) -> Result<Collated> {
    let started = Instant::now();
    let report = read_report(&dir.join(REPORT_JSON), produce)?;
    let view = view::View::new(&report);
    let previous = charts::previous_charts(dir)?;
    let drawn = charts::draw_all(&view, dir)?;
    let removed = charts::remove_stale(dir, &previous, &drawn)?;
    charts::write_list(dir, &drawn)?;
    let reproduction = reproduction_line(dir, &report);
    let report_md = dir.join("REPORT.md");
    std::fs::write(
        &report_md,
        markdown::render(&view, &drawn, reproduction.as_deref()),
    )
    .with_context(|| format!("cannot write {}", report_md.display()))?;
    // The published report also writes the README's headline, so the two cannot disagree.
    let root = crate::project_root();
    if same_dir(dir, &root.join("results")) && readme::sync(&root.join("README.md"), &view)? {
        println!("report: updated the headline table in README.md");
    }
    Ok(Collated {
        report_md,
        charts: drawn,
        removed,
        elapsed: started.elapsed(),
    })
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The reproduction file name, beside a published report.
pub(crate) const REPRODUCE_JSON: &str = "reproduce.json";

/// A line about the reproduction check of this very campaign, when `reproduce.json` beside it
/// is about it (same start time).
fn reproduction_line(dir: &Path, report: &CampaignReport) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(REPRODUCE_JSON)).ok()?;
    let r: Reproduction = serde_json::from_str(&text).ok()?;
    (r.campaigns[0].started == report.campaign.started).then(|| {
        let verdict = if r.agree {
            "a second campaign of the same commit on the same machine **agreed** with this one \
             (no significant inversion)"
        } else {
            "a second campaign of the same commit on the same machine **did not agree** with \
             this one"
        };
        format!("**Reproduction check:** {verdict} — see [REPRODUCE.md](REPRODUCE.md).")
    })
}

/// Prints what a collation wrote.
pub(crate) fn print_collated(c: &Collated) {
    println!(
        "report: wrote {} and {} chart(s) in {:.0} ms",
        c.report_md.display(),
        c.charts.len(),
        c.elapsed.as_secs_f64() * 1e3
    );
    for r in &c.removed {
        println!("report: removed stale chart {r}");
    }
}

/// `cargo xtask report` arguments, checked.
#[derive(Debug, PartialEq, Eq)]
struct ReportArgs {
    opts: args::Options,
    profile: Profile,
}

fn parse_report_args(args: &[String]) -> Result<ReportArgs> {
    let opts = args::parse("report", args, &Flag::ALL)?;
    ensure!(
        !(opts.publish && opts.out.is_some()),
        "--out and --publish both choose the output directory (--publish means results/): \
         give one of them"
    );
    let runs_only = opts.profile.is_some()
        || opts.seed.is_some()
        || opts.rounds.is_some()
        || !opts.campaign_args.is_empty();
    ensure!(
        opts.run || !runs_only,
        "--profile, --seed, --rounds and campaign arguments choose how the campaign runs, so they \
         need --run (without it the report re-collates the report.json already there, whose \
         profile, seed and rounds it shows)"
    );
    Ok(ReportArgs {
        profile: opts.profile.unwrap_or(Profile::Quick),
        opts,
    })
}

/// Where `report` writes, where its campaign runs, and the command that produces the report.
#[derive(Debug)]
struct Dirs {
    /// Where `REPORT.md` and the charts go (and `report.json`, once the campaign completed).
    out: PathBuf,
    /// Where `--run` runs the campaign: `out`, except for `--publish`, whose campaign runs in
    /// `target/crawlbench/publish/` and reaches `results/` only when it completed.
    run: PathBuf,
    /// The command that writes `out/report.json`, for errors.
    produce: String,
}

fn dirs(root: &Path, a: &ReportArgs) -> Dirs {
    let (out, produce) = if a.opts.publish {
        (
            root.join("results"),
            "cargo xtask report --run --publish".to_owned(),
        )
    } else if let Some(out) = &a.opts.out {
        (
            out.clone(),
            format!("cargo xtask report --run --out {}", out.display()),
        )
    } else {
        (
            campaign::data_dir(root).join("report"),
            "cargo xtask report --run".to_owned(),
        )
    };
    let run = if a.opts.publish {
        campaign::data_dir(root).join("publish")
    } else {
        out.clone()
    };
    Dirs { out, run, produce }
}

/// `cargo xtask report [--run] [--profile quick|full] [--seed N] [--rounds R] [--out DIR |
/// --publish] [-- CAMPAIGN-ARGS…]`.
pub(crate) fn report_command(root: &Path, args: &[String]) -> Result<()> {
    let a = parse_report_args(args)?;
    let d = dirs(root, &a);
    if !a.opts.run {
        print_collated(&collate(&d.out, &d.produce)?);
        return Ok(());
    }
    let binary = campaign::build_release(root)?;
    run_and_collate(&binary, &a, &d)
}

/// Runs the campaign with `binary`, publishes it when asked and it completed, and collates.
fn run_and_collate(binary: &Path, a: &ReportArgs, d: &Dirs) -> Result<()> {
    let spec = Spec {
        profile: a.profile,
        seed: a.opts.seed,
        rounds: a.opts.rounds,
        extra: &a.opts.campaign_args,
    };
    let finished = campaign::run(binary, &spec, &d.run)?;
    if a.opts.publish && finished == Finished::Complete {
        publish_report(&d.run, &d.out)?;
    }
    let collated_dir = if finished == Finished::Complete {
        &d.out
    } else {
        &d.run
    };
    print_collated(&collate(collated_dir, &d.produce)?);
    match finished {
        Finished::Complete => Ok(()),
        Finished::Interrupted if a.opts.publish => Err(campaign::interrupted(&format!(
            "nothing was published; the partial report is in {}",
            d.run.display()
        ))),
        Finished::Interrupted => Err(campaign::interrupted(&format!(
            "the partial report is in {}",
            d.run.display()
        ))),
    }
}

/// Copies a completed campaign's `report.json` from `from` into `to` (results/).
pub(crate) fn publish_report(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let (src, dst) = (from.join(REPORT_JSON), to.join(REPORT_JSON));
    std::fs::copy(&src, &dst)
        .with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
    println!("report: published {}", dst.display());
    // A reproduction check belongs to the campaign it checked: the previous one's files must
    // not sit beside a new report (`reproduce --publish` writes its own right after this).
    for stale in [REPRODUCE_JSON, crate::reproduce::REPRODUCE_MD] {
        let path = to.join(stale);
        if path.exists() {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove the stale {}", path.display()))?;
            println!(
                "report: removed {} (it checked the previous campaign)",
                path.display()
            );
        }
    }
    Ok(())
}
