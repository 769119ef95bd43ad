//! Run mode's startup: `RUNTIME run` is the monitor's child and runs in the
//! foreground, so the init's pid is not known when the runtime returns but
//! when its pid file appears. [`RunStart`] rides along in the relay loop
//! (output must flow meanwhile: the container may already be writing)
//! until then, sends the sync message, and afterwards watches the init for
//! the OOM check.
//!
//! The pid file is looked for on every loop turn, on inotify events for its
//! directory (runc writes it as a temp file renamed into place), and at
//! least every [`BACKSTOP`] (every millisecond if inotify is unavailable).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::event::EventfdFlags;
use rustix::fs::{Mode, OFlags};
use rustix::process::Pid;

use crate::create::MAX_ERROR;
use crate::log::Stream;
use crate::{reap, sync};

/// Poll timeout while waiting for the pid file with inotify: a backstop
/// for filesystems that do not report events.
const BACKSTOP_MS: i32 = 50;
/// Poll timeout while waiting for the pid file without inotify.
const NO_INOTIFY_MS: i32 = 1;

/// Startup state of run mode.
pub struct RunStart {
    /// The engine's sync fd; `None` once the message went out.
    sync: Option<OwnedFd>,
    /// The engine's go-ahead fd (see [`crate::ack`]), until it was read.
    ack: Option<OwnedFd>,
    /// The engine went away before recording this run: the init was
    /// killed, and no exit is to be recorded.
    pub abandoned: bool,
    /// Our own pid, for the message.
    me: i32,
    pid_file: PathBuf,
    /// inotify watching the pid file's directory, while waiting.
    notify: Option<OwnedFd>,
    /// Output so far (capped), the error text if the runtime fails.
    early: Vec<(Stream, Vec<u8>)>,
    kept: usize,
    /// The container init, once the pid file named it.
    pub init: Option<Pid>,
    /// Its pidfd, polled so the OOM counter is read the moment it exits:
    /// the runtime removes the cgroup right after reaping it.
    init_pidfd: Option<OwnedFd>,
    /// The init's memory cgroup.
    pub cgroup: Option<PathBuf>,
    /// OOM notifications of that cgroup (see [`OomWatch`]).
    oom_watch: Option<OomWatch>,
    /// An OOM kill was seen in the cgroup while it still existed.
    pub oom: bool,
}

impl RunStart {
    /// Wait for `pid_file`; `sync` gets the message once it names a pid.
    pub fn new(sync: OwnedFd, ack: Option<OwnedFd>, me: i32, pid_file: &Path) -> Self {
        RunStart {
            sync: Some(sync),
            ack,
            abandoned: false,
            me,
            pid_file: pid_file.to_owned(),
            notify: watch_dir(pid_file),
            early: Vec::new(),
            kept: 0,
            init: None,
            init_pidfd: None,
            cgroup: None,
            oom_watch: None,
            oom: false,
        }
    }

    /// True until the sync message was sent.
    pub fn waiting(&self) -> bool {
        self.sync.is_some()
    }

    /// The fds the relay loop should poll for us, with their events; an
    /// event on entry `i` goes to [`Self::event`]`(i)`.
    pub fn poll_fds(&self) -> [Option<(&OwnedFd, i16)>; 2] {
        [
            self.notify
                .as_ref()
                .or(self.init_pidfd.as_ref())
                .map(|fd| (fd, libc::POLLIN)),
            self.oom_watch.as_ref().map(|w| (&w.fd, w.events())),
        ]
    }

    /// The longest the relay loop may sleep (-1: no limit).
    pub fn timeout_ms(&self) -> i32 {
        match (self.waiting(), &self.notify) {
            (false, _) => -1,
            (true, Some(_)) => BACKSTOP_MS,
            (true, None) => NO_INOTIFY_MS,
        }
    }

    /// Keep a copy of output while waiting: the error text if the runtime
    /// exits before the pid file appears.
    pub fn record(&mut self, stream: Stream, data: &[u8]) {
        if self.waiting() && self.kept < MAX_ERROR {
            self.kept += data.len();
            self.early.push((stream, data.to_vec()));
        }
    }

    /// Entry `which` of [`Self::poll_fds`] is ready.
    pub fn event(&mut self, which: usize) {
        if which == 1 {
            if let Some(w) = &mut self.oom_watch {
                let (oom, done) = w.event();
                self.oom |= oom;
                if done {
                    self.oom_watch = None;
                }
            }
        } else if let Some(fd) = &self.notify {
            let mut buf = [0u8; 1024];
            while matches!(rustix::io::read(fd, &mut buf), Ok(n) if n > 0) {}
            self.check();
        } else if self.init_pidfd.take().is_some() {
            // The init exited (it is the runtime's to reap, not ours).
            self.check_oom();
        }
    }

