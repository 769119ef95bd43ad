//! `kube play|down FILE` and `generate kube CTR|POD` (the rules are in
//! `berth-kube`).

use crate::report::{fail, Exit};
use berth_core::{Error, Runtime};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum KubeCommand {
    /// Create pods, containers and volumes from Kubernetes YAML.
    Play {
        /// The pods' network (bridge when a hostPort is published).
        #[arg(long = "network", visible_alias = "net")]
        network: Option<String>,
        /// Start the pods (`--start=false`: create only).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
        start: bool,
        /// The YAML file (`-` for stdin).
        file: String,
    },
    /// Remove the pods a Kubernetes YAML file created.
    Down {
        /// The YAML file (`-` for stdin).
        file: String,
    },
}

#[derive(Subcommand)]
pub enum GenerateCommand {
    /// Kubernetes YAML for a container or pod.
    Kube {
        /// Write to this file instead of stdout.
        #[arg(short = 'f', long)]
        filename: Option<String>,
        name: String,
    },
}

fn read(file: &str) -> Result<String, Error> {
    let r = if file == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    };
    r.map_err(|e| Error::io(format!("reading {file}"), e).with_subject(file))
}

pub fn kube(rt: &Runtime, cmd: &KubeCommand) -> Exit {
    match cmd {
        KubeCommand::Play {
            network,
            start,
            file,
        } => {
            let opts = berth_kube::PlayOptions {
                network: network.clone(),
                no_start: !start,
            };
            match read(file).and_then(|y| berth_kube::play(rt, &y, &opts)) {
                Ok(report) => {
                    for v in &report.volumes {
                        println!("Volume:\n{v}");
                    }
                    for (pod, ctrs) in &report.pods {
                        println!("Pod:\n{pod}\nContainers:");
                        ctrs.iter().for_each(|c| println!("{c}"));
                    }
                    0
                }
                Err(e) => fail(&e),
            }
        }
        KubeCommand::Down { file } => match read(file).and_then(|y| berth_kube::down(rt, &y)) {
            Ok(pods) => {
                if !pods.is_empty() {
                    println!("Pods stopped and removed:");
                    pods.iter().for_each(|p| println!("{p}"));
                }
                0
            }
            Err(e) => fail(&e),
        },
    }
}

pub fn generate(rt: &Runtime, cmd: &GenerateCommand) -> Exit {
    match cmd {
        GenerateCommand::Kube { filename, name } => match berth_kube::generate(rt, name) {
            Ok(yaml) => match filename {
                Some(f) => match std::fs::write(f, yaml) {
                    Ok(()) => 0,
                    Err(e) => fail(&Error::io(format!("writing {f}"), e)),
                },
                None => {
                    print!("{yaml}");
                    0
                }
            },
            Err(e) => fail(&e),
        },
    }
}
