//! `berth cp`: files between the host and a container's filesystem, and tar
//! streams in and out.
//!
//! Every container path is resolved by the kernel inside the container's
//! root (openat2 `RESOLVE_IN_ROOT`, in `berth_storage::copy`), so symlinks
//! the container makes, even while we copy, never lead to host files
//! (RELIABILITY.md 40–42); archives are written by the descriptor walker and
//! read by the confined extractor; no binary from the image runs (43).
//! A path under one of the container's bind or volume mounts is served from
//! the mount's source, confined to it, because those mounts exist only in
//! the container's mount namespace, not in the rootfs we see.

use super::Container;
use berth_storage::{
    extract_layer, path_stat_in_root, pipe_tar, stat_in_root, tar_from_host, tar_from_root,
    untar_in_root, ExtractOptions, PathKind, PathStat,
};
use berth_types::{Error, MountKind, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The last component of a container path; empty for `/` and for `DIR/.`
/// (which means "the directory's contents").
fn base(path: &str) -> &str {
    if path.ends_with("/.") || path == "." {
        return "";
    }
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// The parent of a container path (`/` for top-level names).
fn parent(path: &str) -> String {
    let t = path.trim_end_matches('/');
    match t.rsplit_once('/') {
        Some(("", _)) | None => "/".into(),
        Some((p, _)) => p.into(),
    }
}

fn bad(msg: String) -> Error {
    Error::invalid(msg)
}

impl Container<'_> {
    /// The root to resolve `path` in and the path inside it: the rootfs,
    /// or the source of the bind/volume mount `path` lies under.
    fn copy_root(&self, rootfs: &Path, path: &str) -> Result<(PathBuf, String)> {
        let cfg = self.rt.store.get(&self.id)?.config;
        let norm = format!("/{}", path.trim_start_matches('/'));
        let best = cfg
            .mounts
            .iter()
            .filter(|m| {
                let d = m.destination.trim_end_matches('/');
                norm == d || norm.starts_with(&format!("{d}/"))
            })
            .max_by_key(|m| m.destination.trim_end_matches('/').len());
        match best {
            Some(m) if m.kind == MountKind::Bind => {
                let rest = &norm[m.destination.trim_end_matches('/').len()..];
                Ok((
                    PathBuf::from(&m.source),
                    format!("/{}", rest.trim_start_matches('/')),
                ))
            }
            Some(m) => Err(bad(format!(
                "cannot copy to or from {path:?}: it is on the container's tmpfs {}",
                m.destination
            ))),
            None => Ok((rootfs.to_path_buf(), norm)),
        }
    }

    /// Run `f` with the rootfs mounted (one more mount user while it runs,
    /// so a concurrent stop cannot unmount it; the lock is not held).
    fn with_rootfs<T>(&self, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        let root = self.mount()?;
        let out = f(&root);
        let undone = self.unmount(false);
        let out = out?;
        undone?;
        Ok(out)
    }

    fn label(&self) -> String {
        let name = self
            .rt
            .store
            .get(&self.id)
            .map(|r| r.config.name)
            .unwrap_or_else(|_| self.id.clone());
        format!("container {name}")
    }

    /// `cp HOST-PATH CTR:PATH`. `dest` naming an existing directory (or a
    /// symlink to one inside the container) receives `src` by its name;
    /// otherwise `src` is written as `dest`. `SRC/.` copies a directory's
    /// contents.
    pub fn copy_in(&self, src: &Path, dest: &str) -> Result<()> {
        let label = self.label();
        let src_meta =
            std::fs::metadata(src).map_err(|e| bad(format!("{}: {e}", src.display())))?;
        let src_s = src.to_string_lossy();
        let contents = src_s.ends_with("/.");
        let src_name = base(&src_s).to_string();
        self.with_rootfs(|rootfs| {
            let (root, dpath) = self.copy_root(rootfs, dest)?;
            let (dir, name) = match stat_in_root(&root, &dpath, &label)? {
                Some(PathKind::Dir) => (
                    dpath.clone(),
                    if contents { String::new() } else { src_name },
                ),
                Some(PathKind::File) if src_meta.is_dir() => {
                    return Err(bad(format!(
                        "cannot copy directory {} onto file {dest:?} of {label}",
                        src.display()
                    )))
                }
                _ if dest.ends_with('/') => {
                    return Err(bad(format!(
                        "{dest:?} could not be found on {label}: no such directory"
                    )))
                }
                _ => (parent(&dpath), base(&dpath).to_string()),
            };
            pipe_tar(
                |w| tar_from_host(src, name.as_bytes(), w).map(drop),
                |r| untar_in_root(r, &root, &dir, &label).map(drop),
            )
        })
    }

    /// `cp - CTR:DIR`: extract the tar `reader` into directory `dest`.
    /// Entries with `..` reject the archive (RELIABILITY.md 44).
    pub fn copy_in_tar<R: Read>(&self, reader: R, dest: &str) -> Result<()> {
        let label = self.label();
        self.with_rootfs(|rootfs| {
            let (root, dpath) = self.copy_root(rootfs, dest)?;
            untar_in_root(reader, &root, &dpath, &label).map(drop)
        })
    }

    /// `cp CTR:PATH -`: write `src` to `out` as a tar (its top entry named
    /// like `src`; `DIR/.` gives the contents only).
    pub fn copy_out_tar<W: Write>(&self, src: &str, out: W) -> Result<W> {
        let label = self.label();
        self.with_rootfs(|rootfs| {
            let (root, spath) = self.copy_root(rootfs, src)?;
            let name = if src.ends_with("/.") {
                ""
            } else {
                base(&spath)
            };
            tar_from_root(&root, &spath, name.as_bytes(), out, &label)
        })
    }

    /// Size, mode and modification time of `path` in the container
    /// (symlinks followed inside it), `None` when nothing is there: the
    /// Docker API's archive stat.
    pub fn stat_path(&self, path: &str) -> Result<Option<PathStat>> {
        let label = self.label();
        self.with_rootfs(|rootfs| {
            let (root, p) = self.copy_root(rootfs, path)?;
            path_stat_in_root(&root, &p, &label)
        })
    }

    /// `cp CTR:PATH HOST-PATH`, with the same naming rules as
    /// [`Container::copy_in`].
    pub fn copy_out(&self, src: &str, dest: &Path) -> Result<()> {
        let label = self.label();
        self.with_rootfs(|rootfs| {
            let (root, spath) = self.copy_root(rootfs, src)?;
            let kind = stat_in_root(&root, &spath, &label)?.ok_or_else(|| {
                bad(format!(
                    "{src:?} could not be found on {label}: no such file or directory"
                ))
            })?;
            let contents = src.ends_with("/.");
            let (dir, name) = match std::fs::metadata(dest) {
                Ok(m) if m.is_dir() => (
                    dest.to_path_buf(),
                    if contents {
                        String::new()
                    } else {
                        base(&spath).to_string()
                    },
                ),
                Ok(_) if kind == PathKind::Dir => {
                    return Err(bad(format!(
                        "cannot copy directory {src:?} onto file {}",
                        dest.display()
                    )))
                }
                _ if dest.to_string_lossy().ends_with('/') => {
                    return Err(bad(format!("{}: no such directory", dest.display())))
                }
                _ => {
                    let p = dest.parent().filter(|p| !p.as_os_str().is_empty());
                    let name = dest
                        .file_name()
                        .ok_or_else(|| bad(format!("invalid destination {}", dest.display())))?;
                    (
                        p.map(Path::to_path_buf)
                            .unwrap_or_else(|| PathBuf::from(".")),
                        name.to_string_lossy().into_owned(),
                    )
                }
            };
            // The host directory is the user's: resolve its symlinks here,
            // the extractor then refuses to follow any below it.
            let dir =
                std::fs::canonicalize(&dir).map_err(|e| bad(format!("{}: {e}", dir.display())))?;
            let opts = ExtractOptions {
                plain: true,
                ..Default::default()
            };
            pipe_tar(
                |w| tar_from_root(&root, &spath, name.as_bytes(), w, &label).map(drop),
                |r| extract_layer(r, &dir, &label, &opts).map(drop),
            )
        })
    }
}
