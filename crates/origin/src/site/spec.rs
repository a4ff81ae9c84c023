//! The site's parameters — its size, latency model, fault profile and hosts — and the seeded
//! hashes every pseudo-random choice is made with.
//!
//! Kept apart from serving and from the ground truth because both read the same spec: these are
//! definitions (what a `5%` profile or `lognormal:50ms,0.5` means), with their parsers and the
//! messages that name what is accepted.

use std::{fmt, str::FromStr, time::Duration};

use serde::{Deserialize, Serialize};

/// How long each request waits before its reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LatencyModel {
    /// The same delay for every request.
    Fixed {
        /// Milliseconds (fractions allowed).
        ms: f64,
    },
    /// Uniform between `min_ms` and `max_ms`, fixed per URL.
    Uniform {
        /// Lower bound, milliseconds.
        min_ms: f64,
        /// Upper bound, milliseconds.
        max_ms: f64,
    },
    /// Log-normal with the given median and sigma (of the underlying normal), fixed per URL.
    LogNormal {
        /// Median, milliseconds.
        median_ms: f64,
        /// Spread; 0.5 is moderate, 1.0 has a long tail.
        sigma: f64,
    },
}

impl Default for LatencyModel {
    fn default() -> Self {
        Self::Fixed { ms: 0.0 }
    }
}

impl LatencyModel {
    /// The delay for a request whose path hashes to `h`.
    pub fn delay(&self, h: u64) -> Duration {
        let ms = match *self {
            Self::Fixed { ms } => ms,
            Self::Uniform { min_ms, max_ms } => min_ms + unit(h) * (max_ms - min_ms),
            Self::LogNormal { median_ms, sigma } => {
                // Box–Muller from two hash-derived uniforms: deterministic per URL without
                // keeping RNG state (which rand_distr would need, per request, under contention).
                let u1 = unit(h).max(1e-12);
                let u2 = unit(mix(h ^ 0x9e37_79b9_7f4a_7c15));
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                median_ms * (sigma * z).exp()
            }
        };
        Duration::from_secs_f64(ms.max(0.0) / 1e3)
    }
}

impl fmt::Display for LatencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed { ms } => write!(f, "{ms}ms"),
            Self::Uniform { min_ms, max_ms } => write!(f, "uniform:{min_ms}ms..{max_ms}ms"),
            Self::LogNormal { median_ms, sigma } => write!(f, "lognormal:{median_ms}ms,{sigma}"),
        }
    }
}

/// Parses `50ms`, `0.2s`, `uniform:10ms..90ms`, `lognormal:50ms,0.5`.
impl FromStr for LatencyModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        const ACCEPTED: &str =
            "accepted: 50ms, 0.2s, uniform:10ms..90ms, lognormal:50ms,0.5 (median, sigma)";
        let bad = || format!("invalid latency {s:?} ({ACCEPTED})");
        if let Some(rest) = s.strip_prefix("uniform:") {
            let (a, b) = rest.split_once("..").ok_or_else(bad)?;
            let (min_ms, max_ms) = (parse_ms(a).ok_or_else(bad)?, parse_ms(b).ok_or_else(bad)?);
            if max_ms < min_ms {
                return Err(bad());
            }
            return Ok(Self::Uniform { min_ms, max_ms });
        }
        if let Some(rest) = s.strip_prefix("lognormal:") {
            let (m, sg) = rest.split_once(',').ok_or_else(bad)?;
            let median_ms = parse_ms(m).ok_or_else(bad)?;
            let sigma: f64 = sg.trim().parse().map_err(|_| bad())?;
            if !(0.0..=3.0).contains(&sigma) {
                return Err(format!(
                    "invalid latency {s:?}: sigma must be 0 to 3 ({ACCEPTED})"
                ));
            }
            return Ok(Self::LogNormal { median_ms, sigma });
        }
        Ok(Self::Fixed {
            ms: parse_ms(s).ok_or_else(bad)?,
        })
    }
}

