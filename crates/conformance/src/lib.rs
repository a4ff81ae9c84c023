//! The conformance suite: the checks every crawlbench backend must pass, present and future.
//!
//! A backend crate runs all of them with one line in `tests/conformance.rs`:
//!
//! ```ignore
//! crawlbench_conformance::conformance_suite!(my_backend::MyBackend::new());
//! ```
//!
//! The macro expands to one `#[test]` per check (so failures are named and checks run in
//! parallel), plus one run through `Box<dyn Backend>` as the registry holds it. Each check starts
//! its own in-process origin on `127.0.0.1:0` and verifies the run against the origin's ground
//! truth. Backend differences are data ([`BackendInfo::max_concurrency`]), never skips.
//!
//! Bounds on time are generous (a shared 2-core machine): they catch hangs, not slowness.
//! Speed is the benches' business.
//!
//! The individual checks are public so a backend can also call them directly; their signatures
//! are not a stable API.

pub mod lost_worker;
mod resolve;

use std::time::{Duration, Instant};

pub use crawlbench_core::Backend;
use crawlbench_core::{
    BackendError, ConnectionPolicy, CrawlJob, CrawlReport, ErrorKind, Outcome, Politeness,
    RobotsRule, report::OriginStats,
};
use crawlbench_origin::{
    HostNaming, LatencyModel, NetworkModel, OriginConfig, RunningOrigin, SiteSpec, TlsKey,
    site::Fault,
};
pub use resolve::{
    one_plain_connection, resolve_map_connects_to_the_address_and_sends_the_name,
    resolve_map_name_is_the_tls_server_name, two_tls_hosts,
};
use url::Url;

/// Expands to one `#[test]` per conformance check for the backend built by `$backend`.
///
/// `conformance_suite!(backend, skip_unless = reason)` runs each check only when `reason` (an
/// `Option<String>`, evaluated per test) is `None`, and otherwise prints it and passes: for
/// backends that need something a machine may lack (network namespaces, a service), whose own
/// test decides whether a missing capability may skip there.
#[macro_export]
macro_rules! conformance_suite {
    ($backend:expr) => {
        $crate::conformance_suite!($backend, skip_unless = None::<String>);
    };
    ($backend:expr, skip_unless = $skip:expr) => {
        $crate::conformance_suite!(@tests $backend, $skip;
            list_matches_ground_truth,
            crawl_matches_ground_truth,
            crawl_respects_max_pages,
            crawl_through_faults_matches_ground_truth,
            hosts_by_name_crawl_obeys_per_host_limits_and_robots,
            hosts_by_address_crawl_keeps_the_per_host_delay,
            resolve_map_connects_to_the_address_and_sends_the_name,
            resolve_map_name_is_the_tls_server_name,
            faults_yield_expected_outcomes,
            no_retries_when_none_allowed,
            concurrency_limit_is_reached_and_never_exceeded,
            stalled_server_never_hangs_the_run,
            refused_connections_are_outcomes,
            over_limit_job_is_refused,
            https_matches_ground_truth,
            fresh_connections_open_one_per_request,
            untrusted_certificate_is_a_tls_outcome,
            round_trips_are_charged_per_connection,
        );
        #[test]
        fn runs_through_box_dyn_backend() {
            if let Some(why) = $skip {
                eprintln!("runs_through_box_dyn_backend: skipped: {why}");
                return;
            }
            let boxed: Box<dyn $crate::Backend> = Box::new($backend);
            $crate::list_matches_ground_truth(&*boxed);
        }
    };
    (@tests $backend:expr, $skip:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                if let Some(why) = $skip {
                    eprintln!("{}: skipped: {why}", stringify!($check));
                    return;
                }
                $crate::$check(&$backend);
            }
        )*
    };
}

fn start(spec: SiteSpec) -> RunningOrigin {
    RunningOrigin::start(
        spec,
        OriginConfig {
            threads: 2,
            ..Default::default()
        },
    )
    .expect("the test origin starts on 127.0.0.1:0")
}

