//! `POST /containers/{id}/attach` (hijacked), `GET .../attach/ws`
//! (websocket) and `/resize`, and the start side of attaching before the
//! start (what `docker run` does).

use super::{qbool, qnum, Query};
use crate::error::{ApiError, ApiResult};
use crate::hijack::Hijack;
use crate::pipes::Pipes;
use crate::state::{AppState, Waiting};
use crate::stream::{STDERR, STDOUT};
use crate::version::ApiVersion;
use crate::websocket;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_core::container::attach::{parse_detach_keys, DEFAULT_DETACH_KEYS};
use berth_core::{read_log, AttachStream, Container, ContainerState, LogOptions};
use std::io::Write;
use std::time::Duration;

/// Which streams a client attaches (`stdin`, `stdout`, `stderr`).
#[derive(Clone, Copy)]
pub struct Wanted {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// Relay `stream` to the client's pipes on the blocking pool; returns when
/// the process's output ended, the client went, or it typed `detach_keys`
/// (then true).
pub async fn relay(
    stream: AttachStream,
    mut pipes: Pipes,
    want: Wanted,
    detach_keys: Vec<u8>,
) -> bool {
    let detached = match stream.closer() {
        Ok(closer) => pipes.input.detach_on(detach_keys, closer),
        Err(_) => Default::default(),
    };
    if let Ok(closer) = stream.closer() {
        pipes.output.close_relay_when_gone(closer);
    }
    let _ = tokio::task::spawn_blocking(move || {
        let mut out = pipes.output.writer(STDOUT, want.stdout);
        let mut err = pipes.output.writer(STDERR, want.stderr);
        let _ = stream.relay(want.stdin.then_some(pipes.input), &mut out, &mut err);
    })
    .await;
    detached.load(std::sync::atomic::Ordering::SeqCst)
}

/// Where an attach gets its stream from.
enum Source {
    /// Connected now (the container is running or created in the runtime).
    Now(AttachStream),
    /// Handed over by the start (or found by polling if someone else starts it).
    AtStart(Waiting),
    /// `stream=0`: logs only.
    None,
}

/// One attach, resolved before the client is answered (an unknown
/// container is a plain 404): what to send and where it comes from. The
/// hijacked and the websocket attach differ only in how it is carried.
struct Session {
    st: AppState,
    id: String,
    tty: bool,
    want: Wanted,
    logs: bool,
    log_path: std::path::PathBuf,
    keys: Vec<u8>,
    source: Source,
}

impl Session {
    /// Resolve container `id` for an attach with these parameters.
    async fn open(
        st: AppState,
        id: String,
        want: Wanted,
        q: &std::collections::HashMap<String, String>,
    ) -> ApiResult<Session> {
        let (stream, logs) = (qbool(q, "stream")?, qbool(q, "logs")?);
        let keys = detach_keys(q)?;
        let (full_id, tty, state, log_path) = st
            .engine(move |rt| {
                let c = rt.lookup(&id)?;
                let rec = c.inspect_record()?;
                Ok((
                    c.id().to_string(),
                    rec.config.tty,
                    rec.state.state,
                    c.log_path(),
                ))
            })
            .await?;
        let source = if !stream {
            Source::None
        } else if matches!(
            state,
            ContainerState::Configured | ContainerState::Exited | ContainerState::Stopped
        ) {
            Source::AtStart(st.waiters.register(&full_id))
        } else {
            // Running or created: attach now; any other state is refused by
            // the state table with its reason.
            let id = full_id.clone();
            Source::Now(st.engine(move |rt| rt.lookup(&id)?.attach()).await?)
        };
        Ok(Session {
            st,
            id: full_id,
            tty,
            want,
            logs,
            log_path,
            keys,
            source,
        })
    }

    /// Give up before serving: a client waiting for the start withdraws.
    fn abandon(self) {
        if let Source::AtStart(w) = self.source {
            self.st.waiters.withdraw(&self.id, w.ticket);
        }
    }

