//! `berth-core` ("libberth"): the container engine as a library.
//!
//! Open a [`Runtime`], create containers from images and drive them through
//! their lifecycle with [`Container`]'s methods, which mirror libpod's
//! Container API (`init`, `start`, `start_and_attach`, `stop_with_timeout`,
//! `kill`, `wait_for_exit`, `cleanup`, `batch`, `sync`, ...). Every operation
//! takes the container's cross-process lock, syncs its state with the
//! monitor, checks the operation against the state table in
//! `berth_types::state`, acts, and saves. The `berth` CLI uses nothing but
//! this API.
//!
//! ```no_run
//! use berth_core::{CreateOptions, Runtime, RuntimeOptions};
//! let rt = Runtime::open(RuntimeOptions::default())?;
//! let ctr = rt.create_container(&CreateOptions {
//!     image: "localhost/busybox".into(),
//!     command: vec!["echo".into(), "hello".into()],
//!     ..Default::default()
//! })?;
//! ctr.start()?;
//! assert_eq!(ctr.wait_for_exit()?, 0);
//! ctr.remove(false, None)?;
//! # Ok::<(), berth_types::Error>(())
//! ```

#![warn(missing_docs)]
#![recursion_limit = "256"]

mod check;
pub mod container;
mod create;
pub mod deps;
pub mod events;
mod hooks;
mod image_list;
mod image_ops;
mod images;
pub mod inspect;
mod names;
pub mod network;
pub mod paths;
pub mod pod;
mod refresh;
pub mod registry;
mod rootfs;
mod runtime;
pub mod signal;
mod spec;
mod system;
pub mod units;
mod user;
mod volume_mount;
pub mod volumes;

pub use berth_state::VolumeRecord;
pub use berth_storage::registry::{
    Credentials, ManifestFormat, Progress, ProgressFn, RegistryOptions,
};
pub use berth_storage::{Change, ImageInfo, PathStat, SaveFormat};
pub use berth_types::event::Event;
pub use berth_types::state::{verdict, Op, Verdict};
pub use berth_types::{ContainerRecord, ContainerState, Error, ErrorKind, Result};
pub use check::CheckReport;
pub use container::attach::terminal_size;
pub use container::logs::{read_log, LogLine, LogOptions};
pub use container::{AttachStream, Container, LockedContainer};
pub use create::{parse_env_file, CreateOptions, ImageDefaults};
pub use events::EventsOptions;
pub use image_list::{image_labels, repo_digests};
pub use image_ops::HistoryEntry;
pub use network::{NetOptions, NetworkCreateOptions};
pub use pod::PodCreateOptions;
pub use registry::PullPolicy;
pub use runtime::{Runtime, RuntimeOptions};
pub use system::{DiskUsage, PruneReport};
pub use volumes::VolumeCreateOptions;
