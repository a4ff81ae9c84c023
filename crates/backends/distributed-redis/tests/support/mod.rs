//! A test network of hosts made with Linux network namespaces, shared by the multi-host tests.
//!
//! ```text
//!  this test process (origin + coordinator) ── bridge cbtN (198.18.N.1/24)
//!      ├─ veth ── namespace cbtN-r      198.18.N.11   redis-server (persistence off)
//!      ├─ veth ── namespace cbtN-w1     198.18.N.21   crawlbench-redis-worker
//!      └─ veth ── namespace cbtN-w2     198.18.N.22   crawlbench-redis-worker
//! ```
//!
//! Addresses come from 198.18.0.0/15, the range set aside for network benchmarks. The origin is
//! the unchanged conformance suite's, on this process's loopback (127.0.0.0/8); so that workers
//! in other namespaces reach those very URLs, each worker namespace has no loopback address and
//! routes 127.0.0.0/8 over its veth to the bridge, with `route_localnet` on both ends (Linux
//! otherwise drops 127/8 on a wire as martian). Every request a worker makes thus crosses a veth
//! pair and the bridge, and arrives from 198.18.N.2x — the tests check that it does.
//!
//! Teardown: the network is removed when its [`TestNet`] drops (a failing test unwinds through
//! it) and, for one kept for a whole test binary, at process exit (`atexit`); a network left by
//! a process that was killed outright is removed by the next setup (its name carries the dead
//! pid). Where namespaces cannot be made (not root, no `ip`), tests skip with the reason —
//! unless `CRAWLBENCH_REQUIRE_NETNS=1` (set by CI), which makes that a failure.

#![allow(dead_code)] // Each test binary uses part of this module.

use std::{
    net::Ipv4Addr,
    process::{Child, Command, Stdio},
    sync::{Mutex, MutexGuard, OnceLock, PoisonError},
    time::{Duration, Instant},
};

use crawlbench_distributed_redis::RedisTarget;

/// The worker binary of this crate.
pub(crate) const WORKER: &str = env!("CARGO_BIN_EXE_crawlbench-redis-worker");

/// A namespace's name prefix; the rest is the owning process id.
const PREFIX: &str = "cbt";

/// One test network.
#[derive(Debug)]
pub(crate) struct TestNet {
    tag: String,
    subnet: u8,
    redis: Option<Child>,
    workers: Vec<(String, Child)>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn in_ns(ns: &str, args: &[&str]) -> Result<(), String> {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    ip(&all)
}

/// Removes every namespace and bridge of network `tag` (the processes in them first).
fn remove(tag: &str) {
    for host in ["w1", "w2", "w3", "w4", "r"] {
        let ns = format!("{tag}-{host}");
        kill_all_in(&ns, libc::SIGKILL);
        let _ = ip(&["netns", "del", &ns]);
    }
    let _ = ip(&["link", "del", tag]);
}

/// Signals every process in namespace `ns`.
pub(crate) fn kill_all_in(ns: &str, signal: i32) -> usize {
    let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() else {
        return 0;
    };
    let pids: Vec<i32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for &pid in &pids {
        // SAFETY: signalling processes this test started in its own namespace.
        unsafe {
            libc::kill(pid, signal);
        }
    }
    pids.len()
}

/// Removes networks left by test processes that no longer exist.
fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some((tag, _)) = rest.split_once('-') else {
            continue;
        };
        let pid: String = tag.chars().take_while(char::is_ascii_digit).collect();
        if !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            remove(&format!("{PREFIX}{tag}"));
        }
    }
}

/// Networks made by this process (their tags), for the exit handler.
static MADE: Mutex<Vec<String>> = Mutex::new(Vec::new());

extern "C" fn remove_at_exit() {
    let made = std::mem::take(&mut *MADE.lock().unwrap_or_else(PoisonError::into_inner));
    for tag in made {
        remove(&tag);
    }
}

