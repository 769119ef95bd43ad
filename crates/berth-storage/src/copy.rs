//! Copying into and out of a container's root filesystem (`cp`).
//!
//! Why openat2 `RESOLVE_IN_ROOT` for every container path: the container
//! owns its rootfs and may be swapping directories for symlinks to `/` or to
//! host paths while we copy (CVE-2018-15664, RELIABILITY.md 40–42). The
//! kernel resolves each path as if the rootfs were `/`, atomically, so a
//! symlink (absolute, relative or `..`) can never lead outside it; below the
//! opened path the tree is walked by descriptor (`tree.rs`) and written by
//! the confined extractor (`extract.rs`). Nothing from the image is ever
//! executed: no tar, no chroot helper, no libnss (CVE-2019-14271).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

use berth_types::{Error, ErrorKind, Result};
use rustix::fs::{self as rfs, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::extract::{clean_path, extract_in_root, ExtractOptions};

/// What a path names, after following symlinks inside the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A directory.
    Dir,
    /// Anything else (file, device, fifo).
    File,
}

fn open_root(root: &Path, label: &str) -> Result<OwnedFd> {
    rfs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| crate::storage_err(format!("{label}: opening {}", root.display()), e))
}

/// Open `path` (absolute inside the container) in the rootfs at `root`
/// for reading, following symlinks only inside it. `Ok(None)` when it does
/// not exist. Non-blocking so a fifo cannot hang the copy.
fn open_in_root(root: &Path, path: &str, label: &str) -> Result<Option<OwnedFd>> {
    let dir = open_root(root, label)?;
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    match rfs::openat2(
        &dir,
        rel,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT) | Err(Errno::NOTDIR) | Err(Errno::LOOP) => Ok(None),
        Err(e) => Err(crate::storage_err(format!("{label}: opening {path:?}"), e)),
    }
}

fn kind_of(fd: &OwnedFd, label: &str) -> Result<PathKind> {
    let st = rfs::fstat(fd).map_err(|e| crate::storage_err(label, e))?;
    Ok(
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            PathKind::Dir
        } else {
            PathKind::File
        },
    )
}

/// What `path` names inside the rootfs at `root` (symlinks followed inside
/// it), or `None` when nothing is there.
pub fn stat_in_root(root: &Path, path: &str, label: &str) -> Result<Option<PathKind>> {
    match open_in_root(root, path, label)? {
        Some(fd) => kind_of(&fd, label).map(Some),
        None => Ok(None),
    }
}

/// Size, permission/type bits and modification time of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathStat {
    /// Size in bytes.
    pub size: u64,
    /// Raw `st_mode` (file type and permission bits).
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds part of the modification time.
    pub mtime_nsec: i64,
}

/// Like [`stat_in_root`], with the details the Docker API's archive stat
/// reports.
pub fn path_stat_in_root(root: &Path, path: &str, label: &str) -> Result<Option<PathStat>> {
    let Some(fd) = open_in_root(root, path, label)? else {
        return Ok(None);
    };
    let st = rfs::fstat(&fd).map_err(|e| crate::storage_err(label, e))?;
    Ok(Some(PathStat {
        size: st.st_size as u64,
        mode: st.st_mode,
        mtime: st.st_mtime,
        mtime_nsec: st.st_mtime_nsec as i64,
    }))
}

fn not_found(path: &str, label: &str) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("{path:?} could not be found on {label}: no such file or directory"),
    )
    .with_subject(label)
}

/// Write `path` from the rootfs at `root` to `out` as a tar whose top entry
/// is `name` (empty: a directory's contents only). Symlinks in `path` are
/// followed inside the root only; nothing below it is followed at all.
pub fn tar_from_root<W: Write>(
    root: &Path,
    path: &str,
    name: &[u8],
    out: W,
    label: &str,
) -> Result<W> {
    let fd = open_in_root(root, path, label)?.ok_or_else(|| not_found(path, label))?;
    crate::tree::write_tar_of(fd, name, out, label)
}

