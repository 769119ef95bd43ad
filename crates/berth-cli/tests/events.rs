//! `events` and restart policies (issue 4 item 4, issue 5 item 3).

mod common;

use common::*;

#[test]
fn lifecycle_events_are_recorded_and_filtered() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.expect(&["run", "--name", "ev", IMAGE, "sh", "-c", "exit 3"], 3);
    env.ok(&["rm", "ev"]);
    let out = env.ok(&[
        "events",
        "--stream=false",
        "--format",
        "json",
        "--filter",
        "container=ev",
    ]);
    let statuses: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["Status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for want in ["start", "died", "remove"] {
        assert!(
            statuses.iter().any(|s| s == want),
            "{want} missing in {statuses:?}"
        );
    }
    let died = env.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "event=died",
        "--format",
        "{{.ContainerExitCode}}",
    ]);
    assert_eq!(died.trim(), "3");
    // Plain lines name the type, status and ID.
    let plain = env.ok(&["events", "--stream=false", "--filter", "event=remove"]);
    assert!(plain.contains("container remove"), "{plain}");
    assert!(plain.contains("name=ev"), "{plain}");
    env.expect(&["events", "--stream=false", "--filter", "bogus=1"], 125);
}

#[test]
fn events_stream_while_other_commands_run() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let mut follower = env
        .command(&[
            "events",
            "--format",
            "{{.Status}} {{.Name}}",
            "--filter",
            "container=live",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    env.ok(&["run", "--rm", "--name", "live", IMAGE, "true"]);
    let mut seen = String::new();
    let mut out = follower.stdout.take().unwrap();
    wait_until("the stream to show the removal", || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        // Non-blocking enough: the follower prints a line per event.
        if let Ok(n) = out.read(&mut buf) {
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        seen.contains("remove live")
    });
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(seen.contains("start live"), "{seen}");
}

#[test]
fn restart_always_restarts_until_stopped() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "loop",
        "--restart",
        "always",
        IMAGE,
        "sh",
        "-c",
        "sleep 0.2; exit 1",
    ]);
    wait_until("two restarts", || {
        env.inspect("loop")["RestartCount"].as_u64().unwrap_or(0) >= 2
    });
    assert_eq!(
        env.inspect("loop")["HostConfig"]["RestartPolicy"]["Name"],
        "always"
    );
    // stop wins over a pending restart.
    env.ok(&["stop", "-t", "1", "loop"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(env.status("loop"), "exited");
    env.ok(&["rm", "-f", "loop"]);
}

#[test]
fn restart_on_failure_counts_and_success_does_not_restart() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "fails",
        "--restart",
        "on-failure:2",
        IMAGE,
        "sh",
        "-c",
        "exit 5",
    ]);
    wait_until("two restarts then exited", || {
        let i = env.inspect("fails");
        i["RestartCount"] == 2 && i["State"]["Status"] == "exited"
    });
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert_eq!(env.inspect("fails")["RestartCount"], 2);
    assert_eq!(env.inspect("fails")["State"]["ExitCode"], 5);
    env.ok(&[
        "run",
        "-d",
        "--name",
        "fine",
        "--restart",
        "on-failure",
        IMAGE,
        "true",
    ]);
    env.wait_status("fine", "exited");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(env.inspect("fine")["RestartCount"], 0);
    // --rm and --restart conflict.
    env.expect(&["run", "--rm", "--restart", "always", IMAGE, "true"], 125)
        .stderr_has("conflicts");
}

#[test]
fn start_all_filters_by_restart_policy() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "create",
        "--name",
        "keep",
        "--restart",
        "always",
        IMAGE,
        "sleep",
        "1000",
    ]);
    env.ok(&["create", "--name", "other", IMAGE, "sleep", "1000"]);
    let started = env.ok(&["start", "--all", "--filter", "restart-policy=always"]);
    assert_eq!(started.lines().count(), 1, "{started}");
    assert_eq!(env.status("keep"), "running");
    assert_eq!(env.status("other"), "created");
    let ps = env.ok(&[
        "ps",
        "-a",
        "--filter",
        "restart-policy=always",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(ps.trim(), "keep");
    env.ok(&["rm", "-f", "keep", "other"]);
}
