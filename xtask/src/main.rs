//! `cargo xtask <command>`: project automation in Rust, run through the `.cargo/config.toml`
//! alias so it needs nothing installed beyond cargo.
//!
//! Commands:
//! - `check-core`: proves the core crate names no async runtime and no HTTP client (the
//!   workspace's first architecture invariant) by asking `cargo tree`.
//! - `new-backend NAME`: generates and registers a backend crate (see `new_backend.rs`).
//! - `scaffold-check`: proves the generator's output still builds (run by CI).
//! - `report`: collates the bench suite's output into `results/` (see `report/mod.rs`).
//! - `compare OLD NEW`: compares two `results.json` files.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

mod new_backend;
mod report;
mod tidy;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  check-core          fail if crawlbench-core depends on a runtime or HTTP client
  new-backend NAME    generate crates/backends/NAME and register it
  scaffold-check      generate a backend in a temporary copy and build it
  report [--run] [--profile quick|full] [--seed N] [--out DIR]
                      collate target/crawlbench and criterion's estimates into
                      DIR (default results/): REPORT.md, *.svg, results.json;
                      --run first reruns the benches (old data removed):
                      CRAWLBENCH_PROFILE=quick|full (default quick; quick adds
                      criterion's --quick), CRAWLBENCH_ORDER_SEED=N with --seed
  compare OLD NEW     per workload and backend, the change of median wall time
                      between two results.json files, and verification changes";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check-core") => check_core(),
        Some("new-backend") => match args.get(1) {
            Some(name) => new_backend::new_backend(&project_root(), name),
            None => bail!("new-backend needs a NAME, e.g. `cargo xtask new-backend glommio-h1`"),
        },
        Some("scaffold-check") => new_backend::scaffold_check(&project_root()),
        Some("report") => report::report_command(&project_root(), &args[1..]),
        Some("compare") => report::compare_command(&args[1..]),
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
