//! How a crawl behaves toward the sites it visits: where it may go ([`ScopeRule`]), how hard it
//! may press one host ([`Politeness`]), whether it obeys `robots.txt` ([`RobotsRule`]) and
//! `nofollow`, and which names resolve to which loopback addresses ([`ResolveMap`]).
//!
//! Kept apart from the job's limits because these are the rules a real crawler (wget, scrapy)
//! exposes as flags, and they change for that reason: a new scope mode or politeness knob
//! touches this file, not the job's validation of timeouts and caps.

use std::{collections::BTreeMap, fmt, net::IpAddr, str::FromStr, time::Duration};

use serde::{Deserialize, Serialize};

/// Which discovered links a crawl may follow.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "hosts")]
pub enum ScopeRule {
    /// The seeds' scheme, host and port, under a seed's directory (everything up to the last `/`
    /// of its path), like `wget --no-parent`. The default.
    #[default]
    Directory,
    /// Any path on a seed's scheme, host and port.
    Host,
    /// Any host in a seed's registrable domain (`a.example.test` and `b.example.test` share
    /// `example.test`; the Public Suffix List decides, through the `psl` crate), any path, the
    /// seeds' schemes. An IP-address seed's "domain" is that address.
    Domain,
    /// Any host named here (a name or an address, with an optional `:port`), any path.
    Hosts(Vec<String>),
}

impl fmt::Display for ScopeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Directory => f.write_str("dir"),
            Self::Host => f.write_str("host"),
            Self::Domain => f.write_str("domain"),
            Self::Hosts(h) => write!(f, "hosts:{}", h.join(",")),
        }
    }
}

/// Parses `dir`, `host`, `domain` or `hosts:NAME[:PORT],…`.
impl FromStr for ScopeRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        const ACCEPTED: &str = "accepted: dir, host, domain, hosts:NAME[:PORT],...";
        match s {
            "dir" => Ok(Self::Directory),
            "host" => Ok(Self::Host),
            "domain" => Ok(Self::Domain),
            _ => {
                let Some(list) = s.strip_prefix("hosts:") else {
                    return Err(format!("unknown scope {s:?} ({ACCEPTED})"));
                };
                let hosts: Vec<String> = list
                    .split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .collect();
                if hosts.iter().any(|h| h.is_empty() || h.contains('/')) {
                    return Err(format!(
                        "invalid scope {s:?}: every host must be a name or address with an \
                         optional :port ({ACCEPTED})"
                    ));
                }
                Ok(Self::Hosts(hosts))
            }
        }
    }
}

/// How hard a crawl may press one host. The frontier enforces it for every backend alike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Politeness {
    /// The most requests in flight to one host (scheme, host and port) at once; `None` leaves
    /// only the job's overall concurrency.
    pub connections: Option<usize>,
    /// The least time between the starts of two requests to one host.
    #[serde(with = "crate::job::duration_ms")]
    pub delay: Duration,
}

impl Politeness {
    /// Whether any per-host limit applies.
    pub fn is_limited(&self) -> bool {
        self.connections.is_some() || !self.delay.is_zero()
    }
}

/// Whether a crawl obeys `robots.txt`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RobotsRule {
    /// `robots.txt` is neither fetched nor obeyed (the default, as in a load test).
    #[default]
    Ignore,
    /// Fetched once per host before its first page; disallowed URLs are skipped and recorded.
    Obey,
    /// As [`RobotsRule::Obey`], and a host's `Crawl-delay` raises the per-host delay for it.
    ObeyWithCrawlDelay,
}

impl RobotsRule {
    /// Whether `robots.txt` is fetched at all.
    pub fn obeys(self) -> bool {
        !matches!(self, Self::Ignore)
    }
}

/// The rules a crawl follows beyond the job's limits. Lists ignore scope, politeness, robots and
/// nofollow (a list fetches exactly what it names).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrawlRules {
    /// Which links may be followed.
    pub scope: ScopeRule,
    /// Per-host limits.
    pub politeness: Politeness,
    /// `robots.txt`.
    pub robots: RobotsRule,
    /// Honour `rel=nofollow` on links and `<meta name=robots content=nofollow>` on pages.
    pub nofollow: bool,
}

