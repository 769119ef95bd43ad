//! `POST /containers/create`: Docker's JSON body translated to berth's
//! `CreateOptions` (the engine applies its own rules to those, exactly as
//! for `berth create`).

use super::networks::EndpointConfig;
use super::Query;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use berth_core::{CreateOptions, NetOptions};
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
    networking_config: Option<NetworkingConfig>,
}

/// Docker's `NetworkingConfig`: per network, the container's aliases and
/// address.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct NetworkingConfig {
    endpoints_config: Option<BTreeMap<String, EndpointConfig>>,
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
    /// `[rows, columns]` of the client's terminal (API 1.42+).
    console_size: Option<[u16; 2]>,
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
    port_bindings: Option<BTreeMap<String, Vec<PortBinding>>>,
    publish_all_ports: bool,
    network_mode: String,
    dns: Option<Vec<String>>,
    dns_search: Option<Vec<String>>,
    dns_options: Option<Vec<String>>,
    extra_hosts: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PortBinding {
    host_ip: String,
    host_port: String,
}

/// `PortBindings` as `-p` values: `{"80/tcp": [{"HostIp", "HostPort"}]}`
/// → `HOSTIP:HOSTPORT:80/tcp` (empty parts left to the engine).
fn publish_flags(bindings: BTreeMap<String, Vec<PortBinding>>) -> Vec<String> {
    let mut out = Vec::new();
    for (port, list) in bindings {
        for b in list {
            out.push(match (b.host_ip.as_str(), b.host_port.as_str()) {
                ("", "") => port.clone(),
                ("", hp) => format!("{hp}:{port}"),
                (ip, hp) => format!("{ip}:{hp}:{port}"),
            });
        }
    }
    out
}

/// Networks a new container joins after the first (Docker sends them all
/// in `EndpointsConfig`; berth's create takes one set of endpoint flags),
/// connected right after the create.
type ExtraNetworks = Vec<(String, EndpointConfig)>;

/// `NetworkMode` and `EndpointsConfig` into the `--network` flags; the
/// networks beyond the first are returned to be connected.
fn network_flags(
    mode: String,
    endpoints: Option<BTreeMap<String, EndpointConfig>>,
    h: &mut berth_core::NetOptions,
) -> ApiResult<ExtraNetworks> {
    let mut endpoints = endpoints.unwrap_or_default();
    // "default" is Docker's bridge; berth's default (no network) is kept for
    // it, unless endpoints name a network. The docker CLI sends an empty
    // endpoint for the mode itself, `default` included.
    if matches!(mode.as_str(), "" | "default") {
        endpoints.remove("default");
    }
    let primary = match mode.as_str() {
        "" | "default" => endpoints.keys().next().cloned(),
        _ => Some(mode),
    };
    let Some(primary) = primary else {
        return Ok(Vec::new());
    };
    if let Some(e) = endpoints.remove(&primary) {
        h.ip = e.ipv4();
        h.network_alias = e.aliases.clone().unwrap_or_default();
        h.mac_address = non_empty(e.mac_address);
    }
    let joins_networks = !matches!(primary.as_str(), "none" | "host")
        && !primary.starts_with("container:")
        && !primary.starts_with("ns:");
    if !joins_networks && !endpoints.is_empty() {
        return Err(ApiError::bad_request(format!(
            "network mode {primary:?} cannot be combined with other networks"
        )));
    }
    h.network = Some(primary);
    Ok(endpoints.into_iter().collect())
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
fn to_options(b: Body, name: Option<String>) -> ApiResult<(CreateOptions, ExtraNetworks)> {
    if b.image.is_empty() {
        return Err(ApiError::bad_request(
            "config cannot be empty: Image is required",
        ));
    }
    let h = b.host_config.unwrap_or_default();
    let mut net = NetOptions {
        publish: publish_flags(h.port_bindings.unwrap_or_default()),
        publish_all: h.publish_all_ports,
        dns: h.dns.unwrap_or_default(),
        dns_search: h.dns_search.unwrap_or_default(),
        dns_option: h.dns_options.unwrap_or_default(),
        add_host: h.extra_hosts.unwrap_or_default(),
        ..Default::default()
    };
    let endpoints = b.networking_config.and_then(|n| n.endpoints_config);
    let extra = network_flags(h.network_mode, endpoints, &mut net)?;
    // The image's EXPOSE list is what `-P` publishes; the body's copy of it
    // adds nothing.
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
    let opts = CreateOptions {
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
        console_size: h.console_size.map(|[rows, cols]| (rows, cols)),
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
        net,
        ..Default::default()
    };
    Ok((opts, extra))
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
    let (opts, extra) = to_options(b, name)?;
    let id = st
        .engine(move |rt| {
            let id = rt.create_container(&opts)?.id().to_string();
            for (net, e) in &extra {
                let aliases = e.aliases.clone().unwrap_or_default();
                if let Err(err) = rt.network_connect(&id, net, &aliases, e.ipv4().as_deref()) {
                    // All or nothing, as a failed create.
                    let _ = rt.lookup(&id).and_then(|c| c.remove(true, None));
                    return Err(err);
                }
            }
            Ok(id)
        })
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
        to_options(serde_json::from_value(v).unwrap(), None).map(|(o, _)| o)
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
    }

    #[test]
    fn ports_and_networks_become_network_flags() {
        let o = opts(json!({"Image": "x", "HostConfig": {"PortBindings": {
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}, {"HostIp": "", "HostPort": "81"}],
            "53/udp": [{"HostIp": "", "HostPort": ""}]}}}))
        .unwrap();
        assert_eq!(
            o.net.publish,
            ["53/udp", "127.0.0.1:8080:80/tcp", "81:80/tcp"]
        );
        assert_eq!(o.net.network, None);
        let (o, extra) = to_options(
            serde_json::from_value(json!({"Image": "x",
                "HostConfig": {"NetworkMode": "n1"},
                "NetworkingConfig": {"EndpointsConfig": {
                    "n1": {"Aliases": ["web"], "IPAMConfig": {"IPv4Address": "10.93.0.5"}},
                    "n2": {"Aliases": ["db"]}}}}))
            .unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(o.net.network.as_deref(), Some("n1"));
        assert_eq!(o.net.network_alias, ["web"]);
        assert_eq!(o.net.ip.as_deref(), Some("10.93.0.5"));
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].0, "n2");
        let o = opts(
            json!({"Image": "x", "HostConfig": {"NetworkMode": "default"},
            "NetworkingConfig": {"EndpointsConfig": {"default": {}}}}),
        )
        .unwrap();
        assert_eq!(o.net.network, None);
        let bad = json!({"Image": "x", "HostConfig": {"NetworkMode": "host"},
            "NetworkingConfig": {"EndpointsConfig": {"n2": {}}}});
        assert!(opts(bad).is_err());
    }
}
