//! Instruction counts: a CPU figure that does not drift with the neighbours.
//!
//! Each backend runs one small `throughput`-shaped job in a child process under
//! `valgrind --tool=callgrind` (children traced, so a multi-process backend's workers count
//! too), against a native origin in its own process. Instructions per request are the sum of
//! every traced process's total ÷ the requests made.
//!
//! What it does and does not say: valgrind runs a program's threads one at a time, so the count
//! is the CPU *work* of a model, not its parallel speed; it counts user-space instructions only —
//! system calls and the kernel's network stack are invisible to it, and thread- and
//! process-per-request models spend much of their cost there — so system CPU time of the same run
//! is published beside it. Timing-dependent paths (how often an executor finds no work) vary a
//! little; on this machine the same run counted twice agreed to well under 1 %.
//!
//! Built-in backends only: an external program under valgrind is an interpreter (and its process
//! pool) emulated instruction by instruction — minutes per counted run for
//! `py-aiomultiprocess` — and its count would be the interpreter's, not comparable code paths.

use std::{path::Path, process::Command};

use crawlbench_origin::SiteSpec;
use crawlbench_stats::InstructionCount;

use crate::{runner::Host, workloads::list_job};

/// URLs in the counted job.
const URLS: u32 = 2_000;
/// Counted runs per backend; the median is published.
const REPEATS: usize = 3;
/// In flight.
const CONCURRENCY: usize = 16;

/// `valgrind --version`, when valgrind can run.
pub fn valgrind_version() -> Option<String> {
    let out = Command::new("valgrind").arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The job counted, in words.
pub fn job_description() -> String {
    format!(
        "list of {URLS} URLs, {CONCURRENCY} in flight, no delay, 512-byte pages; median of {REPEATS} counted runs"
    )
}

/// Counts every built-in backend of `host` (by registry name); per-backend files go under `dir`.
pub fn count_all(host: &Host, dir: &Path) -> Vec<InstructionCount> {
    let spec = SiteSpec {
        pages: URLS,
        body_bytes: 512,
        links_per_page: 4,
        ..Default::default()
    };
    host.backends
        .iter()
        .filter(|info| !host.external.contains(&info.name))
        .map(|info| {
            let label = info.name.clone();
            eprintln!("campaign: instruction count (callgrind) {label}");
            let out = dir.join(&label);
            let failed = |why: String| InstructionCount {
                backend: label.clone(),
                job: job_description(),
                requests: 0,
                instructions: 0,
                per_request: 0.0,
                per_request_runs: Vec::new(),
                processes: 0,
                sys_cpu_us_per_request: 0.0,
                verified: false,
                failure: Some(why),
            };
            let mut runs = Vec::new();
            for k in 0..REPEATS {
                match count_one(host, &spec, info, &out.join(k.to_string())) {
                    Ok(run) => runs.push(run),
                    Err(e) => return failed(e),
                }
            }
            runs.sort_by(|a, b| a.per_request.total_cmp(&b.per_request));
            let per_request_runs = runs.iter().map(|r| r.per_request).collect();
            let mid = runs.swap_remove(REPEATS / 2);
            InstructionCount {
                backend: label.clone(),
                job: job_description(),
                requests: mid.requests,
                instructions: mid.instructions,
                per_request: mid.per_request,
                per_request_runs,
                processes: mid.processes,
                sys_cpu_us_per_request: mid.sys_cpu_us_per_request,
                verified: mid.verified,
                failure: None,
            }
        })
        .collect()
}

/// One counted run.
struct Counted {
    requests: u64,
    instructions: u64,
    per_request: f64,
    processes: usize,
    sys_cpu_us_per_request: f64,
    verified: bool,
}

fn count_one(
    host: &Host,
    spec: &SiteSpec,
    info: &crawlbench_core::BackendInfo,
    out: &Path,
) -> Result<Counted, String> {
    match std::fs::remove_dir_all(out) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("cannot clear {}: {e}", out.display()));
        }
        _ => {}
    }
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let backend = host.child(info).wrapped(vec![
        // Workers under valgrind write their counts as they exit: give them time. And they run
        // tens of times slower: a watchdog sized for native speed could take a slow worker for
        // a stopped one, and the URLs fetched again would change the counts.
        "env".into(),
        "CRAWLBENCH_WORKER_GRACE_MS=120000".into(),
        "CRAWLBENCH_WORKER_WATCHDOG_MS=120000".into(),
        "valgrind".into(),
        "--tool=callgrind".into(),
        "--quiet".into(),
        "--trace-children=yes".into(),
        format!("--callgrind-out-file={}/callgrind.out.%p", out.display()),
    ]);
    let report = crate::runner::run_once(host, spec, &backend, |site| {
        list_job(site, URLS, CONCURRENCY)
            .build()
            .expect("a valid job")
    })?;
    let (instructions, processes) = sum_totals(out)?;
    let requests = report.requests.max(1);
    Ok(Counted {
        requests: report.requests,
        instructions,
        per_request: instructions as f64 / requests as f64,
        processes,
        sys_cpu_us_per_request: report.resources.cpu_sys_secs * 1e6 / requests as f64,
        verified: report.verified() == Some(true),
    })
}

/// Sums the `totals:` (or `summary:`) line of every callgrind output file in `dir`.
fn sum_totals(dir: &Path) -> Result<(u64, usize), String> {
    let mut total = 0u64;
    let mut files = 0;
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let count = text.lines().find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
                .and_then(|n| n.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
        });
        match count {
            Some(c) => {
                total += c;
                files += 1;
            }
            None => {
                return Err(format!(
                    "{} holds no count (the process was killed before callgrind wrote it)",
                    entry.path().display()
                ));
            }
        }
    }
    if files == 0 {
        return Err(format!("callgrind wrote no counts in {}", dir.display()));
    }
    Ok((total, files))
}
