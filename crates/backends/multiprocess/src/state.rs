//! The coordinator's state machine, pure: which worker slot holds which URL, what happens when a
//! worker answers, dies, breaks the protocol or falls silent, and when the run is over. No
//! processes, threads, pipes or clocks here — the IO layer (`coordinator.rs`) feeds it
//! [`Event`]s, each with the time it happened (`now`, an [`Instant`] the caller read), and
//! performs the [`Action`]s it returns, in order. So every rule below is unit-tested with made-up
//! events and times (this module's tests), and the IO layer only moves bytes and processes.
//!
//! Slots: slot `i` runs one worker process at a time, its *incarnation* `n` (0 first, +1 per
//! restart). A slot is `Starting` (spawned, waiting for its `Hello`), `Ready` (takes up to
//! `capacity` URLs) or `Dead` (killed, or never started again). Events name a slot *and* an
//! incarnation; one from an incarnation that is not the slot's live one is stale and ignored.
//!
//! URLs: [`Event::Dispatch`] gives a URL an id and queues it (`pending`, back). Whenever a
//! `Ready` slot has a free token (one per fetch slot; tokens of dead incarnations are skipped),
//! the front URL is sent ([`Action::Send`]) and recorded as held by that slot. An outcome must
//! name a URL its sender holds (same id, same URL), else the worker is failed; the reply is
//! moved into [`Action::Answer`] and the token returned. Every URL is answered exactly once —
//! [`Action::Answer`] or [`Action::Lose`] takes its reply by value.
//!
//! Failing a worker (EOF, malformed frame, wrong version, stray outcome, failed write, no `Hello`
//! within the handshake timeout, silence past the watchdog): [`Action::Kill`] (kill and reap
//! it), its held URLs go back to the *front* of the queue in id order (their replies stay
//! waiting), and the slot starts its next incarnation ([`Action::Spawn`]). Restarts are bounded
//! (`restart_budget` per run): past it, or for a URL whose workers died `max_deaths_per_url`
//! times, held URLs become [`Action::Lose`]. A slot that fails to start `max_failed_starts`
//! times in a row, a `Refused`, or an initial spawn that fails, fails the run
//! ([`Action::FailRun`], always before the lost answers it causes). With no live slot left,
//! waiting URLs are lost.
//!
//! Watchdog: any frame from a `Ready` worker (outcome, heartbeat) is a sign of life; a `Ready`
//! worker silent for `watchdog` is failed like a dead one at the first [`Event::Tick`] at or
//! past that time. [`Machine::next_deadline`] tells the IO layer when to tick at the latest.
//!
//! Finish: every URL still waiting or held is lost ("the run is shutting down"), every slot is
//! dead, and [`Action::Shutdown`] asks the IO layer to stop and reap every process; later
//! dispatches are lost at once, later outcomes ignored.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    time::{Duration, Instant},
};

use crawlbench_core::FetchOutcome;
use url::Url;

/// A URL's id, unique within a run (the `id` of its `Fetch` frame).
pub(crate) type UrlId = u64;

/// The handle a URL's outcome is delivered to.
pub(crate) trait Reply {
    /// False once nobody waits for the answer any more (the run was cancelled): such a URL is
    /// dropped instead of sent.
    fn is_wanted(&self) -> bool;
}

impl<T> Reply for futures_channel::oneshot::Sender<T> {
    fn is_wanted(&self) -> bool {
        !self.is_canceled()
    }
}

/// The machine's fixed rules.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Fetch slots per worker slot (its share of the concurrency).
    pub(crate) capacities: Vec<usize>,
    /// How long a new worker may take to answer `Hello`.
    pub(crate) handshake_timeout: Duration,
    /// How long a `Ready` worker may stay silent.
    pub(crate) watchdog: Duration,
    /// Worker restarts allowed per run.
    pub(crate) restart_budget: usize,
    /// A slot failing to start this many times in a row fails the run.
    pub(crate) max_failed_starts: u32,
    /// A URL whose worker died this many times is given up.
    pub(crate) max_deaths_per_url: u32,
}

impl Limits {
    /// The run's rules for workers of `capacities` with the given watchdog: a 30 s handshake,
    /// 2·K+4 restarts, 3 failed starts in a row, 3 deaths per URL.
    pub(crate) fn new(capacities: Vec<usize>, watchdog: Duration) -> Self {
        let k = capacities.len();
        Self {
            capacities,
            handshake_timeout: Duration::from_secs(30),
            watchdog,
            restart_budget: 2 * k + 4,
            max_failed_starts: 3,
            max_deaths_per_url: 3,
        }
    }
}

/// What happened.
#[derive(Debug)]
pub(crate) enum Event<R> {
    /// The crawl loop wants `url` fetched; answer on `reply`.
    Dispatch { url: Url, reply: R },
    /// [`Action::Spawn`] failed: the process could not be started.
    SpawnFailed {
        slot: usize,
        incarnation: u32,
        error: String,
    },
    /// The worker answered `Hello` with our protocol version.
    Ready { slot: usize, incarnation: u32 },
    /// The worker reported an outcome.
    Outcome {
        slot: usize,
        incarnation: u32,
        id: UrlId,
        outcome: Box<FetchOutcome>,
    },
    /// The worker cannot run this job at all.
    Refused {
        slot: usize,
        incarnation: u32,
        reason: String,
    },
    /// A heartbeat.
    Alive { slot: usize, incarnation: u32 },
    /// Writing to the worker failed.
    WriteFailed {
        slot: usize,
        incarnation: u32,
        error: String,
    },
    /// The worker's output ended or broke (`malformed`: it sent something wrong).
    Closed {
        slot: usize,
        incarnation: u32,
        why: String,
        malformed: bool,
    },
    /// Time passed: check handshakes and the watchdog.
    Tick,
    /// The crawl loop is done: answer what is left and stop every worker.
    Finish,
}

