//! Reboot refresh: after the host rebooted, no container process, monitor,
//! mount or runtime record from before can exist, so records that say
//! otherwise are reset once, before any command acts on them.
//!
//! A reboot is detected by the kernel's boot ID against the one recorded in
//! `RUNROOT/alive`: the file is missing when the runroot (a tmpfs) was
//! wiped, and holds another boot ID when the runroot survived the reboot
//! (RELIABILITY scenario 8; Podman errors out there). The fast path is one
//! small read and a compare per command. Otherwise the [`ALIVE_LOCK`] is
//! taken, the check repeated (another command may have refreshed while we
//! waited), the refresh done, and the alive file written atomically before
//! the lock is released, so ten racing commands refresh exactly once.
//!
//! The refresh follows Podman's `resetContainerState`: Running, Stopping and
//! Paused containers become Exited with the exit code their monitor wrote
//! (if its file survived) or the code they had, else -1 with an error text;
//! Created ones become Configured (shown as "Created"; their runtime
//! record is gone); pid, monitor pid and mountpoint are cleared; `--rm`
//! containers are removed; the runroot's lock files, runtime state
//! directories, exit files and attach sockets are deleted. Nothing else
//! changes.
//!
//! One guard Podman lacks: a container whose monitor (its command line
//! names the container ID) or init (its cgroup names `berth/ID`) provably
//! still runs was not affected by a reboot — the runroot was wiped under
//! it, or berth was upgraded to a version with an alive file — and is left
//! alone with its files.
//!
//! Test hook: `BERTH_TEST_BOOT_ID`, when set and not empty, replaces the
//! kernel's boot ID, and each refresh then appends a line to
//! `RUNROOT/refresh.log` so tests can count refreshes.

use crate::Runtime;
use berth_lock::ALIVE_LOCK;
use berth_types::{ContainerRecord, ContainerState, Error, Result};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The alive file under the runroot, holding the boot ID it was written in.
pub(crate) const ALIVE_FILE: &str = "alive";
/// Environment variable that fakes the boot ID (tests only).
pub(crate) const TEST_BOOT_ID_ENV: &str = "BERTH_TEST_BOOT_ID";
/// In test mode, one line per refresh.
pub(crate) const REFRESH_LOG: &str = "refresh.log";
const BOOT_ID_FILE: &str = "/proc/sys/kernel/random/boot_id";

/// The current boot ID, and whether it is a test fake.
fn boot_id() -> Result<(String, bool)> {
    if let Some(fake) = std::env::var_os(TEST_BOOT_ID_ENV).filter(|v| !v.is_empty()) {
        return Ok((fake.to_string_lossy().trim().to_string(), true));
    }
    let id = std::fs::read_to_string(BOOT_ID_FILE)
        .map_err(|e| Error::io(format!("reading {BOOT_ID_FILE}"), e))?;
    Ok((id.trim().to_string(), false))
}

fn recorded(alive: &Path) -> Option<String> {
    std::fs::read_to_string(alive)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Refresh if the host rebooted since the runroot's alive file was written.
pub(crate) fn ensure_fresh(rt: &Runtime) -> Result<()> {
    let (boot, test_mode) = boot_id()?;
    let alive = rt.paths.runroot.join(ALIVE_FILE);
    if recorded(&alive).as_deref() == Some(boot.as_str()) {
        return Ok(());
    }
    let guard = rt.locks.lock_named(ALIVE_LOCK)?;
    let res = refresh_locked(rt, &alive, &boot, test_mode);
    // The lock file goes with the lock (a holder may unlink it; waiters
    // on the old inode retry on a new file), so a settled runroot holds no
    // lock file but those of containers.
    rt.locks.remove(guard)?;
    res
}

fn refresh_locked(rt: &Runtime, alive: &Path, boot: &str, test_mode: bool) -> Result<()> {
    if recorded(alive).as_deref() == Some(boot) {
        return Ok(());
    }
    refresh(rt).map_err(|e| e.context("refreshing container state after a reboot"))?;
    if test_mode {
        let line = format!("{} {boot}\n", std::process::id());
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(rt.paths.runroot.join(REFRESH_LOG))
            .and_then(|mut f| f.write_all(line.as_bytes()));
    }
    write_atomic(alive, &format!("{boot}\n"))
}

fn write_atomic(path: &Path, body: &str) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let res = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(body.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("writing {}", path.display()), e)
    })
}

fn refresh(rt: &Runtime) -> Result<()> {
    let mut kept = HashSet::new();
    let mut auto_remove = Vec::new();
    for rec in rt.store.list()? {
        let id = rec.id().to_string();
        if provably_running(&rec) {
            kept.insert(id);
            continue;
        }
        reset_one(rt, &id)?;
        if rec.config.auto_remove {
            auto_remove.push(id);
        }
    }
    remove_stale_files(rt, &kept);
    for id in auto_remove {
        // Exited or Configured now, so this never signals anything. A
        // failure leaves an ordinary exited container for the user's `rm`.
        let _ = crate::container::Container::new(rt, id).remove(true, None);
    }
    Ok(())
}

