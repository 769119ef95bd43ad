//! Registries end to end: push/pull/login/logout against Debian's
//! `docker-registry` started by the tests on 127.0.0.1 (without and with
//! htpasswd basic auth), short names through a registries.conf, and a
//! small python3 fixture registry serving broken images (Podman's
//! 150-login, 010-images pull tests, RELIABILITY 38/39 for registries).
//!
//! Every berth command here gets its own auth file and registries.conf
//! (`REGISTRY_AUTH_FILE`, `CONTAINERS_REGISTRIES_CONF`), so the host's
//! files are never read or written.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::*;

const USER: &str = "alice";
const PASSWORD: &str = "s3cret-pw";

#[path = "support/registry.rs"]
mod registry_support;
use registry_support::*;

// ---------------------------------------------------------------- berth

/// An engine plus its own auth file and registries.conf.
struct Ctx {
    env: Env,
    auth: PathBuf,
    conf: PathBuf,
}

impl Ctx {
    fn new(env: Env) -> Ctx {
        let auth = env.path().join("auth/auth.json");
        let conf = env.path().join("registries.conf");
        std::fs::write(&conf, "").unwrap();
        Ctx { env, auth, conf }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.env.command(args);
        c.env("REGISTRY_AUTH_FILE", &self.auth)
            .env("CONTAINERS_REGISTRIES_CONF", &self.conf);
        c
    }

    fn run(&self, args: &[&str]) -> Out {
        run_command(self.cmd(args), None)
    }

