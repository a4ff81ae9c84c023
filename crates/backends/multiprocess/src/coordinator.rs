//! The coordinator's IO layer: runs the core's crawl loop in the calling process, and drives the
//! pure state machine ([`crate::state`]) with what its worker processes do — spawning them,
//! writing and reading their pipes, killing and reaping them, reading their peak RSS.
//!
//! Threads: the caller's thread runs `drive` (with `futures-executor`); one *supervisor* thread
//! owns the [`Machine`] and every process, and performs the machine's actions; per worker, one
//! *reader* thread decodes its stdout and one *writer* thread writes its stdin. Readers (and the
//! dispatching loop, and writers that fail) talk to the supervisor through one channel of
//! [`Msg`]s, each stamped with the time it happened, so the machine is single-threaded and sees
//! every event in arrival order.
//!
//! Why a writer thread per worker: a worker that stops reading (SIGSTOPped, stuck) fills its
//! stdin pipe, and a supervisor writing to it directly would block on that write and stop
//! serving everyone, the watchdog included. The supervisor only hands encoded frames to the
//! writer's channel; the writer writes them, several queued frames in one `write` when a burst
//! is waiting (the first assignment at 100,000 in flight is tens of thousands of frames).
//!
//! Time: the machine is told the time of each event, the reader's stamp when the frame was read
//! — not the moment the supervisor gets round to it — and ticks at the latest stamp processed so
//! far (or the wall clock once the channel is empty). The channel is FIFO, so every frame read
//! before that time has been handled: a supervisor that falls behind can never make a live
//! worker look silent.

use std::{
    collections::{BTreeSet, VecDeque},
    io::{self, BufReader, Write},
    net::IpAddr,
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
    plan::Plan,
    protocol::{
        FromWorker, Mode, PROTOCOL_VERSION, ToWorker, decode, encode_frame, probe_hello, read_frame,
    },
    state::{Action, Counters, Event, Limits, Machine},
};

/// The PIDs of running workers, shared with [`crate::MultiProcess::worker_pids`].
pub(crate) type PidSet = Arc<Mutex<BTreeSet<u32>>>;

/// Where a URL's outcome goes.
type ReplyTx = oneshot::Sender<FetchOutcome>;

/// Overrides the job's watchdog on the coordinator side, in milliseconds (for runs where workers
/// are slowed down on purpose, e.g. under valgrind). Heartbeats still follow the job.
pub const WATCHDOG_ENV: &str = "CRAWLBENCH_WORKER_WATCHDOG_MS";

/// How long a `Ready` worker may stay silent: the job's watchdog, or [`WATCHDOG_ENV`].
fn watchdog(job: &CrawlJob) -> Duration {
    std::env::var(WATCHDOG_ENV)
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(job.worker_watchdog(), Duration::from_millis)
}

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
    stats: &mut IoStats,
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

/// Reader threads only decode frames.
const READER_STACK: usize = 256 * 1024;
/// Writer threads only copy bytes.
const WRITER_STACK: usize = 128 * 1024;
/// Frames a writer coalesces into one `write` when a burst is queued.
const WRITE_BATCH: usize = 256 * 1024;
/// Each reader's buffer: outcomes arrive in bursts at high concurrency.
const READ_BUFFER: usize = 256 * 1024;

/// Everything the supervisor hears about: an event for the machine, when it happened, and the
/// bytes of the frame it came in (0 for events that are not frames).
struct Msg {
    event: Event<ReplyTx>,
    at: Instant,
    bytes: usize,
}

impl Msg {
    fn now(event: Event<ReplyTx>) -> Self {
        Self {
            event,
            at: Instant::now(),
            bytes: 0,
        }
    }
}

/// The IO layer's counters.
#[derive(Debug, Default)]
struct IoStats {
    bytes_sent: u64,
    bytes_received: u64,
    messages: u64,
    heartbeats: u64,
    /// Every worker process's own peak RSS, summed as each is reaped.
    peaks: WorkerPeaks,
    /// Workers whose own peak could not be read (they had already exited), so the kernel's
    /// `ru_maxrss` stood in for it — an overestimate (see [`reap_child`]).
    peaks_from_rusage: usize,
}

impl IoStats {
    fn sent(&mut self, bytes: usize) {
        self.bytes_sent += bytes as u64;
        self.messages += 1;
    }
}

