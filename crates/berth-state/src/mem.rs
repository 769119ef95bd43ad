//! An in-memory [`StateStore`] for unit tests of the engine rules.

use crate::sqlite::exec_created_key;
use crate::{
    check_config_update, created_key, id_exists, name_in_use, no_such_exec_session, resolve,
    resolve_exec, validate_record, StateStore,
};
use berth_types::exec::{ExecSession, ExecState, EXEC_SESSIONS_KEPT};
use berth_types::{id, ContainerConfig, ContainerRecord, Error, Result, RuntimeState};
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
    /// Exec sessions with their insertion sequence numbers.
    execs: HashMap<String, (u64, ExecSession)>,
    /// Volumes by name (sorted: `list_volumes` is by name).
    volumes: std::collections::BTreeMap<String, crate::VolumeRecord>,
    /// Networks by name.
    networks: std::collections::BTreeMap<String, berth_types::net::Network>,
    /// Allocations: (network, ip) → container ID.
    ipam: std::collections::BTreeMap<(String, String), String>,
    /// Pods in insertion order (creation order for the engine).
    pods: Vec<berth_types::pod::PodRecord>,
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
    fn add_volume(&self, volume: &crate::VolumeRecord) -> Result<()> {
        crate::validate_volume_name(&volume.name)?;
        let mut inner = self.inner();
        if inner.volumes.contains_key(&volume.name) {
            return Err(crate::volume_exists(&volume.name));
        }
        inner.volumes.insert(volume.name.clone(), volume.clone());
        Ok(())
    }

    fn get_volume(&self, name: &str) -> Result<crate::VolumeRecord> {
        let inner = self.inner();
        inner
            .volumes
            .get(name)
            .cloned()
            .ok_or_else(|| crate::no_such_volume(name))
    }

    fn save_volume(&self, volume: &crate::VolumeRecord) -> Result<()> {
        let mut inner = self.inner();
        match inner.volumes.get_mut(&volume.name) {
            Some(v) => *v = volume.clone(),
            None => return Err(crate::no_such_volume(&volume.name)),
        }
        Ok(())
    }

    fn remove_volume(&self, name: &str) -> Result<()> {
        self.inner()
            .volumes
            .remove(name)
            .map(drop)
            .ok_or_else(|| crate::no_such_volume(name))
    }

    fn list_volumes(&self) -> Result<Vec<crate::VolumeRecord>> {
        Ok(self.inner().volumes.values().cloned().collect())
    }

    fn add_pod(&self, pod: &berth_types::pod::PodRecord) -> Result<()> {
        crate::pods::validate_pod(pod)?;
        let mut inner = self.inner();
        if inner.pods.iter().any(|p| p.name == pod.name) {
            return Err(crate::pod_exists(&pod.name));
        }
        if inner.pods.iter().any(|p| p.id == pod.id) {
            return Err(Error::internal(format!("pod ID {} already exists", pod.id)));
        }
        inner.pods.push(pod.clone());
        inner.pods.sort_by_key(|p| p.created);
        Ok(())
    }

    fn get_pod(&self, id: &str) -> Result<berth_types::pod::PodRecord> {
        self.inner()
            .pods
            .iter()
            .find(|p| p.id == id)
            .cloned()
            .ok_or_else(|| crate::no_such_pod(id))
    }

    fn save_pod(&self, pod: &berth_types::pod::PodRecord) -> Result<()> {
        let mut inner = self.inner();
        match inner
            .pods
            .iter_mut()
            .find(|p| p.id == pod.id && p.name == pod.name)
        {
            Some(p) => *p = pod.clone(),
            None => return Err(crate::no_such_pod(&pod.id)),
        }
        Ok(())
    }

    fn remove_pod(&self, id: &str) -> Result<()> {
        let mut inner = self.inner();
        let before = inner.pods.len();
        inner.pods.retain(|p| p.id != id);
        if inner.pods.len() == before {
            return Err(crate::no_such_pod(id));
        }
        Ok(())
    }

    fn list_pods(&self) -> Result<Vec<berth_types::pod::PodRecord>> {
        Ok(self.inner().pods.clone())
    }

    fn add_network(&self, network: &berth_types::net::Network) -> Result<()> {
        let mut inner = self.inner();
        let existing: Vec<_> = inner.networks.values().cloned().collect();
        if let Some(e) = crate::network_conflict(network, &existing) {
            return Err(e);
        }
        inner.networks.insert(network.name.clone(), network.clone());
        Ok(())
    }

    fn get_network(&self, name: &str) -> Result<berth_types::net::Network> {
        self.inner()
            .networks
            .get(name)
            .cloned()
            .ok_or_else(|| crate::no_such_network(name))
    }

    fn list_networks(&self) -> Result<Vec<berth_types::net::Network>> {
        Ok(self.inner().networks.values().cloned().collect())
    }

    fn remove_network(&self, name: &str) -> Result<()> {
        let mut inner = self.inner();
        inner
            .networks
            .remove(name)
            .ok_or_else(|| crate::no_such_network(name))?;
        inner.ipam.retain(|(n, _), _| n != name);
        Ok(())
    }

    fn ipam_claim(&self, network: &str, ip: &str, container_id: &str) -> Result<bool> {
        let mut inner = self.inner();
        if !inner.rows.contains_key(container_id) {
            return Err(Error::no_such_container(container_id));
        }
        let key = (network.to_string(), ip.to_string());
        if inner.ipam.contains_key(&key) {
            return Ok(false);
        }
        inner.ipam.insert(key, container_id.to_string());
        Ok(true)
    }

    fn ipam_list(&self) -> Result<Vec<(String, String, String)>> {
        let mut v: Vec<_> = self
            .inner()
            .ipam
            .iter()
            .map(|((n, ip), c)| (n.clone(), ip.clone(), c.clone()))
            .collect();
        v.sort_by(|a, b| (&a.0, &a.2, &a.1).cmp(&(&b.0, &b.2, &b.1)));
        Ok(v)
    }

    fn ipam_release(&self, container_id: &str, network: Option<&str>) -> Result<()> {
        self.inner()
            .ipam
            .retain(|(n, _), c| !(c == container_id && network.is_none_or(|want| want == n)));
        Ok(())
    }

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
                inner.execs.retain(|_, (_, s)| s.container_id != id);
                inner.ipam.retain(|_, c| c != id);
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

    fn save_config(&self, id: &str, config: &ContainerConfig) -> Result<()> {
        let mut inner = self.inner();
        let row = inner.row_mut(id)?;
        check_config_update(id, &row.record.config, config)?;
        row.record.config = config.clone();
        Ok(())
    }

    fn add_exec_session(&self, session: &ExecSession) -> Result<()> {
        if !id::is_full_id(&session.id) {
            return Err(Error::invalid(format!(
                "invalid exec session ID {:?}",
                session.id
            )));
        }
        let mut inner = self.inner();
        if !inner.rows.contains_key(&session.container_id) {
            return Err(Error::no_such_container(&session.container_id));
        }
        if inner.execs.contains_key(&session.id) {
            return Err(Error::internal(format!(
                "exec session ID {} already exists",
                session.id
            )));
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner
            .execs
            .insert(session.id.clone(), (seq, session.clone()));
        // Keep the newest finished sessions only (as SqliteStore does).
        let mut done: Vec<(i64, u64, String)> = inner
            .execs
            .values()
            .filter(|(_, s)| s.container_id == session.container_id)
            .filter(|(_, s)| s.state == ExecState::Exited)
            .map(|(q, s)| (exec_created_key(s), *q, s.id.clone()))
            .collect();
        done.sort_unstable_by(|a, b| b.cmp(a));
        for (_, _, old) in done.into_iter().skip(EXEC_SESSIONS_KEPT) {
            inner.execs.remove(&old);
        }
        Ok(())
    }

    fn get_exec_session(&self, id: &str) -> Result<ExecSession> {
        self.inner()
            .execs
            .get(id)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| no_such_exec_session(id))
    }

    fn save_exec_session(&self, session: &ExecSession) -> Result<()> {
        match self.inner().execs.get_mut(&session.id) {
            Some((_, s)) if s.container_id == session.container_id => {
                *s = session.clone();
                Ok(())
            }
            _ => Err(no_such_exec_session(&session.id)),
        }
    }

    fn exec_sessions(&self, container_id: &str) -> Result<Vec<ExecSession>> {
        let inner = self.inner();
        let mut list: Vec<&(u64, ExecSession)> = inner
            .execs
            .values()
            .filter(|(_, s)| s.container_id == container_id)
            .collect();
        list.sort_by_key(|(q, s)| (exec_created_key(s), *q));
        Ok(list.into_iter().map(|(_, s)| s.clone()).collect())
    }

    fn remove_exec_session(&self, id: &str) -> Result<()> {
        self.inner().execs.remove(id);
        Ok(())
    }

    fn lookup_exec_session(&self, id_or_prefix: &str) -> Result<String> {
        let inner = self.inner();
        resolve_exec(id_or_prefix, inner.execs.keys().map(String::as_str))
    }
}
