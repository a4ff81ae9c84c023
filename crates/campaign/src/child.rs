//! A backend run in a fresh child process: [`RunInChild`] implements [`Backend`] by sending the
//! job to `<program> <args…>` (the `run-one` role of the crawlbench binary or a bench binary) on
//! stdin and reading its [`CrawlReport`] back from stdout.
//!
//! Why a process per measured run: a process's peak RSS cannot be lowered once reached, and an
//! allocator keeps memory a previous backend freed (1,024 threads' worth after a thread-pool
//! run), so measuring several backends in one process would charge each with its predecessors'
//! memory — and a runtime's global state (async-std's executor) would outlive its run. Because
//! it is a `Backend`, the one verified-run path serves it unchanged.

use std::{
    io::{Read, Write},
    path::PathBuf,
    process::{Command, Stdio},
};

use crawlbench_core::{Backend, BackendError, BackendInfo, CrawlJob, CrawlReport};
use serde::{Deserialize, Serialize};

/// What the parent sends the child on stdin.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunRequest {
    /// Registry name of the backend.
    pub backend: String,
    /// The job.
    pub job: CrawlJob,
}

/// What the child answers on stdout: the report, or why the backend could not run.
pub type RunAnswer = Result<CrawlReport, String>;

/// The child's side: reads a [`RunRequest`] from stdin, runs it with `run`, writes the
/// [`RunAnswer`] to stdout. Returns the exit code.
pub fn serve_run_request(run: impl FnOnce(&str, &CrawlJob) -> RunAnswer) -> i32 {
    let answer: RunAnswer = (|| {
        let request: RunRequest = serde_json::from_reader(std::io::stdin().lock())
            .map_err(|e| format!("bad run request on stdin: {e}"))?;
        request.job.validate().map_err(|e| e.to_string())?;
        run(&request.backend, &request.job)
    })();
    let stdout = std::io::stdout().lock();
    match serde_json::to_writer(std::io::BufWriter::new(stdout), &answer) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("run-one: cannot write the report: {e}");
            1
        }
    }
}

/// A registry backend, run in a fresh child process per job.
#[derive(Clone, Debug)]
pub struct RunInChild {
    info: BackendInfo,
    program: PathBuf,
    args: Vec<String>,
    wrapper: Vec<String>,
}

impl RunInChild {
    /// Runs the backend described by `info` as `program args…` (which must answer with
    /// [`serve_run_request`]).
    pub fn new(info: BackendInfo, program: PathBuf, args: Vec<String>) -> Self {
        Self {
            info,
            program,
            args,
            wrapper: Vec::new(),
        }
    }

    /// The same, started under `wrapper` (e.g. `valgrind --tool=callgrind …`).
    pub fn wrapped(mut self, wrapper: Vec<String>) -> Self {
        self.wrapper = wrapper;
        self
    }

    fn command(&self) -> Command {
        let mut cmd = match self.wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&self.program);
                c
            }
            None => Command::new(&self.program),
        };
        cmd.args(&self.args);
        cmd
    }
}

impl Backend for RunInChild {
    fn info(&self) -> BackendInfo {
        self.info.clone()
    }

    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError> {
        // Refuse before starting a process, exactly as the backend itself would.
        self.info.check_job(job)?;
        let setup = |why: String| self.info.setup_error(why);
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                setup(format!(
                    "cannot start the run process {:?}: {e}",
                    self.program
                ))
            })?;
        let request = RunRequest {
            backend: self.info.name.clone(),
            job: job.clone(),
        };
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let sent = serde_json::to_writer(&mut stdin, &request)
            .map_err(|e| e.to_string())
            .and_then(|()| stdin.flush().map_err(|e| e.to_string()));
        drop(stdin);
        let mut out = Vec::new();
        let read = child
            .stdout
            .take()
            .expect("stdout is piped")
            .read_to_end(&mut out);
        let status = child
            .wait()
            .map_err(|e| setup(format!("the run process could not be reaped: {e}")))?;
        if let Err(e) = sent {
            return Err(setup(format!(
                "cannot send the job to the run process: {e}"
            )));
        }
        read.map_err(|e| setup(format!("cannot read the run process's report: {e}")))?;
        if !status.success() {
            return Err(setup(format!("the run process exited with {status}")));
        }
        let answer: RunAnswer = serde_json::from_slice(&out)
            .map_err(|e| setup(format!("the run process sent no report ({e})")))?;
        answer.map_err(setup)
    }
}
