//! The coordinator: runs the core's crawl loop in the calling process and hands each URL to a
//! worker process with a free slot, surviving workers that die or misbehave.
//!
//! Threads: the caller's thread runs `drive` (with `futures-executor`); one *supervisor* thread
//! owns every piece of mutable state (workers, slots, the queue of URLs waiting for a slot, the
//! table of URLs in flight) and is the only writer to the workers' stdins; one *reader* thread
//! per worker decodes its stdout. They talk through one channel of [`Msg`]s, so the state machine
//! below is single-threaded and every event is handled in arrival order.

use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    io::{self, BufReader},
    os::unix::process::{CommandExt, ExitStatusExt},
    process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, PoisonError, mpsc},
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use crawlbench_core::{
    BackendError, BackendInfo, CrawlJob, FetchOutcome,
    driver::{Driven, drive, lost_outcome},
    resources::{WorkerPeaks, peak_rss_bytes_of},
};
use futures_channel::oneshot;
use futures_util::future::{self, Either};
use url::Url;

use crate::{
    WorkerCommand,
    protocol::{
        FromWorker, Mode, PROTOCOL_VERSION, ToWorker, decode, probe_hello, read_frame, write_frame,
    },
};

/// The PIDs of running workers, shared with [`crate::MultiProcess::worker_pids`].
pub(crate) type PidSet = Arc<Mutex<BTreeSet<u32>>>;

/// How long workers get to exit after their stdin closes before they are killed: 500 ms, or
/// `CRAWLBENCH_WORKER_GRACE_MS` (the campaign's instruction count raises it: a worker under
/// valgrind writes its counts as it exits, and a kill then would lose them).
fn grace() -> Duration {
    std::env::var("CRAWLBENCH_WORKER_GRACE_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_millis(500), Duration::from_millis)
}

/// True once `pid` (our unreaped child) has exited: a zombie, state `Z` in `/proc/<pid>/stat`.
/// Checked without reaping, so `wait4` can still collect its status and usage.
fn has_exited(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the parenthesised command name, which may itself hold spaces.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s == "Z"))
        })
        .unwrap_or(true)
}
/// How long a new worker may take to answer `Hello`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// A slot whose worker fails to start this many times in a row fails the run.
const MAX_FAILED_STARTS: u32 = 3;
/// A URL whose worker died this many times is given up (a "poison" URL must not burn every
/// restart of the run).
const MAX_DEATHS_PER_URL: u32 = 3;
/// Reader threads only decode frames.
const READER_STACK: usize = 256 * 1024;

/// Everything the supervisor hears about.
enum Msg {
    /// From `drive`: fetch `url`, answer on `reply`.
    Dispatch {
        url: Url,
        reply: oneshot::Sender<FetchOutcome>,
    },
    /// From `run`: the crawl loop is done (finished, cancelled or failed); stop every worker.
    Finish,
    /// From a reader: the worker answered `Hello` with our version.
    Ready {
        slot: usize,
        incarnation: u32,
        bytes: usize,
    },
    /// From a reader: an outcome (boxed: it is several times the size of every other message).
    Outcome {
        slot: usize,
        incarnation: u32,
        id: u64,
        outcome: Box<FetchOutcome>,
        bytes: usize,
    },
    /// From a reader: the worker cannot run this job at all.
    Refused {
        slot: usize,
        incarnation: u32,
        reason: String,
        bytes: usize,
    },
    /// From a reader, always its last message: the stream ended or broke.
    Closed {
        slot: usize,
        incarnation: u32,
        why: String,
        malformed: bool,
    },
}

/// The counters copied into the report's `extra`.
#[derive(Debug, Default)]
struct Stats {
    workers: usize,
    bytes_sent: u64,
    bytes_received: u64,
    messages: u64,
    restarts: usize,
    malformed: usize,
    requeued: usize,
    lost: usize,
    /// Every worker process's own peak RSS, summed as each is reaped.
    peaks: WorkerPeaks,
    /// Workers whose own peak could not be read (they had already exited), so the kernel's
    /// `ru_maxrss` stood in for it — an overestimate (see [`reap_child`]).
    peaks_from_rusage: usize,
}