/// Host names the job resolves itself, each to a loopback (or test-network) address — curl's
/// `--resolve`, reqwest's `resolve`. Every backend must connect to the address given here for a
/// name listed here, and still send the name (Host header, TLS SNI): that is how one origin
/// serves many name-based virtual hosts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveMap(BTreeMap<String, IpAddr>);

impl ResolveMap {
    /// Maps `name` (case-insensitive) to `addr`.
    pub fn insert(&mut self, name: &str, addr: IpAddr) {
        self.0.insert(name.to_ascii_lowercase(), addr);
    }
    /// The address for `name`, if the job resolves it.
    pub fn get(&self, name: &str) -> Option<IpAddr> {
        // URL hosts are already lower-case (the url crate normalises them).
        self.0.get(name).copied()
    }
    /// Every mapping, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, IpAddr)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
    /// Whether no name is mapped.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Parses curl's form `NAME:ADDR` (the address may be IPv6 in brackets).
impl FromStr for ResolveMap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut map = Self::default();
        for entry in s.split(',').filter(|e| !e.trim().is_empty()) {
            map.add_entry(entry.trim())?;
        }
        Ok(map)
    }
}

impl ResolveMap {
    /// Adds one `NAME:ADDR` entry, or says what is accepted.
    pub fn add_entry(&mut self, entry: &str) -> Result<(), String> {
        let bad = || {
            format!(
                "invalid --resolve {entry:?} (accepted: NAME:ADDR, e.g. docs.test:127.0.0.2 or docs.test:[::1])"
            )
        };
        let (name, addr) = entry.split_once(':').ok_or_else(bad)?;
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        if name.is_empty() || name.parse::<IpAddr>().is_ok() {
            return Err(bad());
        }
        self.insert(name, addr);
        Ok(())
    }
}

/// The registrable domain of `host` (`docs.example.co.uk` → `example.co.uk`), or the host itself
/// for an address or a name the Public Suffix List cannot split.
pub fn registrable_domain(host: &str) -> &str {
    if host.parse::<IpAddr>().is_ok() || host.starts_with('[') {
        return host;
    }
    psl::domain_str(host).unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_parses_and_names_what_is_accepted() {
        assert_eq!("dir".parse::<ScopeRule>().unwrap(), ScopeRule::Directory);
        assert_eq!(
            "hosts:A.test, b.test:8080".parse::<ScopeRule>().unwrap(),
            ScopeRule::Hosts(vec!["a.test".into(), "b.test:8080".into()])
        );
        let e = "everywhere".parse::<ScopeRule>().unwrap_err();
        assert!(e.contains("accepted: dir, host, domain"), "{e}");
        assert!("hosts:a,,b".parse::<ScopeRule>().is_err());
    }

    #[test]
    fn resolve_entries_parse() {
        let m: ResolveMap = "Docs.test:127.0.0.2,v6.test:[::1]".parse().unwrap();
        assert_eq!(m.get("docs.test"), Some("127.0.0.2".parse().unwrap()));
        assert_eq!(m.get("v6.test"), Some("::1".parse().unwrap()));
        for bad in [
            "docs.test",
            "docs.test:nowhere",
            ":127.0.0.1",
            "127.0.0.1:127.0.0.2",
        ] {
            let e = bad.parse::<ResolveMap>().unwrap_err();
            assert!(e.contains("accepted: NAME:ADDR"), "{bad}: {e}");
        }
    }

    #[test]
    fn registrable_domains() {
        assert_eq!(registrable_domain("h3.crawl.test"), "crawl.test");
        assert_eq!(registrable_domain("docs.example.co.uk"), "example.co.uk");
        assert_eq!(registrable_domain("127.0.0.5"), "127.0.0.5");
        assert_eq!(registrable_domain("localhost"), "localhost");
    }
}
