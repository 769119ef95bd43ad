//! Checkpoint export (`checkpoint --export FILE`) and import (`restore
//! --import FILE [--name NEW]`).
//!
//! The archive is a tar (gzip unless `--compress none`) of, as in Podman's:
//! `checkpoint/` (CRIU's images), `config.dump` (berth's container
//! configuration), `spec.dump` (the OCI spec it ran with), `checkpoint.json`
//! (which CRIU options the images need to be restored) and
//! `rootfs-diff.tar` (the container's read-write layer as a layer tar,
//! unless `--ignore-rootfs`).
//!
//! An imported archive is untrusted input: it is extracted by
//! berth-storage's confined extractor into a temporary directory of the
//! image store (entries with `..` or reaching through symlinks reject it), the
//! rootfs diff is applied by the same extractor to the new container's own
//! layer, the ID is checked before it names any path, and a runtime given
//! as a path is not honoured.

use super::checkpoint::{
    remove_files, CheckpointOptions, RestoreOptions, CONFIG_DUMP, IMAGES_DIR, SPEC_DUMP,
};
use super::{Container, LockedContainer};
use crate::Runtime;
use berth_types::checkpoint::CheckpointState;
use berth_types::{ContainerConfig, ContainerRecord, ContainerState, Error, ErrorKind, Result};
use std::io::Write;
use std::path::Path;

/// The container's read-write layer, inside an export.
const ROOTFS_DIFF: &str = "rootfs-diff.tar";
/// The checkpoint facts a restore needs (`CheckpointState` as JSON).
const EXPORT_STATE: &str = "checkpoint.json";

/// Write the checkpoint just taken of `c` to the archive `dest`.
pub(super) fn export(c: &LockedContainer, dest: &Path, opts: &CheckpointOptions) -> Result<()> {
    let (rt, cfg) = (c.rt, &c.rec.config);
    let userdata = rt.paths.userdata(&cfg.id);
    let res = (|| {
        let state = serde_json::to_vec_pretty(&c.rec.state.checkpoint)?;
        std::fs::write(userdata.join(EXPORT_STATE), state)
            .map_err(|e| Error::io(format!("writing {EXPORT_STATE}"), e))?;
        let mut names = vec![IMAGES_DIR, CONFIG_DUMP, SPEC_DUMP, EXPORT_STATE];
        if !opts.ignore_rootfs {
            write_rootfs_diff(rt, &cfg.id, &userdata.join(ROOTFS_DIFF))?;
            names.push(ROOTFS_DIFF);
        }
        let label = format!("checkpoint of container {}", cfg.name);
        berth_storage::write_dir_archive(&userdata, &names, dest, !opts.uncompressed, &label)
    })();
    remove_files(&userdata, &[ROOTFS_DIFF, EXPORT_STATE]);
    res.map_err(|e| {
        e.context(format!(
            "exporting the checkpoint of container {} to {}",
            cfg.name,
            dest.display()
        ))
        .with_subject(cfg.name.clone())
    })
}

