//! SqliteStore-only behaviour: persistence, permissions, corruption,
//! schema versions and multi-process style concurrency.

mod common;

use berth_state::{SqliteStore, StateStore, REPAIR_COMMAND};
use berth_types::{ContainerState, ErrorKind, RuntimeState};
use common::{id, record};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;

fn db_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("libpod/state.db")
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<SqliteStore>();
    check::<Box<dyn StateStore>>();
}

#[test]
fn persists_across_opens_with_private_modes_and_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    {
        let s = SqliteStore::open(&path).unwrap();
        s.add_container(&record("aa", "web", 0)).unwrap();
        let st = RuntimeState {
            state: ContainerState::Exited,
            exit_code: Some(3),
            ..RuntimeState::default()
        };
        s.save_state(&id("aa"), &st).unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.path(), path);
    assert_eq!(s.get(&id("aa")).unwrap().state.exit_code, Some(3));
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(mode(&path), 0o600);
    // WAL is persistent: a plain connection sees it without setting it.
    let raw = rusqlite::Connection::open(&path).unwrap();
    let jm: String = raw
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(jm, "wal");
    // The state word column follows save_state (for cheap ps filters).
    let word: String = raw
        .query_row("SELECT state FROM containers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(word, "exited");
}

/// The corruption error: one line, kind Database, naming file and fix.
fn assert_corrupt_error(err: berth_types::Error, path: &Path) {
    println!("{err}");
    assert_eq!(err.kind, ErrorKind::Database, "{err}");
    assert!(!err.message.contains('\n'));
    assert!(err.message.contains(&path.display().to_string()), "{err}");
    assert!(err.message.contains(REPAIR_COMMAND), "{err}");
    assert!(err.message.contains("corrupt"), "{err}");
}

#[test]
fn garbage_file_gives_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    for garbage in [&b"x"[..], &b"this is not a database\n".repeat(300)] {
        fs::write(&path, garbage).unwrap();
        let err = SqliteStore::open(&path).unwrap_err();
        assert_corrupt_error(err, &path);
    }
}

#[test]
fn truncated_database_gives_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    {
        let s = SqliteStore::open(&path).unwrap();
        for i in 0..300 {
            let r = record(&format!("{i:04x}"), &format!("c{i}"), i);
            s.add_container(&r).unwrap();
        }
    }
    // Make sure the WAL is in the main file, so truncating it loses data.
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    } // a plain connection's close removes the emptied WAL
    assert!(!dir.path().join("libpod/state.db-wal").exists());
    let len = fs::metadata(&path).unwrap().len();
    assert!(len > 64 * 1024, "{len}");
    let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let err = SqliteStore::open(&path).and_then(|s| s.list()).unwrap_err();
    assert_corrupt_error(err, &path);
    // Truncated inside the header: not a database at all.
    let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(50).unwrap();
    drop(f);
    assert_corrupt_error(SqliteStore::open(&path).unwrap_err(), &path);
}

#[test]
fn integrity_check_reports_undecodable_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let s = SqliteStore::open(&path).unwrap();
    s.add_container(&record("aa", "a", 0)).unwrap();
    s.add_container(&record("bb", "b", 1)).unwrap();
    assert!(s.integrity_check().unwrap().is_empty());
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "UPDATE containers SET config_json = '{' WHERE id = ?1",
        [id("bb")],
    )
    .unwrap();
    let problems = s.integrity_check().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains(&id("bb")));
    // Reading the bad row is a Database error, not a panic.
    let err = s.get(&id("bb")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Database);
    assert!(err.message.contains(REPAIR_COMMAND));
    assert_eq!(s.list().unwrap_err().kind, ErrorKind::Database);
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    drop(SqliteStore::open(&path).unwrap());
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute("UPDATE schema_version SET version = 1000", [])
        .unwrap();
    drop(raw);
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Database);
    assert!(err.message.contains("1000"), "{err}");
}

#[test]
fn unusable_path_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, "").unwrap();
    assert!(SqliteStore::open(&file.join("state.db")).is_err());
    assert!(SqliteStore::open(dir.path()).is_err());
}

/// RELIABILITY.md scenario 26 at store level: ten `berth create --name x`
/// racing, each with its own connection. Exactly one wins.
#[test]
fn concurrent_same_name_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    drop(SqliteStore::open(&path).unwrap());
    let barrier = Arc::new(Barrier::new(10));
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let (path, barrier) = (path.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                let s = SqliteStore::open(&path).unwrap();
                barrier.wait();
                s.add_container(&record(&format!("{i:x}a"), "x", i))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{results:?}");
    for err in results.into_iter().filter_map(Result::err) {
        assert_eq!(err.kind, ErrorKind::NameInUse, "{err}");
    }
    assert_eq!(SqliteStore::open(&path).unwrap().list().unwrap().len(), 1);
}

