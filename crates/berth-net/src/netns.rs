//! Network namespace files owned by berth: a new namespace bind-mounted on
//! a file (`RUNROOT/netns/netns-ID`), so it outlives any process. The path
//! is handed to netavark (which configures it) and to the OCI runtime (which
//! joins it), and is removed after teardown.

use berth_types::{Error, Result};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cpath(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(format!("path {} contains a NUL byte", p.display())))
}

/// Create a new, empty network namespace and bind-mount it on `path`
/// (created; its directory too). Loopback is brought up by netavark.
pub fn create(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    std::fs::File::create(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    let target = cpath(path)?;
    // A network namespace is per thread: a short-lived thread unshares
    // its own and pins it with the bind mount; the rest of this process
    // never changes namespace.
    let res = std::thread::spawn(move || -> std::io::Result<()> {
        // SAFETY: plain syscalls on this thread's own namespace; the
        // strings outlive the calls.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let src = c"/proc/thread-self/ns/net";
            if libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    })
    .join()
    .map_err(|_| Error::internal("the thread creating a network namespace panicked"))?;
    if let Err(e) = res {
        let _ = std::fs::remove_file(path);
        return Err(Error::io(
            format!("creating network namespace {}", path.display()),
            e,
        ));
    }
    Ok(())
}

/// Unmount and delete a namespace file; one that is already gone is fine.
pub fn remove(path: &Path) -> Result<()> {
    let c = cpath(path)?;
    // SAFETY: umount2 on a valid C string.
    let rc = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        // EINVAL: not a mount point (a crash between create and mount).
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) {
            return Err(Error::io(format!("unmounting {}", path.display()), e));
        }
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(format!("removing {}", path.display()), e))
        }
        _ => Ok(()),
    }
}

/// True when `path` is a mounted namespace file (a bind mount of nsfs).
// The field and constant types differ between targets.
#[allow(clippy::unnecessary_cast)]
pub fn is_mounted(path: &Path) -> bool {
    rustix::fs::statfs(path).is_ok_and(|s| s.f_type as i64 == libc::NSFS_MAGIC as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_and_remove() {
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ns/netns-test");
        create(&p).unwrap();
        assert!(is_mounted(&p));
        remove(&p).unwrap();
        assert!(!p.exists());
        remove(&p).unwrap();
    }
}
