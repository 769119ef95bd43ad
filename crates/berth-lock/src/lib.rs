//! `berth-lock`: per-object locks that work across berth processes.
//!
//! berth has no daemon, so two `berth` commands acting on one container
//! serialise through a lock keyed by the container's ID. [`FileLockManager`]
//! keeps one `flock(2)`-ed file per object under the runroot: the kernel drops
//! the lock when its holder dies (a crashed `berth` never wedges a
//! container), there is no fixed pool to exhaust and nothing to renumber.
//! [`InMemoryLockManager`] has the same semantics inside one process, for
//! unit tests of the engine rules.
//!
//! # Lock order
//!
//! To avoid deadlocks every caller takes locks in this order and releases
//! them in reverse:
//!
//! 1. the runtime-alive lock ([`ALIVE_LOCK`], shared refresh vs. commands),
//! 2. a pod,
//! 3. a container (several containers: in ascending ID order),
//! 4. an exec session,
//! 5. storage locks (images, layers) last.
//!
//! Locks are not re-entrant: taking a lock the same process (or thread)
//! already holds blocks forever, exactly like a second `flock` on a new open
//! file description. Batch operations take the lock once and call the
//! unlocked internals.

#![warn(missing_docs)]

mod file;
mod mem;

use berth_types::{Error, ErrorKind, Result};
use std::time::{Duration, Instant};

pub use file::FileLockManager;
pub use mem::InMemoryLockManager;

/// Name of the global lock held while the runtime checks "alive" state and
/// refreshes after a reboot (use with [`LockManager::lock_named`]).
pub const ALIVE_LOCK: &str = "alive";

/// A source of exclusive, per-object locks.
///
/// Keys are object IDs (64 hex digits for containers) or, through the
/// `*_named` methods, global lock names. Keys must match
/// `[A-Za-z0-9][A-Za-z0-9_.-]*`; named locks live in a separate namespace
/// (prefixed with `_`) so they can never collide with an ID.
pub trait LockManager: Send + Sync {
    /// Block until the lock for `id` is held.
    fn lock(&self, id: &str) -> Result<LockGuard>;

    /// Take the lock for `id` if it is free; `Ok(None)` when someone holds it.
    fn try_lock(&self, id: &str) -> Result<Option<LockGuard>>;

    /// Wait at most `timeout` for the lock for `id`, polling [`try_lock`]
    /// with exponential backoff (flock has no timeout of its own). Fails with
    /// [`ErrorKind::LockTimeout`].
    ///
    /// [`try_lock`]: LockManager::try_lock
    fn lock_timeout(&self, id: &str, timeout: Duration) -> Result<LockGuard> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(guard) = self.try_lock(id)? {
                return Ok(guard);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    ErrorKind::LockTimeout,
                    format!(
                        "timed out after {:.1}s waiting for the lock of {id}",
                        timeout.as_secs_f64()
                    ),
                )
                .with_subject(id));
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Delete the lock of an object that is being removed. Takes the guard so
    /// the lock is provably held while its file disappears (see
    /// [`FileLockManager`] for why that matters); the lock is released when
    /// this returns.
    fn remove(&self, guard: LockGuard) -> Result<()>;

    /// Block until the global lock `name` (e.g. [`ALIVE_LOCK`]) is held.
    fn lock_named(&self, name: &str) -> Result<LockGuard> {
        self.lock(&named_key(name)?)
    }

    /// Take the global lock `name` if it is free.
    fn try_lock_named(&self, name: &str) -> Result<Option<LockGuard>> {
        self.try_lock(&named_key(name)?)
    }
}

/// A held lock; dropping it releases the lock.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard {
    key: String,
    held: Held,
}

/// What keeps the lock held; each manager owns one variant.
enum Held {
    File(file::FileHeld),
    Mem(mem::MemHeld),
}

impl LockGuard {
    /// The key this guard locks (an ID, or `_name` for named locks).
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.held {
            Held::File(_) => "file",
            Held::Mem(_) => "memory",
        };
        f.debug_struct("LockGuard")
            .field("key", &self.key)
            .field("kind", &kind)
            .finish()
    }
}

/// Reject keys that could escape the lock directory or collide with the
/// named-lock namespace.
fn check_key(key: &str) -> Result<()> {
    let mut bytes = key.bytes();
    let first_ok = matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric() || b == b'_');
    if first_ok
        && key.len() <= 255 - ".lock".len()
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid lock key {key:?}")).with_subject(key))
    }
}

/// The key of a global named lock: `_name`, which no ID or object name can
/// be because those start with a letter or digit.
fn named_key(name: &str) -> Result<String> {
    if name.starts_with('_') {
        return Err(Error::invalid(format!("invalid lock name {name:?}")));
    }
    let key = format!("_{name}");
    check_key(&key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in ["abc", &"a".repeat(64), "_alive", "pod-1.x"] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "a/b", ".x", "-x", "a b", &"a".repeat(300)] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
        assert_eq!(named_key("alive").unwrap(), "_alive");
        assert!(named_key("_x").is_err());
        assert!(named_key("a/b").is_err());
    }
}
