//! The one crawl loop every backend runs: keep exactly `concurrency` fetches outstanding, feed
//! finished pages' links to the [`Frontier`], collect outcomes.
//!
//! It is an `async fn` generic over a *dispatch* closure that starts one URL's fetch somewhere —
//! a task on a tokio or smol executor, a thread of a pool, a worker process — and returns a future
//! of its outcome. The loop itself never does IO and needs no particular executor: async backends
//! `block_on` it inside their runtime, the thread pool drives it with `futures-executor`.
//! Bounding concurrency here, and only here, is what makes "at most C in flight" mean the same
//! for every model.

use std::{
    future::Future,
    sync::{Arc, Mutex, mpsc},
    thread,
    time::Instant,
};

use futures_util::{
    FutureExt, StreamExt,
    future::{self, Either},
    stream::FuturesUnordered,
};
use url::Url;

use crate::{
    BackendError, BackendInfo, BlockingHttp, CrawlJob, ErrorKind, FetchOutcome, Frontier,
    fetch::fetch_blocking, frontier::Next,
};

/// What the crawl loop returns to the backend.
#[derive(Debug, Default)]
pub struct Driven {
    /// One outcome per URL attempted, in completion order.
    pub outcomes: Vec<FetchOutcome>,
    /// The most fetches that were outstanding at once.
    pub peak_in_flight: usize,
    /// The run was cancelled: outcomes of fetches still in flight were abandoned.
    pub interrupted: bool,
    /// Backend-specific counters, copied into [`crate::CrawlReport::extra`].
    pub extra: std::collections::BTreeMap<String, f64>,
    /// The peaks of the worker processes the backend started and reaped during the run (none
    /// for single-process backends), copied into [`crate::CrawlReport::resources`].
    pub worker_peaks: crate::resources::WorkerPeaks,
    /// The machinery running the fetches broke down mid-run (an external program crashed, hung
    /// or broke its protocol), in words; copied into [`crate::CrawlReport::failure`]. The
    /// outcomes received before it are kept; the URLs it held are lost outcomes.
    pub failure: Option<String>,
}

/// Runs `job`, starting each URL with `dispatch` and keeping at most `job.concurrency()` of them
/// outstanding (and exactly that many whenever the frontier has enough URLs queued).
pub async fn drive<F, Fut>(job: &CrawlJob, mut dispatch: F) -> Driven
where
    F: FnMut(Url) -> Fut,
    Fut: Future<Output = FetchOutcome>,
{
    let mut frontier = Frontier::new(job);
    let mut ramp = Ramp::new(job);
    let mut in_flight = FuturesUnordered::new();
    let mut driven = Driven {
        // Capped so a huge max_pages does not reserve memory it may never use.
        outcomes: Vec::with_capacity(job.max_urls().min(1 << 20)),
        ..Default::default()
    };
    loop {
        if job.cancel().is_cancelled() {
            driven.interrupted = true;
            break;
        }
        let mut wake_at = None;
        while in_flight.len() < job.concurrency() {
            if let Some(t) = ramp.not_before() {
                wake_at = Some(t);
                break;
            }
            let url = match frontier.next_step() {
                Next::Fetch(url) => url,
                Next::Settled(outcome) => {
                    // Disallowed by robots.txt: an outcome without a request.
                    job.progress().add_one();
                    driven.outcomes.push(*outcome);
                    continue;
                }
                Next::WaitUntil(t) => {
                    wake_at = Some(t);
                    break;
                }
                Next::Idle => break,
            };
            // The clock starts here, before the backend sees the URL, and stops when the outcome
            // is back in this loop: queueing in an executor, a hand-off to a thread pool or a
            // worker process's IPC hops are what the models differ in, so they must count.
            let dispatched = Instant::now();
            ramp.started();
            in_flight.push(dispatch(url).map(move |mut outcome| {
                outcome.latency_us = dispatched.elapsed().as_micros() as u64;
                outcome
            }));
        }
        driven.peak_in_flight = driven.peak_in_flight.max(in_flight.len());
        if in_flight.is_empty() && wake_at.is_none() {
            break;
        }
        // A per-host delay (or the ramp's next start) that ends before any fetch does wakes the
        // loop: a timer thread
        // (futures-timer) rather than a runtime's, so the core stays runtime-free.
        let timer = match wake_at {
            Some(t) => Either::Left(futures_timer::Delay::new(
                t.saturating_duration_since(Instant::now()),
            )),
            None => Either::Right(future::pending::<()>()),
        };
        let next_outcome = std::pin::pin!(async {
            match in_flight.next().await {
                Some(outcome) => Some(outcome),
                None => future::pending().await,
            }
        });
        let timer = std::pin::pin!(timer);
        let cancelled = std::pin::pin!(job.cancel().cancelled());
        let woken = future::select(next_outcome, timer);
        let outcome = match future::select(woken, cancelled).await {
            Either::Left((Either::Left((outcome, _)), _)) => outcome,
            Either::Left((Either::Right(((), _)), _)) => None,
            Either::Right(_) => {
                driven.interrupted = true;
                break;
            }
        };
        if let Some(outcome) = outcome {
            frontier.complete(&outcome);
            job.progress().add_one();
            driven.outcomes.push(outcome);
        }
    }
    driven
}

