//! Starting a container under `berth-mon` and the sync-pipe handshake.
//!
//! The engine never creates a container with the runtime directly: the
//! monitor does, so that the monitor is the parent (subreaper) of the
//! container's init and can collect its exit code after the CLI is gone.

use crate::runc::runtime_error;
use crate::OciRuntime;
use berth_types::monitor::SyncMessage;
use berth_types::{Error, ErrorKind, Result};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Everything the monitor needs to create one container.
#[derive(Debug, Clone)]
pub struct MonitorRequest {
    /// Path of the `berth-mon` binary.
    pub monitor_binary: PathBuf,
    /// The container's full ID (also the runtime's ID).
    pub container_id: String,
    /// The OCI bundle directory holding `config.json`.
    pub bundle: PathBuf,
    /// Where the runtime writes the init's pid.
    pub pid_file: PathBuf,
    /// Where the monitor writes the exit code.
    pub exit_file: PathBuf,
    /// The k8s-file log.
    pub log_path: PathBuf,
    /// The monitor's attach socket.
    pub attach_socket: PathBuf,
    /// Keep the container's stdin open as a pipe fed by attach clients.
    pub stdin: bool,
    /// Run mode: one foreground `runtime run` creates, starts, waits for and
    /// deletes the container (no separate start and delete execs).
    pub run: bool,
    /// Start the runtime only once the first attach client connected.
    pub attach_wait: bool,
    /// The command the monitor runs after the container exited.
    pub exit_command: Vec<String>,
    /// Exec mode: run this process (an OCI `process.json`) in the existing
    /// container with `runtime exec` instead of creating one.
    pub exec_process: Option<PathBuf>,
}

/// Monitor settings beyond [`MonitorRequest`] (kept apart so existing
/// request literals stay valid): log driver and rotation. The terminal is
/// not here: it follows the bundle's `process.terminal`, which is what
/// makes the runtime need a console socket.
#[derive(Debug, Clone, Default)]
pub struct MonitorOptions {
    /// `k8s-file` (also when empty), `json-file` or `none`.
    pub log_driver: String,
    /// Rotate at this many bytes (0: never).
    pub log_max_size: u64,
    /// Files kept, the live one included (0 means 1).
    pub log_max_file: u32,
    /// Global runtime arguments (before the verb), e.g. `--criu PATH`.
    pub runtime_args: Vec<String>,
    /// Restore mode: `runtime restore` with these arguments instead of
    /// `runtime create` (see `berth_types::checkpoint`).
    pub restore_args: Option<Vec<String>>,
    /// Make the monitor wait, after its report, for [`MonitorAck::confirm`]
    /// (sent once the engine has recorded the container), and remove the
    /// container itself if the engine goes away first. The path is the
    /// container's lock file, which the monitor takes for that removal.
    pub ack_lock_file: Option<PathBuf>,
}

/// The engine's go-ahead to a monitor started with
/// [`MonitorOptions::ack_lock_file`]. Dropping it unconfirmed (or dying)
/// tells the monitor that nobody recorded its container.
#[derive(Debug)]
pub struct MonitorAck(OwnedFd);

impl MonitorAck {
    /// Tell the monitor its container is recorded. A monitor already gone
    /// needs no answer, so errors are ignored.
    pub fn confirm(self) {
        let _ = rustix::io::write(&self.0, b"1");
    }
}

/// Whether the process the monitor will start asks for a terminal: the
/// exec `process.json`, or the bundle's `config.json`.
fn wants_terminal(req: &MonitorRequest) -> bool {
    let (file, pointer) = match &req.exec_process {
        Some(p) => (p.clone(), "/terminal"),
        None => (req.bundle.join("config.json"), "/process/terminal"),
    };
    let Ok(text) = std::fs::read(file) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.pointer(pointer).and_then(|t| t.as_bool()))
        .unwrap_or(false)
}

/// The sync fd number the monitor is told about.
const SYNC_FD: i32 = 3;
/// The ack fd number (see [`MonitorAck`]).
const ACK_FD: i32 = 4;

/// A monitor that has detached and is creating (or running) the container.
pub struct PendingMonitor {
    sync: OwnedFd,
    /// The write end of the go-ahead pipe, if the monitor waits for one.
    ack: Option<OwnedFd>,
    container_id: String,
    runtime_name: String,
    /// The runtime verb errors are reported under (`start`, `exec`).
    verb: &'static str,
    detach_status: std::process::ExitStatus,
}

impl PendingMonitor {
    /// Wait for the monitor's report: the container's pid, or the runtime's
    /// error. With `attach_wait`, connect the attach client first.
    pub fn wait_ready(self) -> Result<SyncMessage> {
        let (msg, ack) = self.wait_ready_held()?;
        if let Some(ack) = ack {
            ack.confirm();
        }
        Ok(msg)
    }

    /// [`Self::wait_ready`], keeping the monitor waiting for its go-ahead:
    /// the caller confirms the returned ack once its record is saved.
    pub fn wait_ready_held(mut self) -> Result<(SyncMessage, Option<MonitorAck>)> {
        let ack = self.ack.take().map(MonitorAck);
        let id = &self.container_id;
        let text = read_all(self.sync)?;
        if text.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::Runtime,
                format!(
                    "monitor for container {} exited ({}) without reporting",
                    short(id),
                    self.detach_status
                ),
            )
            .with_subject(id));
        }
        let msg: SyncMessage = serde_json::from_str(text.trim()).map_err(|e| {
            Error::internal(format!(
                "monitor for container {} sent a bad message {text:?}: {e}",
                short(id)
            ))
        })?;
        if let Some(err) = &msg.error {
            return Err(runtime_error(&self.runtime_name, self.verb, id, err));
        }
        Ok((msg, ack))
    }
}

