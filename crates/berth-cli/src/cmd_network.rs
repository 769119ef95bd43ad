//! `network create|ls|inspect|rm|prune|exists|connect|disconnect|reload`
//! (Podman's shapes: `inspect` prints the network definitions as netavark
//! and Podman store them).

use crate::format::{align, print_json, render_template, OutputFormat};
use crate::report::{fail, fail_any, Exit, Outcome};
use berth_core::{ErrorKind, NetworkCreateOptions, Runtime};
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Args, Debug)]
pub struct NetworkCreateArgs {
    /// Driver: bridge (default) or macvlan.
    #[arg(short = 'd', long)]
    pub driver: Option<String>,
    /// Subnet in CIDR form (a free 10.90.N.0/24 when absent).
    #[arg(long)]
    pub subnet: Option<String>,
    /// Gateway address (the subnet's first address when absent).
    #[arg(long)]
    pub gateway: Option<String>,
    /// No route out of the network and no published ports.
    #[arg(long)]
    pub internal: bool,
    /// Do not run aardvark-dns for this network.
    #[arg(long = "disable-dns")]
    pub disable_dns: bool,
    /// Set metadata (key=value).
    #[arg(long)]
    pub label: Vec<String>,
    /// Driver options (key=value; `parent=IFACE` for macvlan).
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// The bridge's (or macvlan parent's) interface name.
    #[arg(long = "interface-name")]
    pub interface_name: Option<String>,
    /// Return an existing network of that name instead of failing.
    #[arg(long)]
    pub ignore: bool,
    /// The network's name (berthN when absent).
    pub name: Option<String>,
}

