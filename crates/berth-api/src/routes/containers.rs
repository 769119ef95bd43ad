//! Container lifecycle: start, stop, kill, restart, wait, delete.

use super::{qbool, qnum, Query};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_core::{ContainerState, ErrorKind};
use serde_json::{json, Value};
use std::time::Duration;

/// Docker's `t`/`timeout` parameter: seconds, `-1` meaning "wait forever".
fn stop_timeout(q: &std::collections::HashMap<String, String>) -> ApiResult<Option<u64>> {
    let t: Option<i64> = match qnum(q, "t")? {
        Some(t) => Some(t),
        None => qnum(q, "timeout")?,
    };
    Ok(t.map(|t| u64::try_from(t).unwrap_or(u64::MAX / 4)))
}

/// `POST /containers/{id}/start`: 204, or 304 when it already runs.
pub async fn start(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    st.engine(move |rt| {
        let c = rt.lookup(&id)?;
        if c.inspect_record()?.state.state == ContainerState::Running {
            return Ok(StatusCode::NOT_MODIFIED);
        }
        c.start()?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// `POST /containers/{id}/stop?t=N`: 204, or 304 when it is not running.
pub async fn stop(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let timeout = stop_timeout(&q)?;
    st.engine(move |rt| {
        let c = rt.lookup(&id)?;
        let rec = c.inspect_record()?;
        if !rec.state.state.is_active() {
            return Ok(StatusCode::NOT_MODIFIED);
        }
        c.stop_with_timeout(timeout.unwrap_or(rec.config.stop_timeout))?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// `POST /containers/{id}/kill?signal=SIG`: SIGKILL by default; 409 when
/// the container is not running (the state table decides).
pub async fn kill(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let sig = q.get("signal").cloned().unwrap_or_default();
    st.engine(move |rt| {
        let signal = if sig.is_empty() {
            libc::SIGKILL
        } else {
            berth_core::signal::parse_signal(&sig)?
        };
        rt.lookup(&id)?.kill(signal)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// `POST /containers/{id}/restart?t=N`.
pub async fn restart(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let timeout = stop_timeout(&q)?;
    st.engine(move |rt| {
        rt.lookup(&id)?.restart(timeout)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// `POST /containers/{id}/wait?condition=not-running|next-exit|removed`.
pub async fn wait(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let condition = q.get("condition").cloned().unwrap_or_default();
    if !matches!(
        condition.as_str(),
        "" | "not-running" | "next-exit" | "removed"
    ) {
        return Err(ApiError::bad_request(format!(
            "invalid condition {condition:?}: must be not-running, next-exit or removed"
        )));
    }
    let code = st
        .engine(move |rt| {
            let c = rt.lookup(&id)?;
            if condition.is_empty() || condition == "not-running" {
                // A created container is "not running" already (Docker).
                let rec = c.inspect_record()?;
                if matches!(
                    rec.state.state,
                    ContainerState::Created | ContainerState::Configured
                ) {
                    return Ok(0);
                }
            }
            // next-exit on a created container waits for it to start and
            // exit: what `docker run` asks for before it starts it.
            let code = c.wait_for_exit()?;
            if condition == "removed" {
                let mut pause = Duration::from_millis(5);
                loop {
                    match rt.lookup(c.id()) {
                        Err(e) if e.kind == ErrorKind::NoSuchContainer => break,
                        Err(e) => return Err(e),
                        Ok(_) => std::thread::sleep(pause),
                    }
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
            }
            Ok(code)
        })
        .await?;
    Ok(Json(json!({ "StatusCode": code, "Error": null })))
}

/// `DELETE /containers/{id}?force=1&v=1`: 204. Volumes (`v`) are not
/// separate objects in berth yet, so `v` has nothing extra to remove.
pub async fn remove(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let force = qbool(&q, "force")?;
    let _volumes = qbool(&q, "v")?;
    if qbool(&q, "link")? {
        return Err(ApiError::bad_request("links are not supported"));
    }
    st.engine(move |rt| {
        rt.lookup(&id)?.remove(force, None)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