/// Runs `job` on `backend` against `origin`, verifies it, and checks the report's own
/// consistency. Panics with the differences when anything is off.
pub fn run_and_verify(
    backend: &dyn Backend,
    origin: &RunningOrigin,
    job: &CrawlJob,
) -> CrawlReport {
    let name = backend.info().name;
    // The origin is shared behind `&`; `verified_run` resets it and reads its counters.
    let mut origin_ref = origin;
    let report = crawlbench_origin::verified_run(backend, job, &mut origin_ref)
        .unwrap_or_else(|e| panic!("{name}: run failed: {e}"));
    let verification = report
        .verification
        .clone()
        .unwrap_or_else(|| panic!("{name}: the run was interrupted, so it was not verified"));
    let stats: OriginStats = report
        .origin
        .clone()
        .expect("verified_run reads the origin");
    assert_verified(&name, &verification);
    assert_eq!(report.urls, report.outcomes.len(), "{name}: urls count");
    assert_eq!(
        job.progress().done(),
        report.urls as u64,
        "{name}: progress counter"
    );
    assert_eq!(
        stats.requests, report.requests,
        "{name}: the origin served {} requests but the backend reported {} attempts \
         (a client retried or fetched behind the core's back)",
        stats.requests, report.requests
    );
    assert!(
        report.peak_in_flight <= job.concurrency(),
        "{name}: peak above the limit"
    );
    assert_measurements_hold(&name, origin, job, &report);
    report
}

/// Panics with the differences when `verification` failed, naming `who`.
pub(crate) fn assert_verified(who: &str, verification: &crawlbench_core::Verification) {
    assert!(
        verification.verified,
        "{who}: verification failed ({} differences, mode {}):\n  {}",
        verification.total_differences,
        verification.mode,
        verification.differences.join("\n  ")
    );
}

/// The shortest delay the origin puts before any reply (stalls only lengthen it).
fn min_origin_delay(origin: &RunningOrigin) -> Duration {
    let ms = match origin.site().spec().latency {
        LatencyModel::Fixed { ms } => ms,
        LatencyModel::Uniform { min_ms, .. } => min_ms,
        LatencyModel::LogNormal { .. } => 0.0,
    };
    Duration::from_secs_f64(ms.max(0.0) / 1e3)
}

/// This machine's physical memory (`MemTotal`): no process's peak RSS can exceed it.
fn mem_total_bytes() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo is readable");
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .expect("/proc/meminfo has MemTotal")
        * 1024
}

