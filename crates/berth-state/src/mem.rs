//! An in-memory [`StateStore`] for unit tests of the engine rules.

use crate::{created_key, id_exists, name_in_use, resolve, validate_record, StateStore};
use berth_types::{id, ContainerRecord, Error, Result, RuntimeState};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// A [`StateStore`] kept in a `Mutex<HashMap>`; nothing survives the process.
/// Behaves exactly like [`SqliteStore`](crate::SqliteStore) (same
/// conformance suite), minus persistence.
#[derive(Debug, Default)]
pub struct MemStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    rows: HashMap<String, Row>,
    /// Exit codes of removed containers (kept for the process's lifetime:
    /// a MemStore lives shorter than the retention period anyway).
    exit_codes: HashMap<String, i32>,
    /// Insertion counter: the tie-break for equal creation times, like
    /// SQLite's rowid.
    next_seq: u64,
}

#[derive(Debug)]
struct Row {
    seq: u64,
    record: ContainerRecord,
}

impl Inner {
    fn holder_of(&self, name: &str) -> Option<&str> {
        self.rows
            .values()
            .find(|r| r.record.name() == name)
            .map(|r| r.record.id())
    }

    fn row_mut(&mut self, id: &str) -> Result<&mut Row> {
        self.rows
            .get_mut(id)
            .ok_or_else(|| Error::no_such_container(id))
    }

    fn sorted(&self) -> Vec<&Row> {
        let mut rows: Vec<&Row> = self.rows.values().collect();
        rows.sort_by_key(|r| (created_key(&r.record), r.seq));
        rows
    }
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The data, even after a panicking test poisoned the mutex: every
    /// method validates before it mutates, so the map is never half-changed.
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl StateStore for MemStore {
    fn add_container(&self, record: &ContainerRecord) -> Result<()> {
        validate_record(record)?;
        let mut inner = self.inner();
        if let Some(holder) = inner.holder_of(record.name()) {
            return Err(name_in_use(record.name(), holder));
        }
        if inner.rows.contains_key(record.id()) {
            return Err(id_exists(record.id()));
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.rows.insert(
            record.id().to_string(),
            Row {
                seq,
                record: record.clone(),
            },
        );
        Ok(())
    }

    fn get(&self, id: &str) -> Result<ContainerRecord> {
        self.inner()
            .rows
            .get(id)
            .map(|r| r.record.clone())
            .ok_or_else(|| Error::no_such_container(id))
    }

    fn save_state(&self, id: &str, state: &RuntimeState) -> Result<()> {
        self.inner().row_mut(id)?.record.state = state.clone();
        Ok(())
    }

    fn rename(&self, id: &str, new_name: &str) -> Result<()> {
        id::validate_name(new_name)?;
        let mut inner = self.inner();
        if !inner.rows.contains_key(id) {
            return Err(Error::no_such_container(id));
        }
        match inner.holder_of(new_name) {
            Some(holder) if holder == id => return Ok(()),
            Some(holder) => return Err(name_in_use(new_name, holder)),
            None => {}
        }
        inner.row_mut(id)?.record.config.name = new_name.to_string();
        Ok(())
    }

    fn remove(&self, id: &str) -> Result<()> {
        let mut inner = self.inner();
        match inner.rows.remove(id) {
            Some(row) => {
                if let Some(code) = row.record.state.exit_code {
                    inner.exit_codes.insert(id.to_string(), code);
                }
                Ok(())
            }
            None => Err(Error::no_such_container(id)),
        }
    }

    fn removed_exit_code(&self, id: &str) -> Result<Option<i32>> {
        Ok(self.inner().exit_codes.get(id).copied())
    }

    fn list(&self) -> Result<Vec<ContainerRecord>> {
        Ok(self
            .inner()
            .sorted()
            .into_iter()
            .map(|r| r.record.clone())
            .collect())
    }

    fn lookup(&self, name_or_id: &str) -> Result<String> {
        let inner = self.inner();
        resolve(
            name_or_id,
            inner
                .rows
                .values()
                .map(|r| (r.record.id(), r.record.name())),
        )
    }

    fn latest(&self) -> Result<Option<String>> {
        let inner = self.inner();
        Ok(inner
            .rows
            .values()
            .max_by_key(|r| (created_key(&r.record), r.seq))
            .map(|r| r.record.id().to_string()))
    }

    fn containers_using_image(&self, image_id: &str) -> Result<Vec<String>> {
        Ok(self
            .inner()
            .sorted()
            .into_iter()
            .filter(|r| r.record.config.image_id == image_id)
            .map(|r| r.record.id().to_string())
            .collect())
    }
}
