//! A container's networking request: flags into a [`NetConfig`], the files
//! and namespace it gets, and how inspect shows it.

use crate::Runtime;
use berth_net::etc::{self, HostsInput, ResolvInput};
use berth_net::ports;
use berth_types::net::{NetAttachment, NetConfig, NetMode, NetState};
use berth_types::{ContainerConfig, ContainerRecord, Error, Result};
use serde_json::{json, Map, Value};

/// The `--network` mode containers get when none is asked for. `none`
/// (a private namespace with loopback only) rather than Podman's `bridge`:
/// see docs/ARCHITECTURE.md ("Networking") for the measured reason.
pub const DEFAULT_MODE: &str = "none";

/// The networking flags of `create`/`run`.
#[derive(Debug, Clone, Default)]
pub struct NetOptions {
    /// `--network none|host|bridge|NAME[,NAME...]|container:ID|ns:PATH`.
    pub network: Option<String>,
    /// `-p`.
    pub publish: Vec<String>,
    /// `-P`: publish every port the image EXPOSEs.
    pub publish_all: bool,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `--dns-search`.
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    pub dns_option: Vec<String>,
    /// `--add-host HOST:IP`.
    pub add_host: Vec<String>,
    /// `--ip`.
    pub ip: Option<String>,
    /// `--mac-address`.
    pub mac_address: Option<String>,
    /// `--network-alias`.
    pub network_alias: Vec<String>,
}

fn parse_mode(spec: &str) -> Result<(NetMode, Vec<String>)> {
    Ok(match spec {
        "none" => (NetMode::None, vec![]),
        "host" => (NetMode::Host, vec![]),
        "" | "bridge" | "private" => (NetMode::Bridge, vec![berth_net::DEFAULT_NETWORK.into()]),
        s if s.starts_with("container:") => (
            NetMode::Container(s["container:".len()..].to_string()),
            vec![],
        ),
        s if s.starts_with("ns:") => {
            let p = &s[3..];
            if !p.starts_with('/') {
                return Err(Error::invalid(format!(
                    "invalid --network {s:?}: ns: needs an absolute path"
                )));
            }
            (NetMode::Ns(p.to_string()), vec![])
        }
        s => {
            let names: Vec<String> = s.split(',').map(str::to_string).collect();
            if names.iter().any(|n| n.is_empty() || n.contains(':')) {
                return Err(Error::invalid(format!("invalid --network {s:?}")));
            }
            (NetMode::Bridge, names)
        }
    })
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Turn the flags (and the image's `EXPOSE` list, for `-P`) into the
/// container's networking request. Host ports left open are picked now,
/// so `port` and `inspect` show them before the container starts.
pub(crate) fn build_net_config(o: &NetOptions, exposed: &[String]) -> Result<NetConfig> {
    // Without --network, asking for what only a bridge gives (a published
    // port, an address, an alias) picks the default bridge, as Podman's
    // default network would; otherwise the cheap private loopback.
    let wants_bridge = !o.publish.is_empty()
        || o.publish_all
        || o.ip.is_some()
        || o.mac_address.is_some()
        || !o.network_alias.is_empty();
    let default = if wants_bridge { "bridge" } else { DEFAULT_MODE };
    let (mode, names) = parse_mode(o.network.as_deref().unwrap_or(default))?;
    let bridge = mode == NetMode::Bridge;
    if !bridge && (o.ip.is_some() || o.mac_address.is_some() || !o.network_alias.is_empty()) {
        return Err(Error::invalid(
            "--ip, --mac-address and --network-alias need bridge networking (--network bridge or NAME)",
        ));
    }
    if let Some(ip) = &o.ip {
        berth_net::ipam::parse_ip(ip)?;
    }
    if let Some(m) = &o.mac_address {
        if !is_mac(m) {
            return Err(Error::invalid(format!("invalid MAC address {m:?}")));
        }
    }
    let mut networks = std::collections::BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        networks.insert(
            name.clone(),
            NetAttachment {
                interface_name: format!("eth{i}"),
                static_ip: o.ip.clone().filter(|_| i == 0),
                static_mac: o.mac_address.clone().filter(|_| i == 0),
                aliases: o.network_alias.clone(),
            },
        );
    }
    let mut wanted = Vec::new();
    for p in &o.publish {
        wanted.extend(ports::parse_publish(p)?);
    }
    if o.publish_all {
        for e in ports::parse_exposed(exposed)? {
            let covered = wanted.iter().any(|w| {
                w.protocol == e.protocol
                    && (w.container_port..w.container_port + w.range).contains(&e.container_port)
            });
            if !covered {
                wanted.push(e);
            }
        }
    }
    let ports = match mode {
        NetMode::Bridge => ports::assign_host_ports(wanted)?,
        // The host's own ports are the container's: nothing to publish.
        NetMode::Host => Vec::new(),
        _ if wanted.is_empty() => Vec::new(),
        _ => {
            return Err(Error::invalid(
                "publishing ports (-p, -P) needs bridge networking",
            ))
        }
    };
    for d in &o.dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            return Err(Error::invalid(format!(
                "invalid --dns {d:?}: not an IP address"
            )));
        }
    }
    for h in &o.add_host {
        etc::parse_add_host(h)?;
    }
    Ok(NetConfig {
        mode,
        networks,
        ports,
        dns_servers: o.dns.clone(),
        dns_search: o.dns_search.clone(),
        dns_options: o.dns_option.clone(),
        add_hosts: o.add_host.clone(),
    })
}

