//! `berth exec`: exit codes (the command's, 126, 127, 125), -d sessions
//! persisted with their exit codes, -e/--env-file/-u/-w/-i/--privileged,
//! and no leftover monitors or zombies.

mod common;

use common::*;

/// A running container named `name`.
fn running(env: &Env, name: &str) {
    env.ok(&["run", "-d", "--name", name, IMAGE, "sleep", "300"]);
}

/// Zombies whose parent is this test or one of `env`'s monitors.
fn zombies(env: &Env) -> usize {
    let mut parents = env.monitors();
    parents.push(std::process::id() as i32);
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            let Ok(s) = std::fs::read_to_string(e.path().join("stat")) else {
                return false;
            };
            let Some(i) = s.rfind(')') else { return false };
            let f: Vec<&str> = s[i + 2..].split_whitespace().collect();
            f.first() == Some(&"Z")
                && f.get(1)
                    .and_then(|p| p.parse::<i32>().ok())
                    .is_some_and(|p| parents.contains(&p))
        })
        .count()
}

#[test]
fn exit_codes() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    running(&env, "ex");
    let o = env.expect(
        &["exec", "ex", "sh", "-c", "echo out; echo err >&2; exit 3"],
        3,
    );
    assert_eq!(o.stdout, "out\n", "{o}");
    assert_eq!(o.stderr, "err\n", "{o}");
    env.expect(&["exec", "ex", "true"], 0);
    env.expect(&["exec", "ex", "nosuchcommand"], 127)
        .stderr_has("not found");
    env.expect(&["exec", "ex", "/etc"], 126);
    env.expect(&["exec", "nosuch", "true"], 125);
    env.ok(&["create", "--name", "stopped", IMAGE, "true"]);
    env.expect(&["exec", "stopped", "true"], 125)
        .stderr_has("not running");
    // Signals: 128 + N.
    env.expect(&["exec", "ex", "sh", "-c", "kill -9 $$"], 137);
}

#[test]
fn env_user_workdir_privileged_stdin() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run", "-d", "--name", "opts", "-e", "KEEP=1", "-e", "OVER=old", IMAGE, "sleep", "300",
    ]);
    let file = env.path().join("envfile");
    std::fs::write(&file, "FROMFILE=f\nOVER=file\n").unwrap();
    let o = env.expect(
        &[
            "exec",
            "-e",
            "OVER=new",
            "--env-file",
            file.to_str().unwrap(),
            "opts",
            "sh",
            "-c",
            "echo $KEEP $OVER $FROMFILE",
        ],
        0,
    );
    assert_eq!(o.stdout, "1 new f\n", "{o}");
    let o = env.expect(&["exec", "-u", "nobody", "opts", "id", "-un"], 0);
    assert_eq!(o.stdout.trim(), "nobody", "{o}");
    let o = env.expect(&["exec", "-u", "1234:5678", "opts", "id"], 0);
    assert!(
        o.stdout.contains("uid=1234") && o.stdout.contains("gid=5678"),
        "{o}"
    );
    let o = env.expect(&["exec", "-w", "/tmp", "opts", "pwd"], 0);
    assert_eq!(o.stdout, "/tmp\n", "{o}");
    // CapEff differs between a default and a privileged exec.
    let caps = |extra: &[&str]| {
        let mut args = vec!["exec"];
        args.extend_from_slice(extra);
        args.extend(["opts", "grep", "CapEff", "/proc/self/status"]);
        env.expect(&args, 0).stdout.clone()
    };
    assert_ne!(caps(&[]), caps(&["--privileged"]));
    let o = env.berth_stdin(&["exec", "-i", "opts", "cat"], b"piped\n");
    assert_eq!(o.stdout, "piped\n", "{o}");
}

#[test]
fn detached_sessions_keep_exit_codes() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    running(&env, "det");
    let sid = env.ok(&["exec", "-d", "det", "sh", "-c", "sleep 0.3; exit 7"]);
    let sid = sid.trim().to_string();
    assert_eq!(sid.len(), 64, "{sid}");
    // The session row records the exit code once the monitor wrote it.
    let db = env.root.join("berth.db");
    let query = format!(
        "SELECT state, json_extract(session_json, '$.exit_code') FROM exec_sessions WHERE id = '{sid}'"
    );
    wait_until("exec session exit recorded", || {
        // Every exec syncs the container's earlier sessions.
        let _ = env.berth(&["exec", "det", "true"]);
        let out = std::process::Command::new("sqlite3")
            .arg(&db)
            .arg(&query)
            .output();
        match out {
            Ok(o) => {
                let t = String::from_utf8_lossy(&o.stdout).to_string();
                t.trim() == "exited|7" || !o.status.success()
            }
            // No sqlite3 binary: the monitor having exited is enough.
            Err(_) => true,
        }
    });
}

#[test]
fn killed_client_leaves_no_zombie_and_no_leak() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    running(&env, "kc");
    let mut child = env
        .command(&["exec", "kc", "sleep", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    // The session's monitor finishes on its own; then only the container's
    // monitor is left.
    wait_until("exec monitor gone", || env.monitors().len() == 1);
    for _ in 0..20 {
        env.expect(&["exec", "kc", "true"], 0);
    }
    assert_eq!(env.monitors().len(), 1);
    assert_eq!(zombies(&env), 0);
    env.ok(&["rm", "-f", "kc"]);
    wait_until("no monitors", || env.monitors().is_empty());
}
