//! One run of an external program: start it, hand it the job, carry attempts to it and replies
//! back, and end it — boundedly, whatever it does.
//!
//! The program is a child in its own process group. The crawl loop, the writes of `get` lines
//! and the reads of replies all run on the run's one thread, on async-io's reactor over the two
//! pipes (non-blocking on our side): a reply is read, parsed ([`crate::protocol::parse_reply`])
//! and handed to its attempt without a thread hop, and a program that stops reading only stalls
//! the writer future, never the loop. (With a reader and a writer thread, two wake-ups per
//! attempt cost the harness ~30 µs per request against a program that answers one line at a
//! time — a sixth of what aiohttp spends — and would have been charged to the program.) Its
//! stderr goes to an unlinked file whose tail explains a crash, and a sampler thread records the
//! peak RSS of it and every process it starts (a Python process pool's workers) while they
//! live. Any breakdown — a malformed or unexpected
//! line, an early exit, an attempt unanswered past its deadline — is the run's *failure*: the
//! program is killed, every attempt it held is answered with a lost outcome at once, and the
//! outcomes already received stay in the report.

use std::{
    collections::{HashMap, HashSet},
    fs::File,
    io,
    os::unix::{fs::FileExt, process::CommandExt},
    path::PathBuf,
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use async_io::{Async, Timer};
use crawlbench_core::{
    AsyncHttp, CrawlJob, ErrorKind, FetchError, RawResponse,
    child::ReadyChild,
    driver::{Driven, drive},
    fetch::fetch_async,
    resources::{WorkerPeaks, peak_rss_bytes_of},
};
use futures_channel::{mpsc, oneshot};
use futures_util::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _, future};
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

    /// Hands `reply` to its attempt; a reply to no outstanding attempt is an error.
    fn deliver(&self, reply: Reply, line: u64) -> Result<(), String> {
        let tx = self.lock().pending.remove(&reply.id);
        match tx {
            Some(tx) => {
                let _ = tx.send(reply.result);
                Ok(())
            }
            None => Err(format!(
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
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    /// Output read past the `hello` line while waiting for it.
    read_ahead: Vec<u8>,
    sampler: Option<(Arc<AtomicBool>, JoinHandle<PeaksByPid>)>,
    stderr: File,
    /// The runtime and client the program announced.
    pub(crate) announced: (Option<String>, Option<String>),
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
    /// Starts `command` and reads its `hello` (version checked); [`Session::run`] sends the job.
    pub(crate) fn start(mut command: Command) -> Result<Self, String> {
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
        let read_ahead = stdout.buffer().to_vec();
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || sample_peaks(pid, &stop))
        };
        Ok(Self {
            child,
            shared,
            stdin,
            stdout: Some(stdout.into_inner()),
            read_ahead,
            sampler: Some((stop, sampler)),
            stderr,
            announced,
        })
    }

    /// Runs `job` through the program — the crawl loop and both pipes on this thread — then
    /// closes its input, waits (at most [`EXIT_GRACE`]) for it to exit, reaps it, and says how
    /// the run ended.
    pub(crate) fn run(mut self, job: &CrawlJob) -> (Driven, Finished) {
        let bytes_in = AtomicU64::new(0);
        let io = (self.stdin.take(), self.stdout.take());
        let driven = match io {
            (Some(stdin), Some(stdout)) => match (Async::new(stdin), Async::new(stdout)) {
                (Ok(stdin), Ok(stdout)) => {
                    let read_ahead = std::mem::take(&mut self.read_ahead);
                    async_io::block_on(self.converse(job, stdin, stdout, read_ahead, &bytes_in))
                }
                (Err(e), _) | (_, Err(e)) => {
                    self.shared.fail(format!("cannot poll its pipes: {e}"));
                    Driven::default()
                }
            },
            _ => unreachable!("stdin and stdout are piped and taken once"),
        };
        let finished = self.finish(bytes_in.load(Ordering::Relaxed));
        (driven, finished)
    }

    /// The crawl loop, the writer of `get` lines and the reader of replies, together; after the
    /// loop ends, the program's input closes and its output is read to the end, boundedly.
    async fn converse(
        &self,
        job: &CrawlJob,
        stdin: Async<ChildStdin>,
        stdout: Async<ChildStdout>,
        read_ahead: Vec<u8>,
        bytes_in: &AtomicU64,
    ) -> Driven {
        let (lines, queued) = mpsc::unbounded::<Vec<u8>>();
        let _ = lines.unbounded_send(protocol::job_line(job));
        let client = PipeClient {
            shared: Arc::clone(&self.shared),
            lines,
            deadline: attempt_deadline(job),
        };
        let limit = line_limit(job);
        let io = future::join(
            write_lines(stdin, queued, &self.shared),
            read_replies(stdout, read_ahead, &self.shared, limit, bytes_in),
        );
        let mut io = std::pin::pin!(io);
        let crawl = async {
            let driven = drive(job, |url| fetch_async(&client, job, url)).await;
            // The last sender: the writer finishes, and the program's stdin closes.
            drop(client);
            self.shared.lock().finishing = true;
            driven
        };
        // The pipes may close first: a program that crashed ends both the reader (EOF) and the
        // writer (EPIPE), and the loop then settles what it held as lost.
        let (driven, io_open) = match future::select(std::pin::pin!(crawl), io.as_mut()).await {
            future::Either::Left((driven, _)) => (driven, true),
            future::Either::Right((_, crawl)) => (crawl.await, false),
        };
        let grace = std::pin::pin!(Timer::after(EXIT_GRACE));
        if io_open && let future::Either::Right(_) = future::select(io, grace).await {
            self.shared.fail(format!(
                "it did not close its output within {EXIT_GRACE:?} of its input closing; \
                 killed it"
            ));
        }
        driven
    }

    /// Waits (at most [`EXIT_GRACE`]) for the program to exit, reaps it and says how the run
    /// ended.
    fn finish(&mut self, bytes_in: u64) -> Finished {
        self.shared.lock().finishing = true;
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
            bytes_in,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Only when `run` never reaped it: never leave the program behind.
        if !self.shared.lock().reaped {
            kill_group(self.child.id());
            let _ = self.child.wait();
        }
        if let Some((stop, sampler)) = self.sampler.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = sampler.join();
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

/// Writes the queued `get` lines, a burst in one write, until every sender is gone (then the
/// pipe closes: the program's end of input).
async fn write_lines(
    mut stdin: Async<ChildStdin>,
    mut queued: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: &Shared,
) {
    let mut batch = Vec::with_capacity(64 * 1024);
    while let Some(line) = queued.next().await {
        batch.clear();
        batch.extend_from_slice(&line);
        while let Ok(more) = queued.try_recv() {
            batch.extend_from_slice(&more);
        }
        if let Err(e) = stdin.write_all(&batch).await {
            if !shared.lock().finishing {
                shared.fail(format!("cannot write to its input: {e}"));
            }
            return;
        }
    }
}

/// Reads the program's output to its end: every line after `hello` is a reply; the first bad
/// one fails the run (and ends the reading: the program is killed).
async fn read_replies(
    mut stdout: Async<ChildStdout>,
    read_ahead: Vec<u8>,
    shared: &Shared,
    limit: u64,
    bytes: &AtomicU64,
) {
    let mut buf = read_ahead;
    let mut start = 0;
    let mut number = 1u64; // the hello was line 1
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        while let Some(end) = buf[start..].iter().position(|&b| b == b'\n') {
            number += 1;
            let line = &buf[start..start + end];
            start += end + 1;
            if let Err(why) = handle_line(shared, number, line) {
                return shared.fail(why);
            }
        }
        if (buf.len() - start) as u64 > limit {
            return shared.fail(format!(
                "line {} of its output is longer than {limit} bytes",
                number + 1
            ));
        }
        buf.drain(..start);
        start = 0;
        match stdout.read(&mut chunk).await {
            Err(e) => return shared.fail(format!("cannot read its output: {e}")),
            Ok(0) => {
                let s = shared.lock();
                let held = s.pending.len();
                let early = !s.finishing || held > 0;
                drop(s);
                if !buf.is_empty() {
                    shared.fail(format!(
                        "line {} of its output ends without a newline",
                        number + 1
                    ));
                } else if early {
                    shared.fail(format!(
                        "it closed its output (exited?) before the harness closed its input, \
                         holding {held} attempts"
                    ));
                }
                return;
            }
            Ok(n) => {
                bytes.fetch_add(n as u64, Ordering::Relaxed);
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// One reply line, delivered to its attempt; why not, for a line that is not one.
fn handle_line(shared: &Shared, number: u64, line: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(line)
        .map_err(|e| format!("line {number} of its output is not UTF-8 ({e})"))?;
    let reply = protocol::parse_reply(number, text.trim_end())?;
    shared.deliver(reply, number)
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
    lines: mpsc::UnboundedSender<Vec<u8>>,
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
                .unbounded_send(protocol::get_line(id, url.as_str()))
                .is_err()
        {
            self.shared.fail("its input closed".into());
        }
        let shared = Arc::clone(&self.shared);
        let deadline = self.deadline;
        let url = url.clone();
        async move {
            let id = sent?;
            let timer = Timer::after(deadline);
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