/// The report's measurements are plausible, each checked so that it fails when the measurement
/// breaks (a zero, a unit slip, a clock started in the wrong place), not merely when it is
/// negative. Bounds are generous: other tests run alongside in this process, which only adds CPU
/// and memory.
fn assert_measurements_hold(
    name: &str,
    origin: &RunningOrigin,
    job: &CrawlJob,
    report: &CrawlReport,
) {
    const MIB: u64 = 1 << 20;
    let r = &report.resources;
    assert!(report.wall_secs > 0.0, "{name}: wall {}", report.wall_secs);
    // CPU: hundreds of HTTP exchanges cost far more than the kernel's accounting resolution.
    if report.urls >= 200 {
        assert!(
            r.total_cpu_secs() > 0.0,
            "{name}: no CPU for {} URLs: {r:?}",
            report.urls
        );
    }
    // This process's threads cannot outrun its cores (slack for accounting granularity).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    assert!(
        r.cpu_user_secs + r.cpu_sys_secs <= report.wall_secs * cores * 2.0 + 0.25,
        "{name}: more CPU than {cores} cores give in {} s: {r:?}",
        report.wall_secs
    );
    // Memory: a running process has more than 1 MiB resident, and none more than the machine.
    let ram = mem_total_bytes();
    assert!(
        (MIB..=ram).contains(&r.peak_rss_bytes),
        "{name}: peak RSS {} bytes (machine: {ram}): {r:?}",
        r.peak_rss_bytes
    );
    let workers = u64::from(r.worker_processes);
    assert!(
        (workers * MIB..=workers * ram).contains(&r.workers_peak_rss_sum_bytes),
        "{name}: {workers} worker processes with peaks summing to {} bytes: {r:?}",
        r.workers_peak_rss_sum_bytes
    );
    assert_eq!(
        r.peak_rss_sum_bytes(),
        r.peak_rss_bytes + r.workers_peak_rss_sum_bytes,
        "{name}: the sum of per-process peaks"
    );
    // Latency: percentiles in order, the median no faster than the origin's delay.
    let l = &report.latency;
    assert!(
        l.p50_us <= l.p90_us && l.p90_us <= l.p99_us && l.p99_us <= l.max_us,
        "{name}: percentiles out of order: {l:?}"
    );
    let floor = min_origin_delay(origin).min(job.timeout());
    assert!(
        l.p50_us >= floor.as_micros() as u64,
        "{name}: median latency {} µs below the origin's {floor:?} delay",
        l.p50_us
    );
    // Per URL: an HTTP exchange takes time, and dispatch-to-outcome latency contains the in-task
    // service time.
    for o in &report.outcomes {
        assert!(
            o.attempts == 0 || o.latency_us > 0,
            "{name}: {} fetched in no time: {o:?}",
            o.url
        );
        assert!(
            o.latency_us >= o.service_us,
            "{name}: {} took {} µs from dispatch but {} µs in service",
            o.url,
            o.latency_us,
            o.service_us
        );
    }
}

/// A URL list matches the ground truth: every URL once, right status, digest and links.
pub fn list_matches_ground_truth(backend: &dyn Backend) {
    let origin = start(SiteSpec {
        pages: 300,
        latency: "uniform:0ms..4ms".parse().expect("valid"),
        ..Default::default()
    });
    let urls = origin.site().list_urls(200).expect("site has 300 pages");
    let job = CrawlJob::list(urls)
        .concurrency(16)
        .build()
        .expect("valid job");
    let report = run_and_verify(backend, &origin, &job);
    assert_eq!(report.successes, 200);
    assert!(
        report.bytes > 200 * 1000,
        "bodies were read: {}",
        report.bytes
    );
}

/// A crawl that can reach the whole site fetches exactly the reachable set: in scope (no
/// `/outside/`, no other host), deduplicated (fragments and spellings of one URL), 404s and
/// non-HTML assets included.
pub fn crawl_matches_ground_truth(backend: &dyn Backend) {
    let origin = start(SiteSpec {
        pages: 400,
        links_per_page: 6,
        ..Default::default()
    });
    let job = CrawlJob::crawl(vec![origin.site().seed_url()], 100_000)
        .concurrency(16)
        .build()
        .expect("valid job");
    let report = run_and_verify(backend, &origin, &job);
    assert!(
        report.urls > 400,
        "pages + assets + broken links: {}",
        report.urls
    );
    let scope_prefix = origin.base_url().join("/site/").expect("valid");
    for o in &report.outcomes {
        assert!(
            o.url.as_str().starts_with(scope_prefix.as_str()),
            "out of scope: {}",
            o.url
        );
        assert!(o.url.fragment().is_none(), "fragment kept: {}", o.url);
    }
    assert!(
        report.statuses.get(&404).copied().unwrap_or(0) > 0,
        "broken links reached"
    );
}

/// A crawl stops at exactly `max_pages`, every page reachable from pages it fetched.
pub fn crawl_respects_max_pages(backend: &dyn Backend) {
    let origin = start(SiteSpec {
        pages: 400,
        latency: "1ms".parse().expect("valid"),
        ..Default::default()
    });
    let job = CrawlJob::crawl(vec![origin.site().seed_url()], 60)
        .concurrency(8)
        .build()
        .expect("valid job");
    let report = run_and_verify(backend, &origin, &job);
    assert_eq!(report.urls, 60);
}

