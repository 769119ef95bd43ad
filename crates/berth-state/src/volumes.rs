//! Volume records: what `berth volume` manages.
//!
//! Why volumes live in the state database (a `volumes` table, schema v4)
//! and not as files under `ROOT/volumes` with a lock: a volume's name must
//! be unique across concurrent `volume create` / `run -v name:/x` calls,
//! and SQLite's `PRIMARY KEY` under `BEGIN IMMEDIATE` gives exactly that
//! with no extra lock file (RELIABILITY.md 27: 5,000 volumes must leave no
//! lock files behind); listing thousands is one query instead of thousands
//! of file reads; and "which containers use this volume" is answered from
//! the same database that holds the containers. The data itself lives in
//! `ROOT/volumes/NAME/_data` (Podman's layout).

use berth_types::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    /// Unique name (64 hex digits for anonymous volumes).
    pub name: String,
    /// Always `local`: berth has no volume plugins.
    pub driver: String,
    /// Host directory holding the data (`ROOT/volumes/NAME/_data`).
    pub mountpoint: String,
    /// Creation time, RFC 3339.
    pub created: String,
    /// `--label key=value`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `--opt key=value`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Made for one container (`-v /path`, an image `VOLUME`); `rm -v`
    /// removes it with that container.
    #[serde(default)]
    pub anonymous: bool,
    /// Still empty from creation: the first container to mount it copies in
    /// what its image has at the mount point.
    #[serde(default)]
    pub needs_copy_up: bool,
}

/// Check a volume name: Podman's `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 253
/// bytes (it becomes a directory name, so `/` and `..` must be impossible).
pub fn validate_volume_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && name.len() <= 253;
    if !ok {
        return Err(Error::invalid(format!(
            "invalid volume name {name:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
        ))
        .with_subject(name));
    }
    Ok(())
}

/// The error for a volume that does not exist. Its kind is
/// `NoSuchContainer` because berth-types has no volume kind yet; it gives the
/// same exit codes Podman uses for a missing volume (1 for `rm`, 125 else).
pub fn no_such_volume(name: &str) -> Error {
    Error::new(
        ErrorKind::NoSuchContainer,
        format!("no volume with name {name:?} found: no such volume"),
    )
    .with_subject(name)
}

/// The error for a volume name already taken.
pub fn volume_exists(name: &str) -> Error {
    Error::new(
        ErrorKind::NameInUse,
        format!("volume with name {name} already exists: volume already exists"),
    )
    .with_subject(name)
}
