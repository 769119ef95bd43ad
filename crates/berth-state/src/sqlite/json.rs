//! Tables that keep one JSON record per row (volumes, networks, pods): one
//! way to read a record by key, every record, and to decode them.

use super::SqliteStore;
use berth_types::{Error, ErrorKind, Result};
use rusqlite::OptionalExtension;
use serde::de::DeserializeOwned;

/// Decode a stored `what` record; a row that does not parse is a database error.
pub(super) fn decode<T: DeserializeOwned>(what: &str, json: &str) -> Result<T> {
    serde_json::from_str(json)
        .map_err(|e| Error::new(ErrorKind::Database, format!("decoding {what}: {e}")))
}

impl SqliteStore {
    /// The record in the JSON column `sql` selects for `key`, or `missing()`.
    pub(super) fn json_row<T: DeserializeOwned>(
        &self,
        what: &str,
        sql: &str,
        key: &str,
        missing: impl FnOnce() -> Error,
    ) -> Result<T> {
        let json: Option<String> = self
            .conn()
            .query_row(sql, [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        decode(what, &json.ok_or_else(missing)?)
    }

    /// Every record in the JSON column `sql` selects, in its order.
    pub(super) fn json_rows<T: DeserializeOwned>(&self, what: &str, sql: &str) -> Result<Vec<T>> {
        let conn = self.conn();
        let rows: Vec<String> = conn
            .prepare_cached(sql)
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.err(e))?;
        rows.iter().map(|j| decode(what, j)).collect()
    }
}
