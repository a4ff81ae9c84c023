//! How many workers a run starts, how many fetches each may hold, and which source address each
//! connects from — pure functions of the job, the mode, the core count and the open-file limit.
//!
//! **The file budget.** Every request in flight holds a socket, and a socket is a file
//! descriptor: a worker process can hold at most its `RLIMIT_NOFILE` hard limit of them (every
//! worker raises its soft limit to the hard one at start; the hard limit is the ceiling no
//! unprivileged process can pass — 20,000 on the reference machine). [`FD_RESERVE`] of those are
//! kept for everything else a worker opens (the runtime's epoll and eventfd, its pipes, TLS
//! files, a connection being closed while its replacement opens, …), so a worker's share of the
//! concurrency is at most [`per_worker_in_flight`] = hard − reserve (19,000 there).
//!
//! **K.** The job's `processes` (or [`crate::MultiProcess::with_workers`]) when set; otherwise
//! `max(cores, ⌈C ÷ 8,000⌉)` ([`AUTO_IN_FLIGHT_PER_WORKER`]): one event loop per core, more when
//! C would give a worker more than 8,000 — well under its file budget, because connects slow down
//! as its source address's port range fills (C = 100,000 → 13 workers here). Either way never more workers than
//! requests can be in flight (`min(C, URLs)`), and the concurrency C is split as evenly as
//! possible. An explicit K whose share is above the budget is refused, naming the numbers and the
//! smallest K that would fit. `multiprocess-blocking` always runs one process per in-flight
//! request (C ≤ [`crate::MAX_BLOCKING_WORKERS`], a job's `processes` is refused by the core).
//!
//! **Source addresses.** A TCP connection is (source address, source port, destination address,
//! destination port), and a source address has ~28,000 ephemeral ports. With 100,000 connections
//! to one origin that runs out, so when the job stays on loopback (it does not allow other
//! addresses, and every start URL is an IPv4 loopback address or a name the job maps to one) the
//! async workers each connect from their own address of 127.0.0.0/8, all of which is local on
//! Linux: slot `i` uses an address of a block drawn at random for the run ([`source_address`],
//! [`random_source_block`]) — never 127.0.x.x, which the origin's address-based hosts use. Blocking workers (≤ 512 connections in all) bind nothing.

use std::net::{IpAddr, Ipv4Addr};

use crawlbench_core::{
    CrawlJob,
    job::MAX_PROCESSES,
    resources::{FD_RESERVE, connection_budget, connection_budget_for},
};

use crate::protocol::Mode;

/// The most requests one worker process may hold in flight on this machine (see the module
/// docs): the hard open-file limit minus [`FD_RESERVE`] — the core's one connection budget, the
/// same that refuses a single-process backend past it.
pub fn per_worker_in_flight() -> usize {
    // An unlimited (or unreadable) hard limit: the soft default's budget, a safe floor.
    connection_budget().unwrap_or_else(|| connection_budget_for(1024))
}

/// The share of the concurrency an automatically sized worker takes at most: well under both the
/// open-file budget and the ~28,000 ephemeral ports of its source address. As a source address's
/// port range fills, every connect searches longer for a free port: measured here at 100,000 in
/// flight (multiprocess-smol, 30 s delay, ramp 5,000/s), 6 workers of ~16,700 spent 59 s of CPU
/// and reached only 85,000 in flight at the origin, 12 workers of ~8,300 spent 27 s and held all
/// 100,000 (1.05× the ideal makespan).
pub(crate) const AUTO_IN_FLIGHT_PER_WORKER: usize = 8_000;

/// A run's workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Fetch slots of each worker (its share of the concurrency).
    pub(crate) capacities: Vec<usize>,
    /// The source address of each worker's connections.
    pub(crate) sources: Vec<Option<IpAddr>>,
    /// The per-worker budget the plan respects.
    pub(crate) budget: usize,
}

/// How many disjoint blocks of source addresses a run may draw from (see [`source_address`]).
pub(crate) const SOURCE_BLOCKS: u16 = 254 * 32;

/// A block for this run, drawn at random: reqwest binds its port at `bind` time, which keeps
/// that port of that source address for *every* destination, and a port in TIME_WAIT (60 s
/// after the client closed) stays taken. Two runs from one address within a minute, or two at
/// once (tests in parallel), would share its ~28,000 ports, and 100,000 connections need all of
/// theirs. One block in [`SOURCE_BLOCKS`] keeps runs apart with high probability.
pub(crate) fn random_source_block() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    (h.finish() % u64::from(SOURCE_BLOCKS)) as u16
}

