//! `berth-net`: container networking through netavark.
//!
//! berth drives Podman's network stack the way Podman does: it execs the
//! `netavark` binary with a JSON document on stdin (`netavark.rs`; the crate
//! is never linked), keeps the address allocations itself (`ipam.rs` picks,
//! the state database records), and owns each container's network
//! namespace file (`netns.rs`: created and bind-mounted before the
//! container starts, removed after teardown). `keeper.rs` keeps the
//! default bridge up between containers, `ports.rs` parses `-p`,
//! `etc.rs` writes the container's `/etc/hosts` and `/etc/resolv.conf`.
//!
//! No engine rules live here: which container joins which network, when
//! setup and teardown happen and what is stored is `berth-core`'s business.

#![warn(missing_docs)]

pub mod etc;
pub mod ipam;
pub mod keeper;
pub mod netavark;
pub mod netns;
pub mod ports;

pub use netavark::{Netavark, NetworkOptions, PerNetworkOptions, StatusBlock};

/// The default network's name.
pub const DEFAULT_NETWORK: &str = "berth";
/// The default network's bridge.
pub const DEFAULT_BRIDGE: &str = "berth0";
/// The default network's subnet: not Podman's 10.88.0.0/16, nor the
/// 10.89.x.0/24 it gives user networks.
pub const DEFAULT_SUBNET: &str = "10.90.0.0/24";
/// User networks get `BRIDGE_PREFIX` + N (`berth1`, `berth2`...).
pub const BRIDGE_PREFIX: &str = "berth";
