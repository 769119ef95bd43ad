//! The detached monitor's life: (wait for an attach client,) create or run
//! the container, report, relay, reap, record the exit, run the exit command.

use std::io;
use std::os::unix::io::{AsFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use rustix::fs::{Mode, OFlags};

use crate::args::Args;
use crate::attach::AttachServer;
use crate::console::ConsoleSocket;
use crate::log::LogFile;
use crate::relay::Relay;
use crate::runmode::RunStart;
use crate::{create, reap, spawn, sync};

/// Code written when the init's status could not be collected (it was not
/// our child). Never produced for a container we created and reaped.
pub const UNKNOWN_EXIT: i32 = 255;

/// With `--attach-wait`, start the runtime anyway after this long without
/// an attach client.
pub const ATTACH_WAIT: Duration = Duration::from_secs(5);

/// Monitor the container described by `args`; `sync` is the engine's sync
/// fd, `ack` the fd of its go-ahead (see [`crate::ack`]), `attach` the
/// socket bound before detaching. Returns the monitor's own
/// exit code: 1 if the container could not be created (or, in run mode,
/// the runtime exited before writing the pid file), else 0.
pub fn supervise(args: &Args, sync: OwnedFd, ack: Option<OwnedFd>, attach: AttachServer) -> i32 {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let console_file = crate::console::console_path(&args.attach_socket);
    let fail = |attach: AttachServer, msg: String| {
        attach.shutdown();
        let _ = std::fs::remove_file(&console_file);
        reap::sweep_all();
        let _ = sync::write_all(sync.as_fd(), &sync::encode(0, me, Some(&msg)));
        1
    };

    // Everything that can fail without side effects comes before the
    // runtime, so a failure leaves no container behind.
    let log = match LogFile::for_args(args) {
        Ok(l) => l,
        Err(e) => return fail(attach, format!("open log {}: {e}", args.log_path.display())),
    };
    let sigfd = match reap::sigchld_fd() {
        Ok(fd) => fd,
        Err(e) => return fail(attach, format!("signalfd: {e}")),
    };
    let console = if args.terminal {
        match ConsoleSocket::bind(&console_file) {
            Ok(c) => Some(c),
            Err(e) => return fail(attach, format!("console socket: {e}")),
        }
    } else {
        None
    };
    let mut attach = attach;
    if args.attach_wait {
        // The client is accepted before the runtime starts, so it gets
        // every byte, even in run mode.
        attach.wait_for_client(ATTACH_WAIT);
    }

    // Exec mode is run mode with `runtime exec`: one foreground runtime
    // process whose exit status is the exec'd process's exit code.
    // A terminal needs the runtime detached (see `create::spawn_runtime`),
    // so with one, run and exec modes take create mode's path.
    if (args.run || args.exec) && !args.terminal {
        let running = match create::run(args) {
            Ok(r) => r,
            Err(msg) => return fail(attach, msg),
        };
        let mut relay = Relay::new(running.stdout, running.stderr, running.stdin, log, attach);
        relay.set_console(console, args.stdin);
        relay.start = Some(RunStart::new(sync, ack, me, &args.pid_file));
        let status = relay.run(running.runtime, running.pidfd, &sigfd);
        let code = status.map_or(UNKNOWN_EXIT, spawn::exit_code);
        let mut start = relay.start.take().expect("run mode state");
        if start.init.is_none() {
            // No pid file: the container never ran (as far as the engine
            // can tell). No exit file, so the engine sees a failed start.
            start.fail(code);
            let Relay { attach, .. } = relay;
            attach.shutdown();
            let _ = std::fs::remove_file(&console_file);
            reap::sweep_all();
            return 1;
        }
        if start.abandoned {
            // Killed because the engine never recorded it: nobody is
            // waiting for an exit file, and the exit command would act on
            // a record that does not describe this run.
            let Relay { attach, .. } = relay;
            attach.shutdown();
            let _ = std::fs::remove_file(&console_file);
            reap::sweep_all();
            return 0;
        }
        start.check_oom();
        finish(args, relay, code, start.oom);
        return 0;
    }

    let created = match create::create(args) {
        Ok(c) => c,
        Err(msg) => return fail(attach, msg),
    };

    let init_raw = created.init.as_raw_nonzero().get();
    let _ = sync::write_all(sync.as_fd(), &sync::encode(init_raw, me, None));
    drop(sync);
    if !crate::ack::wait(ack) {
        crate::ack::abandon_created(args, created.init);
        attach.shutdown();
        let _ = std::fs::remove_file(&console_file);
        reap::sweep_all();
        return 0;
    }

    let mut relay = Relay::new(created.stdout, created.stderr, created.stdin, log, attach);
    relay.set_console(console, args.stdin);
    for (stream, data) in &created.early {
        relay.output(*stream, data);
    }
    drop(created.early);
    // Startup is over: from here on only the relay loop's code is needed.
    crate::trim::trim_startup_pages();
    let status = relay.run(created.init, created.pidfd, &sigfd);
    let code = status.map_or(UNKNOWN_EXIT, spawn::exit_code);
    let oom = created.cgroup.as_deref().is_some_and(reap::was_oom_killed);
    finish(args, relay, code, oom);
    0
}

/// After the exit: OOM marker, exit file, close attach clients, exit
/// command.
fn finish(args: &Args, relay: Relay, code: i32, oom: bool) {
    // The OOM marker first: whoever sees the exit file may look for it.
    if let (true, Some(dir)) = (oom, args.exit_file.parent()) {
        let _ = std::fs::write(dir.join("oom"), b"");
    }
    let _ = write_exit_file(&args.exit_file, code);

    let Relay { attach, .. } = relay;
    attach.shutdown();
    reap::sweep_all();

    if !args.exit_cmd.is_empty() {
        run_exit_cmd(args);
    }
    reap::sweep_all();
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
    berth_types::fault::point("monitor-exit-file");
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

/// Run the `--exit-cmd` words and wait for them.
fn run_exit_cmd(args: &Args) {
    spawn::run_quietly(&args.exit_cmd);
}