fn write_rootfs_diff(rt: &Runtime, id: &str, path: &Path) -> Result<()> {
    let file = std::fs::File::create(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    let mut out = rt
        .images()?
        .write_container_diff(id, std::io::BufWriter::new(file))?;
    out.flush()
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

impl Runtime {
    /// `container restore --import FILE`: create a container from an
    /// exported checkpoint and restore it. With `opts.name` it gets that
    /// name and a new ID (so one export can be restored several times);
    /// without, the exported name and ID, which must be free. A failed
    /// restore leaves no container behind.
    pub fn restore_import(&self, archive: &Path, opts: &RestoreOptions) -> Result<Container<'_>> {
        // In the image store's tmp/, named by our pid: if we die midway,
        // the store's next open sweeps it.
        let tmp = self.images()?.root().join("tmp").join(format!(
            "{}-import-{}",
            std::process::id(),
            &crate::names::random_id()[..16]
        ));
        std::fs::create_dir_all(&tmp)
            .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
        let res = self.import_from(&tmp, archive, opts);
        let _ = std::fs::remove_dir_all(&tmp);
        let ctr = res?;
        if let Err(e) = ctr.restore(opts) {
            let _ = ctr.remove(true, None);
            return Err(e);
        }
        Ok(ctr)
    }

    /// Unpack `archive` into `tmp` and create the (checkpointed, not yet
    /// restored) container it describes.
    fn import_from(
        &self,
        tmp: &Path,
        archive: &Path,
        opts: &RestoreOptions,
    ) -> Result<Container<'_>> {
        let label = format!("checkpoint archive {}", archive.display());
        if !archive.is_file() {
            return Err(Error::invalid(format!("{label}: no such file")));
        }
        berth_storage::extract_archive(archive, tmp, &label)?;
        let bad = |why: String| Error::invalid(format!("{label} is not a berth checkpoint: {why}"));
        let text = std::fs::read(tmp.join(CONFIG_DUMP))
            .map_err(|_| bad(format!("{CONFIG_DUMP} is missing")))?;
        let mut cfg: ContainerConfig =
            serde_json::from_slice(&text).map_err(|e| bad(format!("{CONFIG_DUMP}: {e}")))?;
        if !tmp.join(IMAGES_DIR).join("inventory.img").is_file() {
            return Err(bad("it holds no CRIU images".into()));
        }
        let flags: CheckpointState = std::fs::read(tmp.join(EXPORT_STATE))
            .ok()
            .and_then(|t| serde_json::from_slice(&t).ok())
            .unwrap_or_default();
        if let Some(name) = &opts.name {
            berth_types::id::validate_name(name)?;
            cfg.name = name.clone();
            cfg.id = crate::names::random_id();
        } else if !berth_types::id::is_full_id(&cfg.id) {
            return Err(bad(format!("bad container ID {:?}", cfg.id)));
        }
        if self.store.get(&cfg.id).is_ok() {
            return Err(Error::new(
                ErrorKind::NameInUse,
                format!(
                    "container {} from {label} already exists: restore it with --name NEW as a new container",
                    cfg.name
                ),
            )
            .with_subject(cfg.name.clone()));
        }
        if cfg.runtime.contains('/') {
            cfg.runtime = self.oci_runtime_name().to_string();
        }
        let images = self.images()?;
        images
            .lookup_image(&cfg.image_id)
            .map_err(|e| e.context(format!("{label} needs image {}", cfg.image_name)))?;
        images.create_container_layer(&cfg.id, &cfg.image_id)?;
        let created = self.add_imported(tmp, &cfg, &flags, opts);
        if let Err(e) = created {
            let _ = images.remove_container_layer(&cfg.id);
            let _ = std::fs::remove_dir_all(self.paths.container_dir(&cfg.id));
            return Err(e);
        }
        Ok(Container::new(self, cfg.id))
    }

    /// Fill the new container's layer and userdata from the unpacked
    /// archive in `tmp` and record it, checkpointed.
    fn add_imported(
        &self,
        tmp: &Path,
        cfg: &ContainerConfig,
        flags: &CheckpointState,
        opts: &RestoreOptions,
    ) -> Result<()> {
        let diff = tmp.join(ROOTFS_DIFF);
        if !opts.ignore_rootfs && diff.is_file() {
            let f = std::fs::File::open(&diff)
                .map_err(|e| Error::io(format!("opening {}", diff.display()), e))?;
            self.images()?
                .apply_container_diff(&cfg.id, std::io::BufReader::new(f))?;
        }
        let userdata = self.paths.userdata(&cfg.id);
        std::fs::create_dir_all(&userdata)
            .map_err(|e| Error::io(format!("creating {}", userdata.display()), e))?;
        let images = userdata.join(IMAGES_DIR);
        std::fs::rename(tmp.join(IMAGES_DIR), &images)
            .map_err(|e| Error::io(format!("moving the checkpoint to {}", images.display()), e))?;
        let mut rec = ContainerRecord {
            config: cfg.clone(),
            state: Default::default(),
        };
        let st = &mut rec.state;
        st.state = ContainerState::Exited;
        st.exit_code = Some(0);
        st.checkpoint = CheckpointState {
            checkpointed: true,
            checkpointed_at: flags.checkpointed_at,
            checkpoint_path: images.to_string_lossy().into_owned(),
            tcp_established: flags.tcp_established,
            file_locks: flags.file_locks,
            ..Default::default()
        };
        self.store.add_container(&rec)?;
        self.emit_container(&rec, "create", None);
        Ok(())
    }
}