impl Runtime {
    /// Check a new container's networking against what exists: the networks
    /// it names, its `--ip`, the container whose namespace it joins
    /// (resolved to a full ID).
    pub(crate) fn resolve_net_config(&self, cfg: &mut ContainerConfig) -> Result<()> {
        let net = &mut cfg.net;
        if let NetMode::Container(target) = &net.mode {
            let id = self.store.lookup(target)?;
            net.mode = NetMode::Container(id);
        }
        for (name, att) in &net.networks {
            let n = self.network(name)?;
            if n.name != *name {
                return Err(Error::invalid(format!("network {name} not found by name")));
            }
            if let Some(ip) = &att.static_ip {
                let (subnet, gw) = super::subnet_of(&n)?;
                berth_net::ipam::check_static(&subnet, gw, berth_net::ipam::parse_ip(ip)?)?;
            }
        }
        Ok(())
    }
}

/// The `/etc/hosts` and `/etc/resolv.conf` texts for a container with
/// networking `state` (None: not set up, or no own namespace).
pub(crate) fn etc_files(
    cfg: &ContainerConfig,
    state: Option<&NetState>,
) -> Result<(String, String)> {
    let first = state.and_then(|s| {
        cfg.net
            .networks
            .iter()
            .min_by_key(|(_, a)| a.interface_name.clone())
            .and_then(|(n, _)| s.endpoints.get(n))
    });
    let aliases: Vec<String> = cfg
        .net
        .networks
        .values()
        .flat_map(|a| a.aliases.iter().cloned())
        .collect();
    let hosts = etc::hosts(&HostsInput {
        hostname: &cfg.hostname,
        name: &cfg.name,
        own_ip: first.map(|e| e.ip.as_str()),
        aliases: &aliases,
        add_hosts: &cfg.net.add_hosts,
    })?;
    let (mut servers, mut search) = (Vec::new(), Vec::new());
    if let Some(s) = state {
        for e in s.endpoints.values() {
            servers.extend(e.dns_servers.iter().cloned());
            search.extend(e.dns_search.iter().cloned());
        }
    }
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = etc::resolv_conf(&ResolvInput {
        host: &host,
        network_servers: &servers,
        network_search: &search,
        servers: &cfg.net.dns_servers,
        search: &cfg.net.dns_search,
        options: &cfg.net.dns_options,
    });
    Ok((hosts, resolv))
}

/// Which network namespace the OCI spec asks for.
pub(crate) enum SpecNetns {
    /// A new one from the runtime: loopback only.
    New,
    /// None: the host's.
    Host,
    /// Join the namespace at this path.
    Join(String),
}

/// The namespace for `rec` as it is now (after setup).
pub(crate) fn spec_netns(rt: &Runtime, rec: &ContainerRecord) -> Result<SpecNetns> {
    Ok(match &rec.config.net.mode {
        NetMode::None => SpecNetns::New,
        NetMode::Host => SpecNetns::Host,
        NetMode::Ns(p) => SpecNetns::Join(p.clone()),
        NetMode::Bridge => match &rec.state.net {
            Some(s) => SpecNetns::Join(s.netns.clone()),
            None => return Err(Error::internal("network namespace not set up")),
        },
        NetMode::Container(id) => {
            let other = rt.store.get(id)?;
            match &other.state.net {
                Some(s) => SpecNetns::Join(s.netns.clone()),
                None if other.state.pid > 0 && other.state.state.is_active() => {
                    SpecNetns::Join(format!("/proc/{}/ns/net", other.state.pid))
                }
                None => {
                    return Err(Error::invalid(format!(
                        "container {} whose network namespace is shared is not running",
                        other.config.name
                    ))
                    .with_subject(&rec.config.name))
                }
            }
        }
    })
}

