//! The Docker Engine API's networks and registry routes as real clients use
//! them: the docker CLI (client only) and docker-py against `berth system
//! service` — network create/ls/inspect/connect/disconnect/rm/prune,
//! containers resolving each other by name, and `docker pull`/`docker push`
//! against Debian's docker-registry on 127.0.0.1.
//!
//! Network safety: only 127.0.0.1 and our own containers' addresses are
//! contacted; names are looked up in aardvark-dns's own domain
//! (`NAME.dns.podman`), which it answers without forwarding. Subnets are
//! 10.93.X.0/24 and bridges `bdPIDxN`, derived from the process ID and a
//! counter, so no other test (10.90 default, 10.100-249 elsewhere) shares one.

mod common;

use common::*;
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};

#[path = "support/api.rs"]
mod api_support;
use api_support::*;

#[path = "support/registry.rs"]
mod registry_support;
use registry_support::*;

/// A service for a test that uses the docker CLI; `None` skips the test.
fn docker_env() -> Option<(Env, Service)> {
    if skip() || !have_docker() {
        return None;
    }
    let env = Env::with_busybox();
    let svc = Service::start(&env, "0");
    Some((env, svc))
}

/// A network of this test's own: name, subnet prefix `10.93.X`, bridge.
struct TestNet {
    name: String,
    prefix: String,
    bridge: String,
}

impl TestNet {
    fn new() -> TestNet {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        assert!(n < 6, "at most 6 networks per test run (subnet slots)");
        TestNet {
            name: unique("dnet"),
            prefix: format!("10.93.{}", (pid % 40) * 6 + n),
            bridge: format!("bd{}x{n}", pid % 100_000),
        }
    }

    fn subnet(&self) -> String {
        format!("{}.0/24", self.prefix)
    }

    fn bridge_option(&self) -> String {
        format!("com.docker.network.bridge.name={}", self.bridge)
    }
}

/// `docker network create` of `net` with its subnet and bridge.
fn docker_net(svc: &Service, net: &TestNet) {
    let subnet = net.subnet();
    let opt = net.bridge_option();
    let args = [
        "network", "create", "--subnet", &subnet, "-o", &opt, "--label", "t=api", &net.name,
    ];
    docker(svc, &args).success();
}

