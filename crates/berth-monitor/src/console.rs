//! The container's terminal: the runtime connects to a console socket we
//! listen on (`--console-socket`) and sends the pty master with
//! SCM_RIGHTS; we relay the master and apply window sizes to it.

use std::io;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;
use rustix::io::Errno;
use rustix::net::SocketFlags;

/// The listening console socket, until the master arrived.
pub struct ConsoleSocket {
    listener: OwnedFd,
    /// Its path, passed to the runtime and removed once done.
    pub path: PathBuf,
}

/// `ATTACH_SOCKET.console`: beside the attach socket, which already fits
/// `sun_path` with room to spare (the runtime cannot use the
/// `/proc/self/fd` trick `attach.rs` uses for long paths).
pub fn console_path(attach_socket: &Path) -> PathBuf {
    let mut p = attach_socket.as_os_str().to_owned();
    p.push(".console");
    p.into()
}

impl ConsoleSocket {
    /// Listen at `path` (mode 0600, replacing a stale file).
    pub fn bind(path: &Path) -> io::Result<Self> {
        // runc connects once: a backlog of one is enough.
        let listener = crate::attach::listen_unix(path, 1)?;
        Ok(ConsoleSocket {
            listener,
            path: path.to_owned(),
        })
    }

    /// The listening fd, for polling.
    pub fn fd(&self) -> &OwnedFd {
        &self.listener
    }

    /// Accept the runtime's connection and take the master it sends
    /// (nonblocking, CLOEXEC). `Ok(None)`: nothing there yet.
    pub fn receive(&self) -> io::Result<Option<OwnedFd>> {
        let conn = match rustix::net::accept_with(&self.listener, SocketFlags::CLOEXEC) {
            Ok(c) => c,
            Err(Errno::AGAIN) | Err(Errno::INTR) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let master = recv_fd(&conn)?;
        rustix::fs::fcntl_setfl(&master, OFlags::NONBLOCK | OFlags::RDWR)?;
        Ok(Some(master))
    }

    /// Remove the socket file.
    pub fn remove(self) {
        let _ = rustix::fs::unlink(&self.path);
    }
}

/// Receive one fd (SCM_RIGHTS) on `sock`; the runtime sends the pty's name
/// as the data, which is not needed.
fn recv_fd(sock: &OwnedFd) -> io::Result<OwnedFd> {
    let mut data = [0u8; 256];
    // u64 array: cmsg buffers must be aligned for struct cmsghdr.
    let mut control = [0u64; 8];
    loop {
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: zeroed msghdr is valid; every pointer set below outlives
        // the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: valid socket and msghdr.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        // SAFETY: walking the control buffer the kernel filled, with the
        // libc macros that bound every access by msg_controllen.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                    let fd: i32 = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    return Ok(OwnedFd::from_raw_fd(fd));
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "console socket message without a file descriptor",
        ));
    }
}

/// Set the terminal's window size (rows, columns).
pub fn set_winsize(master: &OwnedFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer.
    unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}
