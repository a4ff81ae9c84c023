//! The nine workloads, defined once: the campaign publishes them and the criterion benches time
//! them, so the two can never measure different things under one name.
//!
//! A workload is a site (what the origin serves) and cells (one job per parameter). Sizes depend
//! on the [`Profile`]: `quick` finishes in minutes, `full` is what `results/` publishes.

use std::time::Duration;

use crawlbench_core::{
    BackendInfo, ConcurrencyModel, ConnectionPolicy, CrawlJob, CrawlJobBuilder, Politeness,
    RobotsRule,
};
use crawlbench_origin::{HostNaming, LatencyModel, NetworkModel, Site, SiteSpec, TlsKey};

/// Which size of the suite runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Small workloads, few rounds: minutes, labelled "quick".
    Quick,
    /// The published sizes.
    Full,
}

impl Profile {
    /// Parses `quick` or `full`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "quick" => Ok(Self::Quick),
            "full" => Ok(Self::Full),
            other => Err(format!("unknown profile {other:?} (accepted: quick, full)")),
        }
    }
    /// `quick` or `full`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::Full => "full",
        }
    }
    /// The `quick` or the `full` value.
    pub fn pick<T>(self, quick: T, full: T) -> T {
        match self {
            Self::Quick => quick,
            Self::Full => full,
        }
    }
}

/// Builds one cell's job for a backend (pool models get different concurrency in seed-replica).
pub type JobFn = Box<dyn Fn(&Site, &BackendInfo) -> CrawlJob + Send + Sync>;

/// One cell of a workload: a parameter value and its job.
pub struct Cell {
    /// The parameter (URL count, concurrency, …).
    pub parameter: String,
    /// Builds the job for a backend on the workload's site.
    pub job: JobFn,
    /// The ideal makespan in seconds, where defined.
    pub ideal_secs: Option<f64>,
}

impl std::fmt::Debug for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cell")
            .field("parameter", &self.parameter)
            .field("ideal_secs", &self.ideal_secs)
            .finish_non_exhaustive()
    }
}

/// A workload: its site and its cells.
#[derive(Debug)]
pub struct Workload {
    /// Name, e.g. `latency-list`.
    pub name: &'static str,
    /// What it measures, in one sentence.
    pub description: &'static str,
    /// The site the origin serves.
    pub site: SiteSpec,
    /// How many processes serve it (several share one port through `SO_REUSEPORT`, when one
    /// process's open-file limit or accept queue would cap the concurrency the cells ask for).
    pub origin_processes: usize,
    /// At most this many rounds, whatever the campaign's count (a workload whose every run takes
    /// most of a minute); `None`: the campaign's.
    pub max_rounds: Option<usize>,
    /// Which backends run it.
    pub entrants: Entrants,
    /// Its cells.
    pub cells: Vec<Cell>,
}

/// Which backends a workload runs. The reference backend and its A/A control always run.
///
/// External backends (a program per attempt stream, most of them Python) are reference rows: they
/// run in the workloads the original experiment's comparison needs — `seed-curve`, `latency-list`,
/// `crawl`, and in `throughput` the event-loop stacks and the protocol's own probe — and sit out
/// the rest, where a Python thread or process pool of up to 10,000 would add most of an hour to
/// the full campaign and answer a question the Rust rows already answer. (In `throughput` the
/// four requests-on-a-pool stacks would add 25 minutes at 1.3 ms of CPU per request; their CPU
/// per request is in `latency-list` and `crawl`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entrants {
    /// Every registered backend, built-in and external.
    All,
    /// Built-in backends only.
    BuiltIn,
    /// Only these (by registry name).
    Only(&'static [&'static str]),
    /// Built-in backends and these external ones (by registry name).
    BuiltInAnd(&'static [&'static str]),
}

/// Backends that run only in a workload that names them (`Entrants::Only`): `distributed-redis`
/// measures a layout of hosts (where Redis and each worker run), which a workload must state;
/// on one host with a private Redis it would be a row whose setup no other row shares.
pub const NAMED_ONLY: [&str; 1] = ["distributed-redis"];

impl Entrants {
    /// Whether `backend` (external or not) runs here; `reference` always does.
    pub fn admits(self, backend: &str, external: bool, reference: &str) -> bool {
        let named_only = NAMED_ONLY.contains(&backend);
        backend == reference
            || match self {
                Self::All => !named_only,
                Self::BuiltIn => !external && !named_only,
                Self::Only(names) => names.contains(&backend),
                Self::BuiltInAnd(names) => (!external && !named_only) || names.contains(&backend),
            }
    }
}