/// Reset one container's record (Podman's `resetContainerState`) and drop
/// what the runtime and storage may still hold for it.
fn reset_one(rt: &Runtime, id: &str) -> Result<()> {
    // Nobody can hold it (every command waits for the alive lock first),
    // but taking it keeps the rule "state changes under the lock".
    let guard = rt.locks.lock(id)?;
    let mut rec = rt.store.get(id)?;
    let before = rec.state.clone();
    let from_file = crate::container::sync::read_exit_file(rt, &rec);
    let st = &mut rec.state;
    match st.state {
        ContainerState::Running | ContainerState::Stopping | ContainerState::Paused => {
            st.state = ContainerState::Exited;
            match from_file {
                Some((code, when)) => {
                    st.exit_code = Some(code);
                    st.finished_at = Some(when);
                }
                None => {
                    if st.exit_code.is_none() {
                        st.exit_code = Some(-1);
                        st.error =
                            "the host rebooted while the container ran; exit code unknown".into();
                    }
                    st.finished_at.get_or_insert_with(jiff::Timestamp::now);
                }
            }
        }
        ContainerState::Created => st.state = ContainerState::Configured,
        _ => {}
    }
    let st = &mut rec.state;
    st.pid = 0;
    st.monitor_pid = 0;
    st.mountpoint = None;
    st.stop_requested = false;
    // The reboot took the namespace, interfaces and firewall rules.
    st.net = None;
    if rec.config.net.mode == berth_types::net::NetMode::Bridge {
        rt.store.ipam_release(id, None)?;
    }
    // Only a surviving runroot (scenario 8) or a simulated reboot has any
    // of this; after a real reboot both checks are one failed stat.
    if rt
        .paths
        .runtime_state()
        .join(&rec.config.runtime)
        .join(id)
        .exists()
    {
        let _ = berth_oci::OciRuntime::delete(&rt.oci_for(&rec.config.runtime), id, true);
    }
    if rt.paths.root.join("storage").exists() {
        if let Ok(images) = rt.images() {
            let _ = images.unmount(id);
        }
    }
    if rec.state != before {
        rt.store.save_state(id, &rec.state)?;
    }
    rt.locks.remove(guard)
}

/// True when the container's monitor or init provably still runs.
fn provably_running(rec: &ContainerRecord) -> bool {
    let id = rec.id();
    let st = &rec.state;
    let mon_cmdline = |pid: i32| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).contains(id))
            .unwrap_or(false)
    };
    let init_cgroup = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .map(|c| c.contains(&format!("berth/{id}")))
            .unwrap_or(false)
    };
    (st.monitor_pid > 0 && live(st.monitor_pid) && mon_cmdline(st.monitor_pid))
        || (st.pid > 0 && live(st.pid) && init_cgroup(st.pid))
}

/// True when `pid` exists and is not a zombie: a killed init whose parent
/// died keeps its cgroup until pid 1 reaps it, yet runs nothing.
fn live(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name, which may contain
    // spaces or parentheses itself.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].trim_start().chars().next());
    !matches!(state, None | Some('Z' | 'X'))
}

/// Entries of `dir` (empty when it does not exist).
fn entries(dir: &Path) -> Vec<(String, PathBuf)> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect()
        })
        .unwrap_or_default()
}

fn remove_any(p: &Path) {
    let _ = std::fs::remove_dir_all(p).or_else(|_| std::fs::remove_file(p));
}

/// Delete the runroot's leftovers of every container not in `kept`.
fn remove_stale_files(rt: &Runtime, kept: &HashSet<String>) {
    let paths = &rt.paths;
    let is_kept = |name: &str| kept.iter().any(|id| name.starts_with(id.as_str()));
    for (name, p) in entries(&paths.runroot.join("containers")) {
        if !is_kept(&name) {
            remove_any(&p);
        }
    }
    for (name, p) in entries(&paths.runroot.join("attach")) {
        // Attach sockets are named by the first 32 ID digits.
        if !kept.iter().any(|id| id.starts_with(name.as_str())) {
            remove_any(&p);
        }
    }
    for (_, runtime_dir) in entries(&paths.runtime_state()) {
        for (name, p) in entries(&runtime_dir) {
            if !is_kept(&name) {
                remove_any(&p);
            }
        }
    }
    for (name, _) in entries(&paths.locks()) {
        let Some(key) = name.strip_suffix(".lock") else {
            continue;
        };
        if is_kept(key) {
            continue;
        }
        // Only a holder may unlink a lock file (see FileLockManager); a
        // held one (the alive lock we hold) is skipped here.
        if let Ok(Some(guard)) = rt.locks.try_lock(key) {
            let _ = rt.locks.remove(guard);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("alive");
        write_atomic(&p, "a\n").unwrap();
        write_atomic(&p, "b\n").unwrap();
        assert_eq!(recorded(&p).as_deref(), Some("b"));
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
