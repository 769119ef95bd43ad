//! Docker Engine API (`berth system service`), black-box: raw HTTP over the
//! unix socket for exact statuses and bodies, plus the real docker CLI and
//! docker-py when they are installed (client only; no dockerd).

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/api.rs"]
mod api_support;
use api_support::*;

#[test]
fn ping_version_negotiation_and_socket_mode() {
    if skip() {
        return;
    }
    let env = Env::new();
    let svc = Service::start(&env, "0");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&svc.sock), 0o600);
    assert_eq!(mode(svc.sock.parent().unwrap()), 0o700);

    let r = http(&svc.sock, "GET", "/_ping", None);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"OK"[..]));
    assert_eq!(r.header("Api-Version").as_deref(), Some("1.47"));
    assert_eq!(http(&svc.sock, "HEAD", "/_ping", None).status, 200);
    for p in ["/version", "/v1.24/version", "/v1.47/version"] {
        let r = http(&svc.sock, "GET", p, None);
        assert_eq!(r.status, 200, "{p}");
        assert_eq!(r.json()["ApiVersion"], "1.47");
    }
    for p in ["/v1.23/version", "/v1.48/version"] {
        let r = http(&svc.sock, "GET", p, None);
        assert_eq!(r.status, 400, "{p}");
        assert!(r.json()["message"]
            .as_str()
            .unwrap()
            .contains("client version"));
    }
    let info = http(&svc.sock, "GET", "/v1.41/info", None).json();
    assert_eq!(info["Containers"], 0);
    let r = http(&svc.sock, "GET", "/v1.41/nothing/here", None);
    assert_eq!(r.status, 404);
    assert!(r.json()["message"].is_string());
}

#[test]
fn bad_parameters_are_400_and_touch_nothing() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let svc = Service::start(&env, "0");
    let long = "a".repeat(5000);
    for p in [
        "/containers/..%2F..%2Fetc/json".to_string(),
        "/containers/a%00b/json".to_string(),
        format!("/containers/{long}/json"),
        "/containers/json?filters=%7B%22name%22%3A%5B%22..%22%5D%7D".to_string(),
        "/images/..%2Fx/json".to_string(),
    ] {
        let r = http(&svc.sock, "GET", &p, None);
        assert_eq!(r.status, 400, "{p}: {}", String::from_utf8_lossy(&r.body));
    }
    let r = http(
        &svc.sock,
        "POST",
        "/containers/create?name=..",
        Some(&serde_json::json!({"Image": IMAGE})),
    );
    assert_eq!(r.status, 400);
    let r = http(
        &svc.sock,
        "POST",
        "/containers/create?name=a%00b",
        Some(&serde_json::json!({"Image": IMAGE})),
    );
    assert_eq!(r.status, 400);
    assert!(
        env.all_ids().is_empty(),
        "a refused request created something"
    );
}