/// The connection ramp ([`CrawlJob::ramp`]): the first `concurrency` dispatches start no faster
/// than `per_sec` — dispatch k at `k ÷ per_sec` seconds after the first — so 100,000 connects do
/// not arrive at once and overflow the SYN and accept queues. Later dispatches each replace a
/// finished request and are not paced. When the loop wakes late it starts every dispatch whose
/// time has come at once, so a coarse timer costs no throughput.
struct Ramp {
    per_sec: Option<f64>,
    /// Dispatches the ramp still paces.
    limit: usize,
    started: usize,
    first: Option<Instant>,
}

impl Ramp {
    fn new(job: &CrawlJob) -> Self {
        Self {
            per_sec: job.ramp(),
            limit: job.concurrency(),
            started: 0,
            first: None,
        }
    }

    /// When the next dispatch may start, if that is still in the future.
    fn not_before(&self) -> Option<Instant> {
        let per_sec = self.per_sec?;
        let first = self.first?;
        if self.started >= self.limit {
            return None;
        }
        let at = first + std::time::Duration::from_secs_f64(self.started as f64 / per_sec);
        (at > Instant::now()).then_some(at)
    }

    fn started(&mut self) {
        self.first.get_or_insert_with(Instant::now);
        self.started += 1;
    }
}

/// The outcome recorded when the machinery running a fetch lost it (a panicked task or thread,
/// a dead worker that could not be replaced): an error, never a hang or a missing URL.
pub fn lost_outcome(url: Url, why: &str) -> FetchOutcome {
    FetchOutcome::settled(url, ErrorKind::Other, why)
}

/// Runs one URL's fetch so that a panic inside it becomes a [`lost_outcome`] for that URL instead
/// of unwinding through the executor (whose join handle would re-raise it on await). For
/// executors whose tasks propagate panics (async-std, smol); tokio reports them as `JoinError`,
/// which [`settle`] handles.
pub fn guard_panics(
    url: Url,
    fetch: impl Future<Output = FetchOutcome>,
) -> impl Future<Output = FetchOutcome> {
    std::panic::AssertUnwindSafe(fetch)
        .catch_unwind()
        .map(move |r| {
            r.unwrap_or_else(|payload| {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic payload".into());
                lost_outcome(url, &format!("fetch task panicked: {message}"))
            })
        })
}

/// Turns a spawned task's join future (tokio's `JoinHandle`, async-std's, smol's …) into an
/// outcome future: a task that panicked or was cancelled becomes a [`lost_outcome`] for its URL,
/// never a missing URL or a hang.
pub fn settle<E: std::fmt::Display>(
    url: Url,
    task: impl Future<Output = Result<FetchOutcome, E>>,
) -> impl Future<Output = FetchOutcome> {
    task.map(move |r| r.unwrap_or_else(|e| lost_outcome(url, &format!("fetch task failed: {e}"))))
}

type PoolTask = (Url, futures_channel::oneshot::Sender<FetchOutcome>);

/// The most threads [`run_on_thread_pool`] starts. 19,000 threads of 512 KiB stacks is about
/// 9.5 GiB of address space; past that a thread-per-request model is not what anyone should run,
/// and a job asking for more is refused with this limit named.
pub const MAX_POOL_THREADS: usize = 19_000;