    #[track_caller]
    fn expect(&self, args: &[&str], code: i32) -> Out {
        let o = self.run(args);
        o.code(code);
        o
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> Out {
        self.expect(args, 0)
    }

    fn image_ids(&self) -> String {
        self.ok(&["images", "-q", "--no-trunc"]).out().to_string()
    }

    /// Entries under the store's `tmp/`: work in progress a failed pull
    /// must not leave behind.
    fn tmp_entries(&self) -> Vec<String> {
        std::fs::read_dir(self.env.root.join("storage/tmp"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn image_id(ctx: &Ctx, name: &str) -> String {
    ctx.ok(&["image", "inspect", "-f", "{{.Id}}", name])
        .out()
        .to_string()
}

/// The 12-digit blob prefixes of "Copying blob X done" lines.
fn copied_blobs(o: &Out) -> Vec<String> {
    o.err()
        .lines()
        .filter_map(|l| l.strip_prefix("Copying blob "))
        .filter_map(|l| l.strip_suffix(" done"))
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------- tests

#[test]
fn push_rmi_pull_run_and_second_pull_fetches_nothing() {
    if no_registry() {
        return;
    }
    let reg = Registry::start(None);
    let ctx = Ctx::new(Env::with_busybox());
    let id = image_id(&ctx, IMAGE);
    let dest = format!("{}/busybox:latest", reg.host());

    let o = ctx.ok(&["push", "--tls-verify=false", IMAGE, &dest]);
    o.stderr_has("Writing manifest to image destination");
    // A second push finds every blob in the registry.
    ctx.ok(&["push", "--tls-verify=false", IMAGE, &dest])
        .stderr_has("skipped: already exists");

    ctx.ok(&["rmi", IMAGE]);
    assert_eq!(ctx.image_ids(), "");
    ctx.expect(&["image", "exists", &dest], 1);

    let o = ctx.ok(&["pull", "--tls-verify=false", &dest]);
    assert_eq!(o.out(), id, "pull prints the image ID\n{o}");
    o.stderr_has(&format!("Trying to pull {dest}..."));
    let layers = copied_blobs(&o);
    assert!(!layers.is_empty(), "{o}");
    ctx.ok(&["image", "exists", &dest]);
    let digest = ctx
        .ok(&["images", "--digests", "--format", "{{.Digest}}"])
        .out()
        .to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");
    let out = ctx.ok(&["run", "--rm", &dest, "echo", "pulled and running"]);
    assert_eq!(out.out(), "pulled and running");

    // Pull again: the layer is stored, so it is not fetched again.
    let gets: Vec<usize> = layers.iter().map(|l| reg.blob_gets(l)).collect();
    assert!(gets.iter().all(|&n| n == 1), "{gets:?}");
    let o = ctx.ok(&["pull", "-q", "--tls-verify=false", &dest]);
    assert_eq!(o.out(), id);
    assert_eq!(o.err(), "", "-q prints nothing but the ID\n{o}");
    let again: Vec<usize> = layers.iter().map(|l| reg.blob_gets(l)).collect();
    assert_eq!(again, gets, "a stored layer was fetched again");
    let o = ctx.ok(&["pull", "--tls-verify=false", &dest]);
    o.stderr_has("skipped: already exists");
    assert!(copied_blobs(&o).is_empty(), "{o}");
}

#[test]
fn docker_v2s2_push_and_pull_keep_the_digest() {
    if no_registry() {
        return;
    }
    let reg = Registry::start(None);
    let ctx = Ctx::new(Env::with_busybox());
    let id = image_id(&ctx, IMAGE);
    let dest = format!("{}/tools/bb:v2s2", reg.host());
    let digestfile = ctx.env.path().join("digest");
    ctx.ok(&[
        "push",
        "--tls-verify=false",
        "--format",
        "v2s2",
        "--digestfile",
        digestfile.to_str().unwrap(),
        IMAGE,
        &dest,
    ]);
    let pushed = std::fs::read_to_string(&digestfile).unwrap();
    ctx.ok(&["rmi", "-a", "-f"]);
    assert_eq!(
        ctx.ok(&["pull", "-q", "--tls-verify=false", &dest]).out(),
        id
    );
    let digest = ctx
        .ok(&["images", "--digests", "--format", "{{.Digest}}"])
        .out()
        .to_string();
    assert_eq!(digest, pushed, "the stored digest is the pushed manifest's");
    // Pushing a pulled image back reuses its compressed blobs unchanged.
    let o = ctx.ok(&[
        "push",
        "--tls-verify=false",
        &dest,
        &format!("{}/tools/bb:again", reg.host()),
    ]);
    assert!(copied_blobs(&o).is_empty(), "{o}");
}

#[test]
fn basic_auth_login_pull_push_logout() {
    if no_registry() {
        return;
    }
    let reg = Registry::start(Some((USER, PASSWORD)));
    let host = reg.host();
    let ctx = Ctx::new(Env::with_busybox());
    let id = image_id(&ctx, IMAGE);
    let dest = format!("{host}/private/busybox:1");

    // Not logged in: refused with a message that says what to do.
    ctx.expect(&["push", "--tls-verify=false", IMAGE, &dest], 125)
        .stderr_has("authentication required");

    // A wrong password is refused by the registry and not saved.
    let o = ctx.expect(
        &[
            "login",
            "--tls-verify=false",
            "-u",
            USER,
            "-p",
            "wrong",
            &host,
        ],
        125,
    );
    o.stderr_has("invalid username/password");
    o.stderr_has(&host);
    assert_eq!(o.err().lines().count(), 1, "{o}");
    assert!(!ctx.auth.exists(), "a failed login wrote the auth file");

    let mut cmd = ctx.cmd(&[
        "login",
        "--tls-verify=false",
        "-u",
        USER,
        "--password-stdin",
        &host,
    ]);
    cmd.stdin(Stdio::piped());
    let o = run_command(cmd, Some(format!("{PASSWORD}\n").as_bytes()));
    o.success();
    assert_eq!(o.out(), "Login Succeeded!");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&ctx.auth).unwrap()).unwrap();
    assert!(saved["auths"][&host]["auth"].is_string(), "{saved}");

    ctx.ok(&["push", "--tls-verify=false", IMAGE, &dest]);
    ctx.ok(&["rmi", "-a", "-f"]);
    assert_eq!(
        ctx.ok(&["pull", "-q", "--tls-verify=false", &dest]).out(),
        id
    );
    assert_eq!(
        ctx.ok(&["run", "--rm", &dest, "echo", "authenticated"])
            .out(),
        "authenticated"
    );

    let o = ctx.ok(&["logout", &host]);
    assert_eq!(o.out(), format!("Removed login credentials for {host}"));
    ctx.expect(&["logout", &host], 125)
        .stderr_has("not logged into");

    // Logged out: the pull is refused and nothing is stored.
    ctx.ok(&["rmi", "-a", "-f"]);
    let o = ctx.expect(&["pull", "--tls-verify=false", &dest], 125);
    o.stderr_has("authentication required");
    o.stderr_has(&format!("berth login {host}"));
    assert_eq!(ctx.image_ids(), "");
    assert_eq!(ctx.tmp_entries(), Vec::<String>::new());

    // --creds and an explicit --authfile work without the default file.
    let creds = format!("{USER}:{PASSWORD}");
    ctx.ok(&["pull", "-q", "--tls-verify=false", "--creds", &creds, &dest]);
    let other = ctx.env.path().join("other-auth.json");
    let other_s = other.to_str().unwrap();
    ctx.ok(&[
        "login",
        "--tls-verify=false",
        "--authfile",
        other_s,
        "-u",
        USER,
        "-p",
        PASSWORD,
        &host,
    ]);
    ctx.ok(&["rmi", "-a", "-f"]);
    ctx.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--authfile",
        other_s,
        &dest,
    ]);
    ctx.ok(&["logout", "--authfile", other_s, "-a"])
        .stdout_has("all registries");
}

#[test]
fn short_names_resolve_through_registries_conf_and_run_pulls_missing_images() {
    if no_registry() {
        return;
    }
    let reg = Registry::start(None);
    let host = reg.host();
    let ctx = Ctx::new(Env::with_busybox());
    let id = image_id(&ctx, IMAGE);
    ctx.ok(&[
        "push",
        "--tls-verify=false",
        IMAGE,
        &format!("{host}/busybox:latest"),
    ]);
    ctx.ok(&["rmi", "-a", "-f"]);

    // Without a search list a short name cannot be pulled.
    ctx.expect(&["pull", "busybox"], 125)
        .stderr_has("unqualified-search registries");
    // localhost/ names are local only: never looked up in a registry.
    ctx.expect(&["pull", "localhost/busybox"], 125)
        .stderr_has("local");

    // First a registry that is not there, then ours (plain HTTP because
    // registries.conf marks it insecure: no --tls-verify needed).
    let dead = free_port();
    std::fs::write(
        &ctx.conf,
        format!(
            "unqualified-search-registries = [\"127.0.0.1:{dead}\", \"{host}\"]\n\n[[registry]]\nlocation = \"127.0.0.1:{dead}\"\ninsecure = true\n\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
        ),
    )
    .unwrap();
    let o = ctx.ok(&["pull", "busybox"]);
    assert_eq!(o.out(), id);
    o.stderr_has(&format!(
        "Trying to pull 127.0.0.1:{dead}/busybox:latest..."
    ));
    o.stderr_has(&format!("Trying to pull {host}/busybox:latest..."));
    ctx.ok(&["image", "exists", &format!("{host}/busybox:latest")]);

    // run/create pull a missing image (--pull=missing is the default).
    ctx.ok(&["rmi", "-a", "-f"]);
    ctx.expect(&["run", "--rm", "--pull=never", "busybox", "true"], 125)
        .stderr_has("busybox");
    assert_eq!(ctx.image_ids(), "");
    let o = ctx.ok(&["run", "--rm", "busybox", "echo", "from the registry"]);
    assert_eq!(o.out(), "from the registry");
    o.stderr_has("Trying to pull");
    // Present now: the default policy does not pull again.
    let o = ctx.ok(&["create", "--name", "c1", "busybox", "true"]);
    assert!(!o.err().contains("Trying to pull"), "{o}");
    let o = ctx.ok(&["create", "-q", "--pull=always", "--name", "c2", "busybox"]);
    assert_eq!(o.err(), "", "{o}");
    ctx.expect(&["create", "--pull=sometimes", "busybox"], 125)
        .stderr_has("pull policy");
}

#[test]
fn unknown_images_are_clear_errors_and_leave_nothing() {
    if no_registry() {
        return;
    }
    let reg = Registry::start(None);
    let ctx = Ctx::new(Env::with_busybox());
    let before = ctx.image_ids();
    for name in ["nosuch/image:1", "busybox:notatag"] {
        let full = format!("{}/{name}", reg.host());
        let o = ctx.expect(&["pull", "--tls-verify=false", &full], 125);
        o.stderr_has("manifest unknown");
        o.stderr_has(&full.replace(":1", "").replace(":notatag", ""));
        assert_eq!(ctx.tmp_entries(), Vec::<String>::new());
        assert_eq!(ctx.image_ids(), before);
    }
    // HTTPS against a plain-HTTP registry says how to fix it.
    let full = format!("{}/busybox", reg.host());
    ctx.expect(&["pull", &full], 125)
        .stderr_has("--tls-verify=false");
    // Nothing listening at all.
    let o = ctx.expect(
        &[
            "pull",
            "--tls-verify=false",
            &format!("127.0.0.1:{}/x", free_port()),
        ],
        125,
    );
    assert_eq!(o.err().lines().count(), 2, "{o}");
    assert_eq!(ctx.image_ids(), before);
}

// ---------------------------------------------------------------- fixture

/// A registry serving hand-made images, good and broken. It prints its
/// port, then serves `/v2/bad/manifests/<tag|digest>` and
/// `/v2/bad/blobs/<digest>`.
const FIXTURE: &str = r#"
import gzip, hashlib, io, json, sys, tarfile
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

def sha(b): return "sha256:" + hashlib.sha256(b).hexdigest()

def tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644; ti.mtime = 0
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()

blobs, manifests = {}, {}
OCI = "application/vnd.oci.image.manifest.v1+json"

import threading, time
slow_blobs, inflight, stats_lock = set(), [0, 0], threading.Lock()  # now, max

def image(tag, layer, diff_id=None, corrupt=False, mutate=None, arch="amd64",
          truncate=False, no_config=False, before=None, slow=False):
    gz = gzip.compress(layer, mtime=0)
    if truncate: gz = gz[:len(gz) // 2]  # served as is, under its own digest
    lower = before if isinstance(before, list) else ([before] if before else [])
    cfg = {"architecture": arch, "os": "linux", "config": {"Cmd": ["/hello"]},
           "rootfs": {"type": "layers", "diff_ids": [sha(l) for l in lower] + [diff_id or sha(layer)]}}
    if no_config: cfg["config"]["Env"] = ["NEVER_SERVED=1"]  # a config no other image shares
    cfg = json.dumps(cfg).encode()
    if not no_config: blobs[sha(cfg)] = cfg
    blobs[sha(gz)] = gz[:-1] + bytes([gz[-1] ^ 0xff]) if corrupt else gz
    descs = []
    for l in lower:
        lgz = gzip.compress(l, mtime=0)
        blobs[sha(lgz)] = lgz
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(lgz), "size": len(lgz)})
    m = {"schemaVersion": 2, "mediaType": OCI,
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(cfg), "size": len(cfg)},
         "layers": descs + [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(gz), "size": len(gz)}]}
    if mutate: mutate(m)
    if slow: slow_blobs.update(l["digest"] for l in m["layers"])
    body = json.dumps(m).encode()
    manifests[tag] = body
    return sha(body), len(body)

