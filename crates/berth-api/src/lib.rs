//! `berth-api`: the Docker Engine API served over a unix socket from
//! `berth-core` (`berth system service`).
//!
//! The service is a thin HTTP translation layer: every request becomes calls
//! to the same public `berth-core` API the CLI uses, run on tokio's blocking
//! pool (SQLite and `flock` block), so there is exactly one set of lifecycle
//! rules. Containers are owned by their monitors, not by this process:
//! stopping the service leaves them running.
//!
//! Routes live in `routes/` (one file per resource); hijacked connections
//! (attach, exec start) in `hijack.rs`, attach over a websocket in
//! `websocket.rs`, both relaying through `pipes.rs`; clients that attach
//! before the start (`docker run`) wait in `state::AttachWaiters`. Not
//! served yet: image import/search/build/commit, `/auth`.

#![warn(missing_docs)]
#![recursion_limit = "256"]

mod error;
mod hijack;
mod params;
mod pipes;
mod routes;
mod server;
mod state;
mod stream;
mod version;
mod websocket;

pub use error::ApiError;
pub use server::{parse_address, run, serve, ServiceOptions, DEFAULT_SOCKET};
pub use version::{MAX_API_VERSION, MIN_API_VERSION};
