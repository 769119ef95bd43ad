//! Reading container logs in k8s-file format, as the monitor writes them:
//! `TIMESTAMP STREAM TAG CONTENT`, TAG `F` for a full line, `P` for a
//! partial one that continues in the next record.

use berth_types::{Error, Result};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;
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
    /// The text without its newline.
    pub content: String,
}

impl LogLine {
    /// Parse one k8s-file line; `None` for garbage.
    pub fn parse(line: &str) -> Option<LogLine> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let mut parts = line.splitn(4, ' ');
        let timestamp = parts.next()?.to_string();
        let stderr = match parts.next()? {
            "stdout" => false,
            "stderr" => true,
            _ => return None,
        };
        let partial = match parts.next()? {
            "F" => false,
            "P" => true,
            _ => return None,
        };
        Some(LogLine {
            timestamp,
            stderr,
            partial,
            content: parts.next().unwrap_or("").to_string(),
        })
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

/// Read the log at `path`, calling `sink` for every record kept, and with
/// `follow` keep reading while `still_running()` says the container runs.
pub fn read_log(
    path: &Path,
    opts: &LogOptions,
    mut still_running: impl FnMut() -> bool,
    mut sink: impl FnMut(&LogLine) -> std::io::Result<()>,
) -> Result<()> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !opts.follow => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::File::create(path)
            .map_err(|e| Error::io(format!("opening log {}", path.display()), e))?,
        Err(e) => return Err(Error::io(format!("opening log {}", path.display()), e)),
    };
    let mut reader = BufReader::new(file);
    let mut lines: Vec<LogLine> = Vec::new();
    let mut pending = String::new();
    let mut read_available =
        |reader: &mut BufReader<std::fs::File>, out: &mut Vec<LogLine>| -> Result<()> {
            loop {
                let n = reader
                    .read_line(&mut pending)
                    .map_err(|e| Error::io("reading log", e))?;
                if n == 0 || !pending.ends_with('\n') {
                    // Nothing more, or a record still being written: keep it
                    // and finish it on the next read.
                    return Ok(());
                }
                if let Some(l) = LogLine::parse(&pending) {
                    if keep(opts, &l) {
                        out.push(l);
                    }
                }
                pending.clear();
            }
        };
    read_available(&mut reader, &mut lines)?;
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
    let write = |lines: &mut Vec<LogLine>,
                 sink: &mut dyn FnMut(&LogLine) -> std::io::Result<()>|
     -> Result<bool> {
        for l in lines.drain(..) {
            if sink(&l).is_err() {
                return Ok(false);
            }
        }
        Ok(true)
    };
    if !write(&mut lines, &mut sink)? || !opts.follow {
        return Ok(());
    }
    loop {
        let running = still_running();
        read_available(&mut reader, &mut lines)?;
        if !write(&mut lines, &mut sink)? {
            return Ok(());
        }
        if !running {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
        // A rotated or truncated file: start again from its beginning.
        let pos = reader.stream_position().unwrap_or(0);
        if std::fs::metadata(path)
            .map(|m| m.len() < pos)
            .unwrap_or(false)
        {
            reader
                .seek(SeekFrom::Start(0))
                .map_err(|e| Error::io("reading log", e))?;
        }
    }
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