/// Write the host path `path` to `out` as a tar whose top entry is `name`
/// (empty: a directory's contents only). The user named this path, so a
/// final symlink is followed; nothing below it is.
pub fn tar_from_host<W: Write>(path: &Path, name: &[u8], out: W) -> Result<W> {
    let label = path.display().to_string();
    let fd = rfs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::NOENT => Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: no such file or directory"),
        ),
        e => crate::storage_err(format!("opening {label}"), e),
    })?;
    crate::tree::write_tar_of(fd, name, out, &label)
}

/// Extract the tar `reader` (plain or gzip) into directory `dir` (absolute
/// inside the container) of the rootfs at `root`. Every entry is confined
/// to the rootfs; `..` entries reject the archive (RELIABILITY.md 44).
/// Returns the bytes of file data written.
pub fn untar_in_root<R: Read>(reader: R, root: &Path, dir: &str, label: &str) -> Result<u64> {
    let under: Vec<OsString> = clean_path(dir.as_bytes())
        .map_err(|why| Error::new(ErrorKind::InvalidInput, format!("{label}: {dir:?}: {why}")))?;
    match stat_in_root(root, dir, label)? {
        Some(PathKind::Dir) => {}
        Some(PathKind::File) => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{label}: {dir:?} is not a directory"),
            ))
        }
        None => return Err(not_found(dir, label)),
    }
    let opts = ExtractOptions {
        plain: true,
        ..Default::default()
    };
    let reader = crate::util::tar_stream(std::io::BufReader::new(reader))
        .map_err(|why| Error::new(ErrorKind::InvalidInput, format!("{label}: {why}")))?;
    extract_in_root(reader, root, &under, label, &opts)
}

/// Copy directory `path` of the rootfs at `root` (symlinks followed inside
/// it) into the host directory `dest` (a volume's data directory): a
/// volume's first use copies up what the image has at its mount point.
pub fn copy_dir_out(root: &Path, path: &str, dest: &Path, label: &str) -> Result<()> {
    let Some(fd) = open_in_root(root, path, label)? else {
        return Ok(());
    };
    if kind_of(&fd, label)? != PathKind::Dir {
        return Ok(());
    }
    // Through a temporary file: the walker writes, the extractor reads, and
    // a pipe between two threads buys little for the sizes volumes start at.
    let tmp = tempfile_in(dest.parent().unwrap_or(dest), label)?;
    let f = crate::tree::write_tar_of(fd, b"", std::io::BufWriter::new(tmp), label)?;
    let mut f = f
        .into_inner()
        .map_err(|e| crate::storage_err(label, e.error()))?;
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| crate::storage_err(label, e))?;
    let opts = ExtractOptions {
        plain: true,
        ..Default::default()
    };
    crate::extract::extract_layer(std::io::BufReader::new(f), dest, label, &opts).map(drop)
}

/// An unnamed temporary file in `dir` (gone when closed, even on a crash).
fn tempfile_in(dir: &Path, label: &str) -> Result<std::fs::File> {
    let fd = rfs::open(
        dir,
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| crate::storage_err(format!("{label}: temporary file in {}", dir.display()), e))?;
    Ok(std::fs::File::from(fd))
}

/// Stream a tar from `produce` to `consume` through a pipe, the producer on
/// a second thread: memory stays flat however large the tree.
pub fn pipe_tar(
    produce: impl FnOnce(std::io::BufWriter<std::io::PipeWriter>) -> Result<()> + Send,
    consume: impl FnOnce(&mut std::io::BufReader<std::io::PipeReader>) -> Result<()>,
) -> Result<()> {
    let (r, w) = std::io::pipe().map_err(|e| berth_types::Error::io("creating a pipe", e))?;
    std::thread::scope(|s| {
        let writer = s.spawn(move || produce(std::io::BufWriter::with_capacity(1 << 16, w)));
        let mut reader = std::io::BufReader::with_capacity(1 << 16, r);
        let consumed = consume(&mut reader);
        if consumed.is_err() {
            // Drain rather than close: the CLI restores SIGPIPE's default
            // action, so a producer writing into a closed pipe would kill
            // the process before the error is reported.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        }
        drop(reader);
        let produced = writer
            .join()
            .unwrap_or_else(|_| Err(berth_types::Error::internal("archive writer panicked")));
        // The consumer's error is the informative one (a rejected entry);
        // a broken pipe on the producer's side follows from it.
        consumed.and(produced)
    })
}
