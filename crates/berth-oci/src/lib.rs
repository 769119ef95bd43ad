//! `berth-oci`: the OCI runtime underneath berth.
//!
//! A thin [`OciRuntime`] trait over the runtime's command line (runc, or crun
//! where it works) with no state rules of its own, the choice between the
//! two ([`select_runtime`]), and the handshake that starts a container under
//! its monitor `berth-mon` ([`spawn_monitor`]).

#![warn(missing_docs)]

mod checkpoint;
mod monitor;
mod runc;
mod select;

pub use checkpoint::{criu_log_excerpt, find_criu, Criu};
pub use monitor::{
    spawn_monitor, start_monitor, start_monitor_with, MonitorAck, MonitorOptions, MonitorRequest,
    PendingMonitor,
};
pub use runc::{runtime_error, RuntimeCli};
pub use select::{find_binary, select_runtime, RuntimeChoice};

use berth_types::Result;
use std::path::Path;

/// What the runtime reports about one container (`runc state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeStatus {
    /// `created`, `running`, `paused` or `stopped`.
    pub status: String,
    /// Host PID of the container's init (0 when none).
    pub pid: i32,
}

/// The operations berth needs from an OCI runtime. Creation goes through the
/// monitor (see [`spawn_monitor`]), everything else through this trait.
pub trait OciRuntime: Send + Sync {
    /// Short name (`runc`, `crun`).
    fn name(&self) -> &str;
    /// Path of the runtime binary.
    fn path(&self) -> &Path;
    /// The runtime's state directory (`--root`).
    fn state_root(&self) -> &Path;
    /// Start a created container's process.
    fn start(&self, id: &str) -> Result<()>;
    /// Send `signal` to the container's init (or every process with `all`).
    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()>;
    /// Delete the runtime's record of the container; absent is not an error.
    fn delete(&self, id: &str, force: bool) -> Result<()>;
    /// Freeze every process of the container.
    fn pause(&self, id: &str) -> Result<()>;
    /// Thaw a paused container.
    fn resume(&self, id: &str) -> Result<()>;
    /// The runtime's view of the container, `None` when it knows none.
    fn state(&self, id: &str) -> Result<Option<RuntimeStatus>>;
}