/// The source address of worker slot `slot` in block `block` (< [`SOURCE_BLOCKS`]):
/// `127.(1 + block / 32).(8 · (block % 32) + slot / 250).(1 + slot % 250)` — never 127.0.x.x,
/// which the origin's listeners use, and distinct for every (block, slot < 2,000).
pub(crate) fn source_address(block: u16, slot: usize) -> IpAddr {
    let second = u8::try_from(1 + block / 32).unwrap_or(u8::MAX);
    let third = u8::try_from(8 * usize::from(block % 32) + slot / 250).unwrap_or(u8::MAX);
    let fourth = u8::try_from(1 + slot % 250).unwrap_or(u8::MAX);
    IpAddr::V4(Ipv4Addr::new(127, second, third, fourth))
}

/// Whether every connection of `job` goes to an IPv4 loopback address, so an IPv4 loopback
/// source can reach it: the job allows no other address, its start URLs are IPv4 loopback
/// literals or names it maps to IPv4 addresses, and its resolve map holds no IPv6 address.
/// (`localhost` and `[::1]` may be reached over IPv6, which an IPv4 source cannot.)
pub(crate) fn binds_sources(job: &CrawlJob) -> bool {
    if job.allows_non_loopback() || job.resolve().iter().any(|(_, ip)| !ip.is_ipv4()) {
        return false;
    }
    job.start_urls().iter().all(|url| match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => job.resolve().get(name).is_some_and(|ip| ip.is_ipv4()),
        _ => false,
    })
}

/// Splits `total` over `k` parts as evenly as possible (the first ones one larger).
fn split(total: usize, k: usize) -> Vec<usize> {
    (0..k)
        .map(|i| total / k + usize::from(i < total % k))
        .collect()
}

