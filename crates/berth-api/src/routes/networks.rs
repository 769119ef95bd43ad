//! `/networks`: list, inspect, create, delete, connect, disconnect, prune,
//! translated onto berth-core's networks (the same rules as `berth network`).

use super::exec::json_body;
use super::manage::no_prune_filters;
use super::{filters, Query};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_core::network::Network;
use berth_core::{ContainerRecord, NetworkCreateOptions, Runtime};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Docker's driver option naming the bridge interface (`docker network
/// create -o com.docker.network.bridge.name=br0`): berth's `--interface-name`.
const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";
/// Docker's MTU option: berth's (and netavark's) `mtu`.
const MTU_OPTION: &str = "com.docker.network.driver.mtu";

/// The berth network a Docker client means by `id`: Docker's default
/// network is called `bridge`, berth's is not; a user network of that name
/// wins.
fn berth_name(rt: &Runtime, id: &str) -> String {
    if id == "bridge" && rt.network(id).is_err() {
        return berth_core::network::default_network().name;
    }
    id.to_string()
}

/// The running containers joined to `net`, as Docker's `Containers` map
/// (`{id: {Name, EndpointID, MacAddress, IPv4Address, IPv6Address}}`).
fn endpoints(net: &Network, all: &[ContainerRecord]) -> Value {
    let mut out = Map::new();
    for rec in all {
        if !rec.config.net.networks.contains_key(&net.name) {
            continue;
        }
        let live = rec.state.net.as_ref();
        let Some(e) = live.and_then(|s| s.endpoints.get(&net.name)) else {
            continue;
        };
        out.insert(
            rec.config.id.clone(),
            json!({
                "Name": rec.config.name, "EndpointID": "", "MacAddress": e.mac_address,
                "IPv4Address": format!("{}/{}", e.ip, e.prefix_len), "IPv6Address": "",
            }),
        );
    }
    Value::Object(out)
}

/// A network in Docker's shape (`containers`: see [`endpoints`]).
pub fn docker_network(n: &Network, containers: Value) -> Value {
    let config: Vec<Value> = n
        .subnets
        .iter()
        .map(|s| json!({ "Subnet": s.subnet, "Gateway": s.gateway.clone().unwrap_or_default() }))
        .collect();
    let mut options = n.options.clone();
    if n.driver == "bridge" {
        options.insert(BRIDGE_NAME_OPTION.into(), n.network_interface.clone());
    }
    json!({
        "Name": n.name, "Id": n.id, "Created": n.created, "Scope": "local",
        "Driver": n.driver, "EnableIPv6": n.ipv6_enabled,
        "IPAM": { "Driver": "default", "Options": {}, "Config": config },
        "Internal": n.internal, "Attachable": false, "Ingress": false,
        "ConfigFrom": { "Network": "" }, "ConfigOnly": false,
        "Containers": containers, "Options": options, "Labels": n.labels,
    })
}

/// Does `n` pass filter `key=value` (`builtin`: whether it is berth's
/// default network)?
fn matches(n: &Network, builtin: bool, key: &str, value: &str) -> ApiResult<bool> {
    Ok(match key {
        "name" => n.name.contains(value),
        "id" => n.id.starts_with(value),
        "driver" => n.driver == value,
        "scope" => value == "local",
        "type" => match value {
            "builtin" => builtin,
            "custom" => !builtin,
            other => {
                return Err(ApiError::bad_request(format!(
                    "invalid filter: 'type'='{other}'"
                )))
            }
        },
        "label" => match value.split_once('=') {
            Some((k, x)) => n.labels.get(k).is_some_and(|l| l == x),
            None => n.labels.contains_key(value),
        },
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid filter {other:?} for networks"
            )))
        }
    })
}

