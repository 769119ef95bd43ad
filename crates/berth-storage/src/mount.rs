//! Overlay mounts of container layers.
//!
//! Why the new mount API first: `mount(2)` options are limited to one page,
//! and a `lowerdir=` string of ~50 deep layer paths exceeds 4096 bytes.
//! `fsconfig("lowerdir+")` takes one layer per call (kernel ≥ 6.8). On older
//! kernels we fall back to `mount(2)` when the option string fits.

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use berth_types::{Error, ErrorKind, Result};
use rustix::io::Errno;
use rustix::mount::{
    self as rmount, FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, UnmountFlags,
};

use crate::util::check_cid;
use crate::Store;

/// Whether something is mounted on `target`: a mount point has another
/// device than its parent directory (overlay gets its own st_dev).
fn is_mounted(target: &Path) -> bool {
    let (Ok(m), Some(Ok(p))) = (
        std::fs::metadata(target),
        target.parent().map(std::fs::metadata),
    ) else {
        return false;
    };
    m.dev() != p.dev()
}

fn mount_err(cid: &str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Storage, format!("container {cid}: {what}: {e}")).with_subject(cid)
}

impl Store {
    /// Mount container `cid`'s overlay on `containers/<cid>/merged` and
    /// return that path. Already mounted: just returns the path.
    pub fn mount(&self, cid: &str) -> Result<PathBuf> {
        check_cid(cid)?;
        let dir = self.container_dir(cid);
        let merged = dir.join("merged");
        let mut lowers = self.container_lowers(cid)?;
        if is_mounted(&merged) {
            return Ok(merged);
        }
        if lowers.is_empty() {
            // overlay needs at least one lower dir.
            lowers.push(self.root.join("empty"));
        }
        let upper = dir.join("diff");
        let work = dir.join("work");
        match mount_new_api(&lowers, &upper, &work, &merged) {
            Ok(()) => return Ok(merged),
            // ENOSYS: no fsopen; EINVAL: kernel < 6.8 does not know lowerdir+.
            Err(Errno::NOSYS) | Err(Errno::INVAL) => {}
            Err(e) => return Err(mount_err(cid, "mounting overlay", e)),
        }
        let lower_s: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower_s.join(":"),
            upper.display(),
            work.display()
        );
        if opts.len() >= 4096 {
            return Err(mount_err(
                cid,
                "mounting overlay",
                "too many layers for mount(2) and the kernel lacks lowerdir+ (needs Linux 6.8)",
            ));
        }
        let c = CString::new(opts).map_err(|e| mount_err(cid, "mount options", e))?;
        rmount::mount(
            "overlay",
            &merged,
            "overlay",
            rmount::MountFlags::NODEV,
            c.as_c_str(),
        )
        .map_err(|e| mount_err(cid, "mounting overlay", e))?;
        Ok(merged)
    }

    /// Unmount container `cid`'s overlay. Idempotent; on EBUSY falls back
    /// to a lazy detach so the caller can proceed. While users hold mounts
    /// ([`Store::mount_user`]) the overlay stays: stopping a container must
    /// not pull the tree from under a `berth mount` user.
    pub fn unmount(&self, cid: &str) -> Result<()> {
        check_cid(cid)?;
        let merged = self.container_dir(cid).join("merged");
        if !is_mounted(&merged) {
            return Ok(());
        }
        if self.mount_count(cid)? > 0 {
            return Ok(());
        }
        self.unmount_now(cid, &merged)
    }

    /// `berth mount`: mount container `cid` and count one more user.
    /// A count left from before a reboot (nothing mounted) starts over.
    pub fn mount_user(&self, cid: &str) -> Result<PathBuf> {
        check_cid(cid)?;
        let merged = self.container_dir(cid).join("merged");
        if !is_mounted(&merged) {
            self.set_mount_count(cid, 0)?;
        }
        let path = self.mount(cid)?;
        let n = self.mount_count(cid)?;
        self.set_mount_count(cid, n + 1)?;
        Ok(path)
    }

    /// `berth unmount`: count one user fewer (all of them with `force`) and
    /// return how many remain. The overlay itself is unmounted when none
    /// remain and `keep` is false (the container is not running).
    pub fn unmount_user(&self, cid: &str, force: bool, keep: bool) -> Result<u32> {
        check_cid(cid)?;
        let merged = self.container_dir(cid).join("merged");
        let n = if is_mounted(&merged) {
            self.mount_count(cid)?
        } else {
            0
        };
        let left = if force { 0 } else { n.saturating_sub(1) };
        self.set_mount_count(cid, left)?;
        if left == 0 && !keep && is_mounted(&merged) {
            self.unmount_now(cid, &merged)?;
        }
        Ok(left)
    }

    /// Whether container `cid`'s overlay is mounted now.
    pub fn is_mounted(&self, cid: &str) -> Result<bool> {
        check_cid(cid)?;
        Ok(is_mounted(&self.container_dir(cid).join("merged")))
    }

    /// Outstanding `berth mount` users of container `cid`.
    pub fn mount_count(&self, cid: &str) -> Result<u32> {
        let n: Option<i64> = self
            .conn()
            .query_row(
                "SELECT mount_count FROM containers WHERE cid = ?1",
                [cid],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(crate::db::db_err("reading mount count", e)),
            })?;
        Ok(n.unwrap_or(0).max(0) as u32)
    }

    fn set_mount_count(&self, cid: &str, n: u32) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE containers SET mount_count = ?2 WHERE cid = ?1",
                rusqlite::params![cid, n],
            )
            .map_err(|e| crate::db::db_err("saving mount count", e))?;
        Ok(())
    }

    fn unmount_now(&self, cid: &str, merged: &Path) -> Result<()> {
        match rmount::unmount(merged, UnmountFlags::NOFOLLOW) {
            Ok(()) | Err(Errno::INVAL) | Err(Errno::NOENT) => Ok(()),
            Err(Errno::BUSY) => {
                rmount::unmount(merged, UnmountFlags::NOFOLLOW | UnmountFlags::DETACH)
                    .map_err(|e| mount_err(cid, "unmounting (lazy)", e))
            }
            Err(e) => Err(mount_err(cid, "unmounting", e)),
        }
    }
}

fn mount_new_api(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> rustix::io::Result<()> {
    let fs = rmount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    for l in lowers {
        rmount::fsconfig_set_string(&fs, "lowerdir+", l)?;
    }
    rmount::fsconfig_set_string(&fs, "upperdir", upper)?;
    rmount::fsconfig_set_string(&fs, "workdir", work)?;
    rmount::fsconfig_create(&fs)?;
    let mnt = rmount::fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_NODEV,
    )?;
    rmount::move_mount(
        &mnt,
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )?;
    // `mnt` is closed here, before anyone unmounts: an open fsmount fd makes
    // umount fail with EBUSY.
    Ok(())
}
