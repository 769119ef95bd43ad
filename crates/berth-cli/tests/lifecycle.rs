//! Container lifecycle verbs: create, init, start, stop, kill, restart,
//! wait, pause/unpause, start -a, rename, container exists, --latest
//! (Podman's 050-stop, 055-rm, 080-pause, 130-kill style).

mod common;

use common::*;

/// A shell that announces it is ready, then idles; `trap` is installed first.
fn trapping(trap: &str) -> String {
    format!("{trap}; echo ready; while :; do sleep 0.1; done")
}

/// Wait until the container's log says it is ready.
fn wait_ready(env: &Env, name: &str) {
    wait_until(&format!("{name} to print ready"), || {
        env.berth(&["logs", name]).stdout.contains("ready")
    });
}

#[test]
fn create_init_start_stop() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let id = env.ok(&["create", "--name", "c1", IMAGE, "sleep", "1000"]);
    assert!(is_full_id(&id), "{id}");

    // Created: only in ps -a.
    let ps = env.ok(&["ps", "--format", "{{.Names}}"]);
    assert_eq!(ps, "", "a created container is not running");
    let o = env.expect(&["ps", "-a"], 0);
    let row = o
        .lines()
        .into_iter()
        .find(|l| l.contains("c1"))
        .unwrap_or_else(|| panic!("c1 missing\n{o}"))
        .to_string();
    assert!(row.contains("Created"), "{row}");
    assert_eq!(env.status("c1"), "created");
    let st = &env.inspect("c1")["State"];
    assert_eq!(st["Running"], false, "{st}");
    assert_eq!(st["Pid"], 0, "{st}");

    // init: the runtime container exists, the process has not started.
    env.expect(&["init", "c1"], 0).stdout_has("c1");
    let st = env.inspect("c1")["State"].clone();
    assert_eq!(st["Status"], "created", "{st}");
    assert_eq!(st["Running"], false, "{st}");
    let pid = st["Pid"].as_i64().unwrap();
    assert!(pid > 0, "init should create the runtime process\n{st}");
    assert!(alive(pid as i32));

    env.expect(&["start", "c1"], 0).stdout_has("c1");
    let st = env.inspect("c1")["State"].clone();
    assert_eq!(st["Status"], "running", "{st}");
    assert_eq!(st["Running"], true, "{st}");
    assert_eq!(st["Pid"], pid, "start runs the process init created\n{st}");
    assert_eq!(
        env.ok(&["ps", "--format", "{{.Names}} {{.State}}"]),
        "c1 running"
    );

    // sleep as PID 1 has no TERM handler: stop escalates to KILL.
    env.expect(&["stop", "-t", "1", "c1"], 0).stdout_has("c1");
    let st = env.inspect("c1")["State"].clone();
    assert_eq!(st["Status"], "exited", "{st}");
    assert_eq!(st["ExitCode"], 137, "{st}");
    assert_eq!(st["Running"], false, "{st}");
    assert!(!alive(pid as i32), "container process survived stop");
    assert_eq!(env.ok(&["wait", "c1"]), "137");
    // Stopping a stopped container is fine (Podman).
    env.expect(&["stop", "c1"], 0);
}

#[test]
fn stop_with_term_trap_exits_143() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "trapper",
        IMAGE,
        "sh",
        "-c",
        &trapping("trap 'exit 143' TERM"),
    ]);
    wait_ready(&env, "trapper");
    env.expect(&["stop", "-t", "60", "trapper"], 0);
    let st = env.inspect("trapper")["State"].clone();
    assert_eq!(st["Status"], "exited", "{st}");
    assert_eq!(st["ExitCode"], 143, "{st}");
    assert_eq!(env.ok(&["wait", "trapper"]), "143");
}

#[test]
fn stop_signal_option() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "usr1",
        "--stop-signal",
        "USR1",
        IMAGE,
        "sh",
        "-c",
        &trapping("trap 'exit 10' USR1"),
    ]);
    wait_ready(&env, "usr1");
    env.expect(&["stop", "-t", "60", "usr1"], 0);
    assert_eq!(env.inspect("usr1")["State"]["ExitCode"], 10);
}