/// A crawl through redirects, redirect loops, oversized bodies, 500s and 503s fetches each URL
/// once: a redirect is a 3xx outcome whose target the frontier admits once like any link (a
/// target also linked elsewhere is not fetched twice, a loop ends at the first URL seen again),
/// and an oversized page is a `body_too_large` outcome.
pub fn crawl_through_faults_matches_ground_truth(backend: &dyn Backend) {
    let origin = start(SiteSpec {
        pages: 300,
        links_per_page: 6,
        faults: "redirect=8%,redirect-loop=5%,oversize=3%,500=3%,503-once=3%"
            .parse()
            .expect("valid"),
        oversize_bytes: 2 << 20,
        ..Default::default()
    });
    let job = CrawlJob::crawl(vec![origin.site().seed_url()], 100_000)
        .concurrency(16)
        .max_body_bytes(1 << 20)
        .build()
        .expect("valid job");
    let report = run_and_verify(backend, &origin, &job);
    let redirects = report.outcomes.iter().filter(|o| {
        (300..400).contains(&match o.outcome {
            Outcome::Status(s) => s,
            Outcome::Error(_) => 0,
        })
    });
    assert!(redirects.count() > 0, "no redirect outcome in the crawl");
    let mut urls: Vec<&str> = report.outcomes.iter().map(|o| o.url.as_str()).collect();
    urls.sort_unstable();
    let fetched = urls.len();
    urls.dedup();
    assert_eq!(urls.len(), fetched, "a URL was fetched twice");
    assert!(
        report
            .errors
            .get(&ErrorKind::BodyTooLarge)
            .copied()
            .unwrap_or(0)
            > 0,
        "no body_too_large outcome: {:?}",
        report.errors
    );
}

/// A crawl over name-based virtual hosts: every name is resolved through the job's resolve map
/// (there is no DNS for them) and sent as the Host header (a wrong one is a 404 that fails
/// verification); at most 2 requests in flight per host (the origin counts them); each host's
/// robots.txt fetched once and obeyed.
pub fn hosts_by_name_crawl_obeys_per_host_limits_and_robots(backend: &dyn Backend) {
    let origin = start(SiteSpec {
        pages: 240,
        hosts: 5,
        host_naming: HostNaming::Names,
        robots: true,
        latency: "2ms".parse().expect("valid"),
        ..Default::default()
    });
    let job = origin
        .site()
        .crawl_job(100_000)
        .concurrency(16)
        .politeness(Politeness {
            connections: Some(2),
            delay: Duration::ZERO,
        })
        .robots(RobotsRule::Obey)
        .build()
        .expect("valid job");
    let report = run_and_verify(backend, &origin, &job);
    let stats = report.origin.as_ref().expect("origin stats");
    assert_eq!(stats.hosts, 5);
    assert!(stats.host_peak_in_flight <= 2, "{stats:?}");
    let robots = report
        .outcomes
        .iter()
        .filter(|o| o.url.path() == "/robots.txt")
        .count();
    assert_eq!(robots, 5, "one robots.txt per host");
    assert!(
        report
            .errors
            .get(&ErrorKind::RobotsDisallowed)
            .copied()
            .unwrap_or(0)
            > 0,
        "no URL skipped by robots.txt: {:?}",
        report.errors
    );
}

/// A crawl over hosts on distinct loopback addresses (each its own listener) with 20 ms between
/// the starts of two requests to one host: the origin's arrival times show the spacing.
pub fn hosts_by_address_crawl_keeps_the_per_host_delay(backend: &dyn Backend) {
    let origin = start(SiteSpec {
        pages: 45,
        links_per_page: 3,
        hosts: 3,
        host_naming: HostNaming::Addresses,
        latency: "1ms".parse().expect("valid"),
        ..Default::default()
    });
    let job = origin
        .site()
        .crawl_job(100_000)
        .concurrency(8)
        .politeness(Politeness {
            connections: None,
            delay: Duration::from_millis(20),
        })
        .build()
        .expect("valid job");
    let report = run_and_verify(backend, &origin, &job);
    let stats = report.origin.as_ref().expect("origin stats");
    assert!(
        stats.host_arrivals.iter().all(|a| a.requests >= 10),
        "every host crawled: {:?}",
        stats.host_arrivals
    );
}

