//! A minimal keep-alive pool for hyper's low-level HTTP/1 client, which has none of its own.
//!
//! Without it every attempt would open a fresh TCP connection, and this backend would measure
//! connection setup instead of its executor (with `connections = fresh` that is the point, and
//! the client bypasses the pool). It is deliberately small: idle senders per
//! `scheme://host:port` (a hyper `SendRequest` does not name its transport, so plain and TLS
//! connections share the pool under different keys), a `std::sync::Mutex` held only to push or
//! pop (never across an `.await`), no size cap (there are never more idle connections than
//! fetches that were in flight at once, so the pool cannot limit concurrency) and no idle
//! timeout (a run is short, and a connection the server closed is recognised and dropped when
//! it is taken).

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use hyper::client::conn::http1::SendRequest;

/// Idle keep-alive connections, keyed by `scheme://host:port`.
#[derive(Debug)]
pub(crate) struct Pool<B> {
    idle: Mutex<HashMap<String, Vec<SendRequest<B>>>>,
    opened: AtomicU64,
    reused: AtomicU64,
}

impl<B> Default for Pool<B> {
    fn default() -> Self {
        Self {
            idle: Mutex::new(HashMap::new()),
            opened: AtomicU64::new(0),
            reused: AtomicU64::new(0),
        }
    }
}

impl<B> Pool<B> {
    /// Takes an idle connection to `key` that is not known to be closed, most recently used
    /// first (the likeliest to be alive). Closed ones met on the way are dropped.
    ///
    /// A connection taken here may still turn out dead; the caller waits for it to be ready and
    /// falls back to a new connection when it is not.
    pub(crate) fn take(&self, key: &str) -> Option<SendRequest<B>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.get_mut(key)?;
        while let Some(sender) = list.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    /// Returns a connection whose response was read to its end, unless it has already closed.
    pub(crate) fn put(&self, key: &str, sender: SendRequest<B>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        match idle.get_mut(key) {
            Some(list) => list.push(sender),
            None => {
                idle.insert(key.to_owned(), vec![sender]);
            }
        }
    }

    /// Counts a newly opened connection.
    pub(crate) fn record_opened(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request sent on a pooled connection.
    pub(crate) fn record_reused(&self) {
        self.reused.fetch_add(1, Ordering::Relaxed);
    }

    /// Connections opened so far.
    pub(crate) fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Requests sent on a reused connection so far.
    pub(crate) fn reused(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }

    /// Idle connections held right now.
    pub(crate) fn idle(&self) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.values().map(Vec::len).sum()
    }
}
