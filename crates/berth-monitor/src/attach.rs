//! The attach socket: a listening unix stream socket; every client gets all
//! output as frames (`berth_types::monitor::attach_header` + data) and may
//! send bytes for the container's stdin: raw, or framed after a hello
//! frame (window sizes, explicit end of input, detach; see
//! `berth_types::monitor::ATTACH_HEADER_LEN`).

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SendFlags, SocketAddrUnix, SocketFlags, SocketType};

use berth_types::monitor::{
    ATTACH_DETACH, ATTACH_HEADER_LEN, ATTACH_HELLO, ATTACH_RESIZE, ATTACH_STDIN, ATTACH_STDIN_CLOSE,
};

use crate::log::Stream;

/// Largest input frame accepted; a client sending more is broken.
const MAX_INPUT_FRAME: usize = 1 << 20;

/// How a client talks to us, decided by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// Nothing (or only part of a hello) seen yet.
    Unknown,
    /// Plain bytes for stdin.
    Raw,
    /// Frames after a hello.
    Framed,
}

/// A framed client sent something no client of ours would (a frame
/// larger than [`MAX_INPUT_FRAME`]); it is dropped.
#[derive(Debug, PartialEq, Eq)]
pub struct BrokenClient;

/// Control requests found in a client's input.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Control {
    /// Latest window size asked for (rows, columns).
    pub resize: Option<(u16, u16)>,
    /// The client ended the container's input.
    pub close_stdin: bool,
}

/// A client that falls this far behind is dropped rather than letting the
/// monitor's memory grow without bound (or blocking the log relay).
pub const MAX_PENDING: usize = 4 * 1024 * 1024;

/// One connected attach client.
pub struct Client {
    /// The accepted socket (nonblocking, CLOEXEC).
    pub fd: OwnedFd,
    /// Frame bytes not yet accepted by the socket.
    pub pending: Vec<u8>,
    /// False once the client shut down its write side.
    pub reading: bool,
    /// Raw or framed input.
    pub mode: InputMode,
    /// Input not yet decoded (an incomplete hello or frame).
    pub inbuf: Vec<u8>,
    /// Framed: it sent stdin, so its disconnect ends the container's input.
    pub feeds_stdin: bool,
    /// Framed: it detached; its disconnect leaves stdin alone.
    pub detached: bool,
}

impl Client {
    fn new(fd: OwnedFd) -> Self {
        Client {
            fd,
            pending: Vec::new(),
            reading: true,
            mode: InputMode::Unknown,
            inbuf: Vec::new(),
            feeds_stdin: false,
            detached: false,
        }
    }

    /// Whether this client leaving (or ending its input) ends the
    /// container's stdin.
    pub fn ends_stdin(&self) -> bool {
        match self.mode {
            InputMode::Framed => self.feeds_stdin && !self.detached,
            _ => true,
        }
    }

    /// Decode `data` the client sent: stdin bytes are appended to `stdin`
    /// (when given), control requests returned. `Err` for a broken framed
    /// client (a frame too large).
    pub fn feed(
        &mut self,
        data: &[u8],
        mut stdin: Option<&mut Vec<u8>>,
    ) -> Result<Control, BrokenClient> {
        let mut ctl = Control::default();
        if self.mode == InputMode::Raw && self.inbuf.is_empty() {
            if let Some(s) = stdin {
                s.extend_from_slice(data);
            }
            return Ok(ctl);
        }
        self.inbuf.extend_from_slice(data);
        if self.mode == InputMode::Unknown {
            let hello = [ATTACH_HELLO, 0, 0, 0, 0];
            let n = self.inbuf.len().min(ATTACH_HEADER_LEN);
            if self.inbuf[..n] != hello[..n] {
                self.mode = InputMode::Raw;
            } else if n == ATTACH_HEADER_LEN {
                self.mode = InputMode::Framed;
                self.inbuf.drain(..ATTACH_HEADER_LEN);
            } else {
                return Ok(ctl); // part of a hello: wait for the rest
            }
            if self.mode == InputMode::Raw {
                let buf = std::mem::take(&mut self.inbuf);
                if let Some(s) = stdin {
                    s.extend_from_slice(&buf);
                }
                return Ok(ctl);
            }
        }
        let mut at = 0;
        while self.inbuf.len() - at >= ATTACH_HEADER_LEN {
            let h = &self.inbuf[at..at + ATTACH_HEADER_LEN];
            let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
            if len > MAX_INPUT_FRAME {
                return Err(BrokenClient);
            }
            if self.inbuf.len() - at - ATTACH_HEADER_LEN < len {
                break;
            }
            let kind = h[0];
            let body = &self.inbuf[at + ATTACH_HEADER_LEN..at + ATTACH_HEADER_LEN + len];
            match kind {
                ATTACH_STDIN => {
                    self.feeds_stdin = true;
                    if let Some(s) = stdin.as_deref_mut() {
                        s.extend_from_slice(body);
                    }
                }
                ATTACH_RESIZE if len == 4 => {
                    let rows = u16::from_be_bytes([body[0], body[1]]);
                    let cols = u16::from_be_bytes([body[2], body[3]]);
                    ctl.resize = Some((rows, cols));
                }
                ATTACH_STDIN_CLOSE => ctl.close_stdin = true,
                ATTACH_DETACH => self.detached = true,
                _ => {} // unknown frames are skipped: room to grow
            }
            at += ATTACH_HEADER_LEN + len;
        }
        self.inbuf.drain(..at);
        if self.inbuf.is_empty() && self.inbuf.capacity() > 64 * 1024 {
            self.inbuf = Vec::new();
        }
        Ok(ctl)
    }
}

