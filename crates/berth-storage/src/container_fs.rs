//! Container filesystem operations of the store: `diff`, the layer of a
//! `commit`, and tars of a mounted tree (`export`). See `tree.rs` for why
//! every walk goes by file descriptors.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use berth_types::Result;

use crate::tree::{self, TarKind};
use crate::util::{check_cid, make_tmp_dir, remove_tree};
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
        // Written to a file first: the layer's digest is known only at the
        // end, and the extraction that stores it reads the tar once more.
        let tmp = make_tmp_dir(&self.root.join("tmp"))?;
        let res = (|| {
            let p = tmp.join("layer.tar");
            let f = std::fs::File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&p)
                .map_err(|e| crate::storage_err(format!("creating {}", p.display()), e))?;
            // A full disk shows up while adding some file to the tar; the
            // path that could not be written is the tar's own.
            let full = |e: berth_types::Error| {
                if berth_types::reserve::is_disk_full(&e.message) {
                    crate::storage_err(
                        format!("{label}: writing {}", p.display()),
                        std::io::Error::from_raw_os_error(libc::ENOSPC),
                    )
                } else {
                    e
                }
            };
            let mut f = tree::write_tar(&upper, std::io::BufWriter::new(f), TarKind::Layer, &label)
                .map_err(full)?
                .into_inner()
                .map_err(|e| crate::storage_err(format!("{label}: writing layer"), e.error()))?;
            f.flush()
                .and_then(|_| f.seek(SeekFrom::Start(0)).map(drop))
                .map_err(|e| crate::storage_err(format!("{label}: writing layer"), e))?;
            self.store_layer(std::io::BufReader::new(f), &label)
        })();
        remove_tree(&tmp);
        res
    }

    /// Write the tree at `root` (a mounted rootfs) to `out` as a tar,
    /// never following a symlink. `label` names it in errors.
    pub fn export_tree<W: Write>(&self, root: &Path, out: W, label: &str) -> Result<W> {
        tree::write_tar(root, out, TarKind::Plain, label)
    }
}
