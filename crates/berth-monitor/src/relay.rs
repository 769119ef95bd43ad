//! The monitor's main loop: one `poll(2)` over the output pipes, the init's
//! pidfd, the SIGCHLD signalfd, the attach listener, its clients and the
//! container's stdin pipe.
//!
//! poll rather than epoll: the set is a handful of fds rebuilt each turn,
//! which costs nothing next to the syscalls the events cause, and it keeps
//! the loop free of registration bookkeeping.

use std::os::unix::io::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::{Pid, WaitStatus};

use crate::attach::{AttachServer, ClientRead};
use crate::console::{self, ConsoleSocket};
use crate::log::{LogFile, Stream};
use crate::reap;
use crate::runmode::RunStart;

/// After the init exited: stop draining when the pipes stay silent this
/// long (a process outside the container's pid namespace may still hold
/// them open)...
const QUIET: Duration = Duration::from_millis(200);
/// ...or at the latest after this long, however much is still coming.
const DRAIN_MAX: Duration = Duration::from_secs(2);

/// Size of one read from a pipe or client (also the largest attach frame).
pub const CHUNK: usize = 8192;

/// Everything the loop moves bytes between.
pub struct Relay {
    /// Read end of the container's stdout pipe (nonblocking); `None` at EOF.
    pub stdout: Option<OwnedFd>,
    /// Read end of the container's stderr pipe (nonblocking); `None` at EOF.
    pub stderr: Option<OwnedFd>,
    /// Write end of the container's stdin pipe (nonblocking), if `--stdin`.
    pub stdin: Option<OwnedFd>,
    /// Client bytes the stdin pipe has not taken yet.
    stdin_pending: Vec<u8>,
    /// A client half-closed: close stdin once `stdin_pending` is written.
    stdin_eof: bool,
    /// The k8s-file log.
    pub log: LogFile,
    /// The attach socket and its clients.
    pub attach: AttachServer,
    /// Run mode: the startup still in progress while the loop runs.
    pub start: Option<RunStart>,
    /// Terminal: the console socket until the runtime sent the master.
    console: Option<ConsoleSocket>,
    /// Terminal: the pty master (nonblocking); `None` before it arrived
    /// and after the container's side closed.
    pty: Option<OwnedFd>,
    /// Terminal: feed client input to the pty (`--stdin`).
    pty_stdin: bool,
    /// Terminal: the latest window size a client asked for.
    winsize: Option<(u16, u16)>,
    /// poll(2) set and what each entry is, rebuilt every turn. Kept here,
    /// allocated up front, so an idle loop never calls the allocator (whose
    /// code pages would otherwise be faulted back in after
    /// [`crate::trim::trim_startup_pages`]).
    fds: Vec<libc::pollfd>,
    tags: Vec<Tag>,
}

/// What a pollfd entry stands for.
#[derive(Clone, Copy)]
enum Tag {
    Out(Stream),
    Pty,
    Console,
    Pidfd,
    Signal,
    Listener,
    Stdin,
    Start(usize),
    Client(usize),
}

impl Relay {
    /// Assemble a relay; `stdin` only with `--stdin`.
    pub fn new(
        stdout: OwnedFd,
        stderr: OwnedFd,
        stdin: Option<OwnedFd>,
        log: LogFile,
        attach: AttachServer,
    ) -> Self {
        Relay {
            stdout: Some(stdout),
            stderr: Some(stderr),
            stdin,
            stdin_pending: Vec::new(),
            stdin_eof: false,
            log,
            attach,
            start: None,
            console: None,
            pty: None,
            pty_stdin: false,
            winsize: None,
            fds: Vec::with_capacity(16),
            tags: Vec::with_capacity(16),
        }
    }

    /// Terminal mode: wait on `console` for the pty master; with `stdin`,
    /// client input goes to the terminal.
    pub fn set_console(&mut self, console: Option<ConsoleSocket>, stdin: bool) {
        self.console = console;
        self.pty_stdin = stdin && self.console.is_some();
    }

