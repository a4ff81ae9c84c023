//! A private `redis-server` for one run, when the user names no Redis: on 127.0.0.1, a free
//! port, persistence off, in its own process group, killed and reaped when the run ends (so its
//! CPU is part of the run's children CPU, and also reported apart from `INFO`).

use std::{
    net::{Ipv4Addr, TcpListener, TcpStream},
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::connection::RedisTarget;

/// How long `redis-server` may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// `redis-server` on `PATH` (or in `/usr/bin`, `/usr/sbin`), or why there is none.
pub(crate) fn find() -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/sbin".into()])
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "redis-server is not installed (apt-get install redis-server), and no Redis was \
             named (--redis redis://HOST:PORT/DB)"
                .to_owned()
        })
}

/// A running private Redis.
#[derive(Debug)]
pub struct PrivateRedis {
    child: Child,
    target: RedisTarget,
}

impl PrivateRedis {
    /// Starts one and waits until it accepts connections.
    pub fn start() -> Result<Self, String> {
        let program = find()?;
        // Redis cannot pick a free port itself (port 0 turns TCP off), so take one from the
        // kernel and hand it over; a race with another process is a start error, retried.
        let mut last = String::new();
        for _ in 0..3 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?
                .port();
            match Self::start_on(&program, port) {
                Ok(r) => return Ok(r),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn start_on(program: &PathBuf, port: u16) -> Result<Self, String> {
        let mut command = Command::new(program);
        command
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--loglevel", "warning", "--databases", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                let target = RedisTarget::parse(&format!("redis://127.0.0.1:{port}/0"))?;
                return Ok(Self { child, target });
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "redis-server on port {port} exited at start: {status}"
                ));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "redis-server did not accept connections on 127.0.0.1:{port} within {} s",
                    START_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Where it listens.
    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