/// Podman's `ps` PORTS column: `127.0.0.1:8080->80/tcp, 0.0.0.0:8000-8001->80-81/tcp`.
pub fn ports_column(net: &NetConfig) -> String {
    net.ports
        .iter()
        .map(|p| {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            let span = |first: u16| match p.range {
                0 | 1 => first.to_string(),
                n => format!("{first}-{}", first + (n - 1)),
            };
            format!(
                "{ip}:{}->{}/{}",
                span(p.host_port),
                span(p.container_port),
                p.protocol
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The published ports as inspect shows them (`NetworkSettings.Ports`,
/// `HostConfig.PortBindings`): `{"80/tcp": [{"HostIp", "HostPort"}]}`.
pub fn ports_map(net: &NetConfig) -> Value {
    let mut ports = Map::new();
    for p in &net.ports {
        for i in 0..p.range {
            let key = ports::port_key(p.container_port + i, &p.protocol);
            let entry = json!({ "HostIp": p.host_ip, "HostPort": (p.host_port + i).to_string() });
            match ports.get_mut(&key) {
                Some(Value::Array(v)) => v.push(entry),
                _ => {
                    ports.insert(key, Value::Array(vec![entry]));
                }
            }
        }
    }
    Value::Object(ports)
}

/// Podman's `NetworkSettings` for inspect.
pub fn network_settings(rec: &ContainerRecord, netns_path: &str) -> Value {
    let net = &rec.config.net;
    let ports = ports_map(net);
    let live = rec.state.net.as_ref();
    let mut networks = Map::new();
    for (name, att) in &net.networks {
        let e = live
            .and_then(|s| s.endpoints.get(name))
            .cloned()
            .unwrap_or_default();
        networks.insert(
            name.clone(),
            json!({
                "EndpointID": "", "Gateway": e.gateway, "IPAddress": e.ip,
                "IPPrefixLen": e.prefix_len, "IPv6Gateway": "", "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0, "MacAddress": e.mac_address, "NetworkID": name,
                "DriverOpts": null, "IPAMConfig": null, "Links": null,
                "Aliases": att.aliases,
            }),
        );
    }
    let first = net
        .networks
        .iter()
        .min_by_key(|(_, a)| a.interface_name.clone())
        .and_then(|(n, _)| live.and_then(|s| s.endpoints.get(n)))
        .cloned()
        .unwrap_or_default();
    json!({
        "EndpointID": "", "Gateway": first.gateway, "IPAddress": first.ip,
        "IPPrefixLen": first.prefix_len, "IPv6Gateway": "", "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0, "MacAddress": first.mac_address, "Bridge": "",
        "SandboxID": "", "HairpinMode": false, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "Ports": ports,
        "SandboxKey": if live.is_some() { netns_path } else { "" },
        "Networks": networks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_flags() {
        let c = build_net_config(&NetOptions::default(), &[]).unwrap();
        assert_eq!(c.mode.word(), DEFAULT_MODE);
        // -p without --network publishes on the default bridge.
        let o = NetOptions {
            publish: vec!["127.0.0.1:8080:80".into()],
            ..Default::default()
        };
        assert_eq!(build_net_config(&o, &[]).unwrap().mode.word(), "bridge");
        let o = NetOptions {
            network: Some("a,b".into()),
            ip: Some("10.90.1.9".into()),
            network_alias: vec!["web".into()],
            publish: vec!["127.0.0.1:8080:80".into()],
            ..Default::default()
        };
        let c = build_net_config(&o, &[]).unwrap();
        assert_eq!(c.mode, NetMode::Bridge);
        assert_eq!(c.networks["a"].interface_name, "eth0");
        assert_eq!(c.networks["b"].interface_name, "eth1");
        assert_eq!(c.networks["a"].static_ip.as_deref(), Some("10.90.1.9"));
        assert_eq!(c.networks["b"].static_ip, None);
        assert_eq!(c.ports[0].host_port, 8080);
        let o = NetOptions {
            network: Some("bridge".into()),
            publish_all: true,
            ..Default::default()
        };
        let c = build_net_config(&o, &["80/tcp".into()]).unwrap();
        assert!(c.ports[0].host_port > 0 && c.ports[0].container_port == 80);
        for bad in [
            NetOptions {
                network: Some("none".into()),
                publish: vec!["80".into()],
                ..Default::default()
            },
            NetOptions {
                network: Some("host".into()),
                ip: Some("10.0.0.2".into()),
                ..Default::default()
            },
            NetOptions {
                network: Some("bridge".into()),
                mac_address: Some("zz".into()),
                ..Default::default()
            },
            NetOptions {
                dns: vec!["x".into()],
                ..Default::default()
            },
            NetOptions {
                network: Some("ns:rel".into()),
                ..Default::default()
            },
        ] {
            assert!(build_net_config(&bad, &[]).is_err(), "{bad:?}");
        }
    }
}
