//! `attach --no-stdin` and `--sig-proxy` (issue 4 item 2): signals sent to
//! the attach client reach the container unless `--sig-proxy=false`, and
//! `--no-stdin` keeps the client's input away from a container with `-i`.

mod common;

use common::*;
use std::io::{Read, Seek, SeekFrom};
use std::process::{Child, Stdio};
use std::time::Duration;

/// A container that prints ticks and exits 7 on SIGTERM.
const TRAPPING: &str =
    "trap 'echo got-term; exit 7' TERM; while true; do echo tick; sleep 0.2; done";

/// `berth attach ARGS` in the background, its output in a temp file.
fn spawn_attach(env: &Env, args: &[&str]) -> (Child, std::fs::File) {
    let out = tempfile::tempfile().unwrap();
    let mut cmd = env.command(args);
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out.try_clone().unwrap());
    (cmd.spawn().unwrap(), out)
}

fn read_all(f: &mut std::fs::File) -> String {
    let mut s = String::new();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.read_to_string(&mut s).unwrap();
    s
}

/// Send SIGTERM to a connected attach client; return its exit status
/// (`-N` when a signal killed it) and output.
fn term_attached(env: &Env, name: &str, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["attach"];
    args.extend_from_slice(extra);
    args.push(name);
    let (mut child, mut out) = spawn_attach(env, &args);
    // Ticks arriving mean the client is attached (and its signal proxy,
    // set up before the relay starts, is in place).
    wait_until("attach to relay output", || {
        read_all(&mut out).contains("tick")
    });
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_child(&mut child, Duration::from_secs(60)).expect("attach to end");
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0));
    (code, read_all(&mut out))
}

#[test]
fn sig_proxy_forwards_signals_to_the_container() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-d", "--name", "trap", IMAGE, "sh", "-c", TRAPPING]);
    let (code, out) = term_attached(&env, "trap", &[]);
    assert!(out.contains("got-term"), "{out}");
    // The client returns the container's exit code.
    assert_eq!(code, 7, "{out}");
    env.wait_status("trap", "exited");
    assert_eq!(env.inspect("trap")["State"]["ExitCode"], 7);
}

#[test]
fn sig_proxy_false_leaves_the_container_alone() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-d", "--name", "trap", IMAGE, "sh", "-c", TRAPPING]);
    let (code, out) = term_attached(&env, "trap", &["--sig-proxy=false"]);
    // The signal ended the client itself, not the container.
    assert_eq!(code, -libc::SIGTERM, "{out}");
    assert!(!out.contains("got-term"), "{out}");
    assert_eq!(env.status("trap"), "running");
    // A later attach with the proxy still reaches it.
    let (code, out) = term_attached(&env, "trap", &["--sig-proxy=true"]);
    assert_eq!(code, 7, "{out}");
}

#[test]
fn no_stdin_keeps_client_input_from_the_container() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    // `read -t` gives up after a while, so the container ends either way.
    let script = |secs: u32| format!("read -t {secs} line; echo \"got:[$line]\"");
    env.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "with",
        IMAGE,
        "sh",
        "-c",
        &script(60),
    ]);
    let o = env.berth_stdin(&["attach", "with"], b"hello\n");
    o.success();
    assert!(o.stdout.contains("got:[hello]"), "{o}");
    env.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "without",
        IMAGE,
        "sh",
        "-c",
        &script(8),
    ]);
    let o = env.berth_stdin(&["attach", "--no-stdin", "without"], b"hello\n");
    o.success();
    assert!(o.stdout.contains("got:[]"), "{o}");
}

#[test]
fn run_in_the_foreground_proxies_signals_too() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let (mut child, mut out) =
        spawn_attach(&env, &["run", "--name", "fg", IMAGE, "sh", "-c", TRAPPING]);
    wait_until("run to relay output", || {
        read_all(&mut out).contains("tick")
    });
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_child(&mut child, Duration::from_secs(60)).expect("run to end");
    let out = read_all(&mut out);
    assert_eq!(status.code(), Some(7), "{out}");
    assert!(out.contains("got-term"), "{out}");
}