impl Stats {
    fn received(&mut self, bytes: usize) {
        self.bytes_received += bytes as u64;
        self.messages += 1;
    }
    fn sent(&mut self, bytes: usize) {
        self.bytes_sent += bytes as u64;
        self.messages += 1;
    }
    fn fill(&self, extra: &mut std::collections::BTreeMap<String, f64>) {
        for (key, value) in [
            ("workers", self.workers as f64),
            ("ipc_bytes_sent", self.bytes_sent as f64),
            ("ipc_bytes_received", self.bytes_received as f64),
            ("ipc_messages", self.messages as f64),
            ("worker_restarts", self.restarts as f64),
            ("malformed_frames", self.malformed as f64),
            ("urls_requeued", self.requeued as f64),
            ("urls_lost_to_worker_deaths", self.lost as f64),
            ("worker_peaks_from_rusage", self.peaks_from_rusage as f64),
        ] {
            extra.insert(key.to_owned(), value);
        }
    }
}

/// How many workers to start and how many fetches each may hold.
pub(crate) fn plan(mode: Mode, job: &CrawlJob, async_workers: usize) -> Vec<usize> {
    let limit = job.concurrency();
    // More workers than URLs could ever be in flight would only cost start-up time.
    let useful = limit.min(job.max_urls()).max(1);
    match mode {
        Mode::Blocking => vec![1; useful],
        Mode::Async => {
            let k = async_workers.clamp(1, useful);
            (0..k)
                .map(|i| limit / k + usize::from(i < limit % k))
                .collect()
        }
    }
}

/// The job the workers get: the same rules with a one-URL stand-in workload
/// ([`CrawlJob::limits_only`]), so a list of a million URLs is not copied to every worker.
fn limits_job(job: &CrawlJob) -> Result<CrawlJob, String> {
    job.limits_only().map_err(|e| e.to_string())
}

/// Runs `job` on worker processes, one per entry of `capacities` (its slot count).
pub(crate) fn run(
    info: &BackendInfo,
    job: &CrawlJob,
    mode: Mode,
    command: &WorkerCommand,
    capacities: Vec<usize>,
    pids: &PidSet,
) -> Result<Driven, BackendError> {
    let limits = limits_job(job).map_err(|e| info.setup_error(e))?;
    let (tx, rx) = mpsc::channel();
    let (fatal_tx, fatal_rx) = oneshot::channel();
    let workers = capacities.len();
    let mut supervisor = Supervisor::new(
        mode,
        command.clone(),
        limits,
        tx.clone(),
        capacities,
        Arc::clone(pids),
        fatal_tx,
    );
    for slot in 0..workers {
        if let Err(e) = supervisor.spawn(slot) {
            supervisor.shutdown(&rx);
            return Err(info.setup_error(format!(
                "could not start worker process {} of {workers} ({}): {e}",
                slot + 1,
                command.program.display()
            )));
        }
    }
    let thread = thread::Builder::new()
        .name("mp-supervisor".into())
        .spawn(move || supervisor.run(rx))
        .map_err(|e| info.setup_error(format!("could not start the supervisor thread: {e}")))?;
    let running = Running {
        tx: tx.clone(),
        thread: Some(thread),
    };
    let dispatch = |url: Url| {
        let (reply_tx, reply_rx) = oneshot::channel();
        let sent = tx
            .send(Msg::Dispatch {
                url: url.clone(),
                reply: reply_tx,
            })
            .is_ok();
        async move {
            match (sent, reply_rx.await) {
                (true, Ok(outcome)) => outcome,
                _ => lost_outcome(
                    url,
                    "the coordinator stopped before a worker reported this URL",
                ),
            }
        }
    };
    let drove = futures_executor::block_on(async {
        let mut fatal_rx = fatal_rx;
        let driving = std::pin::pin!(drive(job, dispatch));
        let driven = match future::select(driving, &mut fatal_rx).await {
            Either::Left((driven, _)) => driven,
            Either::Right((Ok(reason), _)) => return Err(reason),
            // The supervisor is gone without a verdict: let the loop finish (with lost outcomes).
            Either::Right((Err(_), driving)) => driving.await,
        };
        // The supervisor fails the run *before* answering the waiting URLs with lost outcomes,
        // so a loop that ended on those outcomes finds the reason here.
        match fatal_rx.try_recv() {
            Ok(Some(reason)) => Err(reason),
            _ => Ok(driven),
        }
    });
    let stats = running
        .finish()
        .map_err(|_| info.setup_error("the supervisor thread panicked"))?;
    let mut driven = drove.map_err(|reason| info.setup_error(reason))?;
    stats.fill(&mut driven.extra);
    driven.worker_peaks = stats.peaks;
    Ok(driven)
}

