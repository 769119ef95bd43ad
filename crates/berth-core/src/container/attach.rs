//! The client side of the monitor's attach socket: decoding output frames
//! and feeding stdin (protocol in `berth_types::monitor`). [`AttachStream::relay`]
//! speaks the raw input protocol; [`AttachStream::relay_terminal`] the
//! framed one (terminals, window sizes, detach keys).

use berth_types::monitor::{
    attach_header, ATTACH_DETACH, ATTACH_HEADER_LEN, ATTACH_HELLO, ATTACH_RESIZE, ATTACH_STDERR,
    ATTACH_STDIN, ATTACH_STDIN_CLOSE,
};
use berth_types::{Error, Result};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

/// Podman's default detach sequence: ctrl-p, ctrl-q.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Parse Podman's `--detach-keys` syntax (`ctrl-p,ctrl-q`, `a,ctrl-@`): the
/// bytes that detach. Empty input disables detaching (empty result).
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    if spec.is_empty() {
        return Ok(out);
    }
    for key in spec.split(',') {
        let bad = || Error::invalid(format!("invalid detach keys {spec:?}: bad key {key:?}"));
        if let Some(c) = key.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [b @ b'a'..=b'z'] => b - b'a' + 1,
                [b'@'] => 0,
                [b @ (b'[' | b'\\' | b']' | b'^' | b'_')] => b - b'@',
                _ => return Err(bad()),
            };
            out.push(b);
        } else if key.len() == 1 {
            out.push(key.as_bytes()[0]);
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

/// How [`AttachStream::relay_terminal`] behaves.
#[derive(Debug, Clone, Default)]
pub struct TerminalOptions {
    /// Forward this process's stdin (fd 0).
    pub stdin: bool,
    /// The container side is a terminal: put ours in raw mode and pass on
    /// window-size changes.
    pub tty: bool,
    /// Detach sequence (empty: never detach).
    pub detach_keys: Vec<u8>,
}

/// How a relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayEnd {
    /// The container's output ended (it exited).
    Ended,
    /// The user typed the detach keys; the container keeps running.
    Detached,
}

/// A connection to a container's monitor.
pub struct AttachStream {
    sock: UnixStream,
    stdin_open: bool,
}

impl AttachStream {
    pub(crate) fn connect(path: &Path, stdin_open: bool) -> Result<Self> {
        let sock = UnixStream::connect(path)
            .map_err(|e| Error::io(format!("attaching to {}", path.display()), e))?;
        Ok(AttachStream { sock, stdin_open })
    }

    /// A handle that ends this stream's relay from another thread (a
    /// client typing the detach keys): the relay sees the end of output
    /// and returns; the container keeps running.
    pub fn closer(&self) -> Result<RelayCloser> {
        Ok(RelayCloser(self.sock.try_clone()?))
    }

