//! The `run` flags that say how a crawl treats the sites it visits — scope, per-host politeness,
//! robots.txt, nofollow, name resolution — and the `--urls FILE` reader.
//!
//! Apart from `cli.rs` because these are the crawler's own knobs (the ones wget and scrapy
//! expose), and they change with the crawl rules in `crawlbench_core::rules`, not with how the
//! commands are dispatched.

use std::{path::Path, time::Duration};

use anyhow::{Context, Result, bail};
use clap::Args;
use crawlbench_core::{
    CrawlRules, Politeness, ResolveMap, RobotsRule, ScopeRule, job::is_loopback,
};
use url::Url;

/// Crawl rules on the command line.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct RuleArgs {
    /// Which links a crawl follows: dir (the seed's host, under its directory, like wget
    /// --no-parent), host (any path on the seed's host), domain (any host of the seed's
    /// registrable domain) or hosts:NAME[:PORT],... [default: dir, or the site's own scope for
    /// a multi-host built-in site]
    #[arg(long, value_parser = |s: &str| s.parse::<ScopeRule>())]
    pub(crate) scope: Option<ScopeRule>,
    /// Most requests in flight to one host (scheme, host and port) at once [default: no
    /// per-host limit].
    #[arg(long, value_name = "N")]
    pub(crate) per_host_connections: Option<usize>,
    /// Least time between the starts of two requests to one host (0, 250ms, 1s).
    #[arg(long, value_name = "DURATION", value_parser = parse_delay, default_value = "0")]
    pub(crate) per_host_delay: Duration,
    /// Fetch each host's robots.txt before its first page and skip what it disallows
    /// (recorded as `robots_disallowed`).
    #[arg(long)]
    pub(crate) robots: bool,
    /// With --robots: also honour a host's Crawl-delay (it raises --per-host-delay for that
    /// host).
    #[arg(long, requires = "robots")]
    pub(crate) crawl_delay: bool,
    /// Do not follow rel=nofollow links, nor any link of a page with <meta name=robots
    /// content=nofollow>.
    #[arg(long)]
    pub(crate) nofollow: bool,
    /// Resolve NAME to ADDR instead of asking DNS, like curl --resolve (repeatable; the port
    /// comes from the URL): --resolve docs.test:127.0.0.2
    #[arg(long, value_name = "NAME:ADDR")]
    pub(crate) resolve: Vec<String>,
}

impl RuleArgs {
    /// The crawl rules these flags ask for; `site_scope` is the built-in site's own scope (used
    /// when --scope is not given).
    pub(crate) fn rules(&self, site_scope: Option<ScopeRule>) -> CrawlRules {
        CrawlRules {
            scope: self.scope.clone().or(site_scope).unwrap_or_default(),
            politeness: Politeness {
                connections: self.per_host_connections,
                delay: self.per_host_delay,
            },
            robots: match (self.robots, self.crawl_delay) {
                (false, _) => RobotsRule::Ignore,
                (true, false) => RobotsRule::Obey,
                (true, true) => RobotsRule::ObeyWithCrawlDelay,
            },
            nofollow: self.nofollow,
        }
    }

    /// The --resolve entries added to `map` (the built-in site's names come first; an entry
    /// given here wins).
    pub(crate) fn resolve_map(&self, mut map: ResolveMap) -> Result<ResolveMap> {
        for entry in &self.resolve {
            map.add_entry(entry).map_err(anyhow::Error::msg)?;
        }
        Ok(map)
    }
}

fn parse_delay(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    crawlbench_origin::site::parse_ms(s)
        .map(|ms| Duration::from_secs_f64(ms / 1e3))
        .ok_or_else(|| format!("invalid delay {s:?} (accepted: 0, 250ms, 1.5s, 1m; up to 1h)"))
}