/// What a run reports in `extra`.
#[derive(Debug)]
struct Stats {
    machine: Counters,
    io: IoStats,
    workers: usize,
    sources: usize,
    budget: usize,
    watchdog: Duration,
}

impl Stats {
    fn fill(&self, extra: &mut std::collections::BTreeMap<String, f64>) {
        let (m, io) = (&self.machine, &self.io);
        for (key, value) in [
            ("workers", self.workers as f64),
            ("ipc_bytes_sent", io.bytes_sent as f64),
            ("ipc_bytes_received", io.bytes_received as f64),
            ("ipc_messages", io.messages as f64),
            ("heartbeats", io.heartbeats as f64),
            ("worker_restarts", m.restarts as f64),
            ("malformed_frames", m.malformed as f64),
            ("urls_requeued", m.requeued as f64),
            ("urls_lost_to_worker_deaths", m.lost as f64),
            ("workers_stopped_by_watchdog", m.stopped_by_watchdog as f64),
            ("worker_peaks_from_rusage", io.peaks_from_rusage as f64),
            ("source_addresses", self.sources as f64),
            ("worker_in_flight_budget", self.budget as f64),
            ("worker_watchdog_ms", self.watchdog.as_millis() as f64),
        ] {
            extra.insert(key.to_owned(), value);
        }
    }
}

/// The job the workers get: the same rules with a one-URL stand-in workload
/// ([`CrawlJob::limits_only`]), so a list of a million URLs is not copied to every worker.
fn limits_job(job: &CrawlJob) -> Result<CrawlJob, String> {
    job.limits_only().map_err(|e| e.to_string())
}

/// Runs `job` on worker processes as `plan` says.
pub(crate) fn run(
    info: &BackendInfo,
    job: &CrawlJob,
    mode: Mode,
    command: &WorkerCommand,
    plan: Plan,
    pids: &PidSet,
) -> Result<Driven, BackendError> {
    let limits = limits_job(job).map_err(|e| info.setup_error(e))?;
    let (tx, rx) = mpsc::channel();
    let (fatal_tx, fatal_rx) = oneshot::channel();
    let now = Instant::now();
    let watchdog = watchdog(job);
    let workers = plan.capacities.len();
    let mut supervisor = Supervisor {
        machine: Machine::new(Limits::new(plan.capacities.clone(), watchdog), now),
        mode,
        command: command.clone(),
        limits,
        capacities: plan.capacities,
        sources: plan.sources,
        tx: tx.clone(),
        procs: (0..workers).map(|_| Proc::default()).collect(),
        io: IoStats::default(),
        pids: Arc::clone(pids),
        fatal_tx: Some(fatal_tx),
        fatal: None,
        finished: false,
        budget: plan.budget,
        watchdog,
    };
    let starting = supervisor.machine.start(now);
    supervisor.perform(starting, now);
    if let Some(reason) = supervisor.fatal.clone() {
        supervisor.shutdown(&rx);
        return Err(info.setup_error(reason));
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
            .send(Msg::now(Event::Dispatch {
                url: url.clone(),
                reply: reply_tx,
            }))
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
        // The machine fails the run *before* answering the waiting URLs with lost outcomes, so a
        // loop that ended on those outcomes finds the reason here.
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
    driven.worker_peaks = stats.io.peaks;
    Ok(driven)
}

/// The supervisor thread; dropping it (even while unwinding) stops and reaps every worker.
struct Running {
    tx: mpsc::Sender<Msg>,
    thread: Option<JoinHandle<Stats>>,
}

impl Running {
    fn finish(mut self) -> thread::Result<Stats> {
        let _ = self.tx.send(Msg::now(Event::Finish));
        self.thread.take().expect("finished once").join()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.tx.send(Msg::now(Event::Finish));
            let _ = thread.join();
        }
    }
}

/// One worker slot's live process and its threads.
#[derive(Default)]
struct Proc {
    incarnation: u32,
    child: Option<Child>,
    pid: u32,
    /// Frames for its writer thread; dropping it closes the worker's stdin (once the queued
    /// frames are written).
    frames: Option<mpsc::Sender<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
    /// Its reader has not yet reported `Closed`.
    reader_open: bool,
    /// The process's own peak RSS, last read while it was alive.
    peak_rss: Option<u64>,
}

