//! Where berth keeps things on disk. One place computes every path so the
//! layout is documented once.
//!
//! ```text
//! ROOT/berth.db                              container state (SQLite)
//! ROOT/storage/                              images and layers (berth-storage)
//! ROOT/containers/ID/userdata/               bundle (config.json), hosts, hostname,
//!                                            resolv.conf, ctr.log
//! ROOT/events/events.log[.1]                 the size-capped event log
//! RUNROOT/locks/ID.lock                      per-container lock files
//! RUNROOT/runtime/NAME/                      the OCI runtime's --root
//! RUNROOT/containers/ID/{pidfile,exit-TOKEN,oom}  written by the monitor
//! RUNROOT/attach/ID[..32]                    the monitor's attach socket (short:
//!                                            unix socket paths are limited to 108 bytes)
//! ```

use std::path::{Path, PathBuf};

/// Default persistent root when running as root.
pub const DEFAULT_ROOT: &str = "/var/lib/berth";
/// Default runtime root (tmpfs, emptied by a reboot).
pub const DEFAULT_RUNROOT: &str = "/run/berth";

/// The on-disk layout for one `--root`/`--runroot` pair.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Persistent root (`--root`).
    pub root: PathBuf,
    /// Runtime root (`--runroot`).
    pub runroot: PathBuf,
}

impl Paths {
    /// Layout under the given roots.
    pub fn new(root: impl Into<PathBuf>, runroot: impl Into<PathBuf>) -> Self {
        Paths {
            root: root.into(),
            runroot: runroot.into(),
        }
    }
    /// The state database.
    pub fn database(&self) -> PathBuf {
        self.root.join("berth.db")
    }
    /// Image and layer storage.
    pub fn storage(&self) -> PathBuf {
        self.root.join("storage")
    }
    /// The event log (`events.log`, and `events.log.1` after a rotation).
    pub fn events_dir(&self) -> PathBuf {
        self.root.join("events")
    }
    /// Lock files.
    pub fn locks(&self) -> PathBuf {
        self.runroot.join("locks")
    }
    /// The OCI runtimes' state roots live below this.
    pub fn runtime_state(&self) -> PathBuf {
        self.runroot.join("runtime")
    }
    /// Persistent per-container files (the OCI bundle).
    pub fn userdata(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id).join("userdata")
    }
    /// The container's directory under root (removed with the container).
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }
    /// The container's log file (k8s-file format).
    pub fn log_file(&self, id: &str) -> PathBuf {
        self.userdata(id).join("ctr.log")
    }
    /// Per-container runtime files (pid file, exit file).
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.runroot.join("containers").join(id)
    }
    /// The exit file the monitor started with `token` writes.
    pub fn exit_file(&self, id: &str, token: &str) -> PathBuf {
        self.run_dir(id).join(format!("exit-{token}"))
    }
    /// The OOM marker the monitor writes beside the exit file.
    pub fn oom_file(&self, id: &str) -> PathBuf {
        self.run_dir(id).join("oom")
    }
    /// The pid file of the container's init.
    pub fn pid_file(&self, id: &str) -> PathBuf {
        self.run_dir(id).join("pidfile")
    }
    /// The monitor's attach socket.
    pub fn attach_socket(&self, id: &str) -> PathBuf {
        self.runroot.join("attach").join(&id[..id.len().min(32)])
    }
    /// True when `p` is inside the persistent root.
    pub fn in_root(&self, p: &Path) -> bool {
        p.starts_with(&self.root)
    }
}
