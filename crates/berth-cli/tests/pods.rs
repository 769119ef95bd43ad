//! Pods: members sharing the infra container's network, IPC and UTS
//! namespaces, ports published on the pod, the pod lifecycle in Podman's
//! shapes, and `pod rm -f` leaving nothing behind (RELIABILITY 25 included).
//!
//! Network safety: only 127.0.0.1 and a network of this test's own.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// The busybox httpd script serving `body` on `port` (loopback included).
fn httpd(body: &str, port: u16) -> String {
    format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p {port} -h /www")
}

fn netns_files(env: &Env) -> usize {
    std::fs::read_dir(env.run.join("netns"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Mounts under the env's directories.
fn mounts_of(env: &Env) -> usize {
    let dir = env.path().to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&dir))
        .count()
}

#[track_caller]
fn assert_empty(env: &Env) {
    assert_eq!(env.ok(&["ps", "-aq"]), "", "containers left");
    assert_eq!(env.ok(&["pod", "ps", "-q"]), "", "pods left");
    assert_eq!(netns_files(env), 0, "namespace files left");
    assert_eq!(mounts_of(env), 0, "mounts left");
}

#[test]
fn members_talk_over_loopback_and_share_ipc_and_uts() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let id = env.ok(&["pod", "create", "--name", "p1", "--label", "team=a"]);
    assert_eq!(id.len(), 64);
    env.expect(&["pod", "exists", "p1"], 0);
    env.expect(&["pod", "exists", "nope"], 1);
    let ps = env.ok(&["pod", "ps"]);
    let header: Vec<&str> = ps
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .filter(|s| !s.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        header,
        [
            "POD ID",
            "NAME",
            "STATUS",
            "CREATED",
            "INFRA ID",
            "# OF CONTAINERS"
        ]
    );
    assert!(ps.lines().nth(1).unwrap().contains("Created"), "{ps}");
    // The port is inside the pod's own loopback-only namespace.
    env.ok(&[
        "run",
        "-d",
        "--pod",
        "p1",
        "--name",
        "web",
        IMAGE,
        "sh",
        "-c",
        &httpd("hello-pod", 8080),
    ]);
    // The infra container was started first, by dependency.
    let body = env.ok(&["run", "--rm", "--pod", "p1", IMAGE, "sh", "-c",
        "for i in $(seq 50); do wget -qO- http://127.0.0.1:8080/index.html && exit 0; sleep 0.1; done; exit 1"]);
    assert_eq!(body, "hello-pod");
    // Shared UTS (host name = pod name) and IPC namespaces.
    assert_eq!(env.ok(&["exec", "web", "hostname"]), "p1");
    let ns = |c: &str, k: &str| env.ok(&["exec", c, "readlink", &format!("/proc/1/ns/{k}")]);
    env.ok(&[
        "run", "-d", "--pod", "p1", "--name", "other", IMAGE, "sleep", "300",
    ]);
    for k in ["ipc", "uts", "net"] {
        assert_eq!(ns("web", k), ns("other", k), "{k}");
    }
    assert_ne!(ns("web", "pid"), ns("other", "pid"));

    let in_pod = env.ok(&["ps", "--filter", "pod=p1", "--format", "{{.Names}}"]);
    assert_eq!(in_pod.lines().count(), 3, "{in_pod}");
    assert_eq!(env.ok(&["ps", "--filter", "pod=nope", "-q"]), "");
    let doc = env.berth(&["pod", "inspect", "p1"]).json();
    assert_eq!(doc["Name"], "p1");
    assert_eq!(doc["Id"], id.as_str());
    assert_eq!(doc["State"], "Running");
    assert_eq!(doc["NumContainers"], 3);
    assert_eq!(doc["Labels"]["team"], "a");
    let infra = doc["InfraContainerID"].as_str().unwrap().to_string();
    assert_eq!(env.inspect(&infra)["Config"]["Cmd"][0], "/berth-pause");
    let top = env.ok(&["pod", "top", "p1"]);
    assert!(
        top.contains("berth-pause") && top.contains("httpd"),
        "{top}"
    );
    let stats = env
        .berth(&["pod", "stats", "--no-stream", "--format", "json", "p1"])
        .json();
    assert_eq!(stats.as_array().unwrap().len(), 3);

    // The infra container is a dependency of the members; a running pod
    // is not removed without -f.
    env.expect(&["rm", "-f", &infra], 125).stderr_has("web");
    env.expect(&["pod", "rm", "p1"], 125).stderr_has("running");

    // Stop: members first, then infra; start: infra first.
    env.ok(&["pod", "stop", "-t", "1", "p1"]);
    assert_eq!(
        env.berth(&["pod", "inspect", "p1"]).json()["State"],
        "Exited"
    );
    env.ok(&["pod", "start", "p1"]);
    assert_eq!(
        env.berth(&["pod", "inspect", "p1"]).json()["State"],
        "Running"
    );
    env.ok(&["pod", "pause", "p1"]);
    assert_eq!(
        env.berth(&["pod", "inspect", "p1"]).json()["State"],
        "Paused"
    );
    env.ok(&["pod", "unpause", "p1"]);
    env.ok(&["pod", "kill", "p1"]);
    assert_eq!(env.ok(&["pod", "rm", "-f", "p1"]), id);
    env.expect(&["pod", "inspect", "p1"], 125);
    assert_empty(&env);
}