/// Result of reading from a client.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientRead {
    /// This many bytes were read into the buffer.
    Data(usize),
    /// Nothing to read right now.
    Again,
    /// The client half-closed (or fully closed) its write side.
    Eof,
    /// The connection failed; drop the client.
    Gone,
}

/// The listening socket and its clients.
pub struct AttachServer {
    listener: OwnedFd,
    path: PathBuf,
    /// Connected clients, in accept order.
    pub clients: Vec<Client>,
}

impl AttachServer {
    /// Create the socket at `path` (replacing a stale one), mode 0600.
    pub fn bind(path: &Path) -> io::Result<Self> {
        let listener = listen_unix(path, 64)?;
        Ok(AttachServer {
            listener,
            path: path.to_owned(),
            clients: Vec::new(),
        })
    }

    /// The listening fd, for polling.
    pub fn listener(&self) -> &OwnedFd {
        &self.listener
    }

    /// Wait until a client connects or `timeout` passed, then accept
    /// whoever is there (`--attach-wait`).
    pub fn wait_for_client(&mut self, timeout: std::time::Duration) {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let mut pfd = libc::pollfd {
                fd: self.listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
            let interrupted =
                n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted;
            if !interrupted || left.is_zero() {
                break;
            }
        }
        self.accept_all();
    }

    /// Accept every pending connection.
    pub fn accept_all(&mut self) {
        loop {
            match rustix::net::accept_with(
                &self.listener,
                SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            ) {
                Ok(fd) => self.clients.push(Client::new(fd)),
                Err(Errno::INTR) | Err(Errno::CONNABORTED) => continue,
                // EAGAIN, or EMFILE and friends: try again on the next wakeup.
                Err(_) => return,
            }
        }
    }

    /// Queue one frame for every client and push as much as each will take.
    /// Clients that failed or fell too far behind are dropped.
    pub fn broadcast(&mut self, stream: Stream, data: &[u8]) {
        if self.clients.is_empty() || data.is_empty() {
            return;
        }
        let header = berth_types::monitor::attach_header(stream.attach_byte(), data.len() as u32);
        self.clients.retain_mut(|c| {
            if c.pending.is_empty() {
                // Fast path: straight to the socket, copying only what it
                // does not take.
                let Some(h) = send_some(c, &header) else {
                    return false;
                };
                if h < header.len() {
                    c.pending.extend_from_slice(&header[h..]);
                    c.pending.extend_from_slice(data);
                } else {
                    let Some(d) = send_some(c, data) else {
                        return false;
                    };
                    c.pending.extend_from_slice(&data[d..]);
                }
            } else {
                c.pending.extend_from_slice(&header);
                c.pending.extend_from_slice(data);
            }
            c.pending.len() <= MAX_PENDING
        });
    }

    /// Push pending bytes of client `i`. Returns false if it must be dropped.
    pub fn flush(&mut self, i: usize) -> bool {
        let c = &mut self.clients[i];
        while !c.pending.is_empty() {
            match send_some(c, &c.pending) {
                None => return false,
                Some(0) => break,
                Some(n) => {
                    c.pending.drain(..n);
                }
            }
        }
        if c.pending.is_empty() && c.pending.capacity() > 64 * 1024 {
            c.pending = Vec::new();
        }
        true
    }

    /// Read what client `i` sent.
    pub fn read(&mut self, i: usize, buf: &mut [u8]) -> ClientRead {
        loop {
            return match rustix::io::read(&self.clients[i].fd, &mut *buf) {
                Ok(0) => ClientRead::Eof,
                Ok(n) => ClientRead::Data(n),
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => ClientRead::Again,
                Err(_) => ClientRead::Gone,
            };
        }
    }

    /// True if some client still has unsent output.
    pub fn has_pending(&self) -> bool {
        self.clients.iter().any(|c| !c.pending.is_empty())
    }

    /// Close every client (they see EOF) and remove the socket file.
    pub fn shutdown(self) {
        drop(self.clients);
        drop(self.listener);
        let _ = rustix::fs::unlink(&self.path);
    }
}