/// Parses a duration like `50ms`, `0.2s`, `1m`, `250us` into milliseconds (≥ 0, ≤ 1 hour).
pub fn parse_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e3)
    } else {
        return None;
    };
    let v: f64 = num.trim().parse().ok()?;
    let ms = v * scale;
    (ms.is_finite() && (0.0..=3_600_000.0).contains(&ms)).then_some(ms)
}

/// The fault kinds the origin can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// HTTP 500 on every attempt.
    Status500,
    /// HTTP 503 on the first attempt, the page afterwards.
    Status503Once,
    /// Connection reset (RST) before any response, on every attempt.
    Reset,
    /// Connection reset on the first attempt only.
    ResetOnce,
    /// No response for `stall_ms` (past any sane client timeout).
    Stall,
    /// `Content-Length` of the whole page, half of it sent, then the connection closed.
    Truncate,
    /// A streamed (chunked) body of `oversize_bytes`.
    Oversize,
    /// A 302 to the same page with `?via=redirect`.
    Redirect,
    /// A 302 into a two-URL redirect cycle.
    RedirectLoop,
}

impl Fault {
    /// Every fault, in profile order.
    pub const ALL: [Fault; 9] = [
        Fault::Status500,
        Fault::Status503Once,
        Fault::Reset,
        Fault::ResetOnce,
        Fault::Stall,
        Fault::Truncate,
        Fault::Oversize,
        Fault::Redirect,
        Fault::RedirectLoop,
    ];
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Status500 => "500",
            Fault::Status503Once => "503-once",
            Fault::Reset => "reset",
            Fault::ResetOnce => "reset-once",
            Fault::Stall => "stall",
            Fault::Truncate => "truncate",
            Fault::Oversize => "oversize",
            Fault::Redirect => "redirect",
            Fault::RedirectLoop => "redirect-loop",
        }
    }
}

/// The share of pages (0..=1) given each fault.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultProfile {
    /// `(fault, share)` pairs; shares add up to at most 1.
    pub rates: Vec<(Fault, f64)>,
}

impl FaultProfile {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }
    /// `total` spread evenly over the given faults.
    pub fn spread(total: f64, faults: &[Fault]) -> Self {
        let each = total / faults.len().max(1) as f64;
        Self {
            rates: faults.iter().map(|f| (*f, each)).collect(),
        }
    }
    /// The fault for a page whose number hashes to `h` (page 0 never gets one).
    pub(super) fn pick(&self, h: u64) -> Option<Fault> {
        let mut u = unit(h);
        for (fault, rate) in &self.rates {
            if u < *rate {
                return Some(*fault);
            }
            u -= rate;
        }
        None
    }
}

impl fmt::Display for FaultProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rates.is_empty() {
            return f.write_str("none");
        }
        let parts: Vec<String> = self
            .rates
            .iter()
            .map(|(k, r)| format!("{}={}%", k.name(), r * 100.0))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Parses `none`, `5%` (spread over every fault), or `reset=2%,stall=1%,500=0.5%`.
impl FromStr for FaultProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        let accepted = format!(
            "accepted: none, a share like 5% spread over all faults, or name=share pairs \
             like reset=2%,stall=1% with names {}",
            names.join(", ")
        );
        let share = |v: &str| -> Result<f64, String> {
            let v = v.trim();
            let x = match v.strip_suffix('%') {
                Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
                None => v.parse::<f64>(),
            }
            .map_err(|_| format!("invalid fault share {v:?} ({accepted})"))?;
            if (0.0..=1.0).contains(&x) {
                Ok(x)
            } else {
                Err(format!("fault share {v:?} is outside 0..100% ({accepted})"))
            }
        };
        let s = s.trim();
        if s == "none" || s.is_empty() {
            return Ok(Self::none());
        }
        if !s.contains('=') {
            return Ok(Self::spread(share(s)?, &Fault::ALL));
        }
        let mut rates = Vec::new();
        for part in s.split(',') {
            let (name, v) = part
                .split_once('=')
                .ok_or_else(|| format!("invalid fault {part:?} ({accepted})"))?;
            let fault = Fault::ALL
                .into_iter()
                .find(|f| f.name() == name.trim())
                .ok_or_else(|| format!("unknown fault {:?} ({accepted})", name.trim()))?;
            rates.push((fault, share(v)?));
        }
        let total: f64 = rates.iter().map(|(_, r)| r).sum();
        if total > 1.0 + 1e-9 {
            return Err(format!(
                "fault shares add up to {:.1}%, more than 100%",
                total * 100.0
            ));
        }
        Ok(Self { rates })
    }
}

