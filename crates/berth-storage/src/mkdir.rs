//! Creating a directory inside a container's root filesystem the way
//! Podman's `securejoin` + `MkdirAll` does (a missing `WORKDIR`,
//! RELIABILITY.md 45), without ever leaving the root.
//!
//! Why a walk of our own and not openat2 `RESOLVE_IN_ROOT` alone: the
//! directory may lie behind a *dangling* symlink (`/w -> /etc/newdir`, or
//! `../../../../etc/newdir`, where the rootfs has no `/etc/newdir` yet).
//! The kernel cannot create through a symlink, and creating the path's
//! text on the host would be the CVE. So each component is looked at
//! relative to the descriptor of its parent, never followed by the kernel
//! (`O_NOFOLLOW`): a symlink's target is read and spliced into the
//! remaining path, an absolute one restarts at the root's descriptor and
//! `..` never climbs above it. Every `mkdirat` is relative to a descriptor
//! inside the root, so nothing outside it is ever created or touched.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use berth_types::{Error, ErrorKind, Result};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// Symlinks followed in one resolution before giving up (Linux's limit).
const MAX_LINKS: usize = 40;

fn components(path: &[u8]) -> impl Iterator<Item = OsString> + '_ {
    path.split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(|c| OsString::from_vec(c.to_vec()))
}

fn open_dir_at(parent: &OwnedFd, name: &std::ffi::OsStr) -> rustix::io::Result<OwnedFd> {
    rfs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Create directory `dir` (absolute inside the container) and its missing
/// parents in the rootfs at `root`, following symlinks as if `root` were
/// `/`: a `WORKDIR` of `/w/sub` with `/w -> /etc/newdir` makes the
/// rootfs's `/etc/newdir/sub`, never the host's. Every directory created
/// here gets mode 0755 and is owned by `owner` (uid, gid), as Podman's
/// `MkdirAllAndChownNew` gives a created working directory and its new
/// parents to the container's user. An existing directory is left as it is.
pub fn mkdir_in_root(root: &Path, dir: &str, owner: (u32, u32), label: &str) -> Result<()> {
    let fail = |what: &str, e: Errno| {
        Error::new(
            ErrorKind::Storage,
            format!("{label}: creating directory {dir:?}: {what}: {e}"),
        )
        .with_subject(label)
    };
    let root_fd = rfs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| crate::storage_err(format!("{label}: opening {}", root.display()), e))?;
    // The open directories from the root down; `..` pops, never past [0].
    let mut stack: Vec<OwnedFd> = vec![root_fd];
    let mut rest: VecDeque<OsString> = components(dir.as_bytes()).collect();
    let mut links = 0;
    while let Some(name) = rest.pop_front() {
        if name.as_bytes() == b".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let parent = stack.last().expect("the root is never popped");
        let st = match rfs::statat(parent, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Some(st),
            Err(Errno::NOENT) => None,
            Err(e) => return Err(fail("looking it up", e)),
        };
        let next = match st.map(|st| FileType::from_raw_mode(st.st_mode)) {
            None => {
                match rfs::mkdirat(parent, &name, Mode::from_raw_mode(0o755)) {
                    Ok(()) => {}
                    // Appeared meanwhile: look at it again.
                    Err(Errno::EXIST) => {
                        rest.push_front(name);
                        continue;
                    }
                    Err(e) => return Err(fail("mkdir", e)),
                }
                let fd = open_dir_at(parent, &name).map_err(|e| fail("opening", e))?;
                rfs::fchown(
                    &fd,
                    Some(rfs::Uid::from_raw(owner.0)),
                    Some(rfs::Gid::from_raw(owner.1)),
                )
                .map_err(|e| fail("chown", e))?;
                fd
            }
            Some(FileType::Directory) => {
                open_dir_at(parent, &name).map_err(|e| fail("opening", e))?
            }
            Some(FileType::Symlink) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(fail("resolving", Errno::LOOP));
                }
                let target = rfs::readlinkat(parent, &name, Vec::new())
                    .map_err(|e| fail("reading symlink", e))?;
                let target = target.as_bytes();
                if target.starts_with(b"/") {
                    stack.truncate(1);
                }
                for c in components(target).collect::<Vec<_>>().into_iter().rev() {
                    rest.push_front(c);
                }
                continue;
            }
            Some(_) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{label}: {dir:?}: {:?} is not a directory",
                        Path::new(&name)
                    ),
                )
                .with_subject(label))
            }
        };
        stack.push(next);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> (u32, u32) {
        (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        )
    }

    #[test]
    fn symlinks_to_host_paths_are_made_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let host = tmp.path().join("host");
        std::os::unix::fs::symlink(&host, root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../../../host", root.join("rel")).unwrap();
        std::os::unix::fs::symlink("/rel/next", root.join("chain")).unwrap();
        std::fs::write(root.join("file"), b"").unwrap();

        mkdir_in_root(&root, "/abs/sub", me(), "t").unwrap();
        let inside = root.join(host.strip_prefix("/").unwrap());
        assert!(inside.join("sub").is_dir());
        mkdir_in_root(&root, "rel/a/../b", me(), "t").unwrap();
        assert!(root.join("host/a").is_dir() && root.join("host/b").is_dir());
        mkdir_in_root(&root, "/../../chain/c", me(), "t").unwrap();
        assert!(root.join("host/next/c").is_dir());
        assert!(!host.exists(), "nothing is made outside the root");
        // Existing directories are fine; files and loops are refused.
        mkdir_in_root(&root, "/abs/sub", me(), "t").unwrap();
        let e = mkdir_in_root(&root, "/file/x", me(), "t").unwrap_err();
        assert!(e.message.contains("not a directory"), "{}", e.message);
        std::os::unix::fs::symlink("/loop", root.join("loop")).unwrap();
        assert!(mkdir_in_root(&root, "/loop/x", me(), "t").is_err());
        assert!(!host.exists());
    }
}