impl Workload {
    /// The rounds this workload runs in a campaign of `campaign_rounds`.
    pub fn rounds(&self, campaign_rounds: usize) -> usize {
        self.max_rounds
            .map_or(campaign_rounds, |max| max.min(campaign_rounds))
    }
}

/// Every workload name, in report order.
pub const NAMES: [&str; 10] = [
    "seed-replica",
    "seed-curve",
    "tls",
    "latency-list",
    "throughput",
    "crawl",
    "crawl-hosts",
    "concurrency-sweep",
    "c100k",
    "faults",
];

/// The workload called `name`.
pub fn workload(name: &str, profile: Profile) -> Result<Workload, String> {
    Ok(match name {
        "seed-replica" => seed_replica(profile),
        "seed-curve" => seed_curve(profile),
        "tls" => tls(profile),
        "latency-list" => latency_list(profile),
        "throughput" => throughput(profile),
        "crawl" => crawl(profile),
        "crawl-hosts" => crawl_hosts(profile),
        "concurrency-sweep" => concurrency_sweep(profile),
        "c100k" => c100k(profile),
        "faults" => faults(profile),
        other => {
            return Err(format!(
                "unknown workload {other:?} (accepted: {})",
                NAMES.join(", ")
            ));
        }
    })
}

/// The list of the first `n` pages of `site` with `concurrency` in flight (trusting the site's
/// CA when it serves HTTPS).
pub fn list_job(site: &Site, n: u32, concurrency: usize) -> CrawlJobBuilder {
    site.list_job(n)
        .expect("the workload's site has enough pages")
        .concurrency(concurrency)
}

/// True for models whose concurrency is a pool of workers (threads or processes) rather than
/// tasks — the seed experiment gave those a pool of 3 and let async run unbounded.
pub fn is_pool_model(info: &BackendInfo) -> bool {
    matches!(
        info.model,
        ConcurrencyModel::Threads
            | ConcurrencyModel::AsyncOverThreads
            | ConcurrencyModel::Processes
            | ConcurrencyModel::AsyncOverProcesses
    )
}

fn fixed(ms: f64) -> LatencyModel {
    LatencyModel::Fixed { ms }
}

/// The seed experiment's round trip: 150 ms, roughly a cross-continent RTT (Europe to the US
/// west coast), which is what a laptop fetching `httpbin.org` from far away paid per round trip.
pub const SEED_RTT_MS: f64 = 150.0;

/// The original Python experiment, replicated: N = 6·i URLs `/get?a=N` answered with
/// httpbin-shaped JSON whose echoed argument every run checks (`r.json()['args']['a']`); a new
/// connection for every request (`requests.get` without a session) over plain HTTP; the network's
/// round trip modelled by the origin (the server itself answers at once, as httpbin does). Thread
/// and process models get pools of 3, async runs unbounded (the original's `asyncio.gather`).
/// The best any client can do is all N at once: one fresh connection's 2 RTT (TCP + request);
/// pools need ⌈N ÷ 3⌉ of those by design, and wall ÷ ideal shows what that costs.
fn seed_replica(profile: Profile) -> Workload {
    let rtt_ms = profile.pick(20.0, SEED_RTT_MS);
    let network = NetworkModel {
        rtt_ms,
        bandwidth_bytes_per_sec: None,
    };
    Workload {
        name: "seed-replica",
        origin_processes: 1,
        max_rounds: None,
        entrants: Entrants::BuiltIn,
        description: "the original experiment: N = 6·i httpbin-style GETs, a new connection each, \
                      150 ms RTT, pools of 3, async unbounded",
        site: SiteSpec {
            pages: 6 * 19,
            network,
            ..Default::default()
        },
        cells: [1u32, 10, 19]
            .iter()
            .map(|&i| seed_cell(6 * i, network))
            .collect(),
    }
}

/// One cell of the seed experiment: `n` echo URLs, a new connection each, pools of 3 and async
/// unbounded (`concurrency = n`).
fn seed_cell(n: u32, network: NetworkModel) -> Cell {
    Cell {
        parameter: n.to_string(),
        job: Box::new(move |site, info| {
            let concurrency = if is_pool_model(info) { 3 } else { n as usize };
            let urls = site.echo_urls(n).expect("the site echoes N arguments");
            site.job(crawlbench_core::Workload::List { urls })
                .concurrency(concurrency)
                .connections(ConnectionPolicy::Fresh)
                .echo_argument("a")
                .build()
                .expect("valid job")
        }),
        ideal_secs: Some(network.ideal_list_secs(
            n as usize,
            n as usize,
            0.0,
            0,
            ConnectionPolicy::Fresh,
            false,
        )),
    }
}

