//! One run of an external program: start it, hand it the job, carry attempts to it and replies
//! back, and end it — boundedly, whatever it does.
//!
//! The program is a child in its own process group. A writer thread feeds its stdin (the crawl
//! loop never blocks on a program that stopped reading), a reader thread parses its stdout line
//! by line ([`crate::protocol::parse_reply`]), its stderr goes to an unlinked file whose tail
//! explains a crash, and a sampler records the peak RSS of it and every process it starts
//! (a Python process pool's workers) while they live. Any breakdown — a malformed or unexpected
//! line, an early exit, an attempt unanswered past its deadline — is the run's *failure*: the
//! program is killed, every attempt it held is answered with a lost outcome at once, and the
//! outcomes already received stay in the report.

use std::{
    collections::{HashMap, HashSet},
    fs::File,
    io::{self, BufRead, BufReader, Read, Write},
    os::unix::{fs::FileExt, process::CommandExt},
    path::PathBuf,
    process::{Child, ChildStdout, Command, Stdio},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use crawlbench_core::{
    AsyncHttp, CrawlJob, ErrorKind, FetchError, RawResponse,
    child::ReadyChild,
    resources::{WorkerPeaks, peak_rss_bytes_of},
};
use futures_channel::oneshot;
use url::Url;

use crate::protocol::{self, Reply};

/// How long a program may take to print its `hello` (an interpreter importing its libraries on
/// a busy machine).
pub(crate) const HELLO_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a program may take to exit once its input closes (a process pool joining its
/// workers) before it is killed.
pub(crate) const EXIT_GRACE: Duration = Duration::from_secs(10);
/// How often the peak RSS of the program's processes is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// How much of the program's stderr a failure quotes.
const STDERR_TAIL: u64 = 2_000;

/// The highest peak RSS seen per process.
type PeaksByPid = HashMap<u32, u64>;

type ReplyTx = oneshot::Sender<Result<RawResponse, FetchError>>;

/// What the reader thread, the attempts and the end of the run share.
struct State {
    next_id: u64,
    pending: HashMap<u64, ReplyTx>,
    failure: Option<String>,
    /// The harness closed the program's input: an exit from now on is expected.
    finishing: bool,
    /// The program has been (or is being) reaped: its pid may no longer be ours to signal.
    reaped: bool,
    pid: u32,
}

struct Shared(Mutex<State>);

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the run's first failure, kills the program, and answers every attempt it held.
    fn fail(&self, why: String) {
        let mut s = self.lock();
        if s.failure.is_none() {
            if !s.reaped {
                kill_group(s.pid);
            }
            s.failure = Some(why);
        }
        let lost = lost(s.failure.as_deref().unwrap_or_default());
        for (_, tx) in s.pending.drain() {
            let _ = tx.send(Err(lost.clone()));
        }
    }

    fn deliver(&self, reply: Reply, line: u64) {
        let tx = self.lock().pending.remove(&reply.id);
        match tx {
            Some(tx) => {
                let _ = tx.send(reply.result);
            }
            None => self.fail(format!(
                "line {line} of its output answers attempt {}, which is not outstanding (never \
                 sent, or answered already)",
                reply.id
            )),
        }
    }
}

/// The error every attempt gets once the program has failed: not retryable, so the URL's
/// outcome is settled at once.
fn lost(why: &str) -> FetchError {
    FetchError::new(
        ErrorKind::Other,
        format!("lost: the external program failed: {why}"),
    )
}

/// SIGKILL to the program's process group (it and the processes it started).
fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: plain syscalls; the pid is our unreaped child's, so its group is still its own.
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// A running program.
pub(crate) struct Session {
    child: Child,
    shared: Arc<Shared>,
    lines: Option<mpsc::Sender<Vec<u8>>>,
    writer: Option<JoinHandle<()>>,
    reader: Option<JoinHandle<()>>,
    sampler: Option<(Arc<AtomicBool>, JoinHandle<PeaksByPid>)>,
    stderr: File,
    /// The runtime and client the program announced.
    pub(crate) announced: (Option<String>, Option<String>),
    deadline: Duration,
    bytes_in: Arc<AtomicU64>,
}

/// How a session ended.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The run's failure, with the program's exit status and the tail of its stderr.
    pub(crate) failure: Option<String>,
    /// Peak RSS of every process of the program that was seen alive.
    pub(crate) peaks: WorkerPeaks,
    /// Bytes of protocol output read from the program.
    pub(crate) bytes_in: u64,
}

