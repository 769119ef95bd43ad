//! Reading container filesystems safely: `export` (merged rootfs → tar),
//! `commit` (upper dir → layer tar, overlay whiteouts turned back into
//! `.wh.` entries) and `diff` (upper dir → A/C/D against the image).
//!
//! Why file descriptors all the way down: the tree belongs to a container
//! that may be running and swapping files for symlinks to host paths while
//! we read (CVE-2023-0778, RELIABILITY.md 46). Every directory is opened
//! relative to its already-open parent with `O_NOFOLLOW|O_DIRECTORY`, every
//! file with `O_NOFOLLOW`, and metadata comes from the opened fd, so a path
//! is never resolved on the host and a swapped-in symlink is at most
//! archived as a symlink.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use berth_types::{Error, ErrorKind, Result};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use tar::EntryType;

/// What a tar of a tree is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TarKind {
    /// A plain filesystem tree (`export`).
    Plain,
    /// An overlay upper dir becoming an image layer (`commit`).
    Layer,
}

/// One change of a container against its image, as `diff` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// `A` added, `C` changed, `D` deleted.
    pub kind: char,
    /// Absolute path inside the container.
    pub path: String,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

pub(crate) fn open_root(p: &Path, label: &str) -> Result<OwnedFd> {
    rfs::open(p, DIR_FLAGS, Mode::empty())
        .map_err(|e| crate::storage_err(format!("{label}: opening {}", p.display()), e))
}

fn open_sub(dir: BorrowedFd<'_>, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    rfs::openat(dir, name, DIR_FLAGS, Mode::empty())
}

/// Names in a directory, sorted (stable archives and diff output).
fn names(dir: BorrowedFd<'_>) -> rustix::io::Result<Vec<OsString>> {
    let mut out = Vec::new();
    for ent in rfs::Dir::read_from(dir)? {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    out.sort();
    Ok(out)
}

fn is_whiteout(st: &rfs::Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice && st.st_rdev == 0
}

fn is_opaque(dir: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 4];
    matches!(rfs::fgetxattr(dir, "trusted.overlay.opaque", &mut buf), Ok(1) if buf[0] == b'y')
}

fn join(prefix: &[u8], name: &OsStr) -> Vec<u8> {
    let mut p = prefix.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name.as_bytes());
    p
}

struct TarWalk<'a, W: Write> {
    b: tar::Builder<W>,
    kind: TarKind,
    links: HashMap<(u64, u64), Vec<u8>>,
    label: &'a str,
}

