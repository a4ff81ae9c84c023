//! The coordinator: the core's crawl loop in this process, its URLs handed to workers through
//! Redis.
//!
//! `drive` decides which URL goes next and keeps exactly `concurrency` outstanding, as for every
//! backend (scope, politeness, robots.txt and the seen-set are the core's frontier here, in one
//! process, so no URL is fetched twice whichever worker found it). Its dispatch appends
//! `"{id} {url}"` to the run's queue; three loops share one current-thread runtime with it:
//! - **enqueue**: every dispatched entry goes out in one `RPUSH` per batch;
//! - **collect**: `BLMPOP` takes up to 1,024 completion records at a time and hands each
//!   outcome to the dispatch future waiting for its id;
//! - **reap**: every fifth of a lease, one script returns the URLs of workers whose lease
//!   expired to the front of the queue, and the run's `current` key is renewed. No worker in
//!   the run for the join timeout while URLs wait fails the run instead of hanging it.
//!
//! Any Redis error ends the run as a *failure* (`Driven::failure`): the outcomes already
//! received stay, the URLs still out become lost outcomes naming the reason.

use std::{
    cell::RefCell,
    collections::HashMap,
    rc::Rc,
    time::{Duration, Instant},
};

use crawlbench_core::{
    CrawlJob, FetchOutcome,
    driver::{Driven, drive, lost_outcome},
};
use futures_channel::oneshot;
use futures_util::FutureExt;
use redis::{AsyncCommands, aio::MultiplexedConnection};
use url::Url;

use crate::{
    connection::{self, RedisTarget, ServerCounters},
    keys::{ANNOUNCE, CURRENT, RunKeys},
    scripts::{self, REAP},
};

/// Records taken from the results list per `BLMPOP`.
const COLLECT_BATCH: usize = 1024;
/// How long one `BLMPOP` blocks (the loop simply blocks again).
const COLLECT_BLOCK_SECS: f64 = 0.5;

/// What a run needs besides the job.
pub(crate) struct RunSetup<'a> {
    /// Where the frontier lives.
    pub redis: &'a RedisTarget,
    /// The run's id (unique per run).
    pub run_id: &'a str,
    /// Requests one worker may hold at once.
    pub(crate) share: usize,
    /// How long the run may have no worker while URLs wait.
    pub join_timeout: Duration,
    /// Called once the run's keys are in place, to start local workers.
    pub on_ready: &'a mut dyn FnMut() -> Result<(), String>,
}

/// Counters of one run, for the report's `extra`.
#[derive(Debug, Default)]
struct Counters {
    requeued: u64,
    workers_reaped: u64,
}

/// State shared by the dispatch closure and the service loops (one thread).
#[derive(Default)]
struct Shared {
    next_id: u64,
    waiting: HashMap<u64, (Url, oneshot::Sender<FetchOutcome>)>,
    outbox: Vec<String>,
    failure: Option<String>,
    counters: Counters,
}

impl Shared {
    /// Ends the run: every URL still out becomes a lost outcome naming `why`.
    fn fail(&mut self, why: String) {
        for (_, (url, tx)) in self.waiting.drain() {
            let _ = tx.send(lost_outcome(url, &why));
        }
        self.outbox.clear();
        self.failure.get_or_insert(why);
    }
}

/// Runs `job` through Redis. Setup errors (no Redis, another run in progress) are `Err`; a
/// breakdown mid-run is the returned `Driven::failure`.
pub(crate) async fn run(job: &CrawlJob, setup: RunSetup<'_>) -> Result<Driven, String> {
    let shown = setup.redis.redacted();
    let (mut conn, blocking) = connection::open_pair(setup.redis)
        .await
        .map_err(|e| format!("cannot reach Redis at {shown}: {e}"))?;
    let keys = RunKeys::new(setup.run_id);
    let lease = job.worker_watchdog();
    let limits = job
        .limits_only()
        .map_err(|e| format!("cannot describe the job to workers: {e}"))?;
    let job_json = serde_json::to_string(&limits).expect("a job serializes");
    claim(
        &mut conn,
        &keys,
        setup.run_id,
        lease,
        &job_json,
        setup.share,
        &shown,
    )
    .await?;
    let before = ServerCounters::read(&mut conn)
        .await
        .map_err(|e| format!("Redis at {shown}: {e}"))?;
    let started = (setup.on_ready)();
    let driven = match started {
        Ok(()) => drive_through_redis(job, &conn, blocking, &keys, setup.join_timeout).await,
        Err(e) => Err(e),
    };
    // Best effort from here: after a Redis failure these fail too, and the failure is already
    // recorded.
    let after = ServerCounters::read(&mut conn).await.ok();
    let joined: Option<u64> = conn.get(keys.next_worker()).await.ok().flatten();
    release(&mut conn, &keys, setup.run_id).await;
    let mut driven = driven?;
    if let Some(after) = after {
        let used = after.since(before);
        driven
            .extra
            .insert("redis_commands".into(), used.commands as f64);
        driven.extra.insert("redis_cpu_secs".into(), used.cpu_secs);
    }
    driven
        .extra
        .insert("workers_joined".into(), joined.unwrap_or(0) as f64);
    Ok(driven)
}

