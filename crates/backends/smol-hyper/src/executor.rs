//! Running one `smol::Executor` on an explicit number of OS threads, and spawning fetches on it.
//!
//! smol's global executor (`smol::spawn`) starts a single thread unless `SMOL_THREADS` says
//! otherwise — a hidden knob that would make a "multi-thread" row silently single-threaded. So
//! this backend never uses it: [`ExecutorThreads`] runs the backend's own executor on `n - 1`
//! helper threads while the calling thread runs it too (inside `block_on(ex.run(drive(..)))`),
//! and stops and joins every helper when dropped, so a run leaves no thread of ours behind.
//!
//! Every thread blocks with `smol::block_on` (async-io's), not `futures_lite::future::block_on`:
//! async-io's version lets the blocked thread drive the IO reactor and timers itself. With the
//! futures-lite one, all IO readiness would go through async-io's background "async-io" thread,
//! adding a thread hop to every wake-up and making the one-thread flavour not one thread.

use std::{
    future::Future,
    io,
    sync::Arc,
    thread::{self, JoinHandle},
};

use crawlbench_core::{FetchOutcome, driver::guard_panics};
use smol::{Executor, Task, channel};
use url::Url;

/// Helper threads running an executor until dropped.
#[derive(Debug)]
pub(crate) struct ExecutorThreads {
    /// Closing it (dropping the sender) ends every helper's `run`.
    stop: Option<channel::Sender<()>>,
    handles: Vec<JoinHandle<()>>,
}

impl ExecutorThreads {
    /// Starts `helpers` threads, each running `executor` until [`ExecutorThreads`] is dropped.
    /// If the OS refuses a thread, the ones already started are stopped and joined.
    pub(crate) fn start(executor: &Arc<Executor<'static>>, helpers: usize) -> io::Result<Self> {
        let (stop_tx, stop_rx) = channel::bounded::<()>(1);
        let mut threads = Self {
            stop: Some(stop_tx),
            handles: Vec::with_capacity(helpers),
        };
        for i in 0..helpers {
            let executor = Arc::clone(executor);
            let stop_rx = stop_rx.clone();
            // On error `threads` is dropped here, which stops and joins the ones started.
            let handle = thread::Builder::new()
                .name(format!("smol-exec-{}", i + 1))
                .spawn(move || {
                    // `recv` fails once the sender is dropped: that is the shutdown signal.
                    smol::block_on(executor.run(async {
                        let _ = stop_rx.recv().await;
                    }));
                })?;
            threads.handles.push(handle);
        }
        Ok(threads)
    }
}

impl Drop for ExecutorThreads {
    fn drop(&mut self) {
        drop(self.stop.take());
        for handle in self.handles.drain(..) {
            // A helper only panics if the executor itself does; nothing to recover here.
            let _ = handle.join();
        }
    }
}

/// Spawns `fetch` (one URL's fetch to its outcome) as a task on `executor`.
///
/// A panic inside the fetch is caught in the task and becomes [`lost_outcome`] for `url`, so
/// the crawl loop always gets exactly one outcome per URL and never re-panics on `await`.
pub(crate) fn spawn_guarded<F>(
    executor: &Executor<'static>,
    url: Url,
    fetch: F,
) -> Task<FetchOutcome>
where
    F: Future<Output = FetchOutcome> + Send + 'static,
{
    executor.spawn(guard_panics(url, fetch))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crawlbench_core::{ErrorKind, Outcome};

    use super::*;

    #[test]
    fn a_panicking_fetch_becomes_a_lost_outcome() {
        let executor = Arc::new(Executor::new());
        let url = Url::parse("http://127.0.0.1:1/boom").unwrap();
        let task = spawn_guarded(&executor, url.clone(), async { panic!("injected") });
        let outcome = smol::block_on(executor.run(task));
        assert_eq!(outcome.url, url);
        assert_eq!(outcome.outcome, Outcome::Error(ErrorKind::Other));
        let detail = outcome.error_detail.unwrap();
        assert!(detail.contains("injected"), "{detail}");
    }

    #[test]
    fn helpers_run_tasks_and_are_joined_on_drop() {
        let executor = Arc::new(Executor::new());
        let threads = ExecutorThreads::start(&executor, 2).unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        // Tasks spawned but never run by this thread: only the helpers can finish them.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        for _ in 0..8 {
            let (seen, done_tx) = (Arc::clone(&seen), done_tx.clone());
            executor
                .spawn(async move {
                    seen.fetch_add(1, Ordering::SeqCst);
                    let _ = done_tx.send(thread::current().name().map(str::to_owned));
                })
                .detach();
        }
        for _ in 0..8 {
            let name = done_rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("a helper ran the task");
            assert!(name.is_some_and(|n| n.starts_with("smol-exec-")));
        }
        let handles: Vec<_> = threads.handles.iter().map(|h| h.thread().id()).collect();
        assert_eq!(handles.len(), 2);
        drop(threads);
        assert_eq!(seen.load(Ordering::SeqCst), 8);
        // Every helper was joined by the drop: the executor's only owner is this test again.
        assert_eq!(Arc::strong_count(&executor), 1);
    }
}