/// The original experiment's six Python stacks (aiohttp in both its forms) as external
/// backends, and the Rust stacks that play their parts in `seed-replica`.
pub const SEED_STACKS: &[&str] = &[
    "py-requests-threads",
    "py-requests-processes",
    "py-asyncio-threads",
    "py-asyncio-processes",
    "py-aiohttp",
    "py-aiohttp-gather",
    "py-aiomultiprocess",
    "tokio-reqwest",
    "threadpool-ureq",
    "tokio-blocking-ureq",
    "multiprocess-async",
];

/// The original experiment's chart, redrawn: wall time against N = 6·i for every i from 1 to
/// 19 (quick: 1, 10, 19), each of [`SEED_STACKS`], a new connection per request, pools of 3,
/// async unbounded — the Python stacks measured and verified by the same harness as the Rust
/// ones. The round trip is 50 ms rather than `seed-replica`'s 150 ms, and 3 rounds: a pool of 3
/// needs ⌈N ÷ 3⌉ waves of two round trips whatever the stack, so at 150 ms the four Python
/// pools alone would take half an hour per round for a curve whose shape is set by that count.
fn seed_curve(profile: Profile) -> Workload {
    let network = NetworkModel {
        rtt_ms: profile.pick(20.0, 50.0),
        bandwidth_bytes_per_sec: None,
    };
    let steps: Vec<u32> = profile.pick(vec![1, 10, 19], (1..=19).collect());
    Workload {
        name: "seed-curve",
        origin_processes: 1,
        max_rounds: Some(3),
        entrants: Entrants::Only(SEED_STACKS),
        description: "the original experiment's chart: N = 6·i for i = 1..19, the six Python \
                      stacks and their Rust counterparts, 50 ms RTT, pools of 3, async unbounded",
        site: SiteSpec {
            pages: 6 * 19,
            network,
            ..Default::default()
        },
        cells: steps.iter().map(|&i| seed_cell(6 * i, network)).collect(),
    }
}

/// HTTPS across a 50 ms round trip, N 2,000 with 200 in flight, connections reused or opened
/// per request: what TLS and a new connection cost in wall time (against the RTT model's ideal)
/// and in CPU per request, on the client and on the origin.
fn tls(profile: Profile) -> Workload {
    let (n, c) = profile.pick((200u32, 40usize), (2000, 200));
    let network = NetworkModel {
        rtt_ms: 50.0,
        bandwidth_bytes_per_sec: None,
    };
    let body_bytes = 2048;
    let cells = ConnectionPolicy::ALL
        .iter()
        .map(|&policy| Cell {
            parameter: policy.as_str().to_owned(),
            job: Box::new(move |site, _| {
                list_job(site, n, c)
                    .connections(policy)
                    .build()
                    .expect("valid job")
            }),
            ideal_secs: Some(network.ideal_list_secs(
                n as usize,
                c,
                0.0,
                u64::from(body_bytes),
                policy,
                true,
            )),
        })
        .collect();
    Workload {
        name: "tls",
        entrants: Entrants::BuiltIn,
        origin_processes: 1,
        max_rounds: None,
        description: "HTTPS (ECDSA P-256) over a 50 ms RTT, connections reused vs one per request",
        site: SiteSpec {
            pages: n,
            body_bytes,
            tls: Some(TlsKey::EcdsaP256),
            network,
            ..Default::default()
        },
        cells,
    }
}

/// N URLs, C in flight, a fixed delay: ideal = ceil(N / C) × delay, so wall ÷ ideal is what a
/// model's scheduling adds on top of waiting.
fn latency_list(profile: Profile) -> Workload {
    let (n, c, delay_ms) = profile.pick((400u32, 40usize, 50.0), (2000, 200, 50.0));
    Workload {
        name: "latency-list",
        entrants: Entrants::All,
        origin_processes: 1,
        max_rounds: None,
        description: "a latency-bound list: what scheduling adds on top of waiting",
        site: SiteSpec {
            pages: n,
            latency: fixed(delay_ms),
            ..Default::default()
        },
        cells: vec![Cell {
            parameter: n.to_string(),
            job: Box::new(move |site, _| list_job(site, n, c).build().expect("valid job")),
            ideal_secs: Some((n as usize).div_ceil(c) as f64 * delay_ms / 1e3),
        }],
    }
}