/// Makes this run the current one and publishes its job; refuses while another run holds the
/// Redis.
async fn claim(
    conn: &mut MultiplexedConnection,
    keys: &RunKeys,
    run_id: &str,
    lease: Duration,
    job_json: &str,
    share: usize,
    shown: &str,
) -> Result<(), String> {
    let fail = |e: redis::RedisError| format!("Redis at {shown}: {e}");
    // The run's keys first, then `current`: a worker that finds the run current always finds
    // it running (the other order let a worker see the id before its job, take it for a run
    // already over, and never join it).
    redis::pipe()
        .set(keys.job(), job_json)
        .ignore()
        .set(keys.share(), share)
        .ignore()
        .set(keys.state(), "running")
        .ignore()
        .query_async::<()>(conn)
        .await
        .map_err(fail)?;
    let claimed: Option<String> = redis::cmd("SET")
        .arg(CURRENT)
        .arg(run_id)
        .arg("NX")
        .arg("PX")
        .arg(current_ttl(lease).as_millis() as u64)
        .query_async(conn)
        .await
        .map_err(fail)?;
    if claimed.is_none() {
        let other: Option<String> = conn.get(CURRENT).await.map_err(fail)?;
        let _: redis::RedisResult<()> = conn.del(&[keys.job(), keys.share(), keys.state()]).await;
        return Err(format!(
            "Redis at {shown} is serving another crawlbench run ({}); wait for it to end, or \
             give this run a database of its own (redis://HOST:PORT/N)",
            other.unwrap_or_default()
        ));
    }
    conn.publish::<_, _, ()>(ANNOUNCE, run_id)
        .await
        .map_err(fail)
}

/// How long the `current` key lives without renewal: three leases, so one missed renewal of a
/// busy coordinator does not end the run, and a dead coordinator frees Redis soon.
fn current_ttl(lease: Duration) -> Duration {
    (lease * 3).max(Duration::from_secs(1))
}

/// Marks the run over (workers stop at their next take or heartbeat), frees `current` if it is
/// still ours, and deletes the run's keys.
async fn release(conn: &mut MultiplexedConnection, keys: &RunKeys, run_id: &str) {
    let _: redis::RedisResult<()> = conn.set(keys.state(), "done").await;
    let current: redis::RedisResult<Option<String>> = conn.get(CURRENT).await;
    if current.ok().flatten().as_deref() == Some(run_id) {
        let _: redis::RedisResult<()> = conn.del(CURRENT).await;
    }
    let mut doomed: Vec<String> = Vec::new();
    if let Ok(mut iter) = conn.scan_match::<_, String>(keys.pattern()).await {
        while let Some(Ok(key)) = futures_util::StreamExt::next(&mut iter).await {
            doomed.push(key);
        }
    }
    for chunk in doomed.chunks(512) {
        let _: redis::RedisResult<()> = conn.unlink(chunk).await;
    }
}

async fn drive_through_redis(
    job: &CrawlJob,
    conn: &MultiplexedConnection,
    blocking: MultiplexedConnection,
    keys: &RunKeys,
    join_timeout: Duration,
) -> Result<Driven, String> {
    let shared = Rc::new(RefCell::new(Shared::default()));
    let wake = Rc::new(tokio::sync::Notify::new());
    let dispatch = |url: Url| {
        let mut s = shared.borrow_mut();
        let (tx, rx) = oneshot::channel();
        if let Some(why) = &s.failure {
            let _ = tx.send(lost_outcome(url.clone(), why));
        } else {
            let id = s.next_id;
            s.next_id += 1;
            s.outbox.push(scripts::entry(id, url.as_str()));
            s.waiting.insert(id, (url.clone(), tx));
            wake.notify_one();
        }
        rx.map(move |r| r.unwrap_or_else(|_| lost_outcome(url, "the coordinator dropped it")))
    };
    let service = async {
        let why = serve(
            conn.clone(),
            blocking,
            keys,
            &shared,
            &wake,
            job,
            join_timeout,
        )
        .await;
        shared.borrow_mut().fail(why);
        std::future::pending::<()>().await
    };
    let mut driven = tokio::select! {
        driven = drive(job, dispatch) => driven,
        () = service => unreachable!("the service loops never end by themselves"),
    };
    let s = shared.borrow();
    driven.failure = s.failure.clone();
    let c = &s.counters;
    for (key, value) in [
        ("requeued_after_lost_lease", c.requeued),
        ("workers_reaped", c.workers_reaped),
    ] {
        driven.extra.insert(key.into(), value as f64);
    }
    Ok(driven)
}