/// Start the monitor for `req`, wait for it to create the container with
/// `runtime`, and return what it reported (the container's pid).
pub fn spawn_monitor(runtime: &dyn OciRuntime, req: &MonitorRequest) -> Result<SyncMessage> {
    start_monitor(runtime, req)?.wait_ready()
}

/// Start the monitor for `req` and return once it has detached (its attach
/// socket exists then); [`PendingMonitor::wait_ready`] collects its report.
pub fn start_monitor(runtime: &dyn OciRuntime, req: &MonitorRequest) -> Result<PendingMonitor> {
    start_monitor_with(runtime, req, &MonitorOptions::default())
}

/// [`start_monitor`] with log driver and rotation settings.
pub fn start_monitor_with(
    runtime: &dyn OciRuntime,
    req: &MonitorRequest,
    opts: &MonitorOptions,
) -> Result<PendingMonitor> {
    let (read_end, write_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Error::io("creating the monitor sync pipe", e.into()))?;
    let mut cmd = Command::new(&req.monitor_binary);
    cmd.arg("--cid")
        .arg(&req.container_id)
        .arg("--bundle")
        .arg(&req.bundle)
        .arg("--runtime")
        .arg(runtime.path())
        .arg("--runtime-root")
        .arg(runtime.state_root())
        .arg("--pid-file")
        .arg(&req.pid_file)
        .arg("--exit-file")
        .arg(&req.exit_file)
        .arg("--log-path")
        .arg(&req.log_path)
        .arg("--attach-socket")
        .arg(&req.attach_socket)
        .arg("--sync-fd")
        .arg(SYNC_FD.to_string());
    if req.stdin {
        cmd.arg("--stdin");
    }
    if req.run {
        cmd.arg("--run");
    }
    if req.attach_wait {
        cmd.arg("--attach-wait");
    }
    if let Some(process) = &req.exec_process {
        cmd.arg(berth_types::exec::MONITOR_EXEC_FLAG)
            .arg(berth_types::exec::MONITOR_PROCESS_FLAG)
            .arg(process);
    }
    if wants_terminal(req) {
        cmd.arg("--terminal");
    }
    if !opts.log_driver.is_empty() && opts.log_driver != "k8s-file" {
        cmd.arg("--log-driver").arg(&opts.log_driver);
    }
    if opts.log_max_size > 0 {
        cmd.arg("--log-max-size")
            .arg(opts.log_max_size.to_string())
            .arg("--log-max-file")
            .arg(opts.log_max_file.max(1).to_string());
    }
    for arg in &opts.runtime_args {
        cmd.arg("--runtime-arg").arg(arg);
    }
    if let Some(restore) = &opts.restore_args {
        cmd.arg(berth_types::checkpoint::MONITOR_RESTORE_FLAG);
        for arg in restore {
            cmd.arg(berth_types::checkpoint::MONITOR_RESTORE_ARG_FLAG)
                .arg(arg);
        }
    }
    for word in &req.exit_command {
        cmd.arg("--exit-cmd").arg(word);
    }
    let ack = match &opts.ack_lock_file {
        Some(lock_file) => {
            cmd.arg("--ack-fd")
                .arg(ACK_FD.to_string())
                .arg("--lock-file")
                .arg(lock_file);
            Some(
                rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                    .map_err(|e| Error::io("creating the monitor ack pipe", e.into()))?,
            )
        }
        None => None,
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let raw = write_end.as_raw_fd();
    let ack_raw = ack.as_ref().map_or(-1, |(read, _)| read.as_raw_fd());
    // SAFETY: between fork and exec only async-signal-safe calls are made
    // (fcntl/dup2), touching no memory shared with other threads.
    unsafe {
        cmd.pre_exec(move || place_fds(&[(raw, SYNC_FD), (ack_raw, ACK_FD)]));
    }
    let mut child = cmd.spawn().map_err(|e| {
        Error::io(
            format!("starting monitor {}", req.monitor_binary.display()),
            e,
        )
    })?;
    // Our copy of the write end must go, or the read below never sees EOF;
    // likewise the ack pipe's read end, or the monitor never sees ours close.
    drop(write_end);
    let ack = ack.map(|(read, write)| {
        drop(read);
        write
    });
    // The first monitor process exits as soon as it has detached.
    let detach_status = child
        .wait()
        .map_err(|e| Error::io("waiting for the monitor to detach", e))?;
    Ok(PendingMonitor {
        sync: read_end,
        ack,
        container_id: req.container_id.clone(),
        runtime_name: runtime.name().to_string(),
        verb: if req.exec_process.is_some() {
            "exec"
        } else if opts.restore_args.is_some() {
            "restore"
        } else {
            "start"
        },
        detach_status,
    })
}

/// In the forked child: put each `(source, target)` fd at its target
/// without CLOEXEC (sources < 0 are skipped). Sources first move above every
/// target, so a source sitting on another pair's target is not clobbered.
fn place_fds(pairs: &[(i32, i32)]) -> std::io::Result<()> {
    let mut moved = [-1i32; 2];
    for (i, (src, _)) in pairs.iter().enumerate().take(moved.len()) {
        if *src >= 0 {
            // SAFETY: fcntl on an fd we own in this child.
            moved[i] = unsafe { libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, 10) };
            if moved[i] < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    for (i, (_, target)) in pairs.iter().enumerate().take(moved.len()) {
        // dup2 clears CLOEXEC on the target.
        if moved[i] >= 0 && unsafe { libc::dup2(moved[i], *target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn short(id: &str) -> &str {
    berth_types::id::short_id(id)
}

fn read_all(fd: OwnedFd) -> Result<String> {
    let mut file = std::fs::File::from(fd);
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| Error::io("reading the monitor sync pipe", e))?;
    Ok(text)
}
