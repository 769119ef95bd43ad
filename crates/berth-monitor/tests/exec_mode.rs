//! End-to-end tests of berth-mon's exec mode (`--exec --process FILE`: one
//! `runc exec` in the foreground) against a running busybox container
//! (root only).

mod common;

use common::*;

/// Start a long-running container under a create-mode monitor.
fn running_container() -> (Env, i32) {
    let env = Env::new(&["sleep", "30"], true);
    let (_, msg) = env.monitor(&[]);
    assert!(msg.pid > 0, "{msg:?}");
    env.start();
    (env, msg.monitor_pid)
}

/// The exec monitor's command line: `name`-prefixed files in the env dir.
fn exec_args(env: &Env, name: &str, args: &[&str]) -> Vec<String> {
    let process = serde_json::json!({
        "terminal": false,
        "user": {"uid": 0, "gid": 0},
        "args": args,
        "env": ["PATH=/bin"],
        "cwd": "/"
    });
    let p = |n: &str| {
        env.path(&format!("{name}-{n}"))
            .to_str()
            .unwrap()
            .to_string()
    };
    std::fs::write(p("process.json"), serde_json::to_vec(&process).unwrap()).unwrap();
    let mut v = vec!["--cid".to_string(), env.cid.clone()];
    for (flag, file) in [
        ("--pid-file", "pid"),
        ("--exit-file", "exit"),
        ("--log-path", "log"),
        ("--attach-socket", "attach"),
        ("--process", "process.json"),
    ] {
        v.push(flag.into());
        v.push(p(file));
    }
    v.extend(
        [
            "--runtime",
            RUNC,
            "--runtime-root",
            env.runc_root().to_str().unwrap(),
            "--sync-fd",
            "3",
            "--exec",
        ]
        .map(String::from),
    );
    v
}

fn exit_of(env: &Env, name: &str) -> i32 {
    let path = env.path(&format!("{name}-exit"));
    wait_for(|| path.exists(), "exec exit file");
    std::fs::read_to_string(&path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn exec_mode_reports_exit_code_and_output() {
    if !can_run() {
        return;
    }
    let (env, ctr_monitor) = running_container();
    let (out, text) = run_with_sync(&exec_args(&env, "e1", &["sh", "-c", "echo hi; exit 5"]));
    assert!(out.status.success(), "{out:?}");
    let msg = parse_sync(&text);
    assert!(msg.pid > 0 && msg.error.is_none(), "{msg:?}");
    assert_eq!(exit_of(&env, "e1"), 5);
    wait_gone(msg.monitor_pid);
    let log = std::fs::read_to_string(env.path("e1-log")).unwrap();
    assert!(log.ends_with("stdout F hi\n"), "{log:?}");
    // The container itself is untouched.
    assert!(!env.path("exit").exists());
    env.runc(&["kill", &env.cid, "KILL"]);
    assert_eq!(env.exit_code(), 137);
    wait_gone(ctr_monitor);
}

#[test]
fn exec_mode_missing_command_is_a_sync_error() {
    if !can_run() {
        return;
    }
    let (env, ctr_monitor) = running_container();
    let (_, text) = run_with_sync(&exec_args(&env, "e2", &["nosuchcmd"]));
    let msg = parse_sync(&text);
    let err = msg.error.unwrap_or_default();
    assert!(
        msg.pid == 0 && err.contains("executable file not found"),
        "{text:?}"
    );
    assert!(!env.path("e2-exit").exists());
    env.runc(&["kill", &env.cid, "KILL"]);
    assert_eq!(env.exit_code(), 137);
    wait_gone(ctr_monitor);
}