/// The site's parameters. Two origins with the same spec serve the same bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SiteSpec {
    /// Pages `/site/0.html` ..
    pub pages: u32,
    /// Approximate size of a page body (padding is added to reach it).
    pub body_bytes: u32,
    /// Extra pseudo-random links per page, on top of the two tree links.
    pub links_per_page: u32,
    /// Seed of every pseudo-random choice.
    pub seed: u64,
    /// Per-request latency.
    pub latency: LatencyModel,
    /// Faults.
    pub faults: FaultProfile,
    /// How long a stalled request waits before replying, in milliseconds.
    pub stall_ms: u64,
    /// Size of an oversized body.
    pub oversize_bytes: u64,
    /// Serve HTTPS with a certificate of this key type (a CA made for the run), or plain HTTP.
    #[serde(default)]
    pub tls: Option<crate::network::TlsKey>,
    /// The round trips and bandwidth the origin models (see [`crate::network`]).
    #[serde(default)]
    pub network: crate::network::NetworkModel,
    /// Hosts the site spans (1 to 200): page `i` lives on host `i % hosts`. With 1, the site is
    /// served at the listener's own address, exactly as before hosts existed.
    #[serde(default = "one_host")]
    pub hosts: u32,
    /// How hosts are told apart when there are several: by name (one listener) or by address
    /// (one listener each).
    #[serde(default)]
    pub host_naming: HostNaming,
    /// Serve a `robots.txt` on each host (see [`crate::site`] for its rule); otherwise
    /// `/robots.txt` is a 404 everywhere.
    #[serde(default)]
    pub robots: bool,
}

fn one_host() -> u32 {
    1
}

/// How the hosts of a multi-host site are named and reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostNaming {
    /// `h{h}.crawl.test`, every name served by the one listener on the base address and told
    /// apart by the request's `Host` (`:authority`); a job resolves the names itself (its
    /// resolve map sends them all to the base address).
    #[default]
    Names,
    /// `127.0.1.{h+1}`, each address with a listener of its own on the base listener's port.
    Addresses,
}

impl HostNaming {
    /// `names` or `addresses`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Names => "names",
            Self::Addresses => "addresses",
        }
    }
}

impl fmt::Display for HostNaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses `names` or `addresses`.
impl FromStr for HostNaming {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "names" => Ok(Self::Names),
            "addresses" => Ok(Self::Addresses),
            other => Err(format!(
                "unknown host naming {other:?} (accepted: names — h0.crawl.test, h1.crawl.test, \
                 … on one listener; addresses — 127.0.1.1, 127.0.1.2, … each listening)"
            )),
        }
    }
}

/// The most hosts a site may span (`127.0.1.1` to `127.0.1.200` in address mode).
pub const MAX_HOSTS: u32 = 200;

impl Default for SiteSpec {
    fn default() -> Self {
        Self {
            pages: 1000,
            body_bytes: 2048,
            links_per_page: 8,
            seed: 1,
            latency: LatencyModel::default(),
            faults: FaultProfile::none(),
            stall_ms: 60_000,
            oversize_bytes: 4 << 20,
            tls: None,
            network: crate::network::NetworkModel::default(),
            hosts: 1,
            host_naming: HostNaming::Names,
            robots: false,
        }
    }
}

