//! `GET /images/json`, `GET /images/{name}/json`, `DELETE /images/{name}`.
//! Image names contain slashes (`localhost/busybox:latest`) and clients
//! send them unescaped, so the name is everything before the last segment.

use super::{qbool, Query};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_core::ImageInfo;
use serde_json::{json, Value};

fn created_secs(i: &ImageInfo) -> i64 {
    i.created
        .as_deref()
        .and_then(|c| c.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second())
        .unwrap_or(0)
}

/// Docker-style tags: `docker.io/library/x:y` shows as `x:y`.
fn repo_tags(i: &ImageInfo) -> Vec<String> {
    i.names
        .iter()
        .map(|n| {
            n.strip_prefix("docker.io/library/")
                .or_else(|| n.strip_prefix("docker.io/"))
                .unwrap_or(n)
                .to_string()
        })
        .collect()
}

fn summary(i: &ImageInfo, containers: usize) -> Value {
    let digests: Vec<String> = i
        .names
        .iter()
        .map(|n| {
            let repo = n.rsplit_once(':').map(|(r, _)| r).unwrap_or(n);
            format!("{repo}@{}", i.digest)
        })
        .collect();
    json!({
        "Id": format!("sha256:{}", i.id),
        "ParentId": "",
        "RepoTags": repo_tags(i),
        "RepoDigests": digests,
        "Created": created_secs(i),
        "Size": i.size,
        "SharedSize": -1,
        "VirtualSize": i.size,
        "Labels": {},
        "Containers": containers,
    })
}

/// `GET /images/json`.
pub async fn list(State(st): State<AppState>, q: Query) -> ApiResult<Json<Vec<Value>>> {
    let _all = qbool(&q, "all")?;
    if super::filters(&q)?.iter().any(|(k, _)| k != "reference") {
        return Err(ApiError::bad_request(
            "only the reference filter is supported for images yet",
        ));
    }
    let refs: Vec<String> = super::filters(&q)?.into_iter().map(|(_, v)| v).collect();
    let (images, ctrs) = st
        .engine(|rt| Ok((rt.list_images()?, rt.containers()?)))
        .await?;
    let out = images
        .iter()
        .filter(|i| {
            refs.is_empty()
                || refs.iter().any(|r| {
                    i.names
                        .iter()
                        .any(|n| n == r || n.ends_with(&format!("/{r}")))
                        || repo_tags(i)
                            .iter()
                            .any(|t| t == r || t.split(':').next() == Some(r))
                })
        })
        .map(|i| {
            let n = ctrs.iter().filter(|c| c.config.image_id == i.id).count();
            summary(i, n)
        })
        .collect();
    Ok(Json(out))
}

/// `GET /images/{name}/json`.
pub async fn inspect(
    State(st): State<AppState>,
    Path(rest): Path<String>,
) -> ApiResult<Json<Value>> {
    let Some(name) = rest.strip_suffix("/json").filter(|n| !n.is_empty()) else {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("page not found: /images/{rest}"),
        });
    };
    let name = name.to_string();
    let i = st.engine(move |rt| rt.lookup_image(&name)).await?;
    let config: Value = serde_json::from_str(&i.config_json).unwrap_or(Value::Null);
    let cfg = &config["config"];
    let pick = |k: &str| cfg.get(k).cloned().unwrap_or(Value::Null);
    Ok(Json(json!({
        "Id": format!("sha256:{}", i.id),
        "RepoTags": repo_tags(&i),
        "RepoDigests": summary(&i, 0)["RepoDigests"],
        "Parent": "",
        "Comment": config.get("comment").cloned().unwrap_or(json!("")),
        "Created": i.created.clone().unwrap_or_default(),
        "DockerVersion": "",
        "Author": config.get("author").cloned().unwrap_or(json!("")),
        "Config": {
            "Hostname": "", "Domainname": "", "User": pick("User").as_str().unwrap_or(""),
            "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
            "Tty": false, "OpenStdin": false, "StdinOnce": false,
            "Env": pick("Env"), "Cmd": pick("Cmd"), "Image": "",
            "Volumes": pick("Volumes"), "WorkingDir": pick("WorkingDir").as_str().unwrap_or(""),
            "Entrypoint": pick("Entrypoint"), "OnBuild": null,
            "Labels": pick("Labels"), "ExposedPorts": pick("ExposedPorts"),
            "StopSignal": pick("StopSignal").as_str().unwrap_or(""),
        },
        "Architecture": config.get("architecture").cloned().unwrap_or(json!("")),
        "Os": config.get("os").cloned().unwrap_or(json!("linux")),
        "Size": i.size,
        "VirtualSize": i.size,
        "GraphDriver": { "Name": "overlay", "Data": {} },
        "RootFS": { "Type": "layers", "Layers": i.layers },
        "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" },
    })))
}

/// `DELETE /images/{name}?force=1`: Docker's list of what was untagged
/// and deleted.
pub async fn remove(
    State(st): State<AppState>,
    Path(name): Path<String>,
    q: Query,
) -> ApiResult<Json<Vec<Value>>> {
    let force = qbool(&q, "force")?;
    let lines = st.engine(move |rt| rt.remove_image(&name, force)).await?;
    // The engine reports Podman's `Untagged: x` / `Deleted: id` lines.
    let out = lines
        .iter()
        .filter_map(|l| {
            let (what, v) = l.split_once(": ")?;
            Some(match what {
                "Deleted" if !v.starts_with("sha256:") => json!({ what: format!("sha256:{v}") }),
                _ => json!({ what: v }),
            })
        })
        .collect();
    Ok(Json(out))
}
