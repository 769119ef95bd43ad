//! Container observation and management: top, stats, pause/unpause,
//! rename, update, prune.

use super::exec::json_body;
use super::{filters, qbool, Query};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::stream::channel_body;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_core::container::observe::{ResourceUpdate, Stats};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// `GET /containers/{id}/top`: `{"Titles", "Processes"}` (berth's default
/// columns; `ps_args` is not interpreted).
pub async fn top(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (titles, rows) = st.engine(move |rt| rt.lookup(&id)?.top(&[])).await?;
    Ok(Json(json!({ "Titles": titles, "Processes": rows })))
}

/// The host's total CPU time in nanoseconds (`/proc/stat`'s first line),
/// Docker's `system_cpu_usage`: clients divide container by host deltas.
fn host_cpu_nanos() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = text
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ticks * (1_000_000_000 / hz)
}

fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// One sample's CPU block.
fn cpu_block(s: Option<&Stats>, host: u64) -> Value {
    json!({
        "cpu_usage": { "total_usage": s.map_or(0, |s| s.cpu_nanos), "usage_in_kernelmode": 0, "usage_in_usermode": 0 },
        "system_cpu_usage": host,
        "online_cpus": cpus(),
        "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 },
    })
}

/// A sample in Docker's stats shape; `pre` is the previous one.
fn docker_stats(s: &Stats, host: u64, pre: Option<(&Stats, u64)>) -> Value {
    let blk = |op: &str, v: u64| json!({ "major": 0, "minor": 0, "op": op, "value": v });
    json!({
        "id": s.id, "name": format!("/{}", s.name),
        "read": jiff::Timestamp::now().to_string(),
        "preread": pre.map_or("0001-01-01T00:00:00Z".to_string(), |_| String::new()),
        "cpu_stats": cpu_block(Some(s), host),
        "precpu_stats": cpu_block(pre.map(|p| p.0), pre.map_or(0, |p| p.1)),
        "memory_stats": { "usage": s.mem_usage, "limit": s.mem_limit, "stats": {} },
        "blkio_stats": { "io_service_bytes_recursive": [blk("read", s.block_read), blk("write", s.block_write)] },
        "pids_stats": { "current": s.pids },
        "num_procs": 0,
        "networks": {},
    })
}

/// `GET /containers/{id}/stats?stream=true|false`: one JSON sample a
/// second while streaming (the default), or one.
pub async fn stats(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let stream = match q.get("stream") {
        None => true,
        Some(_) => qbool(&q, "stream")?,
    };
    let cid = id.clone();
    let first = st.engine(move |rt| rt.lookup(&cid)?.stats()).await?;
    let host = host_cpu_nanos();
    if !stream {
        return Ok(Json(docker_stats(&first, host, None)).into_response());
    }
    let (tx, body) = channel_body();
    let rt = st.rt.clone();
    tokio::task::spawn_blocking(move || {
        let mut prev = (first, host);
        let mut line = docker_stats(&prev.0, prev.1, None).to_string();
        loop {
            line.push('\n');
            if tx.send(line.into_bytes()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
            let Ok(now) = rt.lookup(&id).and_then(|c| c.stats()) else {
                return;
            };
            let host = host_cpu_nanos();
            line = docker_stats(&now, host, Some((&prev.0, prev.1))).to_string();
            prev = (now, host);
        }
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `POST /containers/{id}/pause`.
pub async fn pause(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    st.engine(move |rt| rt.lookup(&id)?.pause()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/unpause`.
pub async fn unpause(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    st.engine(move |rt| rt.lookup(&id)?.unpause()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/rename?name=NEW`.
pub async fn rename(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let name = q
        .get("name")
        .filter(|n| !n.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("name cannot be empty"))?;
    let name = name.trim_start_matches('/').to_string();
    st.engine(move |rt| rt.lookup(&id)?.rename(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct UpdateBody {
    memory: i64,
    nano_cpus: i64,
    pids_limit: Option<i64>,
    restart_policy: Option<RestartPolicy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RestartPolicy {
    name: String,
    maximum_retry_count: u32,
}

/// Docker's restart policy as berth's `--restart` word.
pub fn restart_word(name: &str, retries: u32) -> Option<String> {
    match name {
        "" => None,
        "on-failure" if retries > 0 => Some(format!("on-failure:{retries}")),
        other => Some(other.to_string()),
    }
}

/// `POST /containers/{id}/update`: Memory, NanoCpus, PidsLimit,
/// RestartPolicy (zero values leave a limit as it is, as in Docker).
pub async fn update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let b: UpdateBody = json_body(&body, "update config")?;
    let u = ResourceUpdate {
        memory: (b.memory != 0).then_some(b.memory),
        cpus: (b.nano_cpus != 0).then(|| b.nano_cpus as f64 / 1e9),
        pids_limit: b.pids_limit.filter(|&n| n != 0),
    };
    let restart = b
        .restart_policy
        .and_then(|p| restart_word(&p.name, p.maximum_retry_count));
    st.engine(move |rt| {
        let c = rt.lookup(&id)?;
        if u != ResourceUpdate::default() {
            c.update_resources(&u)?;
        }
        if let Some(r) = restart {
            c.set_restart_policy(&r)?;
        }
        Ok(())
    })
    .await?;
    Ok(Json(json!({ "Warnings": [] })))
}

/// Refuse `filters` this service does not implement for a prune, rather
/// than prune more than asked.
pub fn no_prune_filters(q: &std::collections::HashMap<String, String>) -> ApiResult<()> {
    match filters(q)?.first() {
        None => Ok(()),
        Some((k, _)) => Err(ApiError::bad_request(format!(
            "prune filter {k:?} is not supported by berth yet"
        ))),
    }
}

/// `POST /containers/prune`.
pub async fn prune(State(st): State<AppState>, q: Query) -> ApiResult<Json<Value>> {
    no_prune_filters(&q)?;
    let ids = st.engine(|rt| rt.prune_containers()).await?;
    Ok(Json(
        json!({ "ContainersDeleted": ids, "SpaceReclaimed": 0 }),
    ))
}
