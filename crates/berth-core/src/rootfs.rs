//! Reading files inside a container's root filesystem without ever leaving
//! it: every path is resolved by the kernel as if the rootfs were `/`
//! (openat2 with RESOLVE_IN_ROOT), so a symlink such as `/etc/passwd ->
//! /host/secret` inside an image cannot make berth read a host file.

use berth_types::{ContainerConfig, Error, Result};
use rustix::fs::{openat2, Mode, OFlags, ResolveFlags};
use std::io::Read;
use std::path::Path;

/// Read `path` (absolute inside the container) from the rootfs at `root`.
/// `Ok(None)` when it does not exist.
pub fn read_in_root(root: &Path, path: &str) -> Result<Option<Vec<u8>>> {
    let dir = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(format!("opening rootfs {}", root.display()), e.into()))?;
    let flags = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let fd = match openat2(
        &dir,
        path.trim_start_matches('/'),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        flags,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => return Ok(None),
        Err(e) => {
            return Err(Error::io(
                format!("opening {path} in {}", root.display()),
                e.into(),
            ))
        }
    };
    let mut buf = Vec::new();
    std::fs::File::from(fd)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(format!("reading {path} in {}", root.display()), e))?;
    Ok(Some(buf))
}

/// Make sure the working directory of `cfg` exists in the rootfs at
/// `root` before the runtime starts, created there (and given to `owner`,
/// the container's uid and gid) when missing, as Podman does. Symlinks on
/// the way are followed inside the rootfs only (`berth_storage::
/// mkdir_in_root`): an image whose `WORKDIR` is or passes through a symlink
/// to a host path (`/etc/x`, `../../x`) gets the directory in its own tree,
/// never on the host (RELIABILITY.md 45). A working directory on a volume
/// or other mount is left to the runtime, which creates it in the mount.
pub fn ensure_workdir(cfg: &ContainerConfig, root: &Path, owner: (u32, u32)) -> Result<()> {
    let wd = Path::new(&cfg.workdir);
    if cfg.workdir.is_empty() || cfg.mounts.iter().any(|m| wd.starts_with(&m.destination)) {
        return Ok(());
    }
    let label = format!("container {} working directory", cfg.name);
    berth_storage::mkdir_in_root(root, &cfg.workdir, owner, &label)
        .map_err(|e| e.with_subject(cfg.name.clone()))
}