good = tar([("hello.txt", b"hello from the fixture\n")])
image("good", good)
image("blobmismatch", tar([("corrupt.txt", b"served corrupted\n")]), corrupt=True)
image("diffmismatch", good, diff_id=sha(b"something else"))
image("traversal", tar([("../../escaped.txt", b"out")]))
image("zstd", good, mutate=lambda m: m["layers"][0].update(mediaType="application/vnd.oci.image.layer.v1.tar+zstd"))
image("baddigest", good, mutate=lambda m: m["layers"][0].update(digest="sha256:../../etc/passwd"))
image("toobig", good, mutate=lambda m: m["layers"][0].update(size=m["layers"][0]["size"] - 10))
image("noconfig", good, no_config=True)
big = tar([("big.bin", bytes(range(256)) * 4096)])
image("truncgz", big, truncate=True)
image("truncgz2", big, truncate=True, before=tar([("lower.txt", b"a good lower layer\n")]))
image("slow", tar([("c.txt", b"c\n")]), before=[tar([("a.txt", b"a\n")]), tar([("b.txt", b"b\n")])], slow=True)
manifests["garbage"] = b"{this is not json"
manifests["schema1"] = json.dumps({"schemaVersion": 1, "name": "bad", "tag": "schema1", "fsLayers": []}).encode()
amd = image("amd64-only", tar([("arch.txt", b"amd64\n")]))
arm = image("arm64-only", tar([("arch.txt", b"arm64\n")]), arch="arm64")
def index(entries):
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": OCI, "digest": d, "size": n, "platform": {"os": "linux", "architecture": a}}
                      for (d, n), a in entries]}).encode()
