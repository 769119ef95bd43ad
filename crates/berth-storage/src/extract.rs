//! Root-confined extraction of one layer tar (the security core).
//!
//! Why not `tar::Archive::unpack`: its semantics differ from OCI layers
//! (whiteouts, opaque dirs, xattrs) and a hostile layer must never write
//! outside its directory. The rules here:
//!
//! * entry paths: a leading `/` and `.` components are dropped; any `..`
//!   component rejects the layer (no legitimate layer needs one);
//! * parents are resolved with `openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)`,
//!   so a symlink in the path (`loophole -> ../victim`) is resolved as if the
//!   layer dir were `/` and can never leave it;
//! * the last component is always created relative to the parent's fd with
//!   `O_EXCL|O_NOFOLLOW` (after removing what was there), so it is never
//!   followed either;
//! * hardlinks may only point at a non-directory this same layer already
//!   extracted (by its cleaned path);
//! * symlink targets are stored as data and never resolved on the host;
//! * `.wh.NAME` becomes an overlay whiteout (char device 0:0) and
//!   `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory;
//! * total data is capped (decompression bombs).
//!
//! Every fd opened here is `O_CLOEXEC` (rustix does not add it by itself).

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use berth_types::{Error, ErrorKind, Result};
use rustix::fs::{
    self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps,
};
use tar::EntryType;

/// Limits for one extraction.
#[derive(Debug, Clone, Copy)]
pub struct ExtractOptions {
    /// Maximum bytes of file data the layer may expand to.
    pub max_bytes: u64,
    /// A plain archive (`cp`), not an image layer: `.wh.` names are
    /// ordinary files, not whiteouts.
    pub plain: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            max_bytes: crate::DEFAULT_MAX_LAYER_BYTES,
            plain: false,
        }
    }
}

/// Extract the (uncompressed) layer tar `reader` into the existing directory
/// `dest`, confined to it. `label` names the image and layer in errors
/// (e.g. `image "x" layer sha256:ab…`). Returns the bytes of file data written.
///
/// On error `dest` may hold a partial tree: callers extract into a temp dir
/// and discard it.
pub fn extract_layer<R: Read>(
    reader: R,
    dest: &Path,
    label: &str,
    opts: &ExtractOptions,
) -> Result<u64> {
    extract_layer_observed(reader, dest, label, opts, &mut |_, _, _| {})
}

/// [`extract_layer`], telling `on_file(stream offset, size, cleaned path)`
/// about every regular file's content before it is read, so a tar-split
/// recorder can leave those bytes out (they are kept in the layer dir).
pub(crate) fn extract_layer_observed<R: Read>(
    reader: R,
    dest: &Path,
    label: &str,
    opts: &ExtractOptions,
    on_file: &mut dyn FnMut(u64, u64, &[u8]),
) -> Result<u64> {
    extract_rooted(reader, dest, &[], label, opts, on_file)
}

/// Extract the tar `reader` below the directory `under` (components,
/// resolved as if `root` were `/`, so symlinks in it stay inside `root`):
/// `cp` into a container, where the archive lands in some directory of the
/// container's rootfs and every path must still be confined to the rootfs.
pub fn extract_in_root<R: Read>(
    reader: R,
    root: &Path,
    under: &[OsString],
    label: &str,
    opts: &ExtractOptions,
) -> Result<u64> {
    extract_rooted(reader, root, under, label, opts, &mut |_, _, _| {})
}