    /// Send the logs if asked, then relay the stream until it ends.
    async fn run(self, pipes: Pipes) {
        let want = self.want;
        if self.logs {
            let out = pipes.output.clone();
            let log_path = self.log_path;
            let _ = tokio::task::spawn_blocking(move || {
                let (mut o, mut e) = (
                    out.writer(STDOUT, want.stdout),
                    out.writer(STDERR, want.stderr),
                );
                let opts = LogOptions::default();
                read_log(
                    &log_path,
                    &opts,
                    || false,
                    |l| {
                        let w: &mut dyn Write = if l.stderr { &mut e } else { &mut o };
                        let nl: &[u8] = if l.partial { b"" } else { b"\n" };
                        w.write_all(&[l.content.as_bytes(), nl].concat())
                    },
                )
            })
            .await;
        }
        let stream = match self.source {
            Source::Now(s) => s,
            Source::None => return,
            Source::AtStart(w) => match wait_for_start(&self.st, &self.id, w, &pipes, want).await {
                Some(s) => s,
                None => return,
            },
        };
        relay(stream, pipes, want, self.keys).await;
    }
}

/// The streams asked for with `stdin`, `stdout` and `stderr`.
fn wanted(q: &std::collections::HashMap<String, String>) -> ApiResult<Wanted> {
    Ok(Wanted {
        stdin: qbool(q, "stdin")?,
        stdout: qbool(q, "stdout")?,
        stderr: qbool(q, "stderr")?,
    })
}

/// `POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1&logs=1`
/// (hijacked).
pub async fn attach(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
    hijack: Hijack,
) -> ApiResult<Response> {
    let session = Session::open(st, id, wanted(&q)?, &q).await?;
    Ok(hijack.serve(session.tty, move |pipes| session.run(pipes)))
}

/// `GET /containers/{id}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1&logs=1`.
/// Before API 1.42 dockerd attached all three streams whatever the query
/// said; before 1.28 it sent text frames.
pub async fn attach_ws(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Extension(ApiVersion(major, minor)): Extension<ApiVersion>,
    q: Query,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let version = (major, minor);
    let want = if version >= (1, 42) {
        wanted(&q)?
    } else {
        Wanted {
            stdin: true,
            stdout: true,
            stderr: true,
        }
    };
    let session = Session::open(st, id, want, &q).await?;
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(e) => {
            session.abandon();
            return Err(ApiError::bad_request(format!(
                "not a websocket request: {e}"
            )));
        }
    };
    Ok(websocket::serve(
        upgrade,
        version >= (1, 28),
        move |pipes| session.run(pipes),
    ))
}

/// Wait for the start to hand over the stream. A container started by
/// someone else (the CLI) is noticed by polling and attached to then.
async fn wait_for_start(
    st: &AppState,
    id: &str,
    mut w: Waiting,
    pipes: &Pipes,
    want: Wanted,
) -> Option<AttachStream> {
    loop {
        tokio::select! {
            // A stream that is there wins over a timer that fired with it.
            biased;
            s = &mut w.stream => return s.ok(),
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        // A client without stdin never half-closes: its end means it left.
        let left = !want.stdin && pipes.client_done.load(std::sync::atomic::Ordering::SeqCst);
        if left || pipes.output.is_closed() {
            st.waiters.withdraw(id, w.ticket);
            return None;
        }
        let cid = id.to_string();
        let running = st
            .engine(move |rt| Ok(rt.lookup(&cid)?.inspect_record()?.state.state.is_active()))
            .await;
        match running {
            Ok(true) if st.waiters.withdraw(id, w.ticket) => {
                let cid = id.to_string();
                return st.engine(move |rt| rt.lookup(&cid)?.attach()).await.ok();
            }
            Ok(_) => {}
            Err(_) if st.waiters.withdraw(id, w.ticket) => return None,
            // Gone (a `--rm` container that already ran), but a start took
            // this waiter first: its stream, output and all, is on the way
            // (or the start failed and dropped the sender).
            Err(_) => return w.stream.await.ok(),
        }
    }
}

/// Start `c` for `POST /start`, handing the stream to clients that attached
/// before the start: the first gets the stream connected before the process
/// runs, any others attach right after.
pub fn start_with_waiters(st: &AppState, c: &Container<'_>) -> berth_core::Result<()> {
    let mut waiting = st.waiters.take_all(c.id()).into_iter();
    let Some(first) = waiting.next() else {
        return c.start();
    };
    let _ = first.send(c.start_and_attach()?);
    for tx in waiting {
        if let Ok(s) = c.attach() {
            let _ = tx.send(s);
        }
    }
    Ok(())
}

/// `POST /containers/{id}/resize?h=ROWS&w=COLS`.
pub async fn resize(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let (rows, cols) = size(&q)?;
    st.engine(move |rt| rt.lookup(&id)?.resize_tty(rows, cols))
        .await?;
    Ok(StatusCode::OK)
}

/// Docker's `detachKeys` (Podman's syntax, the default ctrl-p,ctrl-q).
pub fn detach_keys(q: &std::collections::HashMap<String, String>) -> ApiResult<Vec<u8>> {
    let spec = q
        .get("detachKeys")
        .map(String::as_str)
        .unwrap_or(DEFAULT_DETACH_KEYS);
    Ok(parse_detach_keys(spec)?)
}

/// Docker's `h` and `w` query parameters.
pub fn size(q: &std::collections::HashMap<String, String>) -> ApiResult<(u16, u16)> {
    match (qnum::<u16>(q, "h")?, qnum::<u16>(q, "w")?) {
        (Some(h), Some(w)) => Ok((h, w)),
        _ => Err(ApiError::bad_request("resize needs h and w")),
    }
}
