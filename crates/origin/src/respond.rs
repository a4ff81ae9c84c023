//! The one interpreter of a site's [`Action`]: what bytes, headers and failures a reply becomes
//! on the wire. The site decides *what* a request gets (`site::Site::reply`, pure); the server
//! decides *when* (its connections, TLS, the round-trip model); this module decides *how* an
//! action is sent — a whole body, a reset (`SO_LINGER 0` on HTTP/1.1, `RST_STREAM` on HTTP/2),
//! a body cut off halfway, a streamed filler of any size.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use std::future::Future as _;

use bytes::Bytes;
use hyper::{
    Response,
    body::{Body, Frame, SizeHint},
    header,
};

use crate::site::{Action, FILLER};

/// The error that makes hyper drop a connection on purpose (after `SO_LINGER` 0: a reset).
#[derive(Debug)]
pub(crate) struct InjectedReset;
impl std::fmt::Display for InjectedReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}
impl std::error::Error for InjectedReset {}

/// The response that carries `action` (or the error that resets it), on a connection whose
/// socket is `fd` and which speaks HTTP/2 when `http2`.
pub(crate) fn respond(
    action: Action,
    http2: bool,
    fd: i32,
) -> Result<Response<SiteBody>, InjectedReset> {
    let response = Response::builder();
    let response = match action {
        Action::Respond {
            status,
            content_type,
            location,
            body,
        } => {
            let mut r = response
                .status(status)
                .header(header::CONTENT_TYPE, content_type);
            if let Some(loc) = location {
                r = r.header(header::LOCATION, loc);
            }
            r.body(SiteBody::Full(Some(body)))
        }
        Action::Reset => {
            // HTTP/1.1: the connection is reset (RST). HTTP/2: the error resets this stream
            // only (RST_STREAM); the connection carries other requests and stays up.
            if !http2 {
                set_linger_zero(fd);
            }
            return Err(InjectedReset);
        }
        Action::Truncate { body } => {
            let announced = body.len() as u64;
            let half = body.slice(..body.len() / 2);
            response
                .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
                .body(SiteBody::Truncated {
                    prefix: Some(half),
                    announced,
                    pause: None,
                })
        }
        Action::Stream { len } => response
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(SiteBody::Filler { remaining: len }),
    };
    Ok(response.expect("static headers are valid"))
}

/// Makes the next `close()` of this connection send RST instead of FIN.
fn set_linger_zero(fd: i32) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `fd` is the connection's socket, still open: hyper owns the stream and closes it
    // only after this request's service call returns. setsockopt copies the struct.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// The response bodies the site needs: whole, a streamed filler of any size (chunked), and a
/// truncated one that announces its full length and fails halfway (hyper then closes the
/// connection, which is exactly what a client must see as a truncated body).
#[derive(Debug)]
pub(crate) enum SiteBody {
    Full(Option<Bytes>),
    Filler {
        remaining: u64,
    },
    Truncated {
        prefix: Option<Bytes>,
        announced: u64,
        /// After the prefix, wait so hyper flushes it before the failure closes the connection
        /// (an immediate error aborts with the prefix still in hyper's buffer: a reset, not a
        /// truncated body).
        pause: Option<Pin<Box<tokio::time::Sleep>>>,
    },
}

impl Body for SiteBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        Poll::Ready(match this {
            SiteBody::Full(body) => body.take().map(|b| Ok(Frame::data(b))),
            SiteBody::Filler { remaining } => {
                if *remaining == 0 {
                    None
                } else {
                    static CHUNK: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
                    let chunk = CHUNK.get_or_init(|| {
                        Bytes::from(
                            FILLER
                                .iter()
                                .copied()
                                .cycle()
                                .take(64 * 1024)
                                .collect::<Vec<u8>>(),
                        )
                    });
                    let n = (*remaining).min(chunk.len() as u64);
                    *remaining -= n;
                    Some(Ok(Frame::data(chunk.slice(..n as usize))))
                }
            }
            SiteBody::Truncated { prefix, pause, .. } => {
                if let Some(p) = prefix.take() {
                    *pause = Some(Box::pin(tokio::time::sleep(Duration::from_millis(20))));
                    return Poll::Ready(Some(Ok(Frame::data(p))));
                }
                if let Some(sleep) = pause.as_mut() {
                    std::task::ready!(sleep.as_mut().poll(cx));
                }
                Some(Err(io::Error::other("injected fault: body truncated")))
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        matches!(
            self,
            SiteBody::Full(None) | SiteBody::Filler { remaining: 0 }
        )
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SiteBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            SiteBody::Full(None) => SizeHint::with_exact(0),
            SiteBody::Filler { .. } => SizeHint::default(),
            SiteBody::Truncated { announced, .. } => SizeHint::with_exact(*announced),
        }
    }
}