/// The enqueue, collect and reap loops; returns only when one fails, with the reason.
async fn serve(
    conn: MultiplexedConnection,
    blocking: MultiplexedConnection,
    keys: &RunKeys,
    shared: &RefCell<Shared>,
    wake: &tokio::sync::Notify,
    job: &CrawlJob,
    join_timeout: Duration,
) -> String {
    let result = tokio::try_join!(
        enqueue(conn.clone(), keys, shared, wake),
        collect(blocking, keys, shared),
        reap(conn, keys, shared, job.worker_watchdog(), join_timeout),
    );
    match result {
        Err(why) => why,
        Ok(_) => unreachable!("the loops end only by failing"),
    }
}

fn gone(e: redis::RedisError) -> String {
    format!("Redis went away mid-run: {e}")
}

/// Sends every dispatched entry to the queue, one `RPUSH` per batch.
async fn enqueue(
    mut conn: MultiplexedConnection,
    keys: &RunKeys,
    shared: &RefCell<Shared>,
    wake: &tokio::sync::Notify,
) -> Result<(), String> {
    loop {
        wake.notified().await;
        let batch = std::mem::take(&mut shared.borrow_mut().outbox);
        if !batch.is_empty() {
            conn.rpush::<_, _, ()>(keys.queue(), &batch)
                .await
                .map_err(gone)?;
        }
    }
}

/// Takes completion records off the results list and delivers them.
async fn collect(
    mut blocking: MultiplexedConnection,
    keys: &RunKeys,
    shared: &RefCell<Shared>,
) -> Result<(), String> {
    loop {
        let popped: Option<(String, Vec<String>)> = redis::cmd("BLMPOP")
            .arg(COLLECT_BLOCK_SECS)
            .arg(1)
            .arg(keys.results())
            .arg("LEFT")
            .arg("COUNT")
            .arg(COLLECT_BATCH)
            .query_async(&mut blocking)
            .await
            .map_err(gone)?;
        for record in popped.map(|(_, r)| r).unwrap_or_default() {
            deliver(shared, &record)?;
        }
    }
}

/// Every fifth of a lease: returns the URLs of workers whose lease expired to the queue, renews
/// the run's `current` key, and fails the run when no worker has been in it for `join_timeout`
/// while URLs wait.
async fn reap(
    mut conn: MultiplexedConnection,
    keys: &RunKeys,
    shared: &RefCell<Shared>,
    lease: Duration,
    join_timeout: Duration,
) -> Result<(), String> {
    let mut ticks = tokio::time::interval((lease / 5).max(Duration::from_millis(10)));
    let mut unattended_since = Some(Instant::now());
    loop {
        ticks.tick().await;
        let (moved, reaped, left): (u64, u64, u64) = REAP
            .key(keys.workers())
            .key(keys.queue())
            .arg(&keys.prefix)
            .invoke_async(&mut conn)
            .await
            .map_err(gone)?;
        let _: () = conn
            .pexpire(CURRENT, current_ttl(lease).as_millis() as i64)
            .await
            .map_err(gone)?;
        let waiting = {
            let mut s = shared.borrow_mut();
            let c = &mut s.counters;
            c.requeued += moved;
            c.workers_reaped += reaped;
            s.waiting.len()
        };
        if left > 0 || waiting == 0 {
            unattended_since = None;
        } else if unattended_since.get_or_insert_with(Instant::now).elapsed() > join_timeout {
            return Err(format!(
                "no worker held a lease for {} s while {waiting} URLs waited; start workers with \
                 `crawlbench worker --redis URL`, or let the coordinator start local ones",
                join_timeout.as_secs()
            ));
        }
    }
}

/// Hands one completion record's outcome to the dispatch future waiting for it.
fn deliver(shared: &RefCell<Shared>, record: &str) -> Result<(), String> {
    let (id, json) = scripts::parse_record(record)
        .ok_or_else(|| format!("a malformed completion record in Redis: {record:.200}"))?;
    let outcome: FetchOutcome = serde_json::from_str(json)
        .map_err(|e| format!("an unreadable outcome in Redis ({e}): {json:.200}"))?;
    // An id nobody waits for cannot happen (completion requires holding the URL, which only
    // one worker does); if it does, it is ignored rather than counted twice.
    if let Some((_, tx)) = shared.borrow_mut().waiting.remove(&id) {
        let _ = tx.send(outcome);
    }
    Ok(())
}
