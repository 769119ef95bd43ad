//! Networking vocabulary: a network's definition (netavark's and Podman's
//! JSON shape, so the same struct is stored, sent to netavark and printed by
//! `network inspect`), what a container asks for (`--network`, `-p`,
//! `--dns`...) and what it got (addresses, MACs, the netns path).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One subnet of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    /// `10.90.0.0/24`.
    pub subnet: String,
    /// The bridge's address; the first host address when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

/// A network definition (Podman's `types.Network`, netavark's
/// `network_info` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Unique name.
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    /// `bridge` or `macvlan`.
    pub driver: String,
    /// The host interface: the bridge (`berth0`, `berthN`) or the macvlan parent.
    #[serde(default)]
    pub network_interface: String,
    /// Creation time, RFC 3339.
    #[serde(default)]
    pub created: String,
    /// The network's subnets.
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    /// Always false: berth networks are IPv4 only.
    #[serde(default)]
    pub ipv6_enabled: bool,
    /// No route out of the network and no port forwarding (`--internal`).
    #[serde(default)]
    pub internal: bool,
    /// aardvark-dns answers for the containers' names on this network.
    #[serde(default)]
    pub dns_enabled: bool,
    /// `--label`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Driver options (`-o mtu=...`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// `{"driver": "host-local"}`: berth does the IPAM itself.
    #[serde(default)]
    pub ipam_options: BTreeMap<String, String>,
}

/// How a container is networked (`--network`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", content = "value", rename_all = "lowercase")]
pub enum NetMode {
    /// A private namespace with only loopback.
    #[default]
    None,
    /// The host's namespace.
    Host,
    /// Our own namespace, joined to the networks in [`NetConfig::networks`].
    Bridge,
    /// Another container's namespace (`container:ID`).
    Container(String),
    /// An existing namespace file (`ns:PATH`).
    Ns(String),
}

impl NetMode {
    /// Podman's `NetworkMode` word for inspect.
    pub fn word(&self) -> String {
        match self {
            NetMode::None => "none".into(),
            NetMode::Host => "host".into(),
            NetMode::Bridge => "bridge".into(),
            NetMode::Container(id) => format!("container:{id}"),
            NetMode::Ns(p) => format!("ns:{p}"),
        }
    }
}

/// What a container asks of one network it joins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetAttachment {
    /// Interface name inside the container (`eth0`, `eth1`...).
    pub interface_name: String,
    /// `--ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_ip: Option<String>,
    /// `--mac-address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_mac: Option<String>,
    /// `--network-alias`.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// One published port range (`-p`), netavark's `PortMapping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Host address to bind; empty for all.
    pub host_ip: String,
    /// First container port.
    pub container_port: u16,
    /// First host port.
    pub host_port: u16,
    /// How many consecutive ports (at least 1).
    pub range: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// A container's networking request, fixed at create time (except the
/// networks, which `network connect`/`disconnect` change).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetConfig {
    /// `--network`.
    pub mode: NetMode,
    /// Networks joined in bridge mode, by name.
    #[serde(default)]
    pub networks: BTreeMap<String, NetAttachment>,
    /// `-p` and `-P`.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// `--dns`.
    #[serde(default)]
    pub dns_servers: Vec<String>,
    /// `--dns-search`.
    #[serde(default)]
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `--add-host NAME:IP`.
    #[serde(default)]
    pub add_hosts: Vec<String>,
}

/// What one network gave a container while it is set up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetEndpoint {
    /// Interface inside the container.
    pub interface_name: String,
    /// The container's address (no prefix).
    pub ip: String,
    /// Prefix length of the subnet.
    pub prefix_len: u8,
    /// The network's gateway.
    pub gateway: String,
    /// The interface's MAC address.
    pub mac_address: String,
    /// DNS servers netavark reports (aardvark's address).
    #[serde(default)]
    pub dns_servers: Vec<String>,
    /// DNS search domains netavark reports.
    #[serde(default)]
    pub dns_search: Vec<String>,
}

/// A container's live networking: saved in its runtime state between
/// setup (before start) and teardown (after exit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetState {
    /// The namespace file berth created and bind-mounted.
    pub netns: String,
    /// Per network, by name.
    pub endpoints: BTreeMap<String, NetEndpoint>,
}
