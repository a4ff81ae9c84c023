//! The connect gate: a tower layer around reqwest's connector (`ClientBuilder::connector_layer`)
//! that does two things hyper-util's pool does not.
//!
//! **A connection budget per host (HTTP/1.1, `reuse`).** hyper-util races every request's pool
//! checkout against a new connect; when a connection comes back to the pool a moment after a new
//! request started connecting, the checkout wins and the started connect is finished *in the
//! background* and parked in the pool — an extra connection the origin counts, though at no
//! moment were more than `concurrency` needed. The gate holds a semaphore of `concurrency`
//! permits for each host (`scheme://host:port`, the key of hyper-util's pool, so one per virtual
//! host of a name-based origin): a connect takes one (kept by the connection once it is made,
//! handed back when the connect fails), and [`ConnectGate::closed_one`] adds one back when an
//! attempt failed after it had a connection (a reset, truncation, timeout or oversized body
//! closes it). A connect that must wait for a permit waits for a pooled connection to that host
//! to come back instead; if hyper-util moves it to the background meanwhile (seen as a different
//! tokio task polling it — its request got a pooled connection), it gives up: that connection is
//! not needed. So the origin accepts at most `concurrency` connections per host plus one per
//! failed attempt, which `verified_run` checks. A permit cannot be handed back for a connection
//! the *server* closed while idle (the origin never does; a real server may): a request that
//! waits longer than a grace period connects anyway, in place of that lost permit, so the budget
//! never becomes a silent cap on concurrency.
//!
//! The budget is per host, not one for the whole client, because hyper-util's pool is: idle
//! connections to one host are of no use to a request for another, so a single budget would make
//! every connect to a new host of a multi-host crawl wait out the grace period while another
//! host's idle connections held the permits. reqwest hands the connector an opaque request (its
//! `Uri` is private), so the host's key travels beside it: [`ConnectGate::scope`] sets it for the
//! request's future (a tokio task-local), and the connector, which hyper-util calls from the
//! requesting task, reads it. A connect made outside such a scope shares one budget.
//!
//! **A shared connect's failure (HTTP/2, `reuse`).** Requests that arrive while the host's one
//! HTTP/2 connection is being made wait for it; when that connect fails, hyper-util fails them
//! with a bare "request was canceled". The gate records every connect failure, so such a request
//! reports what actually failed (a refused connection, an untrusted certificate), exactly like
//! the request that made the connect.

use std::{
    collections::HashMap,
    future::{Future, poll_fn},
    hash::{DefaultHasher, Hash, Hasher},
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

tokio::task_local! {
    /// The host key ([`host_key`]) of the request whose future is being polled.
    static HOST: u64;
}

/// The key of `url`'s host for the per-host budget: a hash of `scheme://host:port` (hyper-util
/// pools by scheme and authority), so that no string is allocated per request.
pub(crate) fn host_key(url: &url::Url) -> u64 {
    let mut hasher = DefaultHasher::new();
    url.scheme().hash(&mut hasher);
    url.host_str().hash(&mut hasher);
    url.port_or_known_default().hash(&mut hasher);
    hasher.finish()
}

/// Shared state of one client's connect gate.
#[derive(Debug)]
pub(crate) struct ConnectGate {
    /// Connections that may still be opened to each host, `concurrency` to start with (HTTP/1.1
    /// `reuse` only; `None` otherwise).
    budget: Option<Budget>,
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
            budget: connections.map(|n| Budget {
                per_host: n.max(1),
                hosts: Mutex::new(HashMap::new()),
            }),
            grace,
            failures: AtomicU64::new(0),
            last_failure: Mutex::new(None),
        })
    }

    /// The layer to hand to `ClientBuilder::connector_layer`.
    pub(crate) fn layer(self: &Arc<Self>) -> ConnectLayer {
        ConnectLayer(Arc::clone(self))
    }

    /// Whether connects are budgeted (HTTP/1.1 `reuse`): only then does a request need
    /// [`ConnectGate::scope`].
    pub(crate) fn budgeted(&self) -> bool {
        self.budget.is_some()
    }

    /// Runs a request's future with its host's key, so that a connect it makes draws on that
    /// host's budget.
    pub(crate) async fn scope<F: Future>(&self, host: u64, request: F) -> F::Output {
        HOST.scope(host, request).await
    }

    /// An attempt to `host` that had a connection failed, so that connection is closed: one more
    /// may be opened to that host.
    pub(crate) fn closed_one(&self, host: u64) {
        if let Some(budget) = &self.budget {
            budget.host(host).add_permits(1);
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

/// The per-host connection budgets of an HTTP/1.1 `reuse` client.
#[derive(Debug)]
struct Budget {
    /// Permits each host starts with.
    per_host: usize,
    /// Each host's semaphore, made on its first connect.
    hosts: Mutex<HashMap<u64, Arc<Semaphore>>>,
}

impl Budget {
    /// The semaphore of `host` (made with `per_host` permits on first use).
    fn host(&self, host: u64) -> Arc<Semaphore> {
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
        )
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
        // Read here, in the requesting task, inside its `scope` (a connect outside any shares
        // the key 0).
        let budget = gate
            .budget
            .as_ref()
            .map(|budget| budget.host(HOST.try_with(|host| *host).unwrap_or(0)));
        Box::pin(async move {
            let pass = match &budget {
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
