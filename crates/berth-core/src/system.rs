//! `system df`, `container prune` and `system prune`: disk use by kind and
//! the removal of everything unused, including what killed commands left
//! behind (unregistered layers, `tmp/` entries), so an interrupted pull or
//! load costs nothing after a prune (RELIABILITY 11).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use berth_types::{ContainerState, ErrorKind, Result};
use serde::Serialize;

use crate::Runtime;

/// One row of `system df`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsage {
    /// `Images`, `Containers` or `Local Volumes`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// How many there are.
    pub total: usize,
    /// How many are in use (images and volumes used by a container,
    /// containers whose process is alive).
    pub active: usize,
    /// Bytes on disk (image layers counted once however many images share them).
    pub size: u64,
    /// Bytes a prune would free.
    pub reclaimable: u64,
}

/// What `system prune` removed.
#[derive(Debug, Default)]
pub struct PruneReport {
    /// Removed container IDs.
    pub containers: Vec<String>,
    /// Removed volume names (only when asked for).
    pub volumes: Vec<String>,
    /// Removed image IDs.
    pub images: Vec<String>,
    /// Leftovers of killed commands removed (unregistered layer directories).
    pub leftovers: Vec<String>,
    /// Bytes freed, measured as disk use before minus after.
    pub reclaimed: u64,
}

/// States a prune removes: nothing of the container runs.
fn prunable(state: ContainerState) -> bool {
    matches!(
        state,
        ContainerState::Configured
            | ContainerState::Created
            | ContainerState::Stopped
            | ContainerState::Exited
    )
}

impl Runtime {
    /// Disk use by images, containers and volumes (`system df`).
    pub fn disk_usage(&self) -> Result<Vec<DiskUsage>> {
        let store = self.images()?;
        let containers = self.containers()?;
        let used_images: HashSet<&str> = containers
            .iter()
            .map(|r| r.config.image_id.as_str())
            .collect();

        let mut layer_size: HashMap<String, u64> = HashMap::new();
        let mut active_layers: HashSet<String> = HashSet::new();
        let images = store.list_images()?;
        let mut images_row = DiskUsage {
            kind: "Images".into(),
            total: images.len(),
            ..Default::default()
        };
        for img in &images {
            let active = used_images.contains(img.id.as_str());
            images_row.active += usize::from(active);
            for l in &img.layers {
                if !layer_size.contains_key(l) {
                    layer_size.insert(l.clone(), store.layer_size(l).unwrap_or(0));
                }
                if active {
                    active_layers.insert(l.clone());
                }
            }
        }
        images_row.size = layer_size.values().sum();
        images_row.reclaimable = layer_size
            .iter()
            .filter(|(l, _)| !active_layers.contains(*l))
            .map(|(_, s)| s)
            .sum();

        let mut ctr_row = DiskUsage {
            kind: "Containers".into(),
            total: containers.len(),
            ..Default::default()
        };
        for r in &containers {
            let size = store.container_layer_size(&r.config.id);
            ctr_row.size += size;
            if r.state.state.is_active() {
                ctr_row.active += 1;
            } else {
                ctr_row.reclaimable += size;
            }
        }

        let used_volumes: HashSet<&str> = containers
            .iter()
            .flat_map(|r| {
                r.config
                    .mounts
                    .iter()
                    .filter_map(crate::volumes::volume_name)
            })
            .collect();
        let volumes = self.volumes()?;
        let mut vol_row = DiskUsage {
            kind: "Local Volumes".into(),
            total: volumes.len(),
            ..Default::default()
        };
        for v in &volumes {
            let size = berth_storage::disk_usage(Path::new(&v.mountpoint));
            vol_row.size += size;
            if used_volumes.contains(v.name.as_str()) {
                vol_row.active += 1;
            } else {
                vol_row.reclaimable += size;
            }
        }
        Ok(vec![images_row, ctr_row, vol_row])
    }

    /// Remove every container whose process is not running (`container
    /// prune`); returns their IDs. A container that changed state meanwhile
    /// is skipped: removal re-checks the state under its lock.
    pub fn prune_containers(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for rec in self.containers()? {
            if !prunable(rec.state.state) {
                continue;
            }
            match self.lookup(&rec.config.id)?.remove(false, None) {
                Ok(()) => out.push(rec.config.id),
                // InUse: another container depends on it (a pod's infra).
                Err(e)
                    if matches!(
                        e.kind,
                        ErrorKind::NoSuchContainer
                            | ErrorKind::StateImproper { .. }
                            | ErrorKind::InUse
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// `system prune`: stopped containers, then (with `volumes`) unused
    /// volumes, then dangling images (every unused image with `all`), then
    /// leftovers of killed commands.
    pub fn prune_system(&self, all: bool, volumes: bool) -> Result<PruneReport> {
        let used = |rows: &[DiskUsage]| rows.iter().map(|r| r.size).sum::<u64>();
        let before = used(&self.disk_usage()?);
        let mut report = PruneReport {
            containers: self.prune_containers()?,
            ..Default::default()
        };
        if volumes {
            report.volumes = self.prune_volumes()?;
        }
        report.images = self.prune_images(all)?;
        let garbage = self.images()?.collect_garbage(true)?;
        report.leftovers = garbage.layers;
        let after = used(&self.disk_usage()?);
        report.reclaimed = before.saturating_sub(after) + garbage.bytes;
        Ok(report)
    }
}
