//! The SQLite schema and its migrations.
//!
//! `MIGRATIONS[i]` takes the database from version `i` to `i + 1`. To change
//! the schema, append one SQL string; never edit a released one. Pending
//! migrations run in one `BEGIN IMMEDIATE` transaction, so a crash mid-way
//! leaves the database at its old version and the next open retries, and two
//! processes opening a new database at once migrate it exactly once.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// Ordered migrations; the schema version is the number applied.
///
pub(crate) const MIGRATIONS: &[&str] = &[
    // v1: containers. `created` is nanoseconds since the epoch (orders
    // `ps` and picks `--latest`); `state` is the state word for cheap
    // filters; the full records are JSON.
    "CREATE TABLE containers (
        id          TEXT PRIMARY KEY NOT NULL,
        name        TEXT NOT NULL UNIQUE,
        image_id    TEXT NOT NULL,
        created     INTEGER NOT NULL,
        state       TEXT NOT NULL,
        config_json TEXT NOT NULL,
        state_json  TEXT NOT NULL
    );
    CREATE INDEX containers_by_created ON containers (created);
    CREATE INDEX containers_by_image ON containers (image_id);",
    // v2: the last exit code of removed containers, kept for a while (like
    // Podman's ContainerExitCode table) so `run --rm` and `wait` can report
    // it when the monitor's cleanup removed the container first.
    "CREATE TABLE exit_codes (
        id      TEXT PRIMARY KEY NOT NULL,
        code    INTEGER NOT NULL,
        removed INTEGER NOT NULL
    );
    CREATE INDEX exit_codes_by_removed ON exit_codes (removed);",
    // v3: exec sessions (Podman's ContainerExecSession table). They go with
    // their container (ON DELETE CASCADE; foreign keys are on). `created`
    // orders them; the full record is JSON.
    "CREATE TABLE exec_sessions (
        id           TEXT PRIMARY KEY NOT NULL,
        container_id TEXT NOT NULL REFERENCES containers (id) ON DELETE CASCADE,
        created      INTEGER NOT NULL,
        state        TEXT NOT NULL,
        session_json TEXT NOT NULL
    );
    CREATE INDEX exec_sessions_by_container ON exec_sessions (container_id, created);",
    // v4: volumes (see `volumes.rs` for why here and not as files). The
    // full record is JSON; the name is the key.
    "CREATE TABLE volumes (
        name        TEXT PRIMARY KEY NOT NULL,
        volume_json TEXT NOT NULL
    );",
    // v5: networks and their address allocations (see `networks.rs`). An
    // allocation goes with its container (ON DELETE CASCADE), so removing a
    // container can never leak one even when its teardown failed.
    "CREATE TABLE networks (
        name         TEXT PRIMARY KEY NOT NULL,
        network_json TEXT NOT NULL
    );
    CREATE TABLE ipam (
        network      TEXT NOT NULL,
        ip           TEXT NOT NULL,
        container_id TEXT NOT NULL REFERENCES containers (id) ON DELETE CASCADE,
        PRIMARY KEY (network, ip)
    );
    CREATE INDEX ipam_by_container ON ipam (container_id);",
    // v6: pods. Members are containers whose config names the pod; the
    // record is JSON, the name unique among pods.
    "CREATE TABLE pods (
        id       TEXT PRIMARY KEY NOT NULL,
        name     TEXT NOT NULL UNIQUE,
        created  INTEGER NOT NULL,
        pod_json TEXT NOT NULL
    );",
];

/// The schema version this build writes and understands.
pub(crate) fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Outcome of bringing a database up to date.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Migrated {
    /// Already at the current version (the common, read-only path).
    UpToDate,
    /// Migrations ran from `from` to the current version.
    From(i64),
    /// Written by a newer berth: refuse rather than misread it.
    TooNew(i64),
}

/// The version recorded in `conn`; 0 for a fresh database.
fn version(conn: &Connection) -> rusqlite::Result<i64> {
    let has_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master
                        WHERE type = 'table' AND name = 'schema_version')",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(0);
    }
    Ok(conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Apply pending migrations. Checks without a write lock first so every
/// command after the first pays only two tiny reads.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<Migrated> {
    let target = current_version();
    let seen = version(conn)?;
    if seen == target {
        return Ok(Migrated::UpToDate);
    }
    if seen > target {
        return Ok(Migrated::TooNew(seen));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another process may have migrated
    // between our check and our lock.
    let from = version(&tx)?;
    if from >= target {
        return Ok(if from == target {
            Migrated::UpToDate
        } else {
            Migrated::TooNew(from)
        });
    }
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    for sql in &MIGRATIONS[from as usize..] {
        tx.execute_batch(sql)?;
    }
    tx.execute("DELETE FROM schema_version", [])?;
    tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [target])?;
    tx.commit()?;
    Ok(Migrated::From(from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), Migrated::From(0));
        assert_eq!(migrate(&mut conn).unwrap(), Migrated::UpToDate);
        assert_eq!(version(&conn).unwrap(), current_version());
        conn.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), Migrated::TooNew(99));
    }
}