impl Session {
    /// Starts `command`, reads its `hello` (version checked) and sends it `job`'s parameters.
    pub(crate) fn start(mut command: Command, job: &CrawlJob) -> Result<Self, String> {
        let stderr =
            stderr_file().map_err(|e| format!("cannot make a file for its stderr: {e}"))?;
        command
            .stderr(Stdio::from(
                stderr
                    .try_clone()
                    .map_err(|e| format!("cannot share its stderr file: {e}"))?,
            ))
            .process_group(0);
        let what = "the external program";
        let started = ReadyChild::spawn(command, what, HELLO_TIMEOUT)
            .map_err(|e| with_stderr(e.to_string(), &stderr))?;
        let ReadyChild {
            mut child,
            stdin,
            stdout,
            ready_line,
        } = started;
        let announced = match protocol::parse_hello(&ready_line) {
            Ok(announced) => announced,
            Err(why) => {
                kill_group(child.id());
                let _ = child.wait();
                return Err(with_stderr(why, &stderr));
            }
        };
        let pid = child.id();
        let shared = Arc::new(Shared(Mutex::new(State {
            next_id: 0,
            pending: HashMap::new(),
            failure: None,
            finishing: false,
            reaped: false,
            pid,
        })));
        let (lines, queued) = mpsc::channel::<Vec<u8>>();
        lines
            .send(protocol::job_line(job))
            .expect("the receiver is alive");
        let mut stdin = stdin.expect("stdin is piped");
        let writer_shared = Arc::clone(&shared);
        let writer = thread::spawn(move || {
            // A burst of attempts goes out in one write; the pipe closes when the sender drops.
            let mut out = io::BufWriter::with_capacity(64 * 1024, &mut stdin);
            while let Ok(line) = queued.recv() {
                let mut result = out.write_all(&line);
                while result.is_ok()
                    && let Ok(more) = queued.try_recv()
                {
                    result = out.write_all(&more);
                }
                if let Err(e) = result.and_then(|()| out.flush()) {
                    let finishing = writer_shared.lock().finishing;
                    if !finishing {
                        writer_shared.fail(format!("cannot write to its input: {e}"));
                    }
                    return;
                }
            }
        });
        let bytes_in = Arc::new(AtomicU64::new(0));
        let reader = {
            let shared = Arc::clone(&shared);
            let bytes_in = Arc::clone(&bytes_in);
            let limit = line_limit(job);
            thread::spawn(move || read_replies(stdout, &shared, limit, &bytes_in))
        };
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || sample_peaks(pid, &stop))
        };
        Ok(Self {
            child,
            shared,
            lines: Some(lines),
            writer: Some(writer),
            reader: Some(reader),
            sampler: Some((stop, sampler)),
            stderr,
            announced,
            deadline: attempt_deadline(job),
            bytes_in,
        })
    }

    /// The client the crawl loop fetches through.
    pub(crate) fn client(&self) -> PipeClient {
        PipeClient {
            shared: Arc::clone(&self.shared),
            lines: self.lines.clone().expect("the session is running"),
            deadline: self.deadline,
        }
    }

    /// Closes the program's input, waits (at most [`EXIT_GRACE`]) for it to exit, reaps it and
    /// says how the run ended. Call it after every client is dropped.
    pub(crate) fn finish(mut self) -> Finished {
        self.shared.lock().finishing = true;
        self.lines = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        let waited = Instant::now();
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if waited.elapsed() < EXIT_GRACE => {
                    thread::sleep(Duration::from_millis(5));
                }
                Ok(None) => {
                    self.shared.fail(format!(
                        "it did not exit within {EXIT_GRACE:?} of its input closing; killed it"
                    ));
                    break self.child.wait().ok();
                }
                Err(e) => {
                    self.shared.fail(format!("cannot wait for it: {e}"));
                    break None;
                }
            }
        };
        // Reaped: never signal the pid again — but a process it started and left running
        // still holds the output pipe; its group goes (the group id stays reserved while any
        // member lives).
        {
            let mut s = self.shared.lock();
            s.reaped = true;
            if let Ok(pgid) = libc::pid_t::try_from(s.pid) {
                // SAFETY: a plain syscall on a group only our child created.
                unsafe { libc::killpg(pgid, libc::SIGKILL) };
            }
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let mut peaks = WorkerPeaks::default();
        if let Some((stop, sampler)) = self.sampler.take() {
            stop.store(true, Ordering::Relaxed);
            if let Ok(seen) = sampler.join() {
                for peak in seen.into_values() {
                    peaks.add(peak);
                }
            }
        }
        let mut failure = self.shared.lock().failure.take();
        if failure.is_none()
            && let Some(status) = status
            && !status.success()
        {
            failure = Some(format!("it exited with {status} after its input closed"));
        }
        let failure = failure.map(|why| {
            let why = match status {
                Some(status) if !why.contains("exited with") => format!("{why} ({status})"),
                _ => why,
            };
            with_stderr(why, &self.stderr)
        });
        Finished {
            failure,
            peaks,
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Only on an early return (finish() takes the threads): never leave the program behind.
        if self.writer.is_some() {
            self.lines = None;
            kill_group(self.child.id());
            let _ = self.child.wait();
        }
    }
}

