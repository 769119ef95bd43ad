//! Exec sessions: create, start (hijacked or detached), inspect, resize.
//! Sessions are berth-core's persisted ones; create records a session and
//! start launches it.

use super::attach::{relay, size, Wanted};
use super::Query;
use crate::error::{ApiError, ApiResult};
use crate::hijack::Hijack;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_core::container::attach::{parse_detach_keys, DEFAULT_DETACH_KEYS};
use berth_core::container::exec::ExecOptions;
use serde::Deserialize;
use serde_json::{json, Value};

/// Parse a JSON request body (an empty body is the type's default).
pub fn json_body<T: for<'de> Deserialize<'de> + Default>(body: &Bytes, what: &str) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    attach_stdin: bool,
    tty: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    privileged: bool,
    user: String,
    working_dir: String,
    /// `[rows, columns]` of the client's terminal (API 1.42+).
    console_size: Option<[u16; 2]>,
}

/// `POST /containers/{id}/exec`: 201 `{"Id"}`.
pub async fn create(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let b: CreateBody = json_body(&body, "exec config")?;
    let opts = ExecOptions {
        command: b.cmd.unwrap_or_default(),
        env: b.env.unwrap_or_default(),
        user: b.user,
        workdir: b.working_dir,
        privileged: b.privileged,
        interactive: b.attach_stdin,
        tty: b.tty,
        console_size: b.console_size.map(|[rows, cols]| (rows, cols)),
    };
    let sid = st
        .engine(move |rt| rt.lookup(&id)?.exec_create(&opts))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": sid }))))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
    detach_keys: Option<String>,
}

/// `POST /exec/{id}/start`: `{"Detach": true}` answers 200 at once;
/// otherwise the connection is hijacked and closes after the process
/// ended and its exit code was recorded.
pub async fn start(
    State(st): State<AppState>,
    Path(id): Path<String>,
    hijack: Hijack,
    body: Bytes,
) -> ApiResult<Response> {
    let b: StartBody = json_body(&body, "exec start config")?;
    let detach = b.detach;
    let keys = parse_detach_keys(b.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS))?;
    let s = st.engine(move |rt| rt.exec_startable(&id)).await?;
    let (sid, tty, stdin) = (s.id, s.tty, s.interactive);
    if detach {
        st.engine(move |rt| rt.exec_start(&sid, true)).await?;
        return Ok(StatusCode::OK.into_response());
    }
    // As dockerd does: hand over the connection, then start the process.
    // Output sent before the client read the 101 could land in its HTTP
    // parser's buffer and be lost (docker-py reads the raw socket after).
    let rt = st.rt.clone();
    Ok(hijack.serve(tty, move |pipes| async move {
        let start_rt = rt.clone();
        let start_sid = sid.clone();
        let started = tokio::task::spawn_blocking(move || start_rt.exec_start(&start_sid, false))
            .await
            .unwrap_or_else(|e| Err(berth_core::Error::internal(e.to_string())));
        let stream = match started {
            Ok(Some(stream)) => stream,
            Ok(None) => return,
            // A command that cannot run is the process's failure, as in
            // Docker: its message on stderr, its code (126/127) recorded
            // in the session.
            Err(e) => {
                let mut err = pipes.output.writer(crate::stream::STDERR, true);
                let _ = tokio::task::spawn_blocking(move || {
                    std::io::Write::write_all(&mut err, format!("{e}\n").as_bytes())
                })
                .await;
                return;
            }
        };
        let want = Wanted {
            stdin,
            stdout: true,
            stderr: true,
        };
        let output = pipes.output.clone();
        if !relay(stream, pipes, want, keys).await {
            // Record the exit before the client sees the end of the
            // stream: it asks for the exit code next.
            let _ = tokio::task::spawn_blocking(move || rt.exec_wait(&sid)).await;
        }
        drop(output);
    }))
}

/// `GET /exec/{id}/json`.
pub async fn inspect(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let s = st.engine(move |rt| rt.exec_session(&id)).await?;
    Ok(Json(berth_core::inspect::exec_session_json(&s)))
}

/// `POST /exec/{id}/resize?h=ROWS&w=COLS`.
pub async fn resize(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let (rows, cols) = size(&q)?;
    st.engine(move |rt| rt.exec_resize(&id, rows, cols)).await?;
    Ok(StatusCode::OK)
}
