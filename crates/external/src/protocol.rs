//! The wire format of PROTOCOL.md, version [`PROTOCOL_VERSION`]: one JSON object per line.
//!
//! Kept apart from the process handling so the format is stated once, in types, and a line is
//! judged by one function ([`parse_line`]) that names the line number and what was wrong.
//! Unknown *fields* are ignored (a program may add its own); an unknown `type`, a missing or
//! mistyped field, a body that is not base64, or an error kind the core does not know fails the
//! run, because guessing would put a wrong number in a report.

use std::{borrow::Cow, collections::BTreeMap};

use base64::Engine as _;
use crawlbench_core::{ConnectionPolicy, CrawlJob, ErrorKind, FetchError, RawResponse};
use serde::{Deserialize, Serialize};

/// The protocol version this harness speaks. A program announcing another one is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// What the harness sends, after the program's `hello`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToProgram<'a> {
    /// Once, first: how to configure the client.
    Job(JobMessage),
    /// One GET attempt.
    Get {
        /// The attempt's id, echoed in its reply.
        id: u64,
        /// The URL.
        #[serde(borrow)]
        url: Cow<'a, str>,
    },
}

/// The job's parameters a program needs to build its client (never the URL list: the harness
/// hands out URLs one attempt at a time).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct JobMessage {
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The most attempts the harness keeps in flight: size pools, semaphores and connection
    /// limits to it.
    pub concurrency: usize,
    /// Worker processes, when the job asks for a count (models spreading work over processes).
    pub processes: Option<usize>,
    /// Bound on one whole attempt (connect, request, response, body), in milliseconds.
    pub timeout_ms: u64,
    /// The body cap: a longer body is `body_too_large`, with the first `max_body_bytes` bytes.
    pub max_body_bytes: u64,
    /// `reuse` (keep-alive, pooled) or `fresh` (a new connection per request, closed after it).
    pub connections: ConnectionPolicy,
    /// The `User-Agent` header to send.
    pub user_agent: String,
    /// PEM of the only CA to trust over HTTPS (never the system roots), or `null`.
    pub trusted_ca_pem: Option<String>,
    /// Host names to connect to at the given address (curl's `--resolve`): keep sending the name
    /// (Host header, SNI, certificate check), connect to the address, same port.
    pub resolve: BTreeMap<String, String>,
}

impl JobMessage {
    /// The parameters of `job`.
    pub fn of(job: &CrawlJob) -> Self {
        Self {
            protocol: PROTOCOL_VERSION,
            concurrency: job.concurrency(),
            processes: job.processes(),
            timeout_ms: job.timeout().as_millis() as u64,
            max_body_bytes: job.max_body_bytes(),
            connections: job.connections(),
            user_agent: job.user_agent().to_owned(),
            trusted_ca_pem: job.trusted_ca_pem().map(str::to_owned),
            resolve: job
                .resolve()
                .iter()
                .map(|(name, addr)| (name.to_owned(), addr.to_string()))
                .collect(),
        }
    }
}

/// What a program sends.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromProgram {
    /// First line: its protocol version and, optionally, the exact runtime and client it loaded
    /// (they replace the manifest's words in reports).
    Hello {
        /// The protocol version it speaks.
        protocol: u32,
        /// e.g. `CPython 3.11.7, asyncio`.
        #[serde(default)]
        runtime: Option<String>,
        /// e.g. `aiohttp 3.14.5`.
        #[serde(default)]
        client: Option<String>,
    },
    /// An attempt got a response (any status: the harness decides what it means).
    Response {
        /// The attempt's id.
        id: u64,
        /// The HTTP status.
        status: u16,
        /// The `Location` header.
        #[serde(default)]
        location: Option<String>,
        /// The `Content-Type` header.
        #[serde(default)]
        content_type: Option<String>,
        /// The whole body, base64 (standard alphabet, padded).
        body: String,
    },
    /// An attempt failed.
    Error {
        /// The attempt's id.
        id: u64,
        /// One of the core's error kinds (`connect`, `timeout`, `reset`, `truncated`,
        /// `body_too_large`, `invalid_response`, `tls`, `other`).
        kind: ErrorKind,
        /// The client's words.
        #[serde(default)]
        detail: String,
        /// For `body_too_large`: the body up to the cap, base64 (a crawl follows its links).
        #[serde(default)]
        partial_body: Option<String>,
    },
}

/// A reply to attempt `id`.
#[derive(Debug)]
pub struct Reply {
    /// The attempt.
    pub id: u64,
    /// What it got.
    pub result: Result<RawResponse, FetchError>,
}

/// A line the program should not have sent, in words for the run's failure.
pub type LineError = String;

/// Parses line `number` (1-based) of the program's output, after its `hello`.
pub fn parse_reply(number: u64, line: &str) -> Result<Reply, LineError> {
    let bad = |why: String| format!("line {number} of its output {why}: {}", excerpt(line));
    let decode = |b64: &str, what: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| bad(format!("has a {what} that is not base64 ({e})")))
    };
    match serde_json::from_str::<FromProgram>(line) {
        Err(e) => Err(bad(format!(
            "is not a protocol message ({e}; accepted: one JSON object per line with \
             \"type\" response or error)"
        ))),
        Ok(FromProgram::Hello { .. }) => Err(bad("is a second hello".into())),
        Ok(FromProgram::Response {
            id,
            status,
            location,
            content_type,
            body,
        }) => {
            if !(100..=999).contains(&status) {
                return Err(bad(format!("has status {status} (accepted: 100 to 999)")));
            }
            Ok(Reply {
                id,
                result: Ok(RawResponse {
                    status,
                    location,
                    content_type,
                    body: decode(&body, "body")?,
                }),
            })
        }
        Ok(FromProgram::Error {
            id,
            kind,
            detail,
            partial_body,
        }) => {
            if matches!(
                kind,
                ErrorKind::RedirectLoop
                    | ErrorKind::TooManyRedirects
                    | ErrorKind::BadRedirect
                    | ErrorKind::EchoMismatch
                    | ErrorKind::RobotsDisallowed
            ) {
                return Err(bad(format!(
                    "reports {}, which only the harness decides (a program makes one attempt; \
                     accepted kinds: connect, timeout, reset, truncated, body_too_large, \
                     invalid_response, tls, other)",
                    kind.as_str()
                )));
            }
            let mut err = FetchError::new(kind, detail);
            if let Some(partial) = partial_body {
                err.partial_body = Some(decode(&partial, "partial_body")?);
            }
            Ok(Reply {
                id,
                result: Err(err),
            })
        }
    }
}

