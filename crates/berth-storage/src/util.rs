//! Small helpers: hashing readers, digests, temp dirs, the store lock.

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use berth_types::{Error, Result};
use sha2::{Digest, Sha256};

/// A reader that hashes (sha256) and counts what passes through it, and
/// fails once more than `limit` bytes were read (decompression-bomb guard).
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    limit: u64,
}

/// The marker text of the error `HashingReader` returns past its limit.
pub(crate) const LIMIT_MSG: &str = "exceeds the configured size limit";

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
            limit,
        }
    }

    /// Bytes read so far.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// `sha256:<hex>` of everything read.
    pub(crate) fn digest(self) -> String {
        format!("sha256:{}", hex::encode(self.hasher.finalize()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        if self.count > self.limit {
            return Err(io::Error::other(LIMIT_MSG));
        }
        Ok(n)
    }
}

/// Reads a byte range of a file with `pread`, so many sections of one
/// archive can be read without copying them out first.
pub(crate) struct SectionReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl<'a> SectionReader<'a> {
    pub(crate) fn new(file: &'a File, offset: u64, len: u64) -> Self {
        SectionReader {
            file,
            pos: offset,
            end: offset + len,
        }
    }
}

impl Read for SectionReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        if left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(left as usize);
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive is truncated",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// sha256 hex of `data`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Check a digest is exactly `sha256:<64 lowercase hex>` and return the hex.
/// Digests become path components, so nothing else may pass
/// (`sha256:../../x` must die here).
pub(crate) fn parse_digest(d: &str) -> std::result::Result<&str, String> {
    match d.strip_prefix("sha256:") {
        Some(h)
            if h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(h)
        }
        Some(_) => Err(format!("invalid digest {d:?}")),
        None => Err(format!("unsupported digest algorithm in {d:?}")),
    }
}

/// The hex part of an already validated `sha256:` digest.
pub(crate) fn digest_hex(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap_or(d)
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Create a fresh directory `tmp/<pid>-<n>-<nanos>` under the store. The pid
/// prefix lets `sweep_tmp` tell leftovers of dead processes from live work.
pub(crate) fn make_tmp_dir(tmp_root: &Path) -> Result<PathBuf> {
    let p = tmp_name(tmp_root);
    std::fs::create_dir(&p)
        .map_err(|e| crate::storage_err(format!("creating {}", p.display()), e))?;
    Ok(p)
}

/// A new name under `tmp/`, led by this process's ID (what [`sweep_tmp`]
/// reads to know whose it is).
fn tmp_name(tmp_root: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    tmp_root.join(format!("{}-{n}-{nanos}", std::process::id()))
}

/// Remove `tmp/` entries whose creating process is gone. Best effort: a
/// failure here only costs disk space.
pub(crate) fn sweep_tmp(tmp_root: &Path) {
    let Ok(rd) = std::fs::read_dir(tmp_root) else {
        return;
    };
    for ent in rd.flatten() {
        let name = ent.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|s| s.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            remove_tree(&ent.path());
        }
    }
}

/// Delete a directory tree, ignoring "not found". std's `remove_dir_all`
/// does not follow symlinks inside the tree (CVE-2022-21658 fix), which
/// matters because layer contents are untrusted.
pub(crate) fn remove_tree(p: &Path) {
    let _ = std::fs::remove_dir_all(p);
}

/// Move `p` into `tmp/` (atomic), then delete it. Used so a directory under
/// `layers/` or `containers/` is either complete or absent, never half-deleted.
/// The rename makes no new directory, which a full disk could refuse; if
/// even the rename finds no room, `p` is deleted where it is: freeing the
/// space matters more then, and what a crash could leave is an orphan that
/// `system check --repair` and `system prune` remove.
pub(crate) fn retire_dir(p: &Path, tmp_root: &Path) -> Result<()> {
    let dst = tmp_name(tmp_root);
    match std::fs::rename(p, &dst) {
        Ok(()) => remove_tree(&dst),
        // Already gone (not: `tmp/` missing, which is also ENOENT).
        Err(_) if std::fs::symlink_metadata(p).is_err() => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => remove_tree(p),
        Err(e) => return Err(crate::storage_err(format!("removing {}", p.display()), e)),
    }
    Ok(())
}

/// An exclusive `flock` on `storage.lock`, held while layer directories are
/// checked/registered or retired, so a load that reuses a layer and a removal
/// that deletes it cannot interleave. Released on drop (or process death).
pub(crate) struct StoreLock(#[allow(dead_code)] File);

impl StoreLock {
    pub(crate) fn take(root: &Path) -> Result<StoreLock> {
        let p = root.join("storage.lock");
        // std opens with O_CLOEXEC, so the lock never leaks into children.
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(|e| crate::storage_err(format!("opening {}", p.display()), e))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| crate::storage_err(format!("locking {}", p.display()), e))?;
        Ok(StoreLock(f))
    }
}

/// Validate a container ID used as a directory name.
pub(crate) fn check_cid(cid: &str) -> Result<()> {
    let ok = !cid.is_empty()
        && cid.len() <= 128
        && cid != "."
        && cid != ".."
        && cid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid container ID {cid:?}")))
    }
}

/// Magic numbers of the compressions berth recognizes in tar streams.
const GZIP: &[u8] = &[0x1f, 0x8b];
const REFUSED: [(&[u8], &str); 3] = [
    (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
    (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz"),
    (b"BZh", "bzip2"),
];

/// Whether `head` (the first bytes of a stream) starts a compressed stream
/// of a kind [`tar_stream`] knows (to decompress or to refuse by name).
pub(crate) fn compressed(head: &[u8]) -> bool {
    head.starts_with(GZIP) || REFUSED.iter().any(|(magic, _)| head.starts_with(magic))
}

/// A tar stream that may be gzip-compressed, decompressed on the fly.
/// Other compressions are refused by name: berth never hands an archive to
/// an external `xz`/`unpigz`, which in a container's root could be the
/// container's own binary (GHSA-x86f, RELIABILITY 43).
pub(crate) fn tar_stream<'a>(
    mut r: impl BufRead + 'a,
) -> std::result::Result<Box<dyn Read + 'a>, String> {
    let head = r.fill_buf().map_err(|e| format!("reading: {e}"))?;
    if let Some((_, name)) = REFUSED.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Err(format!(
            "{name}-compressed archives are not supported (plain or gzip tar only)"
        ));
    }
    Ok(if head.starts_with(GZIP) {
        Box::new(flate2::read::MultiGzDecoder::new(r))
    } else {
        Box::new(r)
    })
}
