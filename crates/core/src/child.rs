//! Starting a helper process and waiting, boundedly, until it says it is ready.
//!
//! Every process this project starts for itself — an origin member announcing its listener, the
//! `serve` command printing where to crawl from — answers on stdout with one line once it is
//! ready. Waiting for that line with a plain `read_line` would hang the parent forever on a child
//! that never gets there (stuck binding, stopped, deadlocked), so the line is read on a thread of
//! its own and the child is killed and reaped when the time is up; killing it closes its stdout,
//! which ends the read. One helper, so that bound and that clean-up are written once.
//! (Multi-process backends' workers answer with a binary `Hello` frame read asynchronously by the
//! coordinator's supervisor, which bounds it with its own handshake timeout.)

use std::{
    io::{self, BufRead, BufReader},
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

/// A started child that printed its ready line.
#[derive(Debug)]
pub struct ReadyChild {
    /// The process (the caller reaps it).
    pub child: Child,
    /// Its stdin, piped.
    pub stdin: Option<ChildStdin>,
    /// Its stdout after the ready line, buffered.
    pub stdout: BufReader<ChildStdout>,
    /// The ready line, without its line end.
    pub ready_line: String,
}

impl ReadyChild {
    /// Spawns `command` with piped stdin and stdout and waits at most `timeout` for its first
    /// line. `what` names the child in errors ("origin process 2 of 3"). A child that exits
    /// first, or stays silent past the timeout, is killed, reaped and reported as an error.
    pub fn spawn(mut command: Command, what: &str, timeout: Duration) -> io::Result<Self> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {what}: {e}")))?;
        let what = format!("{what} (pid {})", child.id());
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = stdout.read_line(&mut line);
            let _ = tx.send((read, line, stdout));
        });
        let fail = |mut child: Child, why: String| {
            let _ = child.kill();
            let _ = child.wait();
            Err(io::Error::other(why))
        };
        match rx.recv_timeout(timeout) {
            Err(_) => fail(
                child,
                format!("{what} did not say it was ready within {timeout:?}; killed it"),
            ),
            Ok((Err(e), ..)) => fail(child, format!("{what}: cannot read its ready line: {e}")),
            Ok((Ok(0), ..)) => fail(child, format!("{what} exited before it was ready")),
            Ok((Ok(_), line, stdout)) => Ok(Self {
                child,
                stdin,
                stdout,
                ready_line: line.trim_end().to_owned(),
            }),
        }
    }

    /// The same as [`ReadyChild::spawn`], then kills and reaps the child when `accept` refuses
    /// its ready line (a line that is not the expected announcement), with `accept`'s reason.
    pub fn spawn_accepting<T>(
        command: Command,
        what: &str,
        timeout: Duration,
        accept: impl FnOnce(&str) -> Result<T, String>,
    ) -> io::Result<(Self, T)> {
        let mut ready = Self::spawn(command, what, timeout)?;
        match accept(&ready.ready_line) {
            Ok(value) => Ok((ready, value)),
            Err(why) => {
                let _ = ready.child.kill();
                let _ = ready.child.wait();
                Err(io::Error::other(format!(
                    "{what} did not start (it said {:?}: {why})",
                    ready.ready_line
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn the_ready_line_is_read_and_the_rest_stays() {
        let mut ready = ReadyChild::spawn(
            sh("echo ready; echo more"),
            "a shell",
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(ready.ready_line, "ready");
        let mut rest = String::new();
        ready.stdout.read_line(&mut rest).unwrap();
        assert_eq!(rest, "more\n");
        ready.child.wait().unwrap();
    }

    #[test]
    fn a_silent_child_is_killed_after_the_timeout() {
        let started = std::time::Instant::now();
        let e = ReadyChild::spawn(sh("sleep 30"), "a sleeper", Duration::from_millis(200))
            .unwrap_err()
            .to_string();
        assert!(e.contains("a sleeper") && e.contains("within 200ms"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn exiting_early_and_a_wrong_line_are_errors() {
        let e = ReadyChild::spawn(sh("exit 3"), "a quitter", Duration::from_secs(10))
            .unwrap_err()
            .to_string();
        assert!(e.contains("exited before it was ready"), "{e}");
        let e = ReadyChild::spawn_accepting(
            sh("echo nonsense; sleep 30"),
            "a talker",
            Duration::from_secs(10),
            |line| {
                if line == "ok" {
                    Ok(())
                } else {
                    Err("not ok".into())
                }
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("a talker") && e.contains("nonsense") && e.contains("not ok"),
            "{e}"
        );
    }
}
