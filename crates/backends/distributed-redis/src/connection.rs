//! Where the Redis is, how to connect to it, and what it says about its own work.
//!
//! A Redis URL may carry a password (`redis://:SECRET@host:6379/0`); [`RedisTarget::redacted`]
//! is the only form that reaches a message, a log line or a report.

use std::time::Duration;

use redis::{AsyncConnectionConfig, Client, RedisResult, aio::MultiplexedConnection};
use url::Url;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an ordinary command may wait for its reply: a Redis that stops answering fails the
/// run with a reason instead of hanging it.
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A Redis server and database, by URL.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    url: String,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisTarget({})", self.redacted())
    }
}

impl RedisTarget {
    /// A `redis://` URL (`redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`).
    pub fn parse(url: &str) -> Result<Self, String> {
        let parsed = Url::parse(url).map_err(|e| {
            format!("invalid Redis URL ({e}; accepted: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB])")
        })?;
        if parsed.scheme() != "redis" || parsed.host_str().is_none_or(str::is_empty) {
            return Err(format!(
                "invalid Redis URL {} (accepted: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB])",
                redact(&parsed)
            ));
        }
        Client::open(url).map_err(|e| format!("invalid Redis URL {}: {e}", redact(&parsed)))?;
        Ok(Self {
            url: url.to_owned(),
        })
    }

    /// The URL, password included: for connecting and for a local worker's arguments only.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL with any password replaced by `***`: the form every message uses.
    pub fn redacted(&self) -> String {
        Url::parse(&self.url).map_or_else(|_| "<invalid Redis URL>".into(), |u| redact(&u))
    }
}

fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// A client for `target` (no connection yet).
pub(crate) fn client(target: &RedisTarget) -> RedisResult<Client> {
    Client::open(target.url())
}

/// Two connections: one for ordinary commands (replies within [`RESPONSE_TIMEOUT`]) and one for
/// blocking pops, whose replies may take as long as they block.
pub(crate) async fn open_pair(
    target: &RedisTarget,
) -> RedisResult<(MultiplexedConnection, MultiplexedConnection)> {
    let client = client(target)?;
    let ordinary = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let blocking = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT * 2));
    let a = client
        .get_multiplexed_async_connection_with_config(&ordinary)
        .await?;
    let b = client
        .get_multiplexed_async_connection_with_config(&blocking)
        .await?;
    Ok((a, b))
}

/// What the Redis server counts about itself (`INFO stats`, `INFO cpu`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct ServerCounters {
    /// Commands processed since it started (a script counts once, plus the commands it runs).
    pub commands: u64,
    /// CPU seconds it used, user and system.
    pub cpu_secs: f64,
}

impl ServerCounters {
    /// Reads them.
    pub(crate) async fn read(conn: &mut MultiplexedConnection) -> RedisResult<Self> {
        let info: String = redis::cmd("INFO")
            .arg("stats")
            .arg("cpu")
            .query_async(conn)
            .await?;
        Ok(Self::parse(&info))
    }

    fn parse(info: &str) -> Self {
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        Self {
            commands: field("total_commands_processed") as u64,
            cpu_secs: field("used_cpu_user") + field("used_cpu_sys"),
        }
    }

    /// What happened between `before` and `self`.
    pub(crate) fn since(self, before: Self) -> Self {
        Self {
            commands: self.commands.saturating_sub(before.commands),
            cpu_secs: (self.cpu_secs - before.cpu_secs).max(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let t = RedisTarget::parse("redis://:s3cret@198.18.0.11:6390/2").unwrap();
        assert_eq!(t.redacted(), "redis://:***@198.18.0.11:6390/2");
        assert!(!format!("{t:?}").contains("s3cret"));
        let e = RedisTarget::parse("http://:s3cret@host/").unwrap_err();
        assert!(
            !e.contains("s3cret") && e.contains("accepted: redis://"),
            "{e}"
        );
        assert!(
            RedisTarget::parse("not a url")
                .unwrap_err()
                .contains("accepted")
        );
    }

    #[test]
    fn counters_come_from_info() {
        let info = "# Stats\r\ntotal_commands_processed:1234\r\n# CPU\r\n\
                    used_cpu_sys:1.5\r\nused_cpu_user:2.25\r\nused_cpu_sys_children:9\r\n";
        let c = ServerCounters::parse(info);
        assert_eq!(c.commands, 1234);
        assert!((c.cpu_secs - 3.75).abs() < 1e-9);
    }
}
