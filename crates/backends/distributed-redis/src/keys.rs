//! Every Redis key the coordinator and the workers share, named in one place.
//!
//! One run owns the keys under `crawlbench:run:{id}:`; only [`CURRENT`] and [`ANNOUNCE`] are
//! global, so idle workers can find the run that is starting. The coordinator deletes the run's
//! keys when the run ends, so a Redis shared by many runs keeps nothing from finished ones.

/// The run now taking workers (its id), written by the coordinator with an expiry it keeps
/// renewing: a coordinator that dies leaves it to expire, never blocks Redis for good.
pub(crate) const CURRENT: &str = "crawlbench:current";
/// The pub/sub channel on which a starting run announces its id to idle workers.
pub(crate) const ANNOUNCE: &str = "crawlbench:runs";

/// The keys of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RunKeys {
    /// `crawlbench:run:{id}:` — the prefix of every key below, and the argument the Lua scripts
    /// build per-worker keys from.
    pub prefix: String,
}

impl RunKeys {
    /// The keys of run `id`.
    pub(crate) fn new(id: &str) -> Self {
        Self {
            prefix: format!("crawlbench:run:{id}:"),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// `running` while the run takes outcomes; anything else (or missing) means it is over.
    pub(crate) fn state(&self) -> String {
        self.key("state")
    }
    /// The job's limits as JSON ([`crawlbench_core::CrawlJob::limits_only`]): what a worker
    /// builds its client from.
    pub(crate) fn job(&self) -> String {
        self.key("job")
    }
    /// How many requests one worker may hold at once: the run's concurrency split evenly over
    /// the workers it expects, so their connection pools together never exceed it.
    pub(crate) fn share(&self) -> String {
        self.key("share")
    }
    /// LIST of `"{id} {url}"` entries waiting for a worker.
    pub(crate) fn queue(&self) -> String {
        self.key("queue")
    }
    /// LIST of completion records for the coordinator.
    pub(crate) fn results(&self) -> String {
        self.key("results")
    }
    /// INCR counter of worker ids handed out.
    pub(crate) fn next_worker(&self) -> String {
        self.key("next_worker")
    }
    /// SET of the workers holding a lease in this run.
    pub(crate) fn workers(&self) -> String {
        self.key("workers")
    }
    /// Counter of completions refused because their lease had been lost (the URL went back to
    /// the queue, so another worker's outcome counts).
    pub(crate) fn stale(&self) -> String {
        self.key("stale")
    }
    /// HASH `id → url` of the URLs worker `w` holds under its lease.
    pub(crate) fn held(&self, w: u64) -> String {
        self.key(&format!("held:{w}"))
    }
    /// LIST where a blocking take lands an entry before the worker's next take moves it into
    /// `held` (a blocking pop cannot write a hash; the reaper returns both to the queue).
    pub(crate) fn landing(&self, w: u64) -> String {
        self.key(&format!("landing:{w}"))
    }
    /// The lease of worker `w`: a key with an expiry its heartbeats renew.
    pub(crate) fn lease(&self, w: u64) -> String {
        self.key(&format!("lease:{w}"))
    }
    /// The pattern matching every key of the run (for deleting them at the end).
    pub(crate) fn pattern(&self) -> String {
        format!("{}*", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_worker_keys_match_what_the_scripts_build() {
        // The reap script builds `prefix .. 'held:' .. w` etc.; these must agree.
        let k = RunKeys::new("ab12");
        assert_eq!(k.held(7), format!("{}held:7", k.prefix));
        assert_eq!(k.landing(7), format!("{}landing:7", k.prefix));
        assert_eq!(k.lease(7), format!("{}lease:7", k.prefix));
        assert_eq!(k.workers(), format!("{}workers", k.prefix));
        assert_eq!(k.queue(), format!("{}queue", k.prefix));
        assert!(k.pattern().starts_with(&k.prefix) && k.pattern().ends_with('*'));
    }
}
