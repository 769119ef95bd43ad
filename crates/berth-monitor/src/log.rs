//! Log writer: k8s-file (`TIMESTAMP STREAM F|P TEXT` per line), Docker's
//! json-file, or nothing; with size-based rotation.
//!
//! k8s-file: `F` marks a full line (its newline is not written into TEXT),
//! `P` a partial one: the bytes after the last newline of a read, which the
//! next line continues. Readers (`berth logs`) join `P` lines with the next
//! one. json-file: one object per line; a partial line's `log` lacks the
//! trailing newline (how Docker marks it).

use std::io;
use std::os::unix::io::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use crate::args::{Args, LogDriver};

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

/// Split `data` into records: `(line without newline, full?)`.
fn records(data: &[u8]) -> impl Iterator<Item = (&[u8], bool)> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        Some(match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = &rest[..i];
                rest = &rest[i + 1..];
                (line, true)
            }
            None => (std::mem::take(&mut rest), false),
        })
    })
}

/// Append one k8s-file record.
fn k8s_record(
    out: &mut Vec<u8>,
    ts: &[u8; TIMESTAMP_LEN],
    stream: Stream,
    line: &[u8],
    full: bool,
) {
    out.extend_from_slice(ts);
    out.push(b' ');
    out.extend_from_slice(stream.name());
    out.push(b' ');
    out.push(if full { b'F' } else { b'P' });
    out.push(b' ');
    out.extend_from_slice(line);
    out.push(b'\n');
}

/// Append one json-file record, Docker's field order and time format.
fn json_record(
    out: &mut Vec<u8>,
    ts: &[u8; TIMESTAMP_LEN],
    stream: Stream,
    line: &[u8],
    full: bool,
) {
    out.extend_from_slice(b"{\"log\":\"");
    push_json_bytes(out, line);
    if full {
        out.extend_from_slice(b"\\n");
    }
    out.extend_from_slice(b"\",\"stream\":\"");
    out.extend_from_slice(stream.name());
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(&ts[..29]);
    out.extend_from_slice(b"Z\"}\n");
}

/// JSON string contents for `bytes`; invalid UTF-8 becomes U+FFFD (what
/// Docker's encoder does: JSON cannot carry arbitrary bytes).
pub fn push_json_bytes(out: &mut Vec<u8>, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let (valid, bad) = match std::str::from_utf8(bytes) {
            Ok(_) => (bytes.len(), 0),
            Err(e) => (
                e.valid_up_to(),
                e.error_len().unwrap_or(bytes.len() - e.valid_up_to()),
            ),
        };
        push_json_escaped(out, &bytes[..valid]);
        if bad > 0 {
            out.extend_from_slice(b"\\ufffd");
        }
        bytes = &bytes[valid + bad..];
    }
}

/// Escape valid UTF-8 `bytes` into JSON string contents (no quotes): quote,
/// backslash and control characters (and DEL, for readability) escaped; bytes of
/// multi-byte characters pass through.
pub fn push_json_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
            _ => out.push(b),
        }
    }
}

/// Append the k8s-file lines for one chunk of output to `out`.
pub fn encode_chunk(out: &mut Vec<u8>, ts: &[u8; TIMESTAMP_LEN], stream: Stream, data: &[u8]) {
    for (line, full) in records(data) {
        k8s_record(out, ts, stream, line, full);
    }
}

/// The open log: its format, file and rotation state.
pub struct LogFile {
    /// `None` for the `none` driver.
    fd: Option<OwnedFd>,
    path: PathBuf,
    driver: LogDriver,
    max_size: u64,
    max_file: u32,
    /// Bytes in the live file.
    size: u64,
    buf: Vec<u8>,
}

fn open_append(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    p.into()
}

impl LogFile {
    /// Open (create 0600) for appending, k8s-file, no rotation; CLOEXEC so
    /// no child inherits it.
    pub fn open(path: &Path) -> io::Result<Self> {
        let fd = open_append(path)?;
        let size = rustix::fs::fstat(&fd)?.st_size as u64;
        Ok(LogFile {
            fd: Some(fd),
            path: path.to_owned(),
            driver: LogDriver::K8sFile,
            max_size: 0,
            max_file: 1,
            size,
            buf: Vec::new(),
        })
    }

    /// Open the log `args` asks for (driver, rotation).
    pub fn for_args(args: &Args) -> io::Result<Self> {
        if args.log_driver == LogDriver::None {
            return Ok(LogFile {
                fd: None,
                path: args.log_path.clone(),
                driver: LogDriver::None,
                max_size: 0,
                max_file: 1,
                size: 0,
                buf: Vec::new(),
            });
        }
        let mut log = LogFile::open(&args.log_path)?;
        log.driver = args.log_driver;
        log.max_size = args.log_max_size;
        log.max_file = args.log_max_file.max(1);
        Ok(log)
    }

