//! Checkpoint/restore with CRIU (Podman's `container checkpoint` and
//! `container restore`).
//!
//! `checkpoint` runs `runc --criu CRIU checkpoint --image-path
//! userdata/checkpoint --work-path userdata` under the container's lock.
//! CRIU dumps the processes and (unless `--leave-running`) kills them; the
//! monitor then records that exit as for any other, and the container
//! becomes `exited` with `Checkpointed` set and exit code 0, as in Podman.
//! A failed dump leaves the processes running (CRIU resumes them) and the
//! error quotes the first `Error` line of CRIU's `dump.log` and its path.
//!
//! `restore` starts a new monitor in restore mode (`runc restore --detach`,
//! see `berth_types::checkpoint`), which then supervises the restored
//! process exactly like a started one: same log, attach socket, exit file
//! and exit command. Export and import of checkpoints are in
//! `checkpoint_archive.rs`.
//!
//! Files, as in Podman's bundle: `userdata/checkpoint/` (CRIU images),
//! `userdata/{dump.log,restore.log,stats-dump,stats-restore}` (CRIU's logs
//! and statistics, removed unless `--keep`), `userdata/{config.dump,
//! spec.dump}` (what an export carries besides the images).

pub(crate) use super::checkpoint_net::add_restore_hook;
pub use super::checkpoint_net::{restore_network_hook, RESTORE_HOOK_ARGS};

use super::locked::Launch;
use super::{sync, LockedContainer};
use crate::Runtime;
use berth_oci::{criu_log_excerpt, find_criu, MonitorOptions};
use berth_types::checkpoint::CheckpointState;
use berth_types::{ContainerRecord, ContainerState, Error, ErrorKind, Op, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// CRIU's image directory, below the container's userdata.
pub(crate) const IMAGES_DIR: &str = "checkpoint";
/// CRIU's log of a checkpoint (in the work directory, userdata).
const DUMP_LOG: &str = "dump.log";
/// CRIU's log of a restore.
const RESTORE_LOG: &str = "restore.log";
/// Statistics CRIU writes beside its logs.
const STATS: [&str; 2] = ["stats-dump", "stats-restore"];
/// The container's configuration as of the checkpoint (for export).
pub(crate) const CONFIG_DUMP: &str = "config.dump";
/// The OCI spec the checkpointed container ran with (for export).
pub(crate) const SPEC_DUMP: &str = "spec.dump";
/// A file CRIU writes last into a complete image directory.
const INVENTORY: &str = "inventory.img";

/// How long CRIU's kill of the dumped processes may take to show.
const DUMP_EXIT_WAIT: Duration = Duration::from_secs(10);

/// `container checkpoint` flags.
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    /// Keep the container running after the dump (`-R`).
    pub leave_running: bool,
    /// Also write the checkpoint to this archive (`-e FILE`).
    pub export: Option<PathBuf>,
    /// Do not compress the export (`--compress none`).
    pub uncompressed: bool,
    /// Keep CRIU's logs and statistics (`-k`).
    pub keep: bool,
    /// Dump established TCP connections (`--tcp-established`).
    pub tcp_established: bool,
    /// Leave the rootfs changes out of the export (`--ignore-rootfs`).
    pub ignore_rootfs: bool,
    /// Dump file locks (`--file-locks`).
    pub file_locks: bool,
}

/// `container restore` flags.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Keep the checkpoint and CRIU's logs after restoring (`-k`).
    pub keep: bool,
    /// Restore established TCP connections (`--tcp-established`; implied
    /// when the checkpoint has them).
    pub tcp_established: bool,
    /// Restore file locks (`--file-locks`; implied when the checkpoint has
    /// them).
    pub file_locks: bool,
    /// Import: do not apply the archive's rootfs changes (`--ignore-rootfs`).
    pub ignore_rootfs: bool,
    /// Import: the new container's name (`-n`); it gets a new ID too.
    pub name: Option<String>,
}

impl super::Container<'_> {
    /// Checkpoint the running container with CRIU.
    pub fn checkpoint(&self, opts: &CheckpointOptions) -> Result<()> {
        self.batch(|c| c.checkpoint(opts))
    }

    /// Restore the container from its checkpoint.
    pub fn restore(&self, opts: &RestoreOptions) -> Result<()> {
        self.batch(|c| c.restore(opts))
    }
}

