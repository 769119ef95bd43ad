//! The event log: every lifecycle change appended as one JSON line to
//! `ROOT/events/events.log`, capped in size by rotating to `events.log.1`
//! (so the log never exceeds twice the cap, however many restarts happen).
//!
//! Writing is best effort: an event that cannot be written never fails the
//! operation it describes. Appends are single `write`s on an `O_APPEND`
//! file, so concurrent berth processes never interleave within a line.

use crate::Runtime;
use berth_types::event::Event;
use berth_types::{ContainerRecord, Error, Result};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Size at which the log rotates.
pub const MAX_LOG_BYTES: u64 = 1 << 20;
const LOG: &str = "events.log";
const ROTATED: &str = "events.log.1";
/// Name of the lock that serialises rotation.
const ROTATE_LOCK: &str = "events";

/// Which events to read.
#[derive(Debug, Clone, Default)]
pub struct EventsOptions {
    /// Only events at or after this time.
    pub since: Option<jiff::Timestamp>,
    /// Only events before this time; also ends a stream.
    pub until: Option<jiff::Timestamp>,
    /// `key=value` filters: container, event (or status), image, type, label.
    pub filters: Vec<String>,
    /// Keep streaming new events (until `until`, or forever).
    pub stream: bool,
}

fn matches(ev: &Event, filter: &str) -> Result<bool> {
    let (k, v) = filter
        .split_once('=')
        .ok_or_else(|| Error::invalid(format!("invalid filter {filter:?}: expected KEY=VALUE")))?;
    Ok(match k {
        "container" => ev.kind == "container" && (ev.name == v || ev.id.starts_with(v)),
        "event" | "status" => ev.status == v,
        "image" => image_matches(&ev.image, v),
        "type" => ev.kind == v,
        "label" => match v.split_once('=') {
            Some((lk, lv)) => ev.attributes.get(lk).is_some_and(|x| x == lv),
            None => ev.attributes.contains_key(v),
        },
        _ => {
            return Err(Error::invalid(format!(
                "invalid filter {k:?}: supported are container, event, image, type, label"
            )))
        }
    })
}

/// `image=` matches the full name, the name without its tag, or the last
/// path part (`busybox` for `localhost/busybox:latest`), with or without tag.
fn image_matches(image: &str, want: &str) -> bool {
    let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    let untagged = match image[slash..].rfind(':') {
        Some(i) => &image[..slash + i],
        None => image,
    };
    [image, untagged, &image[slash..], &untagged[slash..]].contains(&want)
}

