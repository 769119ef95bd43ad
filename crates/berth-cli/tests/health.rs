//! Healthchecks (issue 4 item 6): `--health-*` flags and the image's
//! HEALTHCHECK, status in `ps`/`inspect`/events, `healthcheck run` exit
//! codes, `--health-on-failure`, and the timer process that schedules checks
//! leaving nothing behind.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// Live `berth healthcheck timer` processes of this env.
fn timers(env: &Env) -> Vec<Proc> {
    let needle = env.run.to_string_lossy().into_owned();
    processes()
        .into_iter()
        .filter(|p| p.state != 'Z')
        .filter(|p| p.cmdline.contains("healthcheck timer") && p.cmdline.contains(&needle))
        .collect()
}

fn health(env: &Env, name: &str) -> Value {
    env.inspect(name)["State"]["Health"].clone()
}

fn health_status(env: &Env, name: &str) -> String {
    health(env, name)["Status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn passing_check_becomes_healthy_in_ps_inspect_and_events() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "good",
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
        IMAGE,
        "sleep",
        "300",
    ]);
    wait_until("good to be healthy", || {
        health_status(&env, "good") == "healthy"
    });
    let ps = env.ok(&["ps"]);
    assert!(ps.contains("(healthy)"), "{ps}");
    let h = health(&env, "good");
    assert_eq!(h["FailingStreak"], 0);
    let log = h["Log"].as_array().unwrap();
    assert!(!log.is_empty() && log.len() <= 5, "{h}");
    assert_eq!(log[0]["ExitCode"], 0);
    for k in ["Start", "End", "Output"] {
        assert!(log[0][k].is_string(), "{h}");
    }
    let cfg = env.inspect("good")["Config"]["Healthcheck"].clone();
    assert_eq!(cfg["Test"], serde_json::json!(["CMD-SHELL", "true"]));
    assert_eq!(cfg["Interval"], 1_000_000_000u64);
    assert_eq!(cfg["Retries"], 3);
    // The log keeps the last five results.
    wait_until("five results", || {
        health(&env, "good")["Log"].as_array().unwrap().len() == 5
    });
    wait_until("a sixth check", || {
        let log = health(&env, "good")["Log"].clone();
        log.as_array().unwrap().len() == 5 && log[0]["Start"] != h["Log"][0]["Start"]
    });
    let filtered = env.ok(&["ps", "-q", "--filter", "health=healthy"]);
    assert_eq!(filtered.lines().count(), 1, "{filtered}");
    env.ok(&["run", "-d", "--name", "plain", IMAGE, "sleep", "300"]);
    let none = env.ok(&["ps", "--filter", "health=none", "--format", "{{.Names}}"]);
    assert_eq!(none, "plain");
    env.expect(&["ps", "--filter", "health=bogus"], 125);
    let ev = env.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "event=health_status",
        "--format",
        "json",
    ]);
    let first: Value = serde_json::from_str(ev.lines().next().expect("a health event")).unwrap();
    assert_eq!(first["Name"], "good");
    assert_eq!(first["Attributes"]["health_status"], "healthy");
}

#[test]
fn failing_check_becomes_unhealthy_after_retries() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "bad",
        "--health-cmd",
        "echo oops; exit 2",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        IMAGE,
        "sleep",
        "300",
    ]);
    wait_until("bad to be unhealthy", || {
        health_status(&env, "bad") == "unhealthy"
    });
    let h = health(&env, "bad");
    assert!(h["FailingStreak"].as_u64().unwrap() >= 2, "{h}");
    let log = h["Log"].as_array().unwrap();
    assert_eq!(log[0]["ExitCode"], 2, "{h}");
    assert_eq!(log[0]["Output"], "oops\n", "{h}");
    // `none` is the default action: it keeps running.
    assert_eq!(env.status("bad"), "running");
    assert!(env.ok(&["ps"]).contains("(unhealthy)"));
}

#[test]
fn start_period_keeps_failures_from_counting() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "false",
        "--health-interval",
        "disable",
        "--health-retries",
        "1",
        "--health-start-period",
        "1h",
        IMAGE,
        "sleep",
        "300",
    ]);
    let o = env.expect(&["healthcheck", "run", "slow"], 1);
    assert_eq!(o.out(), "unhealthy");
    let h = health(&env, "slow");
    assert_eq!(h["Status"], "starting", "{h}");
    assert_eq!(h["FailingStreak"], 0, "{h}");
    assert_eq!(h["Log"].as_array().unwrap().len(), 1, "{h}");
}