/// Parses the program's first line: its `hello`, with the version checked.
pub fn parse_hello(line: &str) -> Result<(Option<String>, Option<String>), LineError> {
    match serde_json::from_str::<FromProgram>(line) {
        Ok(FromProgram::Hello {
            protocol: PROTOCOL_VERSION,
            runtime,
            client,
        }) => Ok((runtime, client)),
        Ok(FromProgram::Hello { protocol, .. }) => Err(format!(
            "it speaks protocol version {protocol}, this harness speaks version \
             {PROTOCOL_VERSION} (accepted: {PROTOCOL_VERSION})"
        )),
        Ok(_) | Err(_) => Err(format!(
            "line 1 of its output is not a hello (accepted: {{\"type\":\"hello\",\"protocol\":\
             {PROTOCOL_VERSION}}}): {}",
            excerpt(line)
        )),
    }
}

/// The start of a line, for messages (a body may be megabytes long).
fn excerpt(line: &str) -> String {
    const SHOWN: usize = 160;
    match line.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{:?}…", &line[..at]),
        None => format!("{line:?}"),
    }
}

/// The `get` line for attempt `id` of `url`, newline included.
pub fn get_line(id: u64, url: &str) -> Vec<u8> {
    let url = Cow::Borrowed(url);
    let mut line = serde_json::to_vec(&ToProgram::Get { id, url }).expect("plain data");
    line.push(b'\n');
    line
}

/// The `job` line for `job`, newline included.
pub fn job_line(job: &CrawlJob) -> Vec<u8> {
    let mut line = serde_json::to_vec(&ToProgram::Job(JobMessage::of(job))).expect("plain data");
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_and_bad_lines_name_their_number() {
        let ok = parse_reply(
            3,
            r#"{"type":"response","id":7,"status":200,"content_type":"text/html","body":"aGk=","extra":1}"#,
        )
        .unwrap();
        assert_eq!(ok.id, 7);
        let raw = ok.result.unwrap();
        assert_eq!((raw.status, raw.body.as_slice()), (200, &b"hi"[..]));
        let err = parse_reply(
            4,
            r#"{"type":"error","id":8,"kind":"body_too_large","detail":"cap","partial_body":"aGk="}"#,
        )
        .unwrap()
        .result
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::BodyTooLarge);
        assert_eq!(err.partial_body.as_deref(), Some(&b"hi"[..]));
        for (line, says) in [
            ("not json", "line 9 of its output is not a protocol message"),
            (r#"{"type":"respons","id":1}"#, "unknown variant"),
            (
                r#"{"type":"response","id":1,"status":200}"#,
                "missing field `body`",
            ),
            (
                r#"{"type":"response","id":1,"status":200,"body":"!!"}"#,
                "not base64",
            ),
            (
                r#"{"type":"response","id":1,"status":20,"body":""}"#,
                "accepted: 100 to 999",
            ),
            (
                r#"{"type":"error","id":1,"kind":"redirect_loop"}"#,
                "only the harness decides",
            ),
            (
                r#"{"type":"error","id":1,"kind":"oops"}"#,
                "unknown variant",
            ),
            (r#"{"type":"hello","protocol":1}"#, "second hello"),
        ] {
            let e = parse_reply(9, line).unwrap_err();
            assert!(e.contains("line 9") && e.contains(says), "{line}: {e}");
        }
    }

    #[test]
    fn hello_checks_the_version() {
        assert_eq!(
            parse_hello(r#"{"type":"hello","protocol":1,"client":"x 1"}"#).unwrap(),
            (None, Some("x 1".into()))
        );
        let e = parse_hello(r#"{"type":"hello","protocol":2}"#).unwrap_err();
        assert!(e.contains("version 2") && e.contains("accepted: 1"), "{e}");
        let e = parse_hello("hello").unwrap_err();
        assert!(e.contains("not a hello"), "{e}");
    }

    #[test]
    fn the_job_line_carries_what_a_client_needs() {
        let url = url::Url::parse("http://h0.crawl.test:8080/a").unwrap();
        let mut map = crawlbench_core::ResolveMap::default();
        map.insert("h0.crawl.test", "127.0.0.1".parse().unwrap());
        let job = CrawlJob::list(vec![url])
            .concurrency(5)
            .resolve(map)
            .connections(ConnectionPolicy::Fresh)
            .build()
            .unwrap();
        let line = job_line(&job);
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["type"], "job");
        assert_eq!(v["protocol"], 1);
        assert_eq!(v["concurrency"], 5);
        assert_eq!(v["connections"], "fresh");
        assert_eq!(v["resolve"]["h0.crawl.test"], "127.0.0.1");
        assert!(v.get("urls").is_none());
    }
}
