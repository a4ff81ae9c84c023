//! The worker process: the same fetch engines as the in-process backends (tokio + reqwest, smol +
//! hyper, or blocking ureq), behind a dispatcher that reads `Fetch` frames from stdin and writes
//! `Outcome` frames (and `Alive` heartbeats) to stdout.
//!
//! Life of a worker: raise its open-file soft limit to the hard limit (each request in flight is
//! a socket); take stdout for the protocol (and point fd 1 at stderr, so a stray `println!` in
//! any dependency cannot corrupt a frame); read the coordinator's `Hello`; on a version mismatch
//! answer with our own `Hello` (so the coordinator can name both versions) and exit; build the
//! engine, or answer `Refused` when that fails; answer `Hello`; then fetch until stdin closes,
//! and exit at once — fetches still in flight are abandoned (the coordinator closes stdin only
//! when it needs no more outcomes), so a dead or cancelled coordinator never leaves workers behind.
//!
//! The engine is built from the job in the `Hello`, so TLS (the job's CA as the only root), the
//! connection policy (`reuse` or `fresh`) and the resolve map (names the job sends to an address
//! of its own) are exactly those of the in-process backends: [`ReqwestClient`] sized to this
//! worker's slots on a current-thread tokio runtime, [`HyperClient`] on one `smol::Executor` run
//! on the main thread, or a [`UreqClient`] for one connection. The async clients connect from
//! the `Hello`'s source address when it names one.
//!
//! **Heartbeats** (`Alive`, every fifth of the job's `worker_watchdog`). In the async engines the
//! event loop itself sends them — a timer polled by the same loop that forwards outcomes — so a
//! loop that is stuck (a blocked thread, a task that never yields) stops heartbeating and the
//! coordinator's watchdog replaces the worker. In blocking mode a fetch may legitimately block
//! for up to timeout × attempts, so a small thread sends them, sharing the output under a mutex
//! (each frame is one `write`, never interleaved): there the heartbeat says the process runs
//! (not SIGSTOPped, not frozen), the fetch's own timeout bounds the rest.

use std::{
    fs::File,
    io::{self, IsTerminal, Write},
    net::IpAddr,
    os::fd::FromRawFd,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use crawlbench_core::{
    CrawlJob, FetchOutcome, HttpVersion,
    driver::guard_panics,
    fetch::{fetch_async, fetch_blocking},
    resources::raise_fd_limit,
};
use crawlbench_smol_hyper::HyperClient;
use crawlbench_threadpool_ureq::UreqClient;
use crawlbench_tokio_reqwest::{ReqwestClient, spawn_fetch};
use futures_channel::mpsc::UnboundedReceiver;
use futures_util::{FutureExt, StreamExt, stream::FuturesUnordered};
use url::Url;

use crate::protocol::{
    FromWorker, Mode, PROTOCOL_VERSION, ToWorker, decode, probe_hello, read_frame, write_frame,
};

/// **Test-only fault injection.** When this environment variable is set on the worker command,
/// the *first incarnation of worker 0* misbehaves on purpose, so tests can check that the
/// coordinator survives it:
/// - `garbage-after:N` — after N outcomes it writes an undecodable frame *instead of* its next
///   outcome (so it holds at least that URL when the coordinator drops it);
/// - `hang-after:N` — after N outcomes its event loop blocks for good *instead of* sending its
///   next outcome (a stuck loop: it holds URLs and sends no more heartbeats);
/// - `wrong-version` — it answers `Hello` with protocol version `PROTOCOL_VERSION + 1000`.
///
/// Any other value makes every worker exit with an error. Never set it outside tests.
pub const FAULT_ENV: &str = "CRAWLBENCH_WORKER_FAULT";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    GarbageAfter(u64),
    HangAfter(u64),
    WrongVersion,
}

impl Fault {
    fn from_env() -> Result<Self, String> {
        let Some(value) = std::env::var_os(FAULT_ENV) else {
            return Ok(Self::None);
        };
        let value = value.to_string_lossy();
        if value == "wrong-version" {
            return Ok(Self::WrongVersion);
        }
        if let Some(n) = value.strip_prefix("garbage-after:")
            && let Ok(n) = n.parse()
        {
            return Ok(Self::GarbageAfter(n));
        }
        if let Some(n) = value.strip_prefix("hang-after:")
            && let Ok(n) = n.parse()
        {
            return Ok(Self::HangAfter(n));
        }
        Err(format!(
            "{FAULT_ENV}={value:?} is not a fault (accepted: garbage-after:N, hang-after:N, \
             wrong-version)"
        ))
    }
}

