//! The worker: `crawlbench worker --redis redis://HOST:PORT/N [--stack tokio-reqwest|null]`, on
//! any machine that reaches the Redis and the origin (`null` fetches nothing: see [`Stack`]).
//!
//! A worker waits for a run (the coordinator announces it on a pub/sub channel and names it in
//! a key with an expiry), builds the run's client from the job's limits in Redis, joins the run
//! (an id, a lease, a place in its worker set: one script), and then keeps up to `--slots`
//! fetches going: it takes entries from the queue into its `held` hash (one script per batch),
//! blocks on the queue when it is empty, fetches each URL with the core's fetch policy on its
//! stack, and completes each outcome with one script that refuses it if the lease was lost.
//! Heartbeats come from the same event loop that runs the fetches, every fifth of the job's
//! `worker_watchdog` (the lease): a stalled worker stops renewing and is reaped, its URLs go
//! back to the queue. A worker told it was evicted drops what it holds and joins again.
//!
//! When the run ends (its state key says so, or is gone) the worker waits for the next one;
//! `--run ID` makes it serve that run only and exit (the coordinator's local workers), and
//! `--exit-with-stdin` makes it exit when its stdin closes (so a local worker never outlives its
//! coordinator). A lost Redis connection is retried every second, with the reason on stderr;
//! the password in a Redis URL is never printed.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use crawlbench_core::{CrawlJob, ErrorKind, FetchOutcome, HttpVersion, Outcome, resources};
use crawlbench_tokio_reqwest::{ReqwestClient, spawn_fetch};
use futures_util::{FutureExt, StreamExt, stream::FuturesUnordered};
use redis::{AsyncCommands, RedisResult, aio::MultiplexedConnection};
use url::Url;

use crate::{
    connection::{self, RedisTarget},
    keys::{ANNOUNCE, CURRENT, RunKeys},
    scripts::{self, COMPLETE, HEARTBEAT, JOIN, TAKE},
};

/// How long a blocking take waits on an empty queue before the worker checks the run again.
const BLOCK_SECS: f64 = 0.2;

/// The fetch stacks a worker can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// tokio's current-thread runtime with reqwest: one event loop per worker process, as in
    /// `multiprocess-async`.
    TokioReqwest,
    /// No fetch at all: each URL is answered at once with a fixed `200` outcome (no body, no
    /// links) without any network IO — for measuring the store's own ceiling (URLs per second
    /// through Redis). Its runs never verify.
    Null,
}

impl Stack {
    /// Every stack, as `--stack` accepts them.
    pub const ALL: [Stack; 2] = [Stack::TokioReqwest, Stack::Null];

    /// The `--stack` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokioReqwest => "tokio-reqwest",
            Self::Null => "null",
        }
    }

    fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown stack {s:?} (accepted: {})", names.join(", "))
            })
    }
}

/// A worker's command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerArgs {
    /// Where the frontier lives.
    pub redis: RedisTarget,
    /// The fetch stack.
    pub stack: Stack,
    /// The most fetches this worker keeps going (default: its open-file budget; never more than
    /// the run's share per worker).
    pub slots: Option<usize>,
    /// Serve this run only, then exit.
    pub run: Option<String>,
    /// Exit when stdin closes.
    pub exit_with_stdin: bool,
}

/// What `worker` accepts, for error messages.
pub const USAGE: &str = "usage: crawlbench worker --redis redis://[:PASSWORD@]HOST:PORT/DB \
     [--stack tokio-reqwest|null] [--slots N] [--run ID] [--exit-with-stdin]";

