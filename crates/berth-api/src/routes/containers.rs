//! Container lifecycle: start, stop, kill, restart, wait, delete.

use super::attach::start_with_waiters;
use super::{qbool, qnum, Query};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::stream::channel_body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_core::{verdict, ContainerRecord, ContainerState, ErrorKind, Op, Runtime, Verdict};
use serde_json::json;
use std::time::Duration;

/// Docker's `t`/`timeout` parameter: seconds, `-1` meaning "wait forever".
fn stop_timeout(q: &std::collections::HashMap<String, String>) -> ApiResult<Option<u64>> {
    let t: Option<i64> = match qnum(q, "t")? {
        Some(t) => Some(t),
        None => qnum(q, "timeout")?,
    };
    Ok(t.map(|t| u64::try_from(t).unwrap_or(u64::MAX / 4)))
}

/// Docker's `304 Not Modified`: the op has nothing to do. Stop's "already
/// done" is the state table's own verdict; a start the table refuses
/// because the container already runs is Docker's 304 too (Podman's CLI
/// reports that one as an error, the compat API as 304).
fn not_modified(op: Op, state: ContainerState) -> bool {
    match verdict(op, state) {
        Verdict::AlreadyDone => true,
        Verdict::Deny(_) => {
            op == Op::Start
                && verdict(Op::Stop, state) == Verdict::Allow
                && verdict(Op::Unpause, state) != Verdict::Allow
        }
        Verdict::Allow => false,
    }
}

/// `POST /containers/{id}/start`: 204, or 304 when it already runs.
/// Clients attached before the start get its stream from the first byte.
pub async fn start(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let app = st.clone();
    st.engine(move |rt| {
        let c = rt.lookup(&id)?;
        if not_modified(Op::Start, c.inspect_record()?.state.state) {
            return Ok(StatusCode::NOT_MODIFIED);
        }
        if let Err(e) = start_with_waiters(&app, &c) {
            c.discard_if_auto_remove();
            return Err(e);
        }
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
        if not_modified(Op::Stop, rec.state.state) {
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
/// The headers go out at once and the body when the wait ends: the docker
/// CLI's `run` waits for the headers before it starts the container, so
/// the start it is about to make must count as the "next exit".
pub async fn wait(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let condition = q.get("condition").cloned().unwrap_or_default();
    if !matches!(
        condition.as_str(),
        "" | "not-running" | "next-exit" | "removed"
    ) {
        return Err(ApiError::bad_request(format!(
            "invalid condition {condition:?}: must be not-running, next-exit or removed"
        )));
    }
    let (full_id, seen) = st
        .engine(move |rt| {
            let c = rt.lookup(&id)?;
            Ok((c.id().to_string(), c.inspect_record()?))
        })
        .await?;
    let (tx, body) = channel_body();
    let rt = st.rt.clone();
    tokio::task::spawn_blocking(move || {
        let client_there = || !tx.is_closed();
        let result = wait_blocking(&rt, &full_id, &condition, &seen, &client_there);
        let body = match result {
            Ok(code) => json!({ "StatusCode": code, "Error": null }),
            Err(e) => json!({ "StatusCode": -1, "Error": { "Message": e.to_string() } }),
        };
        let _ = tx.send(format!("{body}\n").into_bytes());
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The wait itself; `seen` is the state read before the headers went out.
fn wait_blocking(
    rt: &Runtime,
    id: &str,
    condition: &str,
    seen: &ContainerRecord,
    keep_waiting: &dyn Fn() -> bool,
) -> berth_core::Result<i32> {
    let c = rt.lookup(id)?;
    let seen = &seen.state;
    let never_ran = matches!(
        seen.state,
        ContainerState::Created | ContainerState::Configured
    );
    match condition {
        // A created container is "not running" already (Docker).
        "" | "not-running" if never_ran => Ok(0),
        "" | "not-running" => c.wait_for_exit(),
        "next-exit" => c.wait_next_exit(seen.started_at, keep_waiting),
        _ => {
            let code = if never_ran || seen.state.is_active() {
                match c.wait_next_exit(seen.started_at, keep_waiting) {
                    Err(e) if e.kind == ErrorKind::NoSuchContainer => 0,
                    other => other?,
                }
            } else {
                seen.exit_code.unwrap_or(0)
            };
            let mut pause = Duration::from_millis(5);
            while keep_waiting() {
                match rt.lookup(id) {
                    Err(e) if e.kind == ErrorKind::NoSuchContainer => return Ok(code),
                    Err(e) => return Err(e),
                    Ok(_) => std::thread::sleep(pause),
                }
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Ok(code) // nobody is waiting any more
        }
    }
}

/// `DELETE /containers/{id}?force=1&v=1`: 204; `v` also removes its
/// anonymous volumes.
pub async fn remove(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let force = qbool(&q, "force")?;
    let volumes = qbool(&q, "v")?;
    if qbool(&q, "link")? {
        return Err(ApiError::bad_request("links are not supported"));
    }
    st.engine(move |rt| rt.remove_container(&rt.lookup(&id)?, force, None, volumes))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