/// The supervisor thread; dropping it (even while unwinding) stops and reaps every worker.
struct Running {
    tx: mpsc::Sender<Msg>,
    thread: Option<JoinHandle<Stats>>,
}

impl Running {
    fn finish(mut self) -> thread::Result<Stats> {
        let _ = self.tx.send(Msg::Finish);
        self.thread.take().expect("finished once").join()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.tx.send(Msg::Finish);
            let _ = thread.join();
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Spawned, `Hello` sent, waiting for the worker's.
    Starting,
    /// Taking fetches.
    Ready,
    /// Gone and not replaced (or not yet spawned).
    Dead,
}

/// One worker position. A replacement reuses the slot with the next `incarnation`, so events
/// from a previous process are recognised as stale and ignored.
struct Slot {
    capacity: usize,
    /// Processes started for this slot so far; the next one's incarnation.
    spawns: u32,
    incarnation: u32,
    state: State,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    reader: Option<JoinHandle<()>>,
    /// Its reader has not yet sent `Closed`.
    reader_open: bool,
    pid: u32,
    busy: usize,
    started: Instant,
    failed_starts: u32,
    /// The process's own peak RSS, last read while it was alive.
    peak_rss: Option<u64>,
}

impl Slot {
    /// Reads the process's peak RSS while it is alive (a process that has exited has none left to
    /// read).
    fn sample_peak(&mut self) {
        if let Some(child) = &self.child {
            self.peak_rss = self.peak_rss.max(peak_rss_bytes_of(child.id()));
        }
    }

    /// Stops the process (SIGKILL if `kill` or if it has not exited), reaps it, records its peak
    /// RSS in `stats` and joins its reader. Returns how it ended.
    fn reap(&mut self, kill: bool, pids: &PidSet, stats: &mut Stats) -> String {
        self.stdin = None;
        let sampled = self.peak_rss.take();
        let status = self
            .child
            .take()
            .map(|child| reap_child(child, kill, sampled, stats));
        if let Some(reader) = self.reader.take() {
            // The process is gone, so its stdout is closed and the reader ends.
            let _ = reader.join();
        }
        self.reader_open = false;
        pids.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.pid);
        match status {
            Some(Ok(status)) => status.to_string(),
            Some(Err(e)) => format!("not reaped: {e}"),
            None => "not running".into(),
        }
    }
}

/// Stops `child` (SIGKILL at once when `kill`, otherwise only if it has not exited yet), reaps it
/// with `wait4` and adds its peak RSS to `stats`.
///
/// The peak is the process's own `VmHWM` — the high-water mark of the address space its `exec`
/// created — read while it is alive: `sampled` earlier, or here before the kill. `wait4`'s
/// `ru_maxrss` is only the fallback for a process that had already exited: the kernel charges a
/// child with its parent's resident pages when it is spawned (`vfork` runs it in the parent's
/// address space, `fork` copies the page tables), so that figure is at least the coordinator's
/// RSS at the time and would charge every worker for the coordinator's memory.
fn reap_child(
    mut child: Child,
    kill: bool,
    sampled: Option<u64>,
    stats: &mut Stats,
) -> io::Result<ExitStatus> {
    let pid = child.id();
    // Unreaped, the pid is still this child's, even as a zombie.
    let own = sampled.max(peak_rss_bytes_of(pid));
    let exited = if kill { Ok(None) } else { wait4(pid, true) };
    let reaped = match exited {
        Ok(Some(reaped)) => Ok(reaped),
        Ok(None) => {
            let _ = child.kill();
            wait4(pid, false).and_then(|r| r.ok_or_else(|| io::Error::other("still running")))
        }
        // Not ours to wait for (already reaped?): never signal a pid that may have been reused.
        Err(e) => Err(e),
    };
    let rusage_peak = reaped
        .as_ref()
        .ok()
        .map(|(_, usage)| u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024);
    if own.is_none() {
        stats.peaks_from_rusage += 1;
    }
    stats.peaks.add(own.or(rusage_peak).unwrap_or(0));
    reaped.map(|(status, _)| status)
}

