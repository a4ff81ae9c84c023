//! The project's Python environment: a venv under `external/python/.venv` holding exactly the
//! packages `external/python/requirements.lock` pins, by version and hash.
//!
//! `cargo xtask python` makes it (and the benches and the Python tests on first use, through
//! [`ensure`]), from the `python3` on `PATH`. Until it exists the Python backends are listed as
//! unavailable, with the reason ([`interpreter`]): no `python3`, one older than the locked
//! packages need, no `venv` module, or simply not set up yet. A stamp holding the lock file's
//! digest marks a finished install, so an interrupted one or an edited lock is never mistaken
//! for a ready environment.

use std::{
    path::PathBuf,
    process::{Command, Output},
};

use crate::manifest;

/// The oldest Python the locked packages install on (multidict 7 needs 3.11).
pub const MIN_PYTHON: (u32, u32) = (3, 11);

/// `external/python`: the Python backends' sources and their lock file.
pub fn sources_dir() -> PathBuf {
    manifest::builtin_dir().join("python")
}

fn lock_file() -> PathBuf {
    sources_dir().join("requirements.lock")
}

/// The venv's directory.
pub fn venv_dir() -> PathBuf {
    sources_dir().join(".venv")
}

fn stamp_file() -> PathBuf {
    venv_dir().join("crawlbench-lock.xxh3")
}

fn lock_digest() -> Result<String, String> {
    let lock = std::fs::read(lock_file())
        .map_err(|e| format!("cannot read {}: {e}", lock_file().display()))?;
    Ok(format!("{:016x}", crawlbench_core::fetch::digest(&lock)))
}

/// The venv's interpreter when the environment is installed and matches the lock; otherwise why
/// not, and what to do.
pub fn interpreter() -> Result<PathBuf, String> {
    let python = venv_dir().join("bin/python");
    let stamp = std::fs::read_to_string(stamp_file()).unwrap_or_default();
    if python.exists() && stamp.trim() == lock_digest()? {
        return Ok(python);
    }
    system_python()?;
    Err(format!(
        "the Python environment ({}) is {}: run `cargo xtask python`",
        venv_dir().display(),
        if python.exists() {
            "out of date with requirements.lock"
        } else {
            "not set up"
        }
    ))
}

/// The `python3` a venv is made from (`CRAWLBENCH_PYTHON`, else `python3` on `PATH`), checked:
/// new enough, with `venv` and `ensurepip`.
fn system_python() -> Result<String, String> {
    let python = std::env::var("CRAWLBENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = run(Command::new(&python).args([
        "-c",
        "import sys; print('%d.%d' % sys.version_info[:2]); import venv, ensurepip",
    ]))
    .map_err(|why| format!("no usable {python}: {why}"))?;
    let version = String::from_utf8_lossy(&probe.stdout).trim().to_owned();
    let parsed: Option<(u32, u32)> = version
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    match parsed {
        Some(v) if v >= MIN_PYTHON => {}
        _ => {
            return Err(format!(
                "{python} is Python {version}; the locked packages need {}.{} or newer",
                MIN_PYTHON.0, MIN_PYTHON.1
            ));
        }
    }
    if !probe.status.success() {
        return Err(format!(
            "{python} (Python {version}) has no venv/ensurepip module (on Debian or Ubuntu: \
             apt-get install python3-venv)"
        ));
    }
    Ok(python)
}

/// Runs `command`, its output captured; an error names the program when it cannot start.
fn run(command: &mut Command) -> Result<Output, String> {
    command
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", command.get_program()))
}

/// Makes the environment if it is missing or stale and returns its interpreter. Concurrent
/// callers (test binaries, benches) wait for one another on a lock file.
pub fn ensure() -> Result<PathBuf, String> {
    if let Ok(python) = interpreter() {
        return Ok(python);
    }
    std::fs::create_dir_all(sources_dir()).map_err(|e| e.to_string())?;
    let lock = std::fs::File::create(sources_dir().join(".venv.lock"))
        .map_err(|e| format!("cannot create the venv's lock file: {e}"))?;
    // SAFETY: flock on a descriptor we own; released when the file closes.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) } != 0 {
        return Err(format!(
            "cannot lock the venv: {}",
            std::io::Error::last_os_error()
        ));
    }
    if let Ok(python) = interpreter() {
        return Ok(python);
    }
    let system = system_python()?;
    let venv = venv_dir();
    eprintln!(
        "crawlbench: making the Python environment in {} from {system} ({})",
        venv.display(),
        lock_file().display()
    );
    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .map_err(|e| format!("cannot remove the old {}: {e}", venv.display()))?;
    }
    let steps: [(&str, Command); 2] = [
        ("python3 -m venv", {
            let mut c = Command::new(&system);
            c.arg("-m").arg("venv").arg(&venv);
            c
        }),
        ("pip install --require-hashes", {
            let mut c = Command::new(venv.join("bin/python"));
            c.args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--require-hashes", "--no-deps", "-r"])
            .arg(lock_file());
            c
        }),
    ];
    for (what, mut command) in steps {
        let out = run(&mut command)?;
        if !out.status.success() {
            return Err(format!(
                "{what} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    std::fs::write(stamp_file(), lock_digest()?)
        .map_err(|e| format!("cannot write {}: {e}", stamp_file().display()))?;
    interpreter()
}