/// `GET /networks?filters=...`.
pub async fn list(State(st): State<AppState>, q: Query) -> ApiResult<Json<Vec<Value>>> {
    let filters = filters(&q)?;
    let (nets, ctrs) = st
        .engine(|rt| Ok((rt.networks()?, rt.containers()?)))
        .await?;
    let mut out = Vec::new();
    // berth lists its default network first.
    for (i, n) in nets.iter().enumerate() {
        let mut keep = true;
        for (k, v) in &filters {
            keep &= matches(n, i == 0, k, v)?;
        }
        if keep {
            out.push(docker_network(n, endpoints(n, &ctrs)));
        }
    }
    Ok(Json(out))
}

/// `GET /networks/{id}`.
pub async fn inspect(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (n, ctrs) = st
        .engine(move |rt| Ok((rt.network(&berth_name(rt, &id))?, rt.containers()?)))
        .await?;
    Ok(Json(docker_network(&n, endpoints(&n, &ctrs))))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Ipam {
    config: Option<Vec<IpamConfig>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct IpamConfig {
    #[serde(deserialize_with = "nullable")]
    subnet: String,
    #[serde(deserialize_with = "nullable")]
    gateway: String,
    #[serde(rename = "IPRange", deserialize_with = "nullable")]
    ip_range: String,
    auxiliary_addresses: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    #[serde(deserialize_with = "nullable")]
    name: String,
    #[serde(deserialize_with = "nullable")]
    driver: String,
    #[serde(deserialize_with = "nullable")]
    internal: bool,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(rename = "IPAM")]
    ipam: Option<Ipam>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

/// A field docker-py sends as `null` when unset: its default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Translate the body (pure: unit-tested without an engine). Docker's
/// create always refuses a taken name (`CheckDuplicate` is the only
/// behaviour of current dockerd), so the field is not read.
fn to_options(b: CreateBody) -> ApiResult<NetworkCreateOptions> {
    if b.name.is_empty() {
        return Err(ApiError::bad_request("network name cannot be empty"));
    }
    if b.enable_ipv6 == Some(true) {
        return Err(ApiError::bad_request(
            "IPv6 networks are not supported by berth yet",
        ));
    }
    let mut configs = b.ipam.unwrap_or_default().config.unwrap_or_default();
    if configs.len() > 1 {
        return Err(ApiError::bad_request(
            "berth networks have one subnet: give at most one IPAM config",
        ));
    }
    let ipam = configs.pop().unwrap_or_default();
    if !ipam.ip_range.is_empty() || ipam.auxiliary_addresses.is_some_and(|a| !a.is_empty()) {
        // Ignoring them would hand out addresses the caller reserved.
        return Err(ApiError::bad_request(
            "IPRange and AuxiliaryAddresses are not supported by berth yet",
        ));
    }
    let mut options = b.options.unwrap_or_default();
    let interface_name = options.remove(BRIDGE_NAME_OPTION);
    if let Some(mtu) = options.remove(MTU_OPTION) {
        options.insert("mtu".into(), mtu);
    }
    // Docker's other driver options (ICC, masquerade, host binding IPv4...)
    // have no berth equivalent and would be refused by netavark.
    options.retain(|k, _| !k.starts_with("com.docker.network."));
    let kv = |m: BTreeMap<String, String>| m.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    Ok(NetworkCreateOptions {
        name: Some(b.name),
        driver: non_empty(b.driver),
        subnet: non_empty(ipam.subnet),
        gateway: non_empty(ipam.gateway),
        internal: b.internal,
        labels: kv(b.labels.unwrap_or_default()),
        options: kv(options),
        interface_name,
        ..Default::default()
    })
}

/// `POST /networks/create`: 201 `{"Id", "Warning"}`; 409 for a taken name.
pub async fn create(
    State(st): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let opts = to_options(json_body(&body, "network config")?)?;
    let n = st.engine(move |rt| rt.create_network(&opts)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "Id": n.id, "Warning": "" })),
    ))
}