/// No delay, small bodies, 64 in flight: CPU per request, and requests per second on a shared
/// machine (the origin's CPU reported apart).
fn throughput(profile: Profile) -> Workload {
    let n = profile.pick(3000u32, 20_000);
    Workload {
        name: "throughput",
        entrants: Entrants::BuiltInAnd(&[
            "py-aiohttp",
            "py-aiohttp-gather",
            "py-aiomultiprocess",
            "ext-tokio-st-reqwest",
        ]),
        origin_processes: 1,
        max_rounds: None,
        description: "no server delay, 512-byte pages, 64 in flight: CPU per request",
        site: SiteSpec {
            pages: n,
            body_bytes: 512,
            links_per_page: 4,
            ..Default::default()
        },
        cells: vec![Cell {
            parameter: n.to_string(),
            job: Box::new(move |site, _| list_job(site, n, 64).build().expect("valid job")),
            ideal_secs: None,
        }],
    }
}

/// Link-following through the shared frontier: discovery, HTML parsing, a frontier that starts
/// narrow and widens.
fn crawl(profile: Profile) -> Workload {
    let (pages, c, delay_ms) = profile.pick((1000u32, 50usize, 10.0), (5000, 100, 20.0));
    Workload {
        name: "crawl",
        entrants: Entrants::All,
        origin_processes: 1,
        max_rounds: None,
        description: "a link-following crawl of the whole synthetic site",
        site: SiteSpec {
            pages,
            latency: fixed(delay_ms),
            ..Default::default()
        },
        cells: vec![Cell {
            parameter: pages.to_string(),
            job: Box::new(move |site, _| {
                site.crawl_job(10_000_000)
                    .concurrency(c)
                    .build()
                    .expect("valid job")
            }),
            ideal_secs: None,
        }],
    }
}

/// Per-host politeness, the thing that bounds a real crawler's concurrency: a site spread over H
/// name-based virtual hosts (one listener, told apart by `Host`; every backend resolves the
/// names through the job's resolve map), at most 2 requests in flight per host, each host's
/// robots.txt fetched first and obeyed (a tenth of the pages disallowed, some hosts without
/// one). The overall limit is H × 2, so only the per-host limit binds; the ideal makespan is the
/// origin's bound for that (per host ⌈URLs ÷ 2⌉ waves of the delay, and the link chain's depth).
fn crawl_hosts(profile: Profile) -> Workload {
    let (hosts, pages_per_host, delay_ms) = profile.pick((10u32, 50u32, 20.0), (50, 200, 20.0));
    const PER_HOST: usize = 2;
    let concurrency = hosts as usize * PER_HOST;
    let site = SiteSpec {
        pages: hosts * pages_per_host,
        hosts,
        host_naming: HostNaming::Names,
        robots: true,
        latency: fixed(delay_ms),
        ..Default::default()
    };
    let job = move |site: &Site| {
        site.crawl_job(10_000_000)
            .concurrency(concurrency)
            .politeness(Politeness {
                connections: Some(PER_HOST),
                delay: Duration::ZERO,
            })
            .robots(RobotsRule::Obey)
            .build()
            .expect("valid job")
    };
    // The reachable set per host and the link chain do not depend on the port: a site on a
    // placeholder address states them.
    let model = Site::new(site.clone(), "http://127.0.0.1:1/".parse().expect("valid"));
    let model_job = job(&model);
    let ideal = site.network.ideal_polite_crawl_secs(
        &model.reachable_per_host(&model_job),
        concurrency,
        Some(PER_HOST),
        Duration::ZERO,
        Duration::from_secs_f64(delay_ms / 1e3),
        model.crawl_depth(&model_job),
    );
    Workload {
        name: "crawl-hosts",
        entrants: Entrants::BuiltIn,
        origin_processes: 1,
        max_rounds: None,
        description: "a crawl over many name-based hosts, at most 2 in flight per host, robots.txt obeyed",
        site,
        cells: vec![Cell {
            parameter: format!("{hosts}x{pages_per_host}"),
            job: Box::new(move |site, _| job(site)),
            ideal_secs: Some(ideal),
        }],
    }
}