fn header(st: &rfs::Stat, t: EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(t);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

/// The extended attributes of an open file or directory worth archiving
/// (file capabilities, `user.*`, ACLs): overlay's own `trusted.overlay.*`
/// are bookkeeping of the upper dir, not content.
fn xattrs_of(fd: BorrowedFd<'_>) -> Vec<(String, Vec<u8>)> {
    let mut list = vec![0u8; 8192];
    let Ok(n) = rfs::flistxattr(fd, &mut list) else {
        return Vec::new();
    };
    list[..n]
        .split(|b| *b == 0)
        .filter_map(|name| std::str::from_utf8(name).ok())
        .filter(|name| !name.is_empty() && !name.starts_with("trusted.overlay."))
        .filter_map(|name| {
            let mut value = vec![0u8; 65536];
            let len = rfs::fgetxattr(fd, name, &mut value).ok()?;
            value.truncate(len);
            Some((format!("SCHILY.xattr.{name}"), value))
        })
        .collect()
}

impl<W: Write> TarWalk<'_, W> {
    /// Write `fd`'s xattrs as PAX records; they belong to the next entry.
    fn put_xattrs(&mut self, fd: BorrowedFd<'_>, path: &[u8]) -> Result<()> {
        let xattrs = xattrs_of(fd);
        if xattrs.is_empty() {
            return Ok(());
        }
        self.b
            .append_pax_extensions(xattrs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            .map_err(|e| self.err(path, e))
    }

    fn err(&self, path: &[u8], e: impl std::fmt::Display) -> Error {
        Error::new(
            ErrorKind::Storage,
            format!("{}: {:?}: {e}", self.label, String::from_utf8_lossy(path)),
        )
        .with_subject(self.label)
    }

    fn dir(&mut self, dir: BorrowedFd<'_>, prefix: &[u8]) -> Result<()> {
        let list = names(dir).map_err(|e| self.err(prefix, e))?;
        for name in list {
            let path = join(prefix, &name);
            let st = match rfs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(Errno::NOENT) => continue, // removed while we walk
                Err(e) => return Err(self.err(&path, e)),
            };
            self.node(dir, &name, &path, &st)?;
        }
        Ok(())
    }

    fn put(&mut self, h: &mut tar::Header, path: &[u8], data: impl Read) -> Result<()> {
        self.b
            .append_data(h, OsStr::from_bytes(path), data)
            .map_err(|e| self.err(path, e))
    }

    fn node(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        path: &[u8],
        st: &rfs::Stat,
    ) -> Result<()> {
        let ft = FileType::from_raw_mode(st.st_mode);
        if self.kind == TarKind::Layer && is_whiteout(st) {
            let mut wh = path[..path.len() - name.len()].to_vec();
            wh.extend_from_slice(b".wh.");
            wh.extend_from_slice(name.as_bytes());
            let mut h = header(st, EntryType::Regular);
            h.set_mode(0o600);
            return self.put(&mut h, &wh, io::empty());
        }
        if ft != FileType::Directory && st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some(first) = self.links.get(&key).cloned() {
                let mut h = header(st, EntryType::Link);
                return self
                    .b
                    .append_link(&mut h, OsStr::from_bytes(path), OsStr::from_bytes(&first))
                    .map_err(|e| self.err(path, e));
            }
            self.links.insert(key, path.to_vec());
        }
        match ft {
            FileType::Directory => {
                // Swapped for something else since the stat: skip it.
                let Ok(sub) = open_sub(dir, name) else {
                    return Ok(());
                };
                let mut h = header(st, EntryType::Directory);
                let mut p = path.to_vec();
                p.push(b'/');
                self.put_xattrs(sub.as_fd(), path)?;
                self.put(&mut h, &p, io::empty())?;
                if self.kind == TarKind::Layer && is_opaque(sub.as_fd()) {
                    let mut opq = p.clone();
                    opq.extend_from_slice(b".wh..wh..opq");
                    let mut h = header(st, EntryType::Regular);
                    h.set_mode(0o600);
                    self.put(&mut h, &opq, io::empty())?;
                }
                self.dir(sub.as_fd(), path)
            }
            FileType::RegularFile => {
                let flags = OFlags::RDONLY
                    | OFlags::NOFOLLOW
                    | OFlags::NONBLOCK
                    | OFlags::CLOEXEC
                    | OFlags::NOCTTY;
                let Ok(fd) = rfs::openat(dir, name, flags, Mode::empty()) else {
                    return Ok(()); // replaced by a symlink or removed meanwhile
                };
                let fst = rfs::fstat(&fd).map_err(|e| self.err(path, e))?;
                if FileType::from_raw_mode(fst.st_mode) != FileType::RegularFile {
                    return Ok(());
                }
                let size = fst.st_size.max(0) as u64;
                let mut h = header(&fst, EntryType::Regular);
                h.set_size(size);
                self.put_xattrs(fd.as_fd(), path)?;
                // Exactly `size` bytes even if the file changes meanwhile:
                // the header is already written.
                let data = File::from(fd).take(size).chain(io::repeat(0)).take(size);
                // The tar writer copies through `dyn Write` in 8 KiB steps
                // unless the source is buffered: big reads, fewer syscalls.
                let cap = (size as usize).clamp(4096, 256 << 10);
                self.put(&mut h, path, io::BufReader::with_capacity(cap, data))
            }
            FileType::Symlink => {
                let target = match rfs::readlinkat(dir, name, Vec::new()) {
                    Ok(t) => t,
                    // No longer a symlink (EINVAL) or gone: swapped while we
                    // walk, like the file case; skip it.
                    Err(Errno::INVAL) | Err(Errno::NOENT) => return Ok(()),
                    Err(e) => return Err(self.err(path, e)),
                };
                let mut h = header(st, EntryType::Symlink);
                self.b
                    .append_link(
                        &mut h,
                        OsStr::from_bytes(path),
                        OsStr::from_bytes(target.as_bytes()),
                    )
                    .map_err(|e| self.err(path, e))
            }
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
                let t = match ft {
                    FileType::CharacterDevice => EntryType::Char,
                    FileType::BlockDevice => EntryType::Block,
                    _ => EntryType::Fifo,
                };
                let mut h = header(st, t);
                let _ = h.set_device_major(rfs::major(st.st_rdev));
                let _ = h.set_device_minor(rfs::minor(st.st_rdev));
                self.put(&mut h, path, io::empty())
            }
            _ => Ok(()), // sockets are not archived
        }
    }
}

/// Write the tree at `root` as a tar to `out`; returns `out`.
pub(crate) fn write_tar<W: Write>(root: &Path, out: W, kind: TarKind, label: &str) -> Result<W> {
    let fd = open_root(root, label)?;
    let mut w = TarWalk {
        b: tar::Builder::new(out),
        kind,
        links: HashMap::new(),
        label,
    };
    w.dir(fd.as_fd(), b"")?;
    w.b.into_inner()
        .map_err(|e| crate::storage_err(format!("{label}: writing archive"), e))
}