#[test]
fn healthcheck_run_exit_codes() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let run = |name: &str, cmd: &str| {
        env.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--health-cmd",
            cmd,
            "--health-interval",
            "disable",
            IMAGE,
            "sleep",
            "300",
        ]);
    };
    run("ok", "true");
    run("ko", "exit 1");
    run("arr", r#"["sh", "-c", "exit 0"]"#);
    run("missing", r#"["/no/such/check"]"#);
    // No timer for `--health-interval disable`.
    assert!(timers(&env).is_empty(), "{:?}", timers(&env));
    assert_eq!(health_status(&env, "ok"), "starting");
    let o = env.expect(&["healthcheck", "run", "ok"], 0);
    assert_eq!(o.out(), "");
    assert_eq!(health_status(&env, "ok"), "healthy");
    env.expect(&["healthcheck", "run", "arr"], 0);
    assert_eq!(
        env.inspect("arr")["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["CMD", "sh", "-c", "exit 0"])
    );
    assert_eq!(
        env.expect(&["healthcheck", "run", "ko"], 1).out(),
        "unhealthy"
    );
    env.expect(&["healthcheck", "run", "missing"], 1);
    // A check that outlives --health-timeout fails with exit code -1.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "slowcheck",
        "--health-cmd",
        "sleep 30",
        "--health-timeout",
        "1s",
        "--health-interval",
        "disable",
        IMAGE,
        "sleep",
        "300",
    ]);
    env.expect(&["healthcheck", "run", "slowcheck"], 1);
    let h = health(&env, "slowcheck");
    assert_eq!(h["Log"][0]["ExitCode"], -1, "{h}");
    assert!(
        h["Log"][0]["Output"].as_str().unwrap().contains("timeout"),
        "{h}"
    );
    // Errors: 125.
    env.ok(&["run", "-d", "--name", "nohc", IMAGE, "sleep", "300"]);
    env.expect(&["healthcheck", "run", "nohc"], 125)
        .stderr_has("has no defined healthcheck");
    env.ok(&[
        "create",
        "--name",
        "none",
        "--health-cmd",
        "none",
        IMAGE,
        "true",
    ]);
    assert!(env.inspect("none")["Config"]["Healthcheck"].is_null());
    env.ok(&["stop", "-t", "0", "ok"]);
    env.expect(&["healthcheck", "run", "ok"], 125)
        .stderr_has("is not running");
    env.expect(&["healthcheck", "run", "nosuch"], 125);
    // Bad flags fail at create time.
    for bad in [
        &["--health-cmd", "true", "--health-interval", "10ms"][..],
        &["--health-cmd", "true", "--health-on-failure", "explode"],
        &["--health-cmd", "true", "--no-healthcheck"],
        &["--health-cmd", "true", "--health-timeout", "soon"],
    ] {
        let mut args = vec!["create"];
        args.extend_from_slice(bad);
        args.extend([IMAGE, "true"]);
        env.expect(&args, 125);
    }
}

/// `run -d` a container whose check fails at once, with `action`.
fn failing_with(env: &Env, name: &str, action: &str) {
    env.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--health-cmd",
        "false",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        &format!("--health-on-failure={action}"),
        IMAGE,
        "sleep",
        "300",
    ]);
}

#[test]
fn on_failure_actions_kill_stop_and_restart() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    failing_with(&env, "k", "kill");
    failing_with(&env, "s", "stop");
    failing_with(&env, "r", "restart");
    env.wait_status("k", "exited");
    assert_eq!(env.inspect("k")["State"]["ExitCode"], 137);
    env.wait_status("s", "exited");
    let first_start = env.inspect("r")["State"]["StartedAt"].clone();
    wait_until("r to be restarted", || {
        let ev = env.ok(&[
            "events",
            "--stream=false",
            "--filter",
            "container=r",
            "--filter",
            "event=restart",
        ]);
        !ev.is_empty()
    });
    wait_until("r running again", || {
        let st = env.inspect("r")["State"].clone();
        st["Status"] == "running" && st["StartedAt"] != first_start
    });
    assert_eq!(
        env.inspect("k")["Config"]["HealthcheckOnFailureAction"],
        "kill"
    );
    // Only r still runs, with exactly one timer.
    wait_until("the stopped containers' timers to go", || {
        timers(&env).len() == 1
    });
    env.ok(&["rm", "-f", "r"]);
    wait_until("no timer left", || timers(&env).is_empty());
}

