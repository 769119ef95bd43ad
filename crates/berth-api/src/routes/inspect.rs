//! `GET /containers/{id}/json` in Docker's shape. Our own structs, so every
//! key Docker clients index is always present (docker-py does
//! `attrs['Config']['Labels']`, the CLI reads `State.Status`...).

use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use berth_core::{ContainerRecord, ContainerState, Runtime};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Go's zero time, which Docker prints for "never".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn time(t: &Option<jiff::Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_else(|| ZERO_TIME.into())
}

/// Docker's status words: berth's `configured` and `stopping` are
/// `created` and `running` to a Docker client.
pub fn docker_status(s: ContainerState) -> &'static str {
    match s {
        ContainerState::Configured | ContainerState::Created => "created",
        ContainerState::Running | ContainerState::Stopping => "running",
        ContainerState::Paused => "paused",
        ContainerState::Removing => "removing",
        ContainerState::Exited | ContainerState::Stopped => "exited",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct State_ {
    status: &'static str,
    running: bool,
    paused: bool,
    restarting: bool,
    #[serde(rename = "OOMKilled")]
    oom_killed: bool,
    dead: bool,
    pid: i32,
    exit_code: i32,
    error: String,
    started_at: String,
    finished_at: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Config {
    hostname: String,
    domainname: String,
    user: String,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Vec<String>,
    cmd: Vec<String>,
    image: String,
    volumes: Option<BTreeMap<String, ()>>,
    working_dir: String,
    entrypoint: Option<Vec<String>>,
    on_build: Option<Vec<String>>,
    labels: BTreeMap<String, String>,
    stop_signal: String,
    stop_timeout: u64,
    exposed_ports: BTreeMap<String, ()>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RestartPolicy {
    name: String,
    maximum_retry_count: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LogConfig {
    r#type: String,
    config: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct HostConfig {
    binds: Vec<String>,
    network_mode: String,
    port_bindings: Value,
    restart_policy: RestartPolicy,
    auto_remove: bool,
    cap_add: Vec<String>,
    cap_drop: Vec<String>,
    privileged: bool,
    readonly_rootfs: bool,
    tmpfs: BTreeMap<String, String>,
    memory: i64,
    nano_cpus: i64,
    pids_limit: Option<i64>,
    log_config: LogConfig,
    runtime: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Mount {
    r#type: &'static str,
    source: String,
    destination: String,
    mode: String,
    #[serde(rename = "RW")]
    rw: bool,
    propagation: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GraphDriver {
    name: &'static str,
    data: BTreeMap<String, String>,
}

/// Docker's `ContainerJSON`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerJson {
    id: String,
    created: String,
    path: String,
    args: Vec<String>,
    state: State_,
    image: String,
    resolv_conf_path: String,
    hostname_path: String,
    hosts_path: String,
    log_path: String,
    name: String,
    restart_count: u32,
    driver: &'static str,
    platform: &'static str,
    mount_label: String,
    process_label: String,
    app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    exec_ids: Option<Vec<String>>,
    host_config: HostConfig,
    graph_driver: GraphDriver,
    mounts: Vec<Mount>,
    config: Config,
    network_settings: Value,
}

/// A mount kind by its serialized name (`bind`, `tmpfs`: Docker's words
/// too), which keeps this crate on berth-core's API alone.
fn mount_type<T: Serialize>(kind: &T) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Docker's `HostConfig.NetworkMode`: `bridge` for berth's default
/// network, the first network's name for a user network, else the mode.
pub fn network_mode(rec: &ContainerRecord) -> String {
    let c = &rec.config;
    let mode = c.net.mode.word();
    if mode != "bridge" {
        return mode;
    }
    let default = berth_core::network::default_network().name;
    match c
        .net
        .networks
        .iter()
        .min_by_key(|(_, a)| a.interface_name.clone())
    {
        Some((name, _)) if *name != default => name.clone(),
        _ => mode,
    }
}

/// Docker's `NetworkSettings` (berth-core's, which Podman shares), with
/// each network's `NetworkID` the network's ID rather than its name.
pub fn network_settings(rt: &Runtime, rec: &ContainerRecord) -> Value {
    let mut doc = berth_core::network::network_settings(rec, &rt.netns_path(&rec.config.id));
    if let Some(nets) = doc["Networks"].as_object_mut() {
        for (name, v) in nets.iter_mut() {
            if let Ok(n) = rt.network(name) {
                v["NetworkID"] = Value::String(n.id);
            }
        }
    }
    doc
}

/// Build the document from the record (the engine's own inspect is
/// Podman-shaped; this one is Docker's).
pub fn container_json(rt: &Runtime, rec: &ContainerRecord) -> ContainerJson {
    let c = &rec.config;
    let s = &rec.state;
    let paths = rt.paths();
    let userdata = paths.userdata(&c.id);
    let p = |n: &str| userdata.join(n).to_string_lossy().into_owned();
    let mounts: Vec<Mount> = c
        .mounts
        .iter()
        .map(|m| {
            let bind = mount_type(&m.kind) == "bind";
            Mount {
                r#type: if bind { "bind" } else { "tmpfs" },
                source: m.source.clone(),
                destination: m.destination.clone(),
                mode: m.options.join(","),
                rw: !m.read_only(),
                propagation: if bind { "rprivate" } else { "" },
            }
        })
        .collect();
    let binds = mounts
        .iter()
        .filter(|m| m.r#type == "bind")
        .map(|m| {
            let mode = if m.rw { "rw" } else { "ro" };
            format!("{}:{}:{mode}", m.source, m.destination)
        })
        .collect();
    let tmpfs = c
        .mounts
        .iter()
        .filter(|m| mount_type(&m.kind) == "tmpfs")
        .map(|m| (m.destination.clone(), m.options.join(",")))
        .collect();
    let layer_dir = paths.storage().join("containers").join(&c.id);
    let data = [
        (
            "UpperDir",
            layer_dir.join("diff").to_string_lossy().into_owned(),
        ),
        (
            "WorkDir",
            layer_dir.join("work").to_string_lossy().into_owned(),
        ),
        ("MergedDir", s.mountpoint.clone().unwrap_or_default()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    ContainerJson {
        id: c.id.clone(),
        created: c.created.to_string(),
        path: c.args.first().cloned().unwrap_or_default(),
        args: c.args.iter().skip(1).cloned().collect(),
        state: State_ {
            status: docker_status(s.state),
            running: matches!(s.state, ContainerState::Running | ContainerState::Stopping),
            paused: s.state == ContainerState::Paused,
            restarting: false,
            oom_killed: s.oom_killed,
            dead: false,
            pid: if s.state.is_active() { s.pid } else { 0 },
            exit_code: s.exit_code.unwrap_or(0),
            error: s.error.clone(),
            started_at: time(&s.started_at),
            finished_at: time(&s.finished_at),
        },
        image: format!("sha256:{}", c.image_id),
        resolv_conf_path: p("resolv.conf"),
        hostname_path: p("hostname"),
        hosts_path: p("hosts"),
        log_path: paths.log_file(&c.id).to_string_lossy().into_owned(),
        name: format!("/{}", c.name),
        restart_count: s.restart_count,
        driver: "overlay",
        platform: "linux",
        mount_label: String::new(),
        process_label: String::new(),
        app_armor_profile: String::new(),
        exec_ids: None,
        host_config: HostConfig {
            binds,
            network_mode: network_mode(rec),
            port_bindings: berth_core::network::ports_map(&c.net),
            restart_policy: RestartPolicy {
                name: if c.restart_policy.is_set() {
                    c.restart_policy.name.clone()
                } else {
                    "no".into()
                },
                maximum_retry_count: c.restart_policy.max_retries,
            },
            auto_remove: c.auto_remove,
            cap_add: c.cap_add.clone(),
            cap_drop: c.cap_drop.clone(),
            privileged: c.privileged,
            readonly_rootfs: c.read_only,
            tmpfs,
            memory: c.resources.memory.unwrap_or(0),
            nano_cpus: c.resources.cpus.map(|x| (x * 1e9) as i64).unwrap_or(0),
            pids_limit: c.resources.pids_limit,
            log_config: LogConfig {
                // Both file drivers are served by `/logs` in Docker's format;
                // clients branch on "json-file" (docker-py's `run` only
                // returns the output for it).
                r#type: match c.log_driver.as_str() {
                    "k8s-file" => "json-file".to_string(),
                    other => other.to_string(),
                },
                config: BTreeMap::new(),
            },
            runtime: c.runtime.clone(),
        },
        graph_driver: GraphDriver {
            name: "overlay",
            data,
        },
        mounts,
        config: Config {
            hostname: c.hostname.clone(),
            domainname: String::new(),
            user: c.user.clone(),
            attach_stdin: false,
            attach_stdout: false,
            attach_stderr: false,
            tty: c.tty,
            open_stdin: c.stdin,
            stdin_once: false,
            env: c.env.clone(),
            cmd: c.command.clone(),
            image: c.image_name.clone(),
            volumes: None,
            working_dir: c.workdir.clone(),
            entrypoint: (!c.entrypoint.is_empty()).then(|| c.entrypoint.clone()),
            on_build: None,
            labels: c.labels.clone(),
            stop_signal: berth_core::signal::signal_name(c.stop_signal),
            stop_timeout: c.stop_timeout,
            exposed_ports: BTreeMap::new(),
        },
        network_settings: network_settings(rt, rec),
    }
}

/// `GET /containers/{id}/json`.
pub async fn inspect(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ContainerJson>> {
    let doc = st
        .engine(move |rt| {
            let rec = rt.lookup(&id)?.inspect_record()?;
            Ok(container_json(rt, &rec))
        })
        .await?;
    Ok(Json(doc))
}