/// Write the entries `names` of the directory `dir` (missing ones are
/// skipped) to `out` as one plain tar, each walked as in [`write_tar`].
pub(crate) fn write_tar_entries<W: Write>(
    dir: &Path,
    names: &[&str],
    out: W,
    label: &str,
) -> Result<W> {
    let fd = open_root(dir, label)?;
    let mut w = TarWalk {
        b: tar::Builder::new(out),
        kind: TarKind::Plain,
        links: HashMap::new(),
        label,
    };
    for name in names {
        let st = match rfs::statat(&fd, *name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(w.err(name.as_bytes(), e)),
        };
        w.node(fd.as_fd(), OsStr::new(name), name.as_bytes(), &st)?;
    }
    w.b.into_inner()
        .map_err(|e| crate::storage_err(format!("{label}: writing archive"), e))
}

/// Whether `comps` exists in the union of `lowers` (top first).
fn in_lowers(lowers: &[OwnedFd], comps: &[&OsStr]) -> bool {
    for layer in lowers {
        let mut cur: Option<OwnedFd> = None;
        let mut opaque = false;
        for (i, c) in comps.iter().enumerate() {
            let dir = cur.as_ref().map(|f| f.as_fd()).unwrap_or(layer.as_fd());
            match rfs::statat(dir, *c, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if is_whiteout(&st) => return false,
                Ok(_) if i + 1 == comps.len() => return true,
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                    match open_sub(dir, c) {
                        Ok(f) => {
                            opaque |= is_opaque(f.as_fd());
                            cur = Some(f);
                        }
                        Err(_) => return false,
                    }
                }
                // A non-directory shadows everything below it.
                Ok(_) => return false,
                Err(_) => break,
            }
        }
        if opaque {
            return false;
        }
    }
    false
}

fn changes_in(
    dir: BorrowedFd<'_>,
    comps: &mut Vec<OsString>,
    lowers: &[OwnedFd],
    out: &mut Vec<Change>,
) -> rustix::io::Result<()> {
    for name in names(dir)? {
        let Ok(st) = rfs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        comps.push(name.clone());
        let refs: Vec<&OsStr> = comps.iter().map(|c| c.as_os_str()).collect();
        let mut path = Vec::new();
        for c in &refs {
            path.push(b'/');
            path.extend_from_slice(c.as_bytes());
        }
        let path = String::from_utf8_lossy(&path).into_owned();
        if is_whiteout(&st) {
            out.push(Change { kind: 'D', path });
        } else {
            let kind = if in_lowers(lowers, &refs) { 'C' } else { 'A' };
            out.push(Change { kind, path });
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                if let Ok(sub) = open_sub(dir, &name) {
                    changes_in(sub.as_fd(), comps, lowers, out)?;
                }
            }
        }
        comps.pop();
    }
    Ok(())
}

/// Changes of the upper dir `upper` against `lowers` (top first).
pub(crate) fn changes(
    upper: &Path,
    lowers: &[std::path::PathBuf],
    label: &str,
) -> Result<Vec<Change>> {
    let up = open_root(upper, label)?;
    let mut fds = Vec::with_capacity(lowers.len());
    for l in lowers {
        fds.push(open_root(l, label)?);
    }
    let mut out = Vec::new();
    changes_in(up.as_fd(), &mut Vec::new(), &fds, &mut out)
        .map_err(|e| crate::storage_err(format!("{label}: reading changes"), e))?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Write the already-open file or directory `fd` to `out` as a tar whose
/// top entry is named `name` (a directory's entries follow below it); an
/// empty `name` archives only a directory's contents (`cp SRC/. DEST`).
/// Everything below `fd` is walked by descriptor as in [`write_tar`], so
/// nothing under it is ever followed.
pub(crate) fn write_tar_of<W: Write>(fd: OwnedFd, name: &[u8], out: W, label: &str) -> Result<W> {
    let st = rfs::fstat(&fd).map_err(|e| crate::storage_err(label, e))?;
    let mut w = TarWalk {
        b: tar::Builder::new(out),
        kind: TarKind::Plain,
        links: HashMap::new(),
        label,
    };
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            if !name.is_empty() {
                let mut p = name.to_vec();
                p.push(b'/');
                w.put(&mut header(&st, EntryType::Directory), &p, io::empty())?;
            }
            // A directory opened for reading can be listed directly.
            w.dir(fd.as_fd(), name)?;
        }
        FileType::RegularFile => {
            let size = st.st_size.max(0) as u64;
            let mut h = header(&st, EntryType::Regular);
            h.set_size(size);
            let data = File::from(fd).take(size).chain(io::repeat(0)).take(size);
            w.put(&mut h, name, data)?;
        }
        FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice => {
            let t = match FileType::from_raw_mode(st.st_mode) {
                FileType::CharacterDevice => EntryType::Char,
                FileType::BlockDevice => EntryType::Block,
                _ => EntryType::Fifo,
            };
            let mut h = header(&st, t);
            let _ = h.set_device_major(rfs::major(st.st_rdev));
            let _ = h.set_device_minor(rfs::minor(st.st_rdev));
            w.put(&mut h, name, io::empty())?;
        }
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{label}: cannot copy a socket"),
            ))
        }
    }
    w.b.into_inner()
        .map_err(|e| crate::storage_err(format!("{label}: writing archive"), e))
}