fn fault_site() -> SiteSpec {
    SiteSpec {
        pages: 300,
        faults: "63%".parse().expect("valid"),
        stall_ms: 30_000,
        oversize_bytes: 2 << 20,
        ..Default::default()
    }
}

/// Every fault kind gives its outcome: 5xx, resets, stalls past the timeout, truncated and
/// oversized bodies, redirects and loops; transient faults recover on the allowed retry.
pub fn faults_yield_expected_outcomes(backend: &dyn Backend) {
    let origin = start(fault_site());
    let job = CrawlJob::list(origin.site().list_urls(300).expect("300 pages"))
        .concurrency(32)
        .retries(1)
        .timeout(Duration::from_millis(800))
        .build()
        .expect("valid job");
    let report = run_and_verify(backend, &origin, &job);
    for kind in [
        ErrorKind::Reset,
        ErrorKind::Timeout,
        ErrorKind::Truncated,
        ErrorKind::BodyTooLarge,
        ErrorKind::RedirectLoop,
    ] {
        assert!(
            report.errors.get(&kind).copied().unwrap_or(0) > 0,
            "no {kind:?} outcome: {:?}",
            report.errors
        );
    }
    assert!(
        report.statuses.get(&500).copied().unwrap_or(0) > 0,
        "no 500 outcome"
    );
    let site = origin.site();
    for fault in [Fault::Status503Once, Fault::ResetOnce, Fault::Redirect] {
        let page = (1..300)
            .find(|p| site.fault(*p) == Some(fault))
            .expect("profile covers it");
        let o = report
            .outcomes
            .iter()
            .find(|o| o.url == site.page_url(page))
            .expect("reported");
        assert_eq!(
            (o.outcome.clone(), o.attempts),
            (Outcome::Status(200), 2),
            "{fault:?} on {}",
            o.url
        );
    }
}

/// With `retries = 0`, transient faults are final and nothing is attempted twice.
pub fn no_retries_when_none_allowed(backend: &dyn Backend) {
    let origin = start(fault_site());
    let job = CrawlJob::list(origin.site().list_urls(150).expect("pages"))
        .concurrency(24)
        .retries(0)
        .timeout(Duration::from_millis(800))
        .build()
        .expect("valid job");
    let report = run_and_verify(backend, &origin, &job);
    for o in &report.outcomes {
        let hops = u32::from(o.final_url != o.url);
        assert!(
            o.attempts <= 1 + hops + 2,
            "{}: {} attempts",
            o.url,
            o.attempts
        );
        if !matches!(o.outcome, Outcome::Error(ErrorKind::RedirectLoop)) {
            assert_eq!(o.attempts, 1 + hops, "{} retried: {:?}", o.url, o.outcome);
        }
    }
    assert!(
        report.statuses.get(&503).copied().unwrap_or(0) > 0,
        "503 is final without retries"
    );
}

/// On a list longer than the limit, the origin sees exactly `concurrency` requests at once:
/// the limit is reached (no hidden cap in a client pool or thread count) and never exceeded.
pub fn concurrency_limit_is_reached_and_never_exceeded(backend: &dyn Backend) {
    let origin = start(SiteSpec {
        pages: 100,
        latency: "150ms".parse().expect("valid"),
        ..Default::default()
    });
    let job = CrawlJob::list(origin.site().list_urls(72).expect("pages"))
        .concurrency(24)
        .build()
        .expect("valid job");
    let report = run_and_verify(backend, &origin, &job);
    let origin_peak = report.origin.as_ref().map_or(0, |o| o.peak_in_flight);
    assert_eq!(
        origin_peak, 24,
        "origin saw a peak of {origin_peak} concurrent requests, limit 24"
    );
    assert_eq!(report.peak_in_flight, 24);
}