    /// Log one chunk. Write errors (full disk) are dropped: losing log lines
    /// must not stop the relay or lose the exit code.
    pub fn write_chunk(&mut self, stream: Stream, data: &[u8]) {
        if self.fd.is_none() {
            return;
        }
        let ts = now_timestamp();
        self.buf.clear();
        // Record by record, so rotation happens on record boundaries and a
        // file exceeds max-size by at most one record.
        let mut buf = std::mem::take(&mut self.buf);
        for (line, full) in records(data) {
            match self.driver {
                LogDriver::JsonFile => json_record(&mut buf, &ts, stream, line, full),
                _ => k8s_record(&mut buf, &ts, stream, line, full),
            }
            if self.max_size > 0 && self.size + buf.len() as u64 >= self.max_size {
                self.write_out(&buf);
                buf.clear();
                self.rotate();
            }
        }
        self.write_out(&buf);
        buf.clear();
        // Don't keep a big buffer alive after a burst: it would stay in the
        // monitor's private memory for the container's whole life.
        if buf.capacity() > 64 * 1024 {
            buf = Vec::new();
        }
        self.buf = buf;
    }

    fn write_out(&mut self, mut rest: &[u8]) {
        let Some(fd) = &self.fd else { return };
        while !rest.is_empty() {
            match rustix::io::write(fd, rest) {
                Ok(0) => break,
                Ok(n) => {
                    rest = &rest[n..];
                    self.size += n as u64;
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => break,
            }
        }
    }

    /// Shift `LOG.i` to `LOG.(i+1)` (the oldest falls off), `LOG` to
    /// `LOG.1`, and start a new `LOG`. With one file, a fresh file is
    /// renamed over `LOG`, so a reader never sees it missing or truncated
    /// in place (it notices the new inode).
    fn rotate(&mut self) {
        let n = self.max_file;
        if n > 1 {
            for i in (1..n - 1).rev() {
                let _ = std::fs::rename(
                    with_suffix(&self.path, &format!(".{i}")),
                    with_suffix(&self.path, &format!(".{}", i + 1)),
                );
            }
            let _ = std::fs::rename(&self.path, with_suffix(&self.path, ".1"));
        } else {
            let fresh = with_suffix(&self.path, ".new");
            let _ = std::fs::remove_file(&fresh);
            if open_append(&fresh).is_ok() {
                let _ = std::fs::rename(&fresh, &self.path);
            }
        }
        // On failure keep writing to the old file: losing rotation is
        // better than losing output.
        if let Ok(fd) = open_append(&self.path) {
            self.size = rustix::fs::fstat(&fd).map_or(0, |st| st.st_size as u64);
            self.fd = Some(fd);
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

    #[test]
    fn json_records() {
        let ts = format_timestamp(0, 5);
        let mut out = Vec::new();
        for (line, full) in records(b"a\"b\n\xff\x01z") {
            json_record(&mut out, &ts, Stream::Stdout, line, full);
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"log\":\"a\\\"b\\n\",\"stream\":\"stdout\",\"time\":\"1970-01-01T00:00:00.000000005Z\"}\n\
             {\"log\":\"\\ufffd\\u0001z\",\"stream\":\"stdout\",\"time\":\"1970-01-01T00:00:00.000000005Z\"}\n"
        );
    }

    #[test]
    fn rotation_keeps_whole_records_and_max_files() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("log");
        let mut log = LogFile::open(&path).unwrap();
        log.max_size = 1000;
        log.max_file = 3;
        let mut all = Vec::new();
        for i in 0..200 {
            let line = format!("line {i:05}\n");
            all.extend_from_slice(line.as_bytes());
            log.write_chunk(Stream::Stdout, line.as_bytes());
        }
        let mut names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["log", "log.1", "log.2"]);
        let mut text = String::new();
        for n in ["log.2", "log.1", "log"] {
            let t = std::fs::read_to_string(d.path().join(n)).unwrap();
            // max-size plus at most one record.
            assert!(t.len() < 1000 + 60, "{n}: {}", t.len());
            assert!(t.is_empty() || t.ends_with('\n'));
            text.push_str(&t);
        }
        let lines: Vec<&str> = text.lines().map(|l| &l[TIMESTAMP_LEN + 10..]).collect();
        let last: Vec<String> = (200 - lines.len()..200)
            .map(|i| format!("line {i:05}"))
            .collect();
        assert_eq!(lines, last);

        let mut one = LogFile::open(&d.path().join("single")).unwrap();
        one.max_size = 100;
        for _ in 0..10 {
            one.write_chunk(
                Stream::Stderr,
                b"0123456789012345678901234567890123456789\n",
            );
        }
        let t = std::fs::read_to_string(d.path().join("single")).unwrap();
        assert!(t.len() < 200);
        assert!(!d.path().join("single.1").exists());
    }
}