/// `DELETE /networks/{id}`: 204; 409 while containers use it.
pub async fn remove(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    st.engine(move |rt| rt.remove_network(&berth_name(rt, &id), false))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct IpamAddress {
    #[serde(rename = "IPv4Address")]
    #[serde(deserialize_with = "nullable")]
    ipv4_address: String,
}

/// Docker's `EndpointSettings` (also in container create's
/// `NetworkingConfig.EndpointsConfig`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointConfig {
    pub aliases: Option<Vec<String>>,
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<IpamAddress>,
    #[serde(deserialize_with = "nullable")]
    pub mac_address: String,
}

impl EndpointConfig {
    /// The static IPv4 address asked for, if any.
    pub fn ipv4(&self) -> Option<String> {
        self.ipam_config
            .as_ref()
            .map(|i| i.ipv4_address.clone())
            .filter(|a| !a.is_empty())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConnectBody {
    #[serde(deserialize_with = "nullable")]
    container: String,
    endpoint_config: Option<EndpointConfig>,
    #[serde(deserialize_with = "nullable")]
    force: bool,
}

fn container_of(b: &ConnectBody) -> ApiResult<String> {
    if b.container.is_empty() {
        return Err(ApiError::bad_request("Container is required"));
    }
    Ok(b.container.clone())
}

/// `POST /networks/{id}/connect`: 200.
pub async fn connect(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let b: ConnectBody = json_body(&body, "connect request")?;
    let ctr = container_of(&b)?;
    let e = b.endpoint_config.unwrap_or_default();
    let aliases = e.aliases.clone().unwrap_or_default();
    let ip = e.ipv4();
    st.engine(move |rt| rt.network_connect(&ctr, &berth_name(rt, &id), &aliases, ip.as_deref()))
        .await?;
    Ok(StatusCode::OK)
}

/// `POST /networks/{id}/disconnect`: 200. `Force` changes nothing: berth
/// tears a running container's endpoint down either way.
pub async fn disconnect(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let b: ConnectBody = json_body(&body, "disconnect request")?;
    let ctr = container_of(&b)?;
    let _ = b.force;
    st.engine(move |rt| rt.network_disconnect(&ctr, &berth_name(rt, &id)))
        .await?;
    Ok(StatusCode::OK)
}

/// `POST /networks/prune`: the user networks no container uses.
pub async fn prune(State(st): State<AppState>, q: Query) -> ApiResult<Json<Value>> {
    no_prune_filters(&q)?;
    let names = st.engine(|rt| rt.prune_networks()).await?;
    Ok(Json(json!({ "NetworksDeleted": names })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_docker_create_body() {
        let b: CreateBody = serde_json::from_value(json!({
            "Name": "n1", "CheckDuplicate": true, "Driver": "bridge", "Internal": true,
            "IPAM": { "Driver": "default", "Config": [{ "Subnet": "10.93.1.0/24", "Gateway": "10.93.1.254" }] },
            "Options": { BRIDGE_NAME_OPTION: "br-x", MTU_OPTION: "1400",
                         "com.docker.network.bridge.enable_icc": "true" },
            "Labels": { "a": "b" }
        }))
        .unwrap();
        let o = to_options(b).unwrap();
        assert_eq!(o.name.as_deref(), Some("n1"));
        assert_eq!(o.subnet.as_deref(), Some("10.93.1.0/24"));
        assert_eq!(o.gateway.as_deref(), Some("10.93.1.254"));
        assert_eq!(o.interface_name.as_deref(), Some("br-x"));
        assert_eq!(o.options, ["mtu=1400"]);
        assert_eq!(o.labels, ["a=b"]);
        assert!(o.internal && !o.ignore);
        let v6: CreateBody =
            serde_json::from_value(json!({"Name": "x", "EnableIPv6": true})).unwrap();
        assert!(to_options(v6).is_err());
        assert!(to_options(CreateBody::default()).is_err());
        let range: CreateBody = serde_json::from_value(json!({"Name": "x", "IPAM": {"Config": [
            {"Subnet": "10.93.0.0/24", "IPRange": "10.93.0.128/25", "Gateway": null}]}}))
        .unwrap();
        assert!(to_options(range).is_err());
    }
}
