//! Container filesystem operations of the store: `diff`, the layer of a
//! `commit`, and tars of a mounted tree (`export`). See `tree.rs` for why
//! every walk goes by file descriptors.

use std::io::Write;
use std::path::Path;

use berth_types::Result;

use crate::tree::{self, TarKind};
use crate::util::check_cid;
use crate::{Change, Store};

impl Store {
    /// Changes of container `cid`'s read-write layer against its image
    /// (`A`/`C`/`D`, sorted by path). Needs no mount.
    pub fn container_changes(&self, cid: &str) -> Result<Vec<Change>> {
        check_cid(cid)?;
        let lowers = self.container_lowers(cid)?;
        let upper = self.container_dir(cid).join("diff");
        tree::changes(&upper, &lowers, &format!("container {cid}"))
    }

    /// Diff IDs of the image layers container `cid` sits on, bottom first.
    pub fn container_base_layers(&self, cid: &str) -> Result<Vec<String>> {
        check_cid(cid)?;
        crate::images::strings(
            &self.conn(),
            "SELECT diff_id FROM container_layers WHERE cid = ?1 ORDER BY pos",
            cid,
        )
    }

    /// Store container `cid`'s read-write layer as a new layer (overlay
    /// whiteouts become `.wh.` entries). Returns (diff ID, size); the
    /// layer is registered by [`Store::create_image`].
    pub fn commit_layer(&self, cid: &str) -> Result<(String, u64)> {
        check_cid(cid)?;
        let label = format!("container {cid}");
        let upper = self.container_dir(cid).join("diff");
        // Streamed through a pipe into the same staging a load uses: the
        // digests are computed on the way, so no temporary tar is written.
        let mut stored = None;
        crate::copy::pipe_tar(
            |w| {
                tree::write_tar(&upper, w, TarKind::Layer, &label)?
                    .into_inner()
                    .map(drop)
                    .map_err(|e| crate::storage_err(format!("{label}: writing layer"), e.error()))
            },
            |r| {
                stored = Some(self.store_layer(r, &label)?);
                Ok(())
            },
        )?;
        stored.ok_or_else(|| berth_types::Error::internal(format!("{label}: no layer stored")))
    }

    /// Write the tree at `root` (a mounted rootfs) to `out` as a tar,
    /// never following a symlink. `label` names it in errors.
    pub fn export_tree<W: Write>(&self, root: &Path, out: W, label: &str) -> Result<W> {
        tree::write_tar(root, out, TarKind::Plain, label)
    }
}
