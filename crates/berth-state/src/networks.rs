//! Network records and address allocations (IPAM).
//!
//! Why networks live in the state database and not as JSON files under
//! `ROOT/networks` (Podman's `/etc/containers/networks`): a new network's
//! bridge name and subnet are chosen from what exists, and two concurrent
//! `network create` calls must never pick the same ones. One `BEGIN
//! IMMEDIATE` transaction that checks and inserts gives that without a lock
//! file; the allocations (`ipam` table) reference the containers, so a
//! removed container's addresses go with it; and "which containers use this
//! network" is answered from the same database.

use berth_types::net::Network;
use berth_types::{Error, ErrorKind};

/// The error for a network that does not exist (exit 125 as in Podman;
/// `network rm` maps it to 1 like a missing volume).
pub fn no_such_network(name: &str) -> Error {
    Error::new(
        ErrorKind::NoSuchContainer,
        format!("unable to find network with name or ID {name}: network not found"),
    )
    .with_subject(name)
}

/// The error for a network name already taken.
pub fn network_exists(name: &str) -> Error {
    Error::new(
        ErrorKind::NameInUse,
        format!("network name {name} already used: network already exists"),
    )
    .with_subject(name)
}

/// Why `new` cannot exist beside `existing`: the same name, or (both
/// bridges) the same interface or an identical subnet. Overlapping subnets
/// of different sizes are checked by the engine before it gets here.
pub fn network_conflict(new: &Network, existing: &[Network]) -> Option<Error> {
    for old in existing {
        if old.name == new.name {
            return Some(network_exists(&new.name));
        }
        if new.driver == "bridge"
            && old.driver == "bridge"
            && old.network_interface == new.network_interface
        {
            return Some(
                Error::new(
                    ErrorKind::InUse,
                    format!(
                        "bridge name {} already in use by network {}",
                        new.network_interface, old.name
                    ),
                )
                .with_subject(&new.name),
            );
        }
        if let Some(s) = new
            .subnets
            .iter()
            .find(|s| old.subnets.iter().any(|o| o.subnet == s.subnet))
        {
            return Some(
                Error::new(
                    ErrorKind::InUse,
                    format!(
                        "subnet {} is already used by network {}",
                        s.subnet, old.name
                    ),
                )
                .with_subject(&new.name),
            );
        }
    }
    None
}
