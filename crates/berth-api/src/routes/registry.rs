//! `POST /images/create` (pull) and `POST /images/{name}/push`: berth-core's
//! registry transfers, reported as Docker's JSON progress messages.
//!
//! The transfer runs on the blocking pool and reports through a channel.
//! The response waits for the first blob event: a transfer that fails
//! before it (unknown image, refused credentials) is an ordinary error
//! response with its status (404...); a later failure can only be an
//! `{"errorDetail"}` message in the already started 200 stream, as
//! dockerd does.

use super::Query;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::stream::channel_body;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use berth_core::{Credentials, Error, ManifestFormat, Progress, RegistryOptions};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::sync::mpsc;
use std::sync::Mutex;

/// Docker's `X-Registry-Auth` payload (base64url JSON).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AuthConfig {
    username: Option<String>,
    password: Option<String>,
}

/// The registry options of a request: credentials from `X-Registry-Auth`
/// (else the auth file), plain HTTP for loopback registries.
fn registry_options(headers: &HeaderMap, name: &str) -> ApiResult<RegistryOptions> {
    let creds = match headers.get("x-registry-auth").map(|v| v.as_bytes()) {
        None | Some(b"") => None,
        Some(raw) => {
            let indifferent = base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
            let decoded = [base64::alphabet::URL_SAFE, base64::alphabet::STANDARD]
                .iter()
                .find_map(|a| {
                    base64::engine::GeneralPurpose::new(a, indifferent)
                        .decode(raw)
                        .ok()
                })
                .ok_or_else(|| ApiError::bad_request("invalid X-Registry-Auth: not base64"))?;
            let a: AuthConfig = serde_json::from_slice(&decoded)
                .map_err(|e| ApiError::bad_request(format!("invalid X-Registry-Auth: {e}")))?;
            a.username
                .filter(|u| !u.is_empty())
                .map(|username| Credentials {
                    username,
                    password: a.password.unwrap_or_default(),
                })
        }
    };
    Ok(RegistryOptions {
        tls_verify: berth_core::registry::docker_tls_verify(name),
        creds,
        ..Default::default()
    })
}

/// `NAME` with the `tag` query parameter (a tag or a digest) applied.
fn with_tag(name: &str, q: &HashMap<String, String>) -> String {
    match q.get("tag").map(String::as_str) {
        None | Some("") => name.to_string(),
        Some(t) if t.starts_with("sha256:") => format!("{name}@{t}"),
        Some(t) => format!("{name}:{t}"),
    }
}

/// `sha256:0123456789abcdef...` → `0123456789ab`, Docker's layer ID.
fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

/// `repo:tag` → (`repo`, `tag`); `latest` when there is no tag.
fn split_tag(name: &str) -> (&str, &str) {
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.rsplit_once(':') {
        Some((_, tag)) if !last.contains('@') => (&name[..name.len() - tag.len() - 1], tag),
        _ => (name, "latest"),
    }
}

/// Report progress in bytes at most this often per blob.
const PROGRESS_STEP: u64 = 512 * 1024;

/// Turns berth's progress events into Docker's messages; `push` picks the
/// words.
struct Messages {
    push: bool,
    /// Per blob: (total, done, done at the last message).
    blobs: Mutex<HashMap<String, (u64, u64, u64)>>,
    /// Whether any blob went over the wire.
    transferred: std::sync::atomic::AtomicBool,
}

impl Messages {
    fn new(push: bool) -> Self {
        Messages {
            push,
            blobs: Mutex::default(),
            transferred: Default::default(),
        }
    }