fn keep(opts: &EventsOptions, ev: &Event) -> Result<bool> {
    let t: Option<jiff::Timestamp> = ev.time.parse().ok();
    if matches!((opts.since, t), (Some(s), Some(t)) if t < s)
        || matches!((opts.until, t), (Some(u), Some(t)) if t >= u)
    {
        return Ok(false);
    }
    // Podman's and Docker's rule: values of one key are alternatives
    // (label values must all match); different keys must all match.
    let key = |f: &String| f.split_once('=').map_or(f.clone(), |(k, _)| k.to_string());
    let mut keys: Vec<String> = opts.filters.iter().map(key).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let mut of_key = opts.filters.iter().filter(|f| key(f) == k);
        let ok = if k == "label" {
            of_key.try_fold(true, |all, f| Ok::<_, Error>(all && matches(ev, f)?))?
        } else {
            of_key.try_fold(false, |any, f| Ok::<_, Error>(any || matches(ev, f)?))?
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

impl Runtime {
    fn events_file(&self, name: &str) -> PathBuf {
        self.paths.events_dir().join(name)
    }

    /// Append an event (best effort).
    pub(crate) fn emit(&self, ev: Event) {
        let _ = self.try_emit(&ev);
    }

    /// A container event with the container's details filled in.
    pub(crate) fn emit_container(
        &self,
        rec: &ContainerRecord,
        status: &str,
        exit_code: Option<i32>,
    ) {
        self.emit_container_with(rec, status, exit_code, &[]);
    }

    /// [`Runtime::emit_container`] with extra attributes
    /// (`health_status=healthy`).
    pub(crate) fn emit_container_with(
        &self,
        rec: &ContainerRecord,
        status: &str,
        exit_code: Option<i32>,
        extra: &[(&str, &str)],
    ) {
        let c = &rec.config;
        let mut attributes = c.labels.clone();
        attributes.insert("image".into(), c.image_name.clone());
        attributes.insert("name".into(), c.name.clone());
        for (k, v) in extra {
            attributes.insert(k.to_string(), v.to_string());
        }
        self.emit(Event {
            id: c.id.clone(),
            image: c.image_name.clone(),
            name: c.name.clone(),
            status: status.into(),
            kind: "container".into(),
            time: jiff::Timestamp::now().to_string(),
            exit_code,
            attributes,
        });
    }

    fn try_emit(&self, ev: &Event) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = self.paths.events_dir();
        std::fs::create_dir_all(&dir)?;
        let mut line = serde_json::to_vec(ev).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let path = dir.join(LOG);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(&line)?;
        if f.metadata()?.len() > MAX_LOG_BYTES {
            self.rotate(&path)?;
        }
        Ok(())
    }

    /// Rename the full log aside; the lock and the re-check make sure two
    /// writers that both saw it full rotate it once.
    fn rotate(&self, path: &Path) -> std::io::Result<()> {
        let _guard = self
            .locks
            .lock_named(ROTATE_LOCK)
            .map_err(std::io::Error::other)?;
        if std::fs::metadata(path)?.len() > MAX_LOG_BYTES {
            std::fs::rename(path, self.events_file(ROTATED))?;
        }
        Ok(())
    }

    /// Read events matching `opts`, oldest first, calling `sink` for each;
    /// with `stream`, keep following the log. Stops when `sink` fails (the
    /// reader went away).
    pub fn events(
        &self,
        opts: &EventsOptions,
        mut sink: impl FnMut(&Event) -> std::io::Result<()>,
    ) -> Result<()> {
        for f in &opts.filters {
            // Reject bad filters before reading anything.
            let probe = Event {
                id: String::new(),
                image: String::new(),
                name: String::new(),
                status: String::new(),
                kind: String::new(),
                time: String::new(),
                exit_code: None,
                attributes: Default::default(),
            };
            matches(&probe, f)?;
        }
        let mut emit = |line: &str| -> Result<bool> {
            let Ok(ev) = serde_json::from_str::<Event>(line) else {
                return Ok(true);
            };
            if keep(opts, &ev)? && sink(&ev).is_err() {
                return Ok(false);
            }
            Ok(true)
        };
        for name in [ROTATED, LOG] {
            let Ok(f) = std::fs::File::open(self.events_file(name)) else {
                continue;
            };
            for line in BufReader::new(f).lines() {
                let line = line.map_err(|e| Error::io("reading the event log", e))?;
                if !emit(&line)? {
                    return Ok(());
                }
            }
        }
        if !opts.stream {
            return Ok(());
        }
        self.follow(opts, emit)
    }

    /// Follow the log for new lines, across rotations.
    fn follow(
        &self,
        opts: &EventsOptions,
        mut emit: impl FnMut(&str) -> Result<bool>,
    ) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let path = self.events_file(LOG);
        let open = |at_end: bool| -> Option<(BufReader<std::fs::File>, u64)> {
            let mut f = std::fs::File::open(&path).ok()?;
            let ino = f.metadata().ok()?.ino();
            if at_end {
                f.seek(SeekFrom::End(0)).ok()?;
            }
            Some((BufReader::new(f), ino))
        };
        let mut current = open(true);
        let mut pending = String::new();
        loop {
            if let Some(u) = opts.until {
                if jiff::Timestamp::now() >= u {
                    return Ok(());
                }
            }
            if let Some((reader, _)) = current.as_mut() {
                loop {
                    let n = reader
                        .read_line(&mut pending)
                        .map_err(|e| Error::io("reading the event log", e))?;
                    if n == 0 || !pending.ends_with('\n') {
                        break;
                    }
                    if !emit(pending.trim_end())? {
                        return Ok(());
                    }
                    pending.clear();
                }
            }
            std::thread::sleep(Duration::from_millis(100));
            let now_ino = std::fs::metadata(&path).ok().map(|m| m.ino());
            if now_ino != current.as_ref().map(|(_, ino)| *ino) {
                // Rotated (or created): the new file is read from its start.
                current = open(false);
                pending.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(status: &str, name: &str) -> Event {
        Event {
            id: "ab".repeat(32),
            image: "localhost/busybox:latest".into(),
            name: name.into(),
            status: status.into(),
            kind: "container".into(),
            time: "2026-01-01T00:00:00Z".into(),
            exit_code: None,
            attributes: [("app".to_string(), "web".to_string())]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn filters() {
        let e = ev("start", "web");
        assert!(matches(&e, "container=web").unwrap());
        assert!(matches(&e, "container=abab").unwrap());
        assert!(!matches(&e, "container=db").unwrap());
        assert!(matches(&e, "event=start").unwrap());
        assert!(matches(&e, "image=localhost/busybox").unwrap());
        assert!(matches(&e, "image=busybox").unwrap());
        assert!(matches(&e, "type=container").unwrap());
        assert!(matches(&e, "label=app=web").unwrap());
        assert!(matches(&e, "bogus=1").is_err());
        let opts = EventsOptions {
            since: "2026-01-02T00:00:00Z".parse().ok(),
            ..Default::default()
        };
        assert!(!keep(&opts, &e).unwrap());
    }

    #[test]
    fn values_of_one_key_are_alternatives() {
        let e = ev("start", "web");
        let with = |f: &[&str]| EventsOptions {
            filters: f.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert!(keep(&with(&["event=die", "event=start"]), &e).unwrap());
        assert!(!keep(&with(&["event=start", "container=db"]), &e).unwrap());
        assert!(!keep(&with(&["label=app=web", "label=tier=x"]), &e).unwrap());
        assert!(keep(&with(&["type=container", "event=start"]), &e).unwrap());
    }
}
