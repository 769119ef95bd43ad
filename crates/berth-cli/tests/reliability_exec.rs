//! RELIABILITY.md scenarios 17 and 19 at full size: 200 `exec` and 200
//! `run --rm` leave no zombie, no berth-mon and no mount behind; the
//! container's monitor does not grow over 1000 execs (200 in the default
//! run, 1000 with `--ignored`), and a session's own monitor stays within
//! the private-memory budget.

mod common;

use common::*;

/// Commands run at once: the loops are bound by process start-up (runc is
/// a Go binary), not by CPU, so a few in flight keep the test short.
const PARALLEL: usize = 4;

/// Run `f(i)` for `i` in `0..total`, `PARALLEL` at a time.
fn in_parallel(total: usize, f: impl Fn(usize) + Sync) {
    std::thread::scope(|s| {
        for t in 0..PARALLEL {
            let f = &f;
            s.spawn(move || {
                for i in (t..total).step_by(PARALLEL) {
                    f(i);
                }
            });
        }
    });
}

/// Zombies this env is to blame for: children of this test, of one of its
/// monitors or of one of its other berth processes. (Orphans reparented to
/// pid 1 are init's to reap; counting those would count other tests'.)
fn our_zombies(env: &Env) -> Vec<Proc> {
    let needle = env.path().to_string_lossy().into_owned();
    let all = processes();
    let mut parents: Vec<i32> = all
        .iter()
        .filter(|p| p.cmdline.contains(&needle))
        .map(|p| p.pid)
        .collect();
    parents.push(std::process::id() as i32);
    all.into_iter()
        .filter(|p| p.state == 'Z' && parents.contains(&p.ppid))
        .collect()
}

/// One `Key:  N kB` line of `pid`'s smaps_rollup.
fn smaps_kb(pid: i32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_else(|e| panic!("reading smaps_rollup of {pid}: {e}"));
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// All private memory of `pid` (kB): what it costs the host.
fn private_kb(pid: i32) -> u64 {
    ["Private_Clean:", "Private_Dirty:", "Private_Hugetlb:"]
        .iter()
        .map(|k| smaps_kb(pid, k))
        .sum()
}

/// Private memory `pid` wrote itself (kB): heap, stack, data. This is what
/// a leak grows. `Private_Clean` (unmodified file pages) is left out: it
/// moves to `Shared_Clean` and back as other monitors of the same binary
/// come and go, whatever this one does.
fn private_dirty_kb(pid: i32) -> u64 {
    smaps_kb(pid, "Private_Dirty:") + smaps_kb(pid, "Private_Hugetlb:")
}

fn monitor_pid(env: &Env, name: &str) -> i32 {
    env.inspect(name)["State"]["ConmonPid"].as_i64().unwrap() as i32
}

#[test]
fn scenario_17_many_execs_and_run_rm_leak_nothing() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-d", "--name", "target", IMAGE, "sleep", "3000"]);
    let mon = monitor_pid(&env, "target");
    let mounts = env.mounts();
    let dirs = env.container_dirs();
    let before = private_dirty_kb(mon);
    in_parallel(200, |i| {
        let o = env.berth(&["exec", "target", "sh", "-c", &format!("exit {}", i % 3)]);
        assert_eq!(o.code, (i % 3) as i32, "exec {i}\n{o}");
    });
    let after = private_dirty_kb(mon);
    assert!(
        after < before + 40,
        "the container's monitor grew from {before} kB to {after} kB over 200 execs"
    );
    in_parallel(200, |i| {
        let o = env.berth(&["run", "--rm", IMAGE, "true"]);
        assert_eq!(o.code, 0, "run --rm {i}\n{o}");
    });
    wait_until(
        "the monitors of --rm containers and sessions to exit",
        || env.monitors().len() == 1,
    );
    wait_until("zombies to be reaped", || our_zombies(&env).is_empty());
    assert_eq!(env.mounts(), mounts, "mounts leaked");
    assert_eq!(env.container_dirs(), dirs, "container files leaked");
    assert_eq!(env.all_ids().len(), 1);
    let id = &env.all_ids()[0];
    let exec_dir = env.run.join("containers").join(id).join("exec");
    let left = std::fs::read_dir(&exec_dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "exec session files left in {}", exec_dir.display());
}

/// The full 1000 execs take about 3 minutes on a loaded 2-core machine
/// (runc's start-up dominates), so this runs with `--ignored`; scenario 17
/// checks the same bound over its 200 execs on every run.
#[test]
#[ignore = "slow: 1000 execs; run with --ignored"]
fn scenario_19_monitor_memory_stays_flat_over_1000_execs() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-d", "--name", "target", IMAGE, "sleep", "3000"]);
    let mon = monitor_pid(&env, "target");
    // Warm up (first-use pages), then measure.
    in_parallel(20, |_| {
        env.ok(&["exec", "target", "true"]);
    });
    let before = private_dirty_kb(mon);
    in_parallel(1000, |i| {
        let o = env.berth(&["exec", "target", "true"]);
        assert_eq!(o.code, 0, "exec {i}\n{o}");
    });
    let after = private_dirty_kb(mon);
    assert_eq!(monitor_pid(&env, "target"), mon, "the monitor was replaced");
    assert!(
        after < before + 40,
        "the container's monitor grew from {before} kB to {after} kB over 1000 execs"
    );
}

#[test]
fn scenario_19_an_exec_sessions_monitor_is_within_budget() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-d", "--name", "target", IMAGE, "sleep", "3000"]);
    let mon = monitor_pid(&env, "target");
    // Each session has a monitor of its own: under 2 MB private.
    env.ok(&["exec", "-d", "target", "sleep", "300"]);
    let monitors = env.monitors();
    let session_mon = *monitors
        .iter()
        .find(|&&p| p != mon)
        .expect("the session's monitor");
    for pid in [mon, session_mon] {
        let kb = private_kb(pid);
        assert!(kb < 2048, "monitor {pid} has {kb} kB private");
    }
}
