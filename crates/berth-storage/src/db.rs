//! The metadata database: one SQLite file shared by concurrent berth processes.
//!
//! Why these settings (research/rust-stack.md §2.4): WAL lets readers run
//! while a writer commits; `synchronous=FULL` makes a commit durable before
//! we report success; writers use `BEGIN IMMEDIATE` so two writers queue on
//! `busy_timeout` instead of failing with a deferred-upgrade SQLITE_BUSY.

use std::path::Path;

use berth_types::{Error, ErrorKind, Result};
use rusqlite::{Connection, Transaction, TransactionBehavior};

/// Schema version this code writes. Bump and add a step in `migrate`.
const SCHEMA_VERSION: i64 = 2;

const SCHEMA_V1: &str = "
CREATE TABLE layers (
    diff_id TEXT PRIMARY KEY,          -- sha256:<hex> of the uncompressed tar
    size    INTEGER NOT NULL           -- uncompressed tar size in bytes
);
CREATE TABLE images (
    id       TEXT PRIMARY KEY,         -- sha256 hex of the config blob
    digest   TEXT NOT NULL,            -- manifest digest sha256:<hex>
    created  TEXT,                     -- from the config, RFC 3339
    size     INTEGER NOT NULL,
    config   TEXT NOT NULL,            -- raw config blob
    manifest TEXT NOT NULL,            -- raw manifest bytes (digest is over these)
    loaded   TEXT NOT NULL             -- when this store got it
);
CREATE TABLE image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    pos      INTEGER NOT NULL,         -- 0 = bottom layer
    diff_id  TEXT NOT NULL REFERENCES layers(diff_id),
    PRIMARY KEY (image_id, pos)
);
CREATE INDEX image_layers_diff ON image_layers(diff_id);
CREATE TABLE names (
    name     TEXT PRIMARY KEY,         -- a name belongs to at most one image
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL          -- keeps names in the order they were given
);
CREATE INDEX names_image ON names(image_id);
CREATE TABLE containers (
    cid      TEXT PRIMARY KEY,
    image_id TEXT NOT NULL             -- no FK: the image may be removed first
);
-- A container pins its image's layers directly, so removing the image
-- (the caller's decision) can never pull a lower dir from under a container.
CREATE TABLE container_layers (
    cid     TEXT NOT NULL REFERENCES containers(cid) ON DELETE CASCADE,
    pos     INTEGER NOT NULL,
    diff_id TEXT NOT NULL REFERENCES layers(diff_id),
    PRIMARY KEY (cid, pos)
);
CREATE INDEX container_layers_diff ON container_layers(diff_id);
";

/// v2: how many `berth mount` calls are outstanding per container, so a
/// user's mount survives the container stopping and `unmount` only takes it
/// down when the last user is done (Podman's mount count).
const SCHEMA_V2: &str = "ALTER TABLE containers ADD COLUMN mount_count INTEGER NOT NULL DEFAULT 0;";

/// Open the database, creating or migrating the schema.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    berth_types::reserve::retry_open(path, || open_once(path)).map_err(|e| {
        match berth_types::reserve::full_hint(path, &e.message) {
            "" => e,
            hint => Error::new(e.kind, format!("{} ({}){hint}", e.message, path.display())),
        }
    })
}

fn open_once(path: &Path) -> Result<Connection> {
    let mut conn =
        Connection::open(path).map_err(|e| db_err(format!("opening {}", path.display()), e))?;
    // Set first, so that even switching to WAL waits for other processes.
    // Fine-grained waits instead of SQLite's 1..25 ms sleeps (see berth-types).
    conn.busy_handler(Some(berth_types::busy::short_waits))
        .map_err(|e| db_err("setting the busy handler", e))?;
    // journal_mode is persistent; only switch when needed (podman#17859:
    // switching on every open causes "database is locked").
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(|e| db_err("reading journal_mode", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        let _: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| db_err("enabling WAL", e))?;
    }
    // Keep -wal and -shm across closes (emptied, not deleted), so opening
    // on a full disk needs no new blocks (see berth-state's keep_wal_files).
    conn.file_control(
        rusqlite::DEFAULT_NAME,
        rusqlite::FileControl::PersistWal(&mut 1),
    )
    .map_err(|e| db_err("keeping the WAL", e))?;
    conn.execute_batch(
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=1048576;",
    )
    .map_err(|e| db_err("setting pragmas", e))?;
    let mut conn = conn;
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = write_tx(conn)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .map_err(|e| db_err("creating schema_version", e))?;
    let version: Option<i64> = tx
        .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
        .map_err(|e| db_err("reading schema version", e))?;
    match version {
        None | Some(1) => {
            if version.is_none() {
                tx.execute_batch(SCHEMA_V1)
                    .map_err(|e| db_err("creating schema", e))?;
            }
            tx.execute_batch(SCHEMA_V2)
                .map_err(|e| db_err("migrating schema to v2", e))?;
            tx.execute("DELETE FROM schema_version", [])
                .map_err(|e| db_err("recording schema version", e))?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [SCHEMA_VERSION],
            )
            .map_err(|e| db_err("recording schema version", e))?;
        }
        Some(SCHEMA_VERSION) => {}
        Some(v) if v > SCHEMA_VERSION => {
            return Err(Error::new(
                ErrorKind::Storage,
                format!("storage database schema version {v} is newer than this berth supports ({SCHEMA_VERSION})"),
            ))
        }
        Some(v) => {
            return Err(Error::new(
                ErrorKind::Storage,
                format!("storage database schema version {v} has no migration"),
            ))
        }
    }
    tx.commit().map_err(|e| db_err("committing schema", e))
}

/// Start a write transaction (`BEGIN IMMEDIATE`).
pub(crate) fn write_tx(conn: &mut Connection) -> Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| db_err("starting transaction", e))
}

/// A Storage error for a failed SQLite call.
pub(crate) fn db_err(what: impl std::fmt::Display, e: rusqlite::Error) -> Error {
    Error::new(ErrorKind::Storage, format!("storage database: {what}: {e}"))
}

impl crate::Store {
    /// A Storage error for a failed SQLite call on this store's database,
    /// naming the file (a full disk must say where).
    pub(crate) fn db_err(&self, what: impl std::fmt::Display, e: rusqlite::Error) -> Error {
        let db = self.root.join("storage.db");
        Error::new(
            ErrorKind::Storage,
            format!("storage database {}: {what}: {e}", db.display()),
        )
    }

    /// Run `f`, taking the reserve beside `storage.db` a slice at a time
    /// while it fails because the disk is full. Only for the operations
    /// that free space (`rm`, `rmi`), which must work on a full disk (see
    /// `berth_types::reserve`).
    pub(crate) fn retry_when_full<T>(&self, f: impl FnMut() -> Result<T>) -> Result<T> {
        berth_types::reserve::retry_when_full(&self.root.join("storage.db"), f)
    }
}
