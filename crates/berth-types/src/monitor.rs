//! The wire protocol between the engine and `berth-mon`, the per-container
//! monitor. Both sides use only these names, so neither crate depends on
//! the other.
//!
//! Command line (long flags, each value a separate argv element):
//!
//! ```text
//! berth-mon --cid ID --bundle DIR --runtime PATH --runtime-root DIR
//!           --pid-file FILE --exit-file FILE --log-path FILE --attach-socket FILE
//!           --sync-fd N [--stdin] [--run] [--attach-wait] [--terminal]
//!           [--exec --process FILE] [--log-driver k8s-file|json-file|none]
//!           [--log-max-size BYTES] [--log-max-file N]
//!           [--runtime-arg ARG]... [--exit-cmd ARG]...
//!           [--restore [--restore-arg ARG]...]      (see `crate::checkpoint`)
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
//! * **terminal** (`--terminal`, for a bundle or process with
//!   `terminal: true`): the monitor binds `ATTACH_SOCKET.console` and passes
//!   it to the runtime as `--console-socket`; the runtime sends the pty
//!   master over it (SCM_RIGHTS). The monitor relays the master: its output
//!   as stdout frames, client input (with `--stdin`) written to it, window
//!   sizes from [`ATTACH_RESIZE`] frames applied with `TIOCSWINSZ` (the
//!   latest one is kept and applied when the master arrives). A client
//!   leaving never closes a terminal.
//! * **log drivers**: `k8s-file` (default; `TIMESTAMP STREAM F|P TEXT`),
//!   `json-file` (Docker's `{"log":"TEXT","stream":"stdout","time":"..."}`
//!   lines; a partial line's `log` has no trailing newline; invalid UTF-8
//!   becomes U+FFFD as in Docker) or `none` (nothing written; attach still
//!   works). With `--log-max-size N` > 0 the monitor rotates on record
//!   boundaries once the file reached N bytes: `LOG` becomes `LOG.1`, older
//!   ones shift up to `LOG.(max-file - 1)` and the oldest goes; with
//!   `--log-max-file 1` (the default) the file starts over empty.
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
/// Length of a frame header, in both directions.
///
/// Client to monitor, **raw** (the default): bytes a client sends are
/// written to the container's stdin; a client that shuts down its write
/// side closes the container's stdin (never a terminal). The monitor closes
/// every client after the container exited and output was drained.
///
/// Client to monitor, **framed**: a client whose first five bytes are
/// [`ATTACH_HELLO`] `00 00 00 00` sends frames (same header) from then on:
/// [`ATTACH_STDIN`], [`ATTACH_RESIZE`], [`ATTACH_STDIN_CLOSE`],
/// [`ATTACH_DETACH`]. A framed client that sent stdin data (an empty
/// [`ATTACH_STDIN`] frame declares it) closes the container's stdin when it
/// disconnects, unless it sent [`ATTACH_DETACH`] first; other framed clients
/// (`attach --no-stdin`) come and go without touching stdin.
pub const ATTACH_HEADER_LEN: usize = 5;
/// First frame type of a framed client (payload empty).
pub const ATTACH_HELLO: u8 = 0xB7;
/// Framed client: payload goes to the container's stdin.
pub const ATTACH_STDIN: u8 = 0;
/// Framed client: 4-byte payload, rows then columns (big-endian u16), the
/// terminal's new window size.
pub const ATTACH_RESIZE: u8 = 3;
/// Framed client: close the container's stdin (end of input).
pub const ATTACH_STDIN_CLOSE: u8 = 4;
/// Framed client: it is detaching; its disconnect leaves stdin open.
pub const ATTACH_DETACH: u8 = 5;

/// Encode one attach frame header.
pub fn attach_header(stream: u8, len: u32) -> [u8; ATTACH_HEADER_LEN] {
    let l = len.to_be_bytes();
    [stream, l[0], l[1], l[2], l[3]]
}
