//! The wire protocol between the engine and `berth-mon`, the per-container
//! monitor. Both sides use only these names, so neither crate depends on
//! the other.
//!
//! Command line (long flags, each value a separate argv element):
//!
//! ```text
//! berth-mon --cid ID --bundle DIR --runtime PATH --runtime-root DIR
//!           --pid-file FILE --exit-file FILE --log-path FILE --attach-socket FILE
//!           --sync-fd N [--stdin] [--run] [--attach-wait]
//!           [--runtime-arg ARG]... [--exit-cmd ARG]...
//! ```
//!
//! * The monitor binds the attach socket first, before it detaches, so the
//!   socket exists by the time the engine has reaped the first process.
//! * It detaches (double fork + setsid) and becomes a child subreaper.
//! * **create mode** (default): it runs `RUNTIME [--runtime-arg...] --root DIR
//!   create --bundle DIR --pid-file FILE ID` with the container's stdio on
//!   pipes it holds (stdin is `/dev/null` unless `--stdin`); the engine later
//!   calls `RUNTIME start` and, after the exit, `RUNTIME delete`.
//! * **run mode** (`--run`): it runs `RUNTIME ... run --bundle DIR --pid-file
//!   FILE ID` in the foreground instead: one runtime process creates, starts,
//!   waits for and deletes the container (two fewer runtime execs). The
//!   container's exit code is the runtime's exit status (the runtime reports
//!   128+N for a signal). The sync message is sent once the pid file exists;
//!   if the runtime exits before that, its output is the error.
//! * With `--attach-wait` the monitor starts the runtime only after the first
//!   attach client connected (or 5 s passed), so that client sees every byte.
//! * It writes one line of JSON, a [`SyncMessage`], to the sync fd and
//!   closes it: the container's pid and its own, or the runtime's error.
//! * It relays the container's stdout/stderr to the log file in k8s-file
//!   format and to clients of the attach socket (see [`ATTACH_STDOUT`]).
//! * When the container's init exits it drains output, writes the exit code
//!   (decimal, e.g. `137`) to the exit file atomically (temp + rename), closes
//!   attach clients, runs the exit command (`--exit-cmd` words) and exits.

use serde::{Deserialize, Serialize};

/// Monitor binary name, looked up beside the `berth` binary first.
pub const MONITOR_BINARY: &str = "berth-mon";

/// The one message on the sync fd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncMessage {
    /// Host PID of the container's init; 0 on error.
    #[serde(default)]
    pub pid: i32,
    /// PID of the monitor itself.
    #[serde(default)]
    pub monitor_pid: i32,
    /// The runtime's error output when `create` failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Attach frames from the monitor to a client: one stream byte, a
/// big-endian u32 length, then that many bytes of output.
pub const ATTACH_STDOUT: u8 = 1;
/// Stream byte for stderr frames.
pub const ATTACH_STDERR: u8 = 2;
/// Bytes a client sends are written to the container's stdin; a client that
/// shuts down its write side closes the container's stdin. The monitor
/// closes every client after the container exited and output was drained.
pub const ATTACH_HEADER_LEN: usize = 5;

/// Encode one attach frame header.
pub fn attach_header(stream: u8, len: u32) -> [u8; ATTACH_HEADER_LEN] {
    let l = len.to_be_bytes();
    [stream, l[0], l[1], l[2], l[3]]
}