impl SiteSpec {
    /// Checks the spec's ranges; the message names what is accepted.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=10_000_000).contains(&self.pages) {
            return Err(format!(
                "invalid pages: {} (accepted: 1 to 10000000)",
                self.pages
            ));
        }
        if self.body_bytes > 64 << 20 {
            return Err(format!(
                "invalid body size: {} (accepted: up to 64 MiB)",
                self.body_bytes
            ));
        }
        if self.links_per_page > 1000 {
            return Err(format!(
                "invalid links per page: {} (accepted: 0 to 1000)",
                self.links_per_page
            ));
        }
        if self.oversize_bytes > 1 << 30 {
            return Err(format!(
                "invalid oversize: {} (accepted: up to 1 GiB)",
                self.oversize_bytes
            ));
        }
        if !(1..=MAX_HOSTS).contains(&self.hosts) {
            return Err(format!(
                "invalid hosts: {} (accepted: 1 to {MAX_HOSTS})",
                self.hosts
            ));
        }
        self.network.validate()
    }
}

/// SplitMix64's finalizer: a fast, well-mixed hash of one integer (deterministic on every
/// platform, unlike `std`'s `RandomState`).
pub(super) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A hash mapped to [0, 1).
pub(super) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_latency_and_faults() {
        assert_eq!(
            "50ms".parse::<LatencyModel>().unwrap(),
            LatencyModel::Fixed { ms: 50.0 }
        );
        assert_eq!(
            "0.2s".parse::<LatencyModel>().unwrap(),
            LatencyModel::Fixed { ms: 200.0 }
        );
        assert!(matches!(
            "uniform:10ms..90ms".parse().unwrap(),
            LatencyModel::Uniform { .. }
        ));
        assert!(matches!(
            "lognormal:50ms,0.5".parse().unwrap(),
            LatencyModel::LogNormal { .. }
        ));
        let e = "fast".parse::<LatencyModel>().unwrap_err();
        assert!(e.contains("accepted"), "{e}");
        let p: FaultProfile = "9%".parse().unwrap();
        assert_eq!(p.rates.len(), 9);
        let p: FaultProfile = "reset=2%,stall=0.01".parse().unwrap();
        assert_eq!(p.rates, vec![(Fault::Reset, 0.02), (Fault::Stall, 0.01)]);
        assert!(
            "nope=1%"
                .parse::<FaultProfile>()
                .unwrap_err()
                .contains("unknown fault")
        );
        assert!(
            "reset=80%,stall=30%"
                .parse::<FaultProfile>()
                .unwrap_err()
                .contains("more than 100%")
        );
    }

    #[test]
    fn hosts_default_to_one_and_are_validated() {
        // A spec written before hosts existed still parses, as a one-host site without robots.
        let mut old = serde_json::to_value(SiteSpec::default()).unwrap();
        for field in ["hosts", "host_naming", "robots"] {
            old.as_object_mut().unwrap().remove(field);
        }
        let spec: SiteSpec = serde_json::from_value(old).unwrap();
        assert_eq!(
            (spec.hosts, spec.host_naming, spec.robots),
            (1, HostNaming::Names, false)
        );
        for (hosts, ok) in [(0, false), (1, true), (200, true), (201, false)] {
            let spec = SiteSpec {
                hosts,
                ..Default::default()
            };
            let v = spec.validate();
            assert_eq!(v.is_ok(), ok, "{hosts}: {v:?}");
            if let Err(e) = v {
                assert!(e.contains("accepted: 1 to 200"), "{e}");
            }
        }
        assert_eq!("addresses".parse(), Ok(HostNaming::Addresses));
        assert!(
            "dns"
                .parse::<HostNaming>()
                .unwrap_err()
                .contains("accepted: names")
        );
    }
}
