//! The `networks` and `ipam` tables of [`SqliteStore`].

use super::json::decode;
use super::SqliteStore;
use crate::networks::{network_conflict, no_such_network};
use berth_types::net::Network;
use berth_types::{Error, Result};
use rusqlite::ErrorCode;

impl SqliteStore {
    pub(super) fn add_network_impl(&self, n: &Network) -> Result<()> {
        let json = serde_json::to_string(n)?;
        self.write(|tx| {
            let existing: Vec<String> = tx
                .prepare_cached("SELECT network_json FROM networks")
                .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
                .map_err(|e| self.err(e))?;
            let existing = existing
                .iter()
                .map(|j| decode("network", j))
                .collect::<Result<Vec<_>>>()?;
            if let Some(e) = network_conflict(n, &existing) {
                return Err(e);
            }
            tx.execute(
                "INSERT INTO networks (name, network_json) VALUES (?1, ?2)",
                rusqlite::params![n.name, json],
            )
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    pub(super) fn get_network_impl(&self, name: &str) -> Result<Network> {
        self.json_row(
            "network",
            "SELECT network_json FROM networks WHERE name = ?1",
            name,
            || no_such_network(name),
        )
    }

    pub(super) fn list_networks_impl(&self) -> Result<Vec<Network>> {
        self.json_rows("network", "SELECT network_json FROM networks ORDER BY name")
    }

    pub(super) fn remove_network_impl(&self, name: &str) -> Result<()> {
        self.write_freeing(|tx| {
            let n = tx
                .execute("DELETE FROM networks WHERE name = ?1", [name])
                .map_err(|e| self.err(e))?;
            if n == 0 {
                return Err(no_such_network(name));
            }
            tx.execute("DELETE FROM ipam WHERE network = ?1", [name])
                .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    pub(super) fn ipam_claim_impl(&self, network: &str, ip: &str, ctr: &str) -> Result<bool> {
        self.write(|tx| {
            match tx.execute(
                "INSERT INTO ipam (network, ip, container_id) VALUES (?1, ?2, ?3)",
                rusqlite::params![network, ip, ctr],
            ) {
                Ok(_) => Ok(true),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation
                        && e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
                {
                    Ok(false)
                }
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    Err(Error::no_such_container(ctr))
                }
                Err(e) => Err(self.err(e)),
            }
        })
    }

    pub(super) fn ipam_list_impl(&self) -> Result<Vec<(String, String, String)>> {
        let conn = self.conn();
        conn.prepare_cached(
            "SELECT network, ip, container_id FROM ipam ORDER BY network, container_id, ip",
        )
        .and_then(|mut st| {
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(|e| self.err(e))
    }

    pub(super) fn ipam_release_impl(&self, ctr: &str, network: Option<&str>) -> Result<()> {
        self.write_freeing(|tx| {
            match network {
                Some(n) => tx.execute(
                    "DELETE FROM ipam WHERE container_id = ?1 AND network = ?2",
                    rusqlite::params![ctr, n],
                ),
                None => tx.execute("DELETE FROM ipam WHERE container_id = ?1", [ctr]),
            }
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }
}
