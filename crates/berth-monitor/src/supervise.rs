//! The detached monitor's life: create the container, report, relay, reap,
//! record the exit, run the exit command.

use std::io;
use std::os::unix::io::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use crate::args::Args;
use crate::attach::AttachServer;
use crate::log::LogFile;
use crate::relay::Relay;
use crate::{create, reap, spawn, sync};

/// Code written when the init's status could not be collected (it was not
/// our child). Never produced for a container we created and reaped.
pub const UNKNOWN_EXIT: i32 = 255;

/// Monitor the container described by `args`; `sync` is the engine's sync
/// fd. Returns the monitor's own exit code: 1 if the container could not be
/// created, else 0.
pub fn supervise(args: &Args, sync: OwnedFd) -> i32 {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let fail = |msg: String| {
        let _ = sync::write_all(sync.as_fd(), &sync::encode(0, me, Some(&msg)));
        1
    };

    // Everything that can fail without side effects comes before `create`,
    // so a failure leaves no container behind.
    let log = match LogFile::open(&args.log_path) {
        Ok(l) => l,
        Err(e) => return fail(format!("open log {}: {e}", args.log_path.display())),
    };
    let sigfd = match reap::sigchld_fd() {
        Ok(fd) => fd,
        Err(e) => return fail(format!("signalfd: {e}")),
    };
    // The socket exists before the engine hears the pid, so a client can
    // connect before `start` and miss nothing.
    let attach = match AttachServer::bind(&args.attach_socket) {
        Ok(a) => a,
        Err(e) => {
            return fail(format!(
                "attach socket {}: {e}",
                args.attach_socket.display()
            ))
        }
    };
    let created = match create::create(args) {
        Ok(c) => c,
        Err(msg) => {
            attach.shutdown();
            reap::sweep_all();
            return fail(msg);
        }
    };

    let init_raw = created.init.as_raw_nonzero().get();
    let _ = sync::write_all(sync.as_fd(), &sync::encode(init_raw, me, None));
    drop(sync);

    let mut relay = Relay::new(created.stdout, created.stderr, created.stdin, log, attach);
    for (stream, data) in &created.early {
        relay.output(*stream, data);
    }
    drop(created.early);
    // Startup is over: from here on only the relay loop's code is needed.
    crate::trim::trim_startup_pages();
    let status = relay.run(created.init, created.pidfd, &sigfd);
    let code = status.map_or(UNKNOWN_EXIT, spawn::exit_code);

    // The OOM marker first: whoever sees the exit file may look for it.
    if let (Some(cg), Some(dir)) = (&created.cgroup, args.exit_file.parent()) {
        if reap::was_oom_killed(cg) {
            let _ = std::fs::write(dir.join("oom"), b"");
        }
    }
    let _ = write_exit_file(&args.exit_file, code);

    let Relay { attach, .. } = relay;
    attach.shutdown();
    reap::sweep_all();

    if !args.exit_cmd.is_empty() {
        run_exit_cmd(args);
    }
    reap::sweep_all();
    0
}

/// Write `code` to `path` atomically: `PATH.tmp`, fsync, rename, fsync dir.
pub fn write_exit_file(path: &Path, code: i32) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let fd = rustix::fs::open(
        tmp.as_os_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    let mut text = Vec::new();
    sync::push_int(&mut text, code as i64);
    sync::write_all(fd.as_fd(), &text)?;
    rustix::fs::fsync(&fd)?;
    drop(fd);
    rustix::fs::rename(tmp.as_os_str(), path)?;
    // Make the rename itself durable; best effort.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("/"));
    if let Ok(d) = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        let _ = rustix::fs::fsync(&d);
    }
    Ok(())
}

/// Run the `--exit-cmd` words with stdio on /dev/null and wait for them.
fn run_exit_cmd(args: &Args) {
    let Ok(argv) = spawn::c_argv(&args.exit_cmd) else {
        return;
    };
    let Ok(null) = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
    else {
        return;
    };
    if let Ok(pid) = spawn::spawn(&argv, [null.as_fd(), null.as_fd(), null.as_fd()]) {
        let _ = spawn::wait_for(pid);
    }
}
