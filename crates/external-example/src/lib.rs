//! An external backend written in Rust, as a user would write one in any language: it reads
//! the job and `get` lines on stdin, makes each attempt with its client, and writes one reply
//! line per attempt on stdout (PROTOCOL.md). Its stack is exactly the built-in
//! `tokio-st-reqwest`'s — a tokio current-thread runtime, one task per attempt, the same
//! `ReqwestClient` — so running both on the same job measures what the protocol itself costs
//! (JSON lines, base64 bodies, a pipe each way, a second process), which is the figure that
//! says whether an external backend's numbers can be compared with a linked-in one's.
//!
//! The crawlbench executable runs it as the `external-example` role; `external/ext-tokio-st-
//! reqwest.json` is its manifest.

use std::{borrow::Cow, collections::BTreeMap, sync::Arc};

use base64::Engine as _;
use crawlbench_core::{AsyncHttp, CrawlJob, HttpVersion, ResolveMap};
use crawlbench_external::protocol::{FromProgram, JobMessage, PROTOCOL_VERSION, ToProgram};
use crawlbench_tokio_reqwest::ReqwestClient;
use std::io::Write as _;

use tokio::{io::unix::AsyncFd, sync::mpsc, task::JoinSet};
use url::Url;

/// Runs the program on this process's stdin and stdout; the exit code.
pub fn main() -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("external-example: cannot start tokio: {e}");
            return 1;
        }
    };
    match runtime.block_on(serve()) {
        Ok(()) => 0,
        Err(why) => {
            eprintln!("external-example: {why}");
            1
        }
    }
}

fn line(message: &FromProgram) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).expect("plain data");
    line.push(b'\n');
    line
}

async fn serve() -> Result<(), String> {
    let (out, mut queued) = mpsc::unbounded_channel::<Vec<u8>>();
    // One writer: a burst of replies goes out in one write. A plain blocking write on the
    // runtime's thread, not tokio's `stdout` (which hands every write to its blocking pool, a
    // thread hop per batch): a pipe takes 64 KiB without blocking and the harness drains it.
    let writer = tokio::spawn(async move {
        let mut stdout = std::io::stdout();
        let mut batch = Vec::with_capacity(64 * 1024);
        while let Some(first) = queued.recv().await {
            batch.clear();
            batch.extend_from_slice(&first);
            while let Ok(more) = queued.try_recv() {
                batch.extend_from_slice(&more);
            }
            stdout.write_all(&batch)?;
            stdout.flush()?;
        }
        Ok::<(), std::io::Error>(())
    });
    out.send(line(&FromProgram::Hello {
        protocol: PROTOCOL_VERSION,
        runtime: Some("tokio 1 current-thread, external protocol".into()),
        client: Some("reqwest 0.13".into()),
    }))
    .map_err(|e| e.to_string())?;
    let mut lines = StdinLines::new().map_err(|e| format!("cannot read stdin: {e}"))?;
    let first = lines
        .next_line()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("stdin closed before the job line")?;
    let job = match serde_json::from_str::<ToProgram<'_>>(&first) {
        Ok(ToProgram::Job(job)) => to_crawl_job(job)?,
        _ => return Err(format!("expected the job line, got {first:?}")),
    };
    let client = Arc::new(
        ReqwestClient::new(&job, HttpVersion::Http1, job.concurrency())
            .map_err(|e| e.to_string())?,
    );
    let mut attempts = JoinSet::new();
    while let Some(text) = lines.next_line().await.map_err(|e| e.to_string())? {
        let (id, url) = match serde_json::from_str::<ToProgram<'_>>(&text) {
            Ok(ToProgram::Get { id, url }) => (id, url_of(url)?),
            _ => return Err(format!("expected a get line, got {text:?}")),
        };
        let (client, out) = (Arc::clone(&client), out.clone());
        attempts.spawn(async move {
            let reply = match client.get(&url).await {
                Ok(raw) => FromProgram::Response {
                    id,
                    status: raw.status,
                    location: raw.location,
                    content_type: raw.content_type,
                    body: base64::engine::general_purpose::STANDARD.encode(&raw.body),
                },
                Err(e) => FromProgram::Error {
                    id,
                    kind: e.kind,
                    detail: e.detail,
                    partial_body: e
                        .partial_body
                        .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
                },
            };
            let _ = out.send(line(&reply));
        });
        // Reap finished tasks as we go, so the set stays the size of what is in flight.
        while attempts.try_join_next().is_some() {}
    }
    while attempts.join_next().await.is_some() {}
    drop(out);
    writer
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot write to stdout: {e}"))
}

fn url_of(text: Cow<'_, str>) -> Result<Url, String> {
    Url::parse(&text).map_err(|e| format!("bad URL {text:?}: {e}"))
}

/// The client needs a job; the program gets the job's parameters, not its URLs, so it builds
/// one with a stand-in URL.
fn to_crawl_job(m: JobMessage) -> Result<CrawlJob, String> {
    let stand_in = Url::parse("http://127.0.0.1/").expect("valid");
    let mut resolve = ResolveMap::default();
    let names: BTreeMap<String, String> = m.resolve;
    for (name, addr) in names {
        resolve.insert(
            &name,
            addr.parse()
                .map_err(|e| format!("resolve {name}: bad address {addr:?}: {e}"))?,
        );
    }
    let mut job = CrawlJob::list(vec![stand_in])
        .concurrency(m.concurrency)
        .timeout(std::time::Duration::from_millis(m.timeout_ms))
        .max_body_bytes(m.max_body_bytes)
        .connections(m.connections)
        .user_agent(m.user_agent)
        .resolve(resolve);
    if let Some(pem) = m.trusted_ca_pem {
        job = job.trust_ca_pem(pem);
    }
    job.build().map_err(|e| e.to_string())
}

/// Stdin's lines, read on the runtime's own thread: the pipe is made non-blocking and polled by
/// tokio's reactor. (`tokio::io::stdin` hands every read to its blocking pool — a thread hop per
/// read, which at tens of thousands of attempts a second is most of what this program would
/// cost beyond its client.)
struct StdinLines {
    fd: AsyncFd<std::fs::File>,
    buf: Vec<u8>,
    start: usize,
}

impl StdinLines {
    fn new() -> std::io::Result<Self> {
        use std::os::fd::FromRawFd as _;
        // SAFETY: dup and fcntl on stdin, which this process owns for its whole life; the
        // duplicate is owned by the File from here on.
        let file = unsafe {
            let fd = libc::dup(0);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            std::fs::File::from_raw_fd(fd)
        };
        // SAFETY: the File owns the descriptor and keeps it open, unchanged, as long as the
        // AsyncFd holds it.
        let fd = unsafe { AsyncFd::register_with_interest(file, tokio::io::Interest::READABLE) }
            .map_err(std::io::Error::from)?;
        Ok(Self {
            fd,
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
        })
    }

    /// The next line without its newline, or `None` at the end of input.
    async fn next_line(&mut self) -> std::io::Result<Option<String>> {
        use std::io::Read as _;
        loop {
            if let Some(end) = self.buf[self.start..].iter().position(|&b| b == b'\n') {
                let line = &self.buf[self.start..self.start + end];
                let line = String::from_utf8(line.to_vec())
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                self.start += end + 1;
                return Ok(Some(line));
            }
            self.buf.drain(..self.start);
            self.start = 0;
            let mut guard = self.fd.readable().await?;
            let mut chunk = [0u8; 64 * 1024];
            match guard.try_io(|fd| fd.get_ref().read(&mut chunk)) {
                Ok(Ok(0)) => return Ok(None),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}
