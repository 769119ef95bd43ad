//! Shared service state and the one way handlers reach the engine.

use crate::error::{ApiError, ApiResult};
use berth_core::Runtime;
use std::sync::Arc;

/// What every handler gets: the engine, opened once.
#[derive(Clone)]
pub struct AppState {
    pub rt: Arc<Runtime>,
}

impl AppState {
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