impl Proc {
    /// Reads the process's peak RSS while it is alive (a process that has exited has none left to
    /// read).
    fn sample_peak(&mut self) {
        if let Some(child) = &self.child {
            self.peak_rss = self.peak_rss.max(peak_rss_bytes_of(child.id()));
        }
    }

    /// Stops the process (SIGKILL if `kill` or if it has not exited), reaps it, records its peak
    /// RSS in `stats` and joins its threads. Returns how it ended.
    fn reap(&mut self, kill: bool, pids: &PidSet, stats: &mut IoStats) -> String {
        self.frames = None;
        let sampled = self.peak_rss.take();
        let status = self
            .child
            .take()
            .map(|child| reap_child(child, kill, sampled, stats));
        // The process is gone, so its stdout is closed (the reader ends) and its stdin has no
        // reader (a writer blocked on it fails with EPIPE and ends).
        for handle in [self.reader.take(), self.writer.take()]
            .into_iter()
            .flatten()
        {
            let _ = handle.join();
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

struct Supervisor {
    machine: Machine<ReplyTx>,
    mode: Mode,
    command: WorkerCommand,
    limits: CrawlJob,
    capacities: Vec<usize>,
    sources: Vec<Option<IpAddr>>,
    tx: mpsc::Sender<Msg>,
    procs: Vec<Proc>,
    io: IoStats,
    pids: PidSet,
    fatal_tx: Option<oneshot::Sender<String>>,
    fatal: Option<String>,
    /// The machine asked for the shutdown.
    finished: bool,
    budget: usize,
    watchdog: Duration,
}

impl Supervisor {
    fn run(mut self, rx: mpsc::Receiver<Msg>) -> Stats {
        // The time up to which every event has been handled (see the module docs).
        let mut clock = Instant::now();
        while !self.finished {
            let msg = match self.machine.next_deadline() {
                Some(deadline) => {
                    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                        Ok(msg) => Some(msg),
                        Err(mpsc::RecvTimeoutError::Timeout) => None,
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match rx.recv() {
                    Ok(msg) => Some(msg),
                    Err(_) => break,
                },
            };
            match msg {
                None => {
                    clock = clock.max(Instant::now());
                    self.handle(Event::Tick, clock);
                }
                Some(msg) => {
                    clock = clock.max(msg.at);
                    self.note(&msg);
                    self.handle(msg.event, clock);
                    if self.machine.next_deadline().is_some_and(|d| clock >= d) {
                        self.handle(Event::Tick, clock);
                    }
                }
            }
        }
        if !self.finished {
            self.handle(Event::Finish, clock);
        }
        self.shutdown(&rx);
        Stats {
            machine: self.machine.counters().clone(),
            io: std::mem::take(&mut self.io),
            workers: self.capacities.len(),
            sources: self.sources.iter().flatten().count(),
            budget: self.budget,
            watchdog: self.watchdog,
        }
    }

    /// Bookkeeping the machine does not need: bytes, frames, whose reader is still open.
    fn note(&mut self, msg: &Msg) {
        if msg.bytes > 0 {
            self.io.bytes_received += msg.bytes as u64;
            self.io.messages += 1;
        }
        match msg.event {
            Event::Alive { .. } => self.io.heartbeats += 1,
            Event::Closed {
                slot, incarnation, ..
            } if self.procs[slot].incarnation == incarnation => {
                self.procs[slot].reader_open = false;
            }
            _ => {}
        }
    }

    fn handle(&mut self, event: Event<ReplyTx>, now: Instant) {
        let actions = self.machine.handle(event, now);
        self.perform(actions, now);
    }

    /// Performs the machine's actions in order (feeding back what fails).
    fn perform(&mut self, actions: Vec<Action<ReplyTx>>, now: Instant) {
        let mut queue = VecDeque::from(actions);
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Spawn { slot, incarnation } => {
                    if let Err(e) = self.spawn(slot, incarnation) {
                        let error = format!("{}: {e}", self.command.program.display());
                        eprintln!(
                            "crawlbench multiprocess: could not start worker {slot} \
                             (incarnation {incarnation}): {error}"
                        );
                        let event = Event::SpawnFailed {
                            slot,
                            incarnation,
                            error,
                        };
                        queue.extend(self.machine.handle(event, now));
                    }
                }
                Action::Send {
                    slot,
                    incarnation,
                    id,
                    url,
                } => self.send(slot, incarnation, &ToWorker::Fetch { id, url }),
                Action::Kill {
                    slot,
                    incarnation,
                    note,
                } => {
                    let p = &mut self.procs[slot];
                    if p.incarnation == incarnation && p.child.is_some() {
                        let pid = p.pid;
                        let ended = p.reap(true, &self.pids, &mut self.io);
                        eprintln!(
                            "crawlbench multiprocess: worker {slot} (pid {pid}) {note} \
                             [it ended: {ended}]"
                        );
                    }
                }
                Action::Answer { reply, outcome } => {
                    let _ = reply.send(*outcome);
                }
                Action::Lose { reply, url, why } => {
                    let _ = reply.send(lost_outcome(url, &why));
                }
                Action::FailRun { reason } => {
                    if let Some(tx) = self.fatal_tx.take() {
                        let _ = tx.send(reason.clone());
                    }
                    self.fatal.get_or_insert(reason);
                }
                Action::Shutdown => self.finished = true,
            }
        }
    }

    /// Hands `msg` to the slot's writer. A writer that is gone has reported why (or its process
    /// was killed), so a failed hand-off needs nothing more.
    fn send(&mut self, slot: usize, incarnation: u32, msg: &ToWorker) {
        let p = &self.procs[slot];
        if p.incarnation != incarnation {
            return;
        }
        match encode_frame(msg) {
            Ok(frame) => {
                let n = frame.len();
                if p.frames.as_ref().is_some_and(|f| f.send(frame).is_ok()) {
                    self.io.sent(n);
                }
            }
            Err(e) => {
                let _ = self.tx.send(Msg::now(Event::WriteFailed {
                    slot,
                    incarnation,
                    error: e.to_string(),
                }));
            }
        }
    }

    /// Starts incarnation `incarnation` of `slot`, its reader and writer, and sends it `Hello`.
    fn spawn(&mut self, slot: usize, incarnation: u32) -> io::Result<()> {
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
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = reap_child(child, true, None, &mut self.io);
            return Err(io::Error::other("the worker's stdio was not piped"));
        };
        let hello = ToWorker::Hello {
            version: PROTOCOL_VERSION,
            mode: self.mode,
            job: self.limits.clone(),
            slots: u32::try_from(self.capacities[slot]).unwrap_or(u32::MAX),
            worker: u32::try_from(slot).unwrap_or(u32::MAX),
            incarnation,
            source: self.sources[slot],
        };
        let hello = match encode_frame(&hello) {
            Ok(frame) => frame,
            Err(e) => {
                let _ = reap_child(child, true, None, &mut self.io);
                return Err(e);
            }
        };
        let (frames_tx, frames_rx) = mpsc::channel::<Vec<u8>>();
        let hello_len = hello.len();
        let _ = frames_tx.send(hello);
        let tx = self.tx.clone();
        let writer = thread::Builder::new()
            .name(format!("mp-writer-{slot}"))
            .stack_size(WRITER_STACK)
            .spawn(move || write_worker(slot, incarnation, stdin, frames_rx, tx));
        let writer = match writer {
            Ok(handle) => handle,
            Err(e) => {
                let _ = reap_child(child, true, None, &mut self.io);
                return Err(e);
            }
        };
        let tx = self.tx.clone();
        let reader = thread::Builder::new()
            .name(format!("mp-reader-{slot}"))
            .stack_size(READER_STACK)
            .spawn(move || read_worker(slot, incarnation, stdout, tx));
        let reader = match reader {
            Ok(handle) => handle,
            Err(e) => {
                drop(frames_tx);
                let _ = reap_child(child, true, None, &mut self.io);
                let _ = writer.join();
                return Err(e);
            }
        };
        // A worker that died at once fails the write; its reader reports the death.
        self.io.sent(hello_len);
        self.pids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(pid);
        self.procs[slot] = Proc {
            incarnation,
            child: Some(child),
            pid,
            frames: Some(frames_tx),
            reader: Some(reader),
            writer: Some(writer),
            reader_open: true,
            peak_rss: None,
        };
        Ok(())
    }

    /// Closes every worker's stdin, gives them [`grace`] to exit, kills the rest, reaps all.
    fn shutdown(&mut self, rx: &mpsc::Receiver<Msg>) {
        // Their own peaks, while they are alive to be asked: once stdin closes they exit.
        for p in &mut self.procs {
            p.sample_peak();
            p.frames = None;
        }
        let deadline = Instant::now() + grace();
        // A worker exits on EOF; its reader's `Closed` is the signal that its stdout is gone.
        while self
            .procs
            .iter()
            .any(|p| p.child.is_some() && p.reader_open)
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(msg) => {
                    self.note(&msg);
                    if let Event::Dispatch { url, reply } = msg.event {
                        let _ = reply.send(lost_outcome(url, "the run is shutting down"));
                    }
                }
                Err(_) => break,
            }
        }
        // Stdout closes before the process is gone; let it finish exiting within the grace.
        while Instant::now() < deadline
            && self
                .procs
                .iter()
                .any(|p| p.child.is_some() && !has_exited(p.pid))
        {
            thread::sleep(Duration::from_millis(5));
        }
        for p in &mut self.procs {
            p.reap(false, &self.pids, &mut self.io);
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Normally a no-op (shutdown reaped everything); on a panic this still stops the workers.
        for p in &mut self.procs {
            if p.child.is_some() {
                p.reap(true, &self.pids, &mut self.io);
            }
        }
    }
}