/// Many processes creating the database at the same moment (first commands
/// after install) must migrate it once and all succeed.
#[test]
fn concurrent_first_open_of_a_new_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (path, barrier) = (path.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                let s = SqliteStore::open(&path)?;
                s.add_container(&record(&format!("{i:x}b"), &format!("c{i}"), i))
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    assert_eq!(SqliteStore::open(&path).unwrap().list().unwrap().len(), 8);
}

/// Parallel writers and readers, each with its own connection, never see
/// "database is locked".
#[test]
fn parallel_writers_and_readers_never_fail() {
    const WRITERS: usize = 4;
    const PER_WRITER: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    drop(SqliteStore::open(&path).unwrap());
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let path = path.clone();
            thread::spawn(move || -> berth_types::Result<()> {
                let s = SqliteStore::open(&path)?;
                for i in 0..PER_WRITER {
                    let prefix = format!("{w:x}{i:03x}");
                    s.add_container(&record(&prefix, &format!("w{w}-{i}"), i as i64))?;
                    let st = RuntimeState {
                        state: ContainerState::Running,
                        pid: 100 + i as i32,
                        ..RuntimeState::default()
                    };
                    s.save_state(&id(&prefix), &st)?;
                    if i % 4 == 0 {
                        s.rename(&id(&prefix), &format!("r{w}-{i}"))?;
                    }
                    if i % 8 == 0 {
                        s.remove(&id(&prefix))?;
                    }
                }
                Ok(())
            })
        })
        .collect();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            thread::spawn(move || -> berth_types::Result<usize> {
                let mut reads = 0;
                for _ in 0..60 {
                    // A fresh open each round, like separate `berth ps` runs.
                    let s = SqliteStore::open(&path)?;
                    let all = s.list()?;
                    for r in all.iter().take(3) {
                        match s.lookup(r.name()) {
                            // Renamed or removed meanwhile is fine.
                            Ok(_) => {}
                            Err(e) if e.kind == ErrorKind::NoSuchContainer => {}
                            Err(e) => return Err(e),
                        }
                    }
                    s.latest()?;
                    reads += 1;
                }
                Ok(reads)
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap().unwrap();
    }
    for r in readers {
        assert_eq!(r.join().unwrap().unwrap(), 60);
    }
    let s = SqliteStore::open(&path).unwrap();
    let left = WRITERS * (PER_WRITER - PER_WRITER / 8);
    assert_eq!(s.list().unwrap().len(), left);
    assert!(s.integrity_check().unwrap().is_empty());
}

/// A small tmpfs mounted on a temporary directory, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    /// None when mounting is not allowed here (not root).
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

/// RELIABILITY 12: on a full disk, writes that add work (a container, a
/// rename) fail without touching the reserve; recording what the runtime
/// did (a pause, an exit) and removing still succeed, taking the reserve a
/// slice at a time.
#[test]
fn full_disk_keeps_the_reserve_for_exits_and_removals() {
    let Some(fs_) = Tmpfs::mount("2m") else {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    let path = fs_.0.path().join("state.db");
    let s = SqliteStore::open(&path).unwrap();
    for (p, name) in [("aa", "one"), ("bb", "two")] {
        s.add_container(&record(p, name, 0)).unwrap();
        let running = RuntimeState {
            state: ContainerState::Running,
            ..RuntimeState::default()
        };
        s.save_state(&id(p), &running).unwrap();
    }
    let reserve = berth_types::reserve::reserve_path(&path);
    let reserve_len = || fs::metadata(&reserve).unwrap().len();
    assert_eq!(reserve_len(), berth_types::reserve::RESERVE_BYTES);

    // Take every free block.
    {
        use std::io::Write;
        let mut f = fs::File::create(fs_.0.path().join("slack")).unwrap();
        while f.write_all(&[1u8; 4096]).is_ok() {}
    }
    let full = |e: berth_types::Error| {
        assert!(
            berth_types::reserve::is_disk_full(&e.message),
            "{}",
            e.message
        );
    };
    full(s.add_container(&record("cc", "three", 0)).unwrap_err());
    full(s.rename(&id("aa"), "renamed").unwrap_err());
    assert_eq!(
        reserve_len(),
        berth_types::reserve::RESERVE_BYTES,
        "only freeing writes use the reserve"
    );

    let paused = RuntimeState {
        state: ContainerState::Paused,
        ..RuntimeState::default()
    };
    s.save_state(&id("aa"), &paused).unwrap();
    let exited = RuntimeState {
        state: ContainerState::Exited,
        exit_code: Some(3),
        ..RuntimeState::default()
    };
    s.save_state(&id("aa"), &exited).unwrap();
    s.remove(&id("aa")).unwrap();
    s.remove(&id("bb")).unwrap();
    assert!(s.list().unwrap().is_empty());
    assert!(reserve_len() < berth_types::reserve::RESERVE_BYTES);
}