/// `docker inspect CONTAINER`'s address on network `net` ("" if none).
fn ip_on(svc: &Service, ctr: &str, net: &str) -> String {
    let doc = docker(svc, &["inspect", ctr]).success().json();
    doc[0]["NetworkSettings"]["Networks"][net]["IPAddress"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// A container on `net` serving `body` at /index.html on port 80.
fn web_server(svc: &Service, name: &str, net: &str, body: &str) {
    let script =
        format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www");
    let args = [
        "run",
        "-d",
        "--name",
        name,
        "--network",
        net,
        IMAGE,
        "sh",
        "-c",
        &script,
    ];
    docker(svc, &args).success();
}

/// From container `from`, fetch `host`'s index page (a name aardvark-dns
/// answers) until it serves `body`.
fn fetch_until(svc: &Service, from: &str, host: &str, body: &str) {
    let get = format!("printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} 80");
    let mut last = String::new();
    wait_until(&format!("{from} to reach {host}"), || {
        last = docker(svc, &["exec", from, "sh", "-c", &get]).stdout;
        last.contains(body)
    });
}

#[test]
fn docker_network_create_ls_inspect_run_connect_rm_prune() {
    if no_netavark() {
        return;
    }
    let Some((_env, svc)) = docker_env() else {
        return;
    };
    let (one, two) = (TestNet::new(), TestNet::new());
    docker_net(&svc, &one);
    // A taken name: 409 and Docker's wording from the CLI.
    let subnet = two.subnet();
    docker(&svc, &["network", "create", "--subnet", &subnet, &one.name])
        .code(1)
        .stderr_has("already");
    docker_net(&svc, &two);

    let filter = format!("name={}", one.name);
    let o = docker(
        &svc,
        &[
            "network",
            "ls",
            "--filter",
            &filter,
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}",
        ],
    );
    assert_eq!(o.success().out(), format!("{} bridge local", one.name));
    let o = docker(&svc, &["network", "ls", "--filter", "label=t=api", "-q"]);
    assert_eq!(o.success().out().lines().count(), 2, "{}", o.out());
    let doc = docker(&svc, &["network", "inspect", &one.name])
        .success()
        .json();
    let n = &doc[0];
    assert_eq!(n["Name"], one.name.as_str());
    assert_eq!(n["Driver"], "bridge");
    assert_eq!(n["Scope"], "local");
    assert_eq!(n["IPAM"]["Config"][0]["Subnet"], one.subnet());
    assert_eq!(
        n["IPAM"]["Config"][0]["Gateway"],
        format!("{}.1", one.prefix)
    );
    assert_eq!(n["Labels"]["t"], "api");
    assert_eq!(
        n["Options"]["com.docker.network.bridge.name"],
        one.bridge.as_str()
    );
    docker(&svc, &["network", "inspect", "no-such-net"])
        .code(1)
        .stderr_has("no-such-net");

    // Two containers on one network reach each other by name.
    web_server(&svc, "a", &one.name, "from-a");
    let args = [
        "run",
        "-d",
        "--name",
        "b",
        "--network",
        &one.name,
        IMAGE,
        "sleep",
        "1000",
    ];
    docker(&svc, &args).success();
    let a_ip = ip_on(&svc, "a", &one.name);
    assert!(a_ip.starts_with(&format!("{}.", one.prefix)), "{a_ip}");
    let o = docker(&svc, &["exec", "b", "nslookup", "-type=a", "a.dns.podman"]);
    assert!(o.success().out().contains(&a_ip), "{}", o.out());
    fetch_until(&svc, "b", "a", "from-a");
    let doc = docker(&svc, &["network", "inspect", &one.name])
        .success()
        .json();
    let members = doc[0]["Containers"].as_object().unwrap();
    assert_eq!(members.len(), 2, "{members:?}");
    assert!(members
        .values()
        .any(|m| m["Name"] == "a" && m["IPv4Address"] == format!("{a_ip}/24")));

    // A container on the second network joins the first with an alias
    // and a fixed address, and is reached there by both.
    let args = [
        "run",
        "-d",
        "--name",
        "c",
        "--network",
        &two.name,
        IMAGE,
        "sleep",
        "1000",
    ];
    docker(&svc, &args).success();
    let fixed = format!("{}.77", one.prefix);
    docker(
        &svc,
        &[
            "network", "connect", "--alias", "web", "--ip", &fixed, &one.name, "c",
        ],
    )
    .success();
    assert_eq!(ip_on(&svc, "c", &one.name), fixed);
    assert!(ip_on(&svc, "c", &two.name).starts_with(&format!("{}.", two.prefix)));
    let o = docker(
        &svc,
        &["exec", "a", "nslookup", "-type=a", "web.dns.podman"],
    );
    assert!(o.success().out().contains(&fixed), "{}", o.out());
    fetch_until(&svc, "c", "a", "from-a");
    docker(&svc, &["network", "connect", &one.name, "c"]).code(1);

    docker(&svc, &["network", "disconnect", &one.name, "c"]).success();
    assert_eq!(ip_on(&svc, "c", &one.name), "");
    let doc = docker(&svc, &["network", "inspect", &one.name])
        .success()
        .json();
    assert_eq!(doc[0]["Containers"].as_object().unwrap().len(), 2);
    docker(&svc, &["network", "disconnect", &one.name, "c"]).code(1);

    // In use: refused, and still listed. Docker's statuses on the wire.
    docker(&svc, &["network", "rm", &one.name])
        .code(1)
        .stderr_has("used");
    let r = http(
        &svc.sock,
        "DELETE",
        &format!("/networks/{}", one.name),
        None,
    );
    assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
    let dup = serde_json::json!({"Name": one.name, "CheckDuplicate": true});
    let r = http(&svc.sock, "POST", "/networks/create", Some(&dup));
    assert_eq!(r.status, 409);
    assert!(r.json()["message"].as_str().unwrap().contains(&one.name));
    let r = http(&svc.sock, "GET", "/v1.41/networks/no-such-net", None);
    assert_eq!(r.status, 404);
    // Docker's name for the default network is berth's default network.
    let r = http(&svc.sock, "GET", "/networks/bridge", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["Driver"], "bridge");
    let body = serde_json::json!({"Container": "no-such-ctr"});
    let r = http(
        &svc.sock,
        "POST",
        &format!("/networks/{}/connect", one.name),
        Some(&body),
    );
    assert_eq!(r.status, 404);
    docker(&svc, &["network", "inspect", &one.name]).success();
    docker(&svc, &["rm", "-f", "a", "b", "c"]).success();
    let o = docker(&svc, &["network", "prune", "-f"]);
    let out = o.success().out();
    assert!(out.contains(&one.name) && out.contains(&two.name), "{out}");
    let o = docker(&svc, &["network", "ls", "--filter", "label=t=api", "-q"]);
    assert_eq!(o.success().out(), "");
    docker(&svc, &["network", "rm", &one.name])
        .code(1)
        .stderr_has(&one.name);
}

#[test]
fn docker_py_creates_a_network_and_connects_a_container() {
    if no_netavark() || !have_docker_py() {
        return;
    }
    let Some((_env, svc)) = docker_env() else {
        return;
    };
    let (first, second) = (TestNet::new(), TestNet::new());
    let script = format!(
        r#"
import docker, json
c = docker.DockerClient(base_url={host:?})
def make(name, subnet, bridge):
    pool = docker.types.IPAMPool(subnet=subnet)
    return c.networks.create(name, driver="bridge", labels={{"t": "py"}},
        ipam=docker.types.IPAMConfig(pool_configs=[pool]),
        options={{"com.docker.network.bridge.name": bridge}})
n1 = make({n1:?}, {s1:?}, {b1:?})
n2 = make({n2:?}, {s2:?}, {b2:?})
ctr = c.containers.run({image:?}, "sleep 1000", detach=True, name="py1", network={n1:?})
n2.connect(ctr, aliases=["pyalias"])
n2.reload()
ctr.reload()
nets = ctr.attrs["NetworkSettings"]["Networks"]
print(json.dumps({{
    "members": [x.name for x in n2.containers],
    "nets": sorted(nets),
    "ip2": nets[{n2:?}]["IPAddress"],
    "aliases": nets[{n2:?}]["Aliases"],
    "listed": sorted(n.name for n in c.networks.list(filters={{"label": "t=py"}})),
}}))
n2.disconnect(ctr)
ctr.reload()
print(sorted(ctr.attrs["NetworkSettings"]["Networks"]))
try:
    c.networks.get("no-such-net")
except docker.errors.NotFound:
    print("notfound")
ctr.remove(force=True)
n1.remove()
n2.remove()
print(len(c.networks.list(filters={{"label": "t=py"}})))
"#,
        host = svc.host(),
        n1 = first.name,
        s1 = first.subnet(),
        b1 = first.bridge,
        n2 = second.name,
        s2 = second.subnet(),
        b2 = second.bridge,
        image = IMAGE,
    );
    let o = run_command(
        {
            let mut c = std::process::Command::new("python3");
            c.args(["-c", &script]);
            c
        },
        None,
    );
    let out = o.success().out();
    let mut lines = out.lines();
    let doc: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(doc["members"], serde_json::json!(["py1"]), "{out}");
    let mut both = vec![first.name.clone(), second.name.clone()];
    both.sort();
    assert_eq!(doc["nets"], serde_json::json!(both));
    assert!(doc["ip2"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}.", second.prefix)));
    assert_eq!(doc["aliases"], serde_json::json!(["pyalias"]));
    assert_eq!(doc["listed"], serde_json::json!(both));
    assert_eq!(lines.next(), Some(format!("['{}']", first.name).as_str()));
    assert_eq!(lines.next(), Some("notfound"));
    assert_eq!(lines.next(), Some("0"));
}

#[test]
fn docker_run_publishes_a_port_on_127_0_0_1() {
    if no_netavark() {
        return;
    }
    let Some((_env, svc)) = docker_env() else {
        return;
    };
    let net = TestNet::new();
    docker_net(&svc, &net);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let script = "mkdir -p /www && echo published > /www/index.html && exec httpd -f -p 80 -h /www";
    let args = [
        "run",
        "-d",
        "--name",
        "w",
        "--network",
        &net.name,
        "-p",
        &publish,
        IMAGE,
        "sh",
        "-c",
        script,
    ];
    docker(&svc, &args).success();
    let o = docker(&svc, &["port", "w"]);
    assert_eq!(o.success().out(), format!("80/tcp -> 127.0.0.1:{port}"));
    let o = docker(&svc, &["ps", "--format", "{{.Ports}} {{.Networks}}"]);
    assert_eq!(
        o.success().out(),
        format!("127.0.0.1:{port}->80/tcp {}", net.name)
    );
    let mut body = String::new();
    wait_until("the published port to answer", || {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let _ = s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n");
        body.clear();
        let _ = s.read_to_string(&mut body);
        body.contains("published")
    });
    docker(&svc, &["rm", "-f", "w"]).success();
}

#[test]
fn docker_push_and_pull_through_a_local_registry() {
    if no_registry() {
        return;
    }
    let Some((_env, svc)) = docker_env() else {
        return;
    };
    let reg = Registry::start(None);
    let target = format!("{}/apitest/busybox:v1", reg.host());
    docker(&svc, &["tag", IMAGE, &target]).success();
    // A loopback registry is plain HTTP, as for dockerd.
    let o = docker(&svc, &["push", &target]);
    o.success()
        .stdout_has("The push refers to repository")
        .stdout_has("v1: digest: sha256:");
    // Drop both names (the image goes), then pull it back and run it.
    docker(&svc, &["rmi", &target, IMAGE]).success();
    let o = docker(&svc, &["pull", &target]);
    o.success()
        .stdout_has("Pulling from")
        .stdout_has(&format!("Downloaded newer image for {target}"));
    let o = docker(&svc, &["run", "--rm", &target, "echo", "pulled"]);
    assert_eq!(o.success().out(), "pulled");
    let o = docker(&svc, &["pull", &target]);
    o.success().stdout_has("Image is up to date");

    // A blob that fails its digest check mid-transfer: an error message in
    // the already started stream, and no image left behind.
    docker(&svc, &["rmi", &target]).success();
    let mut corrupted = 0;
    for prefix in std::fs::read_dir(reg.blobs_dir()).unwrap().flatten() {
        for blob in std::fs::read_dir(prefix.path()).unwrap().flatten() {
            let data = blob.path().join("data");
            let len = std::fs::metadata(&data).unwrap().len();
            if len > 64 * 1024 {
                std::fs::write(&data, vec![b'x'; len as usize]).unwrap();
                corrupted += 1;
            }
        }
    }
    assert_eq!(corrupted, 1, "the one layer blob");
    docker(&svc, &["pull", &target])
        .code(1)
        .stderr_has("digest");
    let path = format!(
        "/images/create?fromImage={}&tag=v1",
        target.trim_end_matches(":v1")
    );
    let r = http(&svc.sock, "POST", &path, None);
    assert_eq!(r.status, 200);
    let body = String::from_utf8_lossy(&r.body);
    let last: serde_json::Value = serde_json::from_str(body.lines().last().unwrap()).unwrap();
    assert!(last["error"].as_str().unwrap().contains("digest"), "{body}");
    assert_eq!(last["errorDetail"]["message"], last["error"]);
    assert_eq!(docker(&svc, &["images", "-q"]).success().out(), "");

    // Unknown: the CLI's error, and a 404 before any stream for raw HTTP.
    let missing = format!("{}/apitest/nosuch", reg.host());
    docker(&svc, &["pull", &format!("{missing}:v1")])
        .code(1)
        .stderr_has("nosuch");
    let path = format!("/images/create?fromImage={missing}&tag=v1");
    let r = http(&svc.sock, "POST", &path, None);
    assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["message"].as_str().unwrap().contains("nosuch"));
    let r = http(&svc.sock, "POST", "/images/create?fromImage=", None);
    assert_eq!(r.status, 400);
}

#[test]
fn docker_py_pushes_and_pulls_with_registry_credentials() {
    if no_registry() || !have_docker_py() {
        return;
    }
    let Some((_env, svc)) = docker_env() else {
        return;
    };
    let reg = Registry::start(Some(("alice", "pw-123")));
    let repo = format!("{}/apitest/auth", reg.host());
    let script = format!(
        r#"
import docker
c = docker.DockerClient(base_url={host:?})
c.images.get({image:?}).tag({repo:?}, "v2")
auth = {{"username": "alice", "password": "pw-123"}}
try:
    denied = c.images.push({repo:?}, tag="v2")
    print("denied" if "error" in denied else "not-denied: " + denied)
except docker.errors.APIError as e:
    print("denied" if "authentication required" in str(e) else e)
out = c.images.push({repo:?}, tag="v2", auth_config=auth)
assert "error" not in out, out
print("pushed")
c.images.remove({repo:?} + ":v2")
try:
    c.images.pull({repo:?}, tag="v2")
    print("pulled-without-auth")
except docker.errors.APIError as e:
    print("refused")
img = c.images.pull({repo:?}, tag="v2", auth_config=auth)
print(img.tags)
"#,
        host = svc.host(),
        image = IMAGE,
        repo = repo,
    );
    let mut cmd = std::process::Command::new("python3");
    cmd.args(["-c", &script]);
    let o = run_command(cmd, None);
    let out = o.success().out();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..3], ["denied", "pushed", "refused"], "{out}");
    assert!(lines[3].contains(&format!("{repo}:v2")), "{out}");
}