/// A frame no version of the protocol decodes: a 4-byte payload of an unterminated varint.
const GARBAGE_FRAME: [u8; 8] = [4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];

/// Why a worker stopped early, and its exit code.
#[derive(Debug)]
struct Exit {
    code: i32,
    message: String,
}

impl Exit {
    fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Exit codes: 0 stdin closed (normal), 1 the coordinator's pipe failed, 2 usage, protocol error
/// or refused job, 3 protocol version mismatch.
pub(crate) fn main() -> i32 {
    match run() {
        Ok(()) => 0,
        Err(exit) => {
            eprintln!(
                "crawlbench-worker (pid {}): {}",
                std::process::id(),
                exit.message
            );
            exit.code
        }
    }
}

fn run() -> Result<(), Exit> {
    if io::stdin().is_terminal() {
        return Err(Exit::new(
            2,
            "this is the multiprocess backend's worker; it speaks a binary protocol on \
             stdin/stdout and is started by the coordinator, not by hand",
        ));
    }
    // Every request in flight is a socket: up to the hard limit (the coordinator sized this
    // worker's share to fit under it).
    raise_fd_limit();
    let out = protocol_stdout().map_err(|e| Exit::new(1, format!("cannot set up stdout: {e}")))?;
    let mut input = io::stdin().lock();
    let mut buf = Vec::new();
    match read_frame(&mut input, &mut buf) {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(()),
        Err(e) => return Err(Exit::new(2, format!("bad hello from the coordinator: {e}"))),
    }
    drop(input);
    let mut output = Output {
        out,
        fault: Fault::None,
        sent: 0,
    };
    let their_version = probe_hello(&buf)
        .map_err(|e| Exit::new(2, format!("bad hello from the coordinator: {e}")))?
        .ok_or_else(|| Exit::new(2, "the coordinator's first frame is not a hello"))?;
    if their_version != PROTOCOL_VERSION {
        // Answer anyway, so the coordinator can report both versions.
        let _ = output.hello(PROTOCOL_VERSION);
        return Err(Exit::new(
            3,
            format!(
                "the coordinator speaks protocol version {their_version}, this worker speaks \
                 version {PROTOCOL_VERSION}"
            ),
        ));
    }
    let ToWorker::Hello {
        mode,
        job,
        slots,
        worker,
        incarnation,
        source,
        ..
    } = decode(&buf).map_err(|e| Exit::new(2, format!("bad hello from the coordinator: {e}")))?
    else {
        return Err(Exit::new(2, "the coordinator's first frame is not a hello"));
    };
    let fault = Fault::from_env().map_err(|e| Exit::new(2, e))?;
    if worker == 0 && incarnation == 0 {
        output.fault = fault;
    }
    if let Err(e) = job.validate() {
        return output.refuse(format!("invalid job: {e}"));
    }
    // At least 1 ms: a timer of zero would spin.
    let heartbeat = (job.worker_watchdog() / 5).max(Duration::from_millis(1));
    let job = Arc::new(job);
    let slots = slots as usize;
    match mode {
        Mode::Blocking if slots != 1 => output.refuse(format!(
            "a blocking worker runs one fetch at a time, the coordinator asked for {slots}"
        )),
        Mode::Blocking => serve_blocking(&job, output, heartbeat),
        Mode::AsyncTokio => serve_tokio(job, slots, source, output, heartbeat),
        Mode::AsyncSmol => serve_smol(job, slots, source, output, heartbeat),
    }
}

/// Moves the protocol stream to a private descriptor and points fd 1 at stderr.
fn protocol_stdout() -> io::Result<File> {
    // SAFETY: fcntl/dup2 on this process's own standard descriptors. The duplicate is a fresh
    // descriptor that nothing else owns, so handing it to a File is sound.
    unsafe {
        let fd = libc::fcntl(libc::STDOUT_FILENO, libc::F_DUPFD_CLOEXEC, 3);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) < 0 {
            let err = io::Error::last_os_error();
            libc::close(fd);
            return Err(err);
        }
        Ok(File::from_raw_fd(fd))
    }
}

/// The protocol's output side (unbuffered: one `write` per frame, nothing to flush).
struct Output {
    out: File,
    fault: Fault,
    sent: u64,
}