    /// Relay until the container's output ends: frames go to `stdout` or
    /// `stderr`, and (when the container keeps stdin open and `stdin` is
    /// given) bytes from `stdin` are sent on a helper thread; the end of
    /// `stdin` closes the container's stdin.
    pub fn relay<R, O, E>(self, stdin: Option<R>, stdout: &mut O, stderr: &mut E) -> Result<()>
    where
        R: Read + Send + 'static,
        O: Write,
        E: Write,
    {
        if let (true, Some(mut input)) = (self.stdin_open, stdin) {
            let mut to_monitor = self.sock.try_clone()?;
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut input, &mut to_monitor);
                let _ = to_monitor.shutdown(std::net::Shutdown::Write);
            });
        } else {
            let _ = self.sock.shutdown(std::net::Shutdown::Write);
        }
        let mut reader = std::io::BufReader::with_capacity(64 * 1024, &self.sock);
        let mut header = [0u8; ATTACH_HEADER_LEN];
        let mut buf = Vec::new();
        loop {
            match reader.read_exact(&mut header) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(Error::io("reading from the container's monitor", e)),
            }
            let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
            buf.resize(len, 0);
            reader
                .read_exact(&mut buf)
                .map_err(|e| Error::io("reading from the container's monitor", e))?;
            let out: &mut dyn Write = if header[0] == ATTACH_STDERR {
                stderr
            } else {
                stdout
            };
            // A closed terminal or pipe on our side must not kill the
            // container; keep draining so the monitor never blocks.
            let _ = out.write_all(&buf).and_then(|_| out.flush());
        }
        Ok(())
    }

    /// Relay with the framed input protocol: this process's stdin (when
    /// `opts.stdin`) through the detach-key filter, window sizes (when
    /// `opts.tty`; our terminal is in raw mode meanwhile), output frames to
    /// `stdout`/`stderr`.
    pub fn relay_terminal<O: Write, E: Write>(
        self,
        opts: &TerminalOptions,
        stdout: &mut O,
        stderr: &mut E,
    ) -> Result<RelayEnd> {
        let mut hello = attach_header(ATTACH_HELLO, 0).to_vec();
        let stdin = opts.stdin && self.stdin_open;
        if stdin {
            // An empty stdin frame: our leaving ends a non-tty stdin.
            hello.extend_from_slice(&attach_header(ATTACH_STDIN, 0));
        }
        // Best effort: a short-lived container may be gone and its monitor
        // done with us already; its output is still waiting to be read.
        let _ = (&self.sock).write_all(&hello);
        let _raw = (opts.tty && stdin).then(RawMode::enable).flatten();
        let detached = Arc::new(AtomicBool::new(false));
        if stdin || opts.tty {
            let sock = self.sock.try_clone()?;
            let input = InputPump {
                sock,
                stdin,
                tty: opts.tty,
                keys: opts.detach_keys.clone(),
                detached: detached.clone(),
            };
            if opts.tty {
                input.send_winsize();
            }
            std::thread::spawn(move || input.run());
        }
        self.read_frames(stdout, stderr)?;
        Ok(if detached.load(Ordering::SeqCst) {
            RelayEnd::Detached
        } else {
            RelayEnd::Ended
        })
    }

    /// Output frames to `stdout`/`stderr` until the monitor closes.
    fn read_frames(&self, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Result<()> {
        let mut reader = std::io::BufReader::with_capacity(64 * 1024, &self.sock);
        let mut header = [0u8; ATTACH_HEADER_LEN];
        let mut buf = Vec::new();
        loop {
            match reader.read_exact(&mut header) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                    ) =>
                {
                    return Ok(())
                }
                Err(e) => return Err(Error::io("reading from the container's monitor", e)),
            }
            let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
            buf.resize(len, 0);
            if reader.read_exact(&mut buf).is_err() {
                return Ok(()); // cut off by a detach
            }
            let out: &mut dyn Write = if header[0] == ATTACH_STDERR {
                &mut *stderr
            } else {
                &mut *stdout
            };
            let _ = out.write_all(&buf).and_then(|_| out.flush());
        }
    }
}

/// Tell the monitor behind attach socket `path` that its terminal is now
/// `rows` x `cols`, over a short framed connection of its own (a framed
/// client that sends no stdin leaves stdin alone when it goes). For clients
/// whose window size arrives out of band, as with the Docker API's resize.
pub fn send_resize(path: &Path, rows: u16, cols: u16) -> Result<()> {
    let mut sock = UnixStream::connect(path)
        .map_err(|e| Error::io(format!("resizing through {}", path.display()), e))?;
    let mut msg = attach_header(ATTACH_HELLO, 0).to_vec();
    msg.extend_from_slice(&attach_header(ATTACH_RESIZE, 4));
    msg.extend_from_slice(&rows.to_be_bytes());
    msg.extend_from_slice(&cols.to_be_bytes());
    sock.write_all(&msg)
        .map_err(|e| Error::io(format!("resizing through {}", path.display()), e))
}

/// Ends a relay from outside; see [`AttachStream::closer`].
pub struct RelayCloser(UnixStream);

impl RelayCloser {
    /// Disconnect from the monitor.
    pub fn close(&self) {
        let _ = self.0.shutdown(std::net::Shutdown::Both);
    }
}

/// Write end of the SIGWINCH self-pipe (-1: none), for the handler.
static WINCH_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_winch(_: libc::c_int) {
    let fd = WINCH_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; a full pipe just drops
        // the wakeup, one pending is enough.
        unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
    }
}

/// The input side of [`AttachStream::relay_terminal`], on its own thread.
struct InputPump {
    sock: UnixStream,
    stdin: bool,
    tty: bool,
    keys: Vec<u8>,
    detached: Arc<AtomicBool>,
}

impl InputPump {
    fn send(&self, kind: u8, body: &[u8]) -> bool {
        let mut f = attach_header(kind, body.len() as u32).to_vec();
        f.extend_from_slice(body);
        (&self.sock).write_all(&f).is_ok()
    }

    /// Our terminal's size (stdin's, else stdout's) to the monitor.
    fn send_winsize(&self) {
        if let Some((rows, cols)) = terminal_size() {
            let mut body = rows.to_be_bytes().to_vec();
            body.extend_from_slice(&cols.to_be_bytes());
            self.send(ATTACH_RESIZE, &body);
        }
    }

