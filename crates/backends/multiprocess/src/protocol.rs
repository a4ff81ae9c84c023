//! The wire protocol between the coordinator and its workers: length-delimited postcard frames on
//! the worker's stdin (coordinator → worker) and stdout (worker → coordinator).
//!
//! A frame is a `u32` little-endian payload length followed by that many bytes of postcard. The
//! length is capped at [`MAX_FRAME_BYTES`] *before* anything is allocated, so a corrupt header is a
//! refused frame, not a multi-gigabyte allocation. A decoded message must use its whole payload
//! (trailing bytes are a malformed frame, not silently ignored).
//!
//! Compatibility rule: `Hello` is variant 0 of both message enums and `version` is its first field,
//! in every protocol version, forever. [`probe_hello`] reads just those two varints, so a peer
//! with another layout is still told apart by its version number instead of a decode error.
//!
//! The job in the coordinator's `Hello` travels as JSON bytes inside the postcard frame (see
//! [`job_as_json`]): JSON is the job's own serde form (a campaign's `run-one` child gets it the
//! same way), and the job uses serde features a format that is not self-describing cannot decode
//! (the scope rule is an adjacently tagged enum; postcard refuses it with `WontImplement`). It is
//! sent once per worker, so its cost does not matter; outcomes, sent per URL, stay postcard.
//!
//! Writing: the worker writes each frame with one `write` (so a heartbeat from another thread can
//! never land inside an outcome); the coordinator encodes a frame with [`encode_frame`] and hands
//! the bytes to that worker's writer thread, which may write several queued frames at once.

use std::{
    io::{self, Read, Write},
    net::IpAddr,
};

use crawlbench_core::{CrawlJob, FetchOutcome};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use url::Url;

/// The protocol version both sides announce in their `Hello`. Bump it on any change to the
/// messages below, the `CrawlJob` and `FetchOutcome` they carry included (postcard is not
/// self-describing, so a field added to an outcome changes the layout; the job is JSON, but a
/// worker from another build may still not understand it). Version 3: the job carries its
/// connection policy and trusted CA. Version 4: the job travels as JSON inside the frame and
/// carries its crawl rules (scope, politeness, robots.txt, nofollow) and its resolve map (names
/// → addresses, which the workers' clients connect to); an outcome carries `links_partial` and
/// `robots_txt`. Version 5: `Mode` has three engines (tokio, smol, blocking), the coordinator's
/// `Hello` carries the worker's source address, and workers send `Alive` heartbeats every
/// fifth of the job's [`CrawlJob::worker_watchdog`].
pub const PROTOCOL_VERSION: u32 = 5;

/// The largest accepted frame payload. An outcome is a few KiB (its links dominate); 64 MiB is
/// far above any real message and far below what a corrupt length could ask for.
pub const MAX_FRAME_BYTES: usize = 64 << 20;

/// How a worker fetches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Mode {
    /// A current-thread tokio runtime with the reqwest engine, many fetches at once.
    AsyncTokio,
    /// One `smol::Executor` on the worker's main thread with smol-hyper's client, many fetches
    /// at once.
    AsyncSmol,
    /// One blocking ureq fetch at a time.
    Blocking,
}

/// Coordinator → worker.
#[derive(Debug, Serialize, Deserialize)]
#[allow(
    clippy::large_enum_variant,
    reason = "one Hello per worker, built and encoded at once; never stored in bulk"
)]
pub(crate) enum ToWorker {
    /// First frame. `job` carries the limits and rules (timeout, retries, redirects, body cap,
    /// user agent, connection policy, the trusted CA for `https://`, the echo check, the crawl
    /// rules, the resolve map); its workload is a one-URL stand-in, never the whole list.
    /// `slots` is the most fetches the coordinator will have outstanding on this worker.
    /// `worker`/`incarnation` identify it (slot index, and how many times that slot was
    /// restarted) for diagnostics and fault injection. `source`: the local address every
    /// connection of this worker is made from (`None`: the OS chooses). The job's
    /// `worker_watchdog` sets the heartbeat period (a fifth of it).
    Hello {
        version: u32,
        mode: Mode,
        #[serde(with = "job_as_json")]
        job: CrawlJob,
        slots: u32,
        worker: u32,
        incarnation: u32,
        source: Option<IpAddr>,
    },
    /// Fetch `url` to its outcome; answer with `FromWorker::Outcome` carrying the same `id`.
    Fetch { id: u64, url: Url },
}