/// Reads `--urls FILE`: one absolute http(s) URL per line; blank lines and lines starting with
/// `#` are skipped. A bad line is an error naming its number and what is accepted; so is a URL
/// off loopback (unless allowed), a URL given twice, or a file with no URL at all.
pub(crate) fn read_url_list(
    path: &Path,
    allow_non_loopback: bool,
    resolve: &ResolveMap,
) -> Result<Vec<Url>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--urls {}: cannot read the file", path.display()))?;
    parse_url_list(&text, allow_non_loopback, resolve)
        .with_context(|| format!("--urls {}", path.display()))
}

const URL_LIST_ACCEPTED: &str = "accepted: one absolute http:// or https:// URL per line; blank \
                                 lines and lines starting with # are ignored";

/// Whether `url` points at this machine, or at a name the job resolves itself (whose address
/// the job checks when it is built).
pub(crate) fn is_local(url: &Url, resolve: &ResolveMap) -> bool {
    is_loopback(url) || url.host_str().is_some_and(|h| resolve.get(h).is_some())
}

fn parse_url_list(text: &str, allow_non_loopback: bool, resolve: &ResolveMap) -> Result<Vec<Url>> {
    let mut urls = Vec::new();
    let mut first_line = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let url = match Url::parse(line) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
            Ok(_) => {
                bail!("line {n}: {line:?} is not an http(s) URL with a host ({URL_LIST_ACCEPTED})")
            }
            Err(e) => bail!("line {n}: {line:?} is not a URL: {e} ({URL_LIST_ACCEPTED})"),
        };
        if !allow_non_loopback && !is_local(&url, resolve) {
            bail!(
                "line {n}: {url} is not on loopback (accepted: 127.0.0.0/8, [::1], localhost, \
                 a name given to --resolve; \
                 pass --allow-non-loopback to fetch elsewhere on purpose)"
            );
        }
        if let Some(first) = first_line.insert(url.as_str().to_owned(), n) {
            bail!(
                "line {n}: {url} was already listed on line {first} (a list fetches each URL once)"
            );
        }
        urls.push(url);
    }
    if urls.is_empty() {
        bail!("no URL in the file ({URL_LIST_ACCEPTED})");
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_lists_skip_comments_and_name_bad_lines() {
        let none = ResolveMap::default();
        let urls = parse_url_list(
            "# mine\n\nhttp://127.0.0.1:8/a\n  http://localhost:8/b  \n#x\n",
            false,
            &none,
        )
        .unwrap();
        assert_eq!(urls.len(), 2);
        for (text, line, says) in [
            ("http://127.0.0.1/a\nnot a url\n", "line 2", "is not a URL"),
            ("\n\nftp://127.0.0.1/x", "line 3", "not an http(s) URL"),
            ("http://192.0.2.1/x", "line 1", "not on loopback"),
            (
                "http://127.0.0.1/a\nhttp://127.0.0.1/a",
                "line 2",
                "already listed on line 1",
            ),
            ("# only comments\n", "no URL", "accepted: one absolute"),
        ] {
            let e = format!("{:#}", parse_url_list(text, false, &none).unwrap_err());
            assert!(e.contains(line) && e.contains(says), "{text:?}: {e}");
        }
        assert!(parse_url_list("http://192.0.2.1/x", true, &none).is_ok());
        let docs: ResolveMap = "docs.test:127.0.0.2".parse().unwrap();
        assert!(parse_url_list("http://docs.test:8/x", false, &docs).is_ok());
    }

    #[test]
    fn rules_from_flags() {
        let args = RuleArgs {
            robots: true,
            crawl_delay: true,
            per_host_connections: Some(2),
            ..Default::default()
        };
        let rules = args.rules(Some(ScopeRule::Domain));
        assert_eq!(rules.robots, RobotsRule::ObeyWithCrawlDelay);
        assert_eq!(rules.scope, ScopeRule::Domain);
        assert_eq!(rules.politeness.connections, Some(2));
        assert_eq!(parse_delay("250ms").unwrap(), Duration::from_millis(250));
        assert!(
            parse_delay("soon")
                .unwrap_err()
                .contains("accepted: 0, 250ms")
        );
    }
}
