//! Garbage a killed `load`/`pull`/`commit` can leave: layer directories that
//! were renamed into `layers/` but never registered (the process died
//! before the image's transaction), and dead processes' `tmp/` entries.
//!
//! Why a staging lock: between placing a layer and registering the image
//! that uses it, an unregistered layer directory is live work, not garbage.
//! Every writer of images holds `staging.lock` shared for that whole span;
//! the collector takes it exclusive *without waiting*, so it never deletes a
//! layer a running load is about to register, and never blocks behind one.

use std::fs::File;
use std::path::Path;

use berth_types::Result;

use crate::util::{parse_digest, retire_dir, sweep_tmp, StoreLock};
use crate::Store;

/// Held (shared) by a process while it stores layers and registers images.
pub struct StagingGuard(#[allow(dead_code)] File);

fn open_staging(root: &Path) -> Result<File> {
    let p = root.join("staging.lock");
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| crate::storage_err(format!("opening {}", p.display()), e))
}

/// What [`Store::collect_garbage`] found.
#[derive(Debug, Default)]
pub struct Garbage {
    /// Unregistered layer directories (paths), removed when repairing.
    pub layers: Vec<String>,
    /// Their total size on disk in bytes (apparent size of regular files).
    pub bytes: u64,
    /// Set when an image was being stored meanwhile, so layers were skipped.
    pub busy: bool,
}

impl Store {
    /// Mark this process as storing layers until the guard drops. Take it
    /// before the first layer is staged and keep it until the image is
    /// registered ([`Store::load_archive`] does this itself).
    pub fn staging(&self) -> Result<StagingGuard> {
        let f = open_staging(&self.root)?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockShared)
            .map_err(|e| crate::storage_err(format!("locking {}", self.root.display()), e))?;
        Ok(StagingGuard(f))
    }

    /// Find (and with `remove`, delete) layer directories no image or
    /// container layer row refers to, and sweep `tmp/`.
    pub fn collect_garbage(&self, remove: bool) -> Result<Garbage> {
        let mut out = Garbage::default();
        let f = open_staging(&self.root)?;
        if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            out.busy = true;
            return Ok(out);
        }
        sweep_tmp(&self.root.join("tmp"));
        let _lock = StoreLock::take(&self.root)?;
        let known: std::collections::HashSet<String> =
            crate::images::all_strings(&self.conn(), "SELECT diff_id FROM layers")?
                .into_iter()
                .collect();
        let Ok(entries) = std::fs::read_dir(self.root.join("layers")) else {
            return Ok(out);
        };
        for ent in entries.flatten() {
            let Some(hex) = ent.file_name().into_string().ok() else {
                continue;
            };
            let diff_id = format!("sha256:{hex}");
            if parse_digest(&diff_id).is_err() || known.contains(&diff_id) {
                continue;
            }
            out.bytes += disk_usage(&ent.path());
            if remove {
                retire_dir(&ent.path(), &self.root.join("tmp"))?;
            }
            out.layers.push(ent.path().display().to_string());
        }
        Ok(out)
    }

    /// Bytes container `cid` wrote to its read-write layer.
    pub fn container_layer_size(&self, cid: &str) -> u64 {
        disk_usage(&self.container_dir(cid).join("diff"))
    }
}

/// Apparent size of the regular files below `p` (symlinks not followed),
/// for `system df` and prune reports.
pub fn disk_usage(p: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| disk_usage(&e.path())).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unregistered_layer_is_garbage_unless_a_load_is_staging() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let layer = dir.path().join("layers").join("a".repeat(64));
        std::fs::create_dir_all(layer.join("diff")).unwrap();
        std::fs::write(layer.join("diff/f"), b"12345").unwrap();

        let staging = store.staging().unwrap();
        let g = store.collect_garbage(true).unwrap();
        assert!(g.busy && g.layers.is_empty() && layer.exists());
        drop(staging);

        let g = store.collect_garbage(false).unwrap();
        assert_eq!((g.layers.len(), g.bytes, layer.exists()), (1, 5, true));
        let g = store.collect_garbage(true).unwrap();
        assert_eq!(g.layers.len(), 1);
        assert!(!layer.exists());
    }
}