/// The longest a reply may take: twice the job's attempt timeout plus 10 s. A program enforces
/// the timeout itself; this only catches one that stopped answering (hung, stopped, deadlocked),
/// with room for a pool that is still starting its workers on a busy machine.
pub(crate) fn attempt_deadline(job: &CrawlJob) -> Duration {
    job.timeout() * 2 + Duration::from_secs(10)
}

/// The longest line accepted: the body cap in base64 plus room for the rest of the message.
fn line_limit(job: &CrawlJob) -> u64 {
    job.max_body_bytes().saturating_mul(4) / 3 + 64 * 1024
}

/// The reader thread: every line after `hello` is a reply; the first bad one fails the run.
fn read_replies(stdout: BufReader<ChildStdout>, shared: &Shared, limit: u64, bytes: &AtomicU64) {
    let mut stdout = stdout;
    let mut line = Vec::with_capacity(8 * 1024);
    let mut number = 1u64; // the hello was line 1
    loop {
        line.clear();
        let read = (&mut stdout).take(limit + 1).read_until(b'\n', &mut line);
        number += 1;
        match read {
            Err(e) => return shared.fail(format!("cannot read its output: {e}")),
            Ok(0) => {
                let s = shared.lock();
                let early = !s.finishing || !s.pending.is_empty();
                let held = s.pending.len();
                drop(s);
                if early {
                    shared.fail(format!(
                        "it closed its output (exited?) before the harness closed its input, \
                         holding {held} attempts"
                    ));
                }
                return;
            }
            Ok(n) => {
                bytes.fetch_add(n as u64, Ordering::Relaxed);
                if line.last() != Some(&b'\n') {
                    let why = if n as u64 > limit {
                        format!("line {number} of its output is longer than {limit} bytes")
                    } else {
                        format!("line {number} of its output ends without a newline")
                    };
                    return shared.fail(why);
                }
                let text = match std::str::from_utf8(&line) {
                    Ok(text) => text.trim_end(),
                    Err(e) => {
                        return shared
                            .fail(format!("line {number} of its output is not UTF-8 ({e})"));
                    }
                };
                match protocol::parse_reply(number, text) {
                    Ok(reply) => shared.deliver(reply, number),
                    Err(why) => return shared.fail(why),
                }
            }
        }
    }
}