/// `wait4` on `pid` (only with `WNOHANG` when `poll`): its exit status and resource usage, or
/// `None` when polling a process that is still running.
fn wait4(pid: u32, poll: bool) -> io::Result<Option<(ExitStatus, libc::rusage)>> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let flags = if poll { libc::WNOHANG } else { 0 };
    loop {
        let mut status = 0;
        // SAFETY: wait4 writes the status and a plain C struct we own; a zeroed rusage is valid.
        let (rc, usage) = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            let rc = libc::wait4(pid, &mut status, flags, &mut usage);
            (rc, usage)
        };
        match rc {
            0 => return Ok(None),
            rc if rc > 0 => return Ok(Some((ExitStatus::from_raw(status), usage))),
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
}

/// A URL the supervisor answers for.
struct Job {
    url: Url,
    reply: oneshot::Sender<FetchOutcome>,
    /// The slot holding it, while a worker has it.
    slot: Option<usize>,
    /// Workers that died holding it.
    deaths: u32,
}

struct Supervisor {
    mode: Mode,
    command: WorkerCommand,
    limits: CrawlJob,
    tx: mpsc::Sender<Msg>,
    slots: Vec<Slot>,
    /// One `(slot, incarnation)` per free fetch slot; stale ones are skipped when taken.
    tokens: VecDeque<(usize, u32)>,
    /// URLs waiting for a free slot (new ones at the back, re-queued ones at the front).
    pending: VecDeque<u64>,
    jobs: HashMap<u64, Job>,
    next_id: u64,
    restart_budget: usize,
    stats: Stats,
    pids: PidSet,
    fatal_tx: Option<oneshot::Sender<String>>,
    failed: Option<String>,
}

impl Supervisor {
    fn new(
        mode: Mode,
        command: WorkerCommand,
        limits: CrawlJob,
        tx: mpsc::Sender<Msg>,
        capacities: Vec<usize>,
        pids: PidSet,
        fatal_tx: oneshot::Sender<String>,
    ) -> Self {
        let workers = capacities.len();
        let slots = capacities
            .into_iter()
            .map(|capacity| Slot {
                capacity,
                spawns: 0,
                incarnation: 0,
                state: State::Dead,
                child: None,
                stdin: None,
                reader: None,
                reader_open: false,
                pid: 0,
                busy: 0,
                started: Instant::now(),
                failed_starts: 0,
                peak_rss: None,
            })
            .collect();
        Self {
            mode,
            command,
            limits,
            tx,
            slots,
            tokens: VecDeque::new(),
            pending: VecDeque::new(),
            jobs: HashMap::new(),
            next_id: 0,
            restart_budget: 2 * workers + 4,
            stats: Stats {
                workers,
                ..Stats::default()
            },
            pids,
            fatal_tx: Some(fatal_tx),
            failed: None,
        }
    }

