//! In-process locks with the same semantics as [`FileLockManager`], for
//! tests that must not touch the filesystem.
//!
//! [`FileLockManager`]: crate::FileLockManager

use crate::{check_key, Held, LockGuard, LockManager};
use berth_types::{Error, Result};
use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Exclusive locks keyed by ID, held in memory (`Mutex` + `Condvar`).
///
/// Like `flock` on separate opens, locks are not re-entrant: locking a key
/// the caller already holds blocks. Clones share the same lock table.
#[derive(Debug, Clone, Default)]
pub struct InMemoryLockManager {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    held: Mutex<HashSet<String>>,
    released: Condvar,
}

/// A held in-memory lock; releases its key on drop.
pub(crate) struct MemHeld {
    inner: Arc<Inner>,
    key: String,
}

impl Inner {
    /// The table, even if a panicking test poisoned the mutex: the set is
    /// always consistent because every mutation is a single insert/remove.
    fn table(&self) -> MutexGuard<'_, HashSet<String>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl InMemoryLockManager {
    /// An empty lock table.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when `key` is currently locked (for test assertions).
    pub fn is_locked(&self, key: &str) -> bool {
        self.inner.table().contains(key)
    }

    fn guard(&self, key: &str) -> LockGuard {
        LockGuard {
            key: key.to_string(),
            held: Held::Mem(MemHeld {
                inner: Arc::clone(&self.inner),
                key: key.to_string(),
            }),
        }
    }
}

impl LockManager for InMemoryLockManager {
    fn lock(&self, id: &str) -> Result<LockGuard> {
        check_key(id)?;
        let mut table = self.inner.table();
        while table.contains(id) {
            table = self
                .inner
                .released
                .wait(table)
                .unwrap_or_else(|p| p.into_inner());
        }
        table.insert(id.to_string());
        Ok(self.guard(id))
    }

    fn try_lock(&self, id: &str) -> Result<Option<LockGuard>> {
        check_key(id)?;
        let mut table = self.inner.table();
        if !table.insert(id.to_string()) {
            return Ok(None);
        }
        Ok(Some(self.guard(id)))
    }

    fn remove(&self, guard: LockGuard) -> Result<()> {
        match &guard.held {
            // Nothing on disk: releasing (dropping the guard) is all there is.
            Held::Mem(h) if Arc::ptr_eq(&h.inner, &self.inner) => Ok(()),
            _ => Err(Error::internal(format!(
                "lock {} was not taken from this InMemoryLockManager",
                guard.key
            ))),
        }
    }
}

impl Drop for MemHeld {
    fn drop(&mut self) {
        self.inner.table().remove(&self.key);
        self.inner.released.notify_all();
    }
}