/// The site of the concurrency workloads: `pages` small pages (512 bytes, 4 extra links), each
/// answered after the same delay, so wall time is all waiting and memory is all in-flight state.
fn concurrency_site(pages: u32, delay_ms: f64) -> SiteSpec {
    SiteSpec {
        pages,
        body_bytes: 512,
        links_per_page: 4,
        latency: fixed(delay_ms),
        ..Default::default()
    }
}

/// The C10K question: N = 4·C URLs with a long delay, so C requests really wait together.
/// A backend that cannot reach a C shows the failure with its reason, never a lower C.
fn concurrency_sweep(profile: Profile) -> Workload {
    let (limits, delay_ms): (&[usize], f64) =
        profile.pick((&[16, 128, 1024], 100.0), (&[16, 128, 1024, 10_000], 200.0));
    let max_n = 4 * limits.iter().max().copied().unwrap_or(16) as u32;
    Workload {
        name: "concurrency-sweep",
        // Two processes, two accept queues: at 10,000 connects one accept loop behind one
        // backlog (4,096 here) was the bottleneck, not the client.
        origin_processes: profile.pick(1, 2),
        max_rounds: None,
        entrants: Entrants::BuiltIn,
        description: "in-flight limit C against wall and memory, N = 4·C URLs",
        site: concurrency_site(max_n, delay_ms),
        cells: limits
            .iter()
            .map(|&c| Cell {
                parameter: c.to_string(),
                job: Box::new(move |site, _| {
                    list_job(site, 4 * c as u32, c)
                        .timeout(Duration::from_secs(30))
                        .build()
                        .expect("valid job")
                }),
                ideal_secs: Some(4.0 * delay_ms / 1e3),
            })
            .collect(),
    }
}

/// Past C10K, to C100K: C URLs all in flight at once, each answered after a delay long enough
/// that the connection ramp ends well before the first answer, so the origin's peak in flight
/// proves that C requests really waited together. The ramp, 5,000 new requests per second, is
/// what two shared cores sustain: client and origin together spend ~300 µs of CPU on a new
/// connection and its request, and a faster ramp (20,000/s was tried) falls behind, so requests
/// queue in the kernel and the first ones finish before the last start. The delay is then 25 s
/// in the full profile (100,000 take 20 s to start; quick: 5 s, one cell of 20,000 in 4 s). One wave
/// (N = C) keeps a run near ramp + delay, and the workload runs at most 5 rounds (a run is close to
/// a minute). Several origin processes share the port (`SO_REUSEPORT`), each within its
/// open-file budget; a single-process client past its own budget is refused by name ("file
/// limit"), which the report shows as where that stack stops on this machine.
fn c100k(profile: Profile) -> Workload {
    const RAMP: f64 = 5_000.0;
    // Quick: one cell past the file limit, where only the multi-process and HTTP/2 backends run
    // (the rest are refused at once), so it adds about three minutes.
    let (limits, delay_ms): (&[usize], f64) =
        profile.pick((&[20_000], 5_000.0), (&[20_000, 50_000, 100_000], 25_000.0));
    let max_c = limits.iter().max().copied().unwrap_or(1);
    Workload {
        name: "c100k",
        entrants: Entrants::BuiltIn,
        origin_processes: crawlbench_origin::process::processes_for(max_c),
        max_rounds: Some(5),
        description: "C requests in flight at once (N = C, a delay of 25 s — quick: 5 s — behind \
                      a ramp of 5,000 new requests/s), to 100,000: the origin's peak in flight, \
                      wall ÷ ideal, memory per request",
        site: concurrency_site(max_c as u32, delay_ms),
        cells: limits
            .iter()
            .map(|&c| Cell {
                parameter: c.to_string(),
                job: Box::new(move |site, _| {
                    list_job(site, c as u32, c)
                        .ramp(RAMP)
                        .timeout(Duration::from_secs(90))
                        .build()
                        .expect("valid job")
                }),
                ideal_secs: Some(
                    NetworkModel::default().ideal_list_secs(
                        c,
                        c,
                        delay_ms / 1e3,
                        512,
                        ConnectionPolicy::Reuse,
                        false,
                    ) + NetworkModel::ramp_secs(c, c, Some(RAMP)),
                ),
            })
            .collect(),
    }
}

