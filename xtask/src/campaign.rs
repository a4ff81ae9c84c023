//! Running the campaign for `report --run` and `reproduce`: build the release `crawlbench`
//! binary once, then run `crawlbench campaign` with inherited stdio (its progress streams to the
//! terminal) and map its exit status — 0 done, 2 bad input, 130 interrupted with a partial
//! `report.json` — to what the caller does next.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail, ensure};

use crate::{Exit, args::Profile};

/// `report.json`, the campaign's contract, in a campaign's output directory.
pub(crate) const REPORT_JSON: &str = "report.json";

/// The campaign's raw per-run data, beside `report.json`.
pub(crate) const RUNS_JSONL: &str = "runs.jsonl";

/// What one campaign is asked to do.
#[derive(Debug)]
pub(crate) struct Spec<'a> {
    pub(crate) profile: Profile,
    pub(crate) seed: Option<u64>,
    pub(crate) rounds: Option<usize>,
    /// Passed through after the flags above.
    pub(crate) extra: &'a [String],
}

/// How a campaign ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finished {
    /// Every cell ran (failed cells are recorded inside the report).
    Complete,
    /// Interrupted: the report is partial and says so in its warnings.
    Interrupted,
}

/// Where cargo puts build output: `CARGO_TARGET_DIR`, else `<root>/target`.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// `target/crawlbench`: the ignored home of everything the campaign tooling writes by default.
pub(crate) fn data_dir(root: &Path) -> PathBuf {
    target_dir(root).join("crawlbench")
}

/// Builds the release `crawlbench` binary and returns its path.
pub(crate) fn build_release(root: &Path) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("campaign: building the release binary (cargo build --release -p crawlbench)");
    let status = Command::new(&cargo)
        .current_dir(root)
        .args(["build", "--release", "-p", "crawlbench"])
        .status()
        .with_context(|| format!("cannot run {cargo} build"))?;
    ensure!(
        status.success(),
        "`cargo build --release -p crawlbench` failed ({status})"
    );
    let binary = target_dir(root).join("release").join("crawlbench");
    ensure!(
        binary.is_file(),
        "the build succeeded but {} is not there",
        binary.display()
    );
    Ok(binary)
}

/// The campaign command line for `spec`, writing into `out`.
pub(crate) fn command(binary: &Path, spec: &Spec<'_>, out: &Path) -> Command {
    let mut cmd = Command::new(binary);
    cmd.args(["campaign", "--profile", spec.profile.as_str()]);
    if let Some(seed) = spec.seed {
        cmd.args(["--seed", &seed.to_string()]);
    }
    if let Some(rounds) = spec.rounds {
        cmd.args(["--rounds", &rounds.to_string()]);
    }
    cmd.args(spec.extra);
    cmd.arg("--out").arg(out);
    cmd
}

/// Runs one campaign into `out` (created; an older `report.json` and `runs.jsonl` there are
/// removed first, so a campaign that dies early never leaves an older report looking current).
pub(crate) fn run(binary: &Path, spec: &Spec<'_>, out: &Path) -> Result<Finished> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for name in [REPORT_JSON, RUNS_JSONL] {
        let old = out.join(name);
        if old.is_file() {
            std::fs::remove_file(&old)
                .with_context(|| format!("cannot remove {}", old.display()))?;
        }
    }
    let mut cmd = command(binary, spec, out);
    let shown = shown(&cmd);
    println!("campaign: running {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let finished = match status.code() {
        Some(0) => Finished::Complete,
        Some(130) => Finished::Interrupted,
        Some(2) => bail!("`{shown}` refused its arguments (exit 2; its message is above)"),
        _ => bail!("`{shown}` failed ({status})"),
    };
    let report = out.join(REPORT_JSON);
    ensure!(
        report.is_file(),
        "`{shown}` ended ({status}) without writing {}",
        report.display()
    );
    Ok(finished)
}

/// The error for an interrupted campaign: exit 130, after the caller collated what there was.
pub(crate) fn interrupted(what: &str) -> anyhow::Error {
    Exit {
        code: 130,
        message: format!("the campaign was interrupted; {what}"),
    }
    .into()
}

/// A command as one would type it.
fn shown(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_campaign_command_carries_profile_seed_rounds_and_extra_arguments() {
        let extra = vec!["--workloads".to_owned(), "crawl".to_owned()];
        let spec = Spec {
            profile: Profile::Full,
            seed: Some(7),
            rounds: Some(9),
            extra: &extra,
        };
        let cmd = command(Path::new("/t/release/crawlbench"), &spec, Path::new("/o"));
        assert_eq!(
            shown(&cmd),
            "/t/release/crawlbench campaign --profile full --seed 7 --rounds 9 --workloads crawl --out /o"
        );
        let spec = Spec {
            profile: Profile::Quick,
            seed: None,
            rounds: None,
            extra: &[],
        };
        let cmd = command(Path::new("crawlbench"), &spec, Path::new("d"));
        assert_eq!(shown(&cmd), "crawlbench campaign --profile quick --out d");
    }
}