impl Output {
    fn send(&mut self, msg: &FromWorker) -> Result<(), Exit> {
        write_frame(&mut self.out, msg)
            .map(drop)
            .map_err(|e| Exit::new(1, format!("cannot write to the coordinator: {e}")))
    }

    fn hello(&mut self, version: u32) -> Result<(), Exit> {
        let version = match self.fault {
            Fault::WrongVersion => version + 1000,
            _ => version,
        };
        self.send(&FromWorker::Hello {
            version,
            pid: std::process::id(),
        })
    }

    fn refuse(&mut self, reason: String) -> Result<(), Exit> {
        self.send(&FromWorker::Refused {
            reason: reason.clone(),
        })?;
        Err(Exit::new(2, reason))
    }

    fn alive(&mut self) -> Result<(), Exit> {
        self.send(&FromWorker::Alive)
    }

    fn outcome(&mut self, id: u64, outcome: FetchOutcome) -> Result<(), Exit> {
        let fault = self.fault;
        let sent = self.sent;
        self.sent += 1;
        match fault {
            Fault::GarbageAfter(n) if n == sent => self
                .out
                .write_all(&GARBAGE_FRAME)
                .map_err(|e| Exit::new(1, format!("cannot write to the coordinator: {e}"))),
            Fault::HangAfter(n) if n == sent => loop {
                // Blocks the thread that runs the event loop: nothing else of it runs again.
                std::thread::sleep(Duration::from_secs(3600));
            },
            _ => self.send(&FromWorker::Outcome { id, outcome }),
        }
    }
}

/// The next `Fetch` on stdin; `None` when stdin closed.
fn next_fetch(input: &mut impl io::Read, buf: &mut Vec<u8>) -> Result<Option<(u64, Url)>, Exit> {
    let protocol = |e: String| Exit::new(2, format!("protocol error from the coordinator: {e}"));
    match read_frame(input, buf) {
        Ok(None) => Ok(None),
        Ok(Some(_)) => match decode::<ToWorker>(buf).map_err(|e| protocol(e.to_string()))? {
            ToWorker::Fetch { id, url } => Ok(Some((id, url))),
            ToWorker::Hello { .. } => Err(protocol("a second hello".into())),
        },
        Err(e) => Err(protocol(e.to_string())),
    }
}

/// One blocking ureq fetch at a time: `requests` in a process, like a `ProcessPoolExecutor` task.
/// A heartbeat thread shares the output (a fetch may block for its whole timeout × attempts).
fn serve_blocking(job: &CrawlJob, output: Output, heartbeat: Duration) -> Result<(), Exit> {
    let client = UreqClient::new(job, 1);
    // A panic while holding the lock cannot leave a half-written frame (one write per frame),
    // so a poisoned lock is still usable.
    let output = Arc::new(Mutex::new(output));
    output
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .hello(PROTOCOL_VERSION)?;
    let beat = Arc::clone(&output);
    std::thread::Builder::new()
        .name("heartbeat".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            loop {
                std::thread::sleep(heartbeat);
                let mut out = beat.lock().unwrap_or_else(PoisonError::into_inner);
                if out.alive().is_err() {
                    return;
                }
            }
        })
        .map_err(|e| Exit::new(1, format!("cannot start the heartbeat thread: {e}")))?;
    let mut input = io::stdin().lock();
    let mut buf = Vec::new();
    while let Some((id, url)) = next_fetch(&mut input, &mut buf)? {
        let outcome = fetch_blocking(&client, job, url);
        output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .outcome(id, outcome)?;
    }
    Ok(())
}

/// What the stdin thread hands the event loop: a fetch, or why the input broke.
type Input = Result<(u64, Url), Exit>;

/// Reads `Fetch` frames on a thread of its own, so an event loop never blocks on stdin; the
/// channel ends when stdin closes.
fn stdin_thread() -> Result<UnboundedReceiver<Input>, Exit> {
    let (tx, rx) = futures_channel::mpsc::unbounded::<Input>();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            // Large reads: at 100,000 in flight the coordinator sends fetches in bursts.
            let mut input = io::BufReader::with_capacity(256 * 1024, io::stdin().lock());
            let mut buf = Vec::new();
            loop {
                let next = next_fetch(&mut input, &mut buf).transpose();
                let Some(next) = next else { return };
                let stop = next.is_err();
                if tx.unbounded_send(next).is_err() || stop {
                    return;
                }
            }
        })
        .map_err(|e| Exit::new(1, format!("cannot start the stdin thread: {e}")))?;
    Ok(rx)
}