/// Worker → coordinator.
#[derive(Debug, Serialize, Deserialize)]
#[allow(
    clippy::large_enum_variant,
    reason = "decoded one at a time and converted at once; boxing would allocate per outcome"
)]
pub(crate) enum FromWorker {
    /// First frame: the worker speaks `version` and is ready for `Fetch`es.
    Hello { version: u32, pid: u32 },
    /// The outcome of `Fetch { id, .. }`.
    Outcome { id: u64, outcome: FetchOutcome },
    /// Instead of `Hello`: the worker cannot run this job (invalid limits, no runtime, …).
    Refused { reason: String },
    /// A heartbeat (after `Hello`, every fifth of the job's watchdog): the worker's event loop —
    /// or, in blocking mode, its heartbeat thread — is running. Any frame counts as a sign of
    /// life; this one is for a worker with nothing else to say.
    Alive,
}

/// The job as a byte string of JSON inside the postcard frame (see the module docs).
mod job_as_json {
    use std::fmt;

    use crawlbench_core::CrawlJob;
    use serde::{Deserializer, Serializer, de, ser};

    pub(super) fn serialize<S: Serializer>(job: &CrawlJob, s: S) -> Result<S::Ok, S::Error> {
        let json = serde_json::to_vec(job).map_err(ser::Error::custom)?;
        s.serialize_bytes(&json)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CrawlJob, D::Error> {
        struct Json;
        impl de::Visitor<'_> for Json {
            type Value = CrawlJob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a crawl job as JSON bytes")
            }
            fn visit_bytes<E: de::Error>(self, json: &[u8]) -> Result<CrawlJob, E> {
                serde_json::from_slice(json).map_err(E::custom)
            }
        }
        d.deserialize_bytes(Json)
    }
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    /// The pipe failed.
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
    /// The stream ended inside a frame (the peer died while writing).
    #[error("the stream ended inside a frame")]
    Truncated,
    /// The header announced more than [`MAX_FRAME_BYTES`].
    #[error("frame header announces {0} bytes, above the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(u64),
    /// The payload is not a valid message.
    #[error("undecodable frame: {0}")]
    Decode(#[from] postcard::Error),
    /// A valid message that breaks the protocol.
    #[error("{0}")]
    Protocol(String),
}

impl FrameError {
    /// True when the peer sent something wrong (as opposed to dying or the pipe failing).
    pub(crate) fn is_malformed(&self) -> bool {
        matches!(
            self,
            Self::TooLarge(_) | Self::Decode(_) | Self::Protocol(_)
        )
    }
}

/// Encodes `msg` as one whole frame (header included).
pub(crate) fn encode_frame(msg: &impl Serialize) -> io::Result<Vec<u8>> {
    let mut frame = postcard::to_extend(msg, vec![0u8; 4]).map_err(io::Error::other)?;
    let len = frame.len() - 4;
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::other(format!(
            "message of {len} bytes is above the {MAX_FRAME_BYTES}-byte frame limit"
        )));
    }
    frame[..4].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(frame)
}

/// Writes `msg` as one frame with a single `write_all`; returns the bytes written, header included.
pub(crate) fn write_frame(w: &mut impl Write, msg: &impl Serialize) -> io::Result<usize> {
    let frame = encode_frame(msg)?;
    w.write_all(&frame)?;
    Ok(frame.len())
}

/// Reads one frame's payload into `buf`. `Ok(None)` is a clean end of stream (between frames);
/// otherwise returns the bytes read, header included.
pub(crate) fn read_frame(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
) -> Result<Option<usize>, FrameError> {
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match r.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u32::from_le_bytes(head);
    if len as usize > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(u64::from(len)));
    }
    buf.clear();
    buf.resize(len as usize, 0);
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    })?;
    Ok(Some(4 + len as usize))
}

