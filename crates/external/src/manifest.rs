//! Manifests: what an external backend is and how to start it, one JSON file each in the
//! directory the registry reads (`external/` in the workspace, or `CRAWLBENCH_EXTERNAL_DIR`).
//!
//! A manifest that cannot be read or parsed is not dropped: it becomes a backend listed as
//! unavailable with the reason, so a typo never makes a backend silently disappear from a report.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crawlbench_core::{
    BackendInfo, ConcurrencyModel, ConnectionPolicy, HttpVersion, UpstreamStatus,
};
use serde::Deserialize;

use crate::python;

/// The environment variable naming another manifest directory.
pub const DIR_ENV: &str = "CRAWLBENCH_EXTERNAL_DIR";

/// The workspace's `external/` directory, where this build's manifests are.
pub fn builtin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../external");
    dir.canonicalize().unwrap_or(dir)
}

/// The directory the registry reads: `CRAWLBENCH_EXTERNAL_DIR`, or [`builtin_dir`].
pub fn dir() -> PathBuf {
    std::env::var_os(DIR_ENV).map_or_else(builtin_dir, PathBuf::from)
}

/// One manifest file, as written (see PROTOCOL.md, "Manifests").
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The registry name (`crawlbench run --backend NAME`).
    pub name: String,
    /// The program and its arguments. `{dir}` is the manifest's directory, `{python}` the
    /// project's locked Python environment's interpreter (`cargo xtask python`), `{crawlbench}`
    /// the running crawlbench executable.
    pub command: Vec<String>,
    /// How it gets many requests in flight.
    pub model: ConcurrencyModel,
    /// Its runtime, for listings (the program's `hello` may give the exact version).
    pub runtime: String,
    /// Its HTTP client, for listings (likewise).
    pub client: String,
    /// The OS threads it runs requests on, in words.
    pub threads: String,
    /// The highest concurrency it takes, if any.
    #[serde(default)]
    pub max_concurrency: Option<usize>,
    /// Its TLS library, or absent when it cannot fetch `https://`.
    #[serde(default)]
    pub tls: Option<String>,
    /// The HTTP version it speaks.
    #[serde(default)]
    pub http: HttpVersion,
    /// The connection policies it implements.
    #[serde(default = "all_policies")]
    pub connection_policies: Vec<ConnectionPolicy>,
    /// Not developed upstream any more, and why it is still measured.
    #[serde(default)]
    pub discontinued: Option<String>,
    /// One sentence for listings.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(skip)]
    dir: PathBuf,
    /// What `{crawlbench}` names, when not the running executable.
    #[serde(skip)]
    crawlbench: Option<PathBuf>,
}

fn all_policies() -> Vec<ConnectionPolicy> {
    ConnectionPolicy::ALL.to_vec()
}

impl Manifest {
    /// Parses the manifest at `path`; the error names the file and what is wrong.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut manifest: Self = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a valid manifest: {e}", path.display()))?;
        if manifest.command.is_empty() {
            return Err(format!(
                "{}: `command` is empty (accepted: the program, then its arguments)",
                path.display()
            ));
        }
        if manifest.name.is_empty() || manifest.name.contains(char::is_whitespace) {
            return Err(format!(
                "{}: name {:?} (accepted: a non-empty name without spaces)",
                path.display(),
                manifest.name
            ));
        }
        manifest.dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(manifest)
    }

    /// What it is, for listings and reports.
    pub fn info(&self) -> BackendInfo {
        BackendInfo {
            name: self.name.clone(),
            runtime: self.runtime.clone(),
            client: self.client.clone(),
            model: self.model,
            threads: self.threads.clone(),
            status: match &self.discontinued {
                Some(why) => UpstreamStatus::Discontinued(why.clone()),
                None => UpstreamStatus::Maintained,
            },
            max_concurrency: self.max_concurrency,
            tls: self.tls.clone(),
            http: self.http,
            connection_policies: self.connection_policies.clone(),
        }
    }

    /// Makes `{crawlbench}` name `exe` instead of the running executable (a test binary runs
    /// the crawlbench binary's roles through this).
    pub fn with_crawlbench_exe(mut self, exe: impl Into<PathBuf>) -> Self {
        self.crawlbench = Some(exe.into());
        self
    }

    /// Whether it needs the project's Python environment.
    pub fn needs_python(&self) -> bool {
        self.command.iter().any(|a| a.contains("{python}"))
    }

    /// The command that starts it, or why it cannot start here (the Python environment is not
    /// set up, the program is not installed).
    pub fn command(&self) -> Result<Command, String> {
        let python = if self.needs_python() {
            Some(python::interpreter()?)
        } else {
            None
        };
        let crawlbench = match &self.crawlbench {
            Some(exe) => exe.clone(),
            None => std::env::current_exe()
                .map_err(|e| format!("cannot find the crawlbench executable: {e}"))?,
        };
        let expand = |arg: &str| {
            let mut arg = arg
                .replace("{dir}", &self.dir.to_string_lossy())
                .replace("{crawlbench}", &crawlbench.to_string_lossy());
            if let Some(python) = &python {
                arg = arg.replace("{python}", &python.to_string_lossy());
            }
            arg
        };
        let program = expand(&self.command[0]);
        if !is_runnable(&program) {
            return Err(format!(
                "its program {program:?} is not {}",
                if program.contains('/') {
                    "an executable file"
                } else {
                    "on PATH"
                }
            ));
        }
        let mut command = Command::new(program);
        command.args(self.command[1..].iter().map(|a| expand(a)));
        Ok(command)
    }
}

/// A path to an executable file, or a name found on `PATH`.
fn is_runnable(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| executable(&dir.join(program))))
}

/// Every manifest in `dir` (`*.json`, by file name): each a manifest, or the file's stem and
/// why it is not one. A missing directory has none.
pub fn load_dir(dir: &Path) -> Vec<Result<Manifest, (String, String)>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            Manifest::load(&path).map_err(|why| {
                let stem = path
                    .file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
                (stem, why)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn manifests_load_and_bad_ones_say_why() {
        let dir = std::env::temp_dir().join(format!("crawlbench-manifests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write(
            &dir,
            "a.json",
            r#"{"name":"ext-sh","command":["sh","{dir}/x.sh"],"model":"threads",
                "runtime":"sh","client":"curl","threads":"= concurrency","max_concurrency":8}"#,
        );
        write(&dir, "b.json", r#"{"name":"typo","comand":["sh"]}"#);
        write(
            &dir,
            "c.json",
            r#"{"name":"gone","command":["/nonexistent/prog"],"model":"threads",
                "runtime":"r","client":"c","threads":"1"}"#,
        );
        write(&dir, "notes.txt", "ignored");
        let loaded = load_dir(&dir);
        assert_eq!(loaded.len(), 3);
        let a = loaded[0].as_ref().unwrap();
        assert_eq!(a.info().max_concurrency, Some(8));
        assert_eq!(a.info().connection_policies, ConnectionPolicy::ALL.to_vec());
        let command = a.command().unwrap();
        assert_eq!(
            command.get_args().next().unwrap().to_string_lossy(),
            format!("{}/x.sh", dir.display())
        );
        let (stem, why) = loaded[1].as_ref().unwrap_err();
        assert_eq!(stem, "b");
        assert!(why.contains("b.json") && why.contains("comand"), "{why}");
        let why = loaded[2].as_ref().unwrap().command().unwrap_err();
        assert!(why.contains("/nonexistent/prog"), "{why}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