    fn run(self) {
        let winch = if self.tty { winch_pipe() } else { None };
        let mut stdin_open = self.stdin;
        let mut matched = 0usize;
        let mut buf = [0u8; 8192];
        loop {
            let mut fds = [
                libc::pollfd {
                    fd: if stdin_open { 0 } else { -1 },
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: winch.unwrap_or(-1),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            if fds.iter().all(|p| p.fd < 0) {
                return;
            }
            // SAFETY: valid local array.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
                continue; // EINTR (SIGWINCH itself)
            }
            if fds[1].revents != 0 {
                // SAFETY: drain the nonblocking pipe.
                while unsafe { libc::read(fds[1].fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
                self.send_winsize();
            }
            if fds[0].revents == 0 {
                continue;
            }
            // SAFETY: read into our buffer from fd 0.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            if n <= 0 {
                stdin_open = false;
                // A terminal is never closed by us; a pipe's end is the
                // container's end of input.
                if !self.tty && !self.send(ATTACH_STDIN_CLOSE, &[]) {
                    return;
                }
                continue;
            }
            let (out, detach) = filter_detach(&self.keys, &mut matched, &buf[..n as usize]);
            if !out.is_empty() && !self.send(ATTACH_STDIN, &out) {
                return;
            }
            if detach {
                self.detached.store(true, Ordering::SeqCst);
                self.send(ATTACH_DETACH, &[]);
                let _ = self.sock.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}

/// A nonblocking self-pipe that SIGWINCH writes to; returns its read end.
fn winch_pipe() -> Option<i32> {
    let mut fds = [0i32; 2];
    // SAFETY: plain syscalls; the fds live for the rest of the process (one
    // relay per process).
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) != 0 {
            return None;
        }
        WINCH_FD.store(fds[1], Ordering::Relaxed);
        libc::signal(libc::SIGWINCH, on_winch as *const () as libc::sighandler_t);
    }
    Some(fds[0])
}

/// Pass `data` through the detach-key matcher: bytes to send, and whether
/// the whole sequence was typed. A partial match is held back until it
/// completes or breaks (then it is sent, as Podman does).
pub fn filter_detach(keys: &[u8], matched: &mut usize, data: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(data.len());
    if keys.is_empty() {
        out.extend_from_slice(data);
        return (out, false);
    }
    for &b in data {
        if b == keys[*matched] {
            *matched += 1;
            if *matched == keys.len() {
                *matched = 0;
                return (out, true);
            }
            continue;
        }
        out.extend_from_slice(&keys[..*matched]);
        *matched = usize::from(b == keys[0]);
        if *matched == 0 {
            out.push(b);
        } else if keys.len() == 1 {
            *matched = 0;
            return (out, true);
        }
    }
    (out, false)
}

/// Our terminal in raw mode, restored on drop.
struct RawMode(libc::termios);

impl RawMode {
    fn enable() -> Option<RawMode> {
        // SAFETY: termios calls on fd 0 with local structs.
        unsafe {
            if libc::isatty(0) != 1 {
                return None;
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return None;
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(0, libc::TCSANOW, &t);
            Some(RawMode(saved))
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores what enable() read.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.0) };
    }
}

/// The size (rows, columns) of this process's terminal: stdin's, else
/// stdout's; `None` when neither is a terminal with a size.
pub fn terminal_size() -> Option<(u16, u16)> {
    [0, 1].into_iter().find_map(|fd| {
        // SAFETY: TIOCGWINSZ fills one winsize.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0;
        (ok && ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_key_specs() {
        assert_eq!(parse_detach_keys(DEFAULT_DETACH_KEYS).unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("a,ctrl-@,ctrl-[").unwrap(), [b'a', 0, 27]);
        assert!(parse_detach_keys("").unwrap().is_empty());
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("ab").is_err());
    }

    #[test]
    fn detach_filter() {
        let keys = [16u8, 17];
        let mut m = 0;
        assert_eq!(
            filter_detach(&keys, &mut m, b"ab\x10"),
            (b"ab".to_vec(), false)
        );
        assert_eq!(
            filter_detach(&keys, &mut m, b"x"),
            (b"\x10x".to_vec(), false)
        );
        assert_eq!(
            filter_detach(&keys, &mut m, b"\x10\x10\x11"),
            (b"\x10".to_vec(), true)
        );
        let mut m = 0;
        assert_eq!(
            filter_detach(&[], &mut m, b"\x10\x11"),
            (b"\x10\x11".to_vec(), false)
        );
        assert_eq!(
            filter_detach(&[3], &mut m, b"a\x03b"),
            (b"a".to_vec(), true)
        );
    }
}