#[test]
fn container_lifecycle_over_http() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let svc = Service::start(&env, "0");
    let s = &svc.sock;
    let name = unique("api");
    let body = serde_json::json!({
        "Image": IMAGE, "Cmd": ["sh", "-c", "echo out; echo err >&2"],
        "Labels": {"app": "x"}, "HostConfig": {"PortBindings": {}},
    });
    let r = http(
        s,
        "POST",
        &format!("/v1.41/containers/create?name={name}"),
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["Id"].as_str().unwrap().to_string();
    assert!(is_full_id(&id));
    let r = http(
        s,
        "POST",
        &format!("/containers/create?name={name}"),
        Some(&body),
    );
    assert_eq!(r.status, 409, "duplicate name");

    let ins = http(s, "GET", &format!("/containers/{name}/json"), None).json();
    assert_eq!(ins["State"]["Status"], "created");
    assert_eq!(ins["Name"], format!("/{name}"));
    assert_eq!(ins["Config"]["Labels"]["app"], "x");
    for key in ["Mounts", "HostConfig", "NetworkSettings", "GraphDriver"] {
        assert!(!ins[key].is_null(), "inspect lacks {key}");
    }

    let r = http(s, "POST", &format!("/containers/{id}/start"), None);
    assert_eq!(r.status, 204);
    let w = http(s, "POST", &format!("/containers/{id}/wait"), None).json();
    assert_eq!(w["StatusCode"], 0);
    let r = http(
        s,
        "GET",
        &format!("/containers/{id}/logs?stdout=1&stderr=1"),
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(demux(&r.body), ("out\n".into(), "err\n".into()));

    let all = http(
        s,
        "GET",
        "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22app%3Dx%22%5D%7D",
        None,
    )
    .json();
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["State"], "exited");
    let running = http(s, "GET", "/containers/json", None).json();
    assert_eq!(running.as_array().unwrap().len(), 0);

    // Wrong state and missing objects.
    let r = http(s, "POST", &format!("/containers/{id}/kill"), None);
    assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
    let r = http(s, "GET", "/containers/nosuch/json", None);
    assert_eq!(r.status, 404);
    assert!(r.json()["message"].is_string());
    let r = http(
        s,
        "POST",
        "/containers/create",
        Some(&serde_json::json!({"Image": "localhost/nosuch:latest"})),
    );
    assert_eq!(r.status, 404);
    let r = http(
        s,
        "POST",
        "/containers/create",
        Some(&serde_json::json!({"Cmd": "x"})),
    );
    assert_eq!(r.status, 400);

    // A running one: remove needs force, stop works.
    let body = serde_json::json!({"Image": IMAGE, "Cmd": ["sleep", "100"]});
    let id2 = http(s, "POST", "/containers/create", Some(&body)).json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        http(s, "POST", &format!("/containers/{id2}/start"), None).status,
        204
    );
    assert_eq!(
        http(s, "POST", &format!("/containers/{id2}/start"), None).status,
        304
    );
    assert_eq!(
        http(s, "DELETE", &format!("/containers/{id2}"), None).status,
        409
    );
    assert_eq!(
        http(s, "POST", &format!("/containers/{id2}/stop?t=1"), None).status,
        204
    );
    assert_eq!(
        http(s, "DELETE", &format!("/containers/{id2}"), None).status,
        204
    );
    assert_eq!(
        http(s, "DELETE", &format!("/containers/{id}?force=1&v=1"), None).status,
        204
    );
    assert!(env.all_ids().is_empty());

    let imgs = http(s, "GET", "/images/json", None).json();
    assert_eq!(imgs.as_array().unwrap().len(), 1);
    let r = http(s, "GET", &format!("/images/{IMAGE}/json"), None);
    assert_eq!(r.status, 200);
    assert!(r.json()["Id"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(
        http(s, "GET", "/images/localhost/nosuch/json", None).status,
        404
    );
}

#[test]
fn stopping_the_service_leaves_containers_running_and_idle_exit() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let mut svc = Service::start(&env, "0");
    let body = serde_json::json!({"Image": IMAGE, "Cmd": ["sleep", "100"]});
    let r = http(
        &svc.sock,
        "POST",
        "/containers/create?name=keep",
        Some(&body),
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        http(&svc.sock, "POST", "/containers/keep/start", None).status,
        204
    );
    assert!(svc.stop(), "service did not stop on SIGTERM");
    assert!(!svc.sock.exists(), "socket left behind");
    assert_eq!(env.status("keep"), "running");

    // --time 1: exits by itself once idle.
    let mut idle = Service::start(&env, "1");
    let start = Instant::now();
    let status = wait_child(&mut idle.child, Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "idle service did not exit"
    );
    assert!(start.elapsed() >= Duration::from_millis(900));
}

#[test]
fn docker_cli_client() {
    if skip() {
        return;
    }
    if !have_docker() {
        return;
    }
    let env = Env::with_busybox();
    let svc = Service::start(&env, "0");
    let v = docker(&svc, &["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(v.success().out(), "1.47");
    let name = unique("dk");
    let id = docker(
        &svc,
        &[
            "run",
            "-d",
            "--name",
            &name,
            IMAGE,
            "sh",
            "-c",
            "echo hi; exit 3",
        ],
    )
    .success()
    .out()
    .to_string();
    assert!(is_full_id(&id), "{id}");
    assert_eq!(docker(&svc, &["wait", &name]).success().out(), "3");
    assert_eq!(docker(&svc, &["logs", &name]).success().out(), "hi");
    docker(&svc, &["ps", "-a"]).success().stdout_has(&name);
    let ins = docker(&svc, &["inspect", &name]).success().json();
    assert_eq!(ins[0]["State"]["ExitCode"], 3);
    assert_eq!(
        docker(&svc, &["inspect", "-f", "{{.State.Status}}", &name])
            .success()
            .out(),
        "exited"
    );
    docker(&svc, &["images"])
        .success()
        .stdout_has("localhost/busybox");
    docker(&svc, &["rm", &name]).success();
    docker(&svc, &["rm", &name])
        .code(1)
        .stderr_has("such container");
    assert!(env.all_ids().is_empty());
}

#[test]
fn docker_py_client() {
    if skip() {
        return;
    }
    if !have_docker_py() {
        return;
    }
    let env = Env::with_busybox();
    let svc = Service::start(&env, "0");
    let script = r#"
import docker, sys
c = docker.DockerClient(base_url=sys.argv[1], version="auto")
assert c.ping()
ctr = c.containers.run(sys.argv[2], ["sh", "-c", "echo py"], detach=True, labels={"k": "v"})
assert ctr.wait()["StatusCode"] == 0
assert ctr.logs() == b"py\n", ctr.logs()
ctr.reload()
assert ctr.attrs["Config"]["Labels"]["k"] == "v"
assert ctr.status == "exited"
assert [x.id for x in c.containers.list(all=True)] == [ctr.id]
ctr.remove()
try:
    c.containers.get(ctr.id)
    sys.exit("still there")
except docker.errors.NotFound:
    pass
assert c.images.get(sys.argv[2]).id.startswith("sha256:")
print("ok")
"#;
    let mut c = Command::new("python3");
    c.args(["-c", script, &svc.host(), IMAGE]);
    let o = run_command(c, None);
    assert_eq!(o.success().out(), "ok");
}