/// Send without blocking and without SIGPIPE. `Some(n)` bytes went out
/// (0 = socket full), `None` = the client is gone.
fn send_some(c: &Client, data: &[u8]) -> Option<usize> {
    loop {
        return match rustix::net::send(&c.fd, data, SendFlags::NOSIGNAL | SendFlags::DONTWAIT) {
            Ok(n) => Some(n),
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => Some(0),
            Err(_) => None,
        };
    }
}

/// bind(2) to `path`, going through `/proc/self/fd/N/NAME` of the parent
/// directory when the path does not fit `sun_path` (108 bytes): container
/// directories under deep storage roots easily exceed it.
/// A nonblocking, CLOEXEC unix listening socket at `path` (a stale file
/// there is replaced), mode 0600 from the start; shared by the attach and
/// console sockets.
pub fn listen_unix(path: &Path, backlog: i32) -> io::Result<OwnedFd> {
    let listener = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    match rustix::fs::unlink(path) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    // The socket file takes the socket inode's mode (minus umask) at bind
    // time, so fchmod before bind means no window in which other users
    // could connect, without touching the process-wide umask.
    rustix::fs::fchmod(&listener, Mode::from_raw_mode(0o600))?;
    bind_long(&listener, path)?;
    // For kernels that ignore the fchmod above; a no-op otherwise.
    rustix::fs::chmod(path, Mode::from_raw_mode(0o600))?;
    rustix::net::listen(&listener, backlog)?;
    Ok(listener)
}

fn bind_long(sock: &OwnedFd, path: &Path) -> io::Result<()> {
    const SUN_PATH_MAX: usize = 107;
    if path.as_os_str().len() <= SUN_PATH_MAX {
        let addr = SocketAddrUnix::new(path)?;
        return Ok(rustix::net::bind(sock, &addr)?);
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or(io::ErrorKind::InvalidInput)?;
    let dir = rustix::fs::open(
        parent,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut short = b"/proc/self/fd/".to_vec();
    crate::sync::push_int(&mut short, dir.as_fd().as_raw_fd() as i64);
    short.push(b'/');
    short.extend_from_slice(name.as_bytes());
    let addr = SocketAddrUnix::new(std::ffi::OsStr::from_bytes(&short))?;
    Ok(rustix::net::bind(sock, &addr)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        let (a, _b) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        Client::new(a)
    }

    fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut f = berth_types::monitor::attach_header(kind, body.len() as u32).to_vec();
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn raw_input_passes_through() {
        let mut c = client();
        let mut stdin = Vec::new();
        c.feed(b"hello", Some(&mut stdin)).unwrap();
        c.feed(&[ATTACH_HELLO], Some(&mut stdin)).unwrap();
        assert_eq!(stdin, b"hello\xb7");
        assert_eq!(c.mode, InputMode::Raw);
        assert!(c.ends_stdin());
        // A byte that starts like a hello but is not one is raw too.
        let mut c = client();
        let mut stdin = Vec::new();
        c.feed(&[ATTACH_HELLO, 0], Some(&mut stdin)).unwrap();
        assert!(stdin.is_empty());
        c.feed(b"x", Some(&mut stdin)).unwrap();
        assert_eq!(stdin, [ATTACH_HELLO, 0, b'x']);
    }

    #[test]
    fn framed_input_split_anywhere() {
        let mut wire = vec![ATTACH_HELLO, 0, 0, 0, 0];
        wire.extend(frame(ATTACH_STDIN, b"ab"));
        wire.extend(frame(ATTACH_RESIZE, &[0, 40, 0, 120]));
        wire.extend(frame(9, b"future"));
        wire.extend(frame(ATTACH_STDIN, b"c"));
        wire.extend(frame(ATTACH_STDIN_CLOSE, b""));
        for split in 0..wire.len() {
            let mut c = client();
            let mut stdin = Vec::new();
            let a = c.feed(&wire[..split], Some(&mut stdin)).unwrap();
            let b = c.feed(&wire[split..], Some(&mut stdin)).unwrap();
            assert_eq!(stdin, b"abc", "split {split}");
            assert_eq!(a.resize.or(b.resize), Some((40, 120)));
            assert!(b.close_stdin);
            assert!(c.inbuf.is_empty());
        }
        let mut c = client();
        let mut w = vec![ATTACH_HELLO, 0, 0, 0, 0];
        assert!(!{
            c.feed(&w, None).unwrap();
            c.ends_stdin()
        });
        w = frame(ATTACH_STDIN, b"");
        c.feed(&w, None).unwrap();
        assert!(c.ends_stdin());
        c.feed(&frame(ATTACH_DETACH, b""), None).unwrap();
        assert!(!c.ends_stdin());
        assert!(c.feed(&[ATTACH_STDIN, 0xff, 0, 0, 0], None).is_err());
    }
}
