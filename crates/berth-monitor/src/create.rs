//! Starting the runtime: pipes for the container's stdio, then `RUNTIME
//! create` (wait for it, read the init's pid) or, in run mode, `RUNTIME run`
//! (left running; see [`crate::runmode`]).

use std::os::unix::io::{AsFd, OwnedFd};
use std::path::PathBuf;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::pipe::PipeFlags;
use rustix::process::Pid;

use crate::args::Args;
use crate::log::Stream;
use crate::relay::CHUNK;
use crate::{reap, spawn};

/// Keep at most this much runtime output for the error message.
pub const MAX_ERROR: usize = 16 * 1024;

/// A created (not yet started) container.
pub struct Created {
    /// Host pid of the container init.
    pub init: Pid,
    /// Its pidfd; `None` if it was already gone.
    pub pidfd: Option<OwnedFd>,
    /// Our read end of its stdout (nonblocking).
    pub stdout: OwnedFd,
    /// Our read end of its stderr (nonblocking).
    pub stderr: OwnedFd,
    /// Our write end of its stdin (nonblocking), with `--stdin`.
    pub stdin: Option<OwnedFd>,
    /// Output that arrived while the runtime ran (runtime warnings).
    pub early: Vec<(Stream, Vec<u8>)>,
    /// The init's memory cgroup, for the OOM check after the exit.
    pub cgroup: Option<PathBuf>,
}

/// A pipe whose monitor-side end `ours` is nonblocking. Only our end:
/// pipe2(O_NONBLOCK) would make the container's end nonblocking too, and
/// programs do not expect EAGAIN on their stdio.
fn pipe(ours_is_read: bool) -> std::io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
    let (ours, theirs) = if ours_is_read { (r, w) } else { (w, r) };
    rustix::fs::fcntl_setfl(&ours, OFlags::NONBLOCK)?;
    Ok((ours, theirs))
}

/// The container's stdio: our nonblocking ends and the runtime's ends.
struct Stdio {
    stdout: OwnedFd,
    stderr: OwnedFd,
    stdin: Option<OwnedFd>,
    /// stdin, stdout, stderr as the runtime (and container) gets them.
    theirs: [OwnedFd; 3],
}

fn stdio(args: &Args) -> Result<Stdio, String> {
    let (stdout, out_w) = pipe(true).map_err(|e| format!("pipe: {e}"))?;
    let (stderr, err_w) = pipe(true).map_err(|e| format!("pipe: {e}"))?;
    // With a terminal the container's stdin is the pty, reached through
    // the master; the runtime itself reads nothing.
    let (stdin, in_r) = if args.stdin && !args.terminal {
        let (w, r) = pipe(false).map_err(|e| format!("pipe: {e}"))?;
        (Some(w), r)
    } else {
        let null = rustix::fs::open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| format!("open /dev/null: {e}"))?;
        (None, null)
    };
    Ok(Stdio {
        stdout,
        stderr,
        stdin,
        theirs: [in_r, out_w, err_w],
    })
}

/// Start `RUNTIME [args] --root R VERB --bundle B --pid-file P CID` (in
/// exec mode `RUNTIME [args] --root R exec --process F --pid-file P CID`) on
/// `theirs` as stdio, then close our copies of those ends: only the runtime
/// (and through it the container) may hold them, or the pipes would never
/// report EOF.
fn spawn_runtime(args: &Args, verb: &str, theirs: [OwnedFd; 3]) -> Result<Pid, String> {
    let mut words: Vec<&std::ffi::OsStr> = vec![args.runtime.as_os_str()];
    words.extend(args.runtime_args.iter().map(|a| a.as_os_str()));
    let (verb, input_flag, input) = if args.exec {
        ("exec", "--process", args.process.as_os_str())
    } else {
        (verb, "--bundle", args.bundle.as_os_str())
    };
    words.extend([
        "--root".as_ref(),
        args.runtime_root.as_os_str(),
        verb.as_ref(),
        input_flag.as_ref(),
        input,
        "--pid-file".as_ref(),
        args.pid_file.as_os_str(),
    ]);
    if verb == "restore" {
        // Detached: the runtime exits once the process is restored, which
        // is then ours to supervise as after `create` + `start`.
        words.push("--detach".as_ref());
        words.extend(args.restore_args.iter().map(|a| a.as_os_str()));
    }
    let console = crate::console::console_path(&args.attach_socket);
    if args.terminal {
        words.extend(["--console-socket".as_ref(), console.as_os_str()]);
        if verb != "create" && verb != "restore" {
            // A foreground runtime with a terminal relays the pty on its
            // own stdio and refuses a console socket; detached, it hands
            // us the master and exits, and we reap the process ourselves
            // (create mode's way).
            words.push("--detach".as_ref());
        }
    }
    words.push(args.cid.as_os_str());
    let argv =
        spawn::c_argv(&words).map_err(|_| "runtime argument contains a NUL byte".to_string())?;
    let [a, b, c] = &theirs;
    spawn::spawn(&argv, [a.as_fd(), b.as_fd(), c.as_fd()])
        .map_err(|e| format!("spawn {:?}: {e}", args.runtime))
}

