//! A container's live networking: its namespace file, its addresses (the
//! `ipam` table) and netavark setup/teardown; `network connect`,
//! `disconnect` and `reload`.
//!
//! Setup runs before the runtime creates the container (the spec joins the
//! namespace by path); teardown runs whenever the runtime's resources are
//! released (`cleanup_runtime`: after an exit, on stop, rm, restart and
//! after a crash), is idempotent, and frees the addresses even when
//! netavark fails.

use super::subnet_of;
use crate::Runtime;
use berth_net::netavark::{NetworkOptions, PerNetworkOptions, StatusBlock};
use berth_net::{ipam, netns, Netavark};
use berth_types::net::{NetAttachment, NetConfig, NetEndpoint, NetMode, NetState, Network};
use berth_types::{ContainerRecord, ContainerState, Error, ErrorKind, Result};
use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

fn netavark(rt: &Runtime) -> Result<Netavark> {
    Netavark::find(&rt.paths.runroot.join("networks"))
}

/// The namespace file of container `id`.
fn netns_file(rt: &Runtime, id: &str) -> PathBuf {
    rt.paths.runroot.join("netns").join(format!("netns-{id}"))
}

/// An address for the container on `net`: its `--ip`, the one it already
/// holds there, or the lowest free one.
fn allocate(rt: &Runtime, id: &str, net: &Network, att: &NetAttachment) -> Result<Ipv4Addr> {
    let (subnet, gw) = subnet_of(net)?;
    let rows = rt.store.ipam_list()?;
    if let Some((_, ip, _)) = rows.iter().find(|(n, _, c)| *n == net.name && c == id) {
        return ipam::parse_ip(ip);
    }
    if let Some(ip) = &att.static_ip {
        let ip = ipam::parse_ip(ip)?;
        ipam::check_static(&subnet, gw, ip)?;
        if !rt.store.ipam_claim(&net.name, &ip.to_string(), id)? {
            return Err(Error::new(
                ErrorKind::InUse,
                format!(
                    "IP address {ip} is already allocated on network {}",
                    net.name
                ),
            ));
        }
        return Ok(ip);
    }
    let mut used: HashSet<Ipv4Addr> = rows
        .iter()
        .filter(|(n, _, _)| *n == net.name)
        .filter_map(|(_, ip, _)| ip.parse().ok())
        .collect();
    loop {
        let ip = ipam::next_free(&subnet, gw, &used).ok_or_else(|| {
            Error::new(
                ErrorKind::InUse,
                format!("no free IP address left on network {}", net.name),
            )
        })?;
        if rt.store.ipam_claim(&net.name, &ip.to_string(), id)? {
            return Ok(ip);
        }
        // Another process took it meanwhile.
        used.insert(ip);
    }
}

fn base_options(rec: &ContainerRecord) -> NetworkOptions {
    let net = &rec.config.net;
    NetworkOptions {
        container_id: rec.config.id.clone(),
        container_name: rec.config.name.clone(),
        port_mappings: Some(net.ports.clone()).filter(|p| !p.is_empty()),
        dns_servers: Some(net.dns_servers.clone()).filter(|d| !d.is_empty()),
        ..Default::default()
    }
}

fn per_network(att: &NetAttachment, ip: &str, mac: Option<String>) -> PerNetworkOptions {
    PerNetworkOptions {
        interface_name: att.interface_name.clone(),
        static_ips: Some(vec![ip.to_string()]),
        static_mac: mac.or_else(|| att.static_mac.clone()),
        aliases: Some(att.aliases.clone()).filter(|a| !a.is_empty()),
    }
}

fn endpoint(att: &NetAttachment, status: &StatusBlock) -> NetEndpoint {
    let iface = status
        .interfaces
        .as_ref()
        .and_then(|i| i.get(&att.interface_name));
    let addr = iface
        .and_then(|i| i.subnets.as_ref())
        .and_then(|s| s.first());
    let (ip, prefix) = addr
        .and_then(|a| a.ipnet.split_once('/'))
        .map(|(ip, p)| (ip.to_string(), p.parse().unwrap_or(0)))
        .unwrap_or_default();
    NetEndpoint {
        interface_name: att.interface_name.clone(),
        ip,
        prefix_len: prefix,
        gateway: addr.and_then(|a| a.gateway.clone()).unwrap_or_default(),
        mac_address: iface.map(|i| i.mac_address.clone()).unwrap_or_default(),
        dns_servers: status.dns_server_ips.clone().unwrap_or_default(),
        dns_search: status.dns_search_domains.clone().unwrap_or_default(),
    }
}

