//! `GET /containers/{id}/logs`: the k8s-file log, multiplexed with Docker's
//! 8-byte headers (raw when the container has a tty), optionally followed.

use super::system::parse_time as parse_docker_time;
use super::{qbool, Query};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::stream::{channel_body, frame, STDERR, STDOUT};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use berth_core::{read_log, LogOptions};

/// `?stdout=1&stderr=1&follow=1&since=T&until=T&tail=N|all&timestamps=1`.
pub async fn logs(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let want_out = qbool(&q, "stdout")?;
    let want_err = qbool(&q, "stderr")?;
    if !want_out && !want_err {
        return Err(ApiError::bad_request("you must choose at least one stream"));
    }
    let opts = LogOptions {
        since: match q.get("since").filter(|s| !s.is_empty() && *s != "0") {
            Some(s) => Some(parse_docker_time(s)?),
            None => None,
        },
        until: match q.get("until").filter(|s| !s.is_empty() && *s != "0") {
            Some(s) => Some(parse_docker_time(s)?),
            None => None,
        },
        tail: match q.get("tail").map(String::as_str) {
            None | Some("" | "all") => None,
            Some(n) => Some(
                n.parse()
                    .map_err(|_| ApiError::bad_request(format!("invalid value for tail: {n:?}")))?,
            ),
        },
        follow: qbool(&q, "follow")?,
    };
    let timestamps = qbool(&q, "timestamps")?;
    // Resolve the container before answering, so a bad name is a 404 and
    // not an empty 200.
    let (full_id, path, tty) = st
        .engine(move |rt| {
            let c = rt.lookup(&id)?;
            let rec = c.inspect_record()?;
            Ok((c.id().to_string(), c.log_path(), rec.config.tty))
        })
        .await?;
    let (tx, body) = channel_body();
    let rt = st.rt.clone();
    tokio::task::spawn_blocking(move || {
        let still_running = || {
            !tx.is_closed()
                && rt
                    .lookup(&full_id)
                    .and_then(|c| c.inspect_record())
                    .is_ok_and(|r| r.state.state.is_active())
        };
        let _ = read_log(&path, &opts, still_running, |l| {
            if (l.stderr && !want_err) || (!l.stderr && !want_out) {
                return Ok(());
            }
            let mut text = Vec::with_capacity(l.content.len() + 40);
            if timestamps {
                text.extend_from_slice(l.timestamp.as_bytes());
                text.push(b' ');
            }
            text.extend_from_slice(l.content.as_bytes());
            if !l.partial {
                text.push(b'\n');
            }
            if tty {
                tx.send(text)
            } else {
                tx.send(frame(if l.stderr { STDERR } else { STDOUT }, &text))
            }
        });
    });
    let ctype = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok(([(header::CONTENT_TYPE, ctype)], body).into_response())
}