impl WorkerArgs {
    /// Parses the arguments after `worker`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut redis = None;
        let mut parsed = Self {
            redis: RedisTarget::parse("redis://127.0.0.1/")?,
            stack: Stack::TokioReqwest,
            slots: None,
            run: None,
            exit_with_stdin: false,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))
            };
            match flag.as_str() {
                "--redis" => redis = Some(RedisTarget::parse(&value()?)?),
                "--stack" => parsed.stack = Stack::parse(&value()?)?,
                "--slots" => {
                    let v = value()?;
                    parsed.slots =
                        Some(v.parse().ok().filter(|&n| n >= 1).ok_or_else(|| {
                            format!("--slots {v:?} (accepted: a whole number ≥ 1)")
                        })?);
                }
                "--run" => parsed.run = Some(value()?),
                "--exit-with-stdin" => parsed.exit_with_stdin = true,
                other => return Err(format!("unexpected argument {other:?}; {USAGE}")),
            }
        }
        parsed.redis = redis.ok_or_else(|| format!("--redis is required; {USAGE}"))?;
        Ok(parsed)
    }

    /// The arguments that [`WorkerArgs::parse`] reads back as `self` (for starting local
    /// workers). The Redis URL travels whole, password included, as an argument of a child
    /// process on this machine only.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--redis".into(),
            self.redis.url().to_owned(),
            "--stack".into(),
            self.stack.as_str().into(),
        ];
        if let Some(n) = self.slots {
            args.extend(["--slots".into(), n.to_string()]);
        }
        if let Some(run) = &self.run {
            args.extend(["--run".into(), run.clone()]);
        }
        if self.exit_with_stdin {
            args.push("--exit-with-stdin".into());
        }
        args
    }
}

/// Runs a worker with these arguments; returns the exit code.
pub fn worker_main(args: WorkerArgs) -> i32 {
    resources::raise_fd_limit();
    if args.exit_with_stdin {
        // The coordinator closing our stdin (or dying) means stop now.
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            std::process::exit(0);
        });
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("crawlbench worker: cannot build the tokio runtime: {e}");
            return 1;
        }
    };
    runtime.block_on(serve(args))
}

/// Why [`serve_run`] returned.
enum RunEnd {
    /// The run is over (or could not be served); wait for the next.
    Over,
    /// The coordinator reaped this worker (its lease expired): join the run again.
    Evicted,
}