impl LockedContainer<'_> {
    /// Checkpoint the container (see the module documentation).
    pub fn checkpoint(&mut self, opts: &CheckpointOptions) -> Result<()> {
        self.check(Op::Checkpoint)?;
        let name = self.rec.config.name.clone();
        if self.rec.config.auto_remove && opts.export.is_none() && !opts.leave_running {
            return Err(Error::invalid(format!(
                "cannot checkpoint container {name}: it was started with --rm and would be removed; use --export"
            ))
            .with_subject(name));
        }
        let criu = find_criu()?;
        let id = self.rec.config.id.clone();
        let userdata = self.rt.paths.userdata(&id);
        let images = userdata.join(IMAGES_DIR);
        remove_files(&userdata, &[IMAGES_DIR, DUMP_LOG, STATS[0]]);
        std::fs::create_dir_all(&images)
            .map_err(|e| Error::io(format!("creating {}", images.display()), e))?;
        write_dumps(&self.rec, &userdata)?;

        let images_arg = images.to_string_lossy().into_owned();
        let work_arg = userdata.to_string_lossy().into_owned();
        let mut args = vec![
            "--image-path",
            images_arg.as_str(),
            "--work-path",
            work_arg.as_str(),
        ];
        for (on, flag) in [
            (opts.leave_running, "--leave-running"),
            (opts.tcp_established, "--tcp-established"),
            (opts.file_locks, "--file-locks"),
        ] {
            if on {
                args.push(flag);
            }
        }
        let pid = self.rec.state.pid;
        if let Err(e) = self.oci().checkpoint(&id, &criu, &args) {
            // Half-written images are useless; the log stays for the user.
            remove_files(&userdata, &[IMAGES_DIR, CONFIG_DUMP, SPEC_DUMP]);
            return Err(with_criu_log(e, &userdata.join(DUMP_LOG), &name));
        }

        let now = jiff::Timestamp::now();
        let ck = &mut self.rec.state.checkpoint;
        ck.checkpoint_path = images_arg.clone();
        ck.checkpoint_log = userdata.join(DUMP_LOG).to_string_lossy().into_owned();
        ck.tcp_established = opts.tcp_established;
        ck.file_locks = opts.file_locks;
        if !opts.leave_running {
            self.record_dumped_exit(pid, now)?;
        }
        self.save()?;
        self.event("checkpoint");
        let exported = match &opts.export {
            Some(dest) => super::checkpoint_archive::export(self, dest, opts),
            None => Ok(()),
        };
        if !opts.keep {
            remove_files(&userdata, &[DUMP_LOG, STATS[0], CONFIG_DUMP, SPEC_DUMP]);
        }
        exported
    }

    /// After a dump that killed the processes: wait for the monitor to
    /// record the exit, then mark the container checkpointed and release
    /// its runtime resources. Podman shows it exited with code 0.
    fn record_dumped_exit(&mut self, pid: i32, now: jiff::Timestamp) -> Result<()> {
        sync::wait_pid_exit(pid, DUMP_EXIT_WAIT);
        sync::wait_exit_file(self.rt, &self.rec, DUMP_EXIT_WAIT);
        // Not `self.sync()`: this exit is the checkpoint, not a death.
        sync::sync_record(self.rt, &mut self.rec);
        let st = &mut self.rec.state;
        st.state = ContainerState::Exited;
        st.exit_code = Some(0);
        st.finished_at.get_or_insert(now);
        // A checkpoint is the user's stop: no restart policy brings it back.
        st.stop_requested = true;
        st.checkpoint.checkpointed = true;
        st.checkpoint.checkpointed_at = Some(now);
        st.checkpoint.restored = false;
        st.checkpoint.restored_at = None;
        self.cleanup_runtime()
    }

    /// Restore the container from its checkpoint under a new monitor.
    pub fn restore(&mut self, opts: &RestoreOptions) -> Result<()> {
        self.check(Op::Restore)?;
        let name = self.rec.config.name.clone();
        let userdata = self.rt.paths.userdata(&self.rec.config.id);
        if !userdata.join(IMAGES_DIR).join(INVENTORY).is_file() {
            return Err(Error::new(
                ErrorKind::StateImproper {
                    state: self.state().as_str().into(),
                    op: Op::Restore.verb().into(),
                },
                format!(
                    "cannot restore container {name}: a complete checkpoint for this container cannot be found (checkpoint it first)"
                ),
            )
            .with_subject(name));
        }
        // Leftovers of the run that was checkpointed (mount, runtime record).
        self.cleanup_runtime()?;
        remove_files(&userdata, &[RESTORE_LOG, STATS[1]]);
        let ck = &mut self.rec.state.checkpoint;
        ck.tcp_established |= opts.tcp_established;
        ck.file_locks |= opts.file_locks;
        if let Err(e) = self.launch(Launch::Restore) {
            return Err(with_criu_log(e, &userdata.join(RESTORE_LOG), &name));
        }
        let st = &mut self.rec.state;
        st.stop_requested = false;
        st.checkpoint.checkpointed = false;
        st.checkpoint.restored = true;
        st.checkpoint.restored_at = Some(jiff::Timestamp::now());
        st.checkpoint.restore_log = userdata.join(RESTORE_LOG).to_string_lossy().into_owned();
        self.save()?;
        self.event("restore");
        if !opts.keep {
            // Restored: the images have served their purpose (Podman's rule).
            let mut gone = vec![IMAGES_DIR, DUMP_LOG, RESTORE_LOG];
            gone.extend(STATS);
            remove_files(&userdata, &gone);
        }
        Ok(())
    }
}

