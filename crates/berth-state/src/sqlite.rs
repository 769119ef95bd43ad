//! The SQLite-backed [`StateStore`].

mod json;
mod net;
mod pod;
mod vol;

use crate::lookup::hex_prefix_range;
use crate::schema::{self, Migrated};
use crate::{
    check_config_update, created_key, id_exists, name_in_use, no_such_exec_session, resolve,
    resolve_exec, validate_record, StateStore, REPAIR_COMMAND,
};
use berth_types::exec::{ExecSession, ExecState, EXEC_SESSIONS_KEPT};
use berth_types::reserve;
use berth_types::{id, ContainerConfig, ContainerRecord, Error, ErrorKind, Result, RuntimeState};
use rusqlite::{
    params, Connection, ErrorCode, FileControl, OpenFlags, OptionalExtension, Transaction,
    TransactionBehavior, DEFAULT_NAME,
};
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a statement waits for another process's write lock before
/// failing with "database is locked". Writes take milliseconds; only a hung
/// or stopped process holds the lock this long.
const BUSY_TIMEOUT: Duration = Duration::from_secs(100);

/// Containers stored in one SQLite database file, shared safely by every
/// `berth` process on the host.
///
/// - WAL journal (set once, when the file is new): readers never block the
///   writer, so `ps` and `inspect` stay fast while others change state.
/// - `synchronous=FULL`: a committed change survives power loss.
/// - Every write is one `BEGIN IMMEDIATE` transaction: it takes the write
///   lock up front, so check-then-write (name uniqueness) is atomic across
///   processes and the busy timeout can wait for it (a deferred transaction
///   that upgrades from read to write fails with `SQLITE_BUSY` at once).
/// - A corrupt file yields one [`ErrorKind::Database`] error naming the file
///   and [`REPAIR_COMMAND`].
///
/// One connection behind a `Mutex` makes the store `Send + Sync`; the CLI
/// opens one store per invocation, the API service one per worker.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Open (creating if needed) the database at `path`. A missing parent
    /// directory is created mode 0700 and a new file mode 0600: container
    /// configs hold environment variables, which may be secrets.
    pub fn open(path: &Path) -> Result<Self> {
        reserve::retry_open(path, || Self::open_once(path))
    }

    fn open_once(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| {
                    Error::io(format_args!("creating directory {}", parent.display()), e)
                })?;
        }
        // Create the file ourselves for its mode (SQLite would use 0644
        // minus umask); its -wal and -shm files copy this mode.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(format_args!("opening {}", path.display()), e))?;
        check_header(file, path)?;

        // No URI parsing (a path is a path); the Mutex serialises use, so
        // SQLite's own per-connection mutex is redundant.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let err = |e| db_error(path, e);
        let mut conn = Connection::open_with_flags(path, flags).map_err(err)?;
        // Instead of busy_timeout (SQLite's handler sleeps 1..25 ms steps;
        // berth's contention is short, so poll finely, for as long in total).
        conn.busy_handler(Some(berth_types::busy::short_waits))
            .map_err(err)?;
        // Reads through mmap instead of one pread per page: `ps` of 1000
        // containers touches hundreds of pages. (The checkpoint SQLite runs
        // when the last connection closes stays on: measured, leaving it to
        // the auto-checkpoint let the WAL grow to tens of MB and made every
        // read walk it.)
        conn.pragma_update(None, "mmap_size", 256i64 << 20)
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        ensure_wal(&conn).map_err(err)?;
        keep_wal_files(&conn).map_err(err)?;
        match schema::migrate(&mut conn).map_err(err)? {
            Migrated::UpToDate | Migrated::From(_) => {}
            Migrated::TooNew(v) => {
                return Err(Error::new(
                    ErrorKind::Database,
                    format!(
                        "state database {} has schema version {v}, newer than this berth \
                         understands ({}): upgrade berth",
                        path.display(),
                        schema::current_version()
                    ),
                ))
            }
        }
        reserve::ensure(path);
        Ok(SqliteStore {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection. A panic while it was held cannot leave a
    /// transaction open (dropping a `Transaction` rolls back), so a poisoned
    /// mutex is safe to reuse.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
    }

    /// Run `f` in a `BEGIN IMMEDIATE` transaction, committing if it
    /// succeeds and rolling back if it fails. Never touches the reserve: a
    /// full disk stops new containers, pods, renames and the like, keeping
    /// the reserve for [`Self::write_freeing`].
    fn write<T>(&self, mut f: impl FnMut(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// [`Self::write`] for the writes that free space or record what the
    /// runtime already did (an exit, a removal): on a full disk they take
    /// the reserve beside the database a slice at a time.
    fn write_freeing<T>(&self, mut f: impl FnMut(&Transaction<'_>) -> Result<T>) -> Result<T> {
        reserve::retry_when_full(&self.path, || self.write(&mut f))
    }

    /// The ID of the container named `name`, if any.
    fn holder_of(&self, tx: &Connection, name: &str) -> Result<Option<String>> {
        tx.prepare_cached("SELECT id FROM containers WHERE name = ?1")
            .and_then(|mut st| st.query_row([name], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    /// Decode a stored record; a row that does not parse is corruption.
    fn decode(&self, id: &str, config: &str, state: &str) -> Result<ContainerRecord> {
        let bad = |what: &str, e: serde_json::Error| {
            corrupt(
                &self.path,
                format_args!("the {what} of container {id} cannot be decoded: {e}"),
            )
        };
        Ok(ContainerRecord {
            config: serde_json::from_str(config).map_err(|e| bad("configuration", e))?,
            state: serde_json::from_str(state).map_err(|e| bad("state", e))?,
        })
    }

    /// Every container as raw rows, oldest first.
    fn rows(&self) -> Result<Vec<(String, String, String)>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT id, config_json, state_json FROM containers ORDER BY created, rowid",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }
}

/// Switch a new database to WAL. The mode is persistent, so this writes only
/// once per database; doing it on every open needs exclusive access each
/// time and fails under load (podman#17859). Switching needs exclusive
/// access, so when several processes create the database at once it can
/// still report BUSY; retry until the busy timeout.
fn ensure_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
    if mode.eq_ignore_ascii_case("wal") {
        return Ok(());
    }
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            // A filesystem without shared-memory support stays in its old
            // mode; the store still works (writers then block readers).
            Ok(_) => return Ok(()),
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Keep the `-wal` and `-shm` files when the last connection closes (the
/// WAL is emptied, not deleted). Otherwise every berth command creates them
/// anew, and on a full disk even `rm` could not open the database: SQLite
/// reports that as a bare I/O error (RELIABILITY 12).
fn keep_wal_files(conn: &Connection) -> rusqlite::Result<()> {
    conn.file_control(DEFAULT_NAME, FileControl::PersistWal(&mut 1))?;
    // With a limit, closing truncates the kept WAL to zero bytes.
    conn.pragma_update(None, "journal_size_limit", 1i64 << 20)
}

/// The first bytes of every SQLite 3 database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Refuse a non-empty file that is not a database. SQLite itself treats a
/// file shorter than its header as a new, empty database and would silently
/// overwrite what is left of a truncated state file; an empty file is fine
/// (new, or all data still in the WAL).
fn check_header(file: File, path: &Path) -> Result<()> {
    let mut head = Vec::with_capacity(SQLITE_MAGIC.len());
    file.take(SQLITE_MAGIC.len() as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(format_args!("reading {}", path.display()), e))?;
    if head.is_empty() || head == SQLITE_MAGIC {
        return Ok(());
    }
    Err(corrupt(path, "file is not a database"))
}

/// The one corruption error: names the file and the repair command.
fn corrupt(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Database,
        format!(
            "state database {} is corrupt ({why}): run \"{REPAIR_COMMAND}\" to recover",
            path.display()
        ),
    )
}

/// Map a SQLite error to berth's: corruption gets one clear message naming
/// the file and the repair command; anything else names the file.
fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    let is_corrupt = matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    );
    if is_corrupt {
        return corrupt(path, e);
    }
    // Only an I/O failure can be a full disk SQLite did not name as such;
    // a busy or constraint error on a nearly full disk is not one (and must
    // not be retried with the reserve).
    let hint = match e.sqlite_error_code() {
        Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) => {
            reserve::full_hint(path, &e.to_string())
        }
        _ => "",
    };
    Error::new(
        ErrorKind::Database,
        format!("state database {}: {e}{hint}", path.display()),
    )
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::internal(format!("encoding a container record: {e}")))
}

impl StateStore for SqliteStore {
    fn add_container(&self, record: &ContainerRecord) -> Result<()> {
        validate_record(record)?;
        let config = to_json(&record.config)?;
        let state = to_json(&record.state)?;
        self.write(|tx| {
            if let Some(holder) = self.holder_of(tx, record.name())? {
                return Err(name_in_use(record.name(), &holder));
            }
            let exists = tx
                .prepare_cached("SELECT 1 FROM containers WHERE id = ?1")
                .and_then(|mut st| st.exists([record.id()]))
                .map_err(|e| self.err(e))?;
            if exists {
                return Err(id_exists(record.id()));
            }
            tx.prepare_cached(
                "INSERT INTO containers
                   (id, name, image_id, created, state, config_json, state_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    record.id(),
                    record.name(),
                    record.config.image_id,
                    created_key(record),
                    record.state.state.as_str(),
                    config,
                    state,
                ])
            })
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    fn get(&self, id: &str) -> Result<ContainerRecord> {
        let row: Option<(String, String)> = {
            let conn = self.conn();
            conn.prepare_cached("SELECT config_json, state_json FROM containers WHERE id = ?1")
                .and_then(|mut st| {
                    st.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                })
                .map_err(|e| self.err(e))?
        };
        let (config, state) = row.ok_or_else(|| Error::no_such_container(id))?;
        self.decode(id, &config, &state)
    }

    fn save_state(&self, id: &str, state: &RuntimeState) -> Result<()> {
        let json = to_json(state)?;
        let save = |tx: &Transaction<'_>| {
            let changed = tx
                .prepare_cached("UPDATE containers SET state = ?2, state_json = ?3 WHERE id = ?1")
                .and_then(|mut st| st.execute(params![id, state.state.as_str(), json]))
                .map_err(|e| self.err(e))?;
            if changed == 0 {
                return Err(Error::no_such_container(id));
            }
            Ok(())
        };
        // Every state change records what the runtime already did (runc
        // created, started, froze, stopped): failing to save it would leave
        // the database wrong about a live container.
        self.write_freeing(save)
    }

    fn rename(&self, id: &str, new_name: &str) -> Result<()> {
        id::validate_name(new_name)?;
        self.write(|tx| {
            let config: Option<String> = tx
                .prepare_cached("SELECT config_json FROM containers WHERE id = ?1")
                .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
                .map_err(|e| self.err(e))?;
            let config = config.ok_or_else(|| Error::no_such_container(id))?;
            match self.holder_of(tx, new_name)? {
                Some(holder) if holder == id => return Ok(()),
                Some(holder) => return Err(name_in_use(new_name, &holder)),
                None => {}
            }
            // The name lives in the column (for uniqueness and lookup) and
            // in the config JSON (what readers decode); change both at once.
            let mut config: ContainerConfig = serde_json::from_str(&config).map_err(|e| {
                corrupt(
                    &self.path,
                    format_args!("the configuration of container {id} cannot be decoded: {e}"),
                )
            })?;
            config.name = new_name.to_string();
            let json = to_json(&config)?;
            tx.prepare_cached("UPDATE containers SET name = ?2, config_json = ?3 WHERE id = ?1")
                .and_then(|mut st| st.execute(params![id, new_name, json]))
                .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    fn remove(&self, id: &str) -> Result<()> {
        let now = unix_now();
        self.write_freeing(|tx| {
            // Keep the exit code first, in the same transaction, and drop
            // the ones that have expired.
            tx.prepare_cached(
                "INSERT OR REPLACE INTO exit_codes (id, code, removed)
                 SELECT id, json_extract(state_json, '$.exit_code'), ?2 FROM containers
                 WHERE id = ?1 AND json_extract(state_json, '$.exit_code') IS NOT NULL",
            )
            .and_then(|mut st| st.execute(rusqlite::params![id, now]))
            .map_err(|e| self.err(e))?;
            tx.prepare_cached("DELETE FROM exit_codes WHERE removed < ?1")
                .and_then(|mut st| st.execute([now - crate::EXIT_CODE_RETENTION_SECS]))
                .map_err(|e| self.err(e))?;
            let changed = tx
                .prepare_cached("DELETE FROM containers WHERE id = ?1")
                .and_then(|mut st| st.execute([id]))
                .map_err(|e| self.err(e))?;
            if changed == 0 {
                return Err(Error::no_such_container(id));
            }
            Ok(())
        })
    }

    fn list(&self) -> Result<Vec<ContainerRecord>> {
        self.rows()?
            .iter()
            .map(|(id, config, state)| self.decode(id, config, state))
            .collect()
    }

    fn lookup(&self, name_or_id: &str) -> Result<String> {
        // Fetch only the rows that can matter: the name match and the IDs
        // in the prefix range (an empty range when the input is not hex),
        // both answered from indexes.
        let (lo, hi) = hex_prefix_range(name_or_id).unwrap_or_default();
        let candidates: Vec<(String, String)> = {
            let conn = self.conn();
            conn.prepare_cached(
                "SELECT id, name FROM containers
                 WHERE name = ?1 OR (id >= ?2 AND id < ?3)",
            )
            .and_then(|mut st| {
                st.query_map(params![name_or_id, lo, hi], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.err(e))?
        };
        resolve(name_or_id, candidates)
    }

    fn latest(&self) -> Result<Option<String>> {
        let conn = self.conn();
        conn.prepare_cached("SELECT id FROM containers ORDER BY created DESC, rowid DESC LIMIT 1")
            .and_then(|mut st| st.query_row([], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    fn removed_exit_code(&self, id: &str) -> Result<Option<i32>> {
        let oldest = unix_now() - crate::EXIT_CODE_RETENTION_SECS;
        let conn = self.conn();
        conn.prepare_cached("SELECT code FROM exit_codes WHERE id = ?1 AND removed >= ?2")
            .and_then(|mut st| {
                st.query_row(rusqlite::params![id, oldest], |r| r.get(0))
                    .optional()
            })
            .map_err(|e| self.err(e))
    }

    fn containers_using_image(&self, image_id: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        conn.prepare_cached("SELECT id FROM containers WHERE image_id = ?1 ORDER BY created, rowid")
            .and_then(|mut st| st.query_map([image_id], |r| r.get(0))?.collect())
            .map_err(|e| self.err(e))
    }

    fn save_config(&self, id: &str, config: &ContainerConfig) -> Result<()> {
        self.save_config_impl(id, config)
    }

    fn add_exec_session(&self, session: &ExecSession) -> Result<()> {
        self.add_exec_impl(session)
    }

    fn get_exec_session(&self, id: &str) -> Result<ExecSession> {
        self.get_exec_impl(id)
    }

    fn save_exec_session(&self, session: &ExecSession) -> Result<()> {
        self.save_exec_impl(session)
    }

    fn exec_sessions(&self, container_id: &str) -> Result<Vec<ExecSession>> {
        self.exec_list_impl(container_id)
    }

    fn remove_exec_session(&self, id: &str) -> Result<()> {
        self.remove_exec_impl(id)
    }

    fn lookup_exec_session(&self, id_or_prefix: &str) -> Result<String> {
        self.lookup_exec_impl(id_or_prefix)
    }

    fn add_volume(&self, volume: &crate::VolumeRecord) -> Result<()> {
        self.add_volume_impl(volume)
    }

    fn get_volume(&self, name: &str) -> Result<crate::VolumeRecord> {
        self.get_volume_impl(name)
    }

    fn save_volume(&self, volume: &crate::VolumeRecord) -> Result<()> {
        self.save_volume_impl(volume)
    }

    fn remove_volume(&self, name: &str) -> Result<()> {
        self.remove_volume_impl(name)
    }

    fn list_volumes(&self) -> Result<Vec<crate::VolumeRecord>> {
        self.list_volumes_impl()
    }

    fn add_pod(&self, pod: &berth_types::pod::PodRecord) -> Result<()> {
        self.add_pod_impl(pod)
    }

    fn get_pod(&self, id: &str) -> Result<berth_types::pod::PodRecord> {
        self.get_pod_impl(id)
    }

    fn save_pod(&self, pod: &berth_types::pod::PodRecord) -> Result<()> {
        self.save_pod_impl(pod)
    }

    fn remove_pod(&self, id: &str) -> Result<()> {
        self.remove_pod_impl(id)
    }

    fn list_pods(&self) -> Result<Vec<berth_types::pod::PodRecord>> {
        self.list_pods_impl()
    }

    fn add_network(&self, network: &berth_types::net::Network) -> Result<()> {
        self.add_network_impl(network)
    }

    fn get_network(&self, name: &str) -> Result<berth_types::net::Network> {
        self.get_network_impl(name)
    }

    fn list_networks(&self) -> Result<Vec<berth_types::net::Network>> {
        self.list_networks_impl()
    }

    fn remove_network(&self, name: &str) -> Result<()> {
        self.remove_network_impl(name)
    }

    fn ipam_claim(&self, network: &str, ip: &str, container_id: &str) -> Result<bool> {
        self.ipam_claim_impl(network, ip, container_id)
    }

    fn ipam_list(&self) -> Result<Vec<(String, String, String)>> {
        self.ipam_list_impl()
    }

    fn ipam_release(&self, container_id: &str, network: Option<&str>) -> Result<()> {
        self.ipam_release_impl(container_id, network)
    }

    /// `PRAGMA integrity_check`, plus a decode of every stored record.
    fn integrity_check(&self) -> Result<Vec<String>> {
        let mut problems: Vec<String> = {
            let conn = self.conn();
            conn.prepare("PRAGMA integrity_check")
                .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
                .map_err(|e| self.err(e))?
        };
        problems.retain(|p| p != "ok");
        if problems.is_empty() {
            for (id, config, state) in self.rows()? {
                if let Err(e) = self.decode(&id, &config, &state) {
                    problems.push(e.message);
                }
            }
        }
        Ok(problems)
    }
}

impl SqliteStore {
    fn decode_exec(&self, id: &str, json: &str) -> Result<ExecSession> {
        serde_json::from_str(json).map_err(|e| {
            corrupt(
                &self.path,
                format_args!("exec session {id} cannot be decoded: {e}"),
            )
        })
    }

    fn exec_rows(&self, sql: &str, arg: &str) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        conn.prepare_cached(sql)
            .and_then(|mut st| {
                st.query_map([arg], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.err(e))
    }
}

/// Creation time of a session in nanoseconds, clamped like [`created_key`].
pub(crate) fn exec_created_key(s: &ExecSession) -> i64 {
    let ns = s.created.as_nanosecond();
    i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
}

/// The exec-session half of [`StateStore`] for [`SqliteStore`].
impl SqliteStore {
    pub(crate) fn save_config_impl(&self, id: &str, config: &ContainerConfig) -> Result<()> {
        let json = to_json(config)?;
        self.write(|tx| {
            let old: Option<String> = tx
                .prepare_cached("SELECT config_json FROM containers WHERE id = ?1")
                .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
                .map_err(|e| self.err(e))?;
            let old = old.ok_or_else(|| Error::no_such_container(id))?;
            let old: ContainerConfig = serde_json::from_str(&old).map_err(|e| {
                corrupt(
                    &self.path,
                    format_args!("the configuration of container {id} cannot be decoded: {e}"),
                )
            })?;
            check_config_update(id, &old, config)?;
            tx.prepare_cached("UPDATE containers SET config_json = ?2 WHERE id = ?1")
                .and_then(|mut st| st.execute(params![id, json]))
                .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    pub(crate) fn add_exec_impl(&self, s: &ExecSession) -> Result<()> {
        if !id::is_full_id(&s.id) {
            return Err(Error::invalid(format!(
                "invalid exec session ID {:?}",
                s.id
            )));
        }
        let json = to_json(s)?;
        self.write(|tx| {
            let exists = tx
                .prepare_cached("SELECT 1 FROM containers WHERE id = ?1")
                .and_then(|mut st| st.exists([&s.container_id]))
                .map_err(|e| self.err(e))?;
            if !exists {
                return Err(Error::no_such_container(&s.container_id));
            }
            tx.prepare_cached(
                "INSERT INTO exec_sessions (id, container_id, created, state, session_json)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    s.id,
                    s.container_id,
                    exec_created_key(s),
                    s.state.as_str(),
                    json
                ])
            })
            .map_err(|e| self.err(e))?;
            // Keep the newest finished sessions only.
            tx.prepare_cached(
                "DELETE FROM exec_sessions WHERE id IN (
                   SELECT id FROM exec_sessions WHERE container_id = ?1 AND state = ?2
                   ORDER BY created DESC, rowid DESC LIMIT -1 OFFSET ?3)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    s.container_id,
                    ExecState::Exited.as_str(),
                    EXEC_SESSIONS_KEPT as i64
                ])
            })
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    pub(crate) fn get_exec_impl(&self, id: &str) -> Result<ExecSession> {
        let rows = self.exec_rows(
            "SELECT id, session_json FROM exec_sessions WHERE id = ?1",
            id,
        )?;
        match rows.first() {
            Some((id, json)) => self.decode_exec(id, json),
            None => Err(no_such_exec_session(id)),
        }
    }

    pub(crate) fn save_exec_impl(&self, s: &ExecSession) -> Result<()> {
        let json = to_json(s)?;
        self.write_freeing(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE exec_sessions SET state = ?3, session_json = ?4
                     WHERE id = ?1 AND container_id = ?2",
                )
                .and_then(|mut st| {
                    st.execute(params![s.id, s.container_id, s.state.as_str(), json])
                })
                .map_err(|e| self.err(e))?;
            if changed == 0 {
                return Err(no_such_exec_session(&s.id));
            }
            Ok(())
        })
    }

    pub(crate) fn exec_list_impl(&self, container_id: &str) -> Result<Vec<ExecSession>> {
        self.exec_rows(
            "SELECT id, session_json FROM exec_sessions WHERE container_id = ?1
             ORDER BY created, rowid",
            container_id,
        )?
        .iter()
        .map(|(id, json)| self.decode_exec(id, json))
        .collect()
    }

    pub(crate) fn remove_exec_impl(&self, id: &str) -> Result<()> {
        self.write_freeing(|tx| {
            tx.prepare_cached("DELETE FROM exec_sessions WHERE id = ?1")
                .and_then(|mut st| st.execute([id]))
                .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    pub(crate) fn lookup_exec_impl(&self, input: &str) -> Result<String> {
        let (lo, hi) = hex_prefix_range(input).unwrap_or_default();
        let ids: Vec<String> = {
            let conn = self.conn();
            conn.prepare_cached("SELECT id FROM exec_sessions WHERE id >= ?1 AND id < ?2")
                .and_then(|mut st| st.query_map(params![lo, hi], |r| r.get(0))?.collect())
                .map_err(|e| self.err(e))?
        };
        resolve_exec(input, ids.iter().map(String::as_str))
    }
}

/// Seconds since the epoch (exit-code retention).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