/// What the IO layer must do, in the order given.
#[derive(Debug)]
pub(crate) enum Action<R> {
    /// Start incarnation `incarnation` of `slot` and send it `Hello`; on failure, report
    /// [`Event::SpawnFailed`].
    Spawn { slot: usize, incarnation: u32 },
    /// Write `Fetch { id, url }` to the slot's live process; on failure, report
    /// [`Event::WriteFailed`].
    Send {
        slot: usize,
        incarnation: u32,
        id: UrlId,
        url: Url,
    },
    /// Kill (SIGKILL) and reap the slot's process, closing its pipes. `note` says why and what
    /// became of its URLs (for the log).
    Kill {
        slot: usize,
        incarnation: u32,
        note: String,
    },
    /// Deliver a worker's outcome.
    Answer {
        reply: R,
        outcome: Box<FetchOutcome>,
    },
    /// Deliver a lost outcome for `url`.
    Lose { reply: R, url: Url, why: String },
    /// The run cannot go on; `run` returns this reason as its error.
    FailRun { reason: String },
    /// The run is over: close every worker's stdin, give them the grace period, kill the rest,
    /// reap all.
    Shutdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotState {
    Starting,
    Ready,
    Dead,
}

#[derive(Debug)]
struct Slot {
    capacity: usize,
    incarnation: u32,
    state: SlotState,
    /// When the current incarnation was spawned (handshake deadline base).
    started: Instant,
    /// The last frame from the current incarnation (watchdog base once `Ready`).
    heard: Instant,
    failed_starts: u32,
    held: HashSet<UrlId>,
}

#[derive(Debug)]
struct Entry<R> {
    url: Url,
    reply: R,
    /// The slot holding it, while a worker has it.
    holder: Option<usize>,
    /// Workers that died holding it.
    deaths: u32,
}

/// The machine's counters (the IO layer adds its own and copies them into the report).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) restarts: usize,
    pub(crate) malformed: usize,
    pub(crate) requeued: usize,
    pub(crate) lost: usize,
    pub(crate) stopped_by_watchdog: usize,
}

/// The coordinator's state (see the module docs).
#[derive(Debug)]
pub(crate) struct Machine<R> {
    limits: Limits,
    slots: Vec<Slot>,
    /// One `(slot, incarnation)` per free fetch slot; stale ones are skipped when taken.
    tokens: VecDeque<(usize, u32)>,
    /// URLs waiting for a free slot (new ones at the back, re-queued ones at the front).
    pending: VecDeque<UrlId>,
    entries: HashMap<UrlId, Entry<R>>,
    next_id: UrlId,
    /// No deadline falls before this (a lower bound, refreshed when a tick scans the slots).
    next_check: Option<Instant>,
    failed: Option<String>,
    finished: bool,
    counters: Counters,
}

impl<R: Reply> Machine<R> {
    /// A machine with every slot dead; [`Machine::start`] spawns them.
    pub(crate) fn new(limits: Limits, now: Instant) -> Self {
        let slots = limits
            .capacities
            .iter()
            .map(|&capacity| Slot {
                capacity,
                incarnation: 0,
                state: SlotState::Dead,
                started: now,
                heard: now,
                failed_starts: 0,
                held: HashSet::new(),
            })
            .collect();
        Self {
            limits,
            slots,
            tokens: VecDeque::new(),
            pending: VecDeque::new(),
            entries: HashMap::new(),
            next_id: 0,
            next_check: None,
            failed: None,
            finished: false,
            counters: Counters::default(),
        }
    }

    /// Spawns incarnation 0 of every slot.
    pub(crate) fn start(&mut self, now: Instant) -> Vec<Action<R>> {
        let mut out = Vec::new();
        for slot in 0..self.slots.len() {
            self.spawn(slot, 0, now, &mut out);
        }
        out
    }

    /// Handles one event at time `now`; returns what to do.
    pub(crate) fn handle(&mut self, event: Event<R>, now: Instant) -> Vec<Action<R>> {
        let mut out = Vec::new();
        self.step(event, now, &mut out);
        if !self.finished {
            self.pump(&mut out);
        }
        out
    }

    /// The latest time the IO layer should send [`Event::Tick`] (`None`: nothing to watch).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.next_check
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Why the run failed, once it has.
    #[cfg(test)]
    pub(crate) fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// The slot's state and live incarnation.
    #[cfg(test)]
    pub(crate) fn slot(&self, slot: usize) -> (SlotState, u32) {
        let s = &self.slots[slot];
        (s.state, s.incarnation)
    }

