//! `berth-api`: the Docker Engine API served over a unix socket from
//! `berth-core` (`berth system service`).
//!
//! The service is a thin HTTP translation layer: every request becomes calls
//! to the same public `berth-core` API the CLI uses, run on tokio's blocking
//! pool (SQLite and `flock` block), so there is exactly one set of lifecycle
//! rules. Containers are owned by their monitors, not by this process:
//! stopping the service leaves them running.
//!
//! This is a first slice: ping/version/info, container
//! create/start/stop/kill/restart/wait/inspect/logs/delete/list, image
//! list/inspect/delete and events. No attach/exec hijack yet.

#![warn(missing_docs)]
#![recursion_limit = "256"]

mod error;
mod hijack;
mod params;
mod routes;
mod server;
mod state;
mod stream;
mod version;

pub use error::ApiError;
pub use server::{parse_address, run, serve, ServiceOptions, DEFAULT_SOCKET};
pub use version::{MAX_API_VERSION, MIN_API_VERSION};
