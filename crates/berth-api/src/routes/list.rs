//! `GET /containers/json`: Docker's container list with `all`, `limit`
//! and `filters`.

use super::inspect::docker_status;
use super::{filters, qbool, qnum, Query};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use berth_core::{ContainerRecord, ContainerState};
use serde_json::{json, Value};

use berth_core::units::human_duration;

fn since(t: Option<jiff::Timestamp>) -> i64 {
    t.map(|t| jiff::Timestamp::now().as_second() - t.as_second())
        .unwrap_or(0)
}

/// `Status` as `docker ps` shows it.
fn status_text(rec: &ContainerRecord) -> String {
    let s = &rec.state;
    match s.state {
        ContainerState::Running | ContainerState::Stopping => {
            format!("Up {}", human_duration(since(s.started_at)))
        }
        ContainerState::Paused => format!("Up {} (Paused)", human_duration(since(s.started_at))),
        ContainerState::Exited | ContainerState::Stopped => format!(
            "Exited ({}) {} ago",
            s.exit_code.unwrap_or(0),
            human_duration(since(s.finished_at))
        ),
        ContainerState::Removing => "Removal In Progress".into(),
        ContainerState::Configured | ContainerState::Created => "Created".into(),
    }
}

/// Does `rec` pass the filter `key=value`?
fn matches(rec: &ContainerRecord, key: &str, value: &str) -> ApiResult<bool> {
    let c = &rec.config;
    Ok(match key {
        "id" => c.id.starts_with(value),
        "name" => c.name.contains(value.trim_start_matches('/')),
        "status" => {
            const WORDS: [&str; 7] = [
                "created",
                "restarting",
                "running",
                "removing",
                "paused",
                "exited",
                "dead",
            ];
            if !WORDS.contains(&value) {
                return Err(ApiError::bad_request(format!(
                    "invalid filter 'status={value}'"
                )));
            }
            docker_status(rec.state.state) == value
        }
        "label" => match value.split_once('=') {
            Some((k, v)) => c.labels.get(k).is_some_and(|x| x == v),
            None => c.labels.contains_key(value),
        },
        "exited" => {
            let code: i32 = value
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid filter 'exited={value}'")))?;
            docker_status(rec.state.state) == "exited" && rec.state.exit_code == Some(code)
        }
        "ancestor" => {
            let short = c.image_name.rsplit('/').next().unwrap_or("");
            let untagged = |n: &str| n.split(':').next().unwrap_or("").to_string();
            c.image_name == value
                || short == value
                || untagged(&c.image_name) == value
                || untagged(short) == value
                || c.image_id.starts_with(value.trim_start_matches("sha256:"))
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid filter '{other}': not supported by berth yet"
            )))
        }
    })
}

/// Docker's `Ports` list: one entry per published port.
fn ports(rec: &ContainerRecord) -> Value {
    let mut out = Vec::new();
    for p in &rec.config.net.ports {
        for i in 0..p.range.max(1) {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            out.push(json!({
                "IP": ip, "PrivatePort": p.container_port + i,
                "PublicPort": p.host_port + i, "Type": p.protocol,
            }));
        }
    }
    Value::Array(out)
}

pub fn entry(rec: &ContainerRecord) -> Value {
    let c = &rec.config;
    json!({
        "Id": c.id,
        "Names": [format!("/{}", c.name)],
        "Image": c.image_name,
        "ImageID": format!("sha256:{}", c.image_id),
        "Command": c.args.join(" "),
        "Created": c.created.as_second(),
        "Ports": ports(rec),
        "Labels": c.labels,
        "State": docker_status(rec.state.state),
        "Status": status_text(rec),
        "HostConfig": { "NetworkMode": super::inspect::network_mode(rec) },
        "NetworkSettings": {
            "Networks": berth_core::network::network_settings(rec, "")["Networks"]
        },
        "Mounts": c.mounts.iter().map(|m| json!({
            "Type": m.kind, "Source": m.source, "Destination": m.destination,
            "Mode": m.options.join(","), "RW": !m.read_only(), "Propagation": "",
        })).collect::<Vec<_>>(),
    })
}

/// `GET /containers/json?all=1&limit=N&filters=...`.
pub async fn list(State(st): State<AppState>, q: Query) -> ApiResult<Json<Vec<Value>>> {
    let limit: Option<i64> = qnum(&q, "limit")?;
    let limit = limit.filter(|&n| n > 0);
    // `limit` lists the N newest whatever their state (Docker).
    let all = qbool(&q, "all")? || limit.is_some();
    let filters = filters(&q)?;
    let mut recs = st.engine(|rt| rt.containers()).await?;
    recs.sort_by_key(|r| std::cmp::Reverse(r.config.created));
    let mut out = Vec::new();
    for rec in &recs {
        let status_filtered = filters.iter().any(|(k, _)| k == "status" || k == "exited");
        // Paused containers still run: `docker ps` lists them.
        let up = matches!(docker_status(rec.state.state), "running" | "paused");
        if !all && !status_filtered && !up {
            continue;
        }
        // Values of one key are alternatives; different keys must all match.
        let mut keep = true;
        let mut keys: Vec<&str> = filters.iter().map(|(k, _)| k.as_str()).collect();
        keys.dedup();
        for key in keys {
            let mut any = false;
            for (_, v) in filters.iter().filter(|(k, _)| k == key) {
                any |= matches(rec, key, v)?;
            }
            keep &= any;
        }
        if keep {
            out.push(entry(rec));
        }
        if limit.is_some_and(|n| out.len() as i64 >= n) {
            break;
        }
    }
    Ok(Json(out))
}
