//! Detaching from the engine: double fork, new session, child subreaper,
//! quiet stdio and no inherited fds.

use std::io;
use std::os::unix::io::{AsRawFd, RawFd};

/// Double fork so the monitor outlives the engine and can never reacquire a
/// controlling terminal (the grandchild is not a session leader).
///
/// The calling process exits 0 as soon as the first child has forked the
/// monitor and exited: the engine waits for that exit and then reads the
/// sync fd. Returns only in the grandchild, which is the monitor proper.
/// Must be called while the process is single-threaded (it always is:
/// berth-mon never starts threads).
pub fn detach() -> io::Result<()> {
    // SAFETY: single-threaded process; the child only continues ordinary
    // Rust code, the parent leaves with _exit (no destructors, no atexit).
    match unsafe { libc::fork() } {
        -1 => return Err(io::Error::last_os_error()),
        0 => {}
        child => unsafe {
            // The first child exits right after its own fork; reaping it
            // here (a millisecond) keeps it from lingering as a zombie
            // under an init that does not reap orphans.
            let mut status = 0;
            while libc::waitpid(child, &mut status, 0) < 0
                && *libc::__errno_location() == libc::EINTR
            {}
            libc::_exit(0)
        },
    }
    // The first child is still in the engine's session; a new session cuts
    // it off from the engine's terminal and job-control signals.
    rustix::process::setsid()?;
    match unsafe { libc::fork() } {
        -1 => {
            // The parent already reported success to the engine by exiting
            // 0; the caller turns this into an error SyncMessage.
            return Err(io::Error::last_os_error());
        }
        0 => {}
        _ => unsafe { libc::_exit(0) },
    }
    Ok(())
}

/// Set up the monitor's process environment after [`detach`]: child
/// subreaper (the container init reparents to us once `runc create`
/// exits), OOM-killer immunity, stdio on `/dev/null`, cwd `/`, and every fd
/// except those in `keep` (the sync fd, the attach listener) closed.
pub fn settle(keep: &[RawFd]) -> io::Result<()> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))?;
    // Best effort: lowering the score needs CAP_SYS_RESOURCE, and losing the
    // monitor to the OOM killer only loses the exit code, not the container.
    let _ = std::fs::write("/proc/self/oom_score_adj", b"-1000");
    let null = rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    for target in 0..3 {
        // dup2 clears CLOEXEC on the target, as stdio should be.
        if unsafe { libc::dup2(null.as_raw_fd(), target) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    drop(null);
    rustix::process::chdir("/")?;
    close_fds_except(keep);
    Ok(())
}

/// Close every fd >= 3 not in `keep`. Anything the engine's caller left
/// open (e.g. the pipe of a `$(berth run -d ...)` command substitution)
/// would otherwise be held for the container's whole life and hang the
/// caller.
pub fn close_fds_except(keep: &[RawFd]) {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|fd| **fd >= 3)
        .map(|fd| *fd as u32)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let close = |first: u32, last: u32| {
        if first > last {
            return;
        }
        // SAFETY: plain syscall; no Rust object owns these fds any more
        // (std's own fds are 0..2, and ours are opened after this point).
        let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
        if r != 0 {
            close_fds_slow(first, last);
        }
    };
    let mut first = 3u32;
    for &k in &keep {
        close(first, k - 1);
        first = k + 1;
    }
    close(first, u32::MAX);
}

/// Fallback for kernels without close_range (< 5.9): walk /proc/self/fd.
fn close_fds_slow(first: u32, last: u32) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    // Collect first: closing while iterating would close the dir's own fd.
    let fds: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| (first..=last).contains(fd))
        .collect();
    for fd in fds {
        unsafe { libc::close(fd as RawFd) };
    }
}
