//! `/volumes`: list, create, inspect, delete, prune (berth-core's named
//! volumes; the local driver only).

use super::exec::json_body;
use super::manage::no_prune_filters;
use super::{filters, qbool, Query};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_core::{VolumeCreateOptions, VolumeRecord};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A volume in Docker's shape; `refs` is how many containers use it, when
/// known (`system df` asks).
pub fn docker_volume(v: &VolumeRecord, refs: Option<usize>) -> Value {
    let mut out = json!({
        "Name": v.name, "Driver": v.driver, "Mountpoint": v.mountpoint,
        "CreatedAt": v.created, "Labels": v.labels, "Scope": "local",
        "Options": v.options, "Status": {},
    });
    if let Some(n) = refs {
        out["UsageData"] = json!({ "Size": -1, "RefCount": n });
    }
    out
}

/// Does `v` pass filter `key=value` (`name`, `label`, `driver`,
/// `dangling` with `users` its container count)?
fn matches(v: &VolumeRecord, users: usize, key: &str, value: &str) -> ApiResult<bool> {
    Ok(match key {
        "name" => v.name.contains(value),
        "driver" => v.driver == value,
        "label" => match value.split_once('=') {
            Some((k, x)) => v.labels.get(k).is_some_and(|l| l == x),
            None => v.labels.contains_key(value),
        },
        "dangling" => (users == 0) == matches!(value, "true" | "1"),
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid filter {other:?} for volumes"
            )))
        }
    })
}

/// `GET /volumes?filters=...`.
pub async fn list(State(st): State<AppState>, q: Query) -> ApiResult<Json<Value>> {
    let filters = filters(&q)?;
    let all = st
        .engine(|rt| {
            rt.volumes()?
                .into_iter()
                .map(|v| Ok((rt.volume_users(&v.name)?.len(), v)))
                .collect::<berth_core::Result<Vec<_>>>()
        })
        .await?;
    let mut out = Vec::new();
    for (users, v) in &all {
        let mut keep = true;
        for (k, x) in &filters {
            keep &= matches(v, *users, k, x)?;
        }
        if keep {
            out.push(docker_volume(v, None));
        }
    }
    Ok(Json(json!({ "Volumes": out, "Warnings": [] })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    driver: String,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

/// `POST /volumes/create`: 201 and the volume; an existing name returns
/// that volume (Docker's create is idempotent).
pub async fn create(
    State(st): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let b: CreateBody = json_body(&body, "volume config")?;
    if !matches!(b.driver.as_str(), "" | "local") {
        return Err(ApiError::bad_request(format!(
            "volume driver {:?} is not supported: berth has the local driver only",
            b.driver
        )));
    }
    let kv = |m: Option<BTreeMap<String, String>>| {
        m.unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    };
    let opts = VolumeCreateOptions {
        name: (!b.name.is_empty()).then_some(b.name),
        labels: kv(b.labels),
        options: kv(b.driver_opts),
        ignore_existing: true,
    };
    let v = st.engine(move |rt| rt.create_volume(&opts)).await?;
    Ok((StatusCode::CREATED, Json(docker_volume(&v, None))))
}

/// `GET /volumes/{name}`.
pub async fn inspect(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let v = st.engine(move |rt| rt.volume(&name)).await?;
    Ok(Json(docker_volume(&v, None)))
}

/// `DELETE /volumes/{name}?force=1`: 204; 409 while a container uses it.
pub async fn remove(
    State(st): State<AppState>,
    Path(name): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let force = qbool(&q, "force")?;
    st.engine(move |rt| rt.remove_volume(&name, force)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /volumes/prune`.
pub async fn prune(State(st): State<AppState>, q: Query) -> ApiResult<Json<Value>> {
    no_prune_filters(&q)?;
    let names = st.engine(|rt| rt.prune_volumes()).await?;
    Ok(Json(
        json!({ "VolumesDeleted": names, "SpaceReclaimed": 0 }),
    ))
}
