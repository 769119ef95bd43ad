//! `berth system check [--repair]`: find what a crash can leave behind —
//! container layers, directories and lock files with no container in the
//! database, volume directories with no volume — and, with `repair`,
//! remove them.

use crate::Runtime;
use berth_types::Result;
use std::collections::HashSet;
use std::path::Path;

/// What `check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Problems `PRAGMA integrity_check` reported (empty when healthy).
    pub database: Vec<String>,
    /// One line per orphan found ("removed" appended when repaired).
    pub orphans: Vec<String>,
}

fn dir_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

impl Runtime {
    /// Check the database and look for orphans; remove them with `repair`.
    /// Holds no container lock: an orphan by definition has no container,
    /// and a container being created right now is skipped by re-checking the
    /// database just before removing anything.
    pub fn check(&self, repair: bool) -> Result<CheckReport> {
        let mut report = CheckReport {
            database: self.store.integrity_check()?,
            ..Default::default()
        };
        let known: HashSet<String> = self
            .store
            .list()?
            .into_iter()
            .map(|r| r.config.id)
            .collect();
        let still_orphan = |id: &str| !known.contains(id) && self.store.lookup(id).is_err();
        let mut note = |what: String, fixed: bool| {
            report.orphans.push(if fixed {
                format!("{what}: removed")
            } else {
                what
            })
        };

        for cid in self.images()?.container_layers()? {
            if still_orphan(&cid) {
                let fixed = repair && self.images()?.remove_container_layer(&cid).is_ok();
                note(format!("container layer {cid} has no container"), fixed);
            }
        }
        for (base, what) in [
            (self.paths.root.join("containers"), "container directory"),
            (self.paths.runroot.join("containers"), "runtime directory"),
        ] {
            for name in dir_names(&base) {
                if still_orphan(&name) {
                    let fixed = repair && std::fs::remove_dir_all(base.join(&name)).is_ok();
                    note(
                        format!("{what} {} has no container", base.join(&name).display()),
                        fixed,
                    );
                }
            }
        }
        for name in dir_names(&self.paths.locks()) {
            let Some(id) = name.strip_suffix(".lock") else {
                continue;
            };
            if berth_types::id::is_full_id(id) && still_orphan(id) {
                // Only a lock nobody holds may go.
                let fixed = repair
                    && match self.locks.try_lock(id) {
                        Ok(Some(guard)) => self.locks.remove(guard).is_ok(),
                        _ => false,
                    };
                note(format!("lock file {name} has no container"), fixed);
            }
        }
        // A volume's row is written before its directory and removed
        // before it, so a directory without a row is what a crash left.
        let volumes_dir = self.paths.root.join("volumes");
        for name in dir_names(&volumes_dir) {
            if !self.volume_exists(&name)? {
                let dir = volumes_dir.join(&name);
                // Never into a filesystem still mounted there.
                let fixed = repair
                    && crate::volume_mount::unmount(&dir.join("_data")).is_ok()
                    && std::fs::remove_dir_all(&dir).is_ok();
                note(
                    format!("volume directory {} has no volume", dir.display()),
                    fixed,
                );
            }
        }
        let garbage = self.images()?.collect_garbage(repair)?;
        for layer in garbage.layers {
            note(format!("layer directory {layer} has no image"), repair);
        }
        Ok(report)
    }
}