/// The workers for `job` in `mode`: `requested` workers (the job's `processes`, else the
/// backend's `with_workers`) or the automatic count, on a machine of `cores` cores whose workers
/// may each hold `budget` requests in flight. `Err` names the numbers when a requested count
/// gives a worker more than its budget.
pub(crate) fn plan(
    mode: Mode,
    job: &CrawlJob,
    requested: Option<usize>,
    cores: usize,
    budget: usize,
    source_block: u16,
) -> Result<Plan, String> {
    let limit = job.concurrency();
    // More workers than URLs could ever be in flight would only cost start-up time.
    let useful = limit.min(job.max_urls()).max(1);
    let budget = budget.max(1);
    let capacities = match mode {
        Mode::Blocking => vec![1; useful],
        Mode::AsyncTokio | Mode::AsyncSmol => {
            let needed = useful.div_ceil(budget);
            if needed > MAX_PROCESSES {
                return Err(format!(
                    "{useful} requests in flight need {needed} worker processes of at most \
                     {budget} each (the open-file limit), above the limit of {MAX_PROCESSES}"
                ));
            }
            let k = match requested {
                Some(k) => k.clamp(1, useful),
                None => cores
                    .max(useful.div_ceil(AUTO_IN_FLIGHT_PER_WORKER.min(budget)))
                    .clamp(1, useful),
            };
            let share = useful.div_ceil(k);
            if share > budget {
                return Err(format!(
                    "{k} worker processes would hold up to {share} requests in flight each \
                     (concurrency {limit} over {k}), above the {budget} one process may hold \
                     (its open-file hard limit minus {FD_RESERVE} reserved); use at least \
                     {needed} processes"
                ));
            }
            split(limit, k)
        }
    };
    let sources = if mode != Mode::Blocking && binds_sources(job) {
        (0..capacities.len())
            .map(|i| Some(source_address(source_block, i)))
            .collect()
    } else {
        vec![None; capacities.len()]
    };
    Ok(Plan {
        capacities,
        sources,
        budget,
    })
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;

    fn job(concurrency: usize, urls: usize) -> CrawlJob {
        let urls = (0..urls)
            .map(|i| Url::parse(&format!("http://127.0.0.1:1/{i}")).unwrap())
            .collect();
        CrawlJob::list(urls)
            .concurrency(concurrency)
            .build()
            .unwrap()
    }

    fn caps(mode: Mode, job: &CrawlJob, requested: Option<usize>, cores: usize) -> Vec<usize> {
        plan(mode, job, requested, cores, 19_000, 7)
            .unwrap()
            .capacities
    }

    #[test]
    fn plans_split_the_limit_exactly() {
        let a = Mode::AsyncTokio;
        assert_eq!(caps(a, &job(16, 100), None, 2), vec![8, 8]);
        assert_eq!(caps(a, &job(17, 100), None, 2), vec![9, 8]);
        assert_eq!(caps(a, &job(1, 100), None, 2), vec![1]);
        assert_eq!(caps(a, &job(3, 100), None, 8), vec![1, 1, 1]);
        assert_eq!(caps(a, &job(3, 100), Some(2), 8), vec![2, 1]);
        // More slots than URLs: fewer workers, the limit still split in full.
        assert_eq!(caps(a, &job(50_000, 1), None, 2), vec![50_000]);
        assert_eq!(caps(Mode::Blocking, &job(5, 100), None, 2), vec![1; 5]);
        assert_eq!(caps(Mode::Blocking, &job(32, 3), None, 2), vec![1; 3]);
        for c in 1..40 {
            let p = caps(Mode::AsyncSmol, &job(c, 100), None, 4);
            assert_eq!(p.iter().sum::<usize>(), c);
            assert!(p.iter().all(|&s| s >= 1));
        }
    }

    #[test]
    fn k_grows_with_the_concurrency_past_the_file_budget() {
        let c100k = job(100_000, 200_000);
        let p = caps(Mode::AsyncTokio, &c100k, None, 2);
        // ⌈100,000 ÷ 8,000⌉ = 13 workers of at most 8,000 each (the automatic share, well
        // under the file budget and the source address's port range).
        assert_eq!(p.len(), 13);
        assert_eq!(p.iter().sum::<usize>(), 100_000);
        assert!(p.iter().all(|&s| s <= AUTO_IN_FLIGHT_PER_WORKER), "{p:?}");
        // Many cores: one per core still.
        assert_eq!(caps(Mode::AsyncTokio, &c100k, None, 16).len(), 16);
        // Explicit counts are honoured, capped by what can be in flight.
        assert_eq!(caps(Mode::AsyncTokio, &job(40, 400), Some(3), 2).len(), 3);
        assert_eq!(caps(Mode::AsyncTokio, &job(40, 2), Some(3), 2).len(), 2);
    }

    #[test]
    fn an_over_budget_share_is_refused_with_the_numbers() {
        let err = plan(
            Mode::AsyncTokio,
            &job(40_000, 40_000),
            Some(2),
            2,
            19_000,
            7,
        )
        .unwrap_err();
        assert!(err.contains("20000 requests in flight each"), "{err}");
        assert!(err.contains("above the 19000"), "{err}");
        assert!(err.contains("use at least 3 processes"), "{err}");
        // Few URLs: the share that can really be in flight is what counts.
        plan(Mode::AsyncTokio, &job(40_000, 10), Some(1), 2, 19_000, 7).unwrap();
        // A tiny limit still leaves half of it for connections.
        assert_eq!(connection_budget_for(1024), 512);
        assert_eq!(connection_budget_for(20_000), 19_000);
        assert_eq!(connection_budget_for(0), 1);
        assert_eq!(connection_budget_for(u64::MAX), (1 << 30) - 1000);
    }

    #[test]
    fn sources_are_distinct_loopback_addresses_only_on_ipv4_loopback_jobs() {
        let addrs: std::collections::BTreeSet<IpAddr> = (0..SOURCE_BLOCKS)
            .flat_map(|b| [0, 1, 249, 250, MAX_PROCESSES - 1].map(|i| source_address(b, i)))
            .collect();
        assert_eq!(addrs.len(), usize::from(SOURCE_BLOCKS) * 5, "all distinct");
        assert!(addrs.iter().all(|a| a.is_loopback()));
        assert!(
            addrs.iter().all(|a| !a.to_string().starts_with("127.0.")),
            "127.0.x.x is the origin's"
        );
        assert_eq!(source_address(0, 0), "127.1.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(
            source_address(0, 250),
            "127.1.1.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            source_address(33, 1),
            "127.2.8.2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            source_address(SOURCE_BLOCKS - 1, 1023),
            "127.254.252.24".parse::<IpAddr>().unwrap()
        );
        assert!((0..100).all(|_| random_source_block() < SOURCE_BLOCKS));

        let p = plan(Mode::AsyncSmol, &job(4, 10), Some(2), 2, 19_000, 7).unwrap();
        assert_eq!(
            p.sources,
            vec![Some(source_address(7, 0)), Some(source_address(7, 1))]
        );
        let p = plan(Mode::Blocking, &job(4, 10), None, 2, 19_000, 7).unwrap();
        assert_eq!(p.sources, vec![None; 4]);
        let v6 = CrawlJob::list(vec![Url::parse("http://[::1]:1/").unwrap()])
            .build()
            .unwrap();
        assert!(!binds_sources(&v6));
        let localhost = CrawlJob::list(vec![Url::parse("http://localhost:1/").unwrap()])
            .build()
            .unwrap();
        assert!(!binds_sources(&localhost));
        let mapped = CrawlJob::list(vec![Url::parse("http://h0.crawl.test:1/").unwrap()])
            .resolve("h0.crawl.test:127.0.0.1".parse().unwrap())
            .build()
            .unwrap();
        assert!(binds_sources(&mapped));
        let remote = CrawlJob::list(vec![Url::parse("http://127.0.0.1:1/").unwrap()])
            .allow_non_loopback(true)
            .build()
            .unwrap();
        assert!(!binds_sources(&remote));
    }
}
