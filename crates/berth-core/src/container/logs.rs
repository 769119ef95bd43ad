//! Reading container logs as the monitor writes them: k8s-file
//! (`TIMESTAMP STREAM TAG CONTENT`, TAG `F` for a full line, `P` for a
//! partial one that continues in the next record) or Docker's json-file
//! (told apart per line: JSON starts with `{`), across the monitor's
//! rotated files (`LOG.N` oldest … `LOG.1`, then `LOG`), byte-exact.

use berth_types::{Error, Result};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// RFC 3339 timestamp with nanoseconds, as written.
    pub timestamp: String,
    /// True for stderr.
    pub stderr: bool,
    /// True when the line is incomplete (continues in the next record).
    pub partial: bool,
    /// The text without its newline (invalid UTF-8 replaced).
    pub content: String,
    /// The text without its newline, exactly as the container wrote it.
    pub bytes: Vec<u8>,
}

impl LogLine {
    /// Parse one record of either format from raw bytes; `None` for garbage.
    pub fn parse_bytes(line: &[u8]) -> Option<LogLine> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        if line.first() == Some(&b'{') {
            return Self::parse_json(line);
        }
        let mut parts = line.splitn(4, |&b| b == b' ');
        let timestamp = String::from_utf8(parts.next()?.to_vec()).ok()?;
        let stderr = match parts.next()? {
            b"stdout" => false,
            b"stderr" => true,
            _ => return None,
        };
        let partial = match parts.next()? {
            b"F" => false,
            b"P" => true,
            _ => return None,
        };
        let bytes = parts.next().unwrap_or(b"").to_vec();
        Some(LogLine {
            timestamp,
            stderr,
            partial,
            content: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        })
    }

    /// Docker's json-file record.
    fn parse_json(line: &[u8]) -> Option<LogLine> {
        #[derive(serde::Deserialize)]
        struct Rec {
            log: String,
            stream: String,
            time: String,
        }
        let r: Rec = serde_json::from_slice(line).ok()?;
        let partial = !r.log.ends_with('\n');
        let content = r.log.strip_suffix('\n').unwrap_or(&r.log).to_string();
        Some(LogLine {
            timestamp: r.time,
            stderr: r.stream == "stderr",
            partial,
            bytes: content.clone().into_bytes(),
            content,
        })
    }

    /// Parse one k8s-file line; `None` for garbage.
    pub fn parse(line: &str) -> Option<LogLine> {
        Self::parse_bytes(line.as_bytes())
    }

    /// The record's time, when it parses.
    pub fn time(&self) -> Option<jiff::Timestamp> {
        self.timestamp.parse().ok()
    }
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Only records at or after this time.
    pub since: Option<jiff::Timestamp>,
    /// Only records before this time.
    pub until: Option<jiff::Timestamp>,
    /// Only the last N lines (of what `since`/`until` keep).
    pub tail: Option<usize>,
    /// Keep reading as the container writes, until it stops.
    pub follow: bool,
}

fn keep(opts: &LogOptions, l: &LogLine) -> bool {
    let t = l.time();
    !matches!((opts.since, t), (Some(s), Some(t)) if t < s)
        && !matches!((opts.until, t), (Some(u), Some(t)) if t >= u)
}

/// The rotated files of `path` that exist, oldest first.
fn rotated(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for i in 1.. {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{i}"));
        let p = PathBuf::from(p);
        if !p.exists() {
            break;
        }
        out.push(p);
    }
    out.reverse();
    out
}

/// Read complete records from `reader` into `out` (those `opts` keeps);
/// an unfinished last record stays in `pending`.
fn read_available(
    reader: &mut BufReader<std::fs::File>,
    pending: &mut Vec<u8>,
    opts: &LogOptions,
    out: &mut Vec<LogLine>,
) -> Result<()> {
    loop {
        let n = reader
            .read_until(b'\n', pending)
            .map_err(|e| Error::io("reading log", e))?;
        if n == 0 || pending.last() != Some(&b'\n') {
            // Nothing more, or a record still being written: keep it and
            // finish it on the next read.
            return Ok(());
        }
        if let Some(l) = LogLine::parse_bytes(pending) {
            if keep(opts, &l) {
                out.push(l);
            }
        }
        pending.clear();
    }
}