manifests["multiarch"] = index([(arm, "arm64"), (amd, "amd64")])
manifests["armonly"] = index([(arm, "arm64")])
by_digest = {sha(b): b for b in manifests.values()}

class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body, ctype="application/json", digest=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if digest: self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def do_GET(self):
        p = self.path.split("?")[0]
        if p == "/v2/": return self.send(200, b"{}")
        if p == "/stats": return self.send(200, json.dumps({"max_inflight": inflight[1]}).encode())
        if p.startswith("/v2/bad/manifests/"):
            ref = p.rsplit("/", 1)[1]
            body = manifests.get(ref) or by_digest.get(ref)
            if body is not None:
                try: ctype = json.loads(body).get("mediaType", OCI)
                except Exception: ctype = OCI
                return self.send(200, body, ctype, sha(body))
        if p.startswith("/v2/bad/blobs/"):
            d = p.rsplit("/", 1)[1]
            if d in slow_blobs and self.command == "GET":
                # Layers served slowly, counting how many are in flight at once.
                with stats_lock: inflight[0] += 1; inflight[1] = max(inflight[1], inflight[0])
                time.sleep(0.5)
                with stats_lock: inflight[0] -= 1
            if d in blobs: return self.send(200, blobs[d], "application/octet-stream")
        self.send(404, json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}).encode())
    do_HEAD = do_GET

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// The python fixture registry; killed on drop.
struct Fixture {
    child: Child,
    port: u16,
}