    /// The message for `p`, if Docker shows one; `true` with it once the
    /// transfer reached the blobs (the manifest was found).
    fn message(&self, p: Progress<'_>) -> Option<(Value, bool)> {
        let mut blobs = self.blobs.lock().unwrap_or_else(|e| e.into_inner());
        let (status, id, detail) = match p {
            Progress::Trying(name) if !self.push => {
                let (repo, tag) = split_tag(name);
                let msg = json!({ "status": format!("Pulling from {repo}"), "id": tag });
                return Some((msg, false));
            }
            Progress::BlobStart { digest, size } => {
                blobs.insert(digest.to_string(), (size, 0, 0));
                let word = if self.push {
                    "Preparing"
                } else {
                    "Pulling fs layer"
                };
                (word, short(digest), json!({}))
            }
            Progress::BlobBytes { digest, n } => {
                let b = blobs.get_mut(digest)?;
                b.1 += n;
                if b.1 - b.2 < PROGRESS_STEP && b.1 < b.0 {
                    return None;
                }
                b.2 = b.1;
                let word = if self.push { "Pushing" } else { "Downloading" };
                (word, short(digest), json!({ "current": b.1, "total": b.0 }))
            }
            Progress::BlobDone { digest } => {
                self.transferred
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                let word = if self.push {
                    "Pushed"
                } else {
                    "Download complete"
                };
                (word, short(digest), json!({}))
            }
            Progress::BlobSkipped { digest } => {
                let word = if self.push {
                    "Layer already exists"
                } else {
                    "Already exists"
                };
                (word, short(digest), json!({}))
            }
            _ => return None,
        };
        let msg = json!({ "status": status, "progressDetail": detail, "id": id });
        Some((msg, true))
    }