/// The error text for a runtime that failed with exit code `code`: its
/// output (stderr first: that is where runc reports errors), else a generic
/// message naming `verb`.
pub fn error_text(early: &[(Stream, Vec<u8>)], verb: &str, code: i32) -> String {
    let mut text = Vec::new();
    for want in [Stream::Stderr, Stream::Stdout] {
        for (s, d) in early {
            if *s == want {
                text.extend_from_slice(d);
            }
        }
    }
    let text = String::from_utf8_lossy(&text);
    let text = text.trim();
    if text.is_empty() {
        format!("runtime {verb} failed with exit code {code}")
    } else {
        text.to_string()
    }
}

/// Run `RUNTIME [args] --root R create --bundle B --pid-file P CID` (in
/// restore mode `restore --bundle B --pid-file P --detach ARGS... CID`) and
/// return the created (or restored) container, or the error text for the
/// SyncMessage.
pub fn create(args: &Args) -> Result<Created, String> {
    let Stdio {
        stdout,
        stderr,
        stdin,
        theirs,
    } = stdio(args)?;
    // With a terminal, run and exec modes come here too, detached.
    let verb = match (args.run, args.restore) {
        (true, _) => "run",
        (_, true) => "restore",
        _ => "create",
    };
    if verb != "create" || args.exec {
        match rustix::fs::unlink(&args.pid_file) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(format!("remove {}: {e}", args.pid_file.display())),
        }
    }
    let runtime = spawn_runtime(args, verb, theirs)?;

    let mut early: Vec<(Stream, Vec<u8>)> = Vec::new();
    let status = wait_collecting(runtime, &stdout, &stderr, &mut early)
        .map_err(|e| format!("wait for runtime: {e}"))?;
    let code = spawn::exit_code(status);
    if code != 0 {
        return Err(error_text(&early, verb, code));
    }

    let pid_text = std::fs::read_to_string(&args.pid_file)
        .map_err(|e| format!("read pid file {}: {e}", args.pid_file.display()))?;
    let init = pid_text
        .trim()
        .parse::<i32>()
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| format!("bad pid file content {:?}", pid_text.trim()))?;
    let pidfd = reap::open_pidfd(init);
    let cgroup = reap::memory_cgroup(init);
    Ok(Created {
        init,
        pidfd,
        stdout,
        stderr,
        stdin,
        early,
        cgroup,
    })
}

/// Wait for the runtime while reading the pipes, so a chatty runtime can
/// never fill a pipe and deadlock against us.
fn wait_collecting(
    runtime: Pid,
    stdout: &OwnedFd,
    stderr: &OwnedFd,
    early: &mut Vec<(Stream, Vec<u8>)>,
) -> std::io::Result<rustix::process::WaitStatus> {
    let Some(pidfd) = reap::open_pidfd(runtime) else {
        return spawn::wait_for(runtime);
    };
    let mut buf = [0u8; CHUNK];
    let mut kept = 0usize;
    let mut open = [true, true];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: raw(&pidfd),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: raw(stdout),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: raw(stderr),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        for (i, o) in open.iter().enumerate() {
            if !o {
                fds[i + 1].fd = -1; // poll ignores negative fds
            }
        }
        // SAFETY: a valid local array.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 3, -1) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let exited = fds[0].revents != 0;
        for (i, (fd, stream)) in [(stdout, Stream::Stdout), (stderr, Stream::Stderr)]
            .into_iter()
            .enumerate()
        {
            // After the exit, read whatever is left; the container init
            // still holds the write ends, so there is no EOF to wait for.
            while open[i] && (fds[i + 1].revents != 0 || exited) {
                match rustix::io::read(fd, &mut buf) {
                    Ok(0) => open[i] = false,
                    Ok(n) => {
                        if kept < MAX_ERROR {
                            kept += n;
                            early.push((stream, buf[..n].to_vec()));
                        }
                        if !exited {
                            break;
                        }
                    }
                    Err(Errno::INTR) => {}
                    Err(_) => break,
                }
            }
        }
        if exited {
            return spawn::wait_for(runtime);
        }
    }
}

fn raw(fd: &OwnedFd) -> i32 {
    std::os::unix::io::AsRawFd::as_raw_fd(fd)
}

/// A `RUNTIME run` in the foreground (run mode).
pub struct Running {
    /// The runtime process, our child: its exit status is the container's
    /// exit code.
    pub runtime: Pid,
    /// Its pidfd; `None` if it was already gone.
    pub pidfd: Option<OwnedFd>,
    /// Our read end of the container's stdout (nonblocking).
    pub stdout: OwnedFd,
    /// Our read end of its stderr (nonblocking).
    pub stderr: OwnedFd,
    /// Our write end of its stdin (nonblocking), with `--stdin`.
    pub stdin: Option<OwnedFd>,
}

/// Start `RUNTIME [args] --root R run --bundle B --pid-file P CID` (or, in
/// exec mode, `exec --process F` instead of `run --bundle B`); the
/// caller relays its output and waits for the pid file
/// ([`crate::runmode::RunStart`]).
pub fn run(args: &Args) -> Result<Running, String> {
    // A stale pid file would be taken for this container's.
    match rustix::fs::unlink(&args.pid_file) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(e) => return Err(format!("remove {}: {e}", args.pid_file.display())),
    }
    let Stdio {
        stdout,
        stderr,
        stdin,
        theirs,
    } = stdio(args)?;
    let runtime = spawn_runtime(args, "run", theirs)?;
    Ok(Running {
        runtime,
        pidfd: reap::open_pidfd(runtime),
        stdout,
        stderr,
        stdin,
    })
}
