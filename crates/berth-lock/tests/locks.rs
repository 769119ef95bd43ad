//! Behaviour shared by both lock managers, plus cross-process tests of the
//! flock manager.

use berth_lock::{FileLockManager, InMemoryLockManager, LockManager, ALIVE_LOCK};
use berth_types::ErrorKind;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Runs `f` against a fresh manager of each kind.
fn for_both(f: impl Fn(Arc<dyn LockManager>)) {
    let tmp = tempfile::tempdir().unwrap();
    f(Arc::new(FileLockManager::new(tmp.path()).unwrap()));
    f(Arc::new(InMemoryLockManager::new()));
}

#[test]
fn try_lock_fails_while_held_and_succeeds_after_drop() {
    for_both(|m| {
        let g = m.lock(ID).unwrap();
        assert_eq!(g.key(), ID);
        assert!(m.try_lock(ID).unwrap().is_none());
        drop(g);
        assert!(m.try_lock(ID).unwrap().is_some());
    });
}

#[test]
fn blocking_lock_waits_for_release() {
    for_both(|m| {
        let g = m.lock(ID).unwrap();
        let got = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (m, got) = (Arc::clone(&m), Arc::clone(&got));
            thread::spawn(move || {
                let _g = m.lock(ID).unwrap();
                got.store(true, Ordering::SeqCst);
            })
        };
        thread::sleep(Duration::from_millis(50));
        assert!(!got.load(Ordering::SeqCst), "waiter must block while held");
        drop(g);
        waiter.join().unwrap();
        assert!(got.load(Ordering::SeqCst));
    });
}

#[test]
fn lock_timeout_times_out_then_succeeds() {
    for_both(|m| {
        let g = m.lock(ID).unwrap();
        let start = Instant::now();
        let err = m.lock_timeout(ID, Duration::from_millis(80)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::LockTimeout);
        assert!(err.message.contains(ID), "{}", err.message);
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(80) && waited < Duration::from_secs(2));
        let releaser = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            drop(g);
        });
        drop(m.lock_timeout(ID, Duration::from_secs(5)).unwrap());
        releaser.join().unwrap();
    });
}

#[test]
fn remove_then_relock() {
    for_both(|m| {
        let g = m.lock(ID).unwrap();
        m.remove(g).unwrap();
        let g = m.try_lock(ID).unwrap().expect("free after remove");
        drop(g);
        drop(m.lock(ID).unwrap());
    });
}

#[test]
fn named_locks_are_separate_from_ids() {
    for_both(|m| {
        let _a = m.lock_named(ALIVE_LOCK).unwrap();
        assert!(m.try_lock_named(ALIVE_LOCK).unwrap().is_none());
        // An object whose ID equals the lock name is a different lock.
        assert!(m.try_lock(ALIVE_LOCK).unwrap().is_some());
        assert!(m.lock("../etc/passwd").is_err());
    });
}

#[test]
fn mixing_managers_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = FileLockManager::new(tmp.path()).unwrap();
    let mem = InMemoryLockManager::new();
    assert!(file.remove(mem.lock(ID).unwrap()).is_err());
    assert!(mem.remove(file.lock(ID).unwrap()).is_err());
    assert!(!mem.is_locked(ID));
}

#[test]
fn waiter_on_removed_file_retries_on_the_new_file() {
    // A waiter blocked on the old inode must not end up "holding" a lock on
    // an unlinked file while another caller locks the new file.
    let tmp = tempfile::tempdir().unwrap();
    let m = Arc::new(FileLockManager::new(tmp.path()).unwrap());
    let g = m.lock(ID).unwrap();
    let waiter = {
        let m = Arc::clone(&m);
        thread::spawn(move || m.lock(ID).unwrap())
    };
    thread::sleep(Duration::from_millis(50)); // let it open the old file
    m.remove(g).unwrap();
    let g2 = waiter.join().unwrap();
    // The waiter now holds the lock of the file the path names, so a
    // newcomer is refused instead of getting a second, independent lock.
    assert!(m.path_of(ID).exists());
    assert!(m.try_lock(ID).unwrap().is_none());
    drop(g2);
    assert!(m.try_lock(ID).unwrap().is_some());
}

/// Child half of the cross-process test: holds a lock until stdin closes or
/// it is killed. Does nothing unless spawned by the parent test.
#[test]
fn child_holds_lock() {
    let Ok(dir) = std::env::var("BERTH_LOCK_TEST_CHILD_DIR") else {
        return;
    };
    let m = FileLockManager::new(std::path::Path::new(&dir)).unwrap();
    let _g = m.lock(ID).unwrap();
    println!("LOCKED");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

#[test]
fn lock_is_cross_process_and_released_when_holder_dies() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_holds_lock",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BERTH_LOCK_TEST_CHILD_DIR", tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("LOCKED") {
        line.clear();
        assert_ne!(out.read_line(&mut line).unwrap(), 0, "child exited early");
    }
    let m = FileLockManager::new(tmp.path()).unwrap();
    assert!(m.try_lock(ID).unwrap().is_none(), "held by the child");
    // SIGKILL: no destructor runs; the kernel must release the flock.
    child.kill().unwrap();
    child.wait().unwrap();
    drop(m.lock_timeout(ID, Duration::from_secs(5)).unwrap());
}
