//! A network of hosts made with Linux network namespaces, so that a distributed backend can be
//! tested and measured across real (virtual) links on one machine: the multi-host tests of
//! `distributed-redis` and the `hosts` bench share it, and it lives in a crate of its own so
//! that neither copies it. It also attributes CPU per host ([`host_pids`], [`cpu_secs_of`]),
//! which is the only honest way to say where a distributed run's CPU went when every "host"
//! shares this machine's cores.
//!
//! ```text
//!  this process (origin + coordinator) ── bridge cbtN (198.18.N.1/24)
//!      ├─ veth ── namespace cbtN-r      198.18.N.11   redis-server (persistence off)
//!      ├─ veth ── namespace cbtN-w1     198.18.N.21   worker(s)
//!      ├─ veth ── namespace cbtN-w2     198.18.N.22   worker(s)
//!      └─ …                             198.18.N.(20 + i)
//! ```
//!
//! Addresses come from 198.18.0.0/15, the range set aside for network benchmarks. The origin is
//! on the caller's loopback (127.0.0.0/8); so that workers in other namespaces reach those very
//! URLs, each worker namespace has no loopback address and routes 127.0.0.0/8 over its veth to
//! the bridge, with `route_localnet` on both ends (Linux otherwise drops 127/8 on a wire as
//! martian). Every request a worker makes thus crosses a veth pair and the bridge, and arrives
//! from 198.18.N.(20 + i).
//!
//! Workers are started as `ip netns exec HOST PROGRAM [LEADING…] --redis URL --exit-with-stdin
//! [TRAILING…]` ([`WorkerLaunch`]); `ip netns exec` execs the program, so each child is the
//! worker itself.
//!
//! Teardown: the network is removed when its [`TestNet`] drops (a failing test unwinds through
//! it) and, for one kept for a whole process, at process exit (`atexit`); a network left by a
//! process that was killed outright is removed by the next setup (its name carries the dead
//! pid). Where namespaces cannot be made (not root, no `ip`, no `redis-server`), [`TestNet::up`]
//! returns the reason so the caller can skip — unless `CRAWLBENCH_REQUIRE_NETNS=1` (set by CI),
//! which makes that a panic.

use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// A namespace's name prefix; the rest is the owning process id and a letter.
const PREFIX: &str = "cbt";

/// The most worker hosts one network may have (interface names hold 15 bytes, and each host's
/// address is 198.18.N.(20 + i)).
pub const MAX_WORKER_HOSTS: usize = 32;

/// The Redis port on the Redis host.
pub const REDIS_PORT: u16 = 6379;

/// How a worker is started on a worker host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerLaunch {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before `--redis URL` (e.g. `["worker"]` for the `crawlbench` CLI).
    pub leading: Vec<String>,
    /// Arguments after `--redis URL --exit-with-stdin` (e.g. `["--stack", "null"]`).
    pub trailing: Vec<String>,
}

impl WorkerLaunch {
    /// `program --redis URL --exit-with-stdin`.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            leading: Vec::new(),
            trailing: Vec::new(),
        }
    }

    /// With these arguments before `--redis URL`.
    pub fn leading<I: IntoIterator<Item = S>, S: Into<String>>(self, args: I) -> Self {
        Self {
            leading: args.into_iter().map(Into::into).collect(),
            ..self
        }
    }

    /// With these arguments after `--redis URL --exit-with-stdin`.
    pub fn trailing<I: IntoIterator<Item = S>, S: Into<String>>(self, args: I) -> Self {
        Self {
            trailing: args.into_iter().map(Into::into).collect(),
            ..self
        }
    }
}

