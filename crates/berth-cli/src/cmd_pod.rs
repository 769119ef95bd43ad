//! `pod create|start|stop|kill|restart|pause|unpause|rm|ps|inspect|top|stats|exists|prune`
//! in Podman's shapes. The rules live in `berth_core::pod`.

use crate::format::{align, human_duration, print_json, render_template, since, OutputFormat};
use crate::report::{fail, fail_any, Exit, Outcome};
use berth_core::pod::PodSummary;
use berth_core::{ErrorKind, PodCreateOptions, Runtime};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct PodCreateArgs {
    /// The pod's name (random when absent).
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Publish a port of the pod (`[IP:][HOSTPORT:]PORT[/PROTO]`).
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// The pod's network (`bridge` when ports are published, else none).
    #[arg(long = "network", visible_alias = "net")]
    pub network: Option<String>,
    /// Create an infra container (`--infra=false` for none).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub infra: bool,
    /// No infra container.
    #[arg(long = "no-infra")]
    pub no_infra: bool,
    /// Set metadata (key=value).
    #[arg(short = 'l', long)]
    pub label: Vec<String>,
    /// Namespaces the members share (`net,ipc,uts`).
    #[arg(long)]
    pub share: Option<String>,
    /// The pod's host name.
    #[arg(long)]
    pub hostname: Option<String>,
}

#[derive(Args, Debug)]
pub struct PodTargets {
    /// Every pod.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Pods.
    pub pods: Vec<String>,
}

#[derive(Subcommand)]
pub enum PodCommand {
    /// Create a pod.
    Create(PodCreateArgs),
    /// Start pods (infra first).
    Start(PodTargets),
    /// Stop pods (members first, then infra).
    Stop {
        /// Seconds to wait before killing.
        #[arg(short = 't', long = "time")]
        time: Option<u64>,
        #[command(flatten)]
        targets: PodTargets,
    },
    /// Send a signal to every container of pods.
    Kill {
        /// Signal (KILL by default).
        #[arg(short = 's', long, default_value = "KILL")]
        signal: String,
        #[command(flatten)]
        targets: PodTargets,
    },
    /// Restart pods.
    Restart(PodTargets),
    /// Pause every container of pods.
    Pause(PodTargets),
    /// Unpause every container of pods.
    Unpause(PodTargets),
    /// Remove pods and their containers.
    Rm {
        /// Stop and remove running containers too.
        #[arg(short = 'f', long)]
        force: bool,
        /// Do not error on missing pods.
        #[arg(short = 'i', long)]
        ignore: bool,
        /// Seconds to wait before killing (with --force).
        #[arg(short = 't', long = "time")]
        time: Option<u64>,
        #[command(flatten)]
        targets: PodTargets,
    },
    /// List pods.
    #[command(visible_alias = "ls", visible_alias = "list")]
    Ps {
        /// Print only IDs.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Do not truncate IDs.
        #[arg(long = "no-trunc")]
        no_trunc: bool,
        /// table, json or a Go template.
        #[arg(long)]
        format: Option<String>,
    },
    /// Show details of pods.
    Inspect {
        #[arg(short = 'f', long)]
        format: Option<String>,
        #[arg(required = true)]
        pods: Vec<String>,
    },
    /// Show the processes of a pod's containers.
    Top {
        pod: String,
        /// ps descriptors.
        descriptors: Vec<String>,
    },
    /// Resource usage of a pod's containers.
    Stats {
        /// `json` or a Go template.
        #[arg(long)]
        format: Option<String>,
        /// Print one sample and exit.
        #[arg(long = "no-stream")]
        no_stream: bool,
        #[command(flatten)]
        targets: PodTargets,
    },
    /// Exit 0 when the pod exists, 1 when not.
    Exists { pod: String },
    /// Remove every pod with no running container.
    Prune {
        /// Do not ask (berth never asks).
        #[arg(short = 'f', long)]
        force: bool,
    },
}

fn targets(rt: &Runtime, t: &PodTargets) -> Result<Vec<String>, Exit> {
    if t.all {
        return rt
            .pods()
            .map(|p| p.into_iter().map(|p| p.id).collect())
            .map_err(|e| fail(&e));
    }
    if t.pods.is_empty() {
        eprintln!("Error: you must provide at least one pod name or ID");
        return Err(125);
    }
    Ok(t.pods.clone())
}

/// Run `op` on each target pod, printing its ID on success.
fn each(
    rt: &Runtime,
    t: &PodTargets,
    op: impl Fn(&str) -> berth_core::Result<berth_types::pod::PodRecord>,
) -> Exit {
    let names = match targets(rt, t) {
        Ok(n) => n,
        Err(code) => return code,
    };
    let mut outcome = Outcome::default();
    for n in names {
        match op(&n) {
            Ok(p) => println!("{}", p.id),
            Err(e) => outcome.error(&e),
        }
    }
    outcome.exit(false)
}

