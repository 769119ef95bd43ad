//! `/_ping`, `/version`, `/info`, `/events`.

use super::{filters, qnum, Query};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::stream::channel_body;
use crate::version::{max_version_string, min_version_string};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_core::{ContainerState, Event, EventsOptions};
use serde_json::{json, Value};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Docker's name for the machine architecture.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// `GET|HEAD /_ping`: clients read `API-Version` (added by the middleware)
/// to negotiate; the body is `OK`.
pub async fn ping() -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
            (header::PRAGMA, "no-cache"),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        ],
        [("Docker-Experimental", "false"), ("Builder-Version", "")],
        "OK",
    )
        .into_response()
}

/// `GET /version`.
pub async fn version() -> Json<Value> {
    let kernel = kernel();
    Json(json!({
        "Platform": { "Name": "berth" },
        "Components": [{
            "Name": "Engine",
            "Version": VERSION,
            "Details": {
                "ApiVersion": max_version_string(),
                "MinAPIVersion": min_version_string(),
                "Arch": arch(),
                "Os": "linux",
                "KernelVersion": kernel,
                "Experimental": "false",
                "GitCommit": "",
                "GoVersion": "",
                "BuildTime": "",
            },
        }],
        "Version": VERSION,
        "ApiVersion": max_version_string(),
        "MinAPIVersion": min_version_string(),
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch(),
        "KernelVersion": kernel,
        "BuildTime": "",
    }))
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// `GET /info`: counts from the engine, host facts, and every key the
/// docker CLI's `info` template indexes.
pub async fn info(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    let (containers, images, root, runtime) = st
        .engine(|rt| {
            let c = rt.containers()?;
            let i = rt.list_images().map(|l| l.len()).unwrap_or(0);
            let root = rt.paths().root.to_string_lossy().into_owned();
            Ok((c, i, root, rt.oci_runtime_name().to_string()))
        })
        .await?;
    let count = |s: ContainerState| containers.iter().filter(|c| c.state.state == s).count();
    let running = count(ContainerState::Running);
    let paused = count(ContainerState::Paused);
    let cgroup_v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    Ok(Json(json!({
        "ID": "", "Name": hostname,
        "Containers": containers.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": containers.len() - running - paused,
        "Images": images,
        "Driver": "overlay", "DriverStatus": [],
        "Plugins": { "Volume": [], "Network": [], "Authorization": null, "Log": ["k8s-file"] },
        "MemoryLimit": true, "SwapLimit": true, "CpuCfsPeriod": true, "CpuCfsQuota": true,
        "CPUShares": true, "CPUSet": true, "PidsLimit": true, "IPv4Forwarding": false,
        "BridgeNfIptables": false, "BridgeNfIp6tables": false,
        "Debug": false, "NFd": 0, "OomKillDisable": false, "NGoroutines": 0,
        "SystemTime": jiff::Timestamp::now().to_string(),
        "LoggingDriver": "k8s-file",
        "CgroupDriver": if cgroup_v2 { "systemd" } else { "cgroupfs" },
        "CgroupVersion": if cgroup_v2 { "2" } else { "1" },
        "NEventsListener": 0,
        "KernelVersion": kernel(),
        "OperatingSystem": "berth", "OSVersion": "", "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": { "AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
                            "InsecureRegistryCIDRs": [], "IndexConfigs": {}, "Mirrors": [] },
        "NCPU": ncpu, "MemTotal": mem_total(),
        "GenericResources": null,
        "DockerRootDir": root,
        "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Labels": [], "ExperimentalBuild": false,
        "ServerVersion": VERSION,
        "Runtimes": { runtime.clone(): { "path": runtime } },
        "DefaultRuntime": runtime,
        "Swarm": { "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                   "ControlAvailable": false, "Error": "", "RemoteManagers": null },
        "LiveRestoreEnabled": true,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": { "ID": "", "Expected": "" },
        "RuncCommit": { "ID": "", "Expected": "" },
        "InitCommit": { "ID": "", "Expected": "" },
        "SecurityOptions": [],
        "Warnings": [],
    })))
}

/// Docker's `since`/`until`: unix seconds, maybe fractional, or RFC 3339.
pub fn parse_time(s: &str) -> ApiResult<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let (secs, frac) = s.split_once('.').unwrap_or((s, "0"));
    let secs: i64 = secs
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid time {s:?}")))?;
    let nanos: i32 = format!("{frac:0<9}")[..9]
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid time {s:?}")))?;
    jiff::Timestamp::new(secs, nanos)
        .map_err(|_| ApiError::bad_request(format!("invalid time {s:?}")))
}

/// One event in Docker's shape (old `status`/`id`/`from` keys too: older
/// docker-py reads them).
fn docker_event(ev: &Event) -> Value {
    let t: Option<jiff::Timestamp> = ev.time.parse().ok();
    let mut attrs = ev.attributes.clone();
    attrs
        .entry("name".into())
        .or_insert_with(|| ev.name.clone());
    if !ev.image.is_empty() {
        attrs
            .entry("image".into())
            .or_insert_with(|| ev.image.clone());
    }
    if let Some(code) = ev.exit_code {
        attrs.insert("exitCode".into(), code.to_string());
    }
    // Docker calls Podman's "died" "die" and "remove" "destroy".
    let action = match ev.status.as_str() {
        "died" => "die",
        "remove" if ev.kind == "container" => "destroy",
        s => s,
    };
    json!({
        "status": action, "id": ev.id, "from": ev.image,
        "Type": ev.kind, "Action": action,
        "Actor": { "ID": ev.id, "Attributes": attrs },
        "scope": "local",
        "time": t.map(|t| t.as_second()).unwrap_or(0),
        "timeNano": t.map(|t| t.as_nanosecond() as i64).unwrap_or(0),
    })
}

/// `GET /events`: newline-delimited JSON; streams until `until` or the
/// client leaves.
pub async fn events(State(st): State<AppState>, q: Query) -> ApiResult<Response> {
    let since = match q.get("since").filter(|s| !s.is_empty()) {
        Some(s) => Some(parse_time(s)?),
        // Docker streams only what happens from now on.
        None => Some(jiff::Timestamp::now()),
    };
    let until = match q.get("until").filter(|s| !s.is_empty()) {
        Some(s) => Some(parse_time(s)?),
        None => None,
    };
    let _: Option<u32> = qnum(&q, "limit")?;
    let filters: Vec<String> = filters(&q)?
        .into_iter()
        .map(|(k, v)| {
            // Docker's event names; berth's log uses Podman's.
            let v = match (k.as_str(), v.as_str()) {
                ("event", "die") => "died".to_string(),
                ("event", "destroy") => "remove".to_string(),
                _ => v,
            };
            format!("{k}={v}")
        })
        .collect();
    let opts = EventsOptions {
        since,
        until,
        filters,
        stream: until.is_none(),
    };
    // Validate the filters before answering 200 (errors after the headers
    // went out could not change the status any more).
    st.engine({
        let probe = EventsOptions {
            stream: false,
            until: Some(jiff::Timestamp::UNIX_EPOCH),
            ..opts.clone()
        };
        move |rt| rt.events(&probe, |_| Ok(()))
    })
    .await?;
    let (tx, body) = channel_body();
    let rt = st.rt.clone();
    tokio::task::spawn_blocking(move || {
        let _ = rt.events(&opts, |ev| {
            let mut line = serde_json::to_vec(&docker_event(ev)).unwrap_or_default();
            line.push(b'\n');
            tx.send(line)
        });
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `GET /system/df`: images, containers and volumes with their sizes as
/// the docker CLI's `system df` reads them.
pub async fn df(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    let (usage, images, containers, volumes) = st
        .engine(|rt| {
            let volumes = rt
                .volumes()?
                .into_iter()
                .map(|v| Ok((rt.volume_users(&v.name)?.len(), v)))
                .collect::<berth_core::Result<Vec<_>>>()?;
            Ok((
                rt.disk_usage()?,
                rt.list_images()?,
                rt.containers()?,
                volumes,
            ))
        })
        .await?;
    let layers = usage
        .iter()
        .find(|u| u.kind == "Images")
        .map_or(0, |u| u.size);
    let images: Vec<Value> = images
        .iter()
        .map(|i| {
            let n = containers
                .iter()
                .filter(|c| c.config.image_id == i.id)
                .count();
            super::images::summary(i, n)
        })
        .collect();
    Ok(Json(json!({
        "LayersSize": layers,
        "Images": images,
        "Containers": containers.iter().map(super::list::entry).collect::<Vec<_>>(),
        "Volumes": volumes.iter().map(|(n, v)| super::volumes::docker_volume(v, Some(*n))).collect::<Vec<_>>(),
        "BuildCache": [],
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_times() {
        assert_eq!(parse_time("1700000000").unwrap().as_second(), 1_700_000_000);
        assert_eq!(
            parse_time("1700000000.5").unwrap().subsec_nanosecond(),
            500_000_000
        );
        assert!(parse_time("2024-01-01T00:00:00Z").is_ok());
        assert!(parse_time("soon").is_err());
    }
}
