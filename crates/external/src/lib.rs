//! Backends in any language: a program, started from a manifest, that makes GET attempts for the
//! harness over line-delimited JSON on its stdin and stdout (`PROTOCOL.md` at the workspace
//! root is the specification; [`protocol`] is it in types).
//!
//! The split is the same as for every built-in backend: the program owns *how* attempts run
//! concurrently — its threads, event loop, process pool, client and connections — and the core
//! owns *what* a result is. The crawl loop, retries, redirects, the body cap's meaning, digests,
//! link extraction and verification stay in Rust, so a Python or Go program is judged by exactly
//! the code that judges `tokio-reqwest`. One attempt per `get` line also means the harness keeps
//! the job's concurrency, so "at most C in flight" means the same for every backend.
//!
//! [`ExternalBackend`] is an ordinary [`Backend`]: the registry lists one per manifest
//! ([`manifest`]), the CLI, benches, campaign and conformance suite run it unchanged. The run's
//! process handling — bounded start, a watchdog on every attempt, clean-up — is [`session`].

pub mod manifest;
pub mod protocol;
pub mod python;
mod session;

use std::path::Path;

pub use crawlbench_core::Backend;
use crawlbench_core::{BackendError, BackendInfo, CrawlJob, CrawlReport, report::measure};
pub use manifest::Manifest;

/// A backend whose requests are made by an external program.
#[derive(Debug)]
pub struct ExternalBackend {
    manifest: Result<Manifest, (String, String)>,
}

impl ExternalBackend {
    /// The backend a manifest describes.
    pub fn new(manifest: Manifest) -> Self {
        Self {
            manifest: Ok(manifest),
        }
    }

    /// Every backend in the manifest directory `dir`; a file that is not a valid manifest is a
    /// backend named after it that is unavailable, saying why.
    pub fn load_dir(dir: &Path) -> Vec<Self> {
        manifest::load_dir(dir)
            .into_iter()
            .map(|manifest| Self { manifest })
            .collect()
    }

    /// The same backend with `{crawlbench}` in its command naming `exe`
    /// ([`Manifest::with_crawlbench_exe`]).
    pub fn with_crawlbench_exe(self, exe: impl Into<std::path::PathBuf>) -> Self {
        Self {
            manifest: self.manifest.map(|m| m.with_crawlbench_exe(exe)),
        }
    }

    /// Makes the project's Python environment when one of `backends` needs it and it is not
    /// there yet (the first campaign, bench or `run` of a Python backend on a fresh machine);
    /// the error says why it could not be made (those backends then stay unavailable, saying
    /// so).
    pub fn prepare(backends: &[Self]) -> Result<(), String> {
        if backends.iter().any(Self::needs_python) && python::interpreter().is_err() {
            python::ensure()?;
        }
        Ok(())
    }

    /// Whether its command runs the project's Python environment.
    pub fn needs_python(&self) -> bool {
        self.manifest.as_ref().is_ok_and(Manifest::needs_python)
    }

    /// The backend called `name` in the registry's manifest directory.
    pub fn named(name: &str) -> Result<Self, String> {
        let dir = manifest::dir();
        Self::load_dir(&dir)
            .into_iter()
            .find(|b| b.info().name == name)
            .ok_or_else(|| format!("no manifest named {name:?} in {}", dir.display()))
    }
}

impl Backend for ExternalBackend {
    fn info(&self) -> BackendInfo {
        match &self.manifest {
            Ok(m) => m.info(),
            Err((stem, _)) => BackendInfo {
                name: stem.clone(),
                runtime: "?".into(),
                client: "?".into(),
                model: crawlbench_core::ConcurrencyModel::Threads,
                threads: "?".into(),
                status: crawlbench_core::UpstreamStatus::Maintained,
                max_concurrency: None,
                tls: None,
                http: Default::default(),
                connection_policies: Vec::new(),
            },
        }
    }

    fn unavailable(&self) -> Option<String> {
        match &self.manifest {
            Ok(m) => m.command().err(),
            Err((_, why)) => Some(why.clone()),
        }
    }

    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError> {
        let info = self.info();
        let manifest = self
            .manifest
            .as_ref()
            .map_err(|(_, why)| info.setup_error(format!("unavailable: {why}")))?;
        let command = manifest
            .command()
            .map_err(|why| info.setup_error(format!("unavailable: {why}")))?;
        // Children inherit the soft open-file limit: give the program the whole budget.
        crawlbench_core::resources::raise_fd_limit();
        let mut announced = (None, None);
        let mut report = measure(info.clone(), job, || {
            let session = session::Session::start(command).map_err(|why| info.setup_error(why))?;
            announced = session.announced.clone();
            let (mut driven, finished) = session.run(job);
            driven.failure = finished.failure;
            driven.worker_peaks = finished.peaks;
            driven
                .extra
                .insert("protocol_bytes_in".into(), finished.bytes_in as f64);
            Ok(driven)
        })?;
        // The exact versions the program loaded, when it said.
        let (runtime, client) = announced;
        if let Some(runtime) = runtime {
            report.backend.runtime = runtime;
        }
        if let Some(client) = client {
            report.backend.client = client;
        }
        Ok(report)
    }
}
