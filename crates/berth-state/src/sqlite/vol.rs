//! The `volumes` table of [`SqliteStore`].

use super::SqliteStore;
use crate::volumes::{no_such_volume, validate_volume_name, volume_exists, VolumeRecord};
use berth_types::Result;
use rusqlite::ErrorCode;

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
        self.json_row(
            "volume",
            "SELECT volume_json FROM volumes WHERE name = ?1",
            name,
            || no_such_volume(name),
        )
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
        self.write_freeing(|tx| {
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
        self.json_rows("volume", "SELECT volume_json FROM volumes ORDER BY name")
    }
}
