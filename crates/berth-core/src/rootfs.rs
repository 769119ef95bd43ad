//! Reading files inside a container's root filesystem without ever leaving
//! it: every path is resolved by the kernel as if the rootfs were `/`
//! (openat2 with RESOLVE_IN_ROOT), so a symlink such as `/etc/passwd ->
//! /host/secret` inside an image cannot make berth read a host file.

use berth_types::{Error, Result};
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
