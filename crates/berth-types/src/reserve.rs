//! A little disk space kept in reserve beside each database, so a full disk
//! (a container filled the graph root) never stops berth from recording an
//! exit or removing containers and images — the commands that free space
//! (RELIABILITY 12; podman#13967: "database or disk is full" on `rm`).
//!
//! The reserve is a plain file of real (non-sparse) blocks. A write that
//! fails because the disk is full deletes it and retries once; the next
//! berth process recreates it when there is room again.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Size of one reserve: many small SQLite transactions' worth of WAL pages.
pub const RESERVE_BYTES: usize = 1 << 20;

/// The reserve file kept for the database at `db`.
pub fn reserve_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".reserve");
    PathBuf::from(p)
}

/// Make sure the reserve for `db` exists. Best effort and cheap when it does
/// (one `stat`); on a disk too full to hold it, nothing is left behind.
pub fn ensure(db: &Path) {
    let path = reserve_path(db);
    if path.exists() {
        return;
    }
    let mut tmp = path.as_os_str().to_owned();
    // Per process, so two first commands racing never share a half file.
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(&vec![0u8; RESERVE_BYTES])?;
        f.sync_all()
    });
    match written {
        Ok(()) => {
            if std::fs::rename(&tmp, &path).is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
        }
        Err(_) => {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// Give the reserve of `db` back to the filesystem; true if there was one
/// (so a retry can succeed where the first attempt found the disk full).
pub fn release(db: &Path) -> bool {
    std::fs::remove_file(reserve_path(db)).is_ok()
}

/// Whether the filesystem holding `db` has less room left than one reserve.
/// Opening a WAL database creates its `-shm` and `-wal` files, and SQLite
/// reports a full disk there as a plain "disk I/O error", so callers ask the
/// filesystem instead of reading the message.
pub fn low_on_space(db: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statvfs fills the zeroed struct; `c` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return false;
    }
    (st.f_bavail as u128) * (st.f_frsize as u128) < RESERVE_BYTES as u128
}

/// What to add to a database error `message` about `db` when the real cause
/// is a full filesystem that SQLite reported only as an I/O error (growing
/// `-shm` or `-wal`); empty when the message already says so or there is room.
pub fn full_hint(db: &Path, message: &str) -> &'static str {
    if !is_disk_full(message) && low_on_space(db) {
        " (No space left on device)"
    } else {
        ""
    }
}

/// Open the database at `db` with `open`; when that fails on a filesystem
/// that is out of room, give the reserve back and try once more, so the
/// commands that free space can still start on a full disk.
pub fn retry_open<T, E>(db: &Path, mut open: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    match open() {
        Err(_) if low_on_space(db) && release(db) => open(),
        other => other,
    }
}

/// Whether an error message says the disk is full (SQLite's SQLITE_FULL
/// text, or the kernel's ENOSPC text).
pub fn is_disk_full(message: &str) -> bool {
    message.contains("database or disk is full") || message.contains("No space left on device")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_is_created_once_and_released() {
        let dir = std::env::temp_dir().join(format!("berth-reserve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("x.db");
        ensure(&db);
        let meta = std::fs::metadata(reserve_path(&db)).unwrap();
        assert_eq!(meta.len() as usize, RESERVE_BYTES);
        ensure(&db);
        assert!(release(&db));
        assert!(!release(&db));
        assert!(is_disk_full("x: database or disk is full"));
        let mut tries = 0;
        let opened: Result<(), ()> = retry_open(&db, || {
            tries += 1;
            Err(())
        });
        assert!(opened.is_err());
        assert_eq!(tries, 1, "a disk with room is not retried");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
