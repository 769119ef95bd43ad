//! `berth-storage`: images, layers and container read-write layers.
//!
//! Layout under the root the caller passes (`<graphroot>/storage`):
//!
//! ```text
//! storage.db              SQLite metadata (WAL; shared by every berth process)
//! storage.lock            flock taken while layer directories appear/disappear
//! staging.lock            flock held shared while layers are stored, exclusive by GC
//! layers/<hex>/diff       one directory per layer, keyed by diff ID (stored once)
//! containers/<cid>/{diff,work,merged}   container read-write layers
//! empty/                  an empty lower dir for images without layers
//! tmp/<pid>-<n>/          work in progress; renamed into place when complete
//! ```
//!
//! Why this shape: a directory only ever appears under `layers/` or
//! `containers/` by an atomic rename of a fully written temp dir, and the
//! database only refers to it once it is there, so a crash at any point leaves
//! at worst garbage under `tmp/` (swept on the next open), never a half image.

#![warn(missing_docs)]

mod archive;
mod bundle_archive;
mod container_fs;
mod copy;
mod db;
pub mod extract;
#[cfg(test)]
mod extract_tests;
mod gc;
mod images;
mod layers;
mod load;
mod mkdir;
mod mount;
mod names;
pub mod reference;
pub mod registry;
mod save;
mod spool;
mod tarsplit;
mod tree;
mod util;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_types::{Error, Result};
use serde::Serialize;

pub use bundle_archive::{extract_archive, write_dir_archive};
pub use copy::{
    copy_dir_out, path_stat_in_root, pipe_tar, stat_in_root, tar_from_host, tar_from_root,
    untar_in_root, PathKind, PathStat,
};
pub use extract::{extract_in_root, extract_layer, ExtractOptions};
pub use gc::{disk_usage, Garbage, StagingGuard};
pub use mkdir::mkdir_in_root;
pub use save::{atomic_write, SaveFormat};
pub use tree::Change;

/// Default cap on the bytes one layer may expand to (decompression-bomb guard).
pub const DEFAULT_MAX_LAYER_BYTES: u64 = 64 << 30;

/// What berth knows about one stored image.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImageInfo {
    /// Image ID: sha256 hex of the config blob bytes (no `sha256:` prefix).
    pub id: String,
    /// Normalized names (`docker.io/library/busybox:latest`), oldest first.
    pub names: Vec<String>,
    /// Manifest digest, `sha256:<hex>`.
    pub digest: String,
    /// Creation time from the config (RFC 3339), if it has one.
    pub created: Option<String>,
    /// Sum of the uncompressed sizes of the image's layers, in bytes.
    pub size: u64,
    /// Layer diff IDs (`sha256:<hex>`), bottom layer first.
    pub layers: Vec<String>,
    /// The config blob exactly as loaded (its sha256 is `id`).
    pub config_json: String,
}

/// The image and layer store. Cheap to open; one per process is enough.
///
/// All methods take `&self`: the SQLite connection sits behind a mutex so a
/// `Store` can be shared between threads (rusqlite connections are not `Sync`).
pub struct Store {
    root: PathBuf,
    conn: Mutex<rusqlite::Connection>,
    max_layer_bytes: u64,
}

impl Store {
    /// Open (creating if needed) the store rooted at `root`.
    ///
    /// Also sweeps `tmp/` entries left behind by berth processes that died
    /// mid-load, so an interrupted load costs disk space only until then.
    pub fn open(root: &Path) -> Result<Store> {
        for d in ["layers", "containers", "tmp", "empty"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p)
                .map_err(|e| storage_err(format!("creating {}", p.display()), e))?;
        }
        let conn = db::open(&root.join("storage.db"))?;
        berth_types::reserve::ensure(&root.join("storage.db"));
        let store = Store {
            root: root.to_path_buf(),
            conn: Mutex::new(conn),
            max_layer_bytes: DEFAULT_MAX_LAYER_BYTES,
        };
        util::sweep_tmp(&store.root.join("tmp"));
        Ok(store)
    }

    /// Change the per-layer extracted-size limit (default 64 GiB).
    pub fn set_max_layer_bytes(&mut self, max: u64) {
        self.max_layer_bytes = max;
    }

    /// The directory this store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn layer_dir(&self, diff_id: &str) -> PathBuf {
        self.root.join("layers").join(util::digest_hex(diff_id))
    }

    fn container_dir(&self, cid: &str) -> PathBuf {
        self.root.join("containers").join(cid)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (transactions roll back on drop), so a poisoned mutex is usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A Storage-kind error with context.
pub(crate) fn storage_err(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::new(berth_types::ErrorKind::Storage, format!("{what}: {e}"))
}
