//! `volume create|ls|inspect|rm|prune|exists` (Podman's shapes).

use crate::format::{align, print_json, render_template, OutputFormat};
use crate::report::{fail, fail_any, Exit, Outcome};
use berth_core::{ErrorKind, Runtime, VolumeCreateOptions, VolumeRecord};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct VolumeCreateArgs {
    /// Set metadata (key=value).
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Driver options (key=value; the local driver records them).
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Return an existing volume of that name instead of failing.
    #[arg(long)]
    pub ignore: bool,
    /// The volume's name (random when absent).
    pub name: Option<String>,
}

#[derive(Args, Debug)]
pub struct VolumeListArgs {
    /// table, json or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Print only names.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Subcommand)]
pub enum VolumeCommand {
    /// Create a volume.
    Create(VolumeCreateArgs),
    /// List volumes.
    #[command(visible_alias = "list")]
    Ls(VolumeListArgs),
    /// Show details of volumes.
    Inspect {
        #[arg(short = 'f', long)]
        format: Option<String>,
        names: Vec<String>,
    },
    /// Remove volumes (refused while used, unless --force).
    #[command(visible_alias = "remove")]
    Rm {
        #[arg(short = 'f', long)]
        force: bool,
        names: Vec<String>,
    },
    /// Remove every volume no container uses.
    Prune {
        /// Do not ask for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Check whether a volume exists (exit 0) or not (exit 1).
    Exists { name: String },
}

/// Podman's `volume inspect` document.
fn doc(v: &VolumeRecord) -> Value {
    json!({
        "Name": v.name,
        "Driver": v.driver,
        "Mountpoint": v.mountpoint,
        "CreatedAt": v.created,
        "Labels": v.labels,
        "Scope": "local",
        "Options": v.options,
        "Anonymous": v.anonymous,
        "MountCount": berth_core::volumes::mount_count(v),
    })
}

pub fn volume(rt: &Runtime, cmd: &VolumeCommand) -> Exit {
    match cmd {
        VolumeCommand::Create(a) => {
            let opts = VolumeCreateOptions {
                name: a.name.clone(),
                labels: a.label.clone(),
                options: a.opt.clone(),
                ignore_existing: a.ignore,
            };
            match rt.create_volume(&opts) {
                Ok(v) => {
                    println!("{}", v.name);
                    0
                }
                Err(e) => fail(&e),
            }
        }
        VolumeCommand::Ls(a) => {
            let list = match rt.volumes() {
                Ok(l) => l,
                Err(e) => return fail(&e),
            };
            if a.quiet {
                list.iter().for_each(|v| println!("{}", v.name));
                return 0;
            }
            let docs: Vec<Value> = list.iter().map(doc).collect();
            let printed = match OutputFormat::parse(a.format.as_deref()) {
                OutputFormat::Json => print_json(&docs),
                OutputFormat::Template { source, table } => render_template(
                    &source,
                    table,
                    &[("Name", "VOLUME NAME"), ("Driver", "DRIVER")],
                    &docs,
                )
                .map(|s| print!("{s}")),
                OutputFormat::Table => {
                    let mut text = String::from("DRIVER\tVOLUME NAME\n");
                    for v in &list {
                        text.push_str(&format!("{}\t{}\n", v.driver, v.name));
                    }
                    print!("{}", align(&text));
                    Ok(())
                }
            };
            printed.map(|_| 0).unwrap_or_else(|e| fail_any(&e))
        }
        VolumeCommand::Inspect { format, names } => {
            let mut outcome = Outcome::default();
            let mut docs = Vec::new();
            for n in names {
                match rt.volume(n) {
                    Ok(v) => docs.push(doc(&v)),
                    Err(e) => outcome.error(&e),
                }
            }
            let printed = match OutputFormat::parse(format.as_deref()) {
                OutputFormat::Template { source, .. } => {
                    render_template(&source, false, &[], &docs).map(|s| print!("{s}"))
                }
                _ => print_json(&docs),
            };
            if let Err(e) = printed {
                return fail_any(&e);
            }
            outcome.exit(false)
        }
        VolumeCommand::Rm { force, names } => {
            let mut outcome = Outcome::default();
            for n in names {
                match rt.remove_volume(n, *force) {
                    Ok(()) => println!("{n}"),
                    Err(e) if *force && e.kind == ErrorKind::NoSuchContainer => {}
                    Err(e) => outcome.error(&e),
                }
            }
            // Podman: removing a volume that does not exist exits 1.
            outcome.exit(true)
        }
        VolumeCommand::Prune { force } => {
            if !*force
                && !crate::report::confirm(" all volumes not used by at least one container.")
            {
                return 0;
            }
            match rt.prune_volumes() {
                Ok(removed) => {
                    removed.iter().for_each(|n| println!("{n}"));
                    0
                }
                Err(e) => fail(&e),
            }
        }
        VolumeCommand::Exists { name } => match rt.volume_exists(name) {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(e) => fail(&e),
        },
    }
}