#[test]
fn kill_with_signals() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "k",
        IMAGE,
        "sh",
        "-c",
        &trapping("trap 'echo got-usr1' USR1; trap 'echo got-hup' HUP"),
    ]);
    wait_ready(&env, "k");
    env.expect(&["kill", "-s", "USR1", "k"], 0).stdout_has("k");
    env.expect(&["kill", "--signal", "SIGHUP", "k"], 0);
    wait_until("the traps to run", || {
        let logs = env.berth(&["logs", "k"]).stdout;
        logs.contains("got-usr1") && logs.contains("got-hup")
    });
    assert_eq!(env.status("k"), "running");
    // Numeric signals work; the default signal is KILL.
    env.expect(&["kill", "-s", "10", "k"], 0);
    env.expect(&["kill", "k"], 0);
    assert_eq!(env.ok(&["wait", "k"]), "137");
    assert_eq!(env.status("k"), "exited");
    // Killing a stopped container is a state error.
    let o = env.expect(&["kill", "k"], 125);
    o.stderr_has("k");
    env.expect(&["kill", "-s", "NOSUCHSIG", "k"], 125);
}

#[test]
fn restart_running_and_exited() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-d", "--name", "r", IMAGE, "sleep", "1000"]);
    let pid1 = env.inspect("r")["State"]["Pid"].as_i64().unwrap();
    env.expect(&["restart", "-t", "0", "r"], 0).stdout_has("r");
    let st = env.inspect("r")["State"].clone();
    assert_eq!(st["Status"], "running", "{st}");
    let pid2 = st["Pid"].as_i64().unwrap();
    assert!(pid2 > 0 && pid2 != pid1, "restart kept pid {pid1}\n{st}");
    assert!(!alive(pid1 as i32));

    env.expect(
        &[
            "run",
            "--name",
            "once",
            IMAGE,
            "sh",
            "-c",
            "echo run; exit 3",
        ],
        3,
    );
    assert_eq!(env.status("once"), "exited");
    env.expect(&["restart", "once"], 0);
    assert_eq!(env.ok(&["wait", "once"]), "3");
    let logs = env.expect(&["logs", "once"], 0);
    assert_eq!(logs.lines(), vec!["run", "run"], "{logs}");
}

/// `wait` on a container never started blocks until it has run (Podman's
/// behaviour), then prints that run's exit code.
#[test]
fn wait_on_a_created_container_waits_for_its_run() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["create", "--name", "c", IMAGE, "sh", "-c", "exit 4"]);
    let mut waiter = env
        .command(&["wait", "c"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Still waiting once a few other commands have come and gone.
    for _ in 0..3 {
        env.ok(&["ps", "-a"]);
    }
    assert!(waiter.try_wait().unwrap().is_none(), "wait returned early");
    env.ok(&["start", "c"]);
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "4");
    env.ok(&["rm", "c"]);
}

#[test]
fn wait_prints_exit_codes() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "w",
        IMAGE,
        "sh",
        "-c",
        "sleep 0.5; exit 3",
    ]);
    assert_eq!(env.ok(&["wait", "w"]), "3");
    // Again, after the fact.
    assert_eq!(env.ok(&["wait", "w"]), "3");
    env.expect(&["run", "--name", "w2", IMAGE, "false"], 1);
    let o = env.expect(&["wait", "w", "w2"], 0);
    assert_eq!(o.lines(), vec!["3", "1"], "{o}");
    env.expect(&["wait", "nosuch"], 125);
}