/// A server that never answers costs each attempt the timeout, not a hang.
pub fn stalled_server_never_hangs_the_run(backend: &dyn Backend) {
    let origin = start(SiteSpec {
        pages: 21,
        faults: "stall=100%".parse().expect("valid"),
        stall_ms: 600_000,
        ..Default::default()
    });
    let urls: Vec<Url> = (1..21).map(|p| origin.site().page_url(p)).collect();
    let job = CrawlJob::list(urls)
        .concurrency(5)
        .retries(1)
        .timeout(Duration::from_millis(300))
        .build()
        .expect("valid job");
    let started = Instant::now();
    let report = run_and_verify(backend, &origin, &job);
    assert_eq!(report.errors.get(&ErrorKind::Timeout), Some(&20));
    // 20 URLs × 2 attempts × 0.3 s / 5 in flight = 2.4 s; anything near a minute is a hang.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

/// Nothing listening: each URL is a `connect` outcome after its retries, not a panic or error.
pub fn refused_connections_are_outcomes(backend: &dyn Backend) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let urls: Vec<Url> = (0..3)
        .map(|i| Url::parse(&format!("http://127.0.0.1:{port}/site/{i}.html")).expect("valid"))
        .collect();
    let job = CrawlJob::list(urls)
        .concurrency(2)
        .retries(1)
        .build()
        .expect("valid job");
    let report = backend
        .run(&job)
        .expect("a refused connection is an outcome, not a failed run");
    assert_eq!(report.urls, 3);
    for o in &report.outcomes {
        assert_eq!(
            o.outcome,
            Outcome::Error(ErrorKind::Connect),
            "{}: {:?}",
            o.url,
            o.error_detail
        );
        assert_eq!(o.attempts, 2);
    }
}

/// A job beyond the backend's declared limit is refused with a message naming the limit; a
/// backend without a limit runs a job far above the usual sizes' concurrency (more slots than
/// URLs) without trouble; one process with a socket per request is refused past its open-file
/// budget, naming the file limit.
pub fn over_limit_job_is_refused(backend: &dyn Backend) {
    let info = backend.info();
    let url = Url::parse("http://127.0.0.1:9/never-fetched").expect("valid");
    match info.max_concurrency {
        Some(max) => {
            let job = CrawlJob::list(vec![url.clone()])
                .concurrency(max + 1)
                .build()
                .expect("valid job");
            match backend.run(&job) {
                Err(err @ BackendError::Unsupported { .. }) => {
                    let msg = err.to_string();
                    assert!(
                        msg.contains(&max.to_string()),
                        "message names the limit: {msg}"
                    );
                }
                other => panic!(
                    "{}: expected a refusal above {max}, got {other:?}",
                    info.name
                ),
            }
        }
        None => {
            let origin = start(SiteSpec {
                pages: 10,
                ..Default::default()
            });
            let job = CrawlJob::list(origin.site().list_urls(10).expect("pages"))
                .concurrency(50_000)
                .build()
                .expect("valid job");
            let report = run_and_verify(backend, &origin, &job);
            assert_eq!(report.peak_in_flight, 10);
        }
    }
    // One process holding one socket per in-flight request stops at its open-file limit: a job
    // past it is refused by name before anything starts, never failed halfway on EMFILE.
    let one_socket_each =
        info.http == crawlbench_core::HttpVersion::Http1 && !info.model.spreads_over_processes();
    if let (true, Some(budget)) = (
        one_socket_each,
        crawlbench_core::resources::connection_budget(),
    ) {
        let urls = (0..=budget)
            .map(|i| url.join(&format!("/{i}")).expect("valid"))
            .collect();
        let job = CrawlJob::list(urls)
            .concurrency(budget + 1)
            .build()
            .expect("valid job");
        match backend.run(&job) {
            Err(err @ BackendError::Unsupported { .. }) => {
                let msg = err.to_string();
                assert!(msg.contains("file limit"), "{}: {msg}", info.name);
            }
            other => panic!(
                "{}: expected a file-limit refusal above {budget}, got {other:?}",
                info.name
            ),
        }
    }
}