/// Join the container to `names` (some of its configured networks): create
/// its namespace if it has none, allocate addresses, run netavark setup.
/// On failure everything this call did is undone.
/// How the container asked to join network `name` (defaults when it did
/// not say).
fn attachment(net: &NetConfig, name: &str) -> NetAttachment {
    net.networks.get(name).cloned().unwrap_or_default()
}

fn attach(
    rt: &Runtime,
    rec: &mut ContainerRecord,
    names: &[String],
    keep_macs: bool,
) -> Result<()> {
    let id = rec.config.id.clone();
    let nv = netavark(rt)?;
    let fresh_ns = rec.state.net.is_none();
    if fresh_ns {
        let path = netns_file(rt, &id);
        netns::create(&path)?;
        rec.state.net = Some(NetState {
            netns: path.to_string_lossy().into_owned(),
            endpoints: BTreeMap::new(),
        });
    }
    let state = rec.state.net.clone().unwrap_or_default();
    let ns = PathBuf::from(&state.netns);
    let mut opts = base_options(rec);
    let mut claimed = Vec::new();
    let result = (|| -> Result<BTreeMap<String, StatusBlock>> {
        for name in names {
            let net = rt.network(name)?;
            let att = attachment(&rec.config.net, name);
            let ip = allocate(rt, &id, &net, &att)?;
            claimed.push(name.clone());
            let mac = state
                .endpoints
                .get(name)
                .filter(|_| keep_macs)
                .map(|e| e.mac_address.clone());
            opts.networks
                .insert(name.clone(), per_network(&att, &ip.to_string(), mac));
            opts.network_info.insert(name.clone(), net);
        }
        nv.setup(&ns, &opts)
    })();
    match result {
        Ok(status) => {
            if names.iter().any(|n| n == berth_net::DEFAULT_NETWORK) {
                berth_net::keeper::keep(berth_net::DEFAULT_BRIDGE);
            }
            let live = rec.state.net.get_or_insert_with(Default::default);
            for name in names {
                let att = attachment(&rec.config.net, name);
                if let Some(s) = status.get(name) {
                    live.endpoints.insert(name.clone(), endpoint(&att, s));
                }
            }
            Ok(())
        }
        Err(e) => {
            // netavark stops at the first error and leaves what it did.
            if !opts.networks.is_empty() {
                let _ = nv.teardown(&ns, &opts);
            }
            for n in &claimed {
                if !state.endpoints.contains_key(n) || !keep_macs {
                    let _ = rt.store.ipam_release(&id, Some(n));
                }
            }
            if fresh_ns {
                let _ = netns::remove(&ns);
                rec.state.net = None;
            }
            Err(e.with_subject(rec.config.name.clone()))
        }
    }
}

/// Undo `attach` for `names`: netavark teardown (errors are reported but
/// never keep the addresses), free the addresses, forget the endpoints.
fn detach(rt: &Runtime, rec: &mut ContainerRecord, names: &[String]) -> Result<()> {
    let id = rec.config.id.clone();
    let Some(state) = rec.state.net.clone() else {
        return Ok(());
    };
    let ns = PathBuf::from(&state.netns);
    let mut opts = base_options(rec);
    for name in names {
        let (Some(e), Ok(net)) = (state.endpoints.get(name), rt.network(name)) else {
            continue;
        };
        let att = rec
            .config
            .net
            .networks
            .get(name)
            .cloned()
            .unwrap_or(NetAttachment {
                interface_name: e.interface_name.clone(),
                ..Default::default()
            });
        opts.networks.insert(
            name.clone(),
            per_network(&att, &e.ip, Some(e.mac_address.clone())),
        );
        opts.network_info.insert(name.clone(), net);
    }
    let torn = if opts.networks.is_empty() || !netns::is_mounted(&ns) {
        Ok(())
    } else {
        netavark(rt).and_then(|nv| nv.teardown(&ns, &opts))
    };
    for name in names {
        rt.store.ipam_release(&id, Some(name))?;
        if let Some(s) = rec.state.net.as_mut() {
            s.endpoints.remove(name);
        }
    }
    torn
}

