//! fork + exec of the runtime and the exit command.
//!
//! Hand-rolled instead of `std::process::Command` so the child gets exactly
//! the fds we choose as stdio, a clean signal state (the monitor blocks
//! SIGCHLD and std ignores SIGPIPE; both are inherited across exec), and so
//! the monitor stays in charge of reaping: a `Child` handle would compete
//! with the `waitpid(-1)` loop that collects reparented zombies.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsRawFd, BorrowedFd};

use rustix::process::{Pid, WaitOptions, WaitStatus};

/// Turn argv words into C strings (fails on interior NUL bytes).
pub fn c_argv<S: AsRef<OsStr>>(words: &[S]) -> io::Result<Vec<CString>> {
    words
        .iter()
        .map(|w| {
            CString::new(w.as_ref().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput.into())
        })
        .collect()
}

/// Start `argv` (looked up in `PATH` when `argv[0]` has no `/`) with the
/// given fds as stdin/stdout/stderr. Every other fd of the monitor is
/// CLOEXEC, so the child sees only these three.
pub fn spawn(argv: &[CString], stdio: [BorrowedFd<'_>; 3]) -> io::Result<Pid> {
    if argv.is_empty() {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    // Build everything that allocates before forking.
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let fds = stdio.map(|f| f.as_raw_fd());

    // SAFETY: the monitor is single-threaded, so the child may run normal
    // code; it still only makes async-signal-safe calls before exec.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        unsafe { exec_child(&ptrs, fds) }
    }
    Ok(Pid::from_raw(pid).expect("fork returned a positive pid"))
}

/// The child half of [`spawn`]; never returns.
unsafe fn exec_child(argv: &[*const libc::c_char], fds: [i32; 3]) -> ! {
    // Move the sources out of 0..2 first if they collide with a lower
    // target (e.g. stdout's source being fd 0 would be clobbered by the
    // stdin dup2). dup without CLOEXEC lands at >= 3 here.
    let mut fds = fds;
    for f in fds.iter_mut() {
        if *f < 3 {
            let d = libc::fcntl(*f, libc::F_DUPFD_CLOEXEC, 3);
            if d >= 0 {
                *f = d;
            }
        }
    }
    for (target, &src) in fds.iter().enumerate() {
        if libc::dup2(src, target as i32) < 0 {
            libc::_exit(127);
        }
    }
    let mut set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut set);
    libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    libc::execvp(argv[0], argv.as_ptr());
    // Tell whoever reads our stderr (for the runtime: the error message the
    // engine gets) why nothing ran.
    let errno = *libc::__errno_location();
    let mut msg = b"berth-mon: exec ".to_vec();
    msg.extend_from_slice(std::ffi::CStr::from_ptr(argv[0]).to_bytes());
    msg.extend_from_slice(b" failed: errno ");
    crate::sync::push_int(&mut msg, errno as i64);
    msg.push(b'\n');
    libc::write(2, msg.as_ptr().cast(), msg.len());
    libc::_exit(127)
}

/// Block until `pid` (a child of ours) exits and return its status.
pub fn wait_for(pid: Pid) -> io::Result<WaitStatus> {
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => return Ok(status),
            Ok(None) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Run `words` with stdio on /dev/null and wait for it; best effort (the
/// exit command, the runtime's `delete`).
pub fn run_quietly<S: AsRef<OsStr>>(words: &[S]) {
    use rustix::fs::{Mode, OFlags};
    use std::os::unix::io::AsFd;
    let Ok(argv) = c_argv(words) else {
        return;
    };
    let Ok(null) = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
    else {
        return;
    };
    if let Ok(pid) = spawn(&argv, [null.as_fd(), null.as_fd(), null.as_fd()]) {
        let _ = wait_for(pid);
    }
}

/// Shell-style exit code: the exit status, or 128 + signal number.
pub fn exit_code(status: WaitStatus) -> i32 {
    if let Some(code) = status.exit_status() {
        code
    } else if let Some(sig) = status.terminating_signal() {
        128 + sig
    } else {
        // Stopped/continued statuses are never asked for (no WUNTRACED).
        255
    }
}
