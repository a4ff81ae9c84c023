//! The environment record: the machine, the software and the exact command a campaign ran with,
//! written once per campaign into `report.json`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use crawlbench_stats::Environment;

/// Prefixes of environment variables that change how a run behaves; their values are recorded.
const SHAPING_ENV: &[&str] = &[
    "CRAWLBENCH_",
    "TOKIO_",
    "ASYNC_STD_",
    "RUST_",
    "MALLOC_",
    "GLIBC_",
];

/// Crates that make up the measured stacks (and the harness), whose versions are recorded.
const STACK: &[&str] = &[
    "tokio",
    "hyper",
    "hyper-util",
    "reqwest",
    "ureq",
    "rustls",
    "ring",
    "tokio-rustls",
    "futures-rustls",
    "async-tls",
    "rcgen",
    "h2",
    "async-std",
    "surf",
    "async-h1",
    "http-client",
    "smol",
    "smol-hyper",
    "async-executor",
    "async-io",
    "futures-util",
    "postcard",
    "redis",
    "html5gum",
    "url",
    "rustls",
    "criterion",
];

/// The workspace this binary was built from: the nearest ancestor of the executable (or of the
/// current directory) holding a `Cargo.lock`.
pub fn workspace_root() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    [exe, cwd]
        .into_iter()
        .flatten()
        .flat_map(|p| p.ancestors().map(Path::to_path_buf).collect::<Vec<_>>())
        .find(|d| d.join("Cargo.lock").is_file())
}

fn command_output(program: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The current UTC time, RFC 3339.
pub fn now_utc() -> String {
    command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"], None).unwrap_or_else(|| "unknown".into())
}

/// Reads the environment of this machine and process.
pub fn record(notes: Vec<String>) -> Environment {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or_else(|| "unknown".to_owned(), |m| m.trim().to_owned());
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    let kernel = format!(
        "Linux {}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );
    let root = workspace_root();
    let git_commit = command_output("git", &["rev-parse", "HEAD"], root.as_deref())
        .map(|c| {
            let dirty = command_output(
                "git",
                &["status", "--porcelain", "--untracked-files=no"],
                root.as_deref(),
            )
            .is_some_and(|s| !s.is_empty());
            if dirty { format!("{c}-dirty") } else { c }
        })
        .unwrap_or_else(|| "unknown".into());
    let rustc = command_output(
        &std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()),
        &["--version"],
        root.as_deref(),
    )
    .unwrap_or_else(|| "unknown".into());
    let env = std::env::vars()
        .filter(|(k, _)| SHAPING_ENV.iter().any(|p| k.starts_with(p)))
        .collect();
    Environment {
        date: now_utc(),
        git_commit,
        command_line: std::env::args().collect(),
        env,
        rustc,
        cpu_model,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_bytes,
        kernel,
        valgrind: command_output("valgrind", &["--version"], None),
        crate_versions: root
            .map(|r| crate_versions(&r.join("Cargo.lock")))
            .unwrap_or_default(),
        notes,
    }
}

/// Versions of the stacks' crates, from `Cargo.lock` (every version, when several are locked).
fn crate_versions(lock: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let mut versions: BTreeMap<String, String> = BTreeMap::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_owned());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take())
            && STACK.contains(&n.as_str())
        {
            let v = v.trim_matches('"');
            versions
                .entry(n)
                .and_modify(|all| {
                    all.push_str(", ");
                    all.push_str(v);
                })
                .or_insert_with(|| v.to_owned());
        }
    }
    versions
}