async fn serve(args: WorkerArgs) -> i32 {
    let who = format!("crawlbench worker {}", std::process::id());
    let redis = args.redis.redacted();
    let mut last_run = None;
    loop {
        let result: RedisResult<()> = async {
            let (mut conn, blocking) = connection::open_pair(&args.redis).await?;
            if args.run.is_none() {
                eprintln!("{who}: connected to {redis}, stack {}", args.stack.as_str());
            }
            loop {
                let run = match &args.run {
                    Some(run) => run.clone(),
                    None => wait_for_run(&args.redis, &mut conn, last_run.as_deref()).await?,
                };
                match serve_run(&mut conn, &blocking, &run, &args).await? {
                    RunEnd::Evicted => {
                        eprintln!("{who}: lost its lease in run {run}; joining again")
                    }
                    RunEnd::Over if args.run.is_some() => return Ok(()),
                    RunEnd::Over => last_run = Some(run),
                }
            }
        }
        .await;
        match result {
            Ok(()) => return 0,
            Err(e) if args.run.is_some() => {
                eprintln!("{who}: Redis at {redis} failed: {e}");
                return 1;
            }
            Err(e) => {
                eprintln!("{who}: Redis at {redis} failed: {e}; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Waits until a run other than `last` is current, and returns its id.
async fn wait_for_run(
    target: &RedisTarget,
    conn: &mut MultiplexedConnection,
    last: Option<&str>,
) -> RedisResult<String> {
    let mut announcements = connection::client(target)?.get_async_pubsub().await?;
    announcements.subscribe(ANNOUNCE).await?;
    let mut messages = announcements.on_message();
    loop {
        let current: Option<String> = conn.get(CURRENT).await?;
        if let Some(run) = current
            && Some(run.as_str()) != last
        {
            return Ok(run);
        }
        // An announcement, or a second's poll (a run that started before we subscribed).
        let _ = tokio::time::timeout(Duration::from_secs(1), messages.next()).await;
    }
}

type Pending<T> = Pin<Box<dyn Future<Output = T>>>;

async fn serve_run(
    conn: &mut MultiplexedConnection,
    blocking: &MultiplexedConnection,
    run: &str,
    args: &WorkerArgs,
) -> RedisResult<RunEnd> {
    let keys = RunKeys::new(run);
    let job: Option<String> = conn.get(keys.job()).await?;
    let Some(job) = job else {
        return Ok(RunEnd::Over);
    };
    let job = match serde_json::from_str::<CrawlJob>(&job) {
        Ok(job) => Arc::new(job),
        Err(e) => {
            eprintln!("crawlbench worker: run {run}: unreadable job ({e}); skipping the run");
            return Ok(RunEnd::Over);
        }
    };
    let share: Option<usize> = conn.get(keys.share()).await?;
    let slots = args
        .slots
        .unwrap_or_else(|| resources::connection_budget().unwrap_or(19_000))
        .min(share.unwrap_or(job.concurrency()))
        .max(1);
    let client = match args.stack {
        Stack::Null => None,
        Stack::TokioReqwest => match ReqwestClient::new(&job, HttpVersion::Http1, slots) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                eprintln!("crawlbench worker: run {run}: cannot build the client ({e}); skipping");
                return Ok(RunEnd::Over);
            }
        },
    };
    let lease_ms = job.worker_watchdog().as_millis().max(1) as u64;
    let joined: Option<u64> = JOIN
        .key(keys.state())
        .key(keys.next_worker())
        .key(keys.workers())
        .arg(&keys.prefix)
        .arg(lease_ms)
        .invoke_async(conn)
        .await?;
    let Some(w) = joined else {
        // Not running (yet, or any more): look again shortly.
        tokio::time::sleep(Duration::from_millis(100)).await;
        return Ok(RunEnd::Over);
    };

    let mut fetching: FuturesUnordered<Pending<(u64, FetchOutcome)>> = FuturesUnordered::new();
    let mut completing: FuturesUnordered<Pending<RedisResult<i64>>> = FuturesUnordered::new();
    let mut waiting: Option<Pending<RedisResult<Option<String>>>> = None;
    let beat_every = Duration::from_millis((lease_ms / 5).max(1));
    let mut beats = tokio::time::interval_at(tokio::time::Instant::now() + beat_every, beat_every);
    beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut take = true;
    loop {
        let free = slots - fetching.len();
        if take && free > 0 {
            take = false;
            let taken: Option<Vec<String>> = TAKE
                .key(keys.state())
                .key(keys.workers())
                .key(keys.queue())
                .key(keys.landing(w))
                .key(keys.held(w))
                .arg(w)
                .arg(free)
                .invoke_async(conn)
                .await?;
            let Some(taken) = taken else {
                return ended_or_evicted(conn, &keys).await;
            };
            for entry in taken {
                let Some((id, url)) = scripts::parse_entry(&entry) else {
                    continue;
                };
                let Ok(url) = Url::parse(url) else { continue };
                match &client {
                    Some(client) => {
                        let fetch = spawn_fetch(client, &job, url);
                        fetching.push(Box::pin(async move { (id, fetch.await) }));
                    }
                    None => {
                        let outcome = null_outcome(url);
                        fetching.push(Box::pin(async move { (id, outcome) }));
                    }
                }
            }
        }
        if waiting.is_none() && !take && fetching.len() < slots {
            let mut c = blocking.clone();
            let (queue, landing) = (keys.queue(), keys.landing(w));
            waiting = Some(Box::pin(async move {
                redis::cmd("BLMOVE")
                    .arg(queue)
                    .arg(landing)
                    .arg("LEFT")
                    .arg("RIGHT")
                    .arg(BLOCK_SECS)
                    .query_async(&mut c)
                    .await
            }));
        }
        tokio::select! {
            Some(first) = fetching.next() => {
                // Every other fetch already finished completes in the same script, and one take
                // then refills all their slots: a script per outcome and a take per slot would
                // triple the store's commands per URL.
                let mut done = vec![first];
                while let Some(Some(more)) = fetching.next().now_or_never() {
                    done.push(more);
                }
                completing.push(complete(conn.clone(), &keys, w, &done));
                take = true;
            }
            Some(done) = completing.next() => {
                if done? < 0 {
                    return Ok(RunEnd::Over);
                }
            }
            landed = wait_on(&mut waiting) => {
                waiting = None;
                // Something landed, or the wait timed out: either way take (which also tells
                // us when the run is over).
                landed?;
                take = true;
            }
            _ = beats.tick() => {
                let kept: i64 = HEARTBEAT
                    .key(keys.workers())
                    .key(keys.lease(w))
                    .arg(w)
                    .arg(lease_ms)
                    .invoke_async(conn)
                    .await?;
                if kept == 0 {
                    return ended_or_evicted(conn, &keys).await;
                }
            }
        }
    }
}

/// Polls the pending blocking take, or never finishes when there is none.
async fn wait_on<T>(waiting: &mut Option<Pending<T>>) -> T {
    match waiting {
        Some(w) => w.await,
        None => std::future::pending().await,
    }
}

/// After a take or heartbeat was refused: the run is over, or this worker was reaped.
async fn ended_or_evicted(conn: &mut MultiplexedConnection, keys: &RunKeys) -> RedisResult<RunEnd> {
    let state: Option<String> = conn.get(keys.state()).await?;
    Ok(if state.as_deref() == Some("running") {
        RunEnd::Evicted
    } else {
        RunEnd::Over
    })
}

fn complete(
    mut conn: MultiplexedConnection,
    keys: &RunKeys,
    w: u64,
    done: &[(u64, FetchOutcome)],
) -> Pending<RedisResult<i64>> {
    let mut invocation = COMPLETE.prepare_invoke();
    invocation
        .key(keys.state())
        .key(keys.held(w))
        .key(keys.results())
        .key(keys.stale());
    for (id, outcome) in done {
        let record = serde_json::to_string(outcome).expect("an outcome serializes");
        invocation.arg(id).arg(record);
    }
    Box::pin(async move { invocation.invoke_async(&mut conn).await })
}

/// The `null` stack's answer to every URL: a `200` with no body, no links, one attempt, no
/// request made.
fn null_outcome(url: Url) -> FetchOutcome {
    FetchOutcome {
        outcome: Outcome::Status(200),
        error_detail: None,
        attempts: 1,
        ..FetchOutcome::settled(url, ErrorKind::Other, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_null_stack_is_accepted_and_written_back() {
        let args: Vec<String> = ["--redis", "redis://127.0.0.1/", "--stack", "null"]
            .map(String::from)
            .into();
        let parsed = WorkerArgs::parse(&args).expect("valid arguments");
        assert_eq!(parsed.stack, Stack::Null);
        assert_eq!(WorkerArgs::parse(&parsed.to_args()), Ok(parsed));
        let default = WorkerArgs::parse(&args[..2]).expect("valid arguments");
        assert_eq!(
            default.stack,
            Stack::TokioReqwest,
            "tokio-reqwest stays the default"
        );
    }

    #[test]
    fn a_null_outcome_is_a_200_without_a_body() {
        let url: Url = "http://127.0.0.1:9/x".parse().expect("a URL");
        let outcome = null_outcome(url.clone());
        assert_eq!(outcome.outcome, Outcome::Status(200));
        assert_eq!((outcome.url, outcome.final_url), (url.clone(), url));
        assert_eq!((outcome.bytes, outcome.digest), (0, None));
        assert!(outcome.links.is_empty());
    }
}