/// One test network: a Redis host and `worker_hosts` worker hosts, each running
/// `workers_per_host` workers.
#[derive(Debug)]
pub struct TestNet {
    tag: String,
    subnet: u8,
    worker_hosts: usize,
    workers_per_host: usize,
    launch: WorkerLaunch,
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

fn ip_output(args: &[&str]) -> String {
    Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn in_ns(ns: &str, args: &[&str]) -> Result<(), String> {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    ip(&all)
}

/// Every namespace name (`ip netns list`).
fn namespaces() -> Vec<String> {
    ip_output(&["netns", "list"])
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Removes every namespace and the bridge of network `tag` (the processes in them first).
fn remove(tag: &str) {
    let own = format!("{tag}-");
    let mut doomed: Vec<String> = namespaces()
        .into_iter()
        .filter(|n| n.starts_with(&own))
        .collect();
    // Worker hosts before the Redis host, so no worker sees its Redis vanish first.
    doomed.sort_by_key(|n| n.ends_with("-r"));
    for ns in doomed {
        kill_all_in(&ns, libc::SIGKILL);
        let _ = ip(&["netns", "del", &ns]);
    }
    let _ = ip(&["link", "del", tag]);
}

/// The processes in namespace `ns` (`ip netns pids`; none when it does not exist).
pub fn host_pids(ns: &str) -> Vec<u32> {
    ip_output(&["netns", "pids", ns])
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Signals every process in namespace `ns`; returns how many there were.
pub fn kill_all_in(ns: &str, signal: i32) -> usize {
    let pids = host_pids(ns);
    for &pid in &pids {
        let Ok(pid) = i32::try_from(pid) else {
            continue;
        };
        // SAFETY: signalling processes of a namespace this crate made (kill has no memory
        // effects on this process).
        unsafe {
            libc::kill(pid, signal);
        }
    }
    pids.len()
}

/// Clock ticks per second, the unit of `/proc/<pid>/stat`'s CPU times.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// CPU seconds (user + system, all threads) one process has used so far, from
/// `/proc/<pid>/stat`; `None` when it is gone.
pub fn cpu_secs_of_pid(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last
    // ')'. From there, field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / clock_ticks())
}

/// CPU seconds (user + system) the processes `pids` have used so far, summed; a process that
/// is gone counts 0 (take the difference of two readings over a span in which none exits).
pub fn cpu_secs_of(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|&p| cpu_secs_of_pid(p)).sum()
}

/// Removes networks left by processes that no longer exist.
fn remove_stale() {
    let mut tags: Vec<String> = Vec::new();
    for name in namespaces() {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some((tag, _)) = rest.split_once('-') else {
            continue;
        };
        let pid: String = tag.chars().take_while(char::is_ascii_digit).collect();
        if !pid.is_empty() && !Path::new(&format!("/proc/{pid}")).exists() {
            let tag = format!("{PREFIX}{tag}");
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    for tag in tags {
        remove(&tag);
    }
}

/// Networks made by this process and not yet dropped (their tags), for the exit handler.
static MADE: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Networks made by this process so far (names the next one).
static COUNT: Mutex<u32> = Mutex::new(0);

extern "C" fn remove_at_exit() {
    let made = std::mem::take(&mut *MADE.lock().unwrap_or_else(PoisonError::into_inner));
    for tag in made {
        remove(&tag);
    }
}

/// `redis-server` on `PATH` (or in `/usr/bin`, `/usr/sbin`), or why there is none.
fn redis_server() -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/sbin".into()])
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file())
        .ok_or_else(|| "redis-server is not installed (apt-get install redis-server)".to_owned())
}

/// Why this machine cannot make a test network, or `None`. With `CRAWLBENCH_REQUIRE_NETNS=1`
/// a missing capability panics instead.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    let why = if unsafe { libc::geteuid() } != 0 {
        Some("network namespaces need root".to_owned())
    } else if Command::new("ip").arg("-V").output().is_err() {
        Some("the ip command (iproute2) is not installed".to_owned())
    } else {
        redis_server().err()
    };
    if let Some(why) = &why
        && std::env::var_os("CRAWLBENCH_REQUIRE_NETNS").is_some_and(|v| v == "1")
    {
        panic!("CRAWLBENCH_REQUIRE_NETNS=1 but {why}");
    }
    why
}

/// Prints why a multi-host test did not run.
pub fn skip(test: &str, why: &str) {
    eprintln!("{test}: skipped: {why}");
}

/// A third octet for 198.18.N.0/24 that no interface of this machine uses yet, starting from
/// `start`.
fn free_subnet(start: u32) -> u8 {
    let used = ip_output(&["-4", "-o", "addr", "show"]);
    (0..250)
        .map(|k| ((start + k) % 250) as u8 + 1)
        .find(|n| !used.contains(&format!("198.18.{n}.")))
        .unwrap_or((start % 250) as u8 + 1)
}

impl TestNet {
    /// Makes the network with `worker_hosts` worker hosts, each running `workers_per_host`
    /// workers started as `worker_program --redis URL --exit-with-stdin`, or says why it cannot
    /// (the caller then skips, printing the reason).
    pub fn up(
        worker_hosts: usize,
        workers_per_host: usize,
        worker_program: &Path,
    ) -> Result<Self, String> {
        Self::up_with(
            worker_hosts,
            workers_per_host,
            WorkerLaunch::new(worker_program),
        )
    }