/// Decodes a whole payload as `T`; trailing bytes are a malformed frame.
pub(crate) fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let (value, rest) = postcard::take_from_bytes(payload)?;
    if !rest.is_empty() {
        return Err(FrameError::Protocol(format!(
            "{} trailing bytes after the message",
            rest.len()
        )));
    }
    Ok(value)
}

/// The version in a `Hello` frame of *any* protocol version, or `None` when the frame is another
/// variant. Reads only the variant index and the first field (see the module doc's rule).
pub(crate) fn probe_hello(payload: &[u8]) -> Result<Option<u32>, FrameError> {
    let (variant, rest): (u32, &[u8]) = postcard::take_from_bytes(payload)?;
    if variant != 0 {
        return Ok(None);
    }
    let (version, _): (u32, &[u8]) = postcard::take_from_bytes(rest)?;
    Ok(Some(version))
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use crawlbench_core::{
        CrawlRules, ErrorKind, Outcome, Politeness, ResolveMap, RobotsRule, ScopeRule,
    };

    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn frames_of(msgs: &[FromWorker]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in msgs {
            write_frame(&mut out, m).unwrap();
        }
        out
    }

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let outcome = FetchOutcome {
            url: u("http://127.0.0.1:1/a"),
            final_url: u("http://127.0.0.1:1/b"),
            outcome: Outcome::Status(200),
            error_detail: None,
            attempts: 2,
            bytes: 10,
            html: true,
            digest: None,
            links: vec![],
            links_partial: false,
            robots_txt: None,
            latency_us: 5,
            service_us: 5,
            extract_ns: 0,
        };
        let failed = FetchOutcome {
            outcome: Outcome::Error(ErrorKind::Reset),
            error_detail: Some("reset".into()),
            digest: Some(7),
            links: vec![u("http://127.0.0.1:1/c")],
            links_partial: true,
            robots_txt: Some(b"User-agent: *\nDisallow: /private/\n".to_vec()),
            ..outcome.clone()
        };
        let bytes = frames_of(&[
            FromWorker::Hello { version: 1, pid: 9 },
            FromWorker::Alive,
            FromWorker::Outcome {
                id: 3,
                outcome: outcome.clone(),
            },
            FromWorker::Outcome {
                id: u64::MAX,
                outcome: failed.clone(),
            },
        ]);
        let mut r = Cursor::new(bytes);
        let mut buf = Vec::new();
        let n = read_frame(&mut r, &mut buf).unwrap().unwrap();
        assert_eq!(n, 4 + buf.len());
        assert_eq!(probe_hello(&buf).unwrap(), Some(1));
        read_frame(&mut r, &mut buf).unwrap().unwrap();
        assert!(matches!(
            decode::<FromWorker>(&buf).unwrap(),
            FromWorker::Alive
        ));
        assert_eq!(buf.len(), 1, "a heartbeat is one byte of payload");
        read_frame(&mut r, &mut buf).unwrap().unwrap();
        assert_eq!(probe_hello(&buf).unwrap(), None);
        match decode::<FromWorker>(&buf).unwrap() {
            FromWorker::Outcome { id: 3, outcome: o } => assert_eq!(o, outcome),
            other => panic!("{other:?}"),
        }
        read_frame(&mut r, &mut buf).unwrap().unwrap();
        match decode::<FromWorker>(&buf).unwrap() {
            FromWorker::Outcome { id, outcome: o } => {
                assert_eq!(id, u64::MAX);
                assert_eq!(o, failed);
            }
            other => panic!("{other:?}"),
        }
        assert!(read_frame(&mut r, &mut buf).unwrap().is_none());
    }

    #[test]
    fn job_survives_the_wire() {
        let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let resolve: ResolveMap = "h1.crawl.test:127.0.0.1,h2.crawl.test:[::1]"
            .parse()
            .unwrap();
        let rules = CrawlRules {
            scope: ScopeRule::Hosts(vec!["h1.crawl.test".into(), "h2.crawl.test:8443".into()]),
            politeness: Politeness {
                connections: Some(2),
                delay: std::time::Duration::from_millis(250),
            },
            robots: RobotsRule::ObeyWithCrawlDelay,
            nofollow: true,
        };
        let job = CrawlJob::crawl(vec![u("https://h1.crawl.test:1/s/")], 10)
            .timeout(std::time::Duration::from_millis(1234))
            .retries(3)
            .user_agent("ua test")
            .connections(crawlbench_core::ConnectionPolicy::Fresh)
            .trust_ca_pem(ca)
            .rules(rules.clone())
            .resolve(resolve.clone())
            .worker_watchdog(std::time::Duration::from_millis(1500))
            .build()
            .unwrap();
        let mut out = Vec::new();
        write_frame(
            &mut out,
            &ToWorker::Hello {
                version: PROTOCOL_VERSION,
                mode: Mode::Blocking,
                job: job.clone(),
                slots: 1,
                worker: 0,
                incarnation: 0,
                source: Some("127.0.2.7".parse().unwrap()),
            },
        )
        .unwrap();
        let mut buf = Vec::new();
        read_frame(&mut Cursor::new(out), &mut buf)
            .unwrap()
            .unwrap();
        assert_eq!(probe_hello(&buf).unwrap(), Some(PROTOCOL_VERSION));
        let ToWorker::Hello {
            job: back, source, ..
        } = decode(&buf).unwrap()
        else {
            panic!("not a hello")
        };
        assert_eq!(source, Some("127.0.2.7".parse().unwrap()));
        back.validate().unwrap();
        assert_eq!(back.workload(), job.workload());
        assert_eq!(
            (back.timeout(), back.retries(), back.user_agent()),
            (job.timeout(), job.retries(), job.user_agent())
        );
        assert_eq!(
            (back.connections(), back.trusted_ca_pem()),
            (crawlbench_core::ConnectionPolicy::Fresh, Some(ca))
        );
        assert_eq!((back.rules(), back.resolve()), (&rules, &resolve));
        assert_eq!(
            back.worker_watchdog(),
            std::time::Duration::from_millis(1500)
        );
        // What a worker is actually handed: the same job cut to one URL, rules and map kept.
        let limits = job.limits_only().unwrap();
        assert_eq!((limits.rules(), limits.resolve()), (&rules, &resolve));
    }

    #[test]
    fn a_newer_hello_is_told_apart_by_its_version() {
        // A hypothetical future layout: version first, then fields this build does not know.
        #[derive(Serialize)]
        enum Future {
            Hello {
                version: u32,
                extra: String,
                more: Vec<u64>,
            },
        }
        let mut out = Vec::new();
        write_frame(
            &mut out,
            &Future::Hello {
                version: 77,
                extra: "x".into(),
                more: vec![1, 2],
            },
        )
        .unwrap();
        let mut buf = Vec::new();
        read_frame(&mut Cursor::new(out), &mut buf)
            .unwrap()
            .unwrap();
        assert_eq!(probe_hello(&buf).unwrap(), Some(77));
        assert!(decode::<FromWorker>(&buf).is_err());
    }

    #[test]
    fn corrupt_frames_are_refused_without_allocating() {
        let mut buf = Vec::new();
        let huge = [0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        let err = read_frame(&mut Cursor::new(huge), &mut buf).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge(4_294_967_295)), "{err}");
        assert!(err.is_malformed());
        assert!(buf.capacity() < 1024);

        let err = read_frame(&mut Cursor::new([8, 0, 0, 0, 1, 2]), &mut buf).unwrap_err();
        assert!(matches!(err, FrameError::Truncated), "{err}");
        assert!(!err.is_malformed());
        let err = read_frame(&mut Cursor::new([8, 0]), &mut buf).unwrap_err();
        assert!(matches!(err, FrameError::Truncated), "{err}");

        read_frame(
            &mut Cursor::new([4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
            &mut buf,
        )
        .unwrap()
        .unwrap();
        let err = decode::<FromWorker>(&buf).unwrap_err();
        assert!(err.is_malformed(), "{err}");

        // A valid message followed by junk inside the same frame.
        let mut payload = postcard::to_stdvec(&FromWorker::Hello { version: 1, pid: 2 }).unwrap();
        payload.push(0);
        let err = decode::<FromWorker>(&payload).unwrap_err();
        assert!(err.to_string().contains("trailing"), "{err}");
    }
}