/// One worker's event loop, whatever the runtime: starts a fetch per `Fetch` (at most `slots` at
/// once), forwards each outcome, and sends a heartbeat whenever `tick` fires — from this loop, so
/// a stuck loop stops heartbeating. Returns when stdin closes (abandoning what is in flight).
async fn event_loop<F>(
    mut input: UnboundedReceiver<Input>,
    output: &mut Output,
    slots: usize,
    mut start: impl FnMut(Url) -> F,
    mut tick: impl FnMut(&mut Context<'_>) -> Poll<()>,
) -> Result<(), Exit>
where
    F: Future<Output = FetchOutcome>,
{
    enum Event<D> {
        Beat,
        Done(D),
        Input(Option<Input>),
    }
    let mut running = FuturesUnordered::new();
    loop {
        let event = std::future::poll_fn(|cx| {
            if tick(cx).is_ready() {
                return Poll::Ready(Event::Beat);
            }
            if let Poll::Ready(Some(done)) = running.poll_next_unpin(cx) {
                return Poll::Ready(Event::Done(done));
            }
            input.poll_next_unpin(cx).map(Event::Input)
        })
        .await;
        match event {
            Event::Beat => output.alive()?,
            Event::Done((id, outcome)) => output.outcome(id, outcome)?,
            Event::Input(Some(Ok((id, url)))) => {
                if running.len() >= slots {
                    return Err(Exit::new(
                        2,
                        format!(
                            "protocol error from the coordinator: more than {slots} fetches \
                             outstanding"
                        ),
                    ));
                }
                running.push(start(url).map(move |outcome| (id, outcome)));
            }
            Event::Input(Some(Err(e))) => return Err(e),
            // Stdin closed: stop now, abandoning whatever is in flight.
            Event::Input(None) => return Ok(()),
        }
    }
}

/// The tokio-reqwest engine on a current-thread runtime: one event loop per process, like an
/// aiomultiprocess worker.
fn serve_tokio(
    job: Arc<CrawlJob>,
    slots: usize,
    source: Option<IpAddr>,
    mut output: Output,
    heartbeat: Duration,
) -> Result<(), Exit> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return output.refuse(format!("cannot build the tokio runtime: {e}")),
    };
    let client = {
        let _entered = runtime.enter();
        match ReqwestClient::with_source_address(&job, HttpVersion::Http1, slots, source) {
            Ok(c) => Arc::new(c),
            Err(e) => return output.refuse(e.to_string()),
        }
    };
    let input = stdin_thread()?;
    output.hello(PROTOCOL_VERSION)?;
    let result = runtime.block_on(async {
        let mut beats =
            tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
        beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let start = |url| spawn_fetch(&client, &job, url);
        let tick = |cx: &mut Context<'_>| beats.poll_tick(cx).map(drop);
        event_loop(input, &mut output, slots, start, tick).await
    });
    runtime.shutdown_background();
    result
}

/// The smol-hyper engine: one `smol::Executor` run on this (the main) thread — the smol
/// counterpart of the tokio worker, with hyper's HTTP/1 connections on smol's reactor.
fn serve_smol(
    job: Arc<CrawlJob>,
    slots: usize,
    source: Option<IpAddr>,
    mut output: Output,
    heartbeat: Duration,
) -> Result<(), Exit> {
    let executor = Arc::new(smol::Executor::new());
    let client = match HyperClient::with_source_address(&job, &executor, source) {
        Ok(c) => Arc::new(c),
        Err(e) => return output.refuse(e.to_string()),
    };
    let input = stdin_thread()?;
    output.hello(PROTOCOL_VERSION)?;
    let mut beats = smol::Timer::interval(heartbeat);
    let start = |url: Url| {
        let (client, job, lost) = (Arc::clone(&client), Arc::clone(&job), url.clone());
        executor.spawn(guard_panics(lost, async move {
            fetch_async(&*client, &job, url).await
        }))
    };
    let tick = |cx: &mut Context<'_>| beats.poll_next_unpin(cx).map(drop);
    // `block_on` from smol lets this thread drive the reactor and timers itself; `run` polls the
    // spawned fetches on this same thread.
    let result = smol::block_on(executor.run(event_loop(input, &mut output, slots, start, tick)));
    drop(client);
    result
}