/// Whether `backend` can do what `job` needs (`supported`, from its info); when it cannot, it
/// must refuse the job as unsupported, naming itself and `what` it lacks.
fn supports_or_refuses(backend: &dyn Backend, supported: bool, job: CrawlJob, what: &str) -> bool {
    if supported {
        return true;
    }
    let name = backend.info().name;
    match backend.run(&job) {
        Err(err @ BackendError::Unsupported { .. }) => {
            let msg = err.to_string();
            assert!(msg.contains(&name) && msg.contains(what), "{msg}");
        }
        other => panic!("{name}: lacks {what} but ran such a job: {other:?}"),
    }
    false
}

/// A backend without TLS refuses an `https://` job by name; returns whether it has TLS.
fn has_tls_or_refuses(backend: &dyn Backend) -> bool {
    let job = CrawlJob::list(vec![Url::parse("https://127.0.0.1:9/x").expect("valid")])
        .build()
        .expect("valid job");
    supports_or_refuses(backend, backend.info().tls.is_some(), job, "https")
}

/// Over HTTPS — the run's own CA as the only trusted root — a list through every fault kind and
/// a whole-site crawl match the ground truth, and every connection the origin accepted completed
/// a TLS handshake (checked by `verified_run` from the origin's counters).
pub fn https_matches_ground_truth(backend: &dyn Backend) {
    if !has_tls_or_refuses(backend) {
        return;
    }
    let origin = start(SiteSpec {
        tls: Some(TlsKey::EcdsaP256),
        ..fault_site()
    });
    let job = origin
        .site()
        .list_job(300)
        .expect("300 pages")
        .concurrency(32)
        .retries(1)
        // Long enough that 32 TLS handshakes at once in a debug build, beside the other tests,
        // never time out a healthy page (800 ms did, once, in CI: a retry the truth does not
        // expect); stalled pages still cost their timeouts.
        .timeout(Duration::from_secs(2))
        .build()
        .expect("valid job");
    let report = run_and_verify(backend, &origin, &job);
    let stats = report.origin.as_ref().expect("origin stats");
    assert!(stats.tls_handshakes > 0, "no TLS handshake: {stats:?}");
    assert!(report.errors.get(&ErrorKind::Reset).copied().unwrap_or(0) > 0);

    let origin = start(SiteSpec {
        pages: 300,
        tls: Some(TlsKey::EcdsaP256),
        ..Default::default()
    });
    let job = origin
        .site()
        .crawl_job(10_000)
        .concurrency(16)
        .build()
        .expect("valid job");
    run_and_verify(backend, &origin, &job);
}

/// A backend that does not implement `fresh` refuses such a job by name; returns whether it
/// implements it.
fn has_fresh_or_refuses(backend: &dyn Backend) -> bool {
    let job = CrawlJob::list(vec![Url::parse("http://127.0.0.1:9/x").expect("valid")])
        .connections(ConnectionPolicy::Fresh)
        .build()
        .expect("valid job");
    let supported = backend
        .info()
        .connection_policies
        .contains(&ConnectionPolicy::Fresh);
    supports_or_refuses(backend, supported, job, "fresh")
}

/// With `connections = fresh` the origin accepts one connection per request, in plain text and
/// over HTTPS (one handshake each); `verified_run` checks the counts against the policy.
pub fn fresh_connections_open_one_per_request(backend: &dyn Backend) {
    if !has_fresh_or_refuses(backend) {
        return;
    }
    let stats = fresh_list_run(
        backend,
        SiteSpec {
            pages: 200,
            latency: "uniform:0ms..4ms".parse().expect("valid"),
            ..Default::default()
        },
        16,
    );
    assert_eq!((stats.connections, stats.requests), (200, 200));
    if backend.info().tls.is_none() {
        return;
    }
    let stats = fresh_list_run(
        backend,
        SiteSpec {
            pages: 100,
            tls: Some(TlsKey::EcdsaP256),
            ..Default::default()
        },
        8,
    );
    assert_eq!((stats.connections, stats.tls_handshakes), (100, 100));
}