/// The sampler thread: the peak RSS of `root` and its descendants, by pid, until `stop`.
fn sample_peaks(root: u32, stop: &AtomicBool) -> PeaksByPid {
    let mut peaks = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let mut seen = HashSet::new();
        let mut todo = vec![root];
        while let Some(pid) = todo.pop() {
            if !seen.insert(pid) {
                continue;
            }
            if let Some(peak) = peak_rss_bytes_of(pid) {
                let best = peaks.entry(pid).or_insert(0);
                *best = peak.max(*best);
            }
            todo.extend(children_of(pid));
        }
        thread::sleep(SAMPLE_EVERY);
    }
    peaks
}

/// The children of every thread of `pid` (`/proc/<pid>/task/<tid>/children`).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// An unlinked file for the program's stderr, opened for appending (the program writes at its
/// end whatever the offset; the harness reads with `pread`).
fn stderr_file() -> io::Result<File> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path: PathBuf = std::env::temp_dir().join(format!(
        "crawlbench-external-{}-{}.stderr",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::OpenOptions::new()
        .create_new(true)
        .read(true)
        .append(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// `why`, followed by the last lines the program wrote to stderr, if any.
fn with_stderr(why: String, stderr: &File) -> String {
    let len = stderr.metadata().map_or(0, |m| m.len());
    if len == 0 {
        return why;
    }
    let from = len.saturating_sub(STDERR_TAIL);
    let mut tail = vec![0; (len - from) as usize];
    if stderr.read_exact_at(&mut tail, from).is_err() {
        return why;
    }
    let text = String::from_utf8_lossy(&tail);
    let text = text.trim();
    format!(
        "{why}; its stderr{}: {text}",
        if from > 0 { " ends" } else { "" }
    )
}

/// The crawl loop's client: one attempt is one `get` line and one reply.
#[derive(Clone)]
pub(crate) struct PipeClient {
    shared: Arc<Shared>,
    lines: mpsc::Sender<Vec<u8>>,
    deadline: Duration,
}

impl AsyncHttp for PipeClient {
    fn get(&self, url: &Url) -> impl Future<Output = Result<RawResponse, FetchError>> + Send {
        let (tx, rx) = oneshot::channel();
        let sent = {
            let mut s = self.shared.lock();
            match &s.failure {
                Some(why) => Err(lost(why)),
                None => {
                    let id = s.next_id;
                    s.next_id += 1;
                    s.pending.insert(id, tx);
                    Ok(id)
                }
            }
        };
        if let Ok(id) = sent
            && self
                .lines
                .send(protocol::get_line(id, url.as_str()))
                .is_err()
        {
            self.shared.fail("its input closed".into());
        }
        let shared = Arc::clone(&self.shared);
        let deadline = self.deadline;
        let url = url.clone();
        async move {
            let id = sent?;
            let timer = futures_timer::Delay::new(deadline);
            match futures_util::future::select(rx, std::pin::pin!(timer)).await {
                futures_util::future::Either::Left((Ok(result), _)) => result,
                futures_util::future::Either::Left((Err(_), _)) => {
                    Err(lost(shared.lock().failure.as_deref().unwrap_or("no reply")))
                }
                futures_util::future::Either::Right(_) => {
                    shared.fail(format!(
                        "no reply to attempt {id} ({url}) within {deadline:?} (twice the job's \
                         timeout plus 10 s): it is hung; killed it"
                    ));
                    Err(lost(shared.lock().failure.as_deref().unwrap_or_default()))
                }
            }
        }
    }
}
