//! The client side of the monitor's attach socket: decoding output frames
//! and feeding stdin (protocol in `berth_types::monitor`).

use berth_types::monitor::{ATTACH_HEADER_LEN, ATTACH_STDERR};
use berth_types::{Error, Result};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

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
}
