//! Worker processes the coordinator starts on its own host when the user starts none: the same
//! worker as `crawlbench worker --redis …` on another machine, told to serve this run only and
//! to exit when its stdin closes, so none outlives the run.

use std::{
    os::unix::process::CommandExt,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crawlbench_core::resources::{WorkerPeaks, peak_rss_bytes_of};
use crawlbench_multiprocess::WorkerCommand;

use crate::worker::WorkerArgs;

/// How long workers get to exit after their stdin closes before they are killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The local workers of one run.
pub(crate) struct LocalWorkers {
    children: Vec<Child>,
}

impl LocalWorkers {
    /// Starts `count` workers with `args` (which name the run).
    pub(crate) fn start(
        command: &WorkerCommand,
        args: &WorkerArgs,
        count: usize,
    ) -> Result<Self, String> {
        let mut started = Self {
            children: Vec::with_capacity(count),
        };
        for _ in 0..count {
            let child = Command::new(&command.program)
                .args(&command.args)
                .args(args.to_args())
                .envs(command.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .process_group(0)
                .spawn()
                .map_err(|e| {
                    format!(
                        "cannot start a local worker ({}): {e}",
                        command.program.display()
                    )
                })?;
            started.children.push(child);
        }
        Ok(started)
    }

    /// Stops and reaps every worker (inside the run, so their CPU counts as the run's children
    /// CPU) and returns their peak RSS, each read while the process still lives.
    pub(crate) fn stop(mut self) -> WorkerPeaks {
        let mut peaks = WorkerPeaks::default();
        for child in &mut self.children {
            if let Some(peak) = peak_rss_bytes_of(child.id()) {
                peaks.add(peak);
            }
            drop(child.stdin.take());
        }
        let deadline = Instant::now() + EXIT_GRACE;
        for child in &mut self.children {
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
        peaks
    }
}

impl Drop for LocalWorkers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