    /// URLs waiting for a slot.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> Vec<UrlId> {
        self.pending.iter().copied().collect()
    }

    /// URLs `slot` holds, in id order.
    #[cfg(test)]
    pub(crate) fn held(&self, slot: usize) -> Vec<UrlId> {
        let mut held: Vec<_> = self.slots[slot].held.iter().copied().collect();
        held.sort_unstable();
        held
    }

    fn is_current(&self, slot: usize, incarnation: u32) -> bool {
        self.slots
            .get(slot)
            .is_some_and(|s| s.incarnation == incarnation && s.state != SlotState::Dead)
    }

    /// A frame arrived from a live worker.
    fn heard(&mut self, slot: usize, now: Instant) {
        let s = &mut self.slots[slot];
        s.heard = s.heard.max(now);
    }

    fn lower_deadline(&mut self, at: Instant) {
        self.next_check = Some(self.next_check.map_or(at, |c| c.min(at)));
    }

    fn step(&mut self, event: Event<R>, now: Instant, out: &mut Vec<Action<R>>) {
        match event {
            Event::Dispatch { url, reply } => {
                if self.finished {
                    self.answer_lost(reply, url, "the run is shutting down".into(), out);
                    return;
                }
                if let Some(reason) = self.failed.clone() {
                    self.answer_lost(reply, url, reason, out);
                    return;
                }
                let id = self.next_id;
                self.next_id += 1;
                self.entries.insert(
                    id,
                    Entry {
                        url,
                        reply,
                        holder: None,
                        deaths: 0,
                    },
                );
                self.pending.push_back(id);
            }
            Event::SpawnFailed {
                slot,
                incarnation,
                error,
            } => {
                if !self.is_current(slot, incarnation) {
                    return;
                }
                let s = &mut self.slots[slot];
                s.state = SlotState::Dead;
                if incarnation == 0 {
                    let k = self.slots.len();
                    self.fail_run(
                        format!(
                            "could not start worker process {} of {k}: {error}",
                            slot + 1
                        ),
                        out,
                    );
                }
                // A restart that cannot spawn leaves the slot dead; `pump` loses the waiting
                // URLs once no slot is left.
            }
            Event::Ready { slot, incarnation } => {
                if !self.is_current(slot, incarnation) {
                    return;
                }
                self.heard(slot, now);
                let s = &mut self.slots[slot];
                if s.state == SlotState::Starting {
                    s.state = SlotState::Ready;
                    s.failed_starts = 0;
                    let free = s.capacity - s.held.len();
                    self.tokens
                        .extend(std::iter::repeat_n((slot, incarnation), free));
                    self.interleave_tokens();
                    let deadline = now + self.limits.watchdog;
                    self.lower_deadline(deadline);
                }
            }
            Event::Outcome {
                slot,
                incarnation,
                id,
                outcome,
            } => {
                if !self.is_current(slot, incarnation) {
                    // From a worker already replaced: its URLs were re-queued.
                    return;
                }
                self.heard(slot, now);
                let held = self
                    .entries
                    .get(&id)
                    .is_some_and(|e| e.holder == Some(slot) && e.url == outcome.url)
                    && self.slots[slot].state == SlotState::Ready;
                if held {
                    let entry = self.entries.remove(&id).expect("just looked up");
                    self.slots[slot].held.remove(&id);
                    self.tokens.push_back((slot, incarnation));
                    out.push(Action::Answer {
                        reply: entry.reply,
                        outcome,
                    });
                } else {
                    self.counters.malformed += 1;
                    self.fail_worker(
                        slot,
                        &format!(
                            "reported an outcome (id {id}, {}) for a URL it was not given",
                            outcome.url
                        ),
                        now,
                        out,
                    );
                }
            }
            Event::Refused {
                slot,
                incarnation,
                reason,
            } => {
                if self.is_current(slot, incarnation) {
                    self.fail_run(format!("a worker refused the job: {reason}"), out);
                    self.fail_worker(slot, "refused the job", now, out);
                }
            }
            Event::Alive { slot, incarnation } => {
                if self.is_current(slot, incarnation) {
                    self.heard(slot, now);
                }
            }
            Event::WriteFailed {
                slot,
                incarnation,
                error,
            } => {
                if self.is_current(slot, incarnation) {
                    self.fail_worker(
                        slot,
                        &format!("could not be written to ({error})"),
                        now,
                        out,
                    );
                }
            }
            Event::Closed {
                slot,
                incarnation,
                why,
                malformed,
            } => {
                if self.is_current(slot, incarnation) {
                    if malformed {
                        self.counters.malformed += 1;
                    }
                    self.fail_worker(slot, &why, now, out);
                }
            }
            Event::Tick => self.tick(now, out),
            Event::Finish => self.finish(out),
        }
    }

    /// Fails workers past their handshake deadline or the watchdog, then refreshes the deadline.
    fn tick(&mut self, now: Instant, out: &mut Vec<Action<R>>) {
        if self.finished || self.next_check.is_none_or(|c| now < c) {
            return;
        }
        let (handshake, watchdog) = (self.limits.handshake_timeout, self.limits.watchdog);
        for slot in 0..self.slots.len() {
            let s = &self.slots[slot];
            match s.state {
                SlotState::Starting if now >= s.started + handshake => {
                    self.fail_worker(
                        slot,
                        &format!("did not answer hello within {handshake:?}"),
                        now,
                        out,
                    );
                }
                SlotState::Ready if now >= s.heard + watchdog => {
                    let silent = now.saturating_duration_since(s.heard);
                    self.counters.stopped_by_watchdog += 1;
                    self.fail_worker(
                        slot,
                        &format!(
                            "sent nothing for {silent:?}, past the {watchdog:?} watchdog \
                             (stopped or stuck)"
                        ),
                        now,
                        out,
                    );
                }
                _ => {}
            }
        }
        self.next_check = self
            .slots
            .iter()
            .filter_map(|s| match s.state {
                SlotState::Starting => Some(s.started + handshake),
                SlotState::Ready => Some(s.heard + watchdog),
                SlotState::Dead => None,
            })
            .min();
    }

    fn finish(&mut self, out: &mut Vec<Action<R>>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let mut left: Vec<UrlId> = self.entries.keys().copied().collect();
        left.sort_unstable();
        for id in left {
            self.lose(id, "the run is shutting down".into(), false, out);
        }
        self.pending.clear();
        self.tokens.clear();
        for s in &mut self.slots {
            s.state = SlotState::Dead;
            s.held.clear();
        }
        self.next_check = None;
        out.push(Action::Shutdown);
    }

    fn spawn(&mut self, slot: usize, incarnation: u32, now: Instant, out: &mut Vec<Action<R>>) {
        let s = &mut self.slots[slot];
        s.incarnation = incarnation;
        s.state = SlotState::Starting;
        s.started = now;
        s.heard = now;
        let deadline = now + self.limits.handshake_timeout;
        self.lower_deadline(deadline);
        out.push(Action::Spawn { slot, incarnation });
    }

    /// The run cannot go on (the first reason wins).
    fn fail_run(&mut self, reason: String, out: &mut Vec<Action<R>>) {
        if self.failed.is_none() {
            self.failed = Some(reason.clone());
            out.push(Action::FailRun { reason });
        }
    }

    fn answer_lost(&mut self, reply: R, url: Url, why: String, out: &mut Vec<Action<R>>) {
        out.push(Action::Lose { reply, url, why });
    }

    /// Answers `id` with a lost outcome; `to_deaths`: because of workers dying (counted).
    fn lose(&mut self, id: UrlId, why: String, to_deaths: bool, out: &mut Vec<Action<R>>) {
        if let Some(entry) = self.entries.remove(&id) {
            if to_deaths {
                self.counters.lost += 1;
            }
            self.answer_lost(entry.reply, entry.url, why, out);
        }
    }

    /// `slot`'s worker died, broke the protocol or fell silent: kill it, re-queue the URLs it
    /// held and start a replacement — or, past the restart budget, give those URLs up.
    fn fail_worker(&mut self, slot: usize, why: &str, now: Instant, out: &mut Vec<Action<R>>) {
        let s = &mut self.slots[slot];
        if s.state == SlotState::Dead {
            return;
        }
        let was_starting = s.state == SlotState::Starting;
        let incarnation = s.incarnation;
        s.state = SlotState::Dead;
        if was_starting {
            s.failed_starts += 1;
        }
        let failed_starts = s.failed_starts;
        let mut held: Vec<UrlId> = s.held.drain().collect();
        held.sort_unstable();
        if failed_starts >= self.limits.max_failed_starts {
            self.fail_run(
                format!(
                    "worker {slot} failed to start {failed_starts} times in a row; the last one \
                     {why}"
                ),
                out,
            );
        }
        let budget = self.limits.restart_budget;
        let restart = self.failed.is_none() && self.counters.restarts < budget;
        let note = format!(
            "{why}; {} URLs it held {}; {}",
            held.len(),
            if restart {
                "are re-queued"
            } else {
                "are given up"
            },
            if restart {
                format!(
                    "restarting it ({} of {budget} restarts)",
                    self.counters.restarts + 1
                )
            } else {
                "not restarting it".to_owned()
            }
        );
        out.push(Action::Kill {
            slot,
            incarnation,
            note,
        });
        for id in held.into_iter().rev() {
            let entry = self.entries.get_mut(&id).expect("held URLs have entries");
            entry.holder = None;
            entry.deaths += 1;
            let deaths = entry.deaths;
            if restart && deaths < self.limits.max_deaths_per_url {
                self.pending.push_front(id);
                self.counters.requeued += 1;
            } else if restart {
                self.lose(
                    id,
                    format!("its worker died while fetching it {deaths} times (last: {why})"),
                    true,
                    out,
                );
            } else {
                self.lose(
                    id,
                    format!("its worker died ({why}) and the restart budget of {budget} is spent"),
                    true,
                    out,
                );
            }
        }
        if restart {
            self.counters.restarts += 1;
            self.spawn(slot, incarnation + 1, now, out);
        }
    }

    /// Orders the free tokens round-robin over the workers (dropping stale ones), so a run that
    /// fills up slowly (a crawl from one seed) spreads its first URLs over every worker instead
    /// of filling one worker's share first. O(tokens), once per worker becoming ready.
    fn interleave_tokens(&mut self) {
        let mut per_slot: Vec<VecDeque<(usize, u32)>> = vec![VecDeque::new(); self.slots.len()];
        for (slot, incarnation) in self.tokens.drain(..) {
            let s = &self.slots[slot];
            if s.incarnation == incarnation && s.state == SlotState::Ready {
                per_slot[slot].push_back((slot, incarnation));
            }
        }
        let mut any = true;
        while any {
            any = false;
            for queue in &mut per_slot {
                if let Some(token) = queue.pop_front() {
                    self.tokens.push_back(token);
                    any = true;
                }
            }
        }
    }

    /// Takes a free fetch slot of a ready worker.
    fn take_token(&mut self) -> Option<(usize, u32)> {
        while let Some((slot, incarnation)) = self.tokens.pop_front() {
            let s = &self.slots[slot];
            if s.incarnation == incarnation
                && s.state == SlotState::Ready
                && s.held.len() < s.capacity
            {
                return Some((slot, incarnation));
            }
        }
        None
    }

    /// Sends waiting URLs to free slots; loses them when no worker is left to send them to.
    fn pump(&mut self, out: &mut Vec<Action<R>>) {
        while let Some(&id) = self.pending.front() {
            if !self.entries.get(&id).is_some_and(|e| e.reply.is_wanted()) {
                // Nobody waits for it any more (the run was cancelled).
                self.pending.pop_front();
                self.entries.remove(&id);
                continue;
            }
            let Some((slot, incarnation)) = self.take_token() else {
                break;
            };
            self.pending.pop_front();
            let entry = self.entries.get_mut(&id).expect("looked up above");
            entry.holder = Some(slot);
            self.slots[slot].held.insert(id);
            out.push(Action::Send {
                slot,
                incarnation,
                id,
                url: entry.url.clone(),
            });
        }
        if !self.pending.is_empty() && self.slots.iter().all(|s| s.state == SlotState::Dead) {
            let why = self.failed.clone().unwrap_or_else(|| {
                format!(
                    "every worker died and the restart budget of {} is spent",
                    self.limits.restart_budget
                )
            });
            while let Some(id) = self.pending.pop_front() {
                self.lose(id, why.clone(), true, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use crawlbench_core::driver::lost_outcome;

    use super::*;

    /// A reply handle that says which URL it belongs to.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Tag {
        url: usize,
        wanted: bool,
    }

    impl Reply for Tag {
        fn is_wanted(&self) -> bool {
            self.wanted
        }
    }

    type M = Machine<Tag>;
    type Acts = Vec<Action<Tag>>;

    fn url(i: usize) -> Url {
        Url::parse(&format!("http://127.0.0.1:1/{i}")).unwrap()
    }

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    /// A machine of `capacities` with a 1 s watchdog, started at `t0`; returns its spawn actions.
    fn machine(capacities: &[usize]) -> (M, Instant, Acts) {
        let t0 = Instant::now();
        let mut m = Machine::new(Limits::new(capacities.to_vec(), Duration::from_secs(1)), t0);
        let spawned = m.start(t0);
        (m, t0, spawned)
    }

    fn ready(m: &mut M, slot: usize, incarnation: u32, at: Instant) -> Acts {
        m.handle(Event::Ready { slot, incarnation }, at)
    }

    fn dispatch(m: &mut M, i: usize, at: Instant) -> Acts {
        m.handle(
            Event::Dispatch {
                url: url(i),
                reply: Tag {
                    url: i,
                    wanted: true,
                },
            },
            at,
        )
    }

    fn outcome(m: &mut M, slot: usize, incarnation: u32, id: UrlId, at: Instant) -> Acts {
        let outcome = Box::new(lost_outcome(url(id as usize), "fetched"));
        m.handle(
            Event::Outcome {
                slot,
                incarnation,
                id,
                outcome,
            },
            at,
        )
    }

    fn closed(m: &mut M, slot: usize, incarnation: u32, at: Instant) -> Acts {
        m.handle(
            Event::Closed {
                slot,
                incarnation,
                why: "exited".into(),
                malformed: false,
            },
            at,
        )
    }

    /// `(slot, incarnation, id)` of every `Send`.
    fn sends(actions: &Acts) -> Vec<(usize, u32, UrlId)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send {
                    slot,
                    incarnation,
                    id,
                    url: u,
                } => {
                    assert_eq!(*u, url(*id as usize), "a URL is sent with its own id");
                    Some((*slot, *incarnation, *id))
                }
                _ => None,
            })
            .collect()
    }

    fn spawns(actions: &Acts) -> Vec<(usize, u32)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Spawn { slot, incarnation } => Some((*slot, *incarnation)),
                _ => None,
            })
            .collect()
    }

    fn kills(actions: &Acts) -> Vec<(usize, u32)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Kill {
                    slot, incarnation, ..
                } => Some((*slot, *incarnation)),
                _ => None,
            })
            .collect()
    }

    /// URLs answered with a worker's outcome.
    fn answered(actions: &Acts) -> Vec<usize> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Answer { reply, outcome } => {
                    assert_eq!(outcome.url, url(reply.url), "answered with its own outcome");
                    Some(reply.url)
                }
                _ => None,
            })
            .collect()
    }

    /// URLs answered as lost, with why.
    fn lost(actions: &Acts) -> Vec<(usize, String)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Lose { reply, url: u, why } => {
                    assert_eq!(*u, url(reply.url));
                    Some((reply.url, why.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn failures(actions: &Acts) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::FailRun { reason } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn assignment_respects_capacities() {
        let (mut m, t0, started) = machine(&[2, 1]);
        assert_eq!(spawns(&started), vec![(0, 0), (1, 0)]);
        // Nothing is sent before a worker is ready.
        assert!(sends(&dispatch(&mut m, 0, t0)).is_empty());
        assert_eq!(sends(&ready(&mut m, 0, 0, t0)), vec![(0, 0, 0)]);
        assert_eq!(sends(&ready(&mut m, 1, 0, t0)), vec![]);
        let mut sent = Vec::new();
        for i in 1..6 {
            sent.extend(sends(&dispatch(&mut m, i, t0)));
        }
        assert_eq!(sent, vec![(0, 0, 1), (1, 0, 2)]);
        assert_eq!(m.held(0), vec![0, 1]);
        assert_eq!(m.held(1), vec![2]);
        assert_eq!(m.pending(), vec![3, 4, 5]);
        // An outcome frees exactly one token of that worker.
        let acts = outcome(&mut m, 0, 0, 1, t0);
        assert_eq!(answered(&acts), vec![1]);
        assert_eq!(sends(&acts), vec![(0, 0, 3)]);
        let acts = outcome(&mut m, 1, 0, 2, t0);
        assert_eq!(sends(&acts), vec![(1, 0, 4)]);
        assert_eq!(m.held(0), vec![0, 3]);
        assert_eq!(m.held(1), vec![4]);
        assert_eq!(m.pending(), vec![5]);
    }

    #[test]
    fn an_outcome_from_a_stale_incarnation_is_ignored() {
        let (mut m, t0, _) = machine(&[1]);
        ready(&mut m, 0, 0, t0);
        assert_eq!(sends(&dispatch(&mut m, 0, t0)), vec![(0, 0, 0)]);
        let acts = closed(&mut m, 0, 0, t0);
        assert_eq!(kills(&acts), vec![(0, 0)]);
        assert_eq!(spawns(&acts), vec![(0, 1)]);
        assert_eq!(m.pending(), vec![0]);
        // The old process's outcome (read before it died) arrives late: nothing happens.
        let acts = outcome(&mut m, 0, 0, 0, t0);
        assert!(acts.is_empty(), "{acts:?}");
        assert_eq!(m.counters().malformed, 0);
        // So do its heartbeat, its close and a second ready.
        assert!(
            m.handle(
                Event::Alive {
                    slot: 0,
                    incarnation: 0
                },
                t0
            )
            .is_empty()
        );
        assert!(closed(&mut m, 0, 0, t0).is_empty());
        assert!(ready(&mut m, 0, 0, t0).is_empty());
        // The new incarnation gets the URL and answers it, once.
        assert_eq!(sends(&ready(&mut m, 0, 1, t0)), vec![(0, 1, 0)]);
        assert_eq!(answered(&outcome(&mut m, 0, 1, 0, t0)), vec![0]);
        assert!(
            outcome(&mut m, 0, 1, 0, t0)
                .iter()
                .all(|a| !matches!(a, Action::Answer { .. }))
        );
    }

    #[test]
    fn an_outcome_for_a_url_the_worker_does_not_hold_fails_it() {
        let (mut m, t0, _) = machine(&[1, 1]);
        ready(&mut m, 0, 0, t0);
        ready(&mut m, 1, 0, t0);
        dispatch(&mut m, 0, t0);
        dispatch(&mut m, 1, t0);
        assert_eq!((m.held(0), m.held(1)), (vec![0], vec![1]));
        // Worker 0 reports worker 1's URL.
        let acts = outcome(&mut m, 0, 0, 1, t0);
        assert!(answered(&acts).is_empty());
        assert_eq!(kills(&acts), vec![(0, 0)]);
        assert_eq!(spawns(&acts), vec![(0, 1)]);
        assert_eq!(m.counters().malformed, 1);
        assert_eq!(m.pending(), vec![0]);
        assert_eq!(m.held(1), vec![1], "the other worker keeps its URL");
        // An outcome whose URL is not the one sent under that id is as bad.
        ready(&mut m, 0, 1, t0);
        let wrong = Box::new(lost_outcome(url(99), "x"));
        let acts = m.handle(
            Event::Outcome {
                slot: 0,
                incarnation: 1,
                id: 0,
                outcome: wrong,
            },
            t0,
        );
        assert_eq!(kills(&acts), vec![(0, 1)]);
        assert_eq!(m.counters().malformed, 2);
        // And one for an id never dispatched.
        let acts = outcome(&mut m, 1, 0, 77, t0);
        assert_eq!(kills(&acts), vec![(1, 0)]);
    }

    #[test]
    fn a_dead_workers_urls_go_to_the_front_and_are_reassigned_once() {
        let (mut m, t0, _) = machine(&[3, 3]);
        ready(&mut m, 0, 0, t0);
        ready(&mut m, 1, 0, t0);
        for i in 0..8 {
            dispatch(&mut m, i, t0);
        }
        assert_eq!((m.held(0), m.held(1)), (vec![0, 2, 4], vec![1, 3, 5]));
        assert_eq!(m.pending(), vec![6, 7]);
        let acts = closed(&mut m, 0, 0, t0);
        assert_eq!(m.counters().requeued, 3);
        assert!(lost(&acts).is_empty());
        assert_eq!(
            m.pending(),
            vec![0, 2, 4, 6, 7],
            "in id order, before the new ones"
        );
        // Worker 1 frees a token: the oldest re-queued URL goes first.
        assert_eq!(sends(&outcome(&mut m, 1, 0, 1, t0)), vec![(1, 0, 0)]);
        assert_eq!(
            sends(&ready(&mut m, 0, 1, t0)),
            vec![(0, 1, 2), (0, 1, 4), (0, 1, 6)]
        );
        // Answer everything as it is sent: every URL exactly once.
        let mut done = vec![1];
        let mut round = vec![
            (1, 0, 0),
            (0, 1, 2),
            (0, 1, 4),
            (0, 1, 6),
            (1, 0, 3),
            (1, 0, 5),
        ];
        while let Some((slot, inc, id)) = round.pop() {
            let acts = outcome(&mut m, slot, inc, id, t0);
            done.extend(answered(&acts));
            round.extend(sends(&acts));
        }
        done.sort_unstable();
        assert_eq!(done, (0..8).collect::<Vec<_>>());
        assert!(m.pending().is_empty());
        assert_eq!(m.counters().lost, 0);
    }

    #[test]
    fn the_restart_budget_ends_restarts_and_gives_held_urls_up() {
        let (mut m, t0, _) = machine(&[1]);
        let budget = 2 + 4;
        // Six deaths holding nothing: six restarts.
        for n in 0..budget {
            ready(&mut m, 0, n, t0);
            let acts = closed(&mut m, 0, n, t0);
            assert_eq!(spawns(&acts), vec![(0, n + 1)], "restart {n}");
        }
        assert_eq!(m.counters().restarts, budget as usize);
        // The seventh incarnation dies holding a URL: no restart, the URL is given up.
        ready(&mut m, 0, budget, t0);
        dispatch(&mut m, 0, t0);
        dispatch(&mut m, 1, t0);
        assert_eq!((m.held(0), m.pending()), (vec![0], vec![1]));
        let acts = closed(&mut m, 0, budget, t0);
        assert!(spawns(&acts).is_empty(), "budget spent: {acts:?}");
        assert_eq!(m.slot(0).0, SlotState::Dead);
        let gone = lost(&acts);
        assert_eq!(gone.len(), 2, "{gone:?}");
        assert!(
            gone[0].1.contains("restart budget of 6 is spent"),
            "{gone:?}"
        );
        // The waiting one too: no worker is left.
        assert!(gone[1].1.contains("every worker died"), "{gone:?}");
        assert_eq!(m.counters().lost, 2);
        // A new URL is lost at once.
        let acts = dispatch(&mut m, 9, t0);
        assert_eq!(lost(&acts).len(), 1, "{acts:?}");
    }

    #[test]
    fn a_url_whose_workers_died_three_times_is_lost() {
        let (mut m, t0, _) = machine(&[1, 1]);
        ready(&mut m, 0, 0, t0);
        ready(&mut m, 1, 0, t0);
        dispatch(&mut m, 0, t0);
        dispatch(&mut m, 1, t0);
        let mut incarnation = 0;
        for death in 1..=3 {
            assert_eq!(m.held(0), vec![0]);
            let acts = closed(&mut m, 0, incarnation, t0);
            incarnation += 1;
            if death < 3 {
                assert!(lost(&acts).is_empty());
                ready(&mut m, 0, incarnation, t0);
            } else {
                assert_eq!(lost(&acts).len(), 1);
                let (id, why) = &lost(&acts)[0];
                assert_eq!(*id, 0);
                assert!(why.contains("died while fetching it 3 times"), "{why}");
                // The slot itself is still restarted.
                assert_eq!(spawns(&acts), vec![(0, 3)]);
            }
        }
        assert_eq!(m.counters().lost, 1);
        assert_eq!(m.held(1), vec![1]);
        assert_eq!(answered(&outcome(&mut m, 1, 0, 1, t0)), vec![1]);
    }

    #[test]
    fn a_silent_ready_worker_is_killed_by_the_watchdog_and_its_urls_reassigned() {
        let (mut m, t0, _) = machine(&[2, 2]);
        ready(&mut m, 0, 0, t0);
        ready(&mut m, 1, 0, t0);
        assert_eq!(m.next_deadline(), Some(ms(t0, 1000)));
        for i in 0..4 {
            dispatch(&mut m, i, t0);
        }
        assert_eq!((m.held(0), m.held(1)), (vec![0, 2], vec![1, 3]));
        // Worker 0 heartbeats, worker 1 stays silent.
        m.handle(
            Event::Alive {
                slot: 0,
                incarnation: 0,
            },
            ms(t0, 400),
        );
        m.handle(
            Event::Alive {
                slot: 0,
                incarnation: 0,
            },
            ms(t0, 800),
        );
        // Before the deadline a tick does nothing.
        assert!(m.handle(Event::Tick, ms(t0, 999)).is_empty());
        let acts = m.handle(Event::Tick, ms(t0, 1000));
        assert_eq!(kills(&acts), vec![(1, 0)]);
        assert_eq!(spawns(&acts), vec![(1, 1)]);
        assert_eq!(m.counters().stopped_by_watchdog, 1);
        assert_eq!(m.pending(), vec![1, 3]);
        // Worker 0's deadline moved with its heartbeats; the new worker has its handshake time.
        assert_eq!(m.next_deadline(), Some(ms(t0, 1800)));
        assert!(kills(&m.handle(Event::Tick, ms(t0, 1500))).is_empty());
        // Worker 0 frees a slot: a re-queued URL goes there; the rest to the new worker.
        assert_eq!(
            sends(&outcome(&mut m, 0, 0, 0, ms(t0, 1600))),
            vec![(0, 0, 1)]
        );
        assert_eq!(sends(&ready(&mut m, 1, 1, ms(t0, 1700))), vec![(1, 1, 3)]);
        // Worker 0 falls silent too (its last frame at 1.6 s).
        let acts = m.handle(Event::Tick, ms(t0, 2600));
        assert_eq!(kills(&acts), vec![(0, 0)]);
        assert_eq!(m.counters().stopped_by_watchdog, 2);
        // Its URLs go back to the front; the new worker 1 has one free slot for the first.
        assert_eq!(sends(&acts), vec![(1, 1, 1)]);
        assert_eq!(m.pending(), vec![2]);
    }

    #[test]
    fn a_worker_that_never_says_hello_is_replaced_then_fails_the_run() {
        let (mut m, t0, _) = machine(&[1]);
        dispatch(&mut m, 0, t0);
        let mut at = t0;
        for attempt in 1..=3u32 {
            at += Duration::from_secs(30);
            let acts = m.handle(Event::Tick, at);
            assert_eq!(kills(&acts), vec![(0, attempt - 1)]);
            if attempt < 3 {
                assert_eq!(spawns(&acts), vec![(0, attempt)]);
            } else {
                let failed = failures(&acts);
                assert_eq!(failed.len(), 1);
                assert!(failed[0].contains("failed to start 3 times"), "{failed:?}");
                assert!(failed[0].contains("did not answer hello within 30s"));
                // The run failed first, then the waiting URL was answered.
                let fail_at = acts
                    .iter()
                    .position(|a| matches!(a, Action::FailRun { .. }));
                let lose_at = acts.iter().position(|a| matches!(a, Action::Lose { .. }));
                assert!(fail_at < lose_at, "{acts:?}");
            }
        }
        assert!(m.failure().is_some());
    }

    #[test]
    fn a_refusal_or_a_failed_first_spawn_fails_the_run() {
        let (mut m, t0, _) = machine(&[1, 1]);
        dispatch(&mut m, 0, t0);
        let acts = m.handle(
            Event::Refused {
                slot: 1,
                incarnation: 0,
                reason: "no runtime".into(),
            },
            t0,
        );
        assert_eq!(
            failures(&acts),
            vec!["a worker refused the job: no runtime"]
        );
        assert!(spawns(&acts).is_empty());
        // Later URLs are lost with the reason.
        let acts = dispatch(&mut m, 1, t0);
        assert_eq!(lost(&acts)[0].1, "a worker refused the job: no runtime");

        let (mut m, t0, _) = machine(&[1, 1]);
        let acts = m.handle(
            Event::SpawnFailed {
                slot: 1,
                incarnation: 0,
                error: "/nonexistent: not found".into(),
            },
            t0,
        );
        assert_eq!(
            failures(&acts),
            vec!["could not start worker process 2 of 2: /nonexistent: not found"]
        );
    }

    #[test]
    fn cancelled_urls_are_dropped_not_sent() {
        let (mut m, t0, _) = machine(&[1]);
        m.handle(
            Event::Dispatch {
                url: url(0),
                reply: Tag {
                    url: 0,
                    wanted: false,
                },
            },
            t0,
        );
        dispatch(&mut m, 1, t0);
        assert_eq!(sends(&ready(&mut m, 0, 0, t0)), vec![(0, 0, 1)]);
        assert!(m.pending().is_empty());
    }

    #[test]
    fn shutdown_answers_what_is_left_once_and_nothing_twice() {
        let (mut m, t0, _) = machine(&[2]);
        ready(&mut m, 0, 0, t0);
        for i in 0..3 {
            dispatch(&mut m, i, t0);
        }
        assert_eq!(answered(&outcome(&mut m, 0, 0, 0, t0)), vec![0]);
        let acts = m.handle(Event::Finish, t0);
        let mut gone: Vec<usize> = lost(&acts).into_iter().map(|(i, _)| i).collect();
        gone.sort_unstable();
        assert_eq!(gone, vec![1, 2]);
        assert!(matches!(acts.last(), Some(Action::Shutdown)));
        assert_eq!(
            m.counters().lost,
            0,
            "shutdown losses are not worker deaths"
        );
        // After the finish: a late outcome, a close, a tick, a second finish do nothing.
        assert!(outcome(&mut m, 0, 0, 1, t0).is_empty());
        assert!(closed(&mut m, 0, 0, t0).is_empty());
        assert!(m.handle(Event::Tick, ms(t0, 60_000)).is_empty());
        assert!(m.handle(Event::Finish, t0).is_empty());
        assert_eq!(m.next_deadline(), None);
        // A late dispatch is answered at once.
        assert_eq!(lost(&dispatch(&mut m, 7, t0)).len(), 1);
    }

    /// A deterministic random walk over every kind of event: whatever happens, no URL is ever
    /// held by two live workers, no worker holds more than its capacity, and after the finish
    /// every URL has been answered exactly once.
    #[test]
    fn random_runs_lose_or_double_nothing() {
        for seed in 1..=30u64 {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = move |n: u64| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng % n
            };
            let caps = [2, 3, 1];
            let (mut m, t0, started) = machine(&caps);
            let mut now = t0;
            let mut live: BTreeMap<usize, u32> = BTreeMap::new();
            let mut starting: BTreeSet<(usize, u32)> = spawns(&started).into_iter().collect();
            // id → (slot, incarnation) for URLs out at a worker.
            let mut out: BTreeMap<UrlId, (usize, u32)> = BTreeMap::new();
            let mut answers: BTreeMap<usize, usize> = BTreeMap::new();
            let mut dispatched = 0usize;
            let mut apply = |acts: Acts,
                             live: &mut BTreeMap<usize, u32>,
                             starting: &mut BTreeSet<(usize, u32)>,
                             out: &mut BTreeMap<UrlId, (usize, u32)>| {
                for a in acts {
                    match a {
                        Action::Spawn { slot, incarnation } => {
                            starting.insert((slot, incarnation));
                        }
                        Action::Kill {
                            slot, incarnation, ..
                        } => {
                            live.remove(&slot);
                            starting.remove(&(slot, incarnation));
                            out.retain(|_, &mut (s, i)| (s, i) != (slot, incarnation));
                        }
                        Action::Send {
                            slot,
                            incarnation,
                            id,
                            ..
                        } => {
                            assert_eq!(live.get(&slot), Some(&incarnation), "sent to a live one");
                            assert!(out.insert(id, (slot, incarnation)).is_none(), "doubled");
                            let held = out.values().filter(|&&v| v == (slot, incarnation)).count();
                            assert!(held <= caps[slot], "over capacity");
                        }
                        Action::Answer { reply, .. } | Action::Lose { reply, .. } => {
                            *answers.entry(reply.url).or_default() += 1;
                            out.remove(&(reply.url as UrlId));
                        }
                        Action::FailRun { .. } | Action::Shutdown => {}
                    }
                }
            };
            for _ in 0..400 {
                now += Duration::from_millis(next(300));
                let acts = match next(10) {
                    0..=2 if dispatched < 60 => {
                        dispatched += 1;
                        dispatch(&mut m, dispatched - 1, now)
                    }
                    3 | 4 if !starting.is_empty() => {
                        let &(slot, inc) = starting
                            .iter()
                            .nth(next(starting.len() as u64) as usize)
                            .unwrap();
                        starting.remove(&(slot, inc));
                        live.insert(slot, inc);
                        ready(&mut m, slot, inc, now)
                    }
                    5..=7 if !out.is_empty() => {
                        let (&id, &(slot, inc)) =
                            out.iter().nth(next(out.len() as u64) as usize).unwrap();
                        outcome(&mut m, slot, inc, id, now)
                    }
                    8 if !live.is_empty() => {
                        let (&slot, &inc) =
                            live.iter().nth(next(live.len() as u64) as usize).unwrap();
                        if next(2) == 0 {
                            closed(&mut m, slot, inc, now)
                        } else {
                            m.handle(
                                Event::Alive {
                                    slot,
                                    incarnation: inc,
                                },
                                now,
                            )
                        }
                    }
                    _ => m.handle(Event::Tick, now),
                };
                apply(acts, &mut live, &mut starting, &mut out);
            }
            let acts = m.handle(Event::Finish, now);
            apply(acts, &mut live, &mut starting, &mut out);
            assert_eq!(answers.len(), dispatched, "seed {seed}: every URL answered");
            assert!(
                answers.values().all(|&n| n == 1),
                "seed {seed}: answered twice: {answers:?}"
            );
        }
    }

    /// 200,000 URLs through 6 workers holding 100,000 at once, one worker dying at the peak: the
    /// machine's work per event stays O(1) (the whole run is a few hundred milliseconds even in a
    /// debug build), and every URL is answered once.
    #[test]
    fn a_hundred_thousand_in_flight_costs_o1_per_event() {
        let caps = vec![16_667, 16_667, 16_667, 16_667, 16_666, 16_666];
        let t0 = Instant::now();
        let mut m: M = Machine::new(Limits::new(caps.clone(), Duration::from_secs(5)), t0);
        m.start(t0);
        for slot in 0..caps.len() {
            ready(&mut m, slot, 0, t0);
        }
        let timer = Instant::now();
        let mut out: VecDeque<(usize, u32, UrlId)> = VecDeque::new();
        let mut done = 0usize;
        let mut next_url = 0usize;
        while next_url < 100_000 {
            out.extend(sends(&dispatch(&mut m, next_url, t0)));
            next_url += 1;
        }
        assert_eq!(out.len(), 100_000);
        // Worker 2 dies holding its share: re-queued, then sent to its next incarnation.
        let acts = closed(&mut m, 2, 0, t0);
        assert_eq!(m.counters().requeued, 16_667);
        out.retain(|&(slot, _, _)| slot != 2);
        out.extend(sends(&acts));
        out.extend(sends(&ready(&mut m, 2, 1, t0)));
        assert_eq!(out.len(), 100_000);
        while let Some((slot, inc, id)) = out.pop_front() {
            let acts = outcome(&mut m, slot, inc, id, t0);
            done += answered(&acts).len();
            out.extend(sends(&acts));
            if next_url < 200_000 {
                out.extend(sends(&dispatch(&mut m, next_url, t0)));
                next_url += 1;
            }
        }
        let took = timer.elapsed();
        eprintln!("200,000 URLs, 100,000 in flight, one death: {took:?} in the state machine");
        assert_eq!(done, 200_000);
        assert!(m.pending().is_empty());
        assert!(took < Duration::from_secs(30), "{took:?}");
    }
}
