//! Archives of a container's own files and of its read-write layer, for
//! checkpoint export and import: the rootfs diff (the upper dir as a layer
//! tar, overlay whiteouts as `.wh.` entries, and back), and a compressed
//! tar of chosen entries of a directory (the bundle) with its confined
//! extraction. An imported archive is untrusted: it goes through the same
//! extractor as image layers (no `..`, nothing written through a symlink,
//! size-capped), never `tar::Archive::unpack`.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use berth_types::Result;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::extract::{extract_layer, ExtractOptions};
use crate::tree::{self, TarKind};
use crate::util::check_cid;
use crate::Store;

/// The first bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl Store {
    /// Write container `cid`'s changes (its read-write layer) to `out` as a
    /// layer tar. Needs no mount; the container may be running.
    pub fn write_container_diff<W: Write>(&self, cid: &str, out: W) -> Result<W> {
        check_cid(cid)?;
        let upper = self.container_dir(cid).join("diff");
        tree::write_tar(&upper, out, TarKind::Layer, &format!("container {cid}"))
    }

    /// Apply the layer tar `reader` (from [`Store::write_container_diff`])
    /// to container `cid`'s read-write layer, confined to it (`.wh.`
    /// entries become overlay whiteouts). Call while it is not mounted.
    pub fn apply_container_diff<R: Read>(&self, cid: &str, reader: R) -> Result<u64> {
        check_cid(cid)?;
        let upper = self.container_dir(cid).join("diff");
        let opts = ExtractOptions {
            max_bytes: self.max_layer_bytes,
            plain: false,
        };
        extract_layer(
            reader,
            &upper,
            &format!("container {cid} rootfs diff"),
            &opts,
        )
    }
}

/// Write the entries `names` of directory `dir` (missing ones skipped) as
/// a tar to the new file `dest`, gzip-compressed when `gzip`. The file is
/// written under a temporary name and renamed into place when complete.
pub fn write_dir_archive(
    dir: &Path,
    names: &[&str],
    dest: &Path,
    gzip: bool,
    label: &str,
) -> Result<()> {
    let mut tmp = dest.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let res = (|| {
        let f = std::fs::File::create(&tmp)
            .map_err(|e| crate::storage_err(format!("creating {}", tmp.display()), e))?;
        let out = BufWriter::new(f);
        let out = if gzip {
            let gz = GzEncoder::new(out, flate2::Compression::fast());
            tree::write_tar_entries(dir, names, gz, label)?
                .finish()
                .map_err(|e| crate::storage_err(format!("{label}: compressing"), e))?
        } else {
            tree::write_tar_entries(dir, names, out, label)?
        };
        let f = out
            .into_inner()
            .map_err(|e| crate::storage_err(format!("writing {}", tmp.display()), e.error()))?;
        f.sync_all()
            .map_err(|e| crate::storage_err(format!("writing {}", tmp.display()), e))?;
        std::fs::rename(&tmp, dest)
            .map_err(|e| crate::storage_err(format!("writing {}", dest.display()), e))
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Extract the tar (gzip-compressed or not) at `src` into the existing
/// directory `dest`, confined to it: an entry with a `..` component or one
/// reaching through a symlink rejects the archive. `label` names it in
/// errors. Returns the bytes of file data written.
pub fn extract_archive(src: &Path, dest: &Path, label: &str) -> Result<u64> {
    let open = || {
        std::fs::File::open(src)
            .map_err(|e| crate::storage_err(format!("opening {}", src.display()), e))
    };
    let mut magic = [0u8; 2];
    let gzip = open()?.read_exact(&mut magic).is_ok() && magic == GZIP_MAGIC;
    let reader: Box<dyn Read> = if gzip {
        Box::new(MultiGzDecoder::new(BufReader::new(open()?)))
    } else {
        Box::new(BufReader::new(open()?))
    };
    let opts = ExtractOptions {
        plain: true,
        ..Default::default()
    };
    extract_layer(reader, dest, label, &opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_chosen_entries() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("checkpoint")).unwrap();
        std::fs::write(src.path().join("checkpoint/a.img"), b"pages").unwrap();
        std::fs::write(src.path().join("config.dump"), b"{}").unwrap();
        std::fs::write(src.path().join("other"), b"not exported").unwrap();
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join("x.tar.gz");
        let names = ["checkpoint", "config.dump", "missing"];
        write_dir_archive(src.path(), &names, &file, true, "test").unwrap();
        let dest = tempfile::tempdir().unwrap();
        extract_archive(&file, dest.path(), "test").unwrap();
        let read = |p: &str| std::fs::read(dest.path().join(p)).unwrap();
        assert_eq!(read("checkpoint/a.img"), b"pages");
        assert_eq!(read("config.dump"), b"{}");
        assert!(!dest.path().join("other").exists());
    }

    #[test]
    fn entries_escaping_the_root_are_refused() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // `append_data` refuses `..`; write the name into the header directly.
        h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        let data = b.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("evil.tar");
        std::fs::write(&file, data).unwrap();
        let dest = dir.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        assert!(extract_archive(&file, &dest, "evil").is_err());
        assert!(!dir.path().join("escape").exists());
    }
}