    /// Starts the next incarnation of `slot` and sends it `Hello`.
    fn spawn(&mut self, slot: usize) -> io::Result<()> {
        let incarnation = self.slots[slot].spawns;
        let mut command = Command::new(&self.command.program);
        command
            .args(&self.command.args)
            .envs(self.command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            // Its own process group: a terminal's Ctrl-C reaches only the coordinator, which
            // then stops the workers itself.
            .process_group(0);
        let mut child = command.spawn()?;
        let pid = child.id();
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = reap_child(child, true, None, &mut self.stats);
            return Err(io::Error::other("the worker's stdio was not piped"));
        };
        let capacity = self.slots[slot].capacity;
        let hello = ToWorker::Hello {
            version: PROTOCOL_VERSION,
            mode: self.mode,
            job: self.limits.clone(),
            slots: u32::try_from(capacity).unwrap_or(u32::MAX),
            worker: u32::try_from(slot).unwrap_or(u32::MAX),
            incarnation,
        };
        // A worker that died at once fails this write; its reader reports the death.
        if let Ok(n) = write_frame(&mut stdin, &hello) {
            self.stats.sent(n);
        }
        let tx = self.tx.clone();
        let reader = thread::Builder::new()
            .name(format!("mp-reader-{slot}"))
            .stack_size(READER_STACK)
            .spawn(move || read_worker(slot, incarnation, stdout, tx));
        let reader = match reader {
            Ok(handle) => handle,
            Err(e) => {
                let _ = reap_child(child, true, None, &mut self.stats);
                return Err(e);
            }
        };
        self.pids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(pid);
        let s = &mut self.slots[slot];
        s.incarnation = incarnation;
        s.spawns += 1;
        s.state = State::Starting;
        s.child = Some(child);
        s.stdin = Some(stdin);
        s.reader = Some(reader);
        s.reader_open = true;
        s.pid = pid;
        s.busy = 0;
        s.started = Instant::now();
        s.peak_rss = None;
        Ok(())
    }

    fn run(mut self, rx: mpsc::Receiver<Msg>) -> Stats {
        loop {
            let deadline = self
                .slots
                .iter()
                .filter(|s| s.state == State::Starting)
                .map(|s| s.started + HANDSHAKE_TIMEOUT)
                .min();
            let msg = match deadline {
                Some(deadline) => {
                    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                        Ok(msg) => msg,
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            self.expire_handshakes();
                            self.pump();
                            continue;
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match rx.recv() {
                    Ok(msg) => msg,
                    Err(_) => break,
                },
            };
            if matches!(msg, Msg::Finish) {
                break;
            }
            self.handle(msg);
            self.pump();
        }
        self.shutdown(&rx);
        std::mem::take(&mut self.stats)
    }

    fn is_current(&self, slot: usize, incarnation: u32) -> bool {
        let s = &self.slots[slot];
        s.incarnation == incarnation && s.state != State::Dead
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Finish => {}
            Msg::Dispatch { url, reply } => {
                if let Some(reason) = &self.failed {
                    let _ = reply.send(lost_outcome(url, reason));
                    return;
                }
                let id = self.next_id;
                self.next_id += 1;
                self.jobs.insert(
                    id,
                    Job {
                        url,
                        reply,
                        slot: None,
                        deaths: 0,
                    },
                );
                self.pending.push_back(id);
            }
            Msg::Ready {
                slot,
                incarnation,
                bytes,
            } => {
                self.stats.received(bytes);
                if !self.is_current(slot, incarnation) {
                    return;
                }
                let s = &mut self.slots[slot];
                if s.state == State::Starting {
                    s.state = State::Ready;
                    s.failed_starts = 0;
                    let free = s.capacity - s.busy;
                    self.tokens
                        .extend(std::iter::repeat_n((slot, incarnation), free));
                }
            }
            Msg::Outcome {
                slot,
                incarnation,
                id,
                outcome,
                bytes,
            } => {
                self.stats.received(bytes);
                if !self.is_current(slot, incarnation) {
                    // From a worker already replaced: its URLs were re-queued.
                    return;
                }
                match self.jobs.get(&id) {
                    Some(job) if job.slot == Some(slot) && job.url == outcome.url => {
                        let job = self.jobs.remove(&id).expect("just looked up");
                        let _ = job.reply.send(*outcome);
                        self.slots[slot].busy -= 1;
                        self.tokens.push_back((slot, incarnation));
                    }
                    _ => {
                        self.stats.malformed += 1;
                        self.fail_worker(
                            slot,
                            &format!(
                                "reported an outcome (id {id}, {}) for a URL it was not given",
                                outcome.url
                            ),
                        );
                    }
                }
            }
            Msg::Refused {
                slot,
                incarnation,
                reason,
                bytes,
            } => {
                self.stats.received(bytes);
                if self.is_current(slot, incarnation) {
                    self.fail_run(format!("a worker refused the job: {reason}"));
                    self.fail_worker(slot, "refused the job");
                }
            }
            Msg::Closed {
                slot,
                incarnation,
                why,
                malformed,
            } => {
                if self.slots[slot].incarnation == incarnation {
                    self.slots[slot].reader_open = false;
                }
                if self.is_current(slot, incarnation) {
                    if malformed {
                        self.stats.malformed += 1;
                    }
                    self.fail_worker(slot, &why);
                }
            }
        }
    }