#[test]
fn no_timer_left_after_rm_stop_or_restart() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let run = |name: &str| {
        env.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--health-cmd",
            "true",
            "--health-interval",
            "1s",
            IMAGE,
            "sleep",
            "300",
        ]);
    };
    run("t1");
    run("t2");
    wait_until("two timers", || timers(&env).len() == 2);
    for t in timers(&env) {
        // Detached: its own session, no terminal, not our child.
        assert_ne!(t.ppid, std::process::id() as i32, "{t:?}");
        // What it holds between checks: the fewest of a few looks, since
        // a look during a check also sees that check's own pipes and files.
        let fds = (0..5)
            .map(|_| {
                std::thread::sleep(std::time::Duration::from_millis(100));
                std::fs::read_dir(format!("/proc/{}/fd", t.pid))
                    .map(|d| d.count())
                    .unwrap_or(0)
            })
            .min()
            .unwrap_or(0);
        // stdio, plus what it opened itself (database, events, pidfd).
        assert!(fds <= 12, "timer {} holds {fds} fds", t.pid);
    }
    // A restart replaces the timer: still one per container.
    let old: Vec<i32> = timers(&env).iter().map(|p| p.pid).collect();
    env.ok(&["restart", "-t", "0", "t1"]);
    wait_until("the old timer of t1 to go", || {
        let now: Vec<i32> = timers(&env).iter().map(|p| p.pid).collect();
        now.len() == 2 && old.iter().filter(|p| now.contains(p)).count() == 1
    });
    env.ok(&["stop", "-t", "0", "t2"]);
    wait_until("t2's timer to go", || timers(&env).len() == 1);
    env.ok(&["rm", "-f", "t1"]);
    wait_until("no timer left after rm -f", || timers(&env).is_empty());
    // A started container gets its timer back.
    env.ok(&["start", "t2"]);
    wait_until("t2 healthy again", || {
        health_status(&env, "t2") == "healthy"
    });
    assert_eq!(timers(&env).len(), 1);
    env.ok(&["rm", "-f", "t2"]);
    wait_until("no timer left", || timers(&env).is_empty());
}

/// The busybox archive with `Healthcheck` added to its config, as
/// `localhost/hcimage:latest` (the config's file name is its digest).
fn image_with_healthcheck(dir: &Path) -> std::path::PathBuf {
    let x = dir.join("x");
    std::fs::create_dir_all(&x).unwrap();
    let sh = |script: &str| {
        let o = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&x)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    sh(&format!("tar xf {}", busybox_archive().display()));
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(x.join("manifest.json")).unwrap()).unwrap();
    let cfg_name = manifest[0]["Config"].as_str().unwrap().to_string();
    let mut cfg: Value =
        serde_json::from_slice(&std::fs::read(x.join(&cfg_name)).unwrap()).unwrap();
    cfg["config"]["Healthcheck"] = serde_json::json!({
        "Test": ["CMD-SHELL", "test -e /etc/passwd"],
        "Interval": 1_000_000_000u64,
        "Retries": 2,
    });
    std::fs::remove_file(x.join(&cfg_name)).unwrap();
    std::fs::write(x.join("new.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    let digest = sh("sha256sum new.json | cut -d' ' -f1");
    std::fs::rename(x.join("new.json"), x.join(format!("{digest}.json"))).unwrap();
    manifest[0]["Config"] = Value::String(format!("{digest}.json"));
    manifest[0]["RepoTags"] = serde_json::json!(["localhost/hcimage:latest"]);
    std::fs::write(
        x.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let out = dir.join("hcimage.tar");
    sh(&format!("tar cf {} .", out.display()));
    out
}

#[test]
fn image_healthcheck_is_honoured_and_can_be_disabled() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let archive = image_with_healthcheck(env.path());
    env.ok(&["load", "-i", archive.to_str().unwrap()]);
    let img = "localhost/hcimage:latest";
    env.ok(&["run", "-d", "--name", "fromimg", img, "sleep", "300"]);
    wait_until("fromimg healthy", || {
        health_status(&env, "fromimg") == "healthy"
    });
    let cfg = env.inspect("fromimg")["Config"]["Healthcheck"].clone();
    assert_eq!(cfg["Retries"], 2, "{cfg}");
    // Podman's default for what the image leaves out.
    assert_eq!(cfg["Timeout"], 30_000_000_000u64, "{cfg}");
    env.ok(&[
        "run",
        "-d",
        "--name",
        "off",
        "--no-healthcheck",
        img,
        "sleep",
        "300",
    ]);
    assert!(env.inspect("off")["Config"]["Healthcheck"].is_null());
    env.expect(&["healthcheck", "run", "off"], 125);
    env.ok(&[
        "create",
        "--name",
        "over",
        "--health-retries",
        "9",
        img,
        "true",
    ]);
    assert_eq!(env.inspect("over")["Config"]["Healthcheck"]["Retries"], 9);
}