#[derive(Args, Debug)]
pub struct NetworkListArgs {
    /// table, json or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Print only names.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate IDs.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Create a network.
    Create(NetworkCreateArgs),
    /// List networks.
    #[command(visible_alias = "list")]
    Ls(NetworkListArgs),
    /// Show details of networks.
    Inspect {
        #[arg(short = 'f', long)]
        format: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove networks (refused while used, unless --force).
    #[command(visible_alias = "remove")]
    Rm {
        /// Remove the containers using the network too.
        #[arg(short = 'f', long)]
        force: bool,
        /// Seconds to wait for those containers to stop (accepted).
        #[arg(short = 't', long = "time")]
        time: Option<u64>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove every network no container uses.
    Prune {
        /// Do not ask for confirmation (berth never asks).
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Check whether a network exists (exit 0) or not (exit 1).
    Exists { name: String },
    /// Connect a container to a network.
    Connect {
        /// Extra DNS names of the container on this network.
        #[arg(long)]
        alias: Vec<String>,
        /// A static IPv4 address.
        #[arg(long)]
        ip: Option<String>,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network.
    Disconnect {
        /// Accepted for Podman compatibility.
        #[arg(short = 'f', long)]
        force: bool,
        network: String,
        container: String,
    },
    /// Put back the firewall rules of running containers.
    Reload {
        /// Every running container.
        #[arg(short = 'a', long)]
        all: bool,
        containers: Vec<String>,
    },
}

/// A network as Go templates see it: Podman's `types.Network` field names
/// (`{{.Name}}`, `{{.Internal}}`), while JSON output uses its json tags.
fn doc(n: &berth_core::network::Network) -> Value {
    serde_json::json!({
        "Name": n.name, "ID": n.id, "Driver": n.driver,
        "NetworkInterface": n.network_interface, "Created": n.created,
        "Subnets": n.subnets.iter().map(|s| serde_json::json!({
            "Subnet": s.subnet, "Gateway": s.gateway.clone().unwrap_or_default(),
        })).collect::<Vec<_>>(),
        "IPv6Enabled": n.ipv6_enabled, "Internal": n.internal, "DNSEnabled": n.dns_enabled,
        "Labels": n.labels, "Options": n.options, "IPAMOptions": n.ipam_options,
    })
}

pub fn network(rt: &Runtime, cmd: &NetworkCommand) -> Exit {
    match cmd {
        NetworkCommand::Create(a) => {
            let opts = NetworkCreateOptions {
                name: a.name.clone(),
                driver: a.driver.clone(),
                subnet: a.subnet.clone(),
                gateway: a.gateway.clone(),
                internal: a.internal,
                disable_dns: a.disable_dns,
                labels: a.label.clone(),
                options: a.opt.clone(),
                interface_name: a.interface_name.clone(),
                ignore: a.ignore,
            };
            match rt.create_network(&opts) {
                Ok(n) => {
                    println!("{}", n.name);
                    0
                }
                Err(e) => fail(&e),
            }
        }
        NetworkCommand::Ls(a) => list(rt, a),
        NetworkCommand::Inspect { format, names } => {
            let mut outcome = Outcome::default();
            let mut nets = Vec::new();
            for n in names {
                match rt.network(n) {
                    Ok(net) => nets.push(net),
                    Err(e) => outcome.error(&e),
                }
            }
            let printed = match OutputFormat::parse(format.as_deref()) {
                OutputFormat::Template { source, .. } => {
                    let docs: Vec<Value> = nets.iter().map(doc).collect();
                    render_template(&source, false, &[], &docs).map(|s| print!("{s}"))
                }
                // The struct itself: Podman's field order.
                _ => print_json(&nets),
            };
            if let Err(e) = printed {
                return fail_any(&e);
            }
            outcome.exit(false)
        }
        NetworkCommand::Rm { force, names, .. } => {
            let mut outcome = Outcome::default();
            for n in names {
                match rt.remove_network(n, *force) {
                    Ok(net) => println!("{}", net.name),
                    Err(e) => outcome.error(&e),
                }
            }
            // Like `volume rm`: only missing networks exit 1.
            outcome.exit(true)
        }
        NetworkCommand::Prune { .. } => match rt.prune_networks() {
            Ok(removed) => {
                removed.iter().for_each(|n| println!("{n}"));
                0
            }
            Err(e) => fail(&e),
        },
        NetworkCommand::Exists { name } => match rt.network(name) {
            Ok(_) => 0,
            Err(e) if e.kind == ErrorKind::NoSuchContainer => 1,
            Err(e) => fail(&e),
        },
        NetworkCommand::Connect {
            alias,
            ip,
            network,
            container,
        } => match rt.network_connect(container, network, alias, ip.as_deref()) {
            Ok(()) => 0,
            Err(e) => fail(&e),
        },
        NetworkCommand::Disconnect {
            network, container, ..
        } => match rt.network_disconnect(container, network) {
            Ok(()) => 0,
            Err(e) => fail(&e),
        },
        NetworkCommand::Reload { all, containers } => {
            let targets = if *all {
                match rt.networked_containers() {
                    Ok(ids) => ids,
                    Err(e) => return fail(&e),
                }
            } else {
                containers.clone()
            };
            let mut outcome = Outcome::default();
            for c in &targets {
                match rt.network_reload(c).and_then(|_| rt.lookup(c)) {
                    Ok(ctr) => println!("{}", ctr.id()),
                    Err(e) => outcome.error(&e),
                }
            }
            outcome.exit(false)
        }
    }
}

fn list(rt: &Runtime, a: &NetworkListArgs) -> Exit {
    let nets = match rt.networks() {
        Ok(n) => n,
        Err(e) => return fail(&e),
    };
    if a.quiet {
        nets.iter().for_each(|n| println!("{}", n.name));
        return 0;
    }
    let docs: Vec<Value> = nets.iter().map(doc).collect();
    let printed = match OutputFormat::parse(a.format.as_deref()) {
        OutputFormat::Json => print_json(&nets),
        OutputFormat::Template { source, table } => render_template(
            &source,
            table,
            &[("Name", "NAME"), ("ID", "NETWORK ID"), ("Driver", "DRIVER")],
            &docs,
        )
        .map(|s| print!("{s}")),
        OutputFormat::Table => {
            let mut text = String::from("NETWORK ID\tNAME\tDRIVER\n");
            for n in &nets {
                let id = if a.no_trunc { &n.id[..] } else { &n.id[..12] };
                text.push_str(&format!("{id}\t{}\t{}\n", n.name, n.driver));
            }
            print!("{}", align(&text));
            Ok(())
        }
    };
    printed.map(|_| 0).unwrap_or_else(|e| fail_any(&e))
}
