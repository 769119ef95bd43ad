//! `berth logs`: streams kept apart, --tail, -t, --since/--until, -f
//! (Podman's 035-logs.bats).

mod common;

use common::*;
use std::process::Stdio;

#[test]
fn stdout_and_stderr_kept_apart() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "--name",
        "split",
        IMAGE,
        "sh",
        "-c",
        "echo out1; echo err1 >&2; echo out2; echo err2 >&2",
    ]);
    let o = env.expect(&["logs", "split"], 0);
    assert_eq!(o.stdout, "out1\nout2\n", "{o}");
    assert_eq!(o.stderr, "err1\nerr2\n", "{o}");
}

#[test]
fn partial_last_line_and_empty_lines() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "--name",
        "p",
        IMAGE,
        "sh",
        "-c",
        "echo first; echo; printf 'no newline'",
    ]);
    let o = env.expect(&["logs", "p"], 0);
    assert_eq!(o.stdout, "first\n\nno newline", "{o}");
}

#[test]
fn tail() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "--name", "t", IMAGE, "seq", "1", "5"]);
    assert_eq!(
        env.expect(&["logs", "--tail", "2", "t"], 0).stdout,
        "4\n5\n"
    );
    assert_eq!(env.expect(&["logs", "--tail", "0", "t"], 0).stdout, "");
    assert_eq!(
        env.expect(&["logs", "--tail", "99", "t"], 0).stdout,
        "1\n2\n3\n4\n5\n"
    );
    assert_eq!(
        env.expect(&["logs", "--tail=-1", "t"], 0).stdout,
        "1\n2\n3\n4\n5\n"
    );
}

/// Split a `logs -t` line into its timestamp and text.
fn stamped(line: &str) -> (jiff::Timestamp, &str) {
    let (ts, text) = line
        .split_once(' ')
        .unwrap_or_else(|| panic!("no timestamp in {line:?}"));
    let t = ts
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("bad timestamp {ts:?} in {line:?}: {e}"));
    (t, text)
}

#[test]
fn timestamps() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let before = jiff::Timestamp::now();
    env.ok(&[
        "run",
        "--name",
        "ts",
        IMAGE,
        "sh",
        "-c",
        "echo a; echo b >&2",
    ]);
    let after = jiff::Timestamp::now();
    let o = env.expect(&["logs", "-t", "ts"], 0);
    let (t, text) = stamped(o.stdout.trim_end());
    assert_eq!(text, "a", "{o}");
    // Generous bounds: clocks only need to agree to the second.
    assert!(
        t >= before - jiff::SignedDuration::from_secs(2)
            && t <= after + jiff::SignedDuration::from_secs(2),
        "{t} not between {before} and {after}"
    );
    let (_, text) = stamped(o.stderr.trim_end());
    assert_eq!(text, "b", "{o}");
}

#[test]
fn since_and_until() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "--name",
        "s",
        IMAGE,
        "sh",
        "-c",
        "echo early; sleep 1.2; echo late",
    ]);
    let o = env.expect(&["logs", "-t", "s"], 0);
    let lines = o.lines();
    assert_eq!(lines.len(), 2, "{o}");
    let (t_late, _) = stamped(lines[1]);
    let since = t_late.to_string();
    let o = env.expect(&["logs", "--since", &since, "s"], 0);
    assert_eq!(o.stdout, "late\n", "{o}");
    let until = (t_late - jiff::SignedDuration::from_millis(500)).to_string();
    let o = env.expect(&["logs", "--until", &until, "s"], 0);
    assert_eq!(o.stdout, "early\n", "{o}");
    // Durations mean "ago".
    let o = env.expect(&["logs", "--since", "10m", "s"], 0);
    assert_eq!(o.stdout, "early\nlate\n", "{o}");
    let future = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3600)).to_string();
    let o = env.expect(&["logs", "--since", &future, "s"], 0);
    assert_eq!(o.stdout, "", "{o}");
    env.expect(&["logs", "--since", "yesterday-ish", "s"], 125);
}

#[test]
fn follow_ends_when_container_exits() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "f",
        IMAGE,
        "sh",
        "-c",
        "echo one; sleep 2; echo two; echo three >&2",
    ]);
    // Started while the container runs; returns by itself once it exits.
    let o = env.expect(&["logs", "-f", "f"], 0);
    assert_eq!(o.stdout, "one\ntwo\n", "{o}");
    assert_eq!(o.stderr, "three\n", "{o}");
    assert_eq!(env.status("f"), "exited");
    // On an exited container -f returns at once.
    let o = env.expect(&["logs", "--follow", "f"], 0);
    assert_eq!(o.stdout, "one\ntwo\n", "{o}");
}

#[test]
fn follow_streams_while_running() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "stream",
        IMAGE,
        "sh",
        "-c",
        "echo go; while [ ! -e /tmp/stop ]; do sleep 0.1; done; echo bye",
    ]);
    let mut cmd = env.command(&["logs", "-f", "stream"]);
    let out = env.path().join("follow.out");
    cmd.stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    wait_until("logs -f to print the first line", || {
        std::fs::read_to_string(&out).unwrap_or_default() == "go\n"
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "logs -f returned while running"
    );
    // Let the container finish; -f must end by itself.
    let root = env.inspect("stream")["GraphDriver"]["Data"]["MergedDir"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(std::path::Path::new(&root).join("tmp/stop"), "").unwrap();
    let status = wait_child(&mut child, CMD_TIMEOUT).expect("logs -f did not end");
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "go\nbye\n");
}

#[test]
fn logs_of_missing_container() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.expect(&["logs", "nosuch"], 125).stderr_has("nosuch");
    env.expect(&["logs"], 125);
}