/// 5 % faulty URLs — resets, 500s, stalls past a 1 s timeout — with one retry: time and
/// outcomes under failure, every faulty URL still checked against its predicted outcome.
fn faults(profile: Profile) -> Workload {
    let (n, c) = profile.pick((400u32, 50usize), (2000, 100));
    // Stalls cost every run a timeout and its retry: the quick profile halves both.
    let timeout = profile.pick(Duration::from_millis(500), Duration::from_secs(1));
    Workload {
        name: "faults",
        entrants: Entrants::BuiltIn,
        origin_processes: 1,
        max_rounds: None,
        description: "5 % resets, 500s and stalls past the timeout (1 s; quick 0.5 s), one retry",
        site: SiteSpec {
            pages: n,
            latency: fixed(20.0),
            faults: "reset=2%,500=1.5%,stall=1.5%"
                .parse()
                .expect("valid profile"),
            stall_ms: 30_000,
            ..Default::default()
        },
        cells: vec![Cell {
            parameter: n.to_string(),
            job: Box::new(move |site, _| {
                list_job(site, n, c)
                    .timeout(timeout)
                    .retries(1)
                    .build()
                    .expect("valid job")
            }),
            ideal_secs: None,
        }],
    }
}

/// A job in words, for reports.
pub fn describe(job: &CrawlJob, site: &SiteSpec) -> String {
    use crawlbench_core::Workload as Kind;
    let what = match job.workload() {
        Kind::List { urls } if job.echo_argument().is_some() => format!(
            "list of {} httpbin-style /get?a=N echoes, each body's echo checked",
            urls.len()
        ),
        Kind::List { urls } => format!("list of {} URLs", urls.len()),
        Kind::Crawl { .. } if site.hosts > 1 => format!(
            "crawl of a {}-page site over {} hosts ({}), {} per host, robots.txt {}",
            site.pages,
            site.hosts,
            site.host_naming,
            job.rules()
                .politeness
                .connections
                .map_or("no limit".to_owned(), |k| format!("{k} in flight")),
            if job.rules().robots.obeys() {
                "obeyed"
            } else {
                "ignored"
            }
        ),
        Kind::Crawl { .. } => format!("crawl of a {}-page site", site.pages),
    };
    format!(
        "{what}, {} in flight, latency {}, faults {}, {}-byte pages, {}, {} connections, {}",
        job.concurrency(),
        site.latency,
        site.faults,
        site.body_bytes,
        match site.tls {
            Some(key) => format!("HTTPS ({})", key.as_str()),
            None => "plain HTTP".to_owned(),
        },
        job.connections(),
        site.network
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_backends_run_only_where_admitted_and_the_reference_everywhere() {
        let entrants = |name: &str| workload(name, Profile::Quick).unwrap().entrants;
        for name in NAMES {
            let e = entrants(name);
            assert!(e.admits("tokio-reqwest", false, "tokio-reqwest"), "{name}");
            assert!(
                !e.admits("distributed-redis", false, "tokio-reqwest"),
                "{name}: a host layout is a workload's to state"
            );
            let runs_python = e.admits("py-aiohttp", true, "tokio-reqwest");
            let expected = matches!(name, "seed-curve" | "latency-list" | "throughput" | "crawl");
            assert_eq!(runs_python, expected, "{name}");
        }
        // The curve is the original's stacks: a built-in backend outside them sits it out, the
        // reference does not.
        let curve = entrants("seed-curve");
        assert!(!curve.admits("smol-hyper", false, "tokio-reqwest"));
        assert!(curve.admits("threadpool-ureq", false, "tokio-reqwest"));
        assert!(curve.admits("smol-hyper", false, "smol-hyper"));
        assert!(!entrants("tls").admits("ext-tokio-st-reqwest", true, "tokio-reqwest"));
        let throughput = entrants("throughput");
        assert!(throughput.admits("ext-tokio-st-reqwest", true, "tokio-reqwest"));
        assert!(!throughput.admits("py-requests-threads", true, "tokio-reqwest"));
        assert!(throughput.admits("smol-hyper", false, "tokio-reqwest"));
        assert!(entrants("tls").admits("smol-hyper", false, "tokio-reqwest"));
    }

    #[test]
    fn the_seed_curve_steps_n_by_six_up_to_114() {
        let full = workload("seed-curve", Profile::Full).unwrap();
        let ns: Vec<String> = full.cells.iter().map(|c| c.parameter.clone()).collect();
        let expected: Vec<String> = (1..=19).map(|i| (6 * i).to_string()).collect();
        assert_eq!(ns, expected);
        assert_eq!(full.rounds(11), 3);
        let quick = workload("seed-curve", Profile::Quick).unwrap();
        let ns: Vec<&str> = quick.cells.iter().map(|c| c.parameter.as_str()).collect();
        assert_eq!(ns, ["6", "60", "114"]);
    }
}