fn extract_rooted<R: Read>(
    reader: R,
    dest: &Path,
    under: &[OsString],
    label: &str,
    opts: &ExtractOptions,
    on_file: &mut dyn FnMut(u64, u64, &[u8]),
) -> Result<u64> {
    let root = rfs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| {
        fail(
            label,
            ErrorKind::Storage,
            format!("opening {}", dest.display()),
            e,
        )
    })?;
    let mut x = Extractor {
        root,
        dest,
        label,
        max: opts.max_bytes,
        plain: opts.plain,
        under: under.to_vec(),
        written: 0,
        files: HashSet::new(),
        dir_times: Vec::new(),
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| x.read_err(e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| x.read_err(e))?;
        x.entry(&mut entry, on_file)?;
    }
    // Directory mtimes last: creating children would bump them again.
    for (comps, ts) in std::mem::take(&mut x.dir_times) {
        if let Ok(fd) = x.open_dir(&comps, false) {
            let _ = rfs::futimens(&fd, &ts);
        }
    }
    Ok(x.written)
}

struct Extractor<'a> {
    root: OwnedFd,
    /// Where `root` is on the host, for error messages (a full disk must
    /// name the path that could not be written).
    dest: &'a Path,
    label: &'a str,
    max: u64,
    /// `.wh.` names are plain files (see [`ExtractOptions::plain`]).
    plain: bool,
    /// Components prepended to every entry path (and hardlink target).
    under: Vec<OsString>,
    written: u64,
    /// Cleaned paths of non-directories extracted so far (hardlink targets).
    files: HashSet<Vec<u8>>,
    dir_times: Vec<(Vec<OsString>, Timestamps)>,
}

/// Metadata of an entry, with PAX overrides applied.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Timespec,
    xattrs: Vec<(OsString, Vec<u8>)>,
}

fn fail(
    label: &str,
    kind: ErrorKind,
    what: impl std::fmt::Display,
    e: impl std::fmt::Display,
) -> Error {
    Error::new(kind, format!("{label}: {what}: {e}")).with_subject(label)
}

/// Split a tar path into safe components: drop empty and `.` parts (which
/// also strips a leading `/`), reject `..` anywhere.
pub(crate) fn clean_path(raw: &[u8]) -> std::result::Result<Vec<OsString>, String> {
    let mut out = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                return Err(format!(
                    "path {:?} contains \"..\"",
                    String::from_utf8_lossy(raw)
                ))
            }
            _ => out.push(OsString::from_vec(c.to_vec())),
        }
    }
    Ok(out)
}

fn join(comps: &[OsString]) -> OsString {
    let mut s = OsString::new();
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            s.push("/");
        }
        s.push(c);
    }
    s
}

