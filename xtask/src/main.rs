//! `cargo xtask <command>`: project automation in Rust, run through the `.cargo/config.toml`
//! alias so it needs nothing installed beyond cargo.
//!
//! Commands:
//! - `check-core`: proves the core crate names no async runtime and no HTTP client (the
//!   workspace's first architecture invariant) by asking `cargo tree`.
//! - `new-backend NAME`: generates and registers a backend crate (see `new_backend.rs`).
//! - `scaffold-check`: proves the generator's output still builds (run by CI).
//! - `report`: runs a campaign (`--run`) and collates its `report.json` into `REPORT.md` and
//!   charts (see `report/mod.rs`).
//! - `reproduce`: runs the campaign twice and checks that no ranking inverts (`reproduce.rs`).
//! - `compare OLD NEW`: compares two `report.json` files.

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::{Context, Result, bail};

mod args;
mod campaign;
mod new_backend;
mod report;
mod reproduce;
mod tidy;

#[cfg(test)]
mod testkit;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  check-core          fail if crawlbench-core depends on a runtime or HTTP client
  new-backend NAME    generate crates/backends/NAME and register it
  scaffold-check      generate a backend in a temporary copy and build it
  report [--run] [--profile quick|full] [--seed N] [--rounds R]
         [--out DIR | --publish] [-- CAMPAIGN-ARGS...]
                      collate DIR/report.json into DIR/REPORT.md and SVG charts
                      (DIR: target/crawlbench/report/ by default, results/ with
                      --publish, the only way results/ is rewritten);
                      --run first builds the release binary and runs
                      `crawlbench campaign --profile P [--seed N] [--rounds R]
                      [CAMPAIGN-ARGS] --out DIR` (default profile quick);
                      with --publish the campaign runs in target/crawlbench/publish/
                      and reaches results/ only when it completes
  reproduce [--profile quick|full] [--seed N] [--rounds R] [--publish]
            [-- CAMPAIGN-ARGS...]
                      run the campaign twice (seeds N and N+1) into
                      target/crawlbench/reproduce/{first,second}/, compare them,
                      write reproduce.json and REPRODUCE.md there; exit 0 when
                      they agree, 1 when not (the reasons are listed);
                      --publish (only when they agree): the first campaign's
                      report, charts, reproduce.json and REPRODUCE.md to results/
  python              make the Python backends' environment: a venv in
                      external/python/.venv with exactly the packages
                      external/python/requirements.lock pins (hashes required),
                      from the python3 on PATH (3.11 or newer, with venv)
  compare OLD NEW     per workload, parameter and backend, the change of median
                      wall and CPU/request between two report.json files, and
                      verification changes";

/// An error that ends the process with a given status (1 for any other error).
#[derive(Debug)]
pub(crate) struct Exit {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(e.downcast_ref::<Exit>().map_or(1, |x| x.code))
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check-core") => check_core(),
        Some("new-backend") => match args.get(1) {
            Some(name) => new_backend::new_backend(&project_root(), name),
            None => bail!("new-backend needs a NAME, e.g. `cargo xtask new-backend glommio-h1`"),
        },
        Some("scaffold-check") => new_backend::scaffold_check(&project_root()),
        Some("report") => report::report_command(&project_root(), &args[1..]),
        Some("reproduce") => reproduce::reproduce_command(&project_root(), &args[1..]),
        Some("compare") => report::compare_command(&args[1..]),
        Some("python") => {
            let python =
                crawlbench_external::python::ensure().map_err(|why| anyhow::anyhow!(why))?;
            println!("Python environment ready: {}", python.display());
            Ok(())
        }
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

/// The workspace root (the directory above `xtask/`).
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Crates the core must never depend on, even indirectly.
const FORBIDDEN_IN_CORE: &[&str] = &[
    "tokio",
    "async-std",
    "smol",
    "async-io",
    "async-executor",
    "hyper",
    "reqwest",
    "ureq",
    "surf",
    "isahc",
];

fn check_core() -> Result<()> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(project_root())
        .args([
            "tree",
            "-p",
            "crawlbench-core",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .context("cannot run cargo tree")?;
    if !output.status.success() {
        bail!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let tree = String::from_utf8(output.stdout)?;
    let found: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| FORBIDDEN_IN_CORE.contains(name))
        .collect();
    if !found.is_empty() {
        bail!(
            "crawlbench-core depends on {found:?}; the core must name no runtime and no HTTP client"
        );
    }
    println!("check-core: crawlbench-core depends on none of {FORBIDDEN_IN_CORE:?}");
    Ok(())
}
