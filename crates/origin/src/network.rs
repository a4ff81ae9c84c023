//! The network a request crosses, modelled by the origin: round trips, bandwidth and TLS.
//!
//! This kernel has no `netem`, and loopback has no distance, so the origin applies the costs a
//! real network would, at the points where a real network applies them, by delaying its own
//! reads and writes (timers, never blocked threads). One round trip (`rtt`) is charged:
//! - **per new connection, for TCP**: the origin reads nothing from a connection until `rtt`
//!   after accepting it (SYN → SYN-ACK → the request can only arrive a round trip later);
//! - **per new connection, for TLS 1.3**: another `rtt` before the server's handshake flight
//!   (ClientHello → ServerHello…Finished);
//! - **per request**: `rtt` on top of the site's own delay before the response (the request's
//!   half-trip there and the response's half-trip back).
//!
//! So a fresh plain-text connection costs 2 RTT + delay, a fresh TLS one 3 RTT + delay, and a
//! reused one 1 RTT + delay: a client that reuses connections saves exactly what it would on a
//! real network. An optional per-connection `bandwidth` paces the origin's writes, so large
//! bodies take `bytes ÷ bandwidth` longer. [`NetworkModel::ideal_list_secs`] is the one place the
//! ideal makespan of a list is computed from this model; every report shows it next to the
//! measurement. [`NetworkModel::ideal_polite_crawl_secs`] is its counterpart for a crawl that
//! spares each host (per-host connections and delay): a lower bound, not a schedule.

use std::{fmt, time::Duration};

use crawlbench_core::ConnectionPolicy;
use serde::{Deserialize, Serialize};

use crate::site::parse_ms;

/// The modelled network between client and origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkModel {
    /// Round-trip time in milliseconds (0: loopback as it is).
    #[serde(default)]
    pub rtt_ms: f64,
    /// Per-connection bandwidth cap in bytes per second, if any.
    #[serde(default)]
    pub bandwidth_bytes_per_sec: Option<u64>,
}

/// The accepted RTT range, in milliseconds.
const MAX_RTT_MS: f64 = 10_000.0;
/// The accepted bandwidth range, in bytes per second.
const BANDWIDTH_RANGE: std::ops::RangeInclusive<u64> = 1_000..=100_000_000_000;

impl NetworkModel {
    /// One round trip.
    pub fn rtt(&self) -> Duration {
        Duration::from_secs_f64(self.rtt_ms / 1e3)
    }

    /// Round trips a new connection costs before its first request can be read: TCP's, plus
    /// TLS 1.3's when `tls`.
    pub fn setup_round_trips(tls: bool) -> u32 {
        1 + u32::from(tls)
    }

    /// Seconds to send `bytes` at the bandwidth cap (0 without one).
    pub fn transfer_secs(&self, bytes: u64) -> f64 {
        self.bandwidth_bytes_per_sec
            .map_or(0.0, |bw| bytes as f64 / bw as f64)
    }

    /// The ideal makespan of a list of `n` URLs with `concurrency` in flight, each answered
    /// after `delay_secs` with a `body_bytes` body: ⌈n ÷ c⌉ waves of (RTT + delay + transfer),
    /// plus the connection set-up round trips — once (`reuse`: every connection opens in the
    /// first wave) or in every wave (`fresh`).
    pub fn ideal_list_secs(
        &self,
        n: usize,
        concurrency: usize,
        delay_secs: f64,
        body_bytes: u64,
        policy: ConnectionPolicy,
        tls: bool,
    ) -> f64 {
        let waves = n.div_ceil(concurrency.max(1)) as f64;
        let rtt = self.rtt_ms / 1e3;
        let setup = f64::from(Self::setup_round_trips(tls)) * rtt;
        let per_wave = rtt + delay_secs + self.transfer_secs(body_bytes);
        match policy {
            ConnectionPolicy::Reuse => setup + waves * per_wave,
            ConnectionPolicy::Fresh => waves * (setup + per_wave),
        }
    }

    /// What a connection ramp ([`crawlbench_core::CrawlJob::ramp`]) adds to a list's ideal
    /// makespan: the last of the first wave's `min(n, concurrency)` requests starts
    /// `(min(n, c) − 1) ÷ ramp` seconds after the first, and every later wave follows it by one
    /// request time — so with requests of equal length the ramp adds exactly this, once.
    pub fn ramp_secs(n: usize, concurrency: usize, ramp: Option<f64>) -> f64 {
        ramp.map_or(0.0, |per_sec| {
            n.min(concurrency).saturating_sub(1) as f64 / per_sec
        })
    }