/// The monitor options of restore mode for `rec`: `--criu` for the
/// runtime and the `runtime restore` arguments. Called by `launch`.
pub(crate) fn restore_monitor_options(
    rt: &Runtime,
    rec: &ContainerRecord,
    opts: &mut MonitorOptions,
) -> Result<()> {
    let criu = find_criu()?;
    let userdata = rt.paths.userdata(&rec.config.id);
    opts.runtime_args = vec!["--criu".into(), criu.path.to_string_lossy().into_owned()];
    let mut args = vec![
        "--image-path".to_string(),
        userdata.join(IMAGES_DIR).to_string_lossy().into_owned(),
        "--work-path".into(),
        userdata.to_string_lossy().into_owned(),
    ];
    let ck = &rec.state.checkpoint;
    if ck.tcp_established {
        args.push("--tcp-established".into());
    }
    if ck.file_locks {
        args.push("--file-locks".into());
    }
    opts.restore_args = Some(args);
    Ok(())
}

/// Write `config.dump` (the container's configuration) and `spec.dump`
/// (its OCI spec) into `userdata` for an export.
fn write_dumps(rec: &ContainerRecord, userdata: &Path) -> Result<()> {
    let config = serde_json::to_vec_pretty(&rec.config)?;
    std::fs::write(userdata.join(CONFIG_DUMP), config)
        .map_err(|e| Error::io(format!("writing {CONFIG_DUMP}"), e))?;
    std::fs::copy(userdata.join("config.json"), userdata.join(SPEC_DUMP))
        .map_err(|e| Error::io(format!("writing {SPEC_DUMP}"), e))?;
    Ok(())
}

/// Add CRIU's explanation to a runtime error: the first `Error` line of
/// its log, and where the whole log is.
fn with_criu_log(e: Error, log: &Path, name: &str) -> Error {
    // runc's retry warnings while it cleans up say nothing about the
    // cause, and runc names the log as a last line; it is named once, below.
    let mut message = e
        .message
        .split("; ")
        .filter(|part| !part.contains("(will retry)") && !part.starts_with("log file: "))
        .collect::<Vec<_>>()
        .join("; ");
    match criu_log_excerpt(log) {
        Some(line) => message.push_str(&format!("; CRIU: {line} (log: {})", log.display())),
        None if log.is_file() => message.push_str(&format!(" (CRIU log: {})", log.display())),
        None => {}
    }
    Error::new(e.kind, message).with_subject(name)
}

/// Remove files or directories `names` below `dir`; missing ones are fine.
pub(crate) fn remove_files(dir: &Path, names: &[&str]) {
    for n in names {
        let p = dir.join(n);
        let _ = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
    }
}

/// Podman's checkpoint fields of `inspect`'s `State` (its `omitempty`
/// ones only when set; the times always, zero when never).
pub(crate) fn add_inspect_state(state: &mut Value, st: &berth_types::RuntimeState) {
    let Some(map) = state.as_object_mut() else {
        return;
    };
    let ck: &CheckpointState = &st.checkpoint;
    let time = |t: &Option<jiff::Timestamp>| Value::String(crate::inspect::time(t));
    map.insert("CheckpointedAt".into(), time(&ck.checkpointed_at));
    map.insert("RestoredAt".into(), time(&ck.restored_at));
    for (key, on) in [("Checkpointed", ck.checkpointed), ("Restored", ck.restored)] {
        if on {
            map.insert(key.into(), Value::Bool(true));
        }
    }
    for (key, text) in [
        ("CheckpointPath", &ck.checkpoint_path),
        ("CheckpointLog", &ck.checkpoint_log),
        ("RestoreLog", &ck.restore_log),
    ] {
        if !text.is_empty() {
            map.insert(key.into(), Value::String(text.clone()));
        }
    }
}
