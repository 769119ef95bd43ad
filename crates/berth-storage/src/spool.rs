//! Archives that cannot be read in place.
//!
//! The loader indexes an archive once and then reads its members with
//! `pread` (archive.rs), so it needs a regular, uncompressed file. A gzip'd
//! archive (`save | gzip`) or one arriving on a pipe (`load < x.tar` from a
//! pipe, the API's request body) is copied once, decompressed on the fly,
//! into an unnamed file under the store's `tmp/`: it streams (memory stays
//! flat in the archive's size) and vanishes with the last descriptor, even
//! when the process is killed mid-load.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use berth_types::{Error, ErrorKind, Result};

/// Copy chunk size.
const CHUNK: usize = 256 << 10;

/// Copy `input` (plain or gzip tar; other compressions are refused by name)
/// into a new unnamed file under `tmp_root`, rewound to its start.
/// `label` names the archive in errors.
pub(crate) fn spool(input: impl Read, tmp_root: &Path, label: &str) -> Result<File> {
    let bad = |msg: String| {
        Error::new(ErrorKind::InvalidInput, format!("{label}: {msg}")).with_subject(label)
    };
    let mut plain = crate::util::tar_stream(BufReader::with_capacity(CHUNK, input)).map_err(bad)?;
    let mut out = unnamed_file(tmp_root)?;
    let full = |e: std::io::Error| {
        crate::storage_err(
            format!("{label}: spooling the archive into {}", tmp_root.display()),
            e,
        )
    };
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match plain.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(bad(format!("reading the archive: {e}"))),
        };
        out.write_all(&buf[..n]).map_err(full)?;
    }
    std::io::Seek::rewind(&mut out).map_err(full)?;
    Ok(out)
}

/// An unnamed read-write file in `dir`: `O_TMPFILE` where the filesystem
/// has it, else a named file in a private temp dir, unlinked at once.
fn unnamed_file(dir: &Path) -> Result<File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    match rustix::fs::open(dir, flags, Mode::from_raw_mode(0o600)) {
        Ok(fd) => return Ok(File::from(fd)),
        Err(e) if e != rustix::io::Errno::OPNOTSUPP && e != rustix::io::Errno::ISDIR => {
            return Err(crate::storage_err(
                format!("creating a temporary file in {}", dir.display()),
                e,
            ))
        }
        Err(_) => {}
    }
    let private = crate::util::make_tmp_dir(dir)?;
    let path = private.join("archive");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path);
    crate::util::remove_tree(&private);
    f.map_err(|e| crate::storage_err(format!("creating {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn gzip_is_decompressed_and_plain_copied() {
        let tmp = tempfile::tempdir().unwrap();
        let data = b"0123456789".repeat(100_000);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        for input in [&gz[..], &data[..]] {
            let mut f = spool(input, tmp.path(), "x").unwrap();
            let mut back = Vec::new();
            f.read_to_end(&mut back).unwrap();
            assert_eq!(back, data);
        }
        // Nothing is left behind under tmp/.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn other_compressions_are_refused_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let e = spool(&b"\xfd7zXZ\x00rest"[..], tmp.path(), "in.tar.xz").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidInput);
        assert!(e.message.contains("in.tar.xz") && e.message.contains("xz"));
    }
}
