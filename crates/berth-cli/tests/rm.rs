//! `berth rm`: exit codes for unknown containers (RELIABILITY 31, Podman's
//! 055-rm.bats), running containers, -a, and that removal leaves nothing
//! behind: no files, no mounts, no monitor.

mod common;

use common::*;

/// Nothing of any container remains: dirs, mounts (other than none), monitors.
#[track_caller]
fn assert_clean(env: &Env) {
    assert_eq!(env.all_ids(), Vec::<String>::new(), "containers remain");
    assert_eq!(
        env.container_dirs(),
        Vec::<std::path::PathBuf>::new(),
        "container dirs remain"
    );
    assert_eq!(
        env.mounts(),
        Vec::<std::path::PathBuf>::new(),
        "mounts remain"
    );
    wait_until("monitors to exit", || env.monitors().is_empty());
}

#[test]
fn unknown_container_codes() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let o = env.expect(&["rm", "nosuch"], 1);
    assert_eq!(o.stdout, "", "{o}");
    o.stderr_has("nosuch").stderr_has("no such container");
    assert_eq!(o.err().lines().count(), 1, "{o}");

    let o = env.expect(&["rm", "-f", "nosuch"], 0);
    assert_eq!(o.stdout, "", "{o}");
    assert_eq!(o.stderr, "", "{o}");
    let o = env.expect(&["rm", "--ignore", "nosuch"], 0);
    assert_eq!(o.stderr, "", "{o}");

    let o = env.expect(&["start", "nosuch"], 125);
    o.stderr_has("nosuch");
    env.expect(&["stop", "nosuch"], 125);
    env.expect(&["stop", "-i", "nosuch"], 0);
    env.expect(&["kill", "nosuch"], 125);
    env.expect(&["pause", "nosuch"], 125);

    // A missing one among present ones: the present one is removed, exit 1.
    env.ok(&["create", "--name", "real", IMAGE, "true"]);
    let o = env.expect(&["rm", "real", "nosuch"], 1);
    assert_eq!(o.out(), "real", "{o}");
    env.expect(&["container", "exists", "real"], 1);
    env.expect(&["rm"], 125);
}

#[test]
fn rm_running_needs_force() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let id = env.ok(&["run", "-d", "--name", "busy", IMAGE, "sleep", "1000"]);
    let pid = env.inspect("busy")["State"]["Pid"].as_i64().unwrap() as i32;
    let o = env.expect(&["rm", "busy"], 125);
    o.stderr_has("busy").stderr_has("running");
    assert_eq!(env.status("busy"), "running");
    assert!(alive(pid));

    let o = env.expect(&["rm", "-f", "busy"], 0);
    assert_eq!(o.out(), "busy", "{o}");
    env.expect(&["container", "exists", &id], 1);
    wait_until("the container process to die", || !alive(pid));
    assert_clean(&env);
}

#[test]
fn rm_stopped_and_created() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let created = env.ok(&["create", IMAGE, "true"]);
    env.ok(&["run", "--name", "exited", IMAGE, "true"]);
    let o = env.expect(&["rm", &created[..12], "exited"], 0);
    assert_eq!(o.lines(), vec![&created[..12], "exited"], "{o}");
    assert_clean(&env);
}

#[test]
fn rm_all() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["create", "--name", "c", IMAGE, "true"]);
    env.ok(&["run", "--name", "e", IMAGE, "true"]);
    env.ok(&["run", "-d", "--name", "r", IMAGE, "sleep", "1000"]);
    env.ok(&["run", "-d", "--name", "p", IMAGE, "sleep", "1000"]);
    env.ok(&["pause", "p"]);
    assert!(!env.mounts().is_empty(), "running containers have mounts");
    // Without -f the running and paused ones stay.
    let o = env.expect(&["rm", "-a"], 125);
    let mut left: Vec<String> = env
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect();
    left.sort();
    assert_eq!(left, vec!["p", "r"], "{o}");
    let o = env.expect(&["rm", "-a", "-f"], 0);
    assert_eq!(o.lines().len(), 2, "{o}");
    assert_clean(&env);
    // Nothing to remove is fine.
    env.expect(&["rm", "-a"], 0);
}

#[test]
fn rm_removes_files_and_mounts() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let id = env.ok(&[
        "run",
        "-d",
        IMAGE,
        "sh",
        "-c",
        "echo data > /file; sleep 1000",
    ]);
    let merged = env.inspect(&id)["GraphDriver"]["Data"]["MergedDir"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!merged.is_empty());
    assert!(
        env.mounts()
            .iter()
            .any(|m| m.to_str() == Some(merged.as_str())),
        "rootfs not mounted"
    );
    assert!(env.root.join("containers").join(&id).exists());
    assert!(env.run.join("containers").join(&id).exists());
    let mon = env.inspect(&id)["State"]["ConmonPid"].as_i64().unwrap() as i32;
    assert!(alive(mon));
    env.expect(&["rm", "-f", "-t", "0", &id], 0);
    assert!(!env.root.join("containers").join(&id).exists());
    assert!(!env.run.join("containers").join(&id).exists());
    assert!(!std::path::Path::new(&merged).exists() || env.mounts().is_empty());
    wait_until("the monitor to exit", || !alive(mon));
    assert_clean(&env);
    // The image is still usable.
    env.expect(&["run", IMAGE, "true"], 0);
}
