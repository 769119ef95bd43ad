//! Shared service state and the one way handlers reach the engine.

use crate::error::{ApiError, ApiResult};
use berth_core::{AttachStream, Runtime};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// What every handler gets: the engine, opened once, and the clients
/// attached to containers that have not started yet.
#[derive(Clone)]
pub struct AppState {
    pub rt: Arc<Runtime>,
    pub waiters: Arc<AttachWaiters>,
}

impl AppState {
    /// The state for `rt`.
    pub fn new(rt: Runtime) -> Self {
        AppState {
            rt: Arc::new(rt),
            waiters: Arc::default(),
        }
    }

    /// Run `f` against the engine on tokio's blocking pool: engine calls
    /// take flocks, talk to SQLite and exec runc, which must never stall the
    /// async workers that serve other clients.
    pub async fn engine<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Runtime) -> berth_core::Result<T> + Send + 'static,
    {
        let rt = self.rt.clone();
        match tokio::task::spawn_blocking(move || f(&rt)).await {
            Ok(r) => r.map_err(ApiError::from),
            Err(e) => Err(ApiError::internal(format!("engine task failed: {e}"))),
        }
    }
}

/// Docker's `run` attaches before it starts: such clients wait here, by
/// container ID, for the stream the start hands them (connected before the
/// process runs, so no output is lost).
#[derive(Default)]
pub struct AttachWaiters {
    next: AtomicU64,
    by_container: Mutex<WaiterMap>,
}

/// Waiters by container ID: each a ticket and where its stream goes.
type WaiterMap = HashMap<String, Vec<(u64, oneshot::Sender<AttachStream>)>>;

/// One registered waiter: its ticket and where its stream arrives.
pub struct Waiting {
    pub ticket: u64,
    pub stream: oneshot::Receiver<AttachStream>,
}

impl AttachWaiters {
    fn map(&self) -> std::sync::MutexGuard<'_, WaiterMap> {
        self.by_container.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Register a client waiting for container `id` to start.
    pub fn register(&self, id: &str) -> Waiting {
        let ticket = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.map()
            .entry(id.to_string())
            .or_default()
            .push((ticket, tx));
        Waiting { ticket, stream: rx }
    }

    /// Take every client waiting for `id` (the start serves them).
    pub fn take_all(&self, id: &str) -> Vec<oneshot::Sender<AttachStream>> {
        self.map()
            .remove(id)
            .map(|v| v.into_iter().map(|(_, tx)| tx).collect())
            .unwrap_or_default()
    }

    /// Withdraw one waiter; false when a start already took it (its stream
    /// is on the way).
    pub fn withdraw(&self, id: &str, ticket: u64) -> bool {
        let mut map = self.map();
        let Some(list) = map.get_mut(id) else {
            return false;
        };
        let before = list.len();
        list.retain(|(t, _)| *t != ticket);
        let found = list.len() != before;
        if list.is_empty() {
            map.remove(id);
        }
        found
    }
}
