//! `GET /images/json`, `GET /images/{name}/json`, `DELETE /images/{name}`.
//! Image names contain slashes (`localhost/busybox:latest`) and clients
//! send them unescaped, so the name is everything before the last segment.

use super::{qbool, Query};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::stream::{body_reader, channel_body};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_core::{Error, ImageInfo};
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

pub fn summary(i: &ImageInfo, containers: usize) -> Value {
    json!({
        "Id": format!("sha256:{}", i.id),
        "ParentId": "",
        "RepoTags": repo_tags(i),
        "RepoDigests": berth_core::repo_digests(i),
        "Created": created_secs(i),
        "Size": i.size,
        "SharedSize": -1,
        "VirtualSize": i.size,
        "Labels": berth_core::image_labels(i),
        "Containers": containers,
    })
}

/// `GET /images/json`.
pub async fn list(State(st): State<AppState>, q: Query) -> ApiResult<Json<Vec<Value>>> {
    let _all = qbool(&q, "all")?;
    // Podman's compat API filters with libimage's rules, as the CLI does.
    let filters: Vec<String> = super::filters(&q)?
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let (images, ctrs) = st
        .engine(move |rt| {
            Ok((
                rt.filter_images(rt.list_images()?, &filters)?,
                rt.containers()?,
            ))
        })
        .await?;
    let out = images
        .iter()
        .map(|i| {
            let n = ctrs.iter().filter(|c| c.config.image_id == i.id).count();
            summary(i, n)
        })
        .collect();
    Ok(Json(out))
}

/// Split `/images/NAME/ACTION` (NAME may contain slashes) into NAME and
/// ACTION; 404 for anything else.
fn split_action(rest: &str) -> ApiResult<(String, &str)> {
    match rest.rsplit_once('/') {
        Some((name, action)) if !name.is_empty() => Ok((name.to_string(), action)),
        _ => Err(page_not_found(rest)),
    }
}

fn page_not_found(rest: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: format!("page not found: /images/{rest}"),
    }
}

/// `GET /images/{name}/json|history|get`.
pub async fn get_action(st: State<AppState>, Path(rest): Path<String>) -> ApiResult<Response> {
    let (name, action) = split_action(&rest)?;
    match action {
        "json" => Ok(inspect(st, name).await?.into_response()),
        "history" => Ok(history(st, name).await?.into_response()),
        "get" => save(st, vec![name]).await,
        _ => Err(page_not_found(&rest)),
    }
}

/// `POST /images/{name}/tag|push`.
pub async fn post_action(
    st: State<AppState>,
    Path(rest): Path<String>,
    q: Query,
    headers: HeaderMap,
) -> ApiResult<Response> {
    match split_action(&rest)? {
        (name, "tag") => Ok(tag(st, name, q).await?.into_response()),
        (name, "push") => super::registry::push(&st.0, name, &q, &headers).await,
        _ => Err(page_not_found(&rest)),
    }
}

/// `GET /images/{name}/json`.
async fn inspect(State(st): State<AppState>, name: String) -> ApiResult<Json<Value>> {
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

/// `GET /images/{name}/history`.
async fn history(State(st): State<AppState>, name: String) -> ApiResult<Json<Value>> {
    let (entries, img) = st
        .engine(move |rt| Ok((rt.image_history(&name)?, rt.lookup_image(&name)?)))
        .await?;
    let tags = repo_tags(&img);
    let out: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let created = h
                .created
                .as_deref()
                .and_then(|c| c.parse::<jiff::Timestamp>().ok())
                .map_or(0, |t| t.as_second());
            let id = if h.id == "<missing>" {
                h.id.clone()
            } else {
                format!("sha256:{}", img.id)
            };
            json!({
                "Id": id, "Created": created, "CreatedBy": h.created_by,
                "Tags": if i == 0 { json!(tags) } else { Value::Null },
                "Size": h.size, "Comment": h.comment,
            })
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// `POST /images/{name}/tag?repo=R&tag=T`: 201.
async fn tag(State(st): State<AppState>, name: String, q: Query) -> ApiResult<StatusCode> {
    let repo = q
        .get("repo")
        .filter(|r| !r.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("repo cannot be empty"))?;
    let target = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo,
    };
    st.engine(move |rt| rt.tag_image(&name, &[target])).await?;
    Ok(StatusCode::CREATED)
}

/// A docker-archive of `names` as the response body (404 before any byte
/// when one is unknown).
async fn save(State(st): State<AppState>, names: Vec<String>) -> ApiResult<Response> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no image names given"));
    }
    let check = names.clone();
    st.engine(move |rt| check.iter().try_for_each(|n| rt.lookup_image(n).map(drop)))
        .await?;
    let (tx, body) = channel_body();
    let rt = st.rt.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = tx.writer();
        if rt.save_images_to(&names, "docker-archive", &mut w).is_ok() {
            let _ = std::io::Write::flush(&mut w);
        }
    });
    Ok(([(header::CONTENT_TYPE, "application/x-tar")], body).into_response())
}

/// `GET /images/get?names=A&names=B` (the key repeats, so the raw query).
pub async fn get_many(st: State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    save(st, crate::params::query_values(raw.as_deref(), "names")).await
}

/// `POST /images/load`: the tar body (docker-archive or oci-archive) is
/// spooled to a private temporary file (loading needs to seek), then
/// loaded; progress lines in Docker's JSON-message form.
pub async fn load(State(st): State<AppState>, body: Body) -> ApiResult<Response> {
    let reader = body_reader(body);
    let loaded = st
        .engine(move |rt| {
            // On disk, not in the runroot (often a tmpfs): archives are large.
            let dir = rt.paths().root.join("api-load");
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            let mut tmp = tempfile_in(&dir)?;
            let mut reader = reader;
            std::io::copy(&mut reader, tmp.file())
                .map_err(|e| Error::io("receiving the image archive", e))?;
            rt.load_images(tmp.path())
        })
        .await?;
    let mut out = String::new();
    for img in &loaded {
        // Every name the image has now (the engine does not say which of
        // them came from the archive).
        let mut lines: Vec<String> = img
            .names
            .iter()
            .map(|n| format!("Loaded image: {n}\n"))
            .collect();
        if lines.is_empty() {
            lines.push(format!("Loaded image ID: sha256:{}\n", img.id));
        }
        for line in lines {
            out.push_str(&json!({ "stream": line }).to_string());
            out.push('\n');
        }
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
}

/// A file in `dir` removed when dropped.
struct TempFile {
    path: std::path::PathBuf,
    file: std::fs::File,
}

impl TempFile {
    fn file(&mut self) -> &mut std::fs::File {
        &mut self.file
    }
    fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn tempfile_in(dir: &std::path::Path) -> berth_core::Result<TempFile> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = format!(
        "load-{}-{}.tar",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    );
    let path = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    Ok(TempFile { path, file })
}

/// `POST /images/prune?filters={"dangling":["false"]}`: dangling images,
/// or every unused one with `dangling=false`.
pub async fn prune(State(st): State<AppState>, q: Query) -> ApiResult<Json<Value>> {
    let mut all = false;
    for (k, v) in super::filters(&q)? {
        match (k.as_str(), v.as_str()) {
            ("dangling", "false" | "0") => all = true,
            ("dangling", "true" | "1") => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "prune filter {k:?} is not supported by berth yet"
                )))
            }
        }
    }
    let ids = st.engine(move |rt| rt.prune_images(all)).await?;
    let deleted: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "Deleted": format!("sha256:{id}") }))
        .collect();
    Ok(Json(
        json!({ "ImagesDeleted": deleted, "SpaceReclaimed": 0 }),
    ))
}
