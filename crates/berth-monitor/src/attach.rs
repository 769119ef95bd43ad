//! The attach socket: a listening unix stream socket; every client gets all
//! output as frames (`berth_types::monitor::attach_header` + data) and may
//! send bytes for the container's stdin.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SendFlags, SocketAddrUnix, SocketFlags, SocketType};

use crate::log::Stream;

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
        // The socket file takes the socket inode's mode (minus umask) at
        // bind time, so fchmod before bind means no window in which other
        // users could connect, without touching the process-wide umask.
        rustix::fs::fchmod(&listener, Mode::from_raw_mode(0o600))?;
        bind_long(&listener, path)?;
        // For kernels that ignore the fchmod above; a no-op otherwise.
        rustix::fs::chmod(path, Mode::from_raw_mode(0o600))?;
        rustix::net::listen(&listener, 64)?;
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
                Ok(fd) => self.clients.push(Client {
                    fd,
                    pending: Vec::new(),
                    reading: true,
                }),
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