/// Set up a bridge-mode container's networking before it starts; true
/// when there was any to set up (the caller saves the new state). A stale
/// setup (a crash after the last one) is torn down first.
pub(crate) fn setup(rt: &Runtime, rec: &mut ContainerRecord) -> Result<bool> {
    if rec.config.net.mode != NetMode::Bridge {
        return Ok(false);
    }
    if rec.state.net.is_some() {
        teardown(rt, rec)?;
    }
    let names: Vec<String> = rec.config.net.networks.keys().cloned().collect();
    attach(rt, rec, &names, false).map(|()| true)
}

/// Tear down a container's networking: every endpoint, its addresses and
/// its namespace file. Safe to call any number of times; the addresses and
/// the namespace go even when netavark fails (its error is returned after).
pub(crate) fn teardown(rt: &Runtime, rec: &mut ContainerRecord) -> Result<()> {
    let id = rec.config.id.clone();
    let res = match &rec.state.net {
        Some(state) => {
            let names: Vec<String> = state.endpoints.keys().cloned().collect();
            let res = detach(rt, rec, &names);
            let ns = rec
                .state
                .net
                .take()
                .map(|s| PathBuf::from(s.netns))
                .unwrap_or_else(|| netns_file(rt, &id));
            netns::remove(&ns).and(res)
        }
        None => Ok(()),
    };
    if rec.config.net.mode == NetMode::Bridge {
        rt.store.ipam_release(&id, None)?;
    }
    res
}

/// Rewrite a running container's /etc/hosts and /etc/resolv.conf in place
/// (the bind mounts pin the files' inodes, so a rename would not show).
fn rewrite_etc(rt: &Runtime, rec: &ContainerRecord) -> Result<()> {
    let (hosts, resolv) = super::etc_files(&rec.config, rec.state.net.as_ref())?;
    let dir = rt.paths.userdata(&rec.config.id);
    for (name, body) in [("hosts", hosts), ("resolv.conf", resolv)] {
        let p = dir.join(name);
        if p.exists() {
            std::fs::write(&p, body)
                .map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
        }
    }
    Ok(())
}

fn running_bridge(rec: &ContainerRecord) -> bool {
    rec.state.net.is_some()
        && matches!(
            rec.state.state,
            ContainerState::Running | ContainerState::Paused | ContainerState::Created
        )
}

fn check_bridge(rec: &ContainerRecord) -> Result<()> {
    if rec.config.net.mode != NetMode::Bridge {
        return Err(Error::invalid(format!(
            "container {} uses network mode {}: only bridge networking can join networks",
            rec.config.name,
            rec.config.net.mode.word()
        ))
        .with_subject(&rec.config.name));
    }
    Ok(())
}

