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
mod networks;
mod pods;
mod schema;
mod sqlite;
mod volumes;

use berth_types::exec::ExecSession;
use berth_types::net::Network;
use berth_types::{id, ContainerConfig, ContainerRecord, Error, ErrorKind, Result, RuntimeState};

pub use lookup::resolve;
pub use mem::MemStore;
pub use networks::{network_conflict, network_exists, no_such_network};
pub use pods::{no_such_pod, pod_exists};
pub use sqlite::SqliteStore;
pub use volumes::{no_such_volume, validate_volume_name, volume_exists, VolumeRecord};

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

    /// Replace the configuration of container `id` (`update` changes its
    /// resources). The ID and name must stay as they are: `rename` changes
    /// names, so the name column and the JSON can never disagree.
    fn save_config(&self, id: &str, config: &ContainerConfig) -> Result<()>;

    /// Store a new exec session of an existing container, dropping that
    /// container's oldest finished sessions beyond
    /// [`berth_types::exec::EXEC_SESSIONS_KEPT`].
    fn add_exec_session(&self, session: &ExecSession) -> Result<()>;

    /// The exec session with the full ID `id`.
    fn get_exec_session(&self, id: &str) -> Result<ExecSession>;

    /// Replace a stored exec session (same ID and container).
    fn save_exec_session(&self, session: &ExecSession) -> Result<()>;

    /// The exec sessions of container `container_id`, oldest first.
    fn exec_sessions(&self, container_id: &str) -> Result<Vec<ExecSession>>;

    /// Delete exec session `id`; an unknown ID is not an error. Removing a
    /// container removes its sessions too.
    fn remove_exec_session(&self, id: &str) -> Result<()>;

    /// Resolve user input to a full exec session ID: an exact ID or a unique
    /// ID prefix.
    fn lookup_exec_session(&self, id_or_prefix: &str) -> Result<String>;

    /// Store a new volume ([`ErrorKind::NameInUse`] when the name is taken,
    /// [`ErrorKind::InvalidInput`] for an invalid name).
    fn add_volume(&self, volume: &VolumeRecord) -> Result<()>;

    /// The volume named `name` (see [`no_such_volume`] otherwise).
    fn get_volume(&self, name: &str) -> Result<VolumeRecord>;

    /// Replace a stored volume (same name).
    fn save_volume(&self, volume: &VolumeRecord) -> Result<()>;

    /// Delete volume `name` (see [`no_such_volume`] when unknown).
    fn remove_volume(&self, name: &str) -> Result<()>;

    /// Every volume, sorted by name.
    fn list_volumes(&self) -> Result<Vec<VolumeRecord>>;

    /// Store a new network: [`ErrorKind::NameInUse`] when the name is
    /// taken, [`ErrorKind::InUse`] when another bridge network has the same
    /// interface or subnet (see [`network_conflict`]). Atomic, so two
    /// concurrent creates can never pick the same bridge or subnet.
    fn add_network(&self, network: &Network) -> Result<()>;

    /// The network named `name` (see [`no_such_network`] otherwise).
    fn get_network(&self, name: &str) -> Result<Network>;

    /// Every stored network, sorted by name.
    fn list_networks(&self) -> Result<Vec<Network>>;

    /// Delete network `name` and its address allocations.
    fn remove_network(&self, name: &str) -> Result<()>;

    /// Record that container `container_id` holds `ip` on `network`;
    /// `false` when someone already holds it.
    fn ipam_claim(&self, network: &str, ip: &str, container_id: &str) -> Result<bool>;

    /// Every allocation as `(network, ip, container_id)`, sorted.
    fn ipam_list(&self) -> Result<Vec<(String, String, String)>>;

    /// Free the addresses container `container_id` holds, on `network`
    /// only or on every network. Freeing nothing is not an error.
    fn ipam_release(&self, container_id: &str, network: Option<&str>) -> Result<()>;

    /// Store a new pod ([`ErrorKind::NameInUse`] when the name is taken).
    fn add_pod(&self, pod: &berth_types::pod::PodRecord) -> Result<()>;

    /// The pod with the full ID `id` (see [`no_such_pod`] otherwise).
    fn get_pod(&self, id: &str) -> Result<berth_types::pod::PodRecord>;

    /// Replace a stored pod (same ID and name).
    fn save_pod(&self, pod: &berth_types::pod::PodRecord) -> Result<()>;

    /// Delete pod `id`.
    fn remove_pod(&self, id: &str) -> Result<()>;

    /// Every pod, oldest first.
    fn list_pods(&self) -> Result<Vec<berth_types::pod::PodRecord>>;

    /// Resolve a pod name, full ID or unique ID prefix to its full ID.
    fn lookup_pod(&self, name_or_id: &str) -> Result<String> {
        pods::lookup_pod(name_or_id, &self.list_pods()?)
    }

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

/// The error for an exec session that does not exist.
pub fn no_such_exec_session(id: &str) -> Error {
    Error::new(
        ErrorKind::NoSuchContainer,
        format!("no exec session with ID {id} found: no such exec session"),
    )
    .with_subject(id)
}

/// Checks before a config replaces the stored one.
fn check_config_update(id: &str, old: &ContainerConfig, new: &ContainerConfig) -> Result<()> {
    if new.id != id || new.name != old.name {
        return Err(Error::internal(format!(
            "save_config of container {id} may not change its ID or name"
        )));
    }
    Ok(())
}

/// Resolve an exec session ID prefix among `ids`.
fn resolve_exec<'a>(input: &str, ids: impl IntoIterator<Item = &'a str>) -> Result<String> {
    let matches: Vec<&str> = ids.into_iter().filter(|i| i.starts_with(input)).collect();
    match matches.as_slice() {
        _ if input.is_empty() => Err(no_such_exec_session(input)),
        [one] => Ok(one.to_string()),
        [] => Err(no_such_exec_session(input)),
        many => {
            if let Some(exact) = many.iter().find(|i| **i == input) {
                return Ok(exact.to_string());
            }
            Err(Error::new(
                ErrorKind::AmbiguousId {
                    candidates: many.iter().map(|s| s.to_string()).collect(),
                },
                format!("more than one exec session matches {input:?}"),
            )
            .with_subject(input))
        }
    }
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