    /// Look for the pid file; once it names a pid, send the sync message.
    pub fn check(&mut self) {
        if !self.waiting() {
            return;
        }
        let Ok(text) = std::fs::read(&self.pid_file) else {
            return;
        };
        let Some(init) = std::str::from_utf8(&text)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .and_then(Pid::from_raw)
        else {
            return; // not written completely yet
        };
        let raw = init.as_raw_nonzero().get();
        if let Some(fd) = self.sync.take() {
            let _ = sync::write_all(fd.as_fd(), &sync::encode(raw, self.me, None));
        }
        if !crate::ack::wait(self.ack.take()) {
            // The runtime is our child and cleans up after its init; the
            // init is unreaped until then, so the pid is still this one.
            let _ = rustix::process::kill_process(init, rustix::process::Signal::KILL);
            self.abandoned = true;
        }
        self.notify = None;
        self.early = Vec::new();
        self.init = Some(init);
        self.cgroup = reap::memory_cgroup(init);
        if let Some(cg) = &self.cgroup {
            self.oom_watch = OomWatch::new(cg);
            self.init_pidfd = reap::open_pidfd(init);
            if self.init_pidfd.is_none() {
                self.check_oom(); // already gone
            }
        }
        // Startup is over: from here on only the relay loop's code is needed.
        crate::trim::trim_startup_pages();
    }

    /// Latch an OOM kill recorded in the init's cgroup (which the runtime
    /// removes right after reaping the init: [`OomWatch`] catches what this
    /// is too late for).
    pub fn check_oom(&mut self) {
        if let Some(cg) = &self.cgroup {
            self.oom = self.oom || reap::was_oom_killed(cg);
        }
    }

    /// The runtime exited with `code` before the pid file appeared: send
    /// the error message (its output) and return it.
    pub fn fail(&mut self, code: i32) -> String {
        let msg = crate::create::error_text(&self.early, "run", code);
        if let Some(fd) = self.sync.take() {
            let _ = sync::write_all(fd.as_fd(), &sync::encode(0, self.me, Some(&msg)));
        }
        msg
    }
}

/// A nonblocking inotify fd watching the directory of `file` for files
/// written or renamed into it; `None` if that fails.
fn watch_dir(file: &Path) -> Option<OwnedFd> {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("/"));
    let dir = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: plain syscalls; the fd is owned right away.
    unsafe {
        let fd = libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mask = libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE;
        if libc::inotify_add_watch(fd.as_raw_fd(), dir.as_ptr(), mask) < 0 {
            return None;
        }
        Some(fd)
    }
}

/// Notification of OOM kills in the container's memory cgroup while it
/// still exists (as conmon does it): in run mode the runtime removes the
/// cgroup right after reaping the init, so reading its counters after the
/// exit, or even when the init's pidfd fires, can come too late.
struct OomWatch {
    /// cgroup v1: an eventfd registered via `cgroup.event_control` for
    /// `memory.oom_control`; the kernel signals it on OOM and once more when
    /// the cgroup is removed. cgroup v2: `memory.events`, which polls
    /// POLLPRI when it changes.
    fd: OwnedFd,
    /// v1 only: `memory.oom_control`, to tell an OOM from the removal.
    v1_control: Option<PathBuf>,
}

impl OomWatch {
    fn new(cgroup: &Path) -> Option<OomWatch> {
        let ro = OFlags::RDONLY | OFlags::CLOEXEC;
        let events = cgroup.join("memory.events");
        if let Ok(fd) = rustix::fs::open(&events, ro, Mode::empty()) {
            let w = OomWatch {
                fd,
                v1_control: None,
            };
            // Reading resets kernfs's "changed" state for poll.
            let _ = w.read_v2();
            return Some(w);
        }
        let control = cgroup.join("memory.oom_control");
        let cfd = rustix::fs::open(&control, ro, Mode::empty()).ok()?;
        let efd = rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).ok()?;
        let mut line = Vec::new();
        sync::push_int(&mut line, efd.as_raw_fd() as i64);
        line.push(b' ');
        sync::push_int(&mut line, cfd.as_raw_fd() as i64);
        std::fs::write(cgroup.join("cgroup.event_control"), &line).ok()?;
        Some(OomWatch {
            fd: efd,
            v1_control: Some(control),
        })
    }

    fn events(&self) -> i16 {
        if self.v1_control.is_some() {
            libc::POLLIN
        } else {
            libc::POLLPRI
        }
    }

    /// Handle a wakeup: (OOM kill seen, stop watching).
    fn event(&mut self) -> (bool, bool) {
        let Some(control) = &self.v1_control else {
            return match self.read_v2() {
                Some(oom) => (oom, false),
                None => (false, true), // the cgroup is gone
            };
        };
        let mut n = [0u8; 8];
        let count = match rustix::io::read(&self.fd, &mut n) {
            Ok(8) => u64::from_ne_bytes(n),
            _ => return (false, false),
        };
        if control.exists() {
            (true, false)
        } else {
            // Removed. Two or more signals at once: an OOM came first.
            (count >= 2, true)
        }
    }

    /// v2: re-read `memory.events`; `Some(oom_kill > 0)`, `None` if the
    /// cgroup is gone.
    fn read_v2(&self) -> Option<bool> {
        let mut buf = [0u8; 512];
        let n = rustix::io::pread(&self.fd, &mut buf, 0).ok()?;
        let text = std::str::from_utf8(&buf[..n]).ok()?;
        Some(text.lines().any(|l| {
            l.strip_prefix("oom_kill ")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .is_some_and(|v| v > 0)
        }))
    }
}