/// A worker's writer thread: writes the frames handed to it, coalescing a queued burst into one
/// `write`, until the supervisor drops its sender (then dropping stdin closes the pipe: the
/// worker stops) or a write fails (reported as [`Event::WriteFailed`]).
fn write_worker(
    slot: usize,
    incarnation: u32,
    mut stdin: ChildStdin,
    frames: mpsc::Receiver<Vec<u8>>,
    tx: mpsc::Sender<Msg>,
) {
    let mut batch = Vec::new();
    while let Ok(frame) = frames.recv() {
        let written = match frames.try_recv() {
            Ok(next) => {
                batch.clear();
                batch.extend_from_slice(&frame);
                batch.extend_from_slice(&next);
                while batch.len() < WRITE_BATCH {
                    match frames.try_recv() {
                        Ok(more) => batch.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                stdin.write_all(&batch)
            }
            Err(_) => stdin.write_all(&frame),
        };
        if let Err(e) = written {
            let _ = tx.send(Msg::now(Event::WriteFailed {
                slot,
                incarnation,
                error: e.to_string(),
            }));
            return;
        }
    }
}

/// A worker's reader thread: decodes its stdout into [`Msg`]s until the stream ends or breaks.
fn read_worker(slot: usize, incarnation: u32, stdout: ChildStdout, tx: mpsc::Sender<Msg>) {
    let mut input = BufReader::with_capacity(READ_BUFFER, stdout);
    let mut buf = Vec::new();
    let mut greeted = false;
    let closed = |why: String, malformed: bool| {
        Msg::now(Event::Closed {
            slot,
            incarnation,
            why,
            malformed,
        })
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
        let at = Instant::now();
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
        let event = match decode::<FromWorker>(&buf) {
            Ok(FromWorker::Hello { .. }) if !greeted => {
                greeted = true;
                Event::Ready { slot, incarnation }
            }
            Ok(FromWorker::Hello { .. }) => break closed("sent a second hello".into(), true),
            Ok(FromWorker::Outcome { id, outcome }) if greeted => Event::Outcome {
                slot,
                incarnation,
                id,
                outcome: Box::new(outcome),
            },
            Ok(FromWorker::Alive) if greeted => Event::Alive { slot, incarnation },
            Ok(FromWorker::Outcome { .. } | FromWorker::Alive) => {
                break closed(
                    "sent an outcome or a heartbeat before its hello".into(),
                    true,
                );
            }
            Ok(FromWorker::Refused { reason }) => Event::Refused {
                slot,
                incarnation,
                reason,
            },
            Err(e) => break closed(format!("sent a malformed frame: {e}"), true),
        };
        if tx.send(Msg { event, at, bytes }).is_err() {
            return;
        }
    };
    let _ = tx.send(last);
}

#[cfg(test)]
mod tests {
    use super::*;

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
            .worker_watchdog(Duration::from_millis(700))
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
                limits.user_agent(),
                limits.worker_watchdog(),
            ),
            (
                7,
                Duration::from_millis(1500),
                4,
                2,
                999,
                "agent x",
                Duration::from_millis(700)
            )
        );
        let remote = CrawlJob::crawl(vec![Url::parse("http://10.1.2.3/x/").unwrap()], 5)
            .allow_non_loopback(true)
            .build()
            .unwrap();
        limits_job(&remote).unwrap();
    }
}