    fn expire_handshakes(&mut self) {
        let now = Instant::now();
        let late: Vec<usize> = (0..self.slots.len())
            .filter(|&i| {
                let s = &self.slots[i];
                s.state == State::Starting && now >= s.started + HANDSHAKE_TIMEOUT
            })
            .collect();
        for slot in late {
            self.fail_worker(
                slot,
                &format!("did not answer hello within {HANDSHAKE_TIMEOUT:?}"),
            );
        }
    }

    /// The run cannot go on: `run` returns this reason as its error.
    fn fail_run(&mut self, reason: String) {
        if self.failed.is_none() {
            if let Some(tx) = self.fatal_tx.take() {
                let _ = tx.send(reason.clone());
            }
            self.failed = Some(reason);
        }
    }

    /// Answers `id` with a lost outcome.
    fn lose(&mut self, id: u64, why: &str) {
        if let Some(job) = self.jobs.remove(&id) {
            self.stats.lost += 1;
            let _ = job.reply.send(lost_outcome(job.url, why));
        }
    }

    /// `slot`'s worker died or broke the protocol: stop and reap it, re-queue the URLs it held
    /// and start a replacement — or, past the restart budget, give those URLs up.
    fn fail_worker(&mut self, slot: usize, why: &str) {
        let s = &mut self.slots[slot];
        if s.state == State::Dead {
            return;
        }
        let was_starting = s.state == State::Starting;
        let pid = s.pid;
        let ended = s.reap(true, &self.pids, &mut self.stats);
        s.state = State::Dead;
        s.busy = 0;
        if was_starting {
            s.failed_starts += 1;
        }
        let failed_starts = s.failed_starts;
        if failed_starts >= MAX_FAILED_STARTS {
            self.fail_run(format!(
                "worker {slot} failed to start {failed_starts} times in a row; the last one \
                 {why} ({ended})"
            ));
        }
        let restart = self.failed.is_none() && self.stats.restarts < self.restart_budget;
        let mut held: Vec<u64> = self
            .jobs
            .iter()
            .filter(|(_, job)| job.slot == Some(slot))
            .map(|(id, _)| *id)
            .collect();
        held.sort_unstable();
        eprintln!(
            "crawlbench multiprocess: worker {slot} (pid {pid}) {why} ({ended}); {} URLs it \
             held {}; {}",
            held.len(),
            if restart {
                "are re-queued"
            } else {
                "are given up"
            },
            if restart {
                format!(
                    "restarting it ({} of {} restarts)",
                    self.stats.restarts + 1,
                    self.restart_budget
                )
            } else {
                "not restarting it".to_owned()
            }
        );
        for id in held.into_iter().rev() {
            let job = self.jobs.get_mut(&id).expect("held URLs are in the table");
            job.slot = None;
            job.deaths += 1;
            if restart && job.deaths < MAX_DEATHS_PER_URL {
                self.pending.push_front(id);
                self.stats.requeued += 1;
            } else if restart {
                let deaths = job.deaths;
                self.lose(
                    id,
                    &format!("its worker died while fetching it {deaths} times (last: {why})"),
                );
            } else {
                self.lose(
                    id,
                    &format!(
                        "its worker died ({why}) and the restart budget of {} is spent",
                        self.restart_budget
                    ),
                );
            }
        }
        if restart {
            self.stats.restarts += 1;
            if let Err(e) = self.spawn(slot) {
                eprintln!(
                    "crawlbench multiprocess: could not restart worker {slot} ({}): {e}",
                    self.command.program.display()
                );
            }
        }
    }