impl Runtime {
    /// `network connect`: add a network to a container; a running one is
    /// joined to it at once (netavark setup of that network only).
    pub fn network_connect(
        &self,
        container: &str,
        network: &str,
        aliases: &[String],
        ip: Option<&str>,
    ) -> Result<()> {
        let net = self.network(network)?;
        self.lookup(container)?.batch(|c| {
            let rec = &mut c.rec;
            let outside_runtime =
                !rec.state.state.is_active() && rec.state.state != ContainerState::Created;
            if rec.config.net.mode == NetMode::None && outside_runtime {
                // berth's default is a private loopback namespace where
                // Podman's and Docker's is the bridge, so "create, then
                // connect" must work: a container not in the runtime gets
                // bridge networking from its next start.
                rec.config.net.mode = NetMode::Bridge;
            }
            check_bridge(rec)?;
            if rec.config.net.networks.contains_key(&net.name) {
                return Err(Error::new(
                    ErrorKind::InUse,
                    format!(
                        "container {} is already connected to network {}",
                        rec.config.name, net.name
                    ),
                ));
            }
            let used: Vec<&str> = rec
                .config
                .net
                .networks
                .values()
                .map(|a| a.interface_name.as_str())
                .collect();
            let iface = (0..)
                .map(|i| format!("eth{i}"))
                .find(|n| !used.contains(&n.as_str()))
                .expect("a free interface name");
            rec.config.net.networks.insert(
                net.name.clone(),
                NetAttachment {
                    interface_name: iface,
                    static_ip: ip.map(str::to_string),
                    static_mac: None,
                    aliases: aliases.to_vec(),
                },
            );
            if running_bridge(rec) {
                if let Err(e) = attach(self, rec, std::slice::from_ref(&net.name), false) {
                    rec.config.net.networks.remove(&net.name);
                    return Err(e);
                }
                c.save()?;
                rewrite_etc(self, &c.rec)?;
            }
            self.store.save_config(&c.rec.config.id, &c.rec.config)
        })
    }

    /// `network disconnect`: remove a network from a container; a running
    /// one is torn down from it at once.
    pub fn network_disconnect(&self, container: &str, network: &str) -> Result<()> {
        let net = self.network(network)?;
        self.lookup(container)?.batch(|c| {
            check_bridge(&c.rec)?;
            if !c.rec.config.net.networks.contains_key(&net.name) {
                return Err(Error::invalid(format!(
                    "container {} is not connected to network {}",
                    c.rec.config.name, net.name
                )));
            }
            let res = if running_bridge(&c.rec) {
                let r = detach(self, &mut c.rec, std::slice::from_ref(&net.name));
                c.save()?;
                r
            } else {
                self.store.ipam_release(&c.rec.config.id, Some(&net.name))
            };
            c.rec.config.net.networks.remove(&net.name);
            self.store.save_config(&c.rec.config.id, &c.rec.config)?;
            if running_bridge(&c.rec) {
                rewrite_etc(self, &c.rec)?;
            }
            res
        })
    }

    /// `network reload`: put back a running container's firewall rules
    /// (after someone flushed them) by tearing its networks down and
    /// setting them up again with the same addresses and MACs. Returns
    /// false for a container that has no networking to reload.
    pub fn network_reload(&self, container: &str) -> Result<bool> {
        self.lookup(container)?.batch(|c| {
            if !running_bridge(&c.rec) || c.rec.config.net.mode != NetMode::Bridge {
                return Ok(false);
            }
            let names: Vec<String> = c
                .rec
                .state
                .net
                .as_ref()
                .map(|s| s.endpoints.keys().cloned().collect())
                .unwrap_or_default();
            let state = c.rec.state.net.clone().unwrap_or_default();
            // Teardown without freeing: keep the addresses for the setup.
            let ns = Path::new(&state.netns);
            let mut opts = base_options(&c.rec);
            for name in &names {
                if let (Some(e), Ok(net)) = (state.endpoints.get(name), self.network(name)) {
                    let att = c
                        .rec
                        .config
                        .net
                        .networks
                        .get(name)
                        .cloned()
                        .unwrap_or_default();
                    opts.networks.insert(
                        name.clone(),
                        per_network(&att, &e.ip, Some(e.mac_address.clone())),
                    );
                    opts.network_info.insert(name.clone(), net);
                }
            }
            let nv = netavark(self)?;
            let _ = nv.teardown(ns, &opts);
            attach(self, &mut c.rec, &names, true)?;
            c.save()?;
            Ok(true)
        })
    }

    /// IDs of the running containers with bridge networking (`reload --all`).
    pub fn networked_containers(&self) -> Result<Vec<String>> {
        Ok(self
            .containers()?
            .into_iter()
            .filter(|r| r.config.net.mode == NetMode::Bridge && running_bridge(r))
            .map(|r| r.config.id)
            .collect())
    }

    /// The namespace file path a container's networking uses (inspect).
    pub fn netns_path(&self, id: &str) -> String {
        netns_file(self, id).to_string_lossy().into_owned()
    }
}