pub fn pod(rt: &Runtime, cmd: &PodCommand) -> Exit {
    match cmd {
        PodCommand::Create(a) => {
            let opts = PodCreateOptions {
                name: a.name.clone(),
                publish: a.publish.clone(),
                network: a.network.clone(),
                infra: a.infra && !a.no_infra,
                labels: a.label.clone(),
                share: a.share.clone(),
                hostname: a.hostname.clone(),
            };
            match rt.create_pod(&opts) {
                Ok(p) => {
                    println!("{}", p.id);
                    0
                }
                Err(e) => fail(&e),
            }
        }
        PodCommand::Start(t) => each(rt, t, |n| rt.start_pod(n)),
        PodCommand::Stop { time, targets } => each(rt, targets, |n| rt.stop_pod(n, *time)),
        PodCommand::Kill { signal, targets } => match berth_core::signal::parse_signal(signal) {
            Ok(sig) => each(rt, targets, |n| rt.kill_pod(n, sig)),
            Err(e) => fail(&e),
        },
        PodCommand::Restart(t) => each(rt, t, |n| rt.restart_pod(n)),
        PodCommand::Pause(t) => each(rt, t, |n| rt.pause_pod(n, true)),
        PodCommand::Unpause(t) => each(rt, t, |n| rt.pause_pod(n, false)),
        PodCommand::Rm {
            force,
            ignore,
            time,
            targets: t,
        } => {
            let names = match targets(rt, t) {
                Ok(n) => n,
                Err(code) => return code,
            };
            let mut outcome = Outcome::default();
            for n in names {
                match rt.remove_pod(&n, *force, *time) {
                    Ok(p) => println!("{}", p.id),
                    Err(e) if (*ignore || t.all) && e.kind == ErrorKind::NoSuchContainer => {}
                    Err(e) => outcome.error(&e),
                }
            }
            outcome.exit(true)
        }
        PodCommand::Ps {
            quiet,
            no_trunc,
            format,
        } => ps(rt, *quiet, *no_trunc, format.as_deref()),
        PodCommand::Inspect { format, pods } => {
            let mut outcome = Outcome::default();
            let mut docs = Vec::new();
            for n in pods {
                match rt.pod(n).and_then(|p| rt.pod_summary(p)) {
                    Ok(s) => docs.push(inspect_doc(&s)),
                    Err(e) => outcome.error(&e),
                }
            }
            let printed = match OutputFormat::parse(format.as_deref()) {
                OutputFormat::Template { source, .. } => {
                    render_template(&source, false, &[], &docs).map(|s| print!("{s}"))
                }
                // Podman prints one object for one pod.
                _ if docs.len() == 1 => print_json(&docs[0]),
                _ => print_json(&docs),
            };
            if let Err(e) = printed {
                return fail_any(&e);
            }
            outcome.exit(false)
        }
        PodCommand::Top { pod, descriptors } => top(rt, pod, descriptors),
        PodCommand::Stats {
            format,
            no_stream,
            targets: t,
        } => {
            let names = match targets(rt, t) {
                Ok(n) => n,
                Err(code) => return code,
            };
            let mut containers = Vec::new();
            for n in names {
                match rt.pod(&n).and_then(|p| rt.pod_summary(p)) {
                    Ok(s) => containers.extend(
                        s.containers
                            .iter()
                            .filter(|c| c.state.state.is_active())
                            .map(|c| c.config.id.clone()),
                    ),
                    Err(e) => return fail(&e),
                }
            }
            crate::cmd_observe::stats(
                rt,
                &crate::cmd_observe::StatsArgs {
                    no_stream: *no_stream,
                    format: format.clone(),
                    all: false,
                    latest: false,
                    interval: 5,
                    containers,
                },
            )
        }
        PodCommand::Exists { pod } => match rt.pod(pod) {
            Ok(_) => 0,
            Err(e) if e.kind == ErrorKind::NoSuchContainer => 1,
            Err(e) => fail(&e),
        },
        PodCommand::Prune { .. } => match rt.prune_pods() {
            Ok(removed) => {
                removed.iter().for_each(|p| println!("{}", p.id));
                0
            }
            Err(e) => fail(&e),
        },
    }
}

