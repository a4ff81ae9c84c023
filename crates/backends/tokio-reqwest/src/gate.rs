//! The connect gate: a tower layer around reqwest's connector (`ClientBuilder::connector_layer`)
//! that does two things hyper-util's pool does not.
//!
//! **A connection budget (HTTP/1.1, `reuse`).** hyper-util races every request's pool checkout
//! against a new connect; when a connection comes back to the pool a moment after a new request
//! started connecting, the checkout wins and the started connect is finished *in the background*
//! and parked in the pool — an extra connection the origin counts, though at no moment were more
//! than `concurrency` needed. The gate holds a semaphore of `concurrency` permits: a connect
//! takes one (kept by the connection once it is made, handed back when the connect fails), and
//! [`ConnectGate::closed_one`] adds one back when an attempt failed after it had a connection (a
//! reset, truncation, timeout or oversized body closes it). A connect that must wait for a
//! permit waits for a pooled connection to come back instead; if hyper-util moves it to the
//! background meanwhile (seen as a different tokio task polling it — its request got a pooled
//! connection), it gives up: that connection is not needed. So the origin accepts at most
//! `concurrency` connections plus one per failed attempt, which `verified_run` checks. A permit
//! cannot be handed back for a connection the *server* closed while idle (the origin never does;
//! a real server may): a request that waits longer than a grace period connects anyway, in place
//! of that lost permit, so the budget never becomes a silent cap on concurrency.
//!
//! **A shared connect's failure (HTTP/2, `reuse`).** Requests that arrive while the host's one
//! HTTP/2 connection is being made wait for it; when that connect fails, hyper-util fails them
//! with a bare "request was canceled". The gate records every connect failure, so such a request
//! reports what actually failed (a refused connection, an untrusted certificate), exactly like
//! the request that made the connect.

use std::{
    future::{Future, poll_fn},
    pin::{Pin, pin},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use crawlbench_core::{FetchError, fetch::Phase};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Shared state of one client's connect gate.
#[derive(Debug)]
pub(crate) struct ConnectGate {
    /// Connections that may still be opened (HTTP/1.1 `reuse` only).
    budget: Option<Arc<Semaphore>>,
    /// How long a request waits for a pooled connection before connecting without a permit.
    grace: Duration,
    /// Connect failures so far, and the last one.
    failures: AtomicU64,
    last_failure: Mutex<Option<FetchError>>,
}

impl ConnectGate {
    /// A gate with a budget of `connections` (or none: HTTP/2, or `fresh`, where hyper-util
    /// does not race connects against its pool).
    pub(crate) fn new(connections: Option<usize>, grace: Duration) -> Arc<Self> {
        Arc::new(Self {
            budget: connections.map(|n| Arc::new(Semaphore::new(n.max(1)))),
            grace,
            failures: AtomicU64::new(0),
            last_failure: Mutex::new(None),
        })
    }

    /// The layer to hand to `ClientBuilder::connector_layer`.
    pub(crate) fn layer(self: &Arc<Self>) -> ConnectLayer {
        ConnectLayer(Arc::clone(self))
    }

    /// An attempt that had a connection failed, so that connection is closed: one more may be
    /// opened.
    pub(crate) fn closed_one(&self) {
        if let Some(budget) = &self.budget {
            budget.add_permits(1);
        }
    }

    /// The number of connect failures so far (a marker for [`ConnectGate::failure_since`]).
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::SeqCst)
    }

    /// The last connect failure, if any happened after `marker` was taken.
    pub(crate) fn failure_since(&self, marker: u64) -> Option<FetchError> {
        if self.failures() == marker {
            return None;
        }
        self.last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record_failure(&self, err: &(dyn std::error::Error + 'static)) {
        let failure = FetchError::classify(err, Phase::Head);
        *self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(failure);
        self.failures.fetch_add(1, Ordering::SeqCst);
    }
}

/// The tower layer (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct ConnectLayer(Arc<ConnectGate>);

impl<S> tower_layer::Layer<S> for ConnectLayer {
    type Service = ConnectService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ConnectService {
            inner,
            gate: Arc::clone(&self.0),
        }
    }
}

/// reqwest's connector behind the gate.
#[derive(Clone, Debug)]
pub(crate) struct ConnectService<S> {
    inner: S,
    gate: Arc<ConnectGate>,
}

/// How a connect was let through.
enum Pass {
    /// With a permit of the budget, kept by the connection once it is made.
    Permit(OwnedSemaphorePermit),
    /// No budget (HTTP/2 or `fresh`), or past the grace period.
    Free,
}

impl<S, R> tower_service::Service<R> for ConnectService<S>
where
    S: tower_service::Service<R> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: R) -> Self::Future {
        // The service that was polled ready makes this call; a clone stays for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = Arc::clone(&self.gate);
        // hyper-util calls the connector from the requesting task; it moves a connect it no
        // longer needs into a task of its own.
        let requester = tokio::task::try_id();
        Box::pin(async move {
            let pass = match &gate.budget {
                Some(budget) => admit(budget, requester, gate.grace).await?,
                None => Pass::Free,
            };
            match inner.call(req).await {
                Ok(conn) => {
                    if let Pass::Permit(permit) = pass {
                        // Handed back by `closed_one` when an attempt on it fails.
                        permit.forget();
                    }
                    Ok(conn)
                }
                Err(err) => {
                    let err: BoxError = err.into();
                    gate.record_failure(&*err);
                    Err(err)
                }
            }
        })
    }
}

/// Waits for a permit while the requesting task still wants this connection.
async fn admit(
    budget: &Arc<Semaphore>,
    requester: Option<tokio::task::Id>,
    grace: Duration,
) -> Result<Pass, BoxError> {
    if let Ok(permit) = Arc::clone(budget).try_acquire_owned() {
        return Ok(Pass::Permit(permit));
    }
    let mut acquire = pin!(Arc::clone(budget).acquire_owned());
    let mut grace = pin!(tokio::time::sleep(grace));
    poll_fn(|cx| {
        if tokio::task::try_id() != requester {
            // Moved to the background: the request got a pooled connection.
            return Poll::Ready(Err(BoxError::from(
                "connection not needed: the request got a pooled connection",
            )));
        }
        if let Poll::Ready(permit) = acquire.as_mut().poll(cx) {
            return Poll::Ready(permit.map(Pass::Permit).map_err(BoxError::from));
        }
        if grace.as_mut().poll(cx).is_ready() {
            // A permit was lost to a connection closed while idle: take its place.
            return Poll::Ready(Ok(Pass::Free));
        }
        Poll::Pending
    })
    .await
}