impl Extractor<'_> {
    fn read_err(&self, e: io::Error) -> Error {
        if e.to_string().contains(crate::util::LIMIT_MSG) {
            return self.too_big();
        }
        fail(self.label, ErrorKind::InvalidInput, "reading layer", e)
    }

    fn too_big(&self) -> Error {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{}: layer {} (more than {} bytes)",
                self.label,
                crate::util::LIMIT_MSG,
                self.max
            ),
        )
        .with_subject(self.label)
    }

    fn bad(&self, path: &[u8], why: impl std::fmt::Display) -> Error {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{}: rejected entry {:?}: {why}",
                self.label,
                String::from_utf8_lossy(path)
            ),
        )
        .with_subject(self.label)
    }

    fn io(&self, path: &[u8], what: &str, e: impl std::fmt::Display) -> Error {
        fail(
            self.label,
            ErrorKind::Storage,
            format!(
                "{what} {}",
                self.dest
                    .join(String::from_utf8_lossy(path).as_ref())
                    .display()
            ),
            e,
        )
    }

    /// Open directory `comps` inside the root, resolving every symlink as if
    /// the root were `/`. With `create`, missing directories are made (0755,
    /// like tar does for parents it was not given).
    fn open_dir(&self, comps: &[OsString], create: bool) -> io::Result<OwnedFd> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        if comps.is_empty() {
            return Ok(rfs::openat(&self.root, ".", flags, Mode::empty())?);
        }
        match rfs::openat2(
            &self.root,
            join(comps).as_bytes(),
            flags,
            Mode::empty(),
            resolve,
        ) {
            Ok(fd) => return Ok(fd),
            Err(rustix::io::Errno::NOENT) if create => {}
            Err(e) => return Err(e.into()),
        }
        // Walk down creating what is missing. mkdirat never follows a final
        // symlink, so a dangling `loophole -> ../victim` yields EEXIST here
        // and the reopen below fails with ENOENT: the entry is rejected.
        let mut fd = rfs::openat(&self.root, ".", flags, Mode::empty())?;
        for (i, c) in comps.iter().enumerate() {
            match rfs::openat2(
                &self.root,
                join(&comps[..=i]).as_bytes(),
                flags,
                Mode::empty(),
                resolve,
            ) {
                Ok(next) => fd = next,
                Err(rustix::io::Errno::NOENT) => {
                    match rfs::mkdirat(&fd, c.as_os_str(), Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    fd = rfs::openat2(
                        &self.root,
                        join(&comps[..=i]).as_bytes(),
                        flags,
                        Mode::empty(),
                        resolve,
                    )?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(fd)
    }

    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        on_file: &mut dyn FnMut(u64, u64, &[u8]),
    ) -> Result<()> {
        let raw_path = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(()); // metadata records; tar already applied them
        }
        let mut comps = clean_path(&raw_path).map_err(|why| self.bad(&raw_path, why))?;
        if !self.under.is_empty() {
            if comps.is_empty() {
                // The archive's own root ("./") is the existing destination
                // directory: it is left as it is (it may be a symlink the
                // container made, which must not be replaced).
                if kind == EntryType::Directory {
                    return Ok(());
                }
                return Err(self.bad(&raw_path, "not a directory but names the destination"));
            }
            comps.splice(0..0, self.under.iter().cloned());
        }
        let meta = self.meta(entry, &raw_path)?;

        let Some((name, parent_comps)) = comps.split_last() else {
            // "./" or "/": the layer root itself. Only a directory makes sense.
            if kind != EntryType::Directory {
                return Err(self.bad(&raw_path, "not a directory but names the layer root"));
            }
            let fd = self
                .open_dir(&[], false)
                .map_err(|e| self.io(&raw_path, "opening", e))?;
            self.apply_fd_meta(&fd, &meta, &raw_path)?;
            self.dir_times.push((Vec::new(), times(meta.mtime)));
            return Ok(());
        };
        let name_b = name.as_bytes();

        // Whiteouts.
        if let Some(rest) = name_b.strip_prefix(b".wh.").filter(|_| !self.plain) {
            let parent = self
                .open_dir(parent_comps, true)
                .map_err(|e| self.io(&raw_path, "opening parent of", e))?;
            if rest == b".wh..opq" {
                rfs::fsetxattr(
                    &parent,
                    "trusted.overlay.opaque",
                    b"y",
                    rfs::XattrFlags::empty(),
                )
                .map_err(|e| self.io(&raw_path, "marking opaque", e))?;
                return Ok(());
            }
            if rest.starts_with(b".wh.") {
                return Ok(()); // aufs bookkeeping (.wh..wh.plnk etc.): meaningless to overlay
            }
            if rest.is_empty() || rest == b"." || rest == b".." {
                return Err(self.bad(&raw_path, "whiteout names no file"));
            }
            let target = OsStr::from_bytes(rest);
            self.clear(&parent, target, false, &raw_path)?;
            rfs::mknodat(
                &parent,
                target,
                FileType::CharacterDevice,
                Mode::empty(),
                rfs::makedev(0, 0),
            )
            .map_err(|e| self.io(&raw_path, "creating whiteout", e))?;
            self.apply_at_meta(&parent, target, &meta, false, &raw_path)?;
            return Ok(());
        }

        let parent = self
            .open_dir(parent_comps, true)
            .map_err(|e| self.io(&raw_path, "opening parent of", e))?;
        match kind {
            EntryType::Directory => {
                self.clear(&parent, name, true, &raw_path)?;
                match rfs::mkdirat(&parent, name.as_os_str(), Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(self.io(&raw_path, "creating directory", e)),
                }
                let fd = rfs::openat(
                    &parent,
                    name.as_os_str(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| self.io(&raw_path, "opening directory", e))?;
                self.apply_fd_meta(&fd, &meta, &raw_path)?;
                self.dir_times.push((comps.clone(), times(meta.mtime)));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let size = entry.size();
                if self.written.saturating_add(size) > self.max {
                    return Err(self.too_big());
                }
                self.clear(&parent, name, false, &raw_path)?;
                let fd = rfs::openat(
                    &parent,
                    name.as_os_str(),
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| self.io(&raw_path, "creating file", e))?;
                let mut file = File::from(fd);
                // Sparse entries' raw data is not the file's bytes: those
                // stay in the tar-split as they are.
                if kind != EntryType::GNUSparse {
                    on_file(entry.raw_file_position(), size, join(&comps).as_bytes());
                }
                let max_left = self.max - self.written;
                let n = copy_big(&mut Read::take(&mut *entry, max_left + 1), &mut file).map_err(
                    |e| match e {
                        Copy::Read(e) if e.to_string().contains(crate::util::LIMIT_MSG) => {
                            self.too_big()
                        }
                        // The stream ended or broke inside a file: the
                        // layer itself is bad, whatever the disk does.
                        Copy::Read(e) => fail(
                            self.label,
                            ErrorKind::InvalidInput,
                            format_args!(
                                "truncated or corrupt data (in {})",
                                String::from_utf8_lossy(&raw_path)
                            ),
                            e,
                        ),
                        Copy::Write(e) => self.io(&raw_path, "writing", e),
                    },
                )?;
                if n > max_left {
                    return Err(self.too_big());
                }
                self.written += n;
                self.apply_fd_meta(file.as_fd(), &meta, &raw_path)?;
                rfs::futimens(&file, &times(meta.mtime))
                    .map_err(|e| self.io(&raw_path, "setting times of", e))?;
                self.files.insert(join(&comps).into_vec());
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.bad(&raw_path, "symlink without target"))?;
                let target = target.into_owned();
                self.clear(&parent, name, false, &raw_path)?;
                // The target is data: it is never resolved here.
                rfs::symlinkat(OsStr::from_bytes(&target), &parent, name.as_os_str())
                    .map_err(|e| self.io(&raw_path, "creating symlink", e))?;
                self.apply_at_meta(&parent, name, &meta, true, &raw_path)?;
                self.files.insert(join(&comps).into_vec());
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.bad(&raw_path, "hardlink without target"))?;
                let mut tcomps = clean_path(&target)
                    .map_err(|why| self.bad(&raw_path, format!("hardlink target: {why}")))?;
                if !tcomps.is_empty() {
                    tcomps.splice(0..0, self.under.iter().cloned());
                }
                let tkey = join(&tcomps).into_vec();
                if tcomps.is_empty() || !self.files.contains(&tkey) {
                    return Err(self.bad(
                        &raw_path,
                        format!(
                            "hardlink target {:?} is not a file earlier in this layer",
                            String::from_utf8_lossy(&target)
                        ),
                    ));
                }
                if tcomps == comps {
                    return Err(self.bad(&raw_path, "hardlink to itself"));
                }
                let (tname, tparent_comps) = tcomps.split_last().expect("non-empty");
                let tparent = self
                    .open_dir(tparent_comps, false)
                    .map_err(|e| self.io(&raw_path, "opening hardlink target of", e))?;
                self.clear(&parent, name, false, &raw_path)?;
                // No AT_SYMLINK_FOLLOW: a symlink target is linked itself.
                rfs::linkat(
                    &tparent,
                    tname.as_os_str(),
                    &parent,
                    name.as_os_str(),
                    AtFlags::empty(),
                )
                .map_err(|e| self.io(&raw_path, "creating hardlink", e))?;
                self.files.insert(join(&comps).into_vec());
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (ft, dev) = match kind {
                    EntryType::Char => (FileType::CharacterDevice, self.dev(entry, &raw_path)?),
                    EntryType::Block => (FileType::BlockDevice, self.dev(entry, &raw_path)?),
                    _ => (FileType::Fifo, 0),
                };
                self.clear(&parent, name, false, &raw_path)?;
                rfs::mknodat(
                    &parent,
                    name.as_os_str(),
                    ft,
                    Mode::from_raw_mode(0o600),
                    dev,
                )
                .map_err(|e| self.io(&raw_path, "creating device node", e))?;
                self.apply_at_meta(&parent, name, &meta, false, &raw_path)?;
                self.files.insert(join(&comps).into_vec());
            }
            other => return Err(self.bad(&raw_path, format!("unsupported entry type {other:?}"))),
        }
        Ok(())
    }

    fn dev<R: Read>(&self, entry: &tar::Entry<'_, R>, path: &[u8]) -> Result<rfs::Dev> {
        let h = entry.header();
        let maj = h
            .device_major()
            .ok()
            .flatten()
            .ok_or_else(|| self.bad(path, "bad device major"))?;
        let min = h
            .device_minor()
            .ok()
            .flatten()
            .ok_or_else(|| self.bad(path, "bad device minor"))?;
        Ok(rfs::makedev(maj, min))
    }

    fn meta<R: Read>(&self, entry: &mut tar::Entry<'_, R>, path: &[u8]) -> Result<Meta> {
        let h = entry.header();
        let mut m = Meta {
            mode: h.mode().map_err(|e| self.bad(path, e))? & 0o7777,
            uid: h.uid().map_err(|e| self.bad(path, e))? as u32,
            gid: h.gid().map_err(|e| self.bad(path, e))? as u32,
            mtime: Timespec {
                tv_sec: h.mtime().unwrap_or(0) as i64,
                tv_nsec: 0,
            },
            xattrs: Vec::new(),
        };
        if let Some(pax) = entry.pax_extensions().map_err(|e| self.bad(path, e))? {
            for ext in pax {
                let ext = ext.map_err(|e| self.bad(path, e))?;
                let key = ext.key_bytes();
                let val = ext.value_bytes();
                if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    m.xattrs
                        .push((OsString::from_vec(name.to_vec()), val.to_vec()));
                } else if key == b"uid" {
                    m.uid = parse_num(val).ok_or_else(|| self.bad(path, "bad PAX uid"))?;
                } else if key == b"gid" {
                    m.gid = parse_num(val).ok_or_else(|| self.bad(path, "bad PAX gid"))?;
                } else if key == b"mtime" {
                    m.mtime = parse_pax_time(val).ok_or_else(|| self.bad(path, "bad PAX mtime"))?;
                }
            }
        }
        Ok(m)
    }

    /// Make room for a new entry `name` in `parent`: keep an existing
    /// directory when a directory is coming, otherwise remove what is there.
    fn clear(&self, parent: &OwnedFd, name: &OsStr, keep_dir: bool, path: &[u8]) -> Result<()> {
        let st = match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(rustix::io::Errno::NOENT) => return Ok(()),
            Err(e) => return Err(self.io(path, "inspecting", e)),
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            if keep_dir {
                return Ok(());
            }
            // The /proc/self/fd path pins the (already confined) parent; std's
            // remove_dir_all never follows symlinks inside the tree.
            let p = format!("/proc/self/fd/{}/", parent.as_raw_fd());
            let mut full = p.into_bytes();
            full.extend_from_slice(name.as_bytes());
            std::fs::remove_dir_all(Path::new(OsStr::from_bytes(&full)))
                .map_err(|e| self.io(path, "replacing directory", e))?;
        } else {
            rfs::unlinkat(parent, name, AtFlags::empty())
                .map_err(|e| self.io(path, "replacing", e))?;
        }
        Ok(())
    }

    /// Owner, mode, xattrs on an open file or directory. Order matters:
    /// chown clears setuid bits and security.capability, so it goes first.
    fn apply_fd_meta(&self, fd: impl AsFd, m: &Meta, path: &[u8]) -> Result<()> {
        let fd = fd.as_fd();
        rfs::fchown(
            fd,
            Some(rfs::Uid::from_raw(m.uid)),
            Some(rfs::Gid::from_raw(m.gid)),
        )
        .map_err(|e| self.io(path, "chown", e))?;
        rfs::fchmod(fd, Mode::from_raw_mode(m.mode)).map_err(|e| self.io(path, "chmod", e))?;
        for (k, v) in &m.xattrs {
            set_xattr_fd(fd, k, v)
                .map_err(|e| self.io(path, &format!("setting xattr {k:?} on"), e))?;
        }
        Ok(())
    }

    /// Metadata for entries we cannot open (symlinks, device nodes).
    fn apply_at_meta(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        m: &Meta,
        is_link: bool,
        path: &[u8],
    ) -> Result<()> {
        rfs::chownat(
            parent,
            name,
            Some(rfs::Uid::from_raw(m.uid)),
            Some(rfs::Gid::from_raw(m.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.io(path, "chown", e))?;
        if !is_link {
            // The node was just created by us (O_EXCL semantics via mknodat),
            // so following here cannot reach a symlink.
            rfs::chmodat(parent, name, Mode::from_raw_mode(m.mode), AtFlags::empty())
                .map_err(|e| self.io(path, "chmod", e))?;
        }
        if !m.xattrs.is_empty() {
            // lsetxattr on <parent fd>/<name>: the parent is pinned, the
            // final component is not followed.
            let mut p = format!("/proc/self/fd/{}/", parent.as_raw_fd()).into_bytes();
            p.extend_from_slice(name.as_bytes());
            for (k, v) in &m.xattrs {
                match rfs::lsetxattr(
                    OsStr::from_bytes(&p),
                    k.as_os_str(),
                    v,
                    rfs::XattrFlags::empty(),
                ) {
                    Ok(()) => {}
                    // user.* xattrs are not allowed on symlinks; nothing to keep.
                    Err(rustix::io::Errno::PERM) if is_link => {}
                    Err(e) => return Err(self.io(path, &format!("setting xattr {k:?} on"), e)),
                }
            }
        }
        rfs::utimensat(parent, name, &times(m.mtime), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.io(path, "setting times of", e))?;
        Ok(())
    }
}

fn set_xattr_fd(fd: BorrowedFd<'_>, k: &OsStr, v: &[u8]) -> rustix::io::Result<()> {
    match rfs::fsetxattr(fd, k, v, rfs::XattrFlags::empty()) {
        // A filesystem without xattr support loses nothing the container needs
        // to start; failing the whole image for it would be worse.
        Err(rustix::io::Errno::NOTSUP) => Ok(()),
        r => r,
    }
}

fn times(t: Timespec) -> Timestamps {
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn parse_num(v: &[u8]) -> Option<u32> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

fn parse_pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let tv_sec: i64 = sec.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    let tv_nsec: i64 = digits.parse().ok()?;
    Some(Timespec {
        tv_sec,
        tv_nsec: tv_nsec as _,
    })
}

/// Which side of [`copy_big`] failed.
enum Copy {
    /// Reading the layer (its decompressor, its digest check, its limit).
    Read(io::Error),
    /// Writing the file (the disk).
    Write(io::Error),
}

/// `io::copy` with a 256 KiB buffer instead of 8 KiB: file data is the bulk
/// of every layer and `cp`, and the syscall count is what costs.
fn copy_big(r: &mut impl Read, w: &mut impl io::Write) -> Result<u64, Copy> {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 256 << 10]);
    }
    BUF.with(|b| {
        let mut buf = b.borrow_mut();
        let mut total = 0u64;
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Copy::Read(e)),
            };
            w.write_all(&buf[..n]).map_err(Copy::Write)?;
            total += n as u64;
        }
    })
}
