//! Locks backed by `flock(2)` on one file per object.

use crate::{check_key, Held, LockGuard, LockManager};
use berth_types::{Error, Result};
use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// One `<dir>/<key>.lock` file per object, locked with `flock(LOCK_EX)`.
///
/// Why `flock` and not `fcntl` record locks: an `fcntl` lock belongs to the
/// *process* and is silently dropped when the process closes *any* fd to the
/// file, and two opens in one process never conflict. A `flock` lock belongs
/// to the open file description, so two opens conflict even within one
/// process and the lock lives exactly as long as our fd — or until the
/// holder dies, when the kernel releases it. Every fd is opened `O_CLOEXEC`
/// (std always does) so a lock can never leak into a child such as a
/// network helper or the container monitor.
///
/// # Removing lock files
///
/// Deleting the file of a held lock does not release or break that lock (the
/// lock lives on the inode, which our fd keeps alive). The danger is another
/// process that opened the *old* path before the unlink and is now waiting in
/// `flock` on the old inode: once we release, it acquires a lock on an
/// unlinked inode, while a third process opening the path creates a new file
/// and also "holds the lock" — two holders. So after every acquisition we
/// compare the inode of our fd (`fstat`) with what the path names now
/// (`stat`); if the file was removed or replaced we drop that lock and start
/// over on the current file. Because files are only unlinked by a holder,
/// once the check passes nobody can unlink the path until we release it.
#[derive(Debug)]
pub struct FileLockManager {
    dir: PathBuf,
}

/// A held lock file: the open fd keeps the flock.
pub(crate) struct FileHeld {
    file: File,
    path: PathBuf,
}

impl FileLockManager {
    /// A manager keeping its lock files in `dir`, created mode 0700 if
    /// missing. The directory should be on a tmpfs (the runroot) so stale
    /// lock files vanish on reboot.
    pub fn new(dir: &Path) -> Result<Self> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format_args!("creating lock directory {}", dir.display()), e))?;
        Ok(FileLockManager {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory holding the lock files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lock file of `key`.
    pub fn path_of(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.lock"))
    }

    fn open(&self, path: &Path) -> Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            // A lock file is never a symlink; refuse to follow one planted
            // in the directory.
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
            .map_err(|e| Error::io(format_args!("opening lock file {}", path.display()), e))
    }

    /// Acquire with `acquire` (blocking or not) and re-check the inode,
    /// retrying when the file was removed or replaced meanwhile.
    fn acquire(&self, key: &str, blocking: bool) -> Result<Option<LockGuard>> {
        check_key(key)?;
        let path = self.path_of(key);
        loop {
            let file = self.open(&path)?;
            if blocking {
                file.lock()
                    .map_err(|e| Error::io(format_args!("locking {}", path.display()), e))?;
            } else {
                match file.try_lock() {
                    Ok(()) => {}
                    Err(TryLockError::WouldBlock) => return Ok(None),
                    Err(TryLockError::Error(e)) => {
                        return Err(Error::io(format_args!("locking {}", path.display()), e))
                    }
                }
            }
            if still_linked(&file, &path)? {
                return Ok(Some(LockGuard {
                    key: key.to_string(),
                    held: Held::File(FileHeld { file, path }),
                }));
            }
            // The holder we waited for removed the file: our lock is on a
            // dead inode. Drop it (closing the fd releases it) and retry.
        }
    }
}

/// True when `path` still names the inode `file` is open on.
fn still_linked(file: &File, path: &Path) -> Result<bool> {
    let ours = file
        .metadata()
        .map_err(|e| Error::io(format_args!("fstat {}", path.display()), e))?;
    match fs::symlink_metadata(path) {
        Ok(now) => Ok(now.dev() == ours.dev() && now.ino() == ours.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(format_args!("stat {}", path.display()), e)),
    }
}

impl LockManager for FileLockManager {
    fn lock(&self, id: &str) -> Result<LockGuard> {
        match self.acquire(id, true)? {
            Some(guard) => Ok(guard),
            None => Err(Error::internal("blocking lock returned without the lock")),
        }
    }

    fn try_lock(&self, id: &str) -> Result<Option<LockGuard>> {
        self.acquire(id, false)
    }

    fn remove(&self, guard: LockGuard) -> Result<()> {
        let Held::File(held) = &guard.held else {
            return Err(Error::internal(format!(
                "lock {} was not taken from a FileLockManager",
                guard.key
            )));
        };
        // Unlink while still holding the lock (the guard drops after this),
        // so waiters on the old inode notice the change through the inode
        // re-check above.
        match fs::remove_file(&held.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(
                format_args!("removing lock file {}", held.path.display()),
                e,
            )),
        }
    }
}

impl Drop for FileHeld {
    fn drop(&mut self) {
        // Closing the fd would release the lock too, but only if no other
        // process shares the open file description (a fork that has not
        // exec'd yet). LOCK_UN releases it for every sharer. Errors are
        // ignored: the close that follows releases it in every sane case.
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn held_file(g: &LockGuard) -> &File {
        match &g.held {
            Held::File(h) => &h.file,
            Held::Mem(_) => panic!("not a file lock"),
        }
    }

    #[test]
    fn creates_dir_0700_and_files_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/locks");
        let m = FileLockManager::new(&dir).unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let _g = m.lock("c1").unwrap();
        let mode = fs::metadata(m.path_of("c1")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn second_open_file_description_would_block() {
        // flock locks belong to the open file description: a second open in
        // the same process conflicts, which fcntl locks would not.
        let tmp = tempfile::tempdir().unwrap();
        let m = FileLockManager::new(tmp.path()).unwrap();
        let g = m.lock("c1").unwrap();
        let other = File::open(m.path_of("c1")).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        assert!(m.try_lock("c1").unwrap().is_none());
        // A different object is independent.
        assert!(m.try_lock("c2").unwrap().is_some());
        drop(g);
        other.try_lock().unwrap();
    }

    #[test]
    fn guard_fd_is_cloexec() {
        let tmp = tempfile::tempdir().unwrap();
        let m = FileLockManager::new(tmp.path()).unwrap();
        let g = m.lock("c1").unwrap();
        let flags = rustix::io::fcntl_getfd(held_file(&g)).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
    }

    #[test]
    fn reacquire_after_waiter_on_removed_inode() {
        // Simulate the race: a waiter opened the old file, the holder removes
        // it and releases. The waiter's flock succeeds on the dead inode and
        // the re-check must reject it.
        let tmp = tempfile::tempdir().unwrap();
        let m = FileLockManager::new(tmp.path()).unwrap();
        let path = m.path_of("c1");
        let g = m.lock("c1").unwrap();
        let stale = m.open(&path).unwrap();
        m.remove(g).unwrap();
        assert!(!path.exists());
        stale.try_lock().unwrap();
        assert!(!still_linked(&stale, &path).unwrap());
        // A fresh lock goes to a new file, not blocked by the stale holder.
        let g2 = m.try_lock("c1").unwrap().expect("new inode is free");
        assert!(still_linked(held_file(&g2), &path).unwrap());
        assert_ne!(
            stale.metadata().unwrap().ino(),
            held_file(&g2).metadata().unwrap().ino()
        );
    }

    #[test]
    fn rejects_symlinked_lock_file() {
        let tmp = tempfile::tempdir().unwrap();
        let m = FileLockManager::new(tmp.path()).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", m.path_of("evil")).unwrap();
        assert!(m.lock("evil").is_err());
    }
}
