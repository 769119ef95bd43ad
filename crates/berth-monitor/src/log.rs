//! k8s-file log writer: `TIMESTAMP STREAM F|P TEXT` per line.
//!
//! `F` marks a full line (its newline is not written into TEXT), `P` a
//! partial one: the bytes after the last newline of a read, which the next
//! line continues. Readers (`berth logs`) join `P` lines with the next one.

use std::io;
use std::os::unix::io::OwnedFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

/// Which container stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The container's stdout.
    Stdout,
    /// The container's stderr.
    Stderr,
}

impl Stream {
    /// The word written in the log line.
    pub fn name(self) -> &'static [u8] {
        match self {
            Stream::Stdout => b"stdout",
            Stream::Stderr => b"stderr",
        }
    }

    /// The attach frame stream byte.
    pub fn attach_byte(self) -> u8 {
        match self {
            Stream::Stdout => berth_types::monitor::ATTACH_STDOUT,
            Stream::Stderr => berth_types::monitor::ATTACH_STDERR,
        }
    }
}

/// Length of [`format_timestamp`]'s output.
pub const TIMESTAMP_LEN: usize = 35;

/// Format `secs`.`nanos` since the epoch as RFC 3339 UTC with nanoseconds:
/// `2026-11-26T22:56:09.123456789+00:00`. By hand: chrono/jiff would be
/// hundreds of KB of code for one fixed format.
pub fn format_timestamp(secs: i64, nanos: u32) -> [u8; TIMESTAMP_LEN] {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    let mut out = *b"0000-00-00T00:00:00.000000000+00:00";
    put_digits(&mut out[0..4], y.clamp(0, 9999) as u32);
    put_digits(&mut out[5..7], m);
    put_digits(&mut out[8..10], d);
    put_digits(&mut out[11..13], sod / 3600);
    put_digits(&mut out[14..16], sod / 60 % 60);
    put_digits(&mut out[17..19], sod % 60);
    put_digits(&mut out[20..29], nanos.min(999_999_999));
    out
}

/// Write `v` as zero-padded decimal filling `dst`.
fn put_digits(dst: &mut [u8], mut v: u32) {
    for b in dst.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Current wall-clock time, formatted.
pub fn now_timestamp() -> [u8; TIMESTAMP_LEN] {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_timestamp(d.as_secs() as i64, d.subsec_nanos())
}

/// Append the k8s-file lines for one chunk of output to `out`.
pub fn encode_chunk(out: &mut Vec<u8>, ts: &[u8; TIMESTAMP_LEN], stream: Stream, data: &[u8]) {
    let mut rest = data;
    while !rest.is_empty() {
        let (line, tag, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], b'F', &rest[i + 1..]),
            None => (rest, b'P', &rest[rest.len()..]),
        };
        out.extend_from_slice(ts);
        out.push(b' ');
        out.extend_from_slice(stream.name());
        out.push(b' ');
        out.push(tag);
        out.push(b' ');
        out.extend_from_slice(line);
        out.push(b'\n');
        rest = next;
    }
}

/// The open log file.
pub struct LogFile {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl LogFile {
    /// Open (create 0600) for appending; CLOEXEC so no child inherits it.
    pub fn open(path: &Path) -> io::Result<Self> {
        let fd = rustix::fs::open(
            path,
            OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )?;
        Ok(LogFile {
            fd,
            buf: Vec::new(),
        })
    }

    /// Log one chunk. Write errors (full disk) are dropped: losing log lines
    /// must not stop the relay or lose the exit code.
    pub fn write_chunk(&mut self, stream: Stream, data: &[u8]) {
        self.buf.clear();
        encode_chunk(&mut self.buf, &now_timestamp(), stream, data);
        let mut rest = &self.buf[..];
        while !rest.is_empty() {
            match rustix::io::write(&self.fd, rest) {
                Ok(0) => break,
                Ok(n) => rest = &rest[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => break,
            }
        }
        // Don't keep a big buffer alive after a burst: it would stay in the
        // monitor's private memory for the container's whole life.
        if self.buf.capacity() > 64 * 1024 {
            self.buf = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(
            &format_timestamp(0, 0),
            b"1970-01-01T00:00:00.000000000+00:00"
        );
        // 2026-11-26T22:56:09Z
        assert_eq!(
            &format_timestamp(1_795_733_769, 123_456_789),
            b"2026-11-26T22:56:09.123456789+00:00"
        );
        // Leap day, and the day after.
        assert_eq!(
            &format_timestamp(951_782_400, 5)[..29],
            b"2000-02-29T00:00:00.000000005"
        );
        assert_eq!(
            &format_timestamp(951_868_799, 0)[..19],
            b"2000-02-29T23:59:59"
        );
        assert_eq!(
            &format_timestamp(951_868_800, 0)[..19],
            b"2000-03-01T00:00:00"
        );
        assert_eq!(
            &format_timestamp(4_102_444_800, 0)[..19],
            b"2100-01-01T00:00:00"
        );
    }

    #[test]
    fn chunks() {
        let ts = format_timestamp(0, 0);
        let mut out = Vec::new();
        encode_chunk(&mut out, &ts, Stream::Stdout, b"a\n\nbc");
        let t = std::str::from_utf8(&ts).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{t} stdout F a\n{t} stdout F \n{t} stdout P bc\n")
        );
        let mut out = Vec::new();
        encode_chunk(&mut out, &ts, Stream::Stderr, b"x\n");
        assert_eq!(String::from_utf8(out).unwrap(), format!("{t} stderr F x\n"));
    }
}