    /// A lower bound on the makespan of a polite crawl that requests `pages_per_host[h]` URLs
    /// of host `h` (see `Site::reachable_per_host`), `concurrency` in flight overall, at most
    /// `per_host_connections` (`None`: no limit but the overall one) in flight at one host, and
    /// `per_host_delay` between two requests' starts at one host, each request answered after
    /// `latency` (the site's delay); `depth` is the longest chain of pages that must be fetched
    /// one after another (`Site::crawl_depth`). One request costs `one = RTT + latency` (on a
    /// connection already open; set-up round trips and transfer are left out, so it stays a
    /// bound). The makespan is at least the largest of:
    /// - all requests in waves of `concurrency`: `⌈Σ pages ÷ concurrency⌉ · one`;
    /// - per host, its requests in waves of `k = min(per_host_connections, concurrency)`:
    ///   `⌈pages ÷ k⌉ · one`;
    /// - per host, its requests spaced by the delay: `(pages − 1) · delay + one`;
    /// - the chain of links: `depth · one`.
    pub fn ideal_polite_crawl_secs(
        &self,
        pages_per_host: &[u64],
        concurrency: usize,
        per_host_connections: Option<usize>,
        per_host_delay: Duration,
        latency: Duration,
        depth: u32,
    ) -> f64 {
        let one = self.rtt_ms / 1e3 + latency.as_secs_f64();
        let concurrency = concurrency.max(1) as u64;
        let per_host =
            per_host_connections.map_or(concurrency, |k| (k.max(1) as u64).min(concurrency));
        let total: u64 = pages_per_host.iter().sum();
        let mut bound = total.div_ceil(concurrency) as f64 * one;
        for &pages in pages_per_host.iter().filter(|p| **p > 0) {
            bound = bound.max(pages.div_ceil(per_host) as f64 * one);
            bound = bound.max((pages - 1) as f64 * per_host_delay.as_secs_f64() + one);
        }
        bound.max(f64::from(depth) * one)
    }

    /// Checks the ranges; the message names what is accepted.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=MAX_RTT_MS).contains(&self.rtt_ms) {
            return Err(format!(
                "invalid rtt: {}ms (accepted: 0 to 10s, e.g. 100ms)",
                self.rtt_ms
            ));
        }
        if let Some(bw) = self.bandwidth_bytes_per_sec
            && !BANDWIDTH_RANGE.contains(&bw)
        {
            return Err(format!(
                "invalid bandwidth: {bw} bytes/s (accepted: 1KB/s to 100GB/s)"
            ));
        }
        Ok(())
    }
}

impl fmt::Display for NetworkModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rtt {}ms", self.rtt_ms)?;
        match self.bandwidth_bytes_per_sec {
            Some(bw) => write!(f, ", bandwidth {}", format_bandwidth(bw)),
            None => f.write_str(", bandwidth unlimited"),
        }
    }
}

/// Parses an RTT: `0`, `100ms`, `0.15s`, `250us` (0 to 10 s).
pub fn parse_rtt(s: &str) -> Result<f64, String> {
    let accepted = "accepted: 0, 100ms, 0.15s, 250us — 0 to 10s";
    let ms = if s.trim() == "0" {
        Some(0.0)
    } else {
        parse_ms(s)
    };
    match ms {
        Some(ms) if ms <= MAX_RTT_MS => Ok(ms),
        Some(_) => Err(format!("rtt {s:?} is out of range ({accepted})")),
        None => Err(format!("invalid rtt {s:?} ({accepted})")),
    }
}

/// Parses a bandwidth in bytes or bits per second: `1MB/s`, `512KB/s`, `100Mbit/s`, `2GB/s`
/// (decimal units: 1 MB = 10⁶ bytes), from 1 KB/s to 100 GB/s.
pub fn parse_bandwidth(s: &str) -> Result<u64, String> {
    let accepted = "accepted: 512KB/s, 1MB/s, 2GB/s, 100Mbit/s, 1Gbit/s — 1KB/s to 100GB/s";
    let bad = || format!("invalid bandwidth {s:?} ({accepted})");
    let t = s.trim();
    let units: [(&str, f64); 8] = [
        ("Gbit/s", 1e9 / 8.0),
        ("Mbit/s", 1e6 / 8.0),
        ("Kbit/s", 1e3 / 8.0),
        ("kbit/s", 1e3 / 8.0),
        ("GB/s", 1e9),
        ("MB/s", 1e6),
        ("KB/s", 1e3),
        ("B/s", 1.0),
    ];
    let (num, scale) = units
        .iter()
        .find_map(|(suffix, scale)| t.strip_suffix(suffix).map(|n| (n, *scale)))
        .ok_or_else(bad)?;
    let v: f64 = num.trim().parse().map_err(|_| bad())?;
    let bytes = v * scale;
    if !bytes.is_finite() || bytes < *BANDWIDTH_RANGE.start() as f64 {
        return Err(format!("bandwidth {s:?} is out of range ({accepted})"));
    }
    if bytes > *BANDWIDTH_RANGE.end() as f64 {
        return Err(format!("bandwidth {s:?} is out of range ({accepted})"));
    }
    Ok(bytes.round() as u64)
}

