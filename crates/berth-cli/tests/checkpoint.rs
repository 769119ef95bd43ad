//! `container checkpoint` / `container restore` with CRIU, end to end: a
//! shell loop's counter lives in the process's memory, so it continues
//! after a restore only if the memory survived (a restart would begin at 1
//! again). Skipped without CRIU 4.x (`scripts/install-criu.sh`).

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// Prints 1, 2, 3... ten times a second; the count is only in memory.
const COUNTER: &str = "i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done";

/// True (after saying why) when these tests cannot run here.
fn criu_skip() -> bool {
    if skip() {
        return true;
    }
    static USABLE: OnceLock<bool> = OnceLock::new();
    let usable = *USABLE.get_or_init(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::iter::once(Path::new("/usr/local/sbin/criu").to_path_buf())
            .chain(std::env::split_paths(&path).map(|d| d.join("criu")))
            .filter_map(|p| Command::new(p).arg("--version").output().ok())
            .any(|o| {
                let text = String::from_utf8_lossy(&o.stdout).to_string();
                text.lines().any(|l| {
                    l.strip_prefix("Version: ")
                        .and_then(|v| v.split('.').next())
                        .and_then(|m| m.parse::<u32>().ok())
                        .is_some_and(|m| m >= 4)
                })
            })
    });
    if !usable {
        eprintln!("skipping: checkpoint/restore needs CRIU 4.x (scripts/install-criu.sh)");
    }
    !usable
}