/// A verified `fresh` run over every page of `spec`'s site; the origin's counters.
fn fresh_list_run(backend: &dyn Backend, spec: SiteSpec, concurrency: usize) -> OriginStats {
    let pages = spec.pages;
    let origin = start(spec);
    let job = origin
        .site()
        .list_job(pages)
        .expect("pages")
        .concurrency(concurrency)
        .connections(ConnectionPolicy::Fresh)
        .build()
        .expect("valid job");
    let report = run_and_verify(backend, &origin, &job);
    report.origin.expect("origin stats")
}

/// Given another run's CA, every URL is a `tls` outcome (never retried, never trusted anyway)
/// and the run fails verification.
pub fn untrusted_certificate_is_a_tls_outcome(backend: &dyn Backend) {
    if !has_tls_or_refuses(backend) {
        return;
    }
    let spec = SiteSpec {
        pages: 10,
        tls: Some(TlsKey::EcdsaP256),
        ..Default::default()
    };
    let origin = start(spec.clone());
    let other = start(spec);
    let job = CrawlJob::list(origin.site().list_urls(10).expect("pages"))
        .trust_ca_pem(other.site().ca_pem().expect("TLS origin has a CA"))
        .concurrency(4)
        .retries(1)
        .build()
        .expect("valid job");
    let mut origin_ref = &origin;
    let report = crawlbench_origin::verified_run(backend, &job, &mut origin_ref)
        .expect("a failed handshake is an outcome, not a failed run");
    for o in &report.outcomes {
        assert_eq!(
            (o.outcome.clone(), o.attempts),
            (Outcome::Error(ErrorKind::Tls), 1),
            "{}: {:?}",
            o.url,
            o.error_detail
        );
    }
    let verdict = report.verification.expect("verified");
    assert!(!verdict.verified, "a run that trusted nothing verified");
}

/// The origin's round-trip model reaches the backend as a network would: a fresh HTTPS
/// connection costs 3 RTT before its response (TCP, TLS, the request), a reused one 1 RTT; the
/// wall time is never below the model's ideal.
pub fn round_trips_are_charged_per_connection(backend: &dyn Backend) {
    let tls = backend.info().tls.is_some();
    let rtt = Duration::from_millis(40);
    let spec = SiteSpec {
        pages: 16,
        tls: tls.then_some(TlsKey::EcdsaP256),
        network: NetworkModel {
            rtt_ms: 40.0,
            bandwidth_bytes_per_sec: None,
        },
        ..Default::default()
    };
    let setup = NetworkModel::setup_round_trips(tls);
    for policy in backend.info().connection_policies {
        let origin = start(spec.clone());
        let job = origin
            .site()
            .list_job(16)
            .expect("pages")
            .concurrency(4)
            .connections(policy)
            .build()
            .expect("valid job");
        let report = run_and_verify(backend, &origin, &job);
        let floor = match policy {
            ConnectionPolicy::Fresh => rtt * (setup + 1),
            ConnectionPolicy::Reuse => rtt,
        };
        for o in &report.outcomes {
            assert!(
                o.latency_us >= floor.as_micros() as u64,
                "{policy}: {} took {} µs, below the modelled {floor:?}",
                o.url,
                o.latency_us
            );
        }
        let ideal = spec.network.ideal_list_secs(16, 4, 0.0, 0, policy, tls);
        assert!(
            report.wall_secs >= ideal * 0.99,
            "{policy}: wall {} s below the ideal {ideal} s",
            report.wall_secs
        );
    }
}
