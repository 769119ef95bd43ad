//! `container checkpoint` and `container restore` (CRIU), Podman's flags.

use super::{each, Targets};
use crate::report::{fail, Exit, Outcome};
use berth_core::container::checkpoint::{CheckpointOptions, RestoreOptions};
use berth_core::{ContainerRecord, ContainerState, Error, Runtime};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// Checkpoint every running container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Also write the checkpoint to this tar archive (for restore --import).
    #[arg(short = 'e', long = "export", value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// Compression of the exported archive: gzip or none.
    #[arg(short = 'c', long, default_value = "gzip")]
    pub compress: String,
    /// Keep CRIU's logs and statistics.
    #[arg(short = 'k', long)]
    pub keep: bool,
    /// Leave the container running after the checkpoint.
    #[arg(short = 'R', long = "leave-running")]
    pub leave_running: bool,
    /// Checkpoint established TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Leave the rootfs changes out of the export.
    #[arg(long = "ignore-rootfs")]
    pub ignore_rootfs: bool,
    /// Checkpoint file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    #[command(flatten)]
    pub targets: Targets,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Restore every checkpointed container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Restore a new container from an archive made by checkpoint --export.
    #[arg(short = 'i', long = "import", value_name = "FILE")]
    pub import: Option<PathBuf>,
    /// With --import: the new container's name (it gets a new ID too).
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Keep the checkpoint and CRIU's logs after restoring.
    #[arg(short = 'k', long)]
    pub keep: bool,
    /// Restore established TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// With --import: do not apply the archive's rootfs changes.
    #[arg(long = "ignore-rootfs")]
    pub ignore_rootfs: bool,
    /// Restore file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    #[command(flatten)]
    pub targets: Targets,
}

fn usage(msg: &str) -> Exit {
    fail(&Error::invalid(msg))
}

pub fn checkpoint(rt: &Runtime, a: &CheckpointArgs) -> Exit {
    let uncompressed = match a.compress.as_str() {
        "gzip" => false,
        "none" => true,
        other => {
            return usage(&format!(
                "unsupported --compress {other:?}: use gzip or none"
            ))
        }
    };
    if a.export.is_some() && (a.all || a.targets.containers.len() > 1) {
        return usage("--export can only be used with a single container");
    }
    if a.ignore_rootfs && a.export.is_none() {
        return usage("--ignore-rootfs can only be used with --export");
    }
    let opts = CheckpointOptions {
        leave_running: a.leave_running,
        export: a.export.clone(),
        uncompressed,
        keep: a.keep,
        tcp_established: a.tcp_established,
        ignore_rootfs: a.ignore_rootfs,
        file_locks: a.file_locks,
    };
    if a.all {
        return each_matching(
            rt,
            |r| r.state.state == ContainerState::Running,
            |c| c.checkpoint(&opts),
        );
    }
    each(rt, &a.targets, false, |c, _| c.checkpoint(&opts))
}

pub fn restore(rt: &Runtime, a: &RestoreArgs) -> Exit {
    if a.name.is_some() && a.import.is_none() {
        return usage("--name can only be used with --import");
    }
    if a.ignore_rootfs && a.import.is_none() {
        return usage("--ignore-rootfs can only be used with --import");
    }
    let opts = RestoreOptions {
        keep: a.keep,
        tcp_established: a.tcp_established,
        file_locks: a.file_locks,
        ignore_rootfs: a.ignore_rootfs,
        name: a.name.clone(),
    };
    if let Some(archive) = &a.import {
        if a.all || a.targets.latest || !a.targets.containers.is_empty() {
            return usage("--import cannot be used with container names, --all or --latest");
        }
        return match rt.restore_import(archive, &opts) {
            Ok(c) => {
                println!("{}", c.id());
                0
            }
            Err(e) => fail(&e),
        };
    }
    if a.all {
        return each_matching(
            rt,
            |r| r.state.checkpoint.checkpointed,
            |c| c.restore(&opts),
        );
    }
    each(rt, &a.targets, false, |c, _| c.restore(&opts))
}

/// `container restore-hook`: runc runs it with the OCI state on stdin.
pub fn restore_hook() -> Exit {
    match berth_core::container::checkpoint::restore_network_hook(std::io::stdin().lock()) {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

/// `--all`: apply `op` to every container `pick` selects, printing IDs.
fn each_matching(
    rt: &Runtime,
    pick: impl Fn(&ContainerRecord) -> bool,
    op: impl Fn(&berth_core::Container) -> berth_core::Result<()>,
) -> Exit {
    let list = match rt.containers() {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let mut outcome = Outcome::default();
    for rec in list.iter().filter(|r| pick(r)) {
        match rt.lookup(&rec.config.id).and_then(|c| op(&c)) {
            Ok(()) => println!("{}", rec.config.id),
            Err(e) => outcome.error(&e),
        }
    }
    outcome.exit(false)
}