/// The numbers the container printed so far, in order.
fn numbers(env: &Env, name: &str) -> Vec<u64> {
    env.ok(&["logs", name])
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Wait until the container printed at least `n` numbers.
fn wait_numbers(env: &Env, name: &str, n: usize) -> Vec<u64> {
    let mut seen = Vec::new();
    wait_until(&format!("{name} to print {n} numbers"), || {
        seen = numbers(env, name);
        seen.len() >= n
    });
    seen
}

fn start_counter(env: &Env, name: &str) {
    env.ok(&["run", "-d", "--name", name, IMAGE, "sh", "-c", COUNTER]);
    wait_numbers(env, name, 3);
}

fn state(env: &Env, name: &str) -> Value {
    env.inspect(name)["State"].clone()
}

#[test]
fn counter_keeps_counting_after_checkpoint_and_restore() {
    if criu_skip() {
        return;
    }
    let env = Env::with_busybox();
    let name = unique("cr-count");
    start_counter(&env, &name);

    assert_eq!(env.ok(&["container", "checkpoint", &name]), name);
    let st = state(&env, &name);
    assert_eq!(st["Status"], "exited", "{st}");
    assert_eq!(st["Checkpointed"], true, "{st}");
    assert_eq!(st["ExitCode"], 0, "{st}");
    assert_ne!(st["CheckpointedAt"], "0001-01-01T00:00:00Z", "{st}");
    let images = st["CheckpointPath"].as_str().unwrap().to_string();
    assert!(Path::new(&images).join("inventory.img").is_file(), "{st}");
    let before = numbers(&env, &name);
    let last = *before.last().unwrap();

    assert_eq!(env.ok(&["container", "restore", &name]), name);
    let st = state(&env, &name);
    assert_eq!(st["Status"], "running", "{st}");
    assert_eq!(st["Restored"], true, "{st}");
    assert!(st.get("Checkpointed").is_none(), "{st}");
    let after = wait_numbers(&env, &name, before.len() + 3);
    let first = after[before.len()];
    assert!(
        first > last && first != 1,
        "counter restarted: {last} before the checkpoint, then {first}"
    );
    // Without --keep the images are gone once restored.
    assert!(!Path::new(&images).exists());
    // The restored network namespace has its loopback up.
    assert!(env
        .ok(&["exec", &name, "ip", "addr", "show", "lo"])
        .contains("127.0.0.1"));

    // The new monitor supervises it like any started container: an exit
    // is recorded (exit file, exit command) and it can be started again.
    env.ok(&["kill", &name]);
    env.wait_status(&name, "exited");
    assert_eq!(state(&env, &name)["ExitCode"], 137);
    env.ok(&["start", &name]);
    env.wait_status(&name, "running");
}

#[test]
fn leave_running_checkpoints_without_stopping() {
    if criu_skip() {
        return;
    }
    let env = Env::with_busybox();
    let name = unique("cr-leave");
    start_counter(&env, &name);
    let pid = state(&env, &name)["Pid"].clone();
    let at_checkpoint = *numbers(&env, &name).last().unwrap();

    env.ok(&[
        "container",
        "checkpoint",
        "--leave-running",
        "--keep",
        &name,
    ]);
    let st = state(&env, &name);
    assert_eq!(st["Status"], "running", "{st}");
    assert_eq!(st["Pid"], pid, "the same process keeps running");
    assert!(st.get("Checkpointed").is_none(), "{st}");
    let log = st["CheckpointLog"].as_str().unwrap().to_string();
    assert!(Path::new(&log).is_file(), "--keep keeps CRIU's log: {st}");
    let n = numbers(&env, &name).len();
    wait_numbers(&env, &name, n + 3);

    // The checkpoint taken while it ran can be restored after a stop.
    env.ok(&["kill", &name]);
    env.wait_status(&name, "exited");
    let n = numbers(&env, &name).len();
    env.ok(&["container", "restore", &name]);
    let after = wait_numbers(&env, &name, n + 3);
    assert!(
        after[n] > at_checkpoint,
        "restored counter {} is not past {at_checkpoint}",
        after[n]
    );
}

#[test]
fn a_checkpoint_wins_over_the_restart_policy() {
    if criu_skip() {
        return;
    }
    let env = Env::with_busybox();
    let name = unique("cr-always");
    env.ok(&[
        "run",
        "-d",
        "--restart",
        "always",
        "--name",
        &name,
        IMAGE,
        "sh",
        "-c",
        COUNTER,
    ]);
    wait_numbers(&env, &name, 3);
    env.ok(&["container", "checkpoint", &name]);
    // The monitor's exit command has run once the monitor is gone.
    wait_until("the monitor to finish", || env.monitors().is_empty());
    let st = state(&env, &name);
    assert_eq!(st["Status"], "exited", "{st}");
    assert_eq!(st["Checkpointed"], true, "{st}");
    env.ok(&["container", "restore", &name]);
    assert_eq!(env.status(&name), "running");
}

#[test]
fn export_rm_and_import_twice_under_new_names() {
    if criu_skip() {
        return;
    }
    let env = Env::with_busybox();
    let name = unique("cr-src");
    start_counter(&env, &name);
    env.ok(&["exec", &name, "sh", "-c", "echo kept > /marker"]);
    let archive = env.path().join("ctr.tar.gz");
    let archive = archive.to_str().unwrap();

    env.ok(&["container", "checkpoint", "--export", archive, &name]);
    let last = *numbers(&env, &name).last().unwrap();
    env.ok(&["rm", &name]);

    for copy in ["a", "b"] {
        let new = format!("{name}-{copy}");
        let id = env.ok(&["container", "restore", "--import", archive, "--name", &new]);
        assert!(
            is_full_id(&id),
            "restore --import prints the new ID: {id:?}"
        );
        assert_eq!(env.status(&new), "running");
        let first = wait_numbers(&env, &new, 2)[0];
        assert!(
            first > last && first != 1,
            "{new}: counter restarted: {last} at export, then {first}"
        );
        assert_eq!(env.ok(&["exec", &new, "cat", "/marker"]), "kept");
    }

    // --ignore-rootfs leaves the file changes behind.
    let bare = format!("{name}-bare");
    env.ok(&[
        "container",
        "restore",
        "--import",
        archive,
        "--name",
        &bare,
        "--ignore-rootfs",
    ]);
    env.expect(&["exec", &bare, "cat", "/marker"], 1);

    // The same name twice is refused, and leaves nothing behind.
    let count = env.all_ids().len();
    let o = env.expect(
        &[
            "container",
            "restore",
            "--import",
            archive,
            "--name",
            &format!("{name}-a"),
        ],
        125,
    );
    assert!(o.err().contains("already"), "{o}");
    assert_eq!(env.all_ids().len(), count);
}

#[test]
fn restore_needs_a_checkpoint_and_checkpoint_a_running_container() {
    if criu_skip() {
        return;
    }
    let env = Env::with_busybox();
    let name = unique("cr-none");
    env.ok(&["run", "--name", &name, IMAGE, "true"]);

    let o = env.expect(&["container", "restore", &name], 125);
    assert!(
        o.err().contains("checkpoint") && o.err().contains(&name),
        "{o}"
    );
    let o = env.expect(&["container", "checkpoint", &name], 125);
    assert!(o.err().contains("not running"), "{o}");

    let created = unique("cr-created");
    env.ok(&["create", "--name", &created, IMAGE, "true"]);
    env.expect(&["container", "checkpoint", &created], 125);
    env.expect(&["container", "restore", &created], 125);

    // A --rm container would be removed by its own exit: only with --export.
    let rm = unique("cr-rm");
    env.ok(&["run", "-d", "--rm", "--name", &rm, IMAGE, "sleep", "1000"]);
    let o = env.expect(&["container", "checkpoint", &rm], 125);
    assert!(
        o.err().contains("--rm") && o.err().contains("--export"),
        "{o}"
    );
    assert_eq!(env.status(&rm), "running");

    let o = env.expect(&["container", "restore", "--name", "x", &name], 125);
    assert!(o.err().contains("--import"), "{o}");
    let o = env.expect(&["container", "restore", &unique("cr-missing")], 125);
    assert!(o.err().contains("no such container"), "{o}");
}

#[test]
fn failed_checkpoint_leaves_it_running_and_quotes_criu() {
    if criu_skip() {
        return;
    }
    let env = Env::with_busybox();
    let name = unique("cr-tcp");
    // An established TCP connection over loopback inside the container:
    // CRIU refuses to dump it without --tcp-established.
    let script = "sleep 1000 | nc -l -p 5000 & \
                  while ! sleep 1000 | nc 127.0.0.1 5000; do sleep 0.1; done & \
                  while true; do sleep 1; done";
    env.ok(&["run", "-d", "--name", &name, IMAGE, "sh", "-c", script]);
    wait_until("an established TCP connection", || {
        !established(&env, &name).is_empty()
    });
    let pid = state(&env, &name)["Pid"].clone();

    let o = env.expect(&["container", "checkpoint", &name], 125);
    let err = o.err();
    assert!(err.contains("tcp-established"), "CRIU's reason: {o}");
    let log = err
        .split("(log: ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no log path in {o}"));
    assert!(log.ends_with("dump.log") && Path::new(log).is_file(), "{o}");

    let st = state(&env, &name);
    assert_eq!(st["Status"], "running", "{st}");
    assert_eq!(st["Pid"], pid, "{st}");
    assert!(st.get("Checkpointed").is_none(), "{st}");
    env.ok(&["exec", &name, "true"]);

    // With --tcp-established both ends of the connection survive the round
    // trip (the restore needs the flag too, and remembers it).
    let before = established(&env, &name);
    env.ok(&["container", "checkpoint", "--tcp-established", &name]);
    env.ok(&["container", "restore", &name]);
    assert_eq!(established(&env, &name), before);
}