    /// Takes a free slot of a ready worker.
    fn take_token(&mut self) -> Option<usize> {
        while let Some((slot, incarnation)) = self.tokens.pop_front() {
            let s = &self.slots[slot];
            if s.incarnation == incarnation && s.state == State::Ready && s.busy < s.capacity {
                return Some(slot);
            }
        }
        None
    }

    /// Sends waiting URLs to free slots; fails them when no worker is left to send them to.
    fn pump(&mut self) {
        while let Some(&id) = self.pending.front() {
            let waited_for = self
                .jobs
                .get(&id)
                .is_some_and(|job| !job.reply.is_canceled());
            if !waited_for {
                // Nobody waits for it any more (the run was cancelled).
                self.pending.pop_front();
                self.jobs.remove(&id);
                continue;
            }
            let Some(slot) = self.take_token() else {
                break;
            };
            self.pending.pop_front();
            let frame = ToWorker::Fetch {
                id,
                url: self.jobs[&id].url.clone(),
            };
            let written = match self.slots[slot].stdin.as_mut() {
                Some(stdin) => write_frame(stdin, &frame),
                None => Err(io::Error::other("its stdin is closed")),
            };
            match written {
                Ok(n) => {
                    self.stats.sent(n);
                    self.jobs.get_mut(&id).expect("looked up above").slot = Some(slot);
                    self.slots[slot].busy += 1;
                }
                Err(e) => {
                    self.pending.push_front(id);
                    self.fail_worker(slot, &format!("could not be written to ({e})"));
                }
            }
        }
        if !self.pending.is_empty() && self.slots.iter().all(|s| s.state == State::Dead) {
            let why = self.failed.clone().unwrap_or_else(|| {
                format!(
                    "every worker died and the restart budget of {} is spent",
                    self.restart_budget
                )
            });
            while let Some(id) = self.pending.pop_front() {
                self.lose(id, &why);
            }
        }
    }

    /// Closes every worker's stdin, gives them [`grace`] to exit, kills the rest, reaps all.
    fn shutdown(&mut self, rx: &mpsc::Receiver<Msg>) {
        // Their own peaks, while they are alive to be asked: once stdin closes they exit.
        for s in &mut self.slots {
            s.sample_peak();
            s.stdin = None;
        }
        let deadline = Instant::now() + grace();
        // A worker exits on EOF; its reader's `Closed` is the signal that its stdout is gone.
        while self
            .slots
            .iter()
            .any(|s| s.child.is_some() && s.reader_open)
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Msg::Closed {
                    slot, incarnation, ..
                }) if self.slots[slot].incarnation == incarnation => {
                    self.slots[slot].reader_open = false;
                }
                Ok(Msg::Dispatch { url, reply }) => {
                    let _ = reply.send(lost_outcome(url, "the run is shutting down"));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        // Stdout closes before the process is gone; let it finish exiting within the grace.
        while Instant::now() < deadline
            && self
                .slots
                .iter()
                .any(|s| s.child.is_some() && !has_exited(s.pid))
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        for s in &mut self.slots {
            s.reap(false, &self.pids, &mut self.stats);
            s.state = State::Dead;
        }
        self.pending.clear();
        self.jobs.clear();
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Normally a no-op (shutdown reaped everything); on a panic this still stops the workers.
        for s in &mut self.slots {
            if s.child.is_some() {
                s.reap(true, &self.pids, &mut self.stats);
            }
        }
    }
}