/// `pod ps` row with Podman's template field names.
fn row(s: &PodSummary, no_trunc: bool) -> Value {
    let short = |id: &str| {
        if no_trunc {
            id.to_string()
        } else {
            id[..12].to_string()
        }
    };
    json!({
        "Id": short(&s.pod.id), "ID": short(&s.pod.id), "Name": s.pod.name,
        "Status": s.status.as_str(),
        "Created": format!("{} ago", human_duration(since(s.pod.created))),
        "InfraId": s.pod.infra_id.as_deref().map(short).unwrap_or_default(),
        "NumberOfContainers": s.containers.len(),
        "Labels": s.pod.labels,
        "Containers": s.containers.iter().map(|c| json!({
            "Id": c.config.id, "Names": c.config.name, "Status": c.state.state.as_str(),
        })).collect::<Vec<_>>(),
    })
}

fn ps(rt: &Runtime, quiet: bool, no_trunc: bool, format: Option<&str>) -> Exit {
    let mut rows = Vec::new();
    let pods = match rt.pods() {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    for p in pods.into_iter().rev() {
        match rt.pod_summary(p) {
            Ok(s) => rows.push(row(&s, no_trunc)),
            Err(e) if e.kind == ErrorKind::NoSuchContainer => {}
            Err(e) => return fail(&e),
        }
    }
    if quiet {
        rows.iter()
            .for_each(|r| println!("{}", r["Id"].as_str().unwrap_or_default()));
        return 0;
    }
    let printed = match OutputFormat::parse(format) {
        OutputFormat::Json => print_json(&rows),
        OutputFormat::Template { source, table } => {
            render_template(&source, table, &[], &rows).map(|s| print!("{s}"))
        }
        _ => {
            let mut text =
                String::from("POD ID\tNAME\tSTATUS\tCREATED\tINFRA ID\t# OF CONTAINERS\n");
            for r in &rows {
                text.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\n",
                    r["Id"].as_str().unwrap_or_default(),
                    r["Name"].as_str().unwrap_or_default(),
                    r["Status"].as_str().unwrap_or_default(),
                    r["Created"].as_str().unwrap_or_default(),
                    r["InfraId"].as_str().unwrap_or_default(),
                    r["NumberOfContainers"],
                ));
            }
            print!("{}", align(&text));
            Ok(())
        }
    };
    match printed {
        Ok(()) => 0,
        Err(e) => fail_any(&e),
    }
}

/// Podman's `pod inspect` document.
fn inspect_doc(s: &PodSummary) -> Value {
    let p = &s.pod;
    let infra = p
        .infra_id
        .as_ref()
        .and_then(|i| s.containers.iter().find(|c| &c.config.id == i));
    json!({
        "Id": p.id, "Name": p.name, "Created": p.created.to_string(),
        "CreateCommand": std::env::args().collect::<Vec<_>>(),
        "ExitPolicy": "continue", "State": s.status.as_str(), "Hostname": p.hostname,
        "Labels": p.labels, "CreateCgroup": false, "CgroupParent": "",
        "CreateInfra": p.infra_id.is_some(), "InfraContainerID": p.infra_id.clone().unwrap_or_default(),
        "InfraConfig": infra.map(|c| json!({
            "PortBindings": berth_core::network::ports_map(&c.config.net),
            "HostNetwork": c.config.net.mode.word() == "host",
            "StaticIP": "", "StaticMAC": "", "NoManageResolvConf": false,
            "DNSServer": null, "DNSSearch": null, "DNSOption": null, "NoManageHosts": false,
            "HostAdd": null, "Networks": c.config.net.networks.keys().collect::<Vec<_>>(),
            "NetworkOptions": null, "pid_ns": "private", "userns": "host", "uts_ns": "private",
        })),
        "SharedNamespaces": p.share, "NumContainers": s.containers.len(),
        "Containers": s.containers.iter().map(|c| json!({
            "Id": c.config.id, "Name": c.config.name, "State": c.state.state.as_str(),
        })).collect::<Vec<_>>(),
    })
}

fn top(rt: &Runtime, pod: &str, descriptors: &[String]) -> Exit {
    let s = match rt.pod(pod).and_then(|p| rt.pod_summary(p)) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let mut text = String::new();
    let mut header = false;
    for c in s.containers.iter().filter(|c| c.state.state.is_active()) {
        let ctr = match rt.lookup(&c.config.id) {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        match ctr.top(descriptors) {
            Ok((headers, rows)) => {
                if !header {
                    text.push_str("CONTAINER\t");
                    text.push_str(&headers.join("\t"));
                    text.push('\n');
                    header = true;
                }
                for r in rows {
                    text.push_str(&format!("{}\t{}\n", &c.config.id[..12], r.join("\t")));
                }
            }
            Err(e) => return fail(&e),
        }
    }
    if !header {
        eprintln!("Error: pod {} has no running container", s.pod.name);
        return 125;
    }
    print!("{}", align(&text));
    0
}
