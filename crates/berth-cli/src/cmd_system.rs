//! version, info, system check.

use crate::report::{fail, Exit};
use berth_core::Runtime;
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Args, Debug)]
pub struct VersionArgs {
    /// `json` or a Go template.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// `json` or a Go template.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

#[derive(Subcommand)]
pub enum SystemCommand {
    /// Serve the Docker Engine API on a unix socket.
    Service(crate::cmd_service::ServiceArgs),
    /// Check the state database and find leftovers of crashed commands.
    Check {
        /// Remove the leftovers found.
        #[arg(short = 'r', long)]
        repair: bool,
    },
    /// Show system information.
    Info(InfoArgs),
    /// Show disk usage by images, containers and volumes.
    Df(DfArgs),
    /// Remove stopped containers, unused images (and volumes) and leftovers.
    Prune(SystemPruneArgs),
}

#[derive(Args, Debug)]
pub struct DfArgs {
    /// `json` or a Go template.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct SystemPruneArgs {
    /// Remove every unused image, not only dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove unused volumes too.
    #[arg(long)]
    pub volumes: bool,
}

fn version_doc() -> serde_json::Value {
    json!({
        "Client": {
            "APIVersion": env!("CARGO_PKG_VERSION"),
            "Version": env!("CARGO_PKG_VERSION"),
            "OsArch": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH }),
            "Os": std::env::consts::OS,
        }
    })
}

pub fn version(a: &VersionArgs) -> Exit {
    let doc = version_doc();
    crate::format::print_document(a.format.as_deref(), &doc, |doc| {
        let c = &doc["Client"];
        println!("Client:       berth");
        println!("Version:      {}", c["Version"].as_str().unwrap_or(""));
        println!("API Version:  {}", c["APIVersion"].as_str().unwrap_or(""));
        println!("OS/Arch:      {}", c["OsArch"].as_str().unwrap_or(""));
    })
}

/// cgroup2 when /sys/fs/cgroup itself is the unified hierarchy.
fn cgroup_version() -> &'static str {
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "v2"
    } else {
        "v1"
    }
}

pub fn info(rt: &Runtime, a: &InfoArgs) -> Exit {
    let containers = match rt.containers() {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let count =
        |s: berth_core::ContainerState| containers.iter().filter(|c| c.state.state == s).count();
    let images = rt.list_images().map(|l| l.len()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    let doc = json!({
        "host": {
            "arch": if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH },
            "os": std::env::consts::OS,
            "kernel": kernel,
            "hostname": hostname,
            "cgroupVersion": cgroup_version(),
            "ociRuntime": { "name": rt.oci_runtime_name(), "note": rt.runtime_note().unwrap_or("") },
        },
        "store": {
            "graphRoot": rt.paths().root.to_string_lossy(),
            "runRoot": rt.paths().runroot.to_string_lossy(),
            "graphDriverName": "overlay",
            "containerStore": {
                "number": containers.len(),
                "running": count(berth_core::ContainerState::Running),
                "paused": count(berth_core::ContainerState::Paused),
                "stopped": containers.len() - count(berth_core::ContainerState::Running) - count(berth_core::ContainerState::Paused),
            },
            "imageStore": { "number": images },
        },
        "version": version_doc()["Client"],
    });
    crate::format::print_document(a.format.as_deref(), &doc, |doc| print_yaml(doc, 0))
}

/// Podman prints `info` as YAML; a small printer for our JSON document.
fn print_yaml(v: &serde_json::Value, indent: usize) {
    if let serde_json::Value::Object(m) = v {
        for (k, val) in m {
            match val {
                serde_json::Value::Object(_) => {
                    println!("{:indent$}{k}:", "");
                    print_yaml(val, indent + 2);
                }
                serde_json::Value::String(s) => println!("{:indent$}{k}: {s}", ""),
                other => println!("{:indent$}{k}: {other}", ""),
            }
        }
    }
}

pub fn system(rt: &Runtime, cmd: &SystemCommand) -> Exit {
    match cmd {
        SystemCommand::Info(a) => info(rt, a),
        SystemCommand::Df(a) => crate::cmd_df::df(rt, a),
        SystemCommand::Prune(a) => crate::cmd_df::prune(rt, a),
        SystemCommand::Service(_) => unreachable!("handled in dispatch"),
        SystemCommand::Check { repair } => match rt.check(*repair) {
            Ok(report) => {
                for p in report.database.iter().chain(&report.orphans) {
                    println!("{p}");
                }
                if report.database.is_empty() && report.orphans.is_empty() {
                    println!("No problems found");
                }
                let unrepaired = report.orphans.iter().any(|o| !o.ends_with(": removed"));
                i32::from(!report.database.is_empty() || unrepaired)
            }
            Err(e) => fail(&e),
        },
    }
}
