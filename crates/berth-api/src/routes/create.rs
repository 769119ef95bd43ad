//! `POST /containers/create`: Docker's JSON body translated to berth's
//! `CreateOptions` (the engine applies its own rules to those, exactly as
//! for `berth create`).

use super::Query;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use berth_core::CreateOptions;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Docker's `StrSlice`: a JSON string or a list of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StrSlice {
    One(String),
    Many(Vec<String>),
}

impl StrSlice {
    fn into_vec(self) -> Vec<String> {
        match self {
            StrSlice::One(s) => vec![s],
            StrSlice::Many(v) => v,
        }
    }
}

/// The subset of Docker's `ContainerConfig` berth understands. Unknown keys
/// are ignored (clients send many zero-valued ones).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Body {
    image: String,
    cmd: Option<StrSlice>,
    entrypoint: Option<StrSlice>,
    env: Option<Vec<String>>,
    working_dir: String,
    user: String,
    hostname: String,
    labels: Option<BTreeMap<String, String>>,
    tty: bool,
    open_stdin: bool,
    stop_signal: String,
    stop_timeout: Option<u64>,
    exposed_ports: Option<BTreeMap<String, Value>>,
    host_config: Option<HostConfig>,
    healthcheck: Option<Healthcheck>,
}

/// Docker's `HealthConfig` (durations in nanoseconds, 0: the default).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Healthcheck {
    test: Vec<String>,
    interval: u64,
    timeout: u64,
    start_period: u64,
    retries: u32,
}

