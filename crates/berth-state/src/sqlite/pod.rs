//! The `pods` table of [`SqliteStore`].

use super::SqliteStore;
use crate::pods::{no_such_pod, pod_exists, validate_pod};
use berth_types::pod::PodRecord;
use berth_types::Result;
use rusqlite::ErrorCode;

impl SqliteStore {
    pub(super) fn add_pod_impl(&self, p: &PodRecord) -> Result<()> {
        validate_pod(p)?;
        let json = serde_json::to_string(p)?;
        let created = p.created.as_nanosecond() as i64;
        self.write(|tx| {
            match tx.execute(
                "INSERT INTO pods (id, name, created, pod_json) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![p.id, p.name, created, json],
            ) {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    Err(pod_exists(&p.name))
                }
                Err(e) => Err(self.err(e)),
            }
        })
    }

    pub(super) fn get_pod_impl(&self, id: &str) -> Result<PodRecord> {
        self.json_row("pod", "SELECT pod_json FROM pods WHERE id = ?1", id, || {
            no_such_pod(id)
        })
    }

    pub(super) fn save_pod_impl(&self, p: &PodRecord) -> Result<()> {
        let json = serde_json::to_string(p)?;
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE pods SET pod_json = ?2 WHERE id = ?1 AND name = ?3",
                    rusqlite::params![p.id, json, p.name],
                )
                .map_err(|e| self.err(e))?;
            if n == 0 {
                return Err(no_such_pod(&p.id));
            }
            Ok(())
        })
    }

    pub(super) fn remove_pod_impl(&self, id: &str) -> Result<()> {
        self.write_freeing(|tx| {
            let n = tx
                .execute("DELETE FROM pods WHERE id = ?1", [id])
                .map_err(|e| self.err(e))?;
            if n == 0 {
                return Err(no_such_pod(id));
            }
            Ok(())
        })
    }

    pub(super) fn list_pods_impl(&self) -> Result<Vec<PodRecord>> {
        self.json_rows("pod", "SELECT pod_json FROM pods ORDER BY created, rowid")
    }
}
