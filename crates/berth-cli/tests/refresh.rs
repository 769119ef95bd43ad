//! Reboot refresh (RELIABILITY 7 and 8), black-box: a reboot is simulated by
//! killing the env's monitors and container processes, optionally wiping
//! the runroot, and faking a new boot ID with `BERTH_TEST_BOOT_ID` (read
//! only when set). In that test mode each refresh appends one line to
//! `RUNROOT/refresh.log`, which is how "exactly once" is counted.

mod common;

use common::*;
use std::path::PathBuf;

/// Run berth in `env` as if booted with `boot`.
fn booted(env: &Env, boot: &str, args: &[&str]) -> Out {
    let mut c = env.command(args);
    c.env("BERTH_TEST_BOOT_ID", boot);
    run_command(c, None)
}

#[track_caller]
fn ok(env: &Env, boot: &str, args: &[&str]) -> String {
    let o = booted(env, boot, args);
    o.success();
    o.out().to_string()
}

fn inspect(env: &Env, boot: &str, name: &str) -> Value {
    let o = booted(env, boot, &["inspect", name]);
    o.success();
    o.json()[0].clone()
}

/// Refreshes recorded for `boot`.
fn refreshes(env: &Env, boot: &str) -> usize {
    std::fs::read_to_string(env.run.join("refresh.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.ends_with(&format!(" {boot}")))
        .count()
}

/// Everything a reboot takes away: monitors and container processes.
fn kill_everything(env: &Env, boot: &str, names: &[&str]) {
    let mut pids = env.monitors();
    for n in names {
        let pid = inspect(env, boot, n)["State"]["Pid"].as_i64().unwrap_or(0) as i32;
        if pid > 0 {
            pids.push(pid);
        }
    }
    for &p in &pids {
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    wait_until("killed processes to vanish", || {
        pids.iter().all(|p| !alive(*p))
    });
}

/// Running, `--rm` running, exited(42) and created containers.
fn populate(env: &Env, boot: &str) {
    ok(
        env,
        boot,
        &["run", "-d", "--name", "up", IMAGE, "sleep", "1000"],
    );
    ok(
        env,
        boot,
        &[
            "run", "-d", "--rm", "--name", "gone", IMAGE, "sleep", "1000",
        ],
    );
    booted(
        env,
        boot,
        &["run", "--name", "done", IMAGE, "sh", "-c", "exit 42"],
    )
    .code(42);
    ok(env, boot, &["create", "--name", "fresh", IMAGE, "true"]);
}

#[track_caller]
fn assert_refreshed(env: &Env, boot: &str) {
    let up = inspect(env, boot, "up");
    assert_eq!(up["State"]["Status"], "exited", "{up}");
    assert_eq!(up["State"]["Pid"], 0, "{up}");
    assert_eq!(up["State"]["ExitCode"], -1, "{up}");
    assert!(
        up["State"]["Error"]
            .as_str()
            .unwrap_or("")
            .contains("reboot"),
        "{up}"
    );
    let done = inspect(env, boot, "done");
    assert_eq!(done["State"]["Status"], "exited");
    assert_eq!(done["State"]["ExitCode"], 42, "exit code kept: {done}");
    assert_eq!(inspect(env, boot, "fresh")["State"]["Status"], "created");
    booted(env, boot, &["inspect", "gone"]).code(125);
    let names = ok(env, boot, &["ps", "-a", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names, ["done", "fresh", "up"], "--rm leftover removed");
    // Nothing of the old boot is left under the runroot: no runtime state,
    // no exit files, no lock files, and no mounts anywhere.
    let stale: Vec<PathBuf> = env
        .container_dirs()
        .into_iter()
        .filter(|p| p.starts_with(&env.run))
        .collect();
    assert_eq!(stale, Vec::<PathBuf>::new(), "runroot leftovers");
    assert_eq!(env.mounts(), Vec::<PathBuf>::new(), "mounts remain");
}

/// `start`, `stop`, `rm` work afterwards and nothing leaks.
#[track_caller]
fn assert_usable(env: &Env, boot: &str) {
    ok(env, boot, &["start", "up"]);
    assert_eq!(inspect(env, boot, "up")["State"]["Status"], "running");
    ok(env, boot, &["stop", "-t", "0", "up"]);
    ok(env, boot, &["start", "fresh"]);
    ok(env, boot, &["rm", "-a", "-f", "-t", "0"]);
    assert_eq!(ok(env, boot, &["ps", "-a", "-q"]), "");
    assert_eq!(env.container_dirs(), Vec::<PathBuf>::new());
    assert_eq!(env.mounts(), Vec::<PathBuf>::new());
    wait_until("monitors to exit", || env.monitors().is_empty());
}

#[test]
fn wiped_runroot_and_new_boot_id_refresh_once() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    populate(&env, "boot-1");
    kill_everything(&env, "boot-1", &["up", "gone"]);
    std::fs::remove_dir_all(&env.run).unwrap();

    let o = booted(&env, "boot-2", &["ps", "-a"]);
    o.success();
    assert_eq!(refreshes(&env, "boot-2"), 1);
    assert_refreshed(&env, "boot-2");
    // The fast path: later commands of the same boot do not refresh.
    assert_eq!(refreshes(&env, "boot-2"), 1);
    assert_usable(&env, "boot-2");
    assert_eq!(refreshes(&env, "boot-2"), 1);
}

#[test]
fn surviving_runroot_with_new_boot_id_is_refreshed() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    populate(&env, "boot-1");
    kill_everything(&env, "boot-1", &["up", "gone"]);
    // Runroot kept: runc state, exit files and lock files of the old boot
    // are still there (Podman errors out here; berth recovers).
    assert!(env.run.join("runtime").exists());

    booted(&env, "boot-2", &["ps", "-a"]).success();
    assert_eq!(refreshes(&env, "boot-2"), 1);
    assert_refreshed(&env, "boot-2");
    assert_usable(&env, "boot-2");
}

#[test]
fn ten_racing_first_commands_refresh_exactly_once() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    populate(&env, "boot-1");
    kill_everything(&env, "boot-1", &["up", "gone"]);
    std::fs::remove_dir_all(&env.run).unwrap();

    let outs: Vec<Out> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let env = &env;
                s.spawn(move || {
                    let args: &[&str] = if i % 2 == 0 {
                        &["ps", "-a"]
                    } else {
                        &["inspect", "up"]
                    };
                    booted(env, "boot-2", args)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outs {
        o.success();
        // Every command saw the refreshed state, never the stale one.
        assert!(!o.stdout.contains("\"running\""), "{o}");
        assert!(!o.stdout.contains(" Up "), "{o}");
    }
    assert_eq!(refreshes(&env, "boot-2"), 1, "refresh ran more than once");
    assert_refreshed(&env, "boot-2");
    assert_usable(&env, "boot-2");
}

#[test]
fn live_containers_survive_a_false_reboot_signal() {
    // A runroot wiped under running containers (or a first start of a
    // berth with an alive file) is no reboot: a container whose processes
    // provably run is left alone and stays controllable.
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    ok(
        &env,
        "boot-1",
        &["run", "-d", "--name", "live", IMAGE, "sleep", "1000"],
    );
    let pid = inspect(&env, "boot-1", "live")["State"]["Pid"]
        .as_i64()
        .unwrap() as i32;
    booted(&env, "boot-2", &["ps", "-a"]).success();
    assert_eq!(refreshes(&env, "boot-2"), 1);
    let rec = inspect(&env, "boot-2", "live");
    assert_eq!(rec["State"]["Status"], "running", "{rec}");
    assert_eq!(rec["State"]["Pid"], pid);
    ok(&env, "boot-2", &["stop", "-t", "0", "live"]);
    assert!(!alive(pid));
    ok(&env, "boot-2", &["rm", "live"]);
    assert_eq!(env.container_dirs(), Vec::<PathBuf>::new());
    assert_eq!(env.mounts(), Vec::<PathBuf>::new());
}
