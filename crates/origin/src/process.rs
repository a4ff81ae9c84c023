//! Running the origin as a child process, so a measured run never counts the server's CPU or
//! memory as the client's (the two still share the machine's cores; reports say so).
//!
//! The child is the `crawlbench` binary itself (`crawlbench serve-origin SPEC_JSON`, a child role
//! declared with the others in the CLI crate). It talks a line protocol on stdio — no HTTP client
//! is needed on the control path, and the control traffic never touches the server being
//! measured:
//! - child → parent, once: `{"listen_url": …, "ca_pem": …, "listen_backlog": …}` when it
//!   listens (`listen_url`: the base listener's `scheme://ip:port/` — with the spec, all the
//!   parent needs to rebuild the same [`Site`]: host names, or host addresses on that port,
//!   follow from it; `ca_pem`: the run's CA certificate when it serves HTTPS);
//! - parent → child `stats`: one line of [`OriginStats`] JSON, with the child's CPU seconds;
//! - parent → child `reset`: zero the counters (transient faults fire again), answer `ok`;
//! - stdin closed: the child exits. A parent that dies therefore never leaves an origin behind.

use std::{
    io::{self, BufRead, BufReader, Write},
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use crawlbench_core::{report::OriginStats, resources::process_cpu_secs};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{OriginConfig, RunningOrigin, Site, SiteSpec};

#[derive(Debug, Serialize, Deserialize)]
struct Announce {
    /// The base listener (not host 0's URL, which may be a name only the job resolves).
    #[serde(alias = "base_url")]
    listen_url: Url,
    /// The run's CA certificate (PEM) when the origin serves HTTPS.
    #[serde(default)]
    ca_pem: Option<String>,
    listen_backlog: u32,
}

/// The child's side: serve `spec`, answer the control protocol on stdio until stdin closes.
pub fn serve_stdio(spec: SiteSpec, config: OriginConfig) -> io::Result<()> {
    let origin = RunningOrigin::start(spec, config)?;
    let mut out = io::stdout().lock();
    let announce = Announce {
        listen_url: origin.site().listen_url().clone(),
        ca_pem: origin.site().ca_pem().map(str::to_owned),
        listen_backlog: origin.stats().listen_backlog,
    };
    serde_json::to_writer(&mut out, &announce)?;
    out.write_all(b"\n")?;
    out.flush()?;
    let start_cpu = process_cpu_secs();
    let mut cpu_since_reset = start_cpu;
    for line in io::stdin().lock().lines() {
        match line?.trim() {
            "stats" => {
                let mut stats = origin.stats();
                stats.cpu_secs = Some(process_cpu_secs() - cpu_since_reset);
                serde_json::to_writer(&mut out, &stats)?;
                out.write_all(b"\n")?;
            }
            "reset" => {
                origin.reset();
                cpu_since_reset = process_cpu_secs();
                out.write_all(b"ok\n")?;
            }
            other => writeln!(
                out,
                "error: unknown command {other:?} (accepted: stats, reset)"
            )?,
        }
        out.flush()?;
    }
    Ok(())
}

/// The parent's side: a child origin process.
#[derive(Debug)]
pub struct OriginProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    site: Arc<Site>,
    listen_backlog: u32,
}

impl OriginProcess {
    /// Starts `command` (which must run `serve_stdio` for `spec`) and waits for it to listen.
    pub fn spawn(mut command: Command, spec: SiteSpec) -> io::Result<Self> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let announce: Announce = match serde_json::from_str(&line) {
            Ok(a) => a,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::other(format!(
                    "the origin process did not start (it said {:?}: {e})",
                    line.trim()
                )));
            }
        };
        let site = Arc::new(Site::new(spec, announce.listen_url).with_ca_pem(announce.ca_pem));
        Ok(Self {
            child,
            stdin,
            stdout,
            site,
            listen_backlog: announce.listen_backlog,
        })
    }

    /// The site it serves.
    pub fn site(&self) -> &Arc<Site> {
        &self.site
    }
    /// The kernel-applied listen backlog it reported.
    pub fn listen_backlog(&self) -> u32 {
        self.listen_backlog
    }
    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn ask(&mut self, command: &str) -> io::Result<String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("origin already stopped"))?;
        writeln!(stdin, "{command}")?;
        stdin.flush()?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err(io::Error::other("the origin process exited"));
        }
        Ok(line)
    }

    /// Its counters and CPU seconds since the last reset.
    pub fn stats(&mut self) -> io::Result<OriginStats> {
        let line = self.ask("stats")?;
        serde_json::from_str(&line)
            .map_err(|e| io::Error::other(format!("bad stats line {line:?}: {e}")))
    }

    /// Zeroes its counters and transient-fault state.
    pub fn reset(&mut self) -> io::Result<()> {
        let line = self.ask("reset")?;
        if line.trim() == "ok" {
            Ok(())
        } else {
            Err(io::Error::other(format!("reset refused: {}", line.trim())))
        }
    }

    /// Stops the child and reaps it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stdin.take();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OriginProcess {
    fn drop(&mut self) {
        self.shutdown();
    }
}
