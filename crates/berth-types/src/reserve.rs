//! A little disk space kept in reserve beside each database, so a full disk
//! (a container filled the graph root) never stops berth from recording an
//! exit or removing containers and images — the commands that free space
//! (RELIABILITY 12; podman#13967: "database or disk is full" on `rm`).
//!
//! The reserve is a plain file of real (non-sparse) blocks. Only writes
//! that free space or record what already happened in the runtime may use
//! it: when one fails because the disk is full, it gives back one slice
//! ([`RESERVE_SLICE`]) and retries. A slice at a time, so no single write
//! can take it all; every berth process tops it up again on open when
//! there is room.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Size of one reserve: many small SQLite transactions' worth of WAL pages.
pub const RESERVE_BYTES: u64 = 1 << 20;

/// What one failed write may give back: a transaction's worth of WAL pages
/// with room to spare, a quarter of the reserve.
pub const RESERVE_SLICE: u64 = RESERVE_BYTES / 4;

/// The reserve file kept for the database at `db`.
pub fn reserve_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".reserve");
    PathBuf::from(p)
}

/// The reserve file, open and locked (`flock`) against other processes
/// growing or shrinking it at the same time; the lock goes with the file.
fn locked(path: &Path, create: bool) -> Option<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(create)
        .mode(0o600)
        .open(path)
        .ok()?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return None;
    }
    Some(file)
}

/// Make sure the reserve for `db` is whole: cheap when it is (one `stat`);
/// otherwise it grows by as much of what it lacks as the disk still holds,
/// so space a release gave back returns to the reserve before anything
/// else can take it.
pub fn ensure(db: &Path) {
    let path = reserve_path(db);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() >= RESERVE_BYTES) {
        return;
    }
    let Some(file) = locked(&path, true) else {
        return;
    };
    let Ok(have) = file.metadata().map(|m| m.len()) else {
        return;
    };
    if have >= RESERVE_BYTES {
        return;
    }
    // Bytes written, not set_len: a sparse file would reserve nothing; and
    // not zeros, which a compressing filesystem (btrfs, ZFS) stores in next
    // to no space. A write cut short by a full disk keeps what it got.
    let fill = noise((RESERVE_BYTES - have) as usize);
    let mut at = have;
    while (at - have) < fill.len() as u64 {
        match file.write_at(&fill[(at - have) as usize..], at) {
            Ok(0) | Err(_) => break,
            Ok(n) => at += n as u64,
        }
    }
    let _ = file.sync_all();
}

/// `n` bytes no filesystem can compress (xorshift; nothing secret).
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id());
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Give one slice of the reserve of `db` back to the filesystem; true if
/// there was any left (so a retry can succeed where the write before it
/// found the disk full).
pub fn release(db: &Path) -> bool {
    let Some(file) = locked(&reserve_path(db), false) else {
        return false;
    };
    match file.metadata().map(|m| m.len()) {
        Ok(have) if have > 0 => file.set_len(have.saturating_sub(RESERVE_SLICE)).is_ok(),
        _ => false,
    }
}

/// Run `write`; while it fails because the disk is full and a slice of the
/// reserve of `db` can be given back, run it again. For the writes that
/// free space or record what the runtime already did (an exit, a removal).
/// A write that took some tops the reserve up again after it, as far as
/// the room it freed allows (a long-lived API service opens only once).
pub fn retry_when_full<T>(
    db: &Path,
    mut write: impl FnMut() -> Result<T, crate::Error>,
) -> Result<T, crate::Error> {
    let mut took = false;
    let out = loop {
        match write() {
            Err(e) if is_disk_full(&e.message) && release(db) => took = true,
            other => break other,
        }
    };
    if took {
        ensure(db);
    }
    out
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
    // berth runs as root, which may also use the blocks ext4 keeps for it.
    // SAFETY: geteuid cannot fail.
    let free = if unsafe { libc::geteuid() } == 0 {
        st.f_bfree
    } else {
        st.f_bavail
    };
    (free as u128) * (st.f_frsize as u128) < RESERVE_BYTES as u128
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

/// Open the database at `db` with `open`; when that fails the way a full
/// disk makes it fail (SQLite's "disk I/O error" or "unable to open", or
/// a plain ENOSPC) on a filesystem that is out of room, give one slice of
/// the reserve back and try once more, so the commands that free space can
/// still start on a full disk. Other failures (a corrupt file, a newer
/// schema) keep the reserve.
pub fn retry_open<T>(
    db: &Path,
    mut open: impl FnMut() -> Result<T, crate::Error>,
) -> Result<T, crate::Error> {
    let space_like =
        |m: &str| is_disk_full(m) || m.contains("disk I/O error") || m.contains("unable to open");
    match open() {
        Err(e) if space_like(&e.message) && low_on_space(db) && release(db) => open(),
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

    fn len(db: &Path) -> u64 {
        std::fs::metadata(reserve_path(db)).unwrap().len()
    }

    #[test]
    fn reserve_is_given_back_a_slice_at_a_time_and_topped_up() {
        let dir = std::env::temp_dir().join(format!("berth-reserve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("x.db");
        ensure(&db);
        assert_eq!(len(&db), RESERVE_BYTES);
        assert!(release(&db));
        assert_eq!(len(&db), RESERVE_BYTES - RESERVE_SLICE);
        ensure(&db);
        assert_eq!(len(&db), RESERVE_BYTES, "topped up again");

        // A write that keeps finding the disk full takes the slices one by
        // one, then gives up with its own error.
        let mut tries = 0;
        let written: Result<(), crate::Error> = retry_when_full(&db, || {
            tries += 1;
            Err(crate::Error::internal("x: database or disk is full"))
        });
        assert!(written.is_err());
        assert_eq!(tries as u64, RESERVE_BYTES / RESERVE_SLICE + 1);
        assert_eq!(len(&db), RESERVE_BYTES, "this disk had room to top it up");
        while release(&db) {}
        assert_eq!(len(&db), 0);

        let mut tries = 0;
        let opened: Result<(), crate::Error> = retry_open(&db, || {
            tries += 1;
            Err(crate::Error::internal("x: disk I/O error"))
        });
        assert!(opened.is_err());
        assert_eq!(tries, 1, "a disk with room is not retried");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
