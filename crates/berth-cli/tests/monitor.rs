//! The per-container monitor as the CLI leaves it: berth-mon outlives the
//! CLI, leaves no zombies, and holds few fds and none of the caller's pipes.

mod common;

use common::*;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::process::Stdio;

/// `/proc/PID/fd/*` link targets.
fn fd_targets(pid: i32) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let target = std::fs::read_link(e.path())
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    (e.file_name().to_string_lossy().into_owned(), target)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn monitor_outlives_the_cli() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-d", "--name", "m", IMAGE, "sleep", "1000"]);
    let st = env.inspect("m")["State"].clone();
    let mon = st["ConmonPid"].as_i64().unwrap_or(0) as i32;
    let pid = st["Pid"].as_i64().unwrap_or(0) as i32;
    assert!(mon > 0 && pid > 0, "{st}");
    let p = process(mon).unwrap_or_else(|| panic!("monitor {mon} is gone"));
    assert_eq!(p.comm, "berth-mon", "{p:?}");
    assert_ne!(p.state, 'Z', "{p:?}");
    assert_ne!(
        p.ppid,
        std::process::id() as i32,
        "the monitor is our child: {p:?}"
    );
    assert_eq!(env.monitors(), vec![mon]);
    // The container's init is the monitor's (or runc's re-parented) child,
    // alive while the CLI is long gone.
    assert!(alive(pid));
    // Still there after more CLI commands.
    env.ok(&["ps"]);
    assert!(alive(mon));
    env.expect(&["stop", "-t", "0", "m"], 0);
    wait_until("the monitor to exit after stop", || !alive(mon));
    assert_eq!(env.inspect("m")["State"]["ExitCode"], 137);
}

/// Zombies we might be to blame for: children of berth-mon or of this test
/// process, or berth/berth-mon/runc zombies themselves.
fn our_zombies() -> Vec<Proc> {
    let me = std::process::id() as i32;
    let all = processes();
    let monitors: Vec<i32> = all
        .iter()
        .filter(|p| p.comm == "berth-mon")
        .map(|p| p.pid)
        .collect();
    all.into_iter()
        .filter(|p| p.state == 'Z')
        .filter(|p| {
            p.ppid == me
                || monitors.contains(&p.ppid)
                || ["berth", "berth-mon", "runc"].contains(&p.comm.as_str())
        })
        .collect()
}

#[test]
fn no_zombies_after_run_rm() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    for i in 0..10 {
        let o = env.berth(&["run", "--rm", IMAGE, "sh", "-c", "sleep 0.01 & exit 0"]);
        // A wrong exit code here is the fast-exit bug; zombies are the subject.
        assert!(
            o.code == 0 || o.stderr.contains("no such container"),
            "iteration {i}\n{o}"
        );
    }
    env.ok(&[
        "run",
        "-d",
        "--name",
        "bg",
        IMAGE,
        "sh",
        "-c",
        "true & true & sleep 1000",
    ]);
    wait_until("monitors of --rm containers to exit", || {
        env.monitors().len() == 1
    });
    // Zombies are reaped promptly; one that stays is a leak.
    wait_until("zombies to be reaped", || our_zombies().is_empty());
    env.expect(&["rm", "-f", "-t", "0", "bg"], 0);
    wait_until("the last monitor to exit", || env.monitors().is_empty());
    wait_until("zombies to be reaped", || our_zombies().is_empty());
}

#[test]
fn monitor_fds_are_few_and_not_ours() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    // Run the CLI with pipes, as a shell pipeline or CI log capture would.
    let mut cmd = env.command(&["run", "-d", "--name", "fds", IMAGE, "sleep", "1000"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut pipe_inodes: Vec<u64> = Vec::new();
    for fd in [
        child.stdin.as_ref().map(|p| p.as_raw_fd()),
        child.stdout.as_ref().map(|p| p.as_raw_fd()),
        child.stderr.as_ref().map(|p| p.as_raw_fd()),
    ]
    .into_iter()
    .flatten()
    {
        let meta = std::fs::metadata(format!("/proc/self/fd/{fd}")).unwrap();
        pipe_inodes.push(meta.ino());
    }
    // Every other pipe this test process holds (cargo's, the harness's).
    for (_, target) in fd_targets(std::process::id() as i32) {
        if let Some(ino) = target
            .strip_prefix("pipe:[")
            .and_then(|s| s.strip_suffix(']'))
        {
            pipe_inodes.push(ino.parse().unwrap());
        }
    }
    let status = wait_child(&mut child, CMD_TIMEOUT).expect("run -d hung");
    assert!(status.success(), "run -d failed");
    // Do not read the pipes: if the monitor held them, that would block.
    drop(child);

    let mon = env.inspect("fds")["State"]["ConmonPid"].as_i64().unwrap() as i32;
    let fds = fd_targets(mon);
    assert!(!fds.is_empty(), "cannot read /proc/{mon}/fd");
    assert!(
        fds.len() <= 16,
        "berth-mon holds {} fds: {fds:#?}",
        fds.len()
    );
    for (fd, target) in &fds {
        if let Some(ino) = target
            .strip_prefix("pipe:[")
            .and_then(|s| s.strip_suffix(']'))
        {
            let ino: u64 = ino.parse().unwrap();
            assert!(
                !pipe_inodes.contains(&ino),
                "berth-mon fd {fd} is the test process's pipe {target}: {fds:#?}"
            );
        }
        assert!(
            !target.contains(".cargo") && !target.ends_with(".rmeta"),
            "berth-mon fd {fd} -> {target}"
        );
    }
    // Nor does the container process hold them.
    let pid = env.inspect("fds")["State"]["Pid"].as_i64().unwrap() as i32;
    for (fd, target) in fd_targets(pid) {
        if let Some(ino) = target
            .strip_prefix("pipe:[")
            .and_then(|s| s.strip_suffix(']'))
        {
            let ino: u64 = ino.parse().unwrap();
            assert!(
                !pipe_inodes.contains(&ino),
                "container fd {fd} is our pipe {target}"
            );
        }
    }
}
