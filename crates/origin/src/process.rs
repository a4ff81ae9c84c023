//! Running the origin as a child process, so a measured run never counts the server's CPU or
//! memory as the client's (the two still share the machine's cores; reports say so) — or as
//! several child processes sharing one port, when one process cannot hold the connections a run
//! asks for (its open-file limit, 20,000 here, caps it well below 100,000 concurrent requests).
//!
//! The child is the `crawlbench` binary itself (`crawlbench serve-origin SPEC_JSON [THREADS]
//! [--reuse-port PORT]`, a child role declared with the others in the CLI crate). It talks a
//! line protocol on stdio — no HTTP client is needed on the control path, and the control
//! traffic never touches the server being measured:
//! - child → parent, once: `{"listen_url": …, "ca_pem": …, "listen_backlog": …}` when it
//!   listens (`listen_url`: the base listener's `scheme://ip:port/` — with the spec, all the
//!   parent needs to rebuild the same [`Site`]: host names, or host addresses on that port,
//!   follow from it; `ca_pem`: the run's CA certificate when it serves HTTPS);
//! - parent → child `stats`: one line of [`OriginStats`] JSON, with the child's CPU seconds and
//!   its own entry in [`OriginStats::processes`] (pid, CPU, peak RSS since the last reset), plus
//!   its in-flight timeline ([`crate::timeline`]) and per-host arrival times on
//!   `CLOCK_MONOTONIC`, which a parent of several members combines;
//! - parent → child `reset`: zero the counters (transient faults fire again), restart the CPU
//!   count, the peak RSS (`/proc/self/clear_refs`) and the timeline, answer `ok`;
//! - stdin closed: the child exits. A parent that dies therefore never leaves an origin behind.
//!
//! **Several processes** ([`OriginProcess::spawn_cluster`]). The first member listens on a free
//! port with `SO_REUSEPORT` and announces it; every other member listens on that port with
//! `SO_REUSEPORT` too, and the kernel spreads connections over them. The parent sends `reset`
//! and `stats` to every member and merges the answers: counts and CPU are summed, each member
//! keeps its own entry, and the peak in flight is the proven concurrency across members — per
//! 10 ms bucket the sum of each member's fewest in flight, the largest such sum (a lower bound;
//! one member's peak is exact). Two kinds of site stay on one process and are refused: a site of
//! several hosts (per-host politeness is proven by one process's clock and counters) and an
//! HTTPS site (each process would issue its own CA for the run, and a job trusts exactly one).
//! A member that does not announce within [`ANNOUNCE_TIMEOUT`] is killed and named in the error.