#[test]
fn pod_publishes_ports_on_the_host() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    let pid = std::process::id();
    let net = unique("podnet");
    let bridge = format!("bp{}", pid % 100_000);
    env.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("10.{}.7.0/24", 200 + pid % 50),
        "--interface-name",
        &bridge,
        &net,
    ]);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    env.ok(&[
        "pod",
        "create",
        "--name",
        "web",
        "--network",
        &net,
        "-p",
        &publish,
    ]);
    env.ok(&[
        "run",
        "-d",
        "--pod",
        "web",
        "--name",
        "srv",
        IMAGE,
        "sh",
        "-c",
        &httpd("served-by-pod", 80),
    ]);
    let mut body = None;
    wait_until("the pod's port answers", || {
        body = fetch(port);
        body.is_some()
    });
    assert!(body.unwrap().contains("served-by-pod"));
    let doc = env.berth(&["pod", "inspect", "web"]).json();
    assert_eq!(
        doc["InfraConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
        port.to_string()
    );
    // Members do not publish on their own.
    env.expect(&["create", "--pod", "web", "-p", "81", IMAGE, "true"], 125);
    env.ok(&["pod", "rm", "-f", "web"]);
    assert!(fetch(port).is_none());
    assert_empty(&env);
    env.ok(&["network", "rm", &net]);
}

#[test]
fn run_pod_new_and_pod_prune_and_no_infra() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "--rm", "--pod", "new:fresh", IMAGE, "true"]);
    let ps = env.ok(&["pod", "ps", "--format", "{{.Name}} {{.NumberOfContainers}}"]);
    assert_eq!(ps, "fresh 1");
    // Its infra container keeps running (as in Podman) until stopped.
    env.ok(&["pod", "stop", "fresh"]);
    env.ok(&["pod", "create", "--name", "bare", "--infra=false"]);
    env.ok(&["create", "--pod", "bare", "--name", "solo", IMAGE, "true"]);
    assert_eq!(
        env.berth(&["pod", "inspect", "bare"]).json()["InfraContainerID"],
        ""
    );
    env.ok(&["pod", "create", "--name", "busy"]);
    env.ok(&["run", "-d", "--pod", "busy", IMAGE, "sleep", "300"]);
    // Prune removes the pods with nothing running.
    let pruned = env.ok(&["pod", "prune", "-f"]);
    assert_eq!(pruned.lines().count(), 2, "{pruned}");
    assert_eq!(env.ok(&["pod", "ps", "--format", "{{.Name}}"]), "busy");
    env.ok(&["pod", "rm", "-f", "-a"]);
    assert_empty(&env);
}

/// RELIABILITY 25: a crash-looping member with restart=always while
/// `pod rm -f -a` runs in a loop: no deadlock, every command ends, nothing
/// is left.
#[test]
fn crash_looping_member_while_pod_rm_loops() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed() < Duration::from_secs(20) {
        let pod = format!("loop{rounds}");
        env.ok(&["pod", "create", "--name", &pod]);
        env.ok(&[
            "run",
            "-d",
            "--pod",
            &pod,
            "--restart",
            "always",
            IMAGE,
            "sh",
            "-c",
            "exit 3",
        ]);
        env.ok(&["run", "-d", "--pod", &pod, IMAGE, "sleep", "300"]);
        let mut child = env
            .command(&["pod", "rm", "-f", "-a"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let status = wait_child(&mut child, Duration::from_secs(60));
        assert!(
            status.is_some_and(|s| s.success()),
            "pod rm -f -a hung or failed in round {rounds}"
        );
        rounds += 1;
    }
    assert!(rounds > 0);
    assert_empty(&env);
}
