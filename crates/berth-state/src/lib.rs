//! `berth-state`: the container store.
//!
//! berth has no daemon; every command opens the store, reads or changes a
//! few records and exits. [`StateStore`] is the contract the engine codes
//! against; [`SqliteStore`] is the real, crash-safe, multi-process
//! implementation and [`MemStore`] an in-memory one for unit tests of the
//! engine rules. Both pass the same conformance suite
//! (`tests/conformance.rs`), so a rule that holds for one holds for the other.
//!
//! The store enforces only data rules (unique IDs and names, lookup
//! semantics); state-machine rules live in `berth-types` and `berth-core`.
//! Callers serialise changes to one container with its `berth-lock` lock; the
//! store itself is safe to use from many threads and processes at once.

#![warn(missing_docs)]

mod lookup;
mod mem;
mod schema;
mod sqlite;

use berth_types::{id, ContainerRecord, Error, ErrorKind, Result, RuntimeState};

pub use lookup::resolve;
pub use mem::MemStore;
pub use sqlite::SqliteStore;

/// How long the exit code of a removed container stays readable.
pub const EXIT_CODE_RETENTION_SECS: i64 = 300;

/// The recovery command named by every "database is corrupt" error.
pub const REPAIR_COMMAND: &str = "berth system check --repair";

/// Persistent storage of containers: configuration plus runtime state.
///
/// All methods take `&self`; implementations are `Send + Sync` so the engine
/// can hold a `Box<dyn StateStore>` and share it across threads.
pub trait StateStore: Send + Sync {
    /// Store a new container.
    ///
    /// Errors: [`ErrorKind::NameInUse`] when another container has the name,
    /// [`ErrorKind::Internal`] when the ID already exists (IDs are random, so
    /// a collision is a bug), [`ErrorKind::InvalidInput`] for an ID that is
    /// not 64 lowercase hex digits or an invalid name.
    fn add_container(&self, record: &ContainerRecord) -> Result<()>;

    /// The container with the full ID `id` ([`ErrorKind::NoSuchContainer`]
    /// otherwise). Use [`StateStore::lookup`] first for user input.
    fn get(&self, id: &str) -> Result<ContainerRecord>;

    /// Replace the runtime state of container `id`.
    fn save_state(&self, id: &str, state: &RuntimeState) -> Result<()>;

    /// Give container `id` a new name. Renaming to its current name is a
    /// no-op; a name held by another container fails with
    /// [`ErrorKind::NameInUse`] and changes nothing.
    fn rename(&self, id: &str, new_name: &str) -> Result<()>;

    /// Delete container `id`; its name becomes free at once.
    fn remove(&self, id: &str) -> Result<()>;

    /// Every container, oldest first (by creation time, then insertion).
    fn list(&self) -> Result<Vec<ContainerRecord>>;

    /// Resolve user input to a full container ID with Podman's rules: an
    /// exact name, else an exact full ID, else a unique ID prefix (only when
    /// the input is lowercase hex). See [`resolve`].
    fn lookup(&self, name_or_id: &str) -> Result<String>;

    /// The last exit code of a container removed within the last
    /// [`EXIT_CODE_RETENTION_SECS`] seconds (the store keeps it on `remove`),
    /// `None` if unknown.
    fn removed_exit_code(&self, id: &str) -> Result<Option<i32>>;

    /// The ID of the most recently created container (`--latest`), if any.
    fn latest(&self) -> Result<Option<String>>;

    /// IDs of the containers created from image `image_id`, oldest first
    /// (so `rmi` can refuse or list them).
    fn containers_using_image(&self, image_id: &str) -> Result<Vec<String>>;

    /// Problems found by a full consistency check of the store; empty when
    /// healthy (`berth system check`).
    fn integrity_check(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// The one-line error for a name held by container `holder`, worded like
/// Podman's so scripts matching on it keep working.
pub fn name_in_use(name: &str, holder: &str) -> Error {
    Error::new(
        ErrorKind::NameInUse,
        format!(
            "the container name \"{name}\" is already in use by {holder}. You have to remove \
             that container to be able to reuse that name: that name is already in use"
        ),
    )
    .with_subject(name)
}

/// The error for adding an ID that already exists.
fn id_exists(id: &str) -> Error {
    Error::internal(format!(
        "container ID {id} already exists in the state database"
    ))
    .with_subject(id)
}

/// Checks shared by every store before a record is written, so a bad ID can
/// never make lookup ambiguous between names and IDs.
fn validate_record(record: &ContainerRecord) -> Result<()> {
    if !id::is_full_id(record.id()) {
        return Err(Error::invalid(format!(
            "invalid container ID {:?}: must be 64 lowercase hex digits",
            record.id()
        ))
        .with_subject(record.id()));
    }
    id::validate_name(record.name())
}

/// The sort key for creation order: nanoseconds since the epoch, clamped to
/// `i64` (exact for years 1678–2262). Both stores order by this, then by
/// insertion.
fn created_key(record: &ContainerRecord) -> i64 {
    let ns = record.config.created.as_nanosecond();
    i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
}
