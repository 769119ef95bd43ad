//! Networks (Podman's `network` verbs) and container networking.
//!
//! - this file: network definitions — the implicit default network
//!   [`berth_net::DEFAULT_NETWORK`], `network create/ls/inspect/rm/prune`;
//! - `config.rs`: the `--network`, `-p`, `--dns`... flags into a container's
//!   [`NetConfig`], its `/etc/hosts` and `/etc/resolv.conf`, and inspect's
//!   `NetworkSettings`;
//! - `setup.rs`: a container's namespace, addresses and netavark
//!   setup/teardown, `network connect/disconnect/reload`.
//!
//! Definitions and address allocations live in the state database (see
//! `berth_state::networks` for why); netavark keeps its own files under
//! `RUNROOT/networks` and berth's namespace files are
//! `RUNROOT/netns/netns-ID`.

mod config;
mod setup;

pub use berth_types::net::Network;
pub(crate) use config::{build_net_config, etc_files, spec_netns, SpecNetns};
pub use config::{network_settings, ports_column, ports_map, NetOptions};
pub(crate) use setup::{setup, teardown};

use crate::Runtime;
use berth_net::ipam;
use berth_types::net::{NetMode, Subnet};
use berth_types::{Error, ErrorKind, Result};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;

/// The default network's ID (fixed, like Podman's for `podman`).
const DEFAULT_ID: &str = "5f1e0d4c3b2a19087f6e5d4c3b2a19087f6e5d4c3b2a19087f6e5d4c3b2a1908";

/// What `network create` is asked for.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreateOptions {
    /// The name (`berthN`-style random-free name when absent).
    pub name: Option<String>,
    /// `-d bridge|macvlan`.
    pub driver: Option<String>,
    /// `--subnet`; a free 10.90.N.0/24 when absent.
    pub subnet: Option<String>,
    /// `--gateway`; the first host address when absent.
    pub gateway: Option<String>,
    /// `--internal`.
    pub internal: bool,
    /// `--disable-dns`.
    pub disable_dns: bool,
    /// `--label key=value`.
    pub labels: Vec<String>,
    /// `-o key=value` (driver options: `mtu`, `parent` for macvlan...).
    pub options: Vec<String>,
    /// `--interface-name`: the bridge (or macvlan parent) interface.
    pub interface_name: Option<String>,
    /// `--ignore`: return the existing network of that name.
    pub ignore: bool,
}

/// The implicit default network (never stored, cannot be removed).
pub fn default_network() -> Network {
    Network {
        name: berth_net::DEFAULT_NETWORK.into(),
        id: DEFAULT_ID.into(),
        driver: "bridge".into(),
        network_interface: berth_net::DEFAULT_BRIDGE.into(),
        created: "2026-01-01T00:00:00Z".into(),
        subnets: vec![Subnet {
            subnet: berth_net::DEFAULT_SUBNET.into(),
            gateway: Some("10.90.0.1".into()),
        }],
        ipv6_enabled: false,
        internal: false,
        // As Podman's default network: names resolve on user networks only.
        dns_enabled: false,
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        ipam_options: BTreeMap::from([("driver".into(), "host-local".into())]),
    }
}

fn validate_network_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && name.len() <= 253;
    if !ok {
        return Err(Error::invalid(format!(
            "invalid network name {name:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
        ))
        .with_subject(name));
    }
    Ok(())
}

