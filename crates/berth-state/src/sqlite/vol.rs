//! The `volumes` table of [`SqliteStore`].

use super::SqliteStore;
use crate::volumes::{no_such_volume, validate_volume_name, volume_exists, VolumeRecord};
use berth_types::{Error, Result};
use rusqlite::{ErrorCode, OptionalExtension};

impl SqliteStore {
    pub(super) fn add_volume_impl(&self, v: &VolumeRecord) -> Result<()> {
        validate_volume_name(&v.name)?;
        let json = serde_json::to_string(v)?;
        self.write(|tx| {
            match tx.execute(
                "INSERT INTO volumes (name, volume_json) VALUES (?1, ?2)",
                rusqlite::params![v.name, json],
            ) {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    Err(volume_exists(&v.name))
                }
                Err(e) => Err(self.err(e)),
            }
        })
    }

    pub(super) fn get_volume_impl(&self, name: &str) -> Result<VolumeRecord> {
        let json: Option<String> = self
            .conn()
            .query_row(
                "SELECT volume_json FROM volumes WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let json = json.ok_or_else(|| no_such_volume(name))?;
        decode(&json)
    }

    pub(super) fn save_volume_impl(&self, v: &VolumeRecord) -> Result<()> {
        let json = serde_json::to_string(v)?;
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE volumes SET volume_json = ?2 WHERE name = ?1",
                    rusqlite::params![v.name, json],
                )
                .map_err(|e| self.err(e))?;
            if n == 0 {
                return Err(no_such_volume(&v.name));
            }
            Ok(())
        })
    }

    pub(super) fn remove_volume_impl(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            let n = tx
                .execute("DELETE FROM volumes WHERE name = ?1", [name])
                .map_err(|e| self.err(e))?;
            if n == 0 {
                return Err(no_such_volume(name));
            }
            Ok(())
        })
    }

    pub(super) fn list_volumes_impl(&self) -> Result<Vec<VolumeRecord>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached("SELECT volume_json FROM volumes ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows: Vec<String> = st
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        rows.iter().map(|j| decode(j)).collect()
    }
}

fn decode(json: &str) -> Result<VolumeRecord> {
    serde_json::from_str(json).map_err(|e| {
        Error::new(
            berth_types::ErrorKind::Database,
            format!("decoding volume: {e}"),
        )
    })
}
