//! berth-mon, the per-container monitor (conmon's role for berth).
//!
//! The protocol with the engine is defined in `berth_types::monitor`. In
//! short: bind the attach socket, detach, run `RUNTIME create` (or, in run
//! mode, `RUNTIME run` in the foreground), report the init's pid on the sync
//! fd, relay output to the k8s-file log and attach clients, reap the init
//! (or the runtime), write the exit file, run the exit command.
//!
//! One monitor runs per container for the container's whole life, so the
//! crate avoids anything that costs resident memory: no async runtime, no
//! threads, no serde at runtime, hand-written JSON and timestamps.

#![warn(missing_docs)]

pub mod ack;
pub mod args;
pub mod attach;
pub mod console;
pub mod create;
pub mod detach;
pub mod log;
pub mod reap;
pub mod relay;
pub mod runmode;
pub mod spawn;
pub mod supervise;
pub mod sync;
pub mod trim;

use std::ffi::OsString;
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::io::FdFlags;

/// Run the monitor with `argv` (without the program name) and return the
/// process exit code. In the engine-facing process this returns 0 right
/// after detaching (see [`detach::detach`]); the detached monitor returns
/// when the container is gone and the exit command has run.
pub fn run<I: IntoIterator<Item = OsString>>(argv: I) -> i32 {
    let mut args = match args::parse(argv) {
        Ok(args::Parsed::Help) => {
            let _ = sync::write_all(stdout(), args::USAGE.as_bytes());
            return 0;
        }
        Ok(args::Parsed::Run(a)) => *a,
        Err(e) => {
            complain(&e.message);
            let _ = sync::write_all(stderr(), args::USAGE.as_bytes());
            if let Some(fd) = e.sync_fd.filter(|fd| fd_is_open(*fd)) {
                // SAFETY: the engine passed us this fd to use.
                let _ = report_error(unsafe { BorrowedFd::borrow_raw(fd) }, &e.message);
            }
            return 1;
        }
    };
    if !fd_is_open(args.sync_fd) || args.sync_fd < 3 {
        complain("--sync-fd is not an open fd >= 3");
        return 1;
    }
    // SAFETY: the engine handed this fd to us; nothing else in the process
    // owns it.
    let sync = unsafe { OwnedFd::from_raw_fd(args.sync_fd) };
    // Neither the runtime nor the container may inherit it: the engine
    // reads until EOF, which must come when *we* close it.
    let _ = rustix::io::fcntl_setfd(&sync, FdFlags::CLOEXEC);
    let ack = match args.ack_fd {
        Some(fd) if fd >= 3 && fd != args.sync_fd && fd_is_open(fd) => {
            // SAFETY: as for the sync fd.
            let ack = unsafe { OwnedFd::from_raw_fd(fd) };
            let _ = rustix::io::fcntl_setfd(&ack, FdFlags::CLOEXEC);
            Some(ack)
        }
        Some(_) => {
            return fail(
                &sync,
                "--ack-fd is not an open fd >= 3 apart from --sync-fd",
            )
        }
        None => None,
    };
    if let Err(e) = args.absolutize() {
        return fail(&sync, &format!("current directory: {e}"));
    }
    // Bound before detaching: the socket file exists by the time the engine
    // has reaped this process, so it may connect right away (the connection
    // waits in the listen backlog until the monitor accepts it).
    let attach = match attach::AttachServer::bind(&args.attach_socket) {
        Ok(a) => a,
        Err(e) => {
            let path = args.attach_socket.display();
            return fail(&sync, &format!("attach socket {path}: {e}"));
        }
    };
    if let Err(e) = detach::detach() {
        attach.shutdown();
        return fail(&sync, &format!("detach: {e}"));
    }
    // From here on we are the detached monitor.
    let keep = [
        args.sync_fd,
        attach.listener().as_raw_fd(),
        args.ack_fd.unwrap_or(-1),
    ];
    if let Err(e) = detach::settle(&keep) {
        attach.shutdown();
        return fail(&sync, &format!("setup: {e}"));
    }
    supervise::supervise(&args, sync, ack, attach)
}

/// Print `berth-mon: MSG` on stderr.
fn complain(msg: &str) {
    let mut line = b"berth-mon: ".to_vec();
    line.extend_from_slice(msg.as_bytes());
    line.push(b'\n');
    let _ = sync::write_all(stderr(), &line);
}

/// Report `msg` on the sync fd and return exit code 1.
fn fail(sync: &OwnedFd, msg: &str) -> i32 {
    complain(msg);
    let _ = report_error(sync.as_fd(), msg);
    1
}

/// Write an error SyncMessage (pid 0).
fn report_error(fd: BorrowedFd<'_>, msg: &str) -> rustix::io::Result<()> {
    let pid = rustix::process::getpid().as_raw_nonzero().get();
    sync::write_all(fd, &sync::encode(0, pid, Some(msg)))
}

/// True if `fd` is an open descriptor.
fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table.
    fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0
}

fn stdout() -> BorrowedFd<'static> {
    // SAFETY: fd 1 stays open for the life of the process (at worst on
    // /dev/null after detaching).
    unsafe { BorrowedFd::borrow_raw(1) }
}

fn stderr() -> BorrowedFd<'static> {
    // SAFETY: as for stdout.
    unsafe { BorrowedFd::borrow_raw(2) }
}