/// Why this machine cannot make a test network, or `None`. With `CRAWLBENCH_REQUIRE_NETNS=1`
/// a missing capability panics instead.
fn unavailable() -> Option<String> {
    let why = if unsafe { libc::geteuid() } != 0 {
        Some("network namespaces need root".to_owned())
    } else if Command::new("ip").arg("-V").output().is_err() {
        Some("the ip command (iproute2) is not installed".to_owned())
    } else {
        DistributedRedis::new(crawlbench_distributed_redis::WorkerCommand::new(WORKER))
            .unavailable()
    };
    if let Some(why) = &why
        && std::env::var_os("CRAWLBENCH_REQUIRE_NETNS").is_some_and(|v| v == "1")
    {
        panic!("CRAWLBENCH_REQUIRE_NETNS=1 but {why}");
    }
    why
}

impl TestNet {
    /// Makes the network with `workers` worker hosts (each running one worker), or says why it
    /// cannot (the test then skips, printing the reason).
    pub(crate) fn up(workers: usize) -> Result<Self, String> {
        if let Some(why) = unavailable() {
            return Err(why);
        }
        remove_stale();
        let pid = std::process::id();
        let nth = {
            let made = MADE.lock().unwrap_or_else(PoisonError::into_inner);
            if made.is_empty() {
                // SAFETY: registering a plain extern "C" function, once per process.
                unsafe {
                    libc::atexit(remove_at_exit);
                }
            }
            made.len() as u32
        };
        // Interface names hold 15 bytes: "cbt" + pid + a letter + "w1".
        let tag = format!("{PREFIX}{pid}{}", char::from(b'a' + (nth % 26) as u8));
        MADE.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(tag.clone());
        let mut net = Self {
            tag: tag.clone(),
            subnet: ((pid * 8 + nth) % 250) as u8 + 1,
            redis: None,
            workers: Vec::new(),
        };
        net.build(workers).inspect_err(|_| remove(&tag))?;
        Ok(net)
    }

    /// An address on the test network.
    pub(crate) fn addr(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.subnet, host)
    }

    /// The namespace of worker host `i` (1-based).
    pub(crate) fn worker_ns(&self, i: usize) -> String {
        format!("{}-w{i}", self.tag)
    }

    /// The Redis on the network.
    pub(crate) fn redis(&self) -> RedisTarget {
        RedisTarget::parse(&format!("redis://{}:6379/0", self.addr(11))).expect("a Redis URL")
    }

    fn build(&mut self, workers: usize) -> Result<(), String> {
        let br = self.tag.clone();
        ip(&["link", "add", &br, "type", "bridge"])?;
        ip(&["addr", "add", &format!("{}/24", self.addr(1)), "dev", &br])?;
        ip(&["link", "set", &br, "up"])?;
        sysctl(None, &format!("net.ipv4.conf.{br}.route_localnet"))?;
        self.host("r", 11, false)?;
        let redis_ns = format!("{}-r", self.tag);
        let redis_addr = self.addr(11).to_string();
        let redis = Command::new("ip")
            .args(["netns", "exec", &redis_ns, "redis-server"])
            .args([
                "--bind",
                &redis_addr,
                "--port",
                "6379",
                "--protected-mode",
                "no",
            ])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server in {redis_ns}: {e}"))?;
        self.redis = Some(redis);
        wait_for_port(self.addr(11), 6379)?;
        for i in 1..=workers {
            self.host(&format!("w{i}"), 20 + i as u8, true)?;
            self.start_worker(i)?;
        }
        Ok(())
    }

    /// A namespace `{tag}-{name}` at 198.18.N.`host` with a veth to the bridge; a worker host
    /// also routes 127.0.0.0/8 to the bridge (and has no loopback address of its own).
    fn host(&self, name: &str, host: u8, routes_loopback: bool) -> Result<(), String> {
        let ns = format!("{}-{name}", self.tag);
        let outside = format!("{}{name}", self.tag);
        ip(&["netns", "add", &ns])?;
        ip(&[
            "link", "add", &outside, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ])?;
        ip(&["link", "set", &outside, "master", &self.tag, "up"])?;
        let addr = self.addr(host).to_string();
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        if routes_loopback {
            sysctl(Some(&ns), "net.ipv4.conf.all.route_localnet")?;
            sysctl(Some(&ns), "net.ipv4.conf.eth0.route_localnet")?;
            ip(&["-n", &ns, "addr", "del", "127.0.0.1/8", "dev", "lo"])?;
            let gateway = self.addr(1).to_string();
            ip(&[
                "-n",
                &ns,
                "route",
                "add",
                "127.0.0.0/8",
                "via",
                &gateway,
                "dev",
                "eth0",
                "src",
                &addr,
            ])?;
        }
        Ok(())
    }

    /// Starts the worker of host `i` (again, after it was killed).
    pub(crate) fn start_worker(&mut self, i: usize) -> Result<(), String> {
        let ns = self.worker_ns(i);
        let child = Command::new("ip")
            .args(["netns", "exec", &ns, WORKER, "--redis", self.redis().url()])
            .arg("--exit-with-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start a worker in {ns}: {e}"))?;
        self.workers.push((ns, child));
        Ok(())
    }
}