    /// Close the console socket and remove its file.
    fn drop_console(&mut self) {
        if let Some(c) = self.console.take() {
            c.remove();
        }
    }

    fn terminal(&self) -> bool {
        self.console.is_some() || self.pty.is_some() || self.pty_stdin
    }

    /// The runtime connected to the console socket: take the master.
    fn console_event(&mut self) {
        let Some(sock) = &self.console else { return };
        let master = match sock.receive() {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(_) => {
                // A broken runtime connection: no terminal to relay.
                self.drop_console();
                return;
            }
        };
        self.drop_console();
        if let Some((rows, cols)) = self.winsize {
            console::set_winsize(&master, rows, cols);
        }
        if self.pty_stdin {
            // A second fd for the same master: the stdin slot is closed
            // independently of the output side.
            self.stdin = rustix::io::fcntl_dupfd_cloexec(&master, 3).ok();
        }
        self.pty = Some(master);
        self.flush_stdin();
    }

    /// Log and broadcast one chunk of container output.
    pub fn output(&mut self, stream: Stream, data: &[u8]) {
        if let Some(start) = &mut self.start {
            start.record(stream, data);
        }
        self.log.write_chunk(stream, data);
        self.attach.broadcast(stream, data);
    }

    /// Run until `init` has exited and its output is drained. Returns the
    /// init's wait status, or `None` if it could not be reaped (not our
    /// child, so its status is lost). In run mode `init` is the runtime,
    /// whose exit status is the container's exit code.
    pub fn run(
        &mut self,
        init: Pid,
        pidfd: Option<OwnedFd>,
        sigfd: &OwnedFd,
    ) -> Option<WaitStatus> {
        let mut pidfd = pidfd;
        // Some(status) once the init is gone.
        let mut exited: Option<Option<WaitStatus>> = None;
        if pidfd.is_none() {
            // pidfd_open failed with ESRCH: already reaped by someone, or a
            // zombie of ours waiting for the sweep below.
            exited = check_exit(init, false);
        }
        let mut deadline = None;
        let mut fds = std::mem::take(&mut self.fds);
        let mut tags = std::mem::take(&mut self.tags);
        let mut buf = [0u8; CHUNK];

        loop {
            if let Some(start) = &mut self.start {
                start.check();
            }
            if exited.is_some() {
                let deadline = *deadline.get_or_insert_with(|| Instant::now() + DRAIN_MAX);
                // The container is gone; nobody reads its stdin any more.
                self.stdin = None;
                self.stdin_pending = Vec::new();
                pidfd = None;
                // No master is coming any more.
                self.drop_console();
                let drained = self.stdout.is_none()
                    && self.stderr.is_none()
                    && self.pty.is_none()
                    && !self.attach.has_pending();
                if drained || Instant::now() >= deadline {
                    break;
                }
            }

            fds.clear();
            tags.clear();
            let mut add = |fd: &OwnedFd, events: i16, tag: Tag| {
                fds.push(libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events,
                    revents: 0,
                });
                tags.push(tag);
            };
            // Clients first: their indices must be handled before anything
            // (accept, broadcast) changes the client list.
            let want_input = self.stdin_pending.is_empty();
            for (i, c) in self.attach.clients.iter().enumerate() {
                let mut ev = 0;
                if c.reading && want_input {
                    ev |= libc::POLLIN;
                }
                if !c.pending.is_empty() {
                    ev |= libc::POLLOUT;
                }
                add(&c.fd, ev, Tag::Client(i));
            }
            if let Some(fd) = &self.stdout {
                add(fd, libc::POLLIN, Tag::Out(Stream::Stdout));
            }
            if let Some(fd) = &self.stderr {
                add(fd, libc::POLLIN, Tag::Out(Stream::Stderr));
            }
            if let Some(fd) = &self.pty {
                add(fd, libc::POLLIN, Tag::Pty);
            }
            if let Some(c) = &self.console {
                add(c.fd(), libc::POLLIN, Tag::Console);
            }
            if let Some(fd) = &pidfd {
                add(fd, libc::POLLIN, Tag::Pidfd);
            }
            add(sigfd, libc::POLLIN, Tag::Signal);
            add(self.attach.listener(), libc::POLLIN, Tag::Listener);
            if let (Some(fd), false) = (&self.stdin, self.stdin_pending.is_empty()) {
                add(fd, libc::POLLOUT, Tag::Stdin);
            }
            if let Some(start) = &self.start {
                for (i, entry) in start.poll_fds().into_iter().enumerate() {
                    if let Some((fd, events)) = entry {
                        add(fd, events, Tag::Start(i));
                    }
                }
            }

            let timeout = match deadline {
                // Still running; in run mode maybe waiting for the pid file.
                None => self.start.as_ref().map_or(-1, RunStart::timeout_ms),
                Some(d) => d
                    .saturating_duration_since(Instant::now())
                    .min(QUIET)
                    .as_millis() as i32,
            };
            // SAFETY: fds is a valid array of fds.len() pollfd entries.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                if Errno::from_io_error(&std::io::Error::last_os_error()) == Some(Errno::INTR) {
                    continue;
                }
                // Cannot happen with valid fds; do not spin.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            if n == 0 && exited.is_some() {
                // Quiet for QUIET after the exit: what is left is not coming.
                break;
            }

            // Clients first (they lead the list): their indices are only
            // valid until something drops or accepts clients.
            let mut dead: Vec<usize> = Vec::new();
            for (pfd, tag) in fds.iter().zip(tags.iter()) {
                if let Tag::Client(i) = *tag {
                    if pfd.revents != 0 && !self.client_event(i, pfd.revents, &mut buf) {
                        dead.push(i);
                    }
                }
            }
            remove_clients(&mut self.attach, &mut dead);
            let mut accept = false;
            for (pfd, tag) in fds.iter().zip(tags.iter()) {
                if pfd.revents == 0 {
                    continue;
                }
                match *tag {
                    Tag::Client(_) => {}
                    Tag::Out(stream) => self.pipe_event(stream, &mut buf),
                    Tag::Pty => self.pty_event(&mut buf),
                    Tag::Console => self.console_event(),
                    Tag::Pidfd => {
                        // Readable means the init has exited.
                        exited = exited.or_else(|| check_exit(init, true));
                        reap::sweep(init);
                    }
                    Tag::Signal => {
                        reap::drain_signalfd(sigfd);
                        if let Some(status) = reap::sweep(init) {
                            exited = exited.or(Some(Some(status)));
                        }
                    }
                    Tag::Listener => accept = true,
                    Tag::Stdin => self.flush_stdin(),
                    Tag::Start(i) => {
                        if let Some(start) = &mut self.start {
                            start.event(i);
                        }
                    }
                }
            }
            if accept {
                self.attach.accept_all();
            }
        }
        self.drop_console();
        exited.flatten()
    }

    /// Handle poll results for client `i`; false if it must be dropped.
    fn client_event(&mut self, i: usize, rev: i16, buf: &mut [u8]) -> bool {
        if rev & (libc::POLLERR | libc::POLLNVAL) != 0 {
            return false;
        }
        if rev & libc::POLLOUT != 0 && !self.attach.flush(i) {
            return false;
        }
        if rev & (libc::POLLIN | libc::POLLHUP) != 0 && self.attach.clients[i].reading {
            match self.attach.read(i, buf) {
                ClientRead::Data(n) => {
                    let takes_input = (self.stdin.is_some() || self.pty_stdin) && !self.stdin_eof;
                    let sink = takes_input.then_some(&mut self.stdin_pending);
                    // Without stdin the bytes are still decoded: control
                    // frames, and reading is how EOF is noticed.
                    let Ok(ctl) = self.attach.clients[i].feed(&buf[..n], sink) else {
                        return false;
                    };
                    if let Some((rows, cols)) = ctl.resize {
                        self.winsize = Some((rows, cols));
                        if let Some(pty) = &self.pty {
                            console::set_winsize(pty, rows, cols);
                        }
                    }
                    if ctl.close_stdin {
                        self.end_stdin();
                    }
                    self.flush_stdin();
                }
                ClientRead::Again => {}
                ClientRead::Eof => {
                    // Half-close: the client is done typing but may still
                    // want output. It ends the container's stdin, unless it
                    // is a framed client that never fed stdin or detached.
                    self.attach.clients[i].reading = false;
                    if self.attach.clients[i].ends_stdin() {
                        self.end_stdin();
                    }
                }
                ClientRead::Gone => {
                    if self.attach.clients[i].ends_stdin() {
                        self.end_stdin();
                    }
                    return false;
                }
            }
        } else if rev & libc::POLLHUP != 0 && !self.attach.clients[i].reading {
            // Both directions closed: nobody is listening any more.
            return false;
        }
        true
    }

    /// A client ended the input: close the container's stdin once pending
    /// bytes are written. Never for a terminal: closing our side of the
    /// master does not give the container an EOF, and other clients may
    /// still type.
    fn end_stdin(&mut self) {
        if self.terminal() || self.stdin.is_none() {
            return;
        }
        self.stdin_eof = true;
        self.flush_stdin();
    }

    /// One read from the pty master. EIO means the container's side is
    /// closed (every process holding the slave exited).
    fn pty_event(&mut self, buf: &mut [u8]) {
        let Some(fd) = self.pty.as_ref() else { return };
        match rustix::io::read(fd, &mut *buf) {
            Ok(0) => self.pty = None,
            Ok(n) => self.output(Stream::Stdout, &buf[..n]),
            Err(Errno::AGAIN) | Err(Errno::INTR) => {}
            Err(_) => self.pty = None,
        }
    }

    /// One read from a pipe; EOF or error closes it.
    fn pipe_event(&mut self, stream: Stream, buf: &mut [u8]) {
        let slot = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        let Some(fd) = slot.as_ref() else { return };
        match rustix::io::read(fd, &mut *buf) {
            Ok(0) => *slot = None,
            Ok(n) => self.output(stream, &buf[..n]),
            Err(Errno::AGAIN) | Err(Errno::INTR) => {}
            Err(_) => *slot = None,
        }
    }

    /// Write pending client input to the container's stdin; close it after
    /// a half-close once everything is written, or if the reader is gone.
    fn flush_stdin(&mut self) {
        let Some(fd) = &self.stdin else {
            // Keep what was typed while the terminal is still coming.
            if self.console.is_none() || !self.pty_stdin {
                self.stdin_pending.clear();
            }
            return;
        };
        while !self.stdin_pending.is_empty() {
            match rustix::io::write(fd, &self.stdin_pending) {
                Ok(n) => {
                    self.stdin_pending.drain(..n);
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return,
                Err(_) => {
                    // EPIPE: the container closed its stdin.
                    self.stdin = None;
                    self.stdin_pending = Vec::new();
                    return;
                }
            }
        }
        if self.stdin_eof {
            self.stdin = None;
        }
    }
}

/// [`reap::init_state`] as the loop's `exited` value: `Some(Some(status))`
/// once reaped, `Some(None)` if lost, `None` while it runs.
fn check_exit(init: Pid, known_exited: bool) -> Option<Option<WaitStatus>> {
    match reap::init_state(init, known_exited) {
        reap::InitState::Running => None,
        reap::InitState::Exited(status) => Some(Some(status)),
        reap::InitState::Lost => Some(None),
    }
}

/// Drop the clients whose indices are in `dead` (any order, may repeat).
fn remove_clients(attach: &mut AttachServer, dead: &mut Vec<usize>) {
    if dead.is_empty() {
        return;
    }
    dead.sort_unstable();
    dead.dedup();
    for &i in dead.iter().rev() {
        if i < attach.clients.len() {
            attach.clients.swap_remove(i);
        }
    }
    dead.clear();
}
