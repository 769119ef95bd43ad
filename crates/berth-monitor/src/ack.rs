//! The engine's go-ahead after the report (`--ack-fd`).
//!
//! The engine records the container's new monitor and pid in its database
//! only after our report arrives. If it dies in between (a SIGKILLed
//! `berth run -d`), nobody knows this container exists: `rm -f` would remove
//! the record and leave us and the runtime's init running forever. So after
//! reporting we wait for one byte, which the engine writes once the record
//! is saved; EOF instead means the engine is gone, and we remove what we
//! created (RELIABILITY 2, the leak the soak found).

use std::os::unix::io::OwnedFd;
use std::path::Path;

use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::process::{Pid, Signal};

use crate::args::Args;
use crate::spawn;

/// How long to wait for the container's lock before removing anyway: a
/// holder never waits on an abandoned monitor, so this is only a backstop.
const LOCK_WAIT_MS: u32 = 30_000;

/// Block until the engine's go-ahead; true if it came (or none was asked
/// for), false if the engine went away first.
pub fn wait(ack: Option<OwnedFd>) -> bool {
    let Some(fd) = ack else {
        return true;
    };
    let mut byte = [0u8; 1];
    loop {
        match rustix::io::read(&fd, &mut byte) {
            Ok(1) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            _ => return false,
        }
    }
}

/// Kill the container's init (still unreaped, so its pid is ours), then
/// remove the container from the runtime unless another engine already
/// relaunched it under the same ID.
pub fn abandon_created(args: &Args, init: Pid) {
    let _ = rustix::process::kill_process(init, Signal::KILL);
    let _ = spawn::wait_for(init);
    let _lock = lock(&args.lock_file);
    // A relaunch removes the pid file before its runtime writes a new one,
    // under the lock we now hold: another pid there is not our container.
    if read_pid(&args.pid_file).is_some_and(|p| p != init.as_raw_nonzero().get()) {
        return;
    }
    let mut words: Vec<&std::ffi::OsStr> = vec![args.runtime.as_os_str()];
    words.extend(args.runtime_args.iter().map(|a| a.as_os_str()));
    words.extend([
        "--root".as_ref(),
        args.runtime_root.as_os_str(),
        "delete".as_ref(),
        "--force".as_ref(),
        args.cid.as_os_str(),
    ]);
    spawn::run_quietly(&words);
}

/// The pid a runtime pid file names, if it exists and parses.
fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Take the engine's flock on the container's lock file, waiting at most
/// [`LOCK_WAIT_MS`]. No file means the container was removed: nothing can
/// relaunch it, so no lock is needed.
fn lock(path: &Path) -> Option<OwnedFd> {
    if path.as_os_str().is_empty() {
        return None;
    }
    let fd = rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).ok()?;
    for _ in 0..LOCK_WAIT_MS / 10 {
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Some(fd),
            Err(rustix::io::Errno::WOULDBLOCK) | Err(rustix::io::Errno::INTR) => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(_) => return None,
        }
    }
    None
}
