//! `top`, `stats --no-stream`, `update`, `wait --condition` and `port`.

mod common;

use common::*;

#[test]
fn top_lists_container_processes() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-d", "--name", "t", IMAGE, "sleep", "300"]);
    let o = env.expect(&["top", "t"], 0);
    let lines = o.lines();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"],
        "{o}"
    );
    assert!(
        lines[1].starts_with("root") && lines[1].ends_with("sleep 300"),
        "{o}"
    );
    let o = env.expect(&["top", "t", "pid", "args"], 0);
    assert_eq!(
        o.lines()[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMMAND"]
    );
    env.expect(&["top", "t", "bogus"], 125);
    env.ok(&["create", "--name", "c", IMAGE, "true"]);
    env.expect(&["top", "c"], 125);
}

#[test]
fn stats_no_stream_table_json_and_template() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run", "-d", "--name", "s", "--memory", "64m", IMAGE, "sleep", "300",
    ]);
    let o = env.expect(&["stats", "--no-stream", "s"], 0);
    assert!(o.lines()[0].starts_with("ID"), "{o}");
    for col in [
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET IO",
        "BLOCK IO",
        "PIDS",
    ] {
        assert!(o.lines()[0].contains(col), "{col} missing: {o}");
    }
    let j = env
        .expect(&["stats", "--no-stream", "--format", "json", "s"], 0)
        .json();
    assert_eq!(j[0]["name"], "s");
    assert_eq!(j[0]["pids"], "1");
    assert!(
        j[0]["mem_usage"].as_str().unwrap().ends_with("/ 67.1MB"),
        "{j}"
    );
    let o = env.expect(
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDS}}",
            "s",
        ],
        0,
    );
    assert_eq!(o.stdout, "s 1\n", "{o}");
    env.ok(&["create", "--name", "c", IMAGE, "true"]);
    env.expect(&["stats", "--no-stream", "c"], 125);
}

#[test]
fn update_changes_limits_now_and_after_restart() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-d", "--name", "u", IMAGE, "sleep", "300"]);
    env.ok(&[
        "update",
        "--memory",
        "100m",
        "--pids-limit",
        "50",
        "--cpus",
        "0.5",
        "u",
    ]);
    let j = env
        .expect(&["stats", "--no-stream", "--format", "json", "u"], 0)
        .json();
    assert!(
        j[0]["mem_usage"].as_str().unwrap().ends_with("/ 105MB"),
        "{j}"
    );
    env.ok(&["stop", "-t", "0", "u"]);
    env.ok(&["start", "u"]);
    let j = env
        .expect(&["stats", "--no-stream", "--format", "json", "u"], 0)
        .json();
    assert!(
        j[0]["mem_usage"].as_str().unwrap().ends_with("/ 105MB"),
        "{j}"
    );
    env.expect(&["update", "u"], 125);
    env.expect(&["update", "--memory", "1k", "u"], 125);
}

#[test]
fn wait_conditions() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "create",
        "--name",
        "w",
        IMAGE,
        "sh",
        "-c",
        "sleep 1; exit 4",
    ]);
    let o = env.expect(&["wait", "--condition", "created", "w"], 0);
    assert_eq!(o.stdout, "-1\n", "{o}");
    env.ok(&["start", "w"]);
    let o = env.expect(&["wait", "--condition", "running", "w"], 0);
    assert_eq!(o.stdout, "-1\n", "{o}");
    let o = env.expect(&["wait", "--condition", "exited", "w"], 0);
    assert_eq!(o.stdout, "4\n", "{o}");
    let o = env.expect(&["wait", "w"], 0);
    assert_eq!(o.stdout, "4\n", "{o}");
    env.expect(&["wait", "--condition", "bogus", "w"], 125);
}

#[test]
fn port_exists_and_prints_nothing() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["create", "--name", "p", IMAGE, "true"]);
    let o = env.expect(&["port", "p"], 0);
    assert_eq!(o.stdout, "", "{o}");
    env.expect(&["port", "nosuch"], 125);
}
