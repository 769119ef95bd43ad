//! `RUNTIME create`: pipes for the container's stdio, run the runtime, read
//! the init's pid.

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
const MAX_ERROR: usize = 16 * 1024;

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

/// Run `RUNTIME [args] --root R create --bundle B --pid-file P CID` and
/// return the created container, or the error text for the SyncMessage.
pub fn create(args: &Args) -> Result<Created, String> {
    let (stdout, out_w) = pipe(true).map_err(|e| format!("pipe: {e}"))?;
    let (stderr, err_w) = pipe(true).map_err(|e| format!("pipe: {e}"))?;
    let (stdin, in_r) = if args.stdin {
        let (w, r) = pipe(false).map_err(|e| format!("pipe: {e}"))?;
        (Some(w), r)
    } else {
        let null = rustix::fs::open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| format!("open /dev/null: {e}"))?;
        (None, null)
    };

    let mut words: Vec<&std::ffi::OsStr> = vec![args.runtime.as_os_str()];
    words.extend(args.runtime_args.iter().map(|a| a.as_os_str()));
    words.extend([
        "--root".as_ref(),
        args.runtime_root.as_os_str(),
        "create".as_ref(),
        "--bundle".as_ref(),
        args.bundle.as_os_str(),
        "--pid-file".as_ref(),
        args.pid_file.as_os_str(),
        args.cid.as_os_str(),
    ]);
    let argv =
        spawn::c_argv(&words).map_err(|_| "runtime argument contains a NUL byte".to_string())?;
    let runtime = spawn::spawn(&argv, [in_r.as_fd(), out_w.as_fd(), err_w.as_fd()])
        .map_err(|e| format!("spawn {:?}: {e}", args.runtime))?;
    // Only the runtime (and through it the container) may hold these ends;
    // our copies would keep the pipes from ever reporting EOF.
    drop((in_r, out_w, err_w));

    let mut early: Vec<(Stream, Vec<u8>)> = Vec::new();
    let status = wait_collecting(runtime, &stdout, &stderr, &mut early)
        .map_err(|e| format!("wait for runtime: {e}"))?;
    let code = spawn::exit_code(status);
    if code != 0 {
        let mut text = Vec::new();
        // stderr first: that is where runc reports errors.
        for want in [Stream::Stderr, Stream::Stdout] {
            for (s, d) in &early {
                if *s == want {
                    text.extend_from_slice(d);
                }
            }
        }
        let text = String::from_utf8_lossy(&text);
        let text = text.trim();
        return Err(if text.is_empty() {
            format!("runtime create failed with exit code {code}")
        } else {
            text.to_string()
        });
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
