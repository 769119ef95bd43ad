//! End-to-end tests of berth-mon with runc and a busybox bundle (root only).

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

use berth_types::monitor::{ATTACH_STDERR, ATTACH_STDOUT};
use common::*;

/// Create, start, return the exit code.
fn run_to_exit(args: &[&str], pid_ns: bool) -> i32 {
    let env = Env::new(args, pid_ns);
    let (_, msg) = env.monitor(&[]);
    assert!(msg.pid > 0 && msg.error.is_none(), "{msg:?}");
    env.start();
    let code = env.exit_code();
    wait_gone(msg.monitor_pid);
    code
}

#[test]
fn exit_true_runs_exit_cmd_and_leaves_no_zombie() {
    if !can_run() {
        return;
    }
    let env = Env::new(&["true"], true);
    let marker = env.path("children");
    // The exit command lists the monitor's children: by then every zombie
    // must have been reaped, so only the exit command itself is there.
    let script = format!("cat /proc/$PPID/task/$PPID/children > {}", marker.display());
    let (out, msg) = env.monitor(&[
        "--exit-cmd",
        "/bin/sh",
        "--exit-cmd",
        "-c",
        "--exit-cmd",
        &script,
    ]);
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert!(
        msg.pid > 0 && msg.monitor_pid > 0 && msg.error.is_none(),
        "{msg:?}"
    );
    assert_ne!(msg.pid, msg.monitor_pid);
    assert_eq!(
        std::fs::metadata(env.path("attach"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    env.start();
    assert_eq!(env.exit_code(), 0);
    wait_for(|| marker.exists(), "exit command");
    wait_gone(msg.monitor_pid);
    let children = std::fs::read_to_string(&marker).unwrap();
    assert_eq!(
        children.split_whitespace().count(),
        1,
        "monitor children: {children:?}"
    );
    assert!(!std::path::Path::new(&format!("/proc/{}", msg.pid)).exists());
    assert!(!env.path("attach").exists(), "attach socket not removed");
    assert!(!env.path("exit.tmp").exists());
    let log = std::fs::metadata(env.path("ctr.log")).unwrap();
    assert_eq!(log.permissions().mode() & 0o777, 0o600);
}

#[test]
fn exit_false_is_1() {
    if can_run() {
        assert_eq!(run_to_exit(&["false"], true), 1);
    }
}

#[test]
fn exit_42() {
    if can_run() {
        assert_eq!(run_to_exit(&["sh", "-c", "exit 42"], true), 42);
    }
}

/// An init in its own pid namespace ignores signals it has no handler for,
/// even from itself, so this one runs without a pid namespace.
#[test]
fn killed_by_sigterm_is_143() {
    if can_run() {
        assert_eq!(run_to_exit(&["sh", "-c", "kill -TERM $$"], false), 143);
    }
}

#[test]
fn sigkill_from_runtime_is_137() {
    if !can_run() {
        return;
    }
    let env = Env::new(&["sleep", "100"], true);
    let (_, msg) = env.monitor(&[]);
    env.start();
    env.runc(&["kill", &env.cid, "KILL"]);
    assert_eq!(env.exit_code(), 137);
    wait_gone(msg.monitor_pid);
}

#[test]
fn log_and_attach_output() {
    if !can_run() {
        return;
    }
    let env = Env::new(
        &["sh", "-c", "echo hello; echo err >&2; printf partial"],
        true,
    );
    let (_, msg) = env.monitor(&[]);
    let client = UnixStream::connect(env.path("attach")).unwrap();
    env.start();
    let frames = read_frames(&client);
    assert_eq!(stream_data(&frames, ATTACH_STDOUT), "hello\npartial");
    assert_eq!(stream_data(&frames, ATTACH_STDERR), "err\n");
    assert_eq!(env.exit_code(), 0);
    wait_gone(msg.monitor_pid);

    let log = std::fs::read_to_string(env.path("ctr.log")).unwrap();
    let mut lines: Vec<(String, String)> = Vec::new();
    for line in log.lines() {
        let mut parts = line.splitn(2, ' ');
        let ts = parts.next().unwrap();
        let rest = parts.next().unwrap().to_string();
        // 2026-11-26T22:56:09.123456789+00:00
        assert_eq!(ts.len(), 35, "{line}");
        assert!(
            ts.ends_with("+00:00") && &ts[10..11] == "T" && &ts[19..20] == ".",
            "{line}"
        );
        assert!(ts[20..29].bytes().all(|b| b.is_ascii_digit()), "{line}");
        lines.push((ts.to_string(), rest));
    }
    let rest: Vec<&str> = lines.iter().map(|(_, r)| r.as_str()).collect();
    assert!(rest.contains(&"stdout F hello"), "{log}");
    assert!(rest.contains(&"stderr F err"), "{log}");
    assert!(rest.contains(&"stdout P partial"), "{log}");
}

#[test]
fn attach_stdin_reaches_cat_and_half_close_ends_it() {
    if !can_run() {
        return;
    }
    let env = Env::new(&["cat"], true);
    let (_, msg) = env.monitor(&["--stdin"]);
    let mut client = UnixStream::connect(env.path("attach")).unwrap_or_else(|e| {
        panic!(
            "{e}: {msg:?} {:?} exit={:?} log={:?}",
            std::fs::read_dir(env.dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect::<Vec<_>>(),
            std::fs::read_to_string(env.path("exit")),
            std::fs::read_to_string(env.path("ctr.log"))
        )
    });
    // A second, read-only client sees the same output.
    let watcher = UnixStream::connect(env.path("attach")).unwrap();
    env.start();
    client.write_all(b"ping\n").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let frames = read_frames(&client);
    assert_eq!(stream_data(&frames, ATTACH_STDOUT), "ping\n");
    assert_eq!(stream_data(&read_frames(&watcher), ATTACH_STDOUT), "ping\n");
    assert_eq!(env.exit_code(), 0);
    wait_gone(msg.monitor_pid);
}

#[test]
fn create_failure_reports_error() {
    if !can_run() {
        return;
    }
    let env = Env::new(&["/no/such/binary"], true);
    let (out, text) = run_with_sync(&env.monitor_args(&[]));
    assert!(out.status.success(), "{out:?}");
    let msg: berth_types::monitor::SyncMessage = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(msg.pid, 0, "{msg:?}");
    let err = msg.error.expect("error text");
    assert!(err.contains("no such file"), "{err}");
    wait_gone(msg.monitor_pid);
    assert!(!env.path("exit").exists());
    assert!(!env.path("attach").exists());
}

#[test]
fn bad_config_reports_error() {
    if !can_run() {
        return;
    }
    let env = Env::new(&["true"], true);
    std::fs::write(env.path("bundle/config.json"), b"{not json").unwrap();
    let (_, text) = run_with_sync(&env.monitor_args(&[]));
    let msg: berth_types::monitor::SyncMessage = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(msg.pid, 0);
    assert!(!msg.error.unwrap().is_empty());
}

#[test]
fn bad_args_exit_1_with_sync_error() {
    // No root needed: the monitor fails before it touches anything.
    let (out, text) = run_with_sync(&["--sync-fd".to_string(), "3".to_string(), "--cid".into()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cid needs a value"));
    let msg: berth_types::monitor::SyncMessage = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(msg.pid, 0);
    assert!(msg.error.unwrap().contains("--cid"));
}

#[test]
fn lots_of_output_is_fully_logged_and_relayed() {
    if !can_run() {
        return;
    }
    let script = "i=0; while [ $i -lt 3000 ]; do echo line$i; i=$((i+1)); done";
    let env = Env::new(&["sh", "-c", script], true);
    let (_, msg) = env.monitor(&[]);
    let client = UnixStream::connect(env.path("attach")).unwrap();
    env.start();
    let frames = read_frames(&client);
    let expected: String = (0..3000).map(|i| format!("line{i}\n")).collect();
    assert_eq!(stream_data(&frames, ATTACH_STDOUT), expected);
    assert_eq!(env.exit_code(), 0);
    wait_gone(msg.monitor_pid);
    // Rebuild the stream from the log: F lines end a line, P lines do not.
    let log = std::fs::read_to_string(env.path("ctr.log")).unwrap();
    let mut rebuilt = String::new();
    for line in log.lines() {
        let rest = &line[36..];
        let (tag, text) = (&rest[7..8], &rest[9..]);
        assert!(rest.starts_with("stdout "), "{line}");
        rebuilt.push_str(text);
        if tag == "F" {
            rebuilt.push('\n');
        }
    }
    assert_eq!(rebuilt, expected);
}

#[test]
fn inherited_fds_are_not_kept() {
    if !can_run() {
        return;
    }
    use std::io::Read;
    use std::os::unix::io::AsRawFd;
    use std::os::unix::process::CommandExt;
    let env = Env::new(&["sleep", "100"], true);
    // A pipe the caller forgot to mark CLOEXEC (fd 7), like the one a
    // `$(berth run -d ...)` command substitution hands down.
    let (sync_r, sync_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let (leak_r, leak_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let (sw, lw) = (sync_w.as_raw_fd(), leak_w.as_raw_fd());
    let mut cmd = std::process::Command::new(MON);
    cmd.args(env.monitor_args(&[]));
    unsafe {
        cmd.pre_exec(move || {
            // Move both out of the way first, then into place.
            let a = libc::fcntl(sw, libc::F_DUPFD, 20);
            let b = libc::fcntl(lw, libc::F_DUPFD, 20);
            if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    assert!(cmd.status().unwrap().success());
    drop((sync_w, leak_w));
    let mut text = String::new();
    std::fs::File::from(sync_r)
        .read_to_string(&mut text)
        .unwrap();
    let msg: berth_types::monitor::SyncMessage = serde_json::from_str(text.trim()).unwrap();
    assert!(msg.pid > 0, "{msg:?}");
    // EOF here means neither the monitor nor runc nor the container holds
    // the leaked write end.
    let mut rest = Vec::new();
    std::fs::File::from(leak_r).read_to_end(&mut rest).unwrap();
    env.runc(&["kill", &env.cid, "KILL"]);
    assert_eq!(env.exit_code(), 137);
    wait_gone(msg.monitor_pid);
}

#[test]
fn attach_socket_with_long_path() {
    // No root needed: only binds.
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("d".repeat(60)).join("e".repeat(60));
    std::fs::create_dir_all(&deep).unwrap();
    let path = deep.join("attach");
    assert!(path.as_os_str().len() > 108);
    let server = berth_monitor::attach::AttachServer::bind(&path).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    server.shutdown();
    assert!(!path.exists());
}

#[test]
fn oom_kill_is_recorded() {
    if !can_run() {
        return;
    }
    // Doubles a shell variable until the 16 MiB memory limit kills it.
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
    let (_, msg) = env.monitor(&[]);
    env.start();
    assert_eq!(env.exit_code(), 137);
    wait_gone(msg.monitor_pid);
    assert!(env.path("oom").exists(), "no oom marker");
}