/// Read the log at `path` (after its rotated files), calling `sink` for
/// every record kept, and with `follow` keep reading while
/// `still_running()` says the container runs, across rotations.
pub fn read_log(
    path: &Path,
    opts: &LogOptions,
    mut still_running: impl FnMut() -> bool,
    mut sink: impl FnMut(&LogLine) -> std::io::Result<()>,
) -> Result<()> {
    let mut lines: Vec<LogLine> = Vec::new();
    let mut pending = Vec::new();
    for old in rotated(path) {
        if let Ok(f) = std::fs::File::open(&old) {
            read_available(&mut BufReader::new(f), &mut pending, opts, &mut lines)?;
            pending.clear();
        }
    }
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !opts.follow => {
            return emit_all(lines, opts, &mut sink).map(drop)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::File::create(path)
            .map_err(|e| Error::io(format!("opening log {}", path.display()), e))?,
        Err(e) => return Err(Error::io(format!("opening log {}", path.display()), e)),
    };
    let mut inode = file.metadata().map(|m| m.ino()).unwrap_or(0);
    let mut reader = BufReader::new(file);
    read_available(&mut reader, &mut pending, opts, &mut lines)?;
    if !emit_all(lines, opts, &mut sink)? || !opts.follow {
        return Ok(());
    }
    let mut lines = Vec::new();
    loop {
        let running = still_running();
        read_available(&mut reader, &mut pending, opts, &mut lines)?;
        for l in lines.drain(..) {
            if sink(&l).is_err() {
                return Ok(());
            }
        }
        // Rotated: the old file is drained above (we hold it open); go on
        // with the new one from its start.
        match std::fs::metadata(path) {
            Ok(m) if m.ino() != inode => {
                read_available(&mut reader, &mut pending, opts, &mut lines)?;
                if let Ok(f) = std::fs::File::open(path) {
                    inode = f.metadata().map(|m| m.ino()).unwrap_or(0);
                    reader = BufReader::new(f);
                    pending.clear();
                    continue;
                }
            }
            Ok(m) => {
                // Truncated in place: start again from its beginning.
                let pos = reader.stream_position().unwrap_or(0);
                if m.len() < pos {
                    reader
                        .seek(SeekFrom::Start(0))
                        .map_err(|e| Error::io("reading log", e))?;
                }
            }
            Err(_) => {}
        }
        if !running {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Apply `tail` to what was read before following, and send it; false if
/// the sink stopped.
fn emit_all(
    mut lines: Vec<LogLine>,
    opts: &LogOptions,
    sink: &mut impl FnMut(&LogLine) -> std::io::Result<()>,
) -> Result<bool> {
    if let Some(n) = opts.tail {
        let full: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.partial)
            .map(|(i, _)| i)
            .collect();
        if full.len() > n {
            let cut = if n == 0 {
                lines.len()
            } else {
                full[full.len() - n - 1] + 1
            };
            lines.drain(..cut);
        }
    }
    for l in &lines {
        if sink(l).is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records() {
        let l =
            LogLine::parse("2026-11-26T22:56:09.123456789+00:00 stderr F hello world\n").unwrap();
        assert!(l.stderr && !l.partial);
        assert_eq!(l.content, "hello world");
        assert!(l.time().is_some());
        assert!(LogLine::parse("garbage").is_none());
        assert_eq!(LogLine::parse("t stdout P ").unwrap().content, "");
        let b = LogLine::parse_bytes(b"t stdout F \xff\x00\r\n").unwrap();
        assert_eq!(b.bytes, b"\xff\x00\r");
        let j = LogLine::parse_bytes(
            br#"{"log":"a\"b\n","stream":"stderr","time":"2026-01-01T00:00:00.000000001Z"}"#,
        )
        .unwrap();
        assert!(j.stderr && !j.partial && j.time().is_some());
        assert_eq!(j.content, "a\"b");
        let p = LogLine::parse_bytes(br#"{"log":"x","stream":"stdout","time":"t"}"#).unwrap();
        assert!(p.partial);
    }

    #[test]
    fn rotated_files_are_read_oldest_first() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log");
        std::fs::write(d.path().join("log.2"), "t stdout F one\n").unwrap();
        std::fs::write(d.path().join("log.1"), "t stdout F two\n").unwrap();
        std::fs::write(&p, "t stdout F three\n").unwrap();
        let mut out = Vec::new();
        read_log(
            &p,
            &LogOptions::default(),
            || false,
            |l| {
                out.push(l.content.clone());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(out, ["one", "two", "three"]);
    }

    #[test]
    fn tail_and_since() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log");
        std::fs::write(
            &p,
            "2026-01-01T00:00:01Z stdout F one\n2026-01-01T00:00:02Z stdout P tw\n2026-01-01T00:00:02Z stdout F o\n2026-01-01T00:00:03Z stderr F three\n",
        )
        .unwrap();
        let collect = |opts: LogOptions| {
            let mut out = Vec::new();
            read_log(
                &p,
                &opts,
                || false,
                |l| {
                    out.push(l.content.clone());
                    Ok(())
                },
            )
            .unwrap();
            out
        };
        assert_eq!(collect(LogOptions::default()), ["one", "tw", "o", "three"]);
        assert_eq!(
            collect(LogOptions {
                tail: Some(2),
                ..Default::default()
            }),
            ["tw", "o", "three"]
        );
        assert_eq!(
            collect(LogOptions {
                tail: Some(0),
                ..Default::default()
            }),
            Vec::<String>::new()
        );
        let since = "2026-01-01T00:00:02Z".parse().ok();
        assert_eq!(
            collect(LogOptions {
                since,
                ..Default::default()
            }),
            ["tw", "o", "three"]
        );
    }
}