impl Fixture {
    fn start(dir: &Path) -> Fixture {
        let script = dir.join("fixture_registry.py");
        std::fs::write(&script, FIXTURE).unwrap();
        let mut child = Command::new("python3")
            .arg(&script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting python3");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            let mut rest = String::new();
            let _ = out.read_to_string(&mut rest);
            panic!("fixture did not print a port: {line:?}{rest}")
        });
        Fixture { child, port }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Layers come down side by side: the fixture serves each of a
/// three-layer image's blobs slowly and counts how many are in flight.
#[test]
fn layers_are_downloaded_concurrently() {
    if no_registry() {
        return;
    }
    let ctx = Ctx::new(Env::new());
    let fx = Fixture::start(ctx.env.path());
    ctx.ok(&[
        "pull",
        "--tls-verify=false",
        &format!("127.0.0.1:{}/bad:slow", fx.port),
    ]);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", fx.port)).unwrap();
    std::io::Write::write_all(&mut s, b"GET /stats HTTP/1.0\r\n\r\n").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
    let stats: serde_json::Value = serde_json::from_str(body).unwrap();
    let max = stats["max_inflight"].as_u64().unwrap();
    assert!(max >= 2, "layers were fetched one at a time: {reply}");
}

#[test]
fn broken_images_are_rejected_and_leave_no_partial_image() {
    if no_registry() {
        return;
    }
    let ctx = Ctx::new(Env::new());
    let fx = Fixture::start(ctx.env.path());
    let name = |tag: &str| format!("127.0.0.1:{}/bad:{tag}", fx.port);
    let layers_dir = ctx.env.root.join("storage/layers");
    let count = |d: &Path| std::fs::read_dir(d).map(|r| r.count()).unwrap_or(0);

    for (tag, why) in [
        ("garbage", "malformed manifest"),
        ("schema1", "schema version 1"),
        ("blobmismatch", "digest"),
        ("diffmismatch", "diff ID"),
        ("traversal", "escaped.txt"),
        ("zstd", "unsupported layer media type"),
        ("baddigest", "invalid digest"),
        ("toobig", "bytes"),
        ("armonly", "no image for linux/amd64"),
        ("noconfig", "config"),
        ("truncgz", "truncated or corrupt data"),
        ("truncgz2", "incomplete"),
    ] {
        let o = ctx.expect(&["pull", "--tls-verify=false", &name(tag)], 125);
        let error = o.err().lines().last().unwrap_or_default();
        assert!(
            error.starts_with("Error: ")
                && error.contains(why)
                && error.contains(&format!("bad:{tag}")),
            "{tag}: want {why:?} and the image name in the error\n{o}"
        );
        assert_eq!(ctx.tmp_entries(), Vec::<String>::new(), "{tag}: tmp left");
        assert_eq!(count(&layers_dir), 0, "{tag}: a layer was stored");
        assert_eq!(ctx.image_ids(), "", "{tag}: an image appeared");
    }
    assert!(
        !ctx.env.path().join("escaped.txt").exists() && !ctx.env.root.join("escaped.txt").exists()
    );

    // The fixture's good images do pull: the rejections above are about
    // the breakage, not the fixture. A multi-arch index picks linux/amd64.
    ctx.ok(&["pull", "-q", "--tls-verify=false", &name("good")]);
    let o = ctx.ok(&["pull", "-q", "--tls-verify=false", &name("multiarch")]);
    let cfg = ctx.ok(&["image", "inspect", "-f", "{{.Architecture}}", o.out()]);
    assert_eq!(cfg.out(), "amd64");
    assert_eq!(ctx.image_ids().lines().count(), 2);
}
