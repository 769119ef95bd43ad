//! A Docker client that attaches and then goes away (killed, its
//! connection dropped) does not keep its relay: at the container's next
//! output the service lets go of its connection to the container's monitor
//! instead of holding it until the container exits.

mod common;
use common::*;

#[path = "support/api.rs"]
mod api_support;
use api_support::*;

/// Sockets the process `pid` holds open.
fn sockets(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn an_attached_client_that_leaves_releases_its_relay() {
    if skip() || !have_docker() {
        return;
    }
    let env = Env::with_busybox();
    let svc = Service::start(&env, "0");
    let talk = "while true; do echo tick; sleep 0.2; done";
    docker(
        &svc,
        &["run", "-d", "--name", "talker", IMAGE, "sh", "-c", talk],
    )
    .success();
    let monitor: i32 = env
        .ok(&["inspect", "-f", "{{.State.ConmonPid}}", "talker"])
        .trim()
        .parse()
        .unwrap();
    let alone = sockets(monitor);

    for _ in 0..3 {
        let mut client = docker_cmd(&svc, &["attach", "--no-stdin", "talker"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_until("the attach reaches the monitor", || {
            sockets(monitor) > alone
        });
        unsafe { libc::kill(client.id() as i32, libc::SIGKILL) };
        let _ = client.wait();
        wait_until("the service lets go of the monitor", || {
            sockets(monitor) == alone
        });
    }
    assert_eq!(env.status("talker"), "running");
    env.ok(&["rm", "-f", "-t", "0", "talker"]);
}