    fn transferred(&self) -> bool {
        self.transferred.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// What a transfer sends the response: messages, then its end (the final
/// messages, or the error).
enum Item {
    Line(Value, bool),
    Done(berth_core::Result<Vec<Value>>),
}

/// Docker's in-stream error message.
fn error_message(e: &Error) -> Value {
    json!({ "errorDetail": { "message": e.to_string() }, "error": e.to_string() })
}

fn line(v: &Value) -> Vec<u8> {
    let mut b = v.to_string().into_bytes();
    b.push(b'\n');
    b
}

/// Run `transfer` (given the progress sink) on the blocking pool and answer
/// with `first` and its messages: an error response if it fails before the
/// first blob, else a 200 stream of JSON messages.
async fn stream_transfer<F>(
    st: &AppState,
    push: bool,
    first: Vec<Value>,
    transfer: F,
) -> ApiResult<Response>
where
    F: FnOnce(
            &berth_core::Runtime,
            &(dyn Fn(Progress<'_>) + Sync),
        ) -> berth_core::Result<Vec<Value>>
        + Send
        + 'static,
{
    let (tx, rx) = mpsc::channel::<Item>();
    let rt = st.rt.clone();
    tokio::task::spawn_blocking(move || {
        let msgs = Messages::new(push);
        let sink = Mutex::new(tx.clone());
        let report = |p: Progress<'_>| {
            if let Some((v, started)) = msgs.message(p) {
                let tx = sink.lock().unwrap_or_else(|e| e.into_inner());
                let _ = tx.send(Item::Line(v, started));
            }
        };
        let mut done = transfer(&rt, &report);
        if let Ok(lines) = &mut done {
            if !push && !msgs.transferred() {
                // Nothing downloaded: the caller's "Downloaded newer image"
                // becomes Docker's "Image is up to date".
                for l in lines.iter_mut() {
                    if let Some(s) = l["status"].as_str() {
                        let s = s.replace("Downloaded newer image for", "Image is up to date for");
                        l["status"] = Value::String(s);
                    }
                }
            }
        }
        let _ = tx.send(Item::Done(done));
    });
    // Wait for the first blob event (or the end) before answering.
    let (head, rx) = tokio::task::spawn_blocking(move || {
        let mut head: Vec<Vec<u8>> = first.iter().map(line).collect();
        loop {
            match rx.recv() {
                Ok(Item::Line(v, started)) => {
                    head.push(line(&v));
                    if started {
                        return (Ok(head), rx);
                    }
                }
                Ok(Item::Done(Ok(last))) => {
                    head.extend(last.iter().map(line));
                    return (Ok(head), rx);
                }
                Ok(Item::Done(Err(e))) => return (Err(e), rx),
                Err(_) => return (Err(Error::internal("the transfer ended early")), rx),
            }
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("transfer task failed: {e}")))?;
    let head = head?;
    let (out, body) = channel_body();
    tokio::task::spawn_blocking(move || {
        let mut w = out.writer();
        let mut send = |b: &[u8]| w.write_all(b).and_then(|()| w.flush());
        for b in &head {
            if send(b).is_err() {
                return;
            }
        }
        while let Ok(item) = rx.recv() {
            let bytes = match item {
                Item::Line(v, _) => line(&v),
                Item::Done(Ok(last)) => last.iter().flat_map(line).collect(),
                Item::Done(Err(e)) => line(&error_message(&e)),
            };
            if send(&bytes).is_err() {
                return;
            }
        }
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `POST /images/create?fromImage=NAME&tag=TAG`: pull; with `fromSrc=-`,
/// import the tarball in the body (`docker import`).
pub async fn create(
    State(st): State<AppState>,
    q: Query,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    if let Some(src) = q.get("fromSrc").filter(|s| !s.is_empty()) {
        if src != "-" {
            return Err(ApiError::bad_request(
                "berth imports only the request body (fromSrc=-), not a URL",
            ));
        }
        let changes = crate::params::query_values(raw.as_deref(), "changes");
        return import(&st, &q, changes, body).await;
    }
    let from = q
        .get("fromImage")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("fromImage is required"))?;
    let name = with_tag(from, &q);
    let opts = registry_options(&headers, &name)?;
    stream_transfer(&st, false, Vec::new(), move |rt, report| {
        let img = rt.pull_image(&name, &opts, report)?;
        Ok(vec![
            json!({ "status": format!("Digest: {}", img.digest) }),
            json!({ "status": format!("Status: Downloaded newer image for {name}") }),
        ])
    })
    .await
}

/// `docker import`: one layer from the body, named `repo` (and `tag`),
/// with `changes` (Dockerfile instructions) and `message`; answered with
/// the new image's ID as a JSON progress message, as dockerd does.
async fn import(
    st: &AppState,
    q: &HashMap<String, String>,
    changes: Vec<String>,
    body: Body,
) -> ApiResult<Response> {
    let name = q
        .get("repo")
        .filter(|r| !r.is_empty())
        .map(|r| with_tag(r, q));
    let message = q.get("message").filter(|m| !m.is_empty()).cloned();
    let reader = crate::stream::body_reader(body);
    let img = st
        .engine(move |rt| {
            rt.import_image_from(
                reader,
                "request body",
                &changes,
                message.as_deref(),
                name.as_deref(),
            )
        })
        .await?;
    let line = json!({ "status": format!("sha256:{}", img.id) }).to_string() + "\n";
    Ok(([(header::CONTENT_TYPE, "application/json")], line).into_response())
}

/// `POST /auth`: check credentials against a registry, as `docker login`
/// asks; nothing is saved (the client keeps its own).
pub async fn auth(State(st): State<AppState>, body: axum::body::Bytes) -> ApiResult<Response> {
    #[derive(Deserialize)]
    struct Login {
        #[serde(default)]
        username: String,
        #[serde(default)]
        password: String,
        #[serde(default, rename = "serveraddress")]
        server: String,
    }
    let l: Login = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid login body: {e}")))?;
    if l.username.is_empty() {
        return Err(ApiError::bad_request("username is required"));
    }
    // The Docker Hub's old spelling; berth names it docker.io as Podman does.
    let server = match l.server.trim_end_matches('/') {
        "" | "https://index.docker.io/v1" => "docker.io".to_string(),
        s => s
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_string(),
    };
    let opts = RegistryOptions {
        tls_verify: berth_core::registry::docker_tls_verify(&format!("{server}/x")),
        ..Default::default()
    };
    let creds = Credentials {
        username: l.username,
        password: l.password,
    };
    st.engine(move |_| berth_core::registry::check_login(&server, &creds, &opts))
        .await?;
    Ok(axum::Json(json!({ "Status": "Login Succeeded", "IdentityToken": "" })).into_response())
}

/// `POST /images/{name}/push?tag=TAG`.
pub async fn push(
    st: &AppState,
    name: String,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let name = with_tag(&name, q);
    let opts = registry_options(headers, &name)?;
    let (repo, tag) = split_tag(&name);
    let first = json!({ "status": format!("The push refers to repository [{repo}]") });
    let tag = tag.to_string();
    // Docker's own manifest type, as dockerd pushes.
    stream_transfer(st, true, vec![first], move |rt, report| {
        let digest = rt.push_image(&name, None, &opts, ManifestFormat::V2s2, report)?;
        Ok(vec![
            json!({ "status": format!("{tag}: digest: {digest} size: 0") }),
            json!({ "progressDetail": {}, "aux": { "Tag": tag, "Digest": digest, "Size": 0 } }),
        ])
    })
    .await
}
