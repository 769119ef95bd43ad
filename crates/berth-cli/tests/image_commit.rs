//! `commit --pause` on a running container and `commit --format`
//! (Podman's 150-commit).

mod common;

use common::*;

#[test]
fn commit_pause_on_a_running_container_keeps_it_running() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let name = unique("commitp");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        IMAGE,
        "sh",
        "-c",
        "echo written-while-running > /data.txt; exec sleep 1000",
    ]);
    wait_until("the container wrote /data.txt", || {
        env.berth(&["exec", &name, "cat", "/data.txt"]).code == 0
    });
    let pid_before = env.inspect(&name)["State"]["Pid"].clone();
    let o = env.expect(&["commit", "--pause=true", &name, "paused-commit:1"], 0);
    let id = o.out().to_string();
    assert!(is_full_id(&id), "{o}");
    // Running again afterwards (unpaused, same process), the image exists.
    assert_eq!(env.status(&name), "running");
    assert_eq!(env.inspect(&name)["State"]["Pid"], pid_before);
    assert_eq!(
        env.ok(&["exec", &name, "echo", "still-alive"]),
        "still-alive"
    );
    env.ok(&["image", "exists", "localhost/paused-commit:1"]);
    assert_eq!(
        env.ok(&["image", "inspect", "-f", "{{.Id}}", "paused-commit:1"]),
        id
    );
    // The commit holds what the container wrote.
    assert_eq!(
        env.ok(&["run", "--rm", "paused-commit:1", "cat", "/data.txt"]),
        "written-while-running"
    );
    // -p without a value means true, as in Podman.
    env.ok(&["commit", "-p", &name, "paused-commit:2"]);
    assert_eq!(env.status(&name), "running");
    env.ok(&["rm", "-f", &name]);
}

#[test]
fn commit_format_takes_oci_or_docker_and_refuses_others() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["create", "--name", "fmt-src", IMAGE]);
    env.ok(&["commit", "--format", "oci", "fmt-src", "fmt:oci"]);
    env.ok(&["commit", "-f", "docker", "fmt-src", "fmt:docker"]);
    let o = env.expect(&["commit", "--format", "v2s2", "fmt-src", "fmt:bad"], 125);
    o.stderr_has("v2s2");
    env.expect(&["image", "exists", "fmt:bad"], 1);
}