#[test]
fn pause_and_unpause() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-d", "--name", "p", IMAGE, "sleep", "1000"]);
    let pid = env.inspect("p")["State"]["Pid"].as_i64().unwrap() as i32;
    env.expect(&["pause", "p"], 0).stdout_has("p");
    let st = env.inspect("p")["State"].clone();
    assert_eq!(st["Status"], "paused", "{st}");
    assert_eq!(st["Paused"], true, "{st}");
    let ps = env.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert_eq!(ps, "p Paused");
    env.expect(&["unpause", "p"], 0).stdout_has("p");
    let st = env.inspect("p")["State"].clone();
    assert_eq!(st["Status"], "running", "{st}");
    assert_eq!(st["Paused"], false, "{st}");
    assert_eq!(st["Pid"], pid);
    // Stop works on a paused container too.
    env.ok(&["pause", "p"]);
    env.expect(&["stop", "-t", "0", "p"], 0);
    assert_eq!(env.status("p"), "exited");
}

#[test]
fn start_attach_returns_code_and_output() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "create",
        "--name",
        "sa",
        IMAGE,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 5",
    ]);
    let o = env.expect(&["start", "-a", "sa"], 5);
    assert_eq!(o.stdout, "out\n", "{o}");
    assert!(o.stderr.contains("err"), "{o}");
    assert_eq!(env.status("sa"), "exited");
    assert_eq!(env.inspect("sa")["State"]["ExitCode"], 5);
    // Again: an exited container can be started and attached.
    let o = env.expect(&["start", "--attach", "sa"], 5);
    assert_eq!(o.stdout, "out\n", "{o}");

    env.ok(&["create", "--name", "cat", "-i", IMAGE, "cat"]);
    let o = env.berth_stdin(&["start", "-a", "-i", "cat"], b"piped\n");
    o.success();
    assert_eq!(o.stdout, "piped\n", "{o}");
}

#[test]
fn rename() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let id = env.ok(&["create", "--name", "old", IMAGE, "true"]);
    env.expect(&["rename", "old", "new"], 0);
    env.expect(&["container", "exists", "old"], 1);
    env.expect(&["container", "exists", "new"], 0);
    let doc = env.inspect("new");
    assert_eq!(doc["Name"], "new");
    assert_eq!(doc["Id"], id.as_str());
    // Renamed containers still run.
    env.expect(&["start", "-a", "new"], 0);
    // The old name is free again; a taken name is refused.
    env.ok(&["create", "--name", "old", IMAGE, "true"]);
    env.expect(&["rename", "new", "old"], 125)
        .stderr_has("already in use");
    env.expect(&["rename", "new", "bad/name"], 125);
    env.expect(&["rename", "nosuch", "x"], 125);
    assert_eq!(env.inspect(&id)["Name"], "new");
}

#[test]
fn container_exists() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let id = env.ok(&["create", "--name", "here", IMAGE, "true"]);
    env.expect(&["container", "exists", "here"], 0);
    env.expect(&["container", "exists", &id], 0);
    env.expect(&["container", "exists", &id[..12]], 0);
    let o = env.expect(&["container", "exists", "nothere"], 1);
    assert_eq!(o.stdout, "", "{o}");
    assert_eq!(o.stderr, "", "{o}");
}

#[test]
fn latest_flag() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.expect(&["start", "--latest"], 125);
    let first = env.ok(&["create", "--name", "first", IMAGE, "sleep", "1000"]);
    let second = env.ok(&["create", "--name", "second", IMAGE, "sleep", "1000"]);
    assert_eq!(env.ok(&["inspect", "-l", "-f", "{{.Id}}"]), second);
    assert_eq!(env.ok(&["ps", "-l", "-q", "--no-trunc"]), second);
    env.expect(&["start", "-l"], 0);
    assert_eq!(env.status("second"), "running");
    assert_eq!(env.status("first"), "created");
    env.expect(&["stop", "--latest", "-t", "0"], 0);
    assert_eq!(env.status("second"), "exited");
    env.expect(&["rm", "-l"], 0);
    env.expect(&["container", "exists", "second"], 1);
    // Now the first one is the latest.
    assert_eq!(env.ok(&["inspect", "--latest", "-f", "{{.Id}}"]), first);
}