fn sysctl(ns: Option<&str>, key: &str) -> Result<(), String> {
    let setting = format!("{key}=1");
    match ns {
        Some(ns) => in_ns(ns, &["sysctl", "-qw", &setting]),
        None => {
            let path = format!("/proc/sys/{}", key.replace('.', "/"));
            std::fs::write(&path, "1").map_err(|e| format!("cannot set {key}: {e}"))
        }
    }
}

fn wait_for_port(addr: Ipv4Addr, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&(addr, port).into(), Duration::from_millis(200))
            .is_ok()
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("nothing listens on {addr}:{port} after 10 s"))
}

impl Drop for TestNet {
    fn drop(&mut self) {
        remove(&self.tag);
        // `ip netns exec` execs its program, so these children are the workers and Redis
        // themselves: killed above with their namespaces, reaped here.
        for child in self
            .workers
            .iter_mut()
            .map(|(_, c)| c)
            .chain(self.redis.as_mut())
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Prints why a multi-host test did not run.
pub(crate) fn skip(test: &str, why: &str) {
    eprintln!("{test}: skipped: {why}");
}

use crawlbench_core::{Backend, BackendError, BackendInfo, CrawlJob, CrawlReport};
use crawlbench_distributed_redis::DistributedRedis;

/// The network a test binary shares: two worker hosts, made on first use.
static SHARED: OnceLock<Result<Mutex<TestNet>, String>> = OnceLock::new();

/// The shared network, locked (one run at a time: a Redis serves one run at a time, and the
/// fault tests signal its workers).
pub(crate) fn shared_net() -> Result<MutexGuard<'static, TestNet>, String> {
    match SHARED.get_or_init(|| TestNet::up(2).map(Mutex::new)) {
        Ok(net) => Ok(net.lock().unwrap_or_else(PoisonError::into_inner)),
        Err(why) => Err(why.clone()),
    }
}

/// Why the shared network cannot be made, for `conformance_suite!(…, skip_unless = …)`.
pub(crate) fn shared_net_unavailable() -> Option<String> {
    shared_net().err()
}

/// `distributed-redis` with no local workers, its Redis and both workers in namespaces of the
/// shared network; each run holds the network's lock.
#[derive(Debug)]
pub(crate) struct OnTestNet;

impl OnTestNet {
    /// The backend for the network `net`.
    pub(crate) fn backend(net: &TestNet) -> DistributedRedis {
        DistributedRedis::new(crawlbench_distributed_redis::WorkerCommand::new(WORKER))
            .with_redis(net.redis())
            .with_local_workers(0)
            .with_remote_workers(2)
    }
}

impl Backend for OnTestNet {
    fn info(&self) -> BackendInfo {
        DistributedRedis::new(crawlbench_distributed_redis::WorkerCommand::new(WORKER)).info()
    }

    fn run(&self, job: &CrawlJob) -> Result<CrawlReport, BackendError> {
        let net = shared_net().map_err(|reason| BackendError::Setup {
            backend: self.info().name,
            reason,
        })?;
        Self::backend(&net).run(job)
    }
}