fn key_values(list: &[String], what: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for l in list {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        if k.is_empty() {
            return Err(Error::invalid(format!("invalid {what} {l:?}: empty key")));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// The first subnet of a network and its gateway.
pub(crate) fn subnet_of(net: &Network) -> Result<(Ipv4Net, std::net::Ipv4Addr)> {
    let s = net
        .subnets
        .first()
        .ok_or_else(|| Error::internal(format!("network {} has no subnet", net.name)))?;
    let subnet = ipam::parse_subnet(&s.subnet)?;
    let gw = match &s.gateway {
        Some(g) => ipam::parse_ip(g)?,
        None => ipam::default_gateway(&subnet),
    };
    Ok((subnet, gw))
}

fn host_has_interface(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

impl Runtime {
    /// Every network: the default one first, then the stored ones by name.
    pub fn networks(&self) -> Result<Vec<Network>> {
        let mut all = vec![default_network()];
        all.extend(self.store.list_networks()?);
        Ok(all)
    }

    /// A network by name, full ID or unique ID prefix.
    pub fn network(&self, name_or_id: &str) -> Result<Network> {
        if name_or_id == berth_net::DEFAULT_NETWORK {
            return Ok(default_network());
        }
        match self.store.get_network(name_or_id) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind != ErrorKind::NoSuchContainer => return Err(e),
            Err(_) => {}
        }
        let all = self.networks()?;
        let by_id: Vec<&Network> = all
            .iter()
            .filter(|n| !name_or_id.is_empty() && n.id.starts_with(name_or_id))
            .collect();
        match by_id.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(berth_state::no_such_network(name_or_id)),
            many => Err(Error::new(
                ErrorKind::AmbiguousId {
                    candidates: many.iter().map(|n| n.id.clone()).collect(),
                },
                format!("more than one network matches {name_or_id:?}"),
            )),
        }
    }

    /// `network create`.
    pub fn create_network(&self, o: &NetworkCreateOptions) -> Result<Network> {
        let existing = self.networks()?;
        let name = match &o.name {
            Some(n) => n.clone(),
            None => (1..)
                .map(|i| format!("{}{i}", berth_net::BRIDGE_PREFIX))
                .find(|n| !existing.iter().any(|e| &e.name == n))
                .expect("an unused name exists"),
        };
        validate_network_name(&name)?;
        if let Some(old) = existing.iter().find(|n| n.name == name) {
            if o.ignore {
                return Ok(old.clone());
            }
            return Err(berth_state::network_exists(&name));
        }
        let driver = o.driver.clone().unwrap_or_else(|| "bridge".into());
        if !matches!(driver.as_str(), "bridge" | "macvlan") {
            return Err(Error::invalid(format!(
                "unsupported network driver {driver:?}: use bridge or macvlan"
            )));
        }
        let mut options = key_values(&o.options, "network option")?;
        let taken: Vec<Ipv4Net> = existing
            .iter()
            .filter_map(|n| subnet_of(n).ok().map(|s| s.0))
            .collect();
        let subnet = match &o.subnet {
            Some(s) => {
                let s = ipam::parse_subnet(s)?;
                if let Some(n) = existing
                    .iter()
                    .find(|n| subnet_of(n).is_ok_and(|(t, _)| ipam::overlaps(&t, &s)))
                {
                    return Err(Error::new(
                        ErrorKind::InUse,
                        format!("subnet {s} is already used by network {}", n.name),
                    ));
                }
                s
            }
            None => {
                let mut avoid = taken.clone();
                avoid.extend(ipam::host_routes());
                ipam::pick_subnet(&avoid).ok_or_else(|| {
                    Error::new(ErrorKind::InUse, "no free subnet left in 10.90.0.0/16")
                })?
            }
        };
        let gateway = match &o.gateway {
            Some(g) => {
                let g = ipam::parse_ip(g)?;
                if !subnet.contains(&g) || g == subnet.network() || g == subnet.broadcast() {
                    return Err(Error::invalid(format!(
                        "gateway {g} is not a host address of subnet {subnet}"
                    )));
                }
                g
            }
            None => ipam::default_gateway(&subnet),
        };
        let interface = match (&o.interface_name, driver.as_str()) {
            (Some(i), _) => i.clone(),
            (None, "macvlan") => options
                .remove("parent")
                .or_else(ipam::default_route_interface)
                .ok_or_else(|| {
                    Error::invalid("macvlan needs a parent interface (-o parent=IFACE)")
                })?,
            (None, _) => (1..)
                .map(|i| format!("{}{i}", berth_net::BRIDGE_PREFIX))
                .find(|b| {
                    !existing.iter().any(|e| &e.network_interface == b) && !host_has_interface(b)
                })
                .expect("an unused bridge name exists"),
        };
        if interface.len() > 15 || interface.contains(['/', ' ']) {
            return Err(Error::invalid(format!(
                "invalid interface name {interface:?}: at most 15 characters, no '/' or spaces"
            )));
        }
        let net = Network {
            name: name.clone(),
            id: crate::names::random_id(),
            driver: driver.clone(),
            network_interface: interface,
            created: jiff::Timestamp::now().to_string(),
            subnets: vec![Subnet {
                subnet: subnet.to_string(),
                gateway: Some(gateway.to_string()),
            }],
            ipv6_enabled: false,
            internal: o.internal,
            dns_enabled: driver == "bridge" && !o.disable_dns,
            labels: key_values(&o.labels, "label")?,
            options,
            ipam_options: BTreeMap::from([("driver".into(), "host-local".into())]),
        };
        if net.network_interface == berth_net::DEFAULT_BRIDGE {
            return Err(Error::new(
                ErrorKind::InUse,
                format!(
                    "bridge name {} is the default network's",
                    net.network_interface
                ),
            ));
        }
        self.store.add_network(&net)?;
        Ok(net)
    }

    /// IDs of the containers joined to network `name` (configured, whether
    /// running or not), oldest first.
    pub fn network_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .list()?
            .into_iter()
            .filter(|r| {
                r.config.net.mode == NetMode::Bridge && r.config.net.networks.contains_key(name)
            })
            .map(|r| r.config.id)
            .collect())
    }

    /// `network rm`: refused while containers use it unless `force`, which
    /// removes them first. The default network cannot be removed.
    pub fn remove_network(&self, name_or_id: &str, force: bool) -> Result<Network> {
        let net = self.network(name_or_id)?;
        if net.name == berth_net::DEFAULT_NETWORK {
            return Err(
                Error::invalid(format!("default network {} cannot be removed", net.name))
                    .with_subject(&net.name),
            );
        }
        let users = self.network_users(&net.name)?;
        if !users.is_empty() {
            if !force {
                let names: Vec<String> = users
                    .iter()
                    .map(|id| berth_types::id::short_id(id).to_string())
                    .collect();
                return Err(Error::new(
                    ErrorKind::InUse,
                    format!(
                        "network {} is being used by container(s) {}: network is being used",
                        net.name,
                        names.join(", ")
                    ),
                )
                .with_subject(&net.name));
            }
            for id in users {
                crate::Container::new(self, id).remove(true, None)?;
            }
        }
        self.store.remove_network(&net.name)?;
        Ok(net)
    }

    /// `network prune`: remove every user network no container uses; the
    /// removed names.
    pub fn prune_networks(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for n in self.store.list_networks()? {
            if self.network_users(&n.name)?.is_empty() {
                self.store.remove_network(&n.name)?;
                removed.push(n.name);
            }
        }
        Ok(removed)
    }

    /// Every address allocation as `(network, ip, container ID)`.
    pub fn network_allocations(&self) -> Result<Vec<(String, String, String)>> {
        self.store.ipam_list()
    }
}