use std::{
    io::{self, BufRead, BufReader, Write},
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use crawlbench_core::{
    child::ReadyChild,
    report::{HostArrivals, OriginProcessStats, OriginStats},
    resources::Meter,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    OriginConfig, RunningOrigin, Site, SiteSpec,
    timeline::{Step, concurrent_lower_bound},
};

/// Connections one origin process is planned to hold: well under its connection budget (19,000
/// here), because `SO_REUSEPORT` spreads connections by hash, not evenly.
pub const CONNECTIONS_PER_PROCESS: usize = 15_000;

/// How many origin processes serve `concurrency` requests in flight: enough that each holds at
/// most [`CONNECTIONS_PER_PROCESS`].
pub fn processes_for(concurrency: usize) -> usize {
    concurrency.div_ceil(CONNECTIONS_PER_PROCESS).max(1)
}

/// How long the parent waits for a member's announce line before it kills it.
pub const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(30);

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

/// A member's answer to `stats`: its [`OriginStats`] and what a parent needs to combine several
/// members' (times on `CLOCK_MONOTONIC`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct StatsLine {
    #[serde(flatten)]
    stats: OriginStats,
    /// Its in-flight count over time ([`crate::timeline`]).
    #[serde(default)]
    in_flight_steps: Vec<Step>,
    /// Per host, the first and last arrival in nanoseconds.
    #[serde(default)]
    host_arrival_spans_ns: Vec<Option<(u64, u64)>>,
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
    // CPU and peak RSS since the last reset (starting the meter resets the peak).
    let mut meter = Meter::start();
    for line in io::stdin().lock().lines() {
        match line?.trim() {
            "stats" => {
                let mut stats = origin.stats();
                let usage = meter.finish();
                let cpu_secs = usage.cpu_user_secs + usage.cpu_sys_secs;
                stats.cpu_secs = Some(cpu_secs);
                stats.processes = vec![OriginProcessStats {
                    pid: std::process::id(),
                    requests: stats.requests,
                    connections: stats.connections,
                    peak_in_flight: stats.peak_in_flight,
                    cpu_secs,
                    peak_rss_bytes: usage.peak_rss_bytes,
                }];
                let line = StatsLine {
                    stats,
                    in_flight_steps: origin.in_flight_steps(),
                    host_arrival_spans_ns: origin.host_arrival_spans_ns(),
                };
                serde_json::to_writer(&mut out, &line)?;
                out.write_all(b"\n")?;
            }
            "reset" => {
                origin.reset();
                meter = Meter::start();
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

/// One child process of an [`OriginProcess`].
#[derive(Debug)]
struct Member {
    /// `origin process i of n (pid p)`, for errors.
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Member {
    /// Starts `command` and waits (at most [`ANNOUNCE_TIMEOUT`]) for its announce line.
    fn start(mut command: Command, index: usize, of: usize) -> io::Result<(Self, Announce)> {
        command.stderr(Stdio::inherit());
        let name = if of == 1 {
            "the origin process".to_owned()
        } else {
            format!("origin process {} of {of}", index + 1)
        };
        let (ready, announce) =
            ReadyChild::spawn_accepting(command, &name, ANNOUNCE_TIMEOUT, |line| {
                serde_json::from_str::<Announce>(line).map_err(|e| e.to_string())
            })?;
        let name = format!("{name} (pid {})", ready.child.id());
        Ok((
            Self {
                name,
                child: ready.child,
                stdin: ready.stdin,
                stdout: ready.stdout,
            },
            announce,
        ))
    }

    fn send(&mut self, command: &str) -> io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("origin already stopped"))?;
        writeln!(stdin, "{command}")?;
        stdin.flush()
    }

    fn answer(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err(io::Error::other(format!("{} exited", self.name)));
        }
        Ok(line)
    }

    /// Waits until `deadline` for it to exit (its stdin closed), then kills it; reaps it.
    fn reap(&mut self, deadline: Instant) {
        self.stdin.take();
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.reap(Instant::now() + Duration::from_millis(500));
    }
}

/// The parent's side: a child origin process, or several serving one port (a cluster).
#[derive(Debug)]
pub struct OriginProcess {
    members: Vec<Member>,
    site: Arc<Site>,
    listen_backlog: u32,
}

impl OriginProcess {
    /// Starts `command` (which must run `serve_stdio` for `spec`) and waits for it to listen.
    pub fn spawn(command: Command, spec: SiteSpec) -> io::Result<Self> {
        let (member, announce) = Member::start(command, 0, 1)?;
        Ok(Self::from_members(vec![member], announce, spec))
    }

    /// Starts `processes` members serving `spec` on one port and waits for all to listen.
    ///
    /// `make_command(reuse_port)` builds a member's command (which must run `serve_stdio`):
    /// `None` — a lone origin (one process, no `SO_REUSEPORT`); `Some(0)` — the first member of
    /// several: a free port with `SO_REUSEPORT`; `Some(port)` — every other member: `port` with
    /// `SO_REUSEPORT`. Refused: `processes = 0`, and `processes > 1` for a site of several hosts
    /// or over HTTPS (see the module docs).
    pub fn spawn_cluster(
        make_command: impl Fn(Option<u16>) -> Command,
        spec: SiteSpec,
        processes: usize,
    ) -> io::Result<Self> {
        check_cluster(&spec, processes)?;
        if processes == 1 {
            return Self::spawn(make_command(None), spec);
        }
        let (first, announce) = Member::start(make_command(Some(0)), 0, processes)?;
        let port = announce
            .listen_url
            .port_or_known_default()
            .ok_or_else(|| io::Error::other(format!("{} announced no port", first.name)))?;
        let mut members = vec![first];
        for index in 1..processes {
            let (member, theirs) = Member::start(make_command(Some(port)), index, processes)?;
            if theirs.listen_url != announce.listen_url {
                return Err(io::Error::other(format!(
                    "{} listens on {} instead of {} (the first member's)",
                    member.name, theirs.listen_url, announce.listen_url
                )));
            }
            members.push(member);
        }
        Ok(Self::from_members(members, announce, spec))
    }

    fn from_members(members: Vec<Member>, announce: Announce, spec: SiteSpec) -> Self {
        let site = Arc::new(Site::new(spec, announce.listen_url).with_ca_pem(announce.ca_pem));
        Self {
            members,
            site,
            listen_backlog: announce.listen_backlog,
        }
    }

    /// The site it serves.
    pub fn site(&self) -> &Arc<Site> {
        &self.site
    }
    /// The kernel-applied listen backlog it reported (per member: each has its own queue).
    pub fn listen_backlog(&self) -> u32 {
        self.listen_backlog
    }
    /// The first member's PID.
    pub fn pid(&self) -> u32 {
        self.members[0].child.id()
    }
    /// Every member's PID.
    pub fn pids(&self) -> Vec<u32> {
        self.members.iter().map(|m| m.child.id()).collect()
    }
    /// How many processes serve the site.
    pub fn processes(&self) -> usize {
        self.members.len()
    }

    /// Sends `command` to every member, then reads every answer (they work in parallel).
    fn ask_all(&mut self, command: &str) -> io::Result<Vec<String>> {
        for m in &mut self.members {
            m.send(command)?;
        }
        self.members.iter_mut().map(Member::answer).collect()
    }

    /// Its counters, CPU seconds and per-process entries since the last reset, merged over the
    /// members (see [`OriginStats::processes`]).
    pub fn stats(&mut self) -> io::Result<OriginStats> {
        let lines = self
            .ask_all("stats")?
            .into_iter()
            .zip(&self.members)
            .map(|(line, m)| {
                serde_json::from_str::<StatsLine>(&line).map_err(|e| {
                    io::Error::other(format!("{}: bad stats line {line:?}: {e}", m.name))
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(merge(lines))
    }

    /// Zeroes every member's counters and transient-fault state.
    pub fn reset(&mut self) -> io::Result<()> {
        let answers = self.ask_all("reset")?;
        for (line, m) in answers.iter().zip(&self.members) {
            if line.trim() != "ok" {
                return Err(io::Error::other(format!(
                    "{}: reset refused: {}",
                    m.name,
                    line.trim()
                )));
            }
        }
        Ok(())
    }

    /// Stops every member and reaps it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Closes every member's stdin first (so they exit together), then reaps them.
    fn shutdown(&mut self) {
        for m in &mut self.members {
            m.stdin.take();
        }
        let deadline = Instant::now() + Duration::from_millis(500);
        for m in &mut self.members {
            m.reap(deadline);
        }
    }
}

impl Drop for OriginProcess {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Refuses a cluster the origin cannot prove correct.
fn check_cluster(spec: &SiteSpec, processes: usize) -> io::Result<()> {
    if processes == 0 {
        return Err(io::Error::other(
            "an origin needs at least one process; accepted: processes ≥ 1",
        ));
    }
    if processes > 1 && spec.hosts > 1 {
        return Err(io::Error::other(format!(
            "a multi-host site is served by one origin process (per-host politeness is proven by \
             one process's clock and counters; this site has {} hosts, {processes} processes \
             were asked for); accepted: processes = 1 for hosts > 1",
            spec.hosts
        )));
    }
    if processes > 1 && spec.tls.is_some() {
        return Err(io::Error::other(format!(
            "an HTTPS site is served by one origin process (each process issues its own CA for \
             the run, and a job trusts exactly one; {processes} processes were asked for); \
             accepted: processes = 1 with TLS"
        )));
    }
    Ok(())
}

/// Several members' answers as one [`OriginStats`] (one member's unchanged).
fn merge(mut lines: Vec<StatsLine>) -> OriginStats {
    if lines.len() == 1 {
        return lines.pop().map(|l| l.stats).unwrap_or_default();
    }
    let steps: Vec<&[Step]> = lines.iter().map(|l| l.in_flight_steps.as_slice()).collect();
    let peak_in_flight = concurrent_lower_bound(&steps);
    let hosts = lines.first().map_or(0, |l| l.stats.hosts);
    let host_arrivals = (0..lines
        .iter()
        .map(|l| l.stats.host_arrivals.len())
        .max()
        .unwrap_or(0))
        .map(|h| {
            let requests = lines
                .iter()
                .filter_map(|l| l.stats.host_arrivals.get(h))
                .map(|a| a.requests)
                .sum();
            let spans = lines
                .iter()
                .filter_map(|l| l.host_arrival_spans_ns.get(h).copied().flatten());
            let span = spans.reduce(|(f1, l1), (f2, l2)| (f1.min(f2), l1.max(l2)));
            HostArrivals {
                requests,
                first_to_last_us: span
                    .map_or(0, |(first, last)| last.saturating_sub(first) / 1_000),
            }
        })
        .collect();
    let all = || lines.iter().map(|l| &l.stats);
    OriginStats {
        requests: all().map(|s| s.requests).sum(),
        peak_in_flight,
        connections: all().map(|s| s.connections).sum(),
        tls_handshakes: all().map(|s| s.tls_handshakes).sum(),
        tls_handshake_cpu_secs: all().map(|s| s.tls_handshake_cpu_secs).sum(),
        cpu_secs: all().map(|s| s.cpu_secs).sum(),
        listen_backlog: all().map(|s| s.listen_backlog).min().unwrap_or(0),
        hosts,
        host_peak_in_flight: all().map(|s| s.host_peak_in_flight).sum(),
        host_arrivals,
        processes: all().flat_map(|s| s.processes.iter().cloned()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(pid: u32, requests: u64, peak: u64, steps: Vec<Step>) -> StatsLine {
        StatsLine {
            stats: OriginStats {
                requests,
                peak_in_flight: peak,
                connections: requests / 2,
                cpu_secs: Some(0.5),
                listen_backlog: 4096,
                hosts: 1,
                host_peak_in_flight: peak,
                host_arrivals: vec![HostArrivals {
                    requests,
                    first_to_last_us: 0,
                }],
                processes: vec![OriginProcessStats {
                    pid,
                    requests,
                    peak_in_flight: peak,
                    ..Default::default()
                }],
                ..Default::default()
            },
            in_flight_steps: steps,
            host_arrival_spans_ns: vec![Some((u64::from(pid) * 1_000_000, 5_000_000))],
        }
    }

    fn step(bucket: u64, min: u64, end: u64) -> Step {
        Step { bucket, min, end }
    }

    #[test]
    fn one_member_is_taken_as_it_is() {
        let only = member(1, 10, 7, vec![step(0, 0, 3)]);
        assert_eq!(merge(vec![only]).peak_in_flight, 7, "the exact peak stays");
    }

    #[test]
    fn members_are_summed_and_their_peak_proven_together() {
        let a = member(1, 100, 60, vec![step(1, 0, 60), step(5, 0, 0)]);
        let b = member(2, 80, 50, vec![step(2, 0, 40), step(6, 0, 0)]);
        let merged = merge(vec![a, b]);
        assert_eq!(merged.requests, 180);
        assert_eq!(merged.connections, 90);
        assert_eq!(merged.cpu_secs, Some(1.0));
        assert_eq!(merged.listen_backlog, 4096);
        // Buckets 3 and 4: 60 + 40 in flight at once, whatever each member's own peak.
        assert_eq!(merged.peak_in_flight, 100);
        assert_eq!(merged.host_peak_in_flight, 110);
        assert_eq!(merged.host_arrivals[0].requests, 180);
        // Arrivals from 1 ms (member 1's first) to 5 ms.
        assert_eq!(merged.host_arrivals[0].first_to_last_us, 4_000);
        let pids: Vec<u32> = merged.processes.iter().map(|p| p.pid).collect();
        assert_eq!(pids, [1, 2]);
    }

    #[test]
    fn a_stats_line_is_origin_stats_with_the_timeline_beside() {
        let line = member(3, 5, 2, vec![step(9, 1, 2)]);
        let json = serde_json::to_string(&line).unwrap();
        assert!(json.contains(r#""in_flight_steps":[[9,1,2]]"#), "{json}");
        // A reader of plain OriginStats ignores the extra fields.
        let plain: OriginStats = serde_json::from_str(&json).unwrap();
        assert_eq!(plain.requests, 5);
        let back: StatsLine = serde_json::from_str(&json).unwrap();
        assert_eq!(back.in_flight_steps, [step(9, 1, 2)]);
    }

    #[test]
    fn clusters_the_origin_cannot_prove_are_refused() {
        let mut spec = SiteSpec::default();
        assert!(check_cluster(&spec, 3).is_ok());
        assert!(check_cluster(&spec, 0).is_err());
        spec.hosts = 4;
        assert!(check_cluster(&spec, 1).is_ok());
        let e = check_cluster(&spec, 2).unwrap_err().to_string();
        assert!(
            e.contains("a multi-host site is served by one origin process")
                && e.contains("accepted: processes = 1 for hosts > 1"),
            "{e}"
        );
    }
}