impl Healthcheck {
    /// As the `--health-*` flags would give it: the engine applies the
    /// same rules and defaults.
    fn into_options(self) -> berth_core::container::health::HealthOptions {
        let ns = |n: u64| (n > 0).then(|| format!("{n}ns"));
        berth_core::container::health::HealthOptions {
            cmd: (!self.test.is_empty()).then(|| json!(self.test).to_string()),
            interval: ns(self.interval),
            timeout: ns(self.timeout),
            start_period: ns(self.start_period),
            retries: (self.retries > 0).then_some(self.retries),
            ..Default::default()
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct HostConfig {
    binds: Option<Vec<String>>,
    auto_remove: bool,
    memory: i64,
    nano_cpus: i64,
    pids_limit: Option<i64>,
    restart_policy: Option<RestartPolicy>,
    readonly_rootfs: bool,
    privileged: bool,
    cap_add: Option<Vec<String>>,
    cap_drop: Option<Vec<String>>,
    tmpfs: Option<BTreeMap<String, String>>,
    port_bindings: Option<BTreeMap<String, Value>>,
    publish_all_ports: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RestartPolicy {
    name: String,
    maximum_retry_count: u32,
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Translate the body (pure: unit-tested without an engine).
fn to_options(b: Body, name: Option<String>) -> ApiResult<CreateOptions> {
    if b.image.is_empty() {
        return Err(ApiError::bad_request(
            "config cannot be empty: Image is required",
        ));
    }
    let h = b.host_config.unwrap_or_default();
    let has_ports = h.port_bindings.as_ref().is_some_and(|p| {
        p.values()
            .any(|v| v.as_array().is_some_and(|a| !a.is_empty()))
    });
    if has_ports || h.publish_all_ports {
        // No networking yet: silently not publishing would be worse.
        return Err(ApiError::bad_request(
            "port bindings are not supported yet: berth containers have no network",
        ));
    }
    let _ = b.exposed_ports;
    let restart = h
        .restart_policy
        .and_then(|p| super::manage::restart_word(&p.name, p.maximum_retry_count))
        .filter(|w| w != "no");
    let entrypoint = b.entrypoint.map(|e| {
        let v = e.into_vec();
        // `--entrypoint ""` arrives as [""]: reset to none.
        if v.len() == 1 && v[0].is_empty() {
            Vec::new()
        } else {
            v
        }
    });
    Ok(CreateOptions {
        image: b.image,
        name,
        command: b.cmd.map(StrSlice::into_vec).unwrap_or_default(),
        entrypoint,
        env: b.env.unwrap_or_default(),
        workdir: non_empty(b.working_dir),
        user: non_empty(b.user),
        hostname: non_empty(b.hostname),
        labels: b
            .labels
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        tty: b.tty,
        interactive: b.open_stdin,
        stop_signal: non_empty(b.stop_signal),
        stop_timeout: b.stop_timeout,
        volumes: h.binds.unwrap_or_default(),
        auto_remove: h.auto_remove,
        memory: (h.memory > 0).then(|| h.memory.to_string()),
        cpus: (h.nano_cpus > 0).then(|| h.nano_cpus as f64 / 1e9),
        pids_limit: h.pids_limit.filter(|&n| n > 0),
        restart,
        read_only: h.readonly_rootfs,
        privileged: h.privileged,
        cap_add: h.cap_add.unwrap_or_default(),
        cap_drop: h.cap_drop.unwrap_or_default(),
        tmpfs: h
            .tmpfs
            .unwrap_or_default()
            .into_iter()
            .map(|(p, o)| if o.is_empty() { p } else { format!("{p}:{o}") })
            .collect(),
        health: b
            .healthcheck
            .map(Healthcheck::into_options)
            .unwrap_or_default(),
        ..Default::default()
    })
}

/// `POST /containers/create?name=NAME`: 201 `{"Id", "Warnings"}`.
pub async fn create(
    State(st): State<AppState>,
    q: Query,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let b: Body = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid container config: {e}")))?;
    let name = q.get("name").cloned().filter(|n| !n.is_empty());
    let opts = to_options(b, name)?;
    let id = st
        .engine(move |rt| Ok(rt.create_container(&opts)?.id().to_string()))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "Id": id, "Warnings": [] })),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: Value) -> ApiResult<CreateOptions> {
        to_options(serde_json::from_value(v).unwrap(), None)
    }

    #[test]
    fn translates_docker_body() {
        let o = opts(json!({
            "Image": "busybox", "Cmd": ["echo", "hi"], "Env": ["A=1"], "Labels": {"k": "v"},
            "Entrypoint": null, "WorkingDir": "", "Tty": false, "OpenStdin": true,
            "HostConfig": { "Binds": ["/a:/b:ro"], "AutoRemove": true, "Memory": 1048576,
                            "NanoCpus": 1500000000, "PidsLimit": 0,
                            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
                            "PortBindings": {} }
        }))
        .unwrap();
        assert_eq!(o.command, ["echo", "hi"]);
        assert_eq!(o.labels, ["k=v"]);
        assert!(o.entrypoint.is_none() && o.workdir.is_none() && o.interactive);
        assert_eq!(o.volumes, ["/a:/b:ro"]);
        assert_eq!(o.memory.as_deref(), Some("1048576"));
        assert_eq!(o.cpus, Some(1.5));
        assert_eq!(o.pids_limit, None);
        assert_eq!(o.restart.as_deref(), Some("on-failure:3"));
        assert!(o.auto_remove);
    }

    #[test]
    fn healthcheck_becomes_health_flags() {
        let o = opts(json!({"Image": "x", "Healthcheck": {
            "Test": ["CMD-SHELL", "true"], "Interval": 2_000_000_000u64, "Retries": 4 }}))
        .unwrap();
        assert_eq!(o.health.cmd.as_deref(), Some(r#"["CMD-SHELL","true"]"#));
        assert_eq!(o.health.interval.as_deref(), Some("2000000000ns"));
        assert_eq!(o.health.timeout, None);
        assert_eq!(o.health.retries, Some(4));
    }

    #[test]
    fn string_cmd_empty_entrypoint_and_refusals() {
        let o = opts(json!({"Image": "x", "Cmd": "sh", "Entrypoint": [""]})).unwrap();
        assert_eq!(o.command, ["sh"]);
        assert_eq!(o.entrypoint, Some(vec![]));
        assert!(opts(json!({"Cmd": ["true"]})).is_err());
        let ports = json!({"Image": "x", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}});
        assert!(opts(ports).is_err());
    }
}