/// A worker's reader thread: decodes its stdout into [`Msg`]s until the stream ends or breaks.
fn read_worker(slot: usize, incarnation: u32, stdout: ChildStdout, tx: mpsc::Sender<Msg>) {
    let mut input = BufReader::with_capacity(64 * 1024, stdout);
    let mut buf = Vec::new();
    let mut greeted = false;
    let closed = |why: String, malformed: bool| Msg::Closed {
        slot,
        incarnation,
        why,
        malformed,
    };
    let last = loop {
        let bytes = match read_frame(&mut input, &mut buf) {
            Ok(Some(n)) => n,
            Ok(None) if greeted => {
                break closed("closed its output (it exited or was killed)".into(), false);
            }
            Ok(None) => break closed("exited before answering hello".into(), false),
            Err(e) => {
                let malformed = e.is_malformed();
                break closed(format!("sent a bad frame: {e}"), malformed);
            }
        };
        if !greeted {
            match probe_hello(&buf) {
                Ok(Some(version)) if version != PROTOCOL_VERSION => {
                    break closed(
                        format!(
                            "speaks protocol version {version}, but this coordinator speaks \
                             version {PROTOCOL_VERSION} (a worker binary from another build?)"
                        ),
                        true,
                    );
                }
                Ok(_) => {}
                Err(e) => break closed(format!("sent a malformed hello: {e}"), true),
            }
        }
        let msg = match decode::<FromWorker>(&buf) {
            Ok(FromWorker::Hello { .. }) if !greeted => {
                greeted = true;
                Msg::Ready {
                    slot,
                    incarnation,
                    bytes,
                }
            }
            Ok(FromWorker::Hello { .. }) => break closed("sent a second hello".into(), true),
            Ok(FromWorker::Outcome { id, outcome }) if greeted => Msg::Outcome {
                slot,
                incarnation,
                id,
                outcome: Box::new(outcome),
                bytes,
            },
            Ok(FromWorker::Outcome { .. }) => {
                break closed("sent an outcome before its hello".into(), true);
            }
            Ok(FromWorker::Refused { reason }) => Msg::Refused {
                slot,
                incarnation,
                reason,
                bytes,
            },
            Err(e) => break closed(format!("sent a malformed frame: {e}"), true),
        };
        if tx.send(msg).is_err() {
            return;
        }
    };
    let _ = tx.send(last);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(concurrency: usize, urls: usize) -> CrawlJob {
        let urls = (0..urls)
            .map(|i| Url::parse(&format!("http://127.0.0.1:1/{i}")).unwrap())
            .collect();
        CrawlJob::list(urls)
            .concurrency(concurrency)
            .build()
            .unwrap()
    }

    #[test]
    fn plans_split_the_limit_exactly() {
        assert_eq!(plan(Mode::Async, &job(16, 100), 2), vec![8, 8]);
        assert_eq!(plan(Mode::Async, &job(17, 100), 2), vec![9, 8]);
        assert_eq!(plan(Mode::Async, &job(1, 100), 2), vec![1]);
        assert_eq!(plan(Mode::Async, &job(3, 100), 8), vec![1, 1, 1]);
        // More slots than URLs: fewer workers, the limit still split in full.
        assert_eq!(plan(Mode::Async, &job(50_000, 1), 2), vec![50_000]);
        assert_eq!(plan(Mode::Blocking, &job(5, 100), 2), vec![1; 5]);
        assert_eq!(plan(Mode::Blocking, &job(32, 3), 2), vec![1; 3]);
        for c in 1..40 {
            let p = plan(Mode::Async, &job(c, 100), 4);
            assert_eq!(p.iter().sum::<usize>(), c);
            assert!(p.iter().all(|&s| s >= 1));
        }
    }

    #[test]
    fn workers_get_the_limits_without_the_workload() {
        let urls: Vec<Url> = (0..1000)
            .map(|i| Url::parse(&format!("http://127.0.0.1:1/{i}")).unwrap())
            .collect();
        let job = CrawlJob::list(urls)
            .concurrency(7)
            .timeout(Duration::from_millis(1500))
            .retries(4)
            .max_redirects(2)
            .max_body_bytes(999)
            .user_agent("agent x")
            .build()
            .unwrap();
        let limits = limits_job(&job).unwrap();
        assert_eq!(limits.max_urls(), 1);
        assert_eq!(
            (
                limits.concurrency(),
                limits.timeout(),
                limits.retries(),
                limits.max_redirects(),
                limits.max_body_bytes(),
                limits.user_agent()
            ),
            (7, Duration::from_millis(1500), 4, 2, 999, "agent x")
        );
        let remote = CrawlJob::crawl(vec![Url::parse("http://10.1.2.3/x/").unwrap()], 5)
            .allow_non_loopback(true)
            .build()
            .unwrap();
        limits_job(&remote).unwrap();
    }
}