/// The container's established TCP connections (local, remote), sorted.
fn established(env: &Env, name: &str) -> Vec<(String, String)> {
    let text = env.ok(&["exec", name, "cat", "/proc/net/tcp", "/proc/net/tcp6"]);
    let mut out: Vec<(String, String)> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 3 && f[3] == "01")
        .map(|f| (f[1].to_string(), f[2].to_string()))
        .collect();
    out.sort();
    out
}

/// A plain tar holding one file named `name` (written by hand: tar
/// libraries refuse to write `..`).
fn tar_with(name: &str) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(b"00000000002");
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = h.to_vec();
    let mut data = [0u8; 512];
    data[..2].copy_from_slice(b"x\n");
    out.extend_from_slice(&data);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[test]
fn import_refuses_entries_escaping_its_directory() {
    if criu_skip() {
        return;
    }
    let env = Env::with_busybox();
    let archive = env.path().join("evil.tar");
    // Two levels up from the extraction directory, and more.
    std::fs::write(&archive, tar_with("../../escaped")).unwrap();
    let o = env.expect(
        &[
            "container",
            "restore",
            "--import",
            archive.to_str().unwrap(),
            "--name",
            &unique("cr-evil"),
        ],
        125,
    );
    assert!(o.err().contains("evil.tar"), "{o}");
    assert!(!contains_named(env.path(), "escaped"));
    assert!(env.all_ids().is_empty());
}

/// True when a file called `name` exists anywhere below `dir`.
fn contains_named(dir: &Path, name: &str) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            e.file_name() == name
                || e.file_type().is_ok_and(|t| t.is_dir()) && contains_named(&e.path(), name)
        })
}
