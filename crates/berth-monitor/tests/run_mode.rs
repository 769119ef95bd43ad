//! End-to-end tests of berth-mon's run mode (`--run`: one `runc run` in the
//! foreground) and of `--attach-wait`, with runc and a busybox bundle (root
//! only).

mod common;

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use berth_types::monitor::{ATTACH_STDERR, ATTACH_STDOUT};
use common::*;

/// Run `args` in run mode; returns the env (for its files) and the exit
/// code, after checking that runc deleted its state and the monitor is gone.
fn run_mode(args: &[&str], pid_ns: bool, extra: &[&str]) -> (Env, i32) {
    let env = Env::new(args, pid_ns);
    let mut flags = vec!["--run"];
    flags.extend_from_slice(extra);
    let (out, msg) = env.monitor(&flags);
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert!(
        msg.pid > 0 && msg.monitor_pid > 0 && msg.error.is_none(),
        "{msg:?}"
    );
    assert_ne!(msg.pid, msg.monitor_pid);
    let code = env.exit_code();
    wait_gone(msg.monitor_pid);
    assert!(!env.runc_state().exists(), "runc did not delete its state");
    assert!(!env.path("attach").exists(), "attach socket not removed");
    assert!(!env.path("exit.tmp").exists());
    (env, code)
}

#[test]
fn run_mode_exit_0_logs_output_and_runs_exit_cmd() {
    if !can_run() {
        return;
    }
    let marker = tempfile::tempdir().unwrap();
    let children = marker.path().join("children");
    // The exit command lists the monitor's children: runc and every zombie
    // must have been reaped by then, so only the exit command is there.
    let script = format!(
        "cat /proc/$PPID/task/$PPID/children > {}",
        children.display()
    );
    let (env, code) = run_mode(
        &["sh", "-c", "echo hello; echo err >&2; printf partial"],
        true,
        &[
            "--exit-cmd",
            "/bin/sh",
            "--exit-cmd",
            "-c",
            "--exit-cmd",
            &script,
        ],
    );
    assert_eq!(code, 0);
    let lines = env.log_lines();
    for want in ["stdout F hello", "stderr F err", "stdout P partial"] {
        assert!(lines.iter().any(|l| l == want), "{want:?} not in {lines:?}");
    }
    wait_for(|| children.exists(), "exit command");
    let children = std::fs::read_to_string(&children).unwrap();
    assert_eq!(
        children.split_whitespace().count(),
        1,
        "monitor children: {children:?}"
    );
}

#[test]
fn run_mode_exit_1() {
    if can_run() {
        assert_eq!(run_mode(&["false"], true, &[]).1, 1);
    }
}

#[test]
fn run_mode_exit_42() {
    if can_run() {
        assert_eq!(run_mode(&["sh", "-c", "exit 42"], true, &[]).1, 42);
    }
}

#[test]
fn run_mode_sigkill_is_137() {
    if !can_run() {
        return;
    }
    let env = Env::new(&["sh", "-c", "echo up; exec sleep 100"], true);
    let (_, msg) = env.monitor(&["--run"]);
    assert!(msg.pid > 0, "{msg:?}");
    // The sync message came from the pid file: the init runs.
    assert!(std::path::Path::new(&format!("/proc/{}", msg.pid)).exists());
    env.runc(&["kill", &env.cid, "KILL"]);
    assert_eq!(env.exit_code(), 137);
    wait_gone(msg.monitor_pid);
    assert!(!env.runc_state().exists(), "runc did not delete its state");
    assert!(env.log_lines().iter().any(|l| l == "stdout F up"));
}

#[test]
fn run_mode_missing_binary_reports_error_without_exit_file() {
    if !can_run() {
        return;
    }
    let env = Env::new(&["/no/such/binary"], true);
    let marker = env.path("exit-cmd-ran");
    let touch = format!("touch {}", marker.display());
    let (out, text) = run_with_sync(&env.monitor_args(&[
        "--run",
        "--exit-cmd",
        "/bin/sh",
        "--exit-cmd",
        "-c",
        "--exit-cmd",
        &touch,
    ]));
    assert!(out.status.success(), "{out:?}");
    let msg = parse_sync(&text);
    assert_eq!(msg.pid, 0, "{msg:?}");
    let err = msg.error.expect("error text");
    assert!(err.contains("no such file"), "{err}");
    wait_gone(msg.monitor_pid);
    assert!(!env.path("exit").exists(), "exit file after a failed start");
    assert!(!env.path("attach").exists());
    assert!(!marker.exists(), "exit command after a failed start");
}

#[test]
fn run_mode_oom_kill_is_recorded() {
    if !can_run() {
        return;
    }
    let env = Env::new(
        &[
            "sh",
            "-c",
            "a=aaaaaaaaaaaaaaaa; while true; do a=$a$a; done",
        ],
        true,
    );
    env.edit_config(|c| {
        c["linux"]["resources"] = serde_json::json!({"memory": {"limit": 16 * 1024 * 1024}});
    });
    let (_, msg) = env.monitor(&["--run"]);
    assert_eq!(env.exit_code(), 137);
    wait_gone(msg.monitor_pid);
    assert!(env.path("oom").exists(), "no oom marker");
}

/// Start berth-mon with `--attach-wait` (plus `extra`) like the engine
/// does, connect right after its first process exited, then read the sync
/// message; in create mode start the container. The client must get all
/// the output.
fn attach_wait_gets_everything(extra: &[&str]) {
    let env = Env::new(&["sh", "-c", "echo hello; echo err >&2"], true);
    let mut flags = vec!["--attach-wait"];
    flags.extend_from_slice(extra);
    let (out, sync) = spawn_with_sync(&env.monitor_args(&flags));
    assert!(out.status.success(), "{out:?}");
    // The socket was bound before detaching; the runtime waits for us.
    assert!(env.path("attach").exists(), "no attach socket yet");
    assert!(
        !env.path("pid").exists(),
        "runtime started before the client"
    );
    let client = UnixStream::connect(env.path("attach")).unwrap();
    let t0 = Instant::now();
    let msg = parse_sync(&read_sync(sync));
    assert!(msg.pid > 0 && msg.error.is_none(), "{msg:?}");
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "the runtime waited for the timeout, not for the client"
    );
    if !extra.contains(&"--run") {
        env.start();
    }
    let frames = read_frames(&client);
    assert_eq!(stream_data(&frames, ATTACH_STDOUT), "hello\n");
    assert_eq!(stream_data(&frames, ATTACH_STDERR), "err\n");
    assert_eq!(env.exit_code(), 0);
    wait_gone(msg.monitor_pid);
}

#[test]
fn attach_wait_create_mode() {
    if can_run() {
        attach_wait_gets_everything(&[]);
    }
}

#[test]
fn attach_wait_run_mode() {
    if can_run() {
        attach_wait_gets_everything(&["--run"]);
    }
}

#[test]
fn attach_wait_starts_anyway_after_5s() {
    if !can_run() {
        return;
    }
    let env = Env::new(&["echo", "alone"], true);
    let t0 = Instant::now();
    let (_, msg) = env.monitor(&["--run", "--attach-wait"]);
    assert!(msg.pid > 0, "{msg:?}");
    let waited = t0.elapsed();
    assert!(
        (Duration::from_millis(4900)..Duration::from_secs(15)).contains(&waited),
        "{waited:?}"
    );
    assert_eq!(env.exit_code(), 0);
    wait_gone(msg.monitor_pid);
    assert!(env.log_lines().iter().any(|l| l == "stdout F alone"));
}
