//! Which hosts a site spans and how a request or a URL names one: host names
//! (`h3.crawl.test`, told apart by `Host`) or addresses (`127.0.1.4`, a listener each), the
//! resolve map and the scope a job of the site needs.
//!
//! Apart from routing and rendering because it changes for its own reason — how hosts are
//! named and reached — and both the server (which host a request is for) and the truth (which
//! host a link leads to) read it.

use std::net::{IpAddr, Ipv4Addr};

use crawlbench_core::{ResolveMap, ScopeRule};
use url::Url;

use super::{HostNaming, Site, parse_index};

/// The registrable domain every host name of [`HostNaming::Names`] shares.
pub const HOST_DOMAIN: &str = "crawl.test";

/// One host of the site.
#[derive(Debug)]
pub(super) struct Host {
    /// The host part of its URLs: `h3.crawl.test`, `127.0.1.4`, or the listener's address.
    pub(super) name: String,
    /// `scheme://name:port` (no port when it is the scheme's default).
    pub(super) origin: String,
}

impl Site {
    /// The address of host `h` in [`HostNaming::Addresses`] mode: `127.0.1.{h+1}`.
    pub fn host_address(h: u32) -> Ipv4Addr {
        Ipv4Addr::new(127, 0, 1, (h + 1).min(255) as u8)
    }
    /// The scope that takes in every host of a multi-host site (`None` for one host, whose
    /// crawls keep the default directory scope).
    pub fn site_scope(&self) -> Option<ScopeRule> {
        if self.hosts.len() <= 1 {
            return None;
        }
        Some(match self.spec.host_naming {
            HostNaming::Names => ScopeRule::Domain,
            HostNaming::Addresses => ScopeRule::Hosts(
                (0..self.hosts())
                    .map(|h| format!("{}:{}", self.hosts[h as usize].name, self.port))
                    .collect(),
            ),
        })
    }
    /// How many hosts the site spans.
    pub fn hosts(&self) -> u32 {
        self.hosts.len() as u32
    }
    /// The root URL of host `h` (`scheme://host:port/`). Panics past the last host.
    pub fn host_url(&self, h: u32) -> Url {
        Url::parse(&format!("{}/", self.host_origin(h))).expect("a valid origin")
    }
    /// The host part of host `h`'s URLs (`h3.crawl.test`, `127.0.1.4`, or the listener's
    /// address on a one-host site). Panics past the last host.
    pub fn host_name(&self, h: u32) -> &str {
        &self.hosts[h as usize].name
    }
    /// `scheme://host:port` of host `h`.
    pub(super) fn host_origin(&self, h: u32) -> &str {
        &self.hosts[h as usize].origin
    }
    /// The names a job must resolve itself to reach this site: with [`HostNaming::Names`] on
    /// several hosts every name goes to the base listener's address; otherwise none.
    pub fn resolve_map(&self) -> ResolveMap {
        let mut map = ResolveMap::default();
        if self.hosts.len() > 1 && self.spec.host_naming == HostNaming::Names {
            let ip = self.listen_ip();
            for host in &self.hosts {
                map.insert(&host.name, ip);
            }
        }
        map
    }
    /// The base listener's IP address.
    fn listen_ip(&self) -> IpAddr {
        match self.listen.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
    /// The host page `i` lives on.
    pub fn host_of_page(&self, i: u64) -> u32 {
        (i % self.hosts.len() as u64) as u32
    }
    /// The host `url` names, if it is one of this site's (same scheme and port).
    pub fn host_of_url(&self, url: &Url) -> Option<u32> {
        if url.scheme() != self.scheme || url.port_or_known_default() != Some(self.port) {
            return None;
        }
        self.host_of_name(url.host_str()?)
    }
    /// The host named `name` (case-insensitive), if the site has it.
    fn host_of_name(&self, name: &str) -> Option<u32> {
        if self.hosts.len() == 1 {
            return name.eq_ignore_ascii_case(&self.hosts[0].name).then_some(0);
        }
        let h = match self.spec.host_naming {
            HostNaming::Names => {
                let lower = name.to_ascii_lowercase();
                let n = lower
                    .strip_prefix('h')?
                    .strip_suffix(HOST_DOMAIN)?
                    .strip_suffix('.')?;
                parse_index(n)?
            }
            HostNaming::Addresses => {
                let [127, 0, 1, x] = name.parse::<Ipv4Addr>().ok()?.octets() else {
                    return None;
                };
                u32::from(x).checked_sub(1)?
            }
        };
        (h < self.hosts()).then_some(h)
    }
    /// The host a request's `Host` header (or HTTP/2 `:authority`) names: `None` when it names
    /// no host of this site, or a port other than the site's. A one-host site answers every
    /// request as its host, whatever it names (as it always did).
    pub fn host_of_authority(&self, authority: Option<&str>) -> Option<u32> {
        if self.hosts.len() == 1 {
            return Some(0);
        }
        let authority = authority?;
        let (name, port) = match authority.rsplit_once(':') {
            Some((name, port)) if !port.contains(']') => (name, Some(port.parse::<u16>().ok()?)),
            _ => (authority, None),
        };
        if port.is_some_and(|p| p != self.port) {
            return None;
        }
        self.host_of_name(name)
    }
}