/// `1.5MB/s`-style text for a bandwidth in bytes per second.
pub fn format_bandwidth(bytes_per_sec: u64) -> String {
    let b = bytes_per_sec as f64;
    if b >= 1e9 {
        format!("{}GB/s", b / 1e9)
    } else if b >= 1e6 {
        format!("{}MB/s", b / 1e6)
    } else {
        format!("{}KB/s", b / 1e3)
    }
}

/// The key type of the origin's certificate. The server's handshake cost differs several-fold
/// between them (an RSA-2048 signature costs far more than an ECDSA P-256 one), so it is a knob.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsKey {
    /// ECDSA on P-256 with SHA-256 (the default).
    #[default]
    EcdsaP256,
    /// RSA 2048 with SHA-256 (PKCS#1 v1.5 signatures on the certificate, PSS in TLS 1.3).
    Rsa2048,
}

impl TlsKey {
    /// `ecdsa-p256` or `rsa-2048`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::Rsa2048 => "rsa-2048",
        }
    }
}

impl std::str::FromStr for TlsKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ecdsa-p256" | "ecdsa" => Ok(Self::EcdsaP256),
            "rsa-2048" | "rsa" => Ok(Self::Rsa2048),
            other => Err(format!(
                "unknown TLS key {other:?} (accepted: ecdsa-p256, rsa-2048)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rtt_and_bandwidth_with_accepted_forms() {
        assert_eq!(parse_rtt("100ms"), Ok(100.0));
        assert_eq!(parse_rtt("0.15s"), Ok(150.0));
        assert_eq!(parse_rtt("0"), Ok(0.0));
        assert!(
            parse_rtt("fast")
                .unwrap_err()
                .contains("accepted: 0, 100ms")
        );
        assert!(parse_rtt("11s").unwrap_err().contains("out of range"));
        assert_eq!(parse_bandwidth("1MB/s"), Ok(1_000_000));
        assert_eq!(parse_bandwidth("100Mbit/s"), Ok(12_500_000));
        assert_eq!(parse_bandwidth("512KB/s"), Ok(512_000));
        assert!(parse_bandwidth("1MB").unwrap_err().contains("accepted"));
        assert!(
            parse_bandwidth("10B/s")
                .unwrap_err()
                .contains("out of range")
        );
        assert_eq!(format_bandwidth(1_500_000), "1.5MB/s");
        assert_eq!("rsa".parse(), Ok(TlsKey::Rsa2048));
        assert!("dsa".parse::<TlsKey>().unwrap_err().contains("ecdsa-p256"));
    }

    #[test]
    fn ideal_charges_setup_once_when_reused_and_per_wave_when_fresh() {
        let net = NetworkModel {
            rtt_ms: 100.0,
            bandwidth_bytes_per_sec: Some(1_000_000),
        };
        // 4 waves of (0.1 RTT + 0.05 delay + 0.01 transfer).
        let reuse = net.ideal_list_secs(8, 2, 0.05, 10_000, ConnectionPolicy::Reuse, true);
        assert!((reuse - (0.2 + 4.0 * 0.16)).abs() < 1e-9, "{reuse}");
        let fresh = net.ideal_list_secs(8, 2, 0.05, 10_000, ConnectionPolicy::Fresh, false);
        assert!((fresh - 4.0 * (0.1 + 0.16)).abs() < 1e-9, "{fresh}");
        assert!(NetworkModel::default().validate().is_ok());
        let bad = NetworkModel {
            rtt_ms: -1.0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("accepted"));
    }

    #[test]
    fn ideal_polite_crawl_takes_the_tightest_of_its_bounds() {
        let net = NetworkModel {
            rtt_ms: 10.0,
            bandwidth_bytes_per_sec: None,
        };
        let ms = Duration::from_millis;
        let one = 0.010 + 0.040;
        let ideal = |per_host: &[u64], c: usize, k: Option<usize>, delay: u64, depth: u32| {
            net.ideal_polite_crawl_secs(per_host, c, k, ms(delay), ms(40), depth)
        };
        let near = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // No per-host limit: 300 requests in waves of 100.
        assert!(near(ideal(&[100, 100, 100], 100, None, 0, 1), 3.0 * one));
        // Two connections per host: the 100 requests of one host take 50 waves.
        assert!(near(
            ideal(&[100, 100, 100], 100, Some(2), 0, 1),
            50.0 * one
        ));
        // A per-host limit above the overall one changes nothing.
        assert!(near(
            ideal(&[100, 100, 100], 10, Some(64), 0, 1),
            30.0 * one
        ));
        // 100 ms between a host's requests: 99 gaps, then one request.
        assert!(near(ideal(&[100, 5], 100, None, 100, 1), 9.9 + one));
        // A deep chain of links outlasts everything else.
        assert!(near(ideal(&[10], 100, None, 0, 40), 40.0 * one));
        // Nothing to fetch: only the chain, which is empty.
        assert!(near(ideal(&[0, 0], 4, Some(1), 1000, 0), 0.0));
    }
}
