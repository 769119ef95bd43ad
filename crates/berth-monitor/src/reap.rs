//! Waiting for the container init and reaping every child we inherit.
//!
//! As a child subreaper the monitor becomes the parent of the container init
//! once `runc create` exits, and of anything else orphaned below it. The
//! init's exit is seen through a pidfd (poll readability); other children
//! are noticed through a signalfd for SIGCHLD. Both lead to a
//! `waitpid(-1, WNOHANG)` sweep, so nothing stays a zombie and the init's
//! status is recorded whichever wakeup comes first.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, WaitOptions, WaitStatus};

/// Block SIGCHLD and return a nonblocking, CLOEXEC signalfd for it.
///
/// Blocked (not handled) so no handler runs at random points; children get
/// an empty mask again in [`crate::spawn`].
pub fn sigchld_fd() -> io::Result<OwnedFd> {
    // SAFETY: plain libc calls on a local sigset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Empty the signalfd (the siginfo contents are not needed: the sweep
/// finds every exited child anyway).
pub fn drain_signalfd(fd: &OwnedFd) {
    let mut buf = [0u8; 128 * 4];
    while let Ok(n) = rustix::io::read(fd, &mut buf) {
        if n == 0 {
            break;
        }
    }
}

/// A pidfd for the container init. `None` if it is already gone
/// (ESRCH): the sweep will then find its zombie, if it was ours.
pub fn open_pidfd(pid: Pid) -> Option<OwnedFd> {
    rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok()
}

/// Reap every exited child. Returns the status of `init` if it was among
/// them.
pub fn sweep(init: Pid) -> Option<WaitStatus> {
    let mut found = None;
    loop {
        // wait(), i.e. waitpid(-1): waitpid(None) would be pid 0, "same
        // process group", which the container init is not in.
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some((pid, status))) => {
                if pid == init {
                    found = Some(status);
                }
            }
            Err(Errno::INTR) => continue,
            // No exited child left (Ok(None)) or no children at all (ECHILD).
            _ => return found,
        }
    }
}

/// Reap every exited child, whoever it is (zombies left by the runtime).
pub fn sweep_all() {
    while let Ok(Some(_)) | Err(Errno::INTR) = rustix::process::wait(WaitOptions::NOHANG) {}
}

/// Where the container init stands.
#[derive(Debug, Clone, Copy)]
pub enum InitState {
    /// Still running.
    Running,
    /// Exited and reaped by us, with this status.
    Exited(WaitStatus),
    /// Gone, but it was not our child: its status is lost.
    Lost,
}

/// Reap what has exited and report on `init`. `known_exited`: its pidfd
/// polled readable, so it has exited even if it is not ours to reap.
pub fn init_state(init: Pid, known_exited: bool) -> InitState {
    if let Some(status) = sweep(init) {
        return InitState::Exited(status);
    }
    // Ask for the init by pid too, and keep what it returns: this reaps it.
    match rustix::process::waitpid(Some(init), WaitOptions::NOHANG) {
        Ok(Some((_, status))) => InitState::Exited(status),
        Err(Errno::CHILD) if known_exited || !pid_alive(init) => InitState::Lost,
        _ => InitState::Running,
    }
}

/// True if `pid` still exists (kill with signal 0).
fn pid_alive(pid: Pid) -> bool {
    // SAFETY: signal 0 only checks existence/permission.
    unsafe { libc::kill(pid.as_raw_nonzero().get(), 0) == 0 }
}

/// The container's memory cgroup directory, read from `/proc/PID/cgroup`
/// while the init is alive (cgroup v1 `memory` line, else the v2 line).
pub fn memory_cgroup(pid: Pid) -> Option<PathBuf> {
    let mut path = b"/proc/".to_vec();
    crate::sync::push_int(&mut path, pid.as_raw_nonzero().get() as i64);
    path.extend_from_slice(b"/cgroup");
    let text = std::fs::read_to_string(std::ffi::OsStr::from_bytes(&path)).ok()?;
    let mut v2 = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, rel) = (parts.next()?, parts.next()?, parts.next()?);
        let rel = rel.trim_start_matches('/');
        if ctrls.split(',').any(|c| c == "memory") {
            let dir = Path::new("/sys/fs/cgroup/memory").join(rel);
            if dir.is_dir() {
                return Some(dir);
            }
        } else if ctrls.is_empty() {
            v2 = Some(Path::new("/sys/fs/cgroup").join(rel));
        }
    }
    v2.filter(|d| d.join("memory.events").is_file())
}

/// True if the cgroup recorded an OOM kill (`oom_kill N` with N > 0 in
/// v1 `memory.oom_control` or v2 `memory.events`).
pub fn was_oom_killed(cgroup: &Path) -> bool {
    ["memory.oom_control", "memory.events"].iter().any(|f| {
        std::fs::read_to_string(cgroup.join(f)).is_ok_and(|t| {
            t.lines().any(|l| {
                l.strip_prefix("oom_kill ")
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    .unwrap_or(0)
                    > 0
            })
        })
    })
}