    /// [`TestNet::up`] with workers started as `launch` says.
    pub fn up_with(
        worker_hosts: usize,
        workers_per_host: usize,
        launch: WorkerLaunch,
    ) -> Result<Self, String> {
        if !(1..=MAX_WORKER_HOSTS).contains(&worker_hosts) || workers_per_host == 0 {
            return Err(format!(
                "a test network has 1 to {MAX_WORKER_HOSTS} worker hosts with at least one \
                 worker each (asked: {worker_hosts} × {workers_per_host})"
            ));
        }
        if let Some(why) = unavailable() {
            return Err(why);
        }
        remove_stale();
        let pid = std::process::id();
        let nth = {
            let mut count = COUNT.lock().unwrap_or_else(PoisonError::into_inner);
            if *count == 0 {
                // SAFETY: registering a plain extern "C" function, once per process.
                unsafe {
                    libc::atexit(remove_at_exit);
                }
            }
            *count += 1;
            *count - 1
        };
        // Interface names hold 15 bytes: "cbt" + pid (≤ 7 digits) + a letter + "w32".
        let tag = format!("{PREFIX}{pid}{}", char::from(b'a' + (nth % 26) as u8));
        // A network of an earlier incarnation of this letter (26 networks ago) goes first.
        remove(&tag);
        MADE.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(tag.clone());
        let mut net = Self {
            tag: tag.clone(),
            subnet: free_subnet(pid.wrapping_mul(8).wrapping_add(nth)),
            worker_hosts,
            workers_per_host,
            launch,
            redis: None,
            workers: Vec::new(),
        };
        // On failure `net` drops here, which removes whatever was made.
        net.build()?;
        Ok(net)
    }

    /// An address on the test network.
    pub fn addr(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.subnet, host)
    }

    /// The address of worker host `i` (1-based).
    pub fn worker_addr(&self, i: usize) -> Ipv4Addr {
        self.addr(20 + i as u8)
    }

    /// The namespace of worker host `i` (1-based).
    pub fn worker_ns(&self, i: usize) -> String {
        format!("{}-w{i}", self.tag)
    }

    /// The namespace of the Redis host.
    pub fn redis_ns(&self) -> String {
        format!("{}-r", self.tag)
    }

    /// Worker hosts.
    pub fn worker_hosts(&self) -> usize {
        self.worker_hosts
    }

    /// Workers started on each worker host.
    pub fn workers_per_host(&self) -> usize {
        self.workers_per_host
    }

    /// All workers the network started (worker hosts × workers per host).
    pub fn workers(&self) -> usize {
        self.worker_hosts * self.workers_per_host
    }

    /// The Redis URL on the network: `redis://198.18.N.11:6379/0`.
    pub fn redis_url(&self) -> String {
        format!("redis://{}:{REDIS_PORT}/0", self.addr(11))
    }

    /// CPU seconds used so far by the processes now on worker host `i` (see [`cpu_secs_of`]).
    pub fn worker_host_cpu_secs(&self, i: usize) -> f64 {
        cpu_secs_of(&host_pids(&self.worker_ns(i)))
    }

    /// CPU seconds used so far by the processes now on the Redis host.
    pub fn redis_host_cpu_secs(&self) -> f64 {
        cpu_secs_of(&host_pids(&self.redis_ns()))
    }

    fn build(&mut self) -> Result<(), String> {
        let br = self.tag.clone();
        ip(&["link", "add", &br, "type", "bridge"])?;
        ip(&["addr", "add", &format!("{}/24", self.addr(1)), "dev", &br])?;
        ip(&["link", "set", &br, "up"])?;
        sysctl(None, &format!("net.ipv4.conf.{br}.route_localnet"))?;
        self.host("r", 11, false)?;
        let redis_ns = self.redis_ns();
        let redis_addr = self.addr(11).to_string();
        let program = redis_server()?;
        let port = REDIS_PORT.to_string();
        let redis = Command::new("ip")
            .args(["netns", "exec", &redis_ns])
            .arg(&program)
            .args([
                "--bind",
                &redis_addr,
                "--port",
                &port,
                "--protected-mode",
                "no",
            ])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server in {redis_ns}: {e}"))?;
        self.redis = Some(redis);
        wait_for_port(self.addr(11), REDIS_PORT)?;
        for i in 1..=self.worker_hosts {
            self.host(&format!("w{i}"), 20 + i as u8, true)?;
            for _ in 0..self.workers_per_host {
                self.start_worker(i)?;
            }
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

    /// Starts one more worker on worker host `i` (e.g. again, after its processes were
    /// killed).
    pub fn start_worker(&mut self, i: usize) -> Result<(), String> {
        let ns = self.worker_ns(i);
        let redis = self.redis_url();
        let child = Command::new("ip")
            .args(["netns", "exec", &ns])
            .arg(&self.launch.program)
            .args(&self.launch.leading)
            .args(["--redis", &redis, "--exit-with-stdin"])
            .args(&self.launch.trailing)
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
        MADE.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|t| *t != self.tag);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_of_this_process_is_read_and_grows() {
        let me = std::process::id();
        let before = cpu_secs_of(&[me]);
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(200) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let after = cpu_secs_of(&[me]);
        assert!(after > before, "{before} → {after}");
        assert_eq!(cpu_secs_of(&[u32::MAX]), 0.0, "a missing pid counts 0");
    }

    #[test]
    fn a_bad_shape_is_refused_before_anything_is_made() {
        assert!(TestNet::up(0, 1, Path::new("/bin/true")).is_err());
        assert!(TestNet::up(1, 0, Path::new("/bin/true")).is_err());
        assert!(TestNet::up(MAX_WORKER_HOSTS + 1, 1, Path::new("/bin/true")).is_err());
    }
}
