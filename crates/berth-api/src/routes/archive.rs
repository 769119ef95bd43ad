//! Files in and out of containers: `GET|HEAD|PUT /containers/{id}/archive`,
//! `GET /containers/{id}/export`, `GET /containers/{id}/changes`. The tar
//! work is berth-core's confined copy code; this only streams it.

use super::Query;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::stream::{body_reader, channel_body};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_core::PathStat;
use serde_json::{json, Value};
use std::io::Write;

/// The `path` query parameter (required).
fn path_param(q: &std::collections::HashMap<String, String>) -> ApiResult<String> {
    q.get("path")
        .filter(|p| !p.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("path cannot be empty"))
}

/// Go's `os.FileMode` bits for a unix `st_mode` (what Docker clients
/// decode: `IsDir()` is bit 31, not `S_IFDIR`).
fn go_file_mode(mode: u32) -> u32 {
    let mut m = mode & 0o777;
    m |= match mode & libc::S_IFMT {
        libc::S_IFDIR => 1 << 31,
        libc::S_IFLNK => 1 << 27,
        libc::S_IFBLK => 1 << 26,
        libc::S_IFCHR => (1 << 26) | (1 << 21),
        libc::S_IFIFO => 1 << 25,
        libc::S_IFSOCK => 1 << 24,
        _ => 0,
    };
    for (unix, go) in [
        (libc::S_ISUID, 1 << 23),
        (libc::S_ISGID, 1 << 22),
        (libc::S_ISVTX, 1 << 20),
    ] {
        if mode & unix != 0 {
            m |= go;
        }
    }
    m
}

/// Standard base64 with padding (Go's `base64.StdEncoding`).
fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The `X-Docker-Container-Path-Stat` header value for `path`.
fn stat_header(path: &str, st: &PathStat) -> ApiResult<HeaderValue> {
    let trimmed = path.trim_end_matches('/');
    let name = trimmed
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("/");
    let mtime = jiff::Timestamp::new(st.mtime, st.mtime_nsec as i32)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let v = json!({
        "name": name, "size": st.size, "mode": go_file_mode(st.mode),
        "mtime": mtime, "linkTarget": "",
    });
    HeaderValue::from_str(&base64(v.to_string().as_bytes()))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Stat `path` in container `id`: the full ID and the header, or 404.
async fn stat(st: &AppState, id: String, path: String) -> ApiResult<(String, HeaderValue)> {
    let p = path.clone();
    let (full, stat) = st
        .engine(move |rt| {
            let c = rt.lookup(&id)?;
            Ok((c.id().to_string(), c.stat_path(&p)?))
        })
        .await?;
    let stat = stat.ok_or_else(|| ApiError {
        status: StatusCode::NOT_FOUND,
        message: format!(
            "Could not find the file {path} in container {id_short}",
            id_short = &full[..12]
        ),
    })?;
    Ok((full, stat_header(&path, &stat)?))
}

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// `HEAD /containers/{id}/archive?path=`: the stat header only.
pub async fn head(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let (_, h) = stat(&st, id, path_param(&q)?).await?;
    Ok(([(STAT_HEADER, h)], ()).into_response())
}

/// `GET /containers/{id}/archive?path=`: a tar of `path`, stat in the header.
pub async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let path = path_param(&q)?;
    let (full, h) = stat(&st, id, path.clone()).await?;
    let (tx, body) = channel_body();
    let rt = st.rt.clone();
    tokio::task::spawn_blocking(move || {
        let _ = rt.lookup(&full).and_then(|c| {
            let mut w = c.copy_out_tar(&path, tx.writer())?;
            w.flush()
                .map_err(|e| berth_core::Error::io("sending the archive", e))
        });
    });
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-tar"),
            ),
            (
                header::HeaderName::from_static("x-docker-container-path-stat"),
                h,
            ),
        ],
        body,
    )
        .into_response())
}

/// `PUT /containers/{id}/archive?path=DIR`: extract the tar body (plain or
/// gzip) into directory `DIR`.
pub async fn put(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
    body: Body,
) -> ApiResult<StatusCode> {
    let path = path_param(&q)?;
    let (_, _) = stat(&st, id.clone(), path.clone()).await?;
    let reader = body_reader(body);
    st.engine(move |rt| rt.lookup(&id)?.copy_in_tar(reader, &path))
        .await?;
    Ok(StatusCode::OK)
}

/// `GET /containers/{id}/export`: the whole filesystem as a tar.
pub async fn export(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let full = st
        .engine(move |rt| Ok(rt.lookup(&id)?.id().to_string()))
        .await?;
    let (tx, body) = channel_body();
    let rt = st.rt.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = tx.writer();
        if rt.export_container_to(&full, &mut w).is_ok() {
            let _ = w.flush();
        }
    });
    Ok(([(header::CONTENT_TYPE, "application/x-tar")], body).into_response())
}

/// `GET /containers/{id}/changes`: `[{"Path", "Kind"}]`, Kind 0 modified,
/// 1 added, 2 deleted.
pub async fn changes(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let list = st.engine(move |rt| rt.container_diff(&id)).await?;
    let out: Vec<Value> = list
        .iter()
        .map(|c| {
            let kind = match c.kind {
                'A' => 1,
                'D' => 2,
                _ => 0,
            };
            json!({ "Path": c.path, "Kind": kind })
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_go() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn file_modes_in_go_bits() {
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_file_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(
            go_file_mode(libc::S_IFREG | libc::S_ISUID | 0o755),
            (1 << 23) | 0o755
        );
    }
}
