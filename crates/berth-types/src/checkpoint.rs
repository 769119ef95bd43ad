//! Checkpoint/restore with CRIU: what a container's state records about its
//! checkpoints, and the monitor's restore mode.
//!
//! Monitor protocol addition (the rest is in [`crate::monitor`]): with
//! [`MONITOR_RESTORE_FLAG`] the monitor runs `RUNTIME ... restore --detach
//! --bundle DIR --pid-file FILE [ARG...] CID` instead of `create`, where each
//! `ARG` comes from one [`MONITOR_RESTORE_ARG_FLAG`]` ARG` (`--image-path`,
//! `--work-path`, `--tcp-established`...). The runtime hands the restored
//! process the monitor's stdio pipes (it matches the pipes recorded at
//! checkpoint time), and from then on the monitor supervises it exactly like
//! a created and started container: sync message with the restored init's
//! pid, log, attach socket, exit file, exit command.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Monitor flag selecting restore mode.
pub const MONITOR_RESTORE_FLAG: &str = "--restore";
/// Monitor flag adding one argument to `RUNTIME restore` (repeatable).
pub const MONITOR_RESTORE_ARG_FLAG: &str = "--restore-arg";

/// Checkpoint facts kept in a container's runtime state; the fields
/// Podman's `inspect` shows under `State`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckpointState {
    /// The container was checkpointed (and stopped by it) and not restored
    /// since.
    pub checkpointed: bool,
    /// When the last checkpoint that stopped the container was taken.
    pub checkpointed_at: Option<Timestamp>,
    /// The container runs (or ran) from a restored checkpoint.
    pub restored: bool,
    /// When it was last restored.
    pub restored_at: Option<Timestamp>,
    /// The CRIU image directory of the last checkpoint (empty: none taken).
    pub checkpoint_path: String,
    /// CRIU's log of the last checkpoint.
    pub checkpoint_log: String,
    /// CRIU's log of the last restore.
    pub restore_log: String,
    /// The checkpoint holds established TCP connections: restoring it
    /// needs `--tcp-established` too.
    pub tcp_established: bool,
    /// The checkpoint holds file locks: restoring it needs `--file-locks`.
    pub file_locks: bool,
}
