//! Docker Engine API (`berth system service`), black-box: raw HTTP over the
//! unix socket for exact statuses and bodies, plus the real docker CLI and
//! docker-py when they are installed (client only; no dockerd).

mod common;

use common::*;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `berth system service` on a socket in the env's temp dir.
struct Service {
    child: Child,
    sock: PathBuf,
}

impl Service {
    fn start(env: &Env, time: &str) -> Service {
        let sock = env.path().join("api/berth.sock");
        let uri = format!("unix://{}", sock.display());
        let child = env
            .command(&["system", "service", "--time", time, &uri])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning berth system service");
        wait_until("the API socket", || UnixStream::connect(&sock).is_ok());
        Service { child, sock }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// SIGTERM and reap; true if it exited within the limit.
    fn stop(&mut self) -> bool {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        wait_child(&mut self.child, Duration::from_secs(20)).is_some()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange (`Connection: close`): status, headers, body
/// (chunked bodies decoded).
struct Resp {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16)
            .expect("chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

fn http(sock: &Path, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let mut s = UnixStream::connect(sock).expect("connecting to the API socket");
    s.set_read_timeout(Some(CMD_TIMEOUT)).unwrap();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let headers = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = headers.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

/// Split a multiplexed log stream into (stdout, stderr).
fn demux(mut b: &[u8]) -> (String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while b.len() >= 8 {
        let len = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        let target = if b[0] == 2 { &mut err } else { &mut out };
        target.extend_from_slice(&b[8..8 + len]);
        b = &b[8 + len..];
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

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

fn have(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn docker(svc: &Service, args: &[&str]) -> Out {
    let mut c = Command::new("docker");
    c.env("DOCKER_HOST", svc.host())
        .env(
            "DOCKER_CONFIG",
            svc.sock.parent().unwrap().join("docker-config"),
        )
        .args(args);
    run_command(c, None)
}

#[test]
fn docker_cli_client() {
    if skip() {
        return;
    }
    if !have("docker", &["--version"]) {
        eprintln!("skipping: no docker CLI (Debian package docker.io)");
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
    if !have("python3", &["-c", "import docker"]) {
        eprintln!("skipping: no docker-py (Debian package python3-docker)");
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