/// Runs `job` on a fixed pool of `threads` OS threads, each performing blocking fetches with
/// `client`, one at a time.
///
/// Shared by every thread-per-request backend so they differ only in the client. Threads get a
/// 512 KiB stack (enough for the clients and the tokenizer, small enough for 10,000 threads);
/// when the OS refuses a thread the job fails with the count that could be started instead of
/// silently running at lower concurrency.
pub fn run_on_thread_pool<C: BlockingHttp + 'static>(
    info: &BackendInfo,
    job: &CrawlJob,
    threads: usize,
    client: Arc<C>,
) -> Result<Driven, BackendError> {
    let (task_tx, task_rx) = mpsc::channel::<PoolTask>();
    let task_rx = Arc::new(Mutex::new(task_rx));
    let job_for_threads = Arc::new(job.clone());
    let mut handles = Vec::with_capacity(threads);
    for i in 0..threads {
        let task_rx = Arc::clone(&task_rx);
        let client = Arc::clone(&client);
        let job = Arc::clone(&job_for_threads);
        let spawned = thread::Builder::new()
            .name(format!("fetch-{i}"))
            .stack_size(512 * 1024)
            .spawn(move || {
                loop {
                    // Hold the lock only to take one task.
                    let task = task_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((url, reply))) = task else { return };
                    let _ = reply.send(fetch_blocking(&*client, &job, url));
                }
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                drop(task_tx);
                for h in handles {
                    let _ = h.join();
                }
                return Err(info.setup_error(format!(
                    "the OS refused thread {} of {threads} ({e}); \
                     lower --concurrency or raise the thread limit",
                    i + 1
                )));
            }
        }
    }
    let driven = futures_executor::block_on(drive(job, |url| {
        let (reply_tx, reply_rx) = futures_channel::oneshot::channel();
        let sent = task_tx.send((url.clone(), reply_tx));
        reply_rx.map(move |r| match (sent, r) {
            (Ok(()), Ok(outcome)) => outcome,
            _ => lost_outcome(url, "the fetch thread died (panicked) before reporting"),
        })
    }));
    drop(task_tx);
    for h in handles {
        let _ = h.join();
    }
    Ok(driven)
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        time::Duration,
    };

    use super::*;
    use crate::{FetchError, RawResponse};

    /// A fake client: a tiny site where every page links to the next two, and a gauge of how
    /// many calls run at once.
    struct FakeSite {
        now: AtomicUsize,
        peak: AtomicUsize,
    }
    impl BlockingHttp for FakeSite {
        fn get(&self, url: &Url) -> Result<RawResponse, FetchError> {
            let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(n, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(20));
            self.now.fetch_sub(1, Ordering::SeqCst);
            let i: usize = url
                .path()
                .trim_start_matches("/s/")
                .trim_end_matches(".html")
                .parse()
                .unwrap();
            let body = format!(
                "<a href='{}.html'>a</a><a href='{}.html'>b</a>",
                2 * i + 1,
                2 * i + 2
            );
            Ok(RawResponse {
                status: 200,
                content_type: Some("text/html".into()),
                body: body.into_bytes(),
                ..Default::default()
            })
        }
    }

    fn info() -> BackendInfo {
        BackendInfo {
            name: "test".into(),
            runtime: "std".into(),
            client: "fake".into(),
            model: crate::ConcurrencyModel::Threads,
            threads: "4".into(),
            status: crate::UpstreamStatus::Maintained,
            max_concurrency: None,
            tls: None,
            http: crate::HttpVersion::Http1,
            connection_policies: vec![crate::ConnectionPolicy::Reuse],
        }
    }

    #[test]
    fn the_ramp_paces_the_first_wave_only() {
        // 20 in flight at 200 per second: dispatch k of the first 20 starts no earlier than
        // k × 5 ms after the first; the second wave replaces finished requests at once.
        let urls: Vec<Url> = (0..40)
            .map(|i| Url::parse(&format!("http://127.0.0.1:1/{i}")).unwrap())
            .collect();
        let job = CrawlJob::list(urls)
            .concurrency(20)
            .ramp(200.0)
            .build()
            .unwrap();
        let starts = Mutex::new(Vec::new());
        let begun = Instant::now();
        let driven = futures_executor::block_on(drive(&job, |url| {
            starts.lock().unwrap().push(begun.elapsed());
            async move {
                futures_timer::Delay::new(Duration::from_millis(150)).await;
                FetchOutcome::settled(url, ErrorKind::Other, "not fetched")
            }
        }));
        assert_eq!(driven.outcomes.len(), 40);
        let starts = starts.into_inner().unwrap();
        let first = starts[0];
        for (k, at) in starts.iter().enumerate().take(20) {
            let due = first + Duration::from_millis(5 * k as u64);
            assert!(
                *at >= due,
                "dispatch {k} at {at:?}, due no earlier than {due:?}"
            );
        }
        // The first wave took about 95 ms to start, not 0 (a ramp that did nothing fails here)
        // and not the whole run (generous: a loaded machine wakes late).
        assert!(starts[19] - first >= Duration::from_millis(95));
        assert!(starts[19] - first < Duration::from_secs(5));
        // Unpaced second wave: each starts when a first-wave request ends, ~150 ms after it.
        assert!(starts[20] >= first + Duration::from_millis(150));
    }

    #[test]
    fn a_panicking_fetch_becomes_a_lost_outcome() {
        let url = Url::parse("http://127.0.0.1:1/p").unwrap();
        let outcome =
            futures_executor::block_on(guard_panics(url.clone(), async { panic!("boom") }));
        assert_eq!(outcome.url, url);
        assert_eq!(outcome.outcome, crate::Outcome::Error(ErrorKind::Other));
        assert!(outcome.error_detail.unwrap().contains("boom"));
    }

    #[test]
    fn cancel_stops_the_run_with_a_partial_result() {
        let seed = Url::parse("http://127.0.0.1:1/s/0.html").unwrap();
        let job = CrawlJob::crawl(vec![seed], 10_000)
            .concurrency(2)
            .build()
            .unwrap();
        let site = Arc::new(FakeSite {
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        let cancel = job.cancel().clone();
        let canceller = thread::spawn(move || {
            thread::sleep(Duration::from_millis(150));
            cancel.cancel();
        });
        let started = std::time::Instant::now();
        let driven = run_on_thread_pool(&info(), &job, 2, site).unwrap();
        canceller.join().unwrap();
        assert!(driven.interrupted);
        assert!(!driven.outcomes.is_empty() && driven.outcomes.len() < 10_000);
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn pool_crawls_within_limits() {
        let seed = Url::parse("http://127.0.0.1:1/s/0.html").unwrap();
        let job = CrawlJob::crawl(vec![seed], 40)
            .concurrency(4)
            .build()
            .unwrap();
        let site = Arc::new(FakeSite {
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        let driven = run_on_thread_pool(&info(), &job, 4, Arc::clone(&site)).unwrap();
        assert_eq!(driven.outcomes.len(), 40);
        assert_eq!(driven.peak_in_flight, 4);
        assert_eq!(site.peak.load(Ordering::SeqCst), 4);
        assert_eq!(job.progress().done(), 40);
        let mut urls: Vec<_> = driven
            .outcomes
            .iter()
            .map(|o| o.url.path().to_owned())
            .collect();
        urls.sort();
        urls.dedup();
        assert_eq!(urls.len(), 40);
    }

    #[test]
    fn latency_counts_the_hand_off_not_only_the_service_time() {
        // A backend whose executor picks each fetch up only after 40 ms of queueing: the
        // service time stays small, the dispatch-to-outcome latency must include the wait.
        let seed = Url::parse("http://127.0.0.1:1/s/0.html").unwrap();
        let job = CrawlJob::crawl(vec![seed], 6)
            .concurrency(2)
            .build()
            .unwrap();
        let site = FakeSite {
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        };
        let driven = futures_executor::block_on(drive(&job, |url| {
            let job = job.clone();
            let site = &site;
            async move {
                thread::sleep(Duration::from_millis(40));
                fetch_blocking(site, &job, url)
            }
        }));
        assert_eq!(driven.outcomes.len(), 6);
        for o in &driven.outcomes {
            assert!(o.service_us >= 20_000, "the fake fetch sleeps 20 ms: {o:?}");
            assert!(
                o.latency_us >= o.service_us + 35_000,
                "latency {} µs must include the 40 ms hand-off (service {} µs)",
                o.latency_us,
                o.service_us
            );
        }
    }
}
