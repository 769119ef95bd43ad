//! The Docker Engine API as real clients use it: the docker CLI (client
//! only, never dockerd) and docker-py against `berth system service`, plus
//! raw HTTP for the hijacked attach stream's exact bytes. Each test skips
//! cleanly when its client is not installed.

mod common;

use common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "support/api.rs"]
mod api_support;
use api_support::*;

#[path = "support/tmux.rs"]
mod tmux;
use tmux::Tmux;

/// A service for a test that uses the docker CLI; `None` skips the test.
fn docker_env() -> Option<(Env, Service)> {
    if skip() || !have_docker() {
        return None;
    }
    let env = Env::with_busybox();
    let svc = Service::start(&env, "0");
    Some((env, svc))
}

#[test]
fn docker_run_in_the_foreground_prints_output_and_exits_with_the_code() {
    let Some((env, svc)) = docker_env() else {
        return;
    };
    let o = docker(&svc, &["run", "--rm", IMAGE, "echo", "hi"]);
    assert_eq!(o.success().out(), "hi");
    let name = unique("fg");
    let o = docker(
        &svc,
        &[
            "run",
            "--name",
            &name,
            IMAGE,
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    );
    o.code(3);
    assert_eq!((o.out(), o.err()), ("out", "err"));
    assert_eq!(o.out(), "out");
    let o = docker_stdin(&svc, &["run", "-i", "--rm", IMAGE, "cat"], b"piped\n");
    assert_eq!(o.success().out(), "piped");
    // A start that fails: 127, and `--rm` leaves nothing (the CLI waits for
    // the removal before it exits).
    docker(&svc, &["run", "--rm", IMAGE, "nosuchcmd"])
        .code(127)
        .stderr_has("nosuchcmd");
    // `--rm` left nothing; the other one is there, exited with 3.
    assert_eq!(env.all_ids().len(), 1);
    assert_eq!(env.inspect(&name)["State"]["ExitCode"], 3);
    docker(&svc, &["rm", &name]).success();
}

#[test]
fn docker_exec_and_logs_follow() {
    let Some((_env, svc)) = docker_env() else {
        return;
    };
    let name = unique("ex");
    docker(&svc, &["run", "-d", "--name", &name, IMAGE, "sleep", "300"]).success();
    let o = docker(&svc, &["exec", &name, "sh", "-c", "echo in-exec; exit 4"]);
    assert_eq!(o.code(4).out(), "in-exec");
    let o = docker_stdin(&svc, &["exec", "-i", &name, "cat"], b"to-exec\n");
    assert_eq!(o.success().out(), "to-exec");
    docker(&svc, &["exec", "-d", &name, "touch", "/tmp/detached"]).success();
    wait_until("the detached exec", || {
        docker(&svc, &["exec", &name, "test", "-e", "/tmp/detached"]).code == 0
    });
    docker(&svc, &["exec", &name, "nosuchcmd"])
        .code(127)
        .stderr_has("nosuchcmd");
    docker(&svc, &["rm", "-f", &name]).success();

    // `logs -f` follows until the container exits (bounded by its script).
    let name = unique("lf");
    docker(
        &svc,
        &[
            "run",
            "-d",
            "--name",
            &name,
            IMAGE,
            "sh",
            "-c",
            "for i in 1 2 3; do echo l$i; sleep 0.3; done; echo e >&2",
        ],
    )
    .success();
    let o = docker(&svc, &["logs", "-f", &name]);
    assert_eq!(o.success().lines(), ["l1", "l2", "l3"]);
    assert_eq!(o.err(), "e");
    docker(&svc, &["rm", &name]).success();
}

#[test]
fn docker_cp_both_ways_export_and_diff() {
    let Some((env, svc)) = docker_env() else {
        return;
    };
    let name = unique("cp");
    docker(&svc, &["run", "-d", "--name", &name, IMAGE, "sleep", "300"]).success();
    let host = env.path().join("host");
    std::fs::create_dir_all(host.join("dir/sub")).unwrap();
    std::fs::write(host.join("file.txt"), "from-host\n").unwrap();
    std::fs::write(host.join("dir/sub/deep"), "deep\n").unwrap();
    let file = host.join("file.txt");
    let dir = host.join("dir");
    docker(
        &svc,
        &["cp", file.to_str().unwrap(), &format!("{name}:/tmp/")],
    )
    .success();
    docker(
        &svc,
        &["cp", dir.to_str().unwrap(), &format!("{name}:/tmp/d2")],
    )
    .success();
    let o = docker(
        &svc,
        &["exec", &name, "cat", "/tmp/file.txt", "/tmp/d2/sub/deep"],
    );
    assert_eq!(o.success().lines(), ["from-host", "deep"]);

    let back = env.path().join("back");
    std::fs::create_dir(&back).unwrap();
    let to = back.to_str().unwrap();
    docker(&svc, &["cp", &format!("{name}:/tmp/d2"), to]).success();
    assert_eq!(
        std::fs::read_to_string(back.join("d2/sub/deep")).unwrap(),
        "deep\n"
    );
    docker(&svc, &["cp", &format!("{name}:/etc/hostname"), to]).success();
    assert!(back.join("hostname").is_file());
    docker(&svc, &["cp", &format!("{name}:/nope"), to])
        .code(1)
        .stderr_has("Could not find the file /nope");

    let diff = docker(&svc, &["diff", &name]);
    diff.success().stdout_has("A /tmp/file.txt");
    let tar = env.path().join("export.tar");
    docker(&svc, &["export", "-o", tar.to_str().unwrap(), &name]).success();
    let mut c = Command::new("tar");
    c.arg("tf").arg(&tar);
    run_command(c, None)
        .success()
        .stdout_has("tmp/file.txt")
        .stdout_has("bin/sh");
    docker(&svc, &["rm", "-f", &name]).success();
}

#[test]
fn docker_save_load_tag_volumes_and_df() {
    let Some((env, svc)) = docker_env() else {
        return;
    };
    let tag = format!("localhost/{}:v1", unique("tagged"));
    docker(&svc, &["tag", IMAGE, &tag]).success();
    docker(&svc, &["images"]).success().stdout_has("v1");
    docker(&svc, &["history", &tag])
        .success()
        .stdout_has("CREATED BY");
    let tar = env.path().join("saved.tar");
    docker(&svc, &["save", "-o", tar.to_str().unwrap(), &tag]).success();
    docker(&svc, &["rmi", &tag])
        .success()
        .stdout_has("Untagged");
    // `docker save | docker load` through pipes, as a person types it.
    let line = format!(
        "DOCKER_HOST={h} docker save {IMAGE} | DOCKER_HOST={h} docker load",
        h = svc.host()
    );
    let mut c = Command::new("sh");
    c.args(["-c", &line]);
    run_command(c, None)
        .success()
        .stdout_has(&format!("Loaded image: {IMAGE}"));
    let o = docker_stdin(&svc, &["load"], &std::fs::read(&tar).unwrap());
    o.success().stdout_has(&tag);

    let vol = unique("vol");
    docker(&svc, &["volume", "create", &vol]).success();
    docker(&svc, &["volume", "create", &vol]).success(); // idempotent
    docker(&svc, &["volume", "ls"]).success().stdout_has(&vol);
    let ins = docker(&svc, &["volume", "inspect", &vol]).success().json();
    assert_eq!(ins[0]["Driver"], "local");
    let user = unique("voluser");
    docker(
        &svc,
        &[
            "run",
            "--name",
            &user,
            "-v",
            &format!("{vol}:/data"),
            IMAGE,
            "sh",
            "-c",
            "echo kept > /data/f",
        ],
    )
    .success();
    docker(&svc, &["volume", "rm", &vol])
        .code(1)
        .stderr_has(&vol);
    docker(&svc, &["system", "df"])
        .success()
        .stdout_has("Local Volumes");
    docker(&svc, &["rm", &user]).success();
    docker(&svc, &["volume", "rm", &vol]).success();
    docker(&svc, &["volume", "inspect", &vol]).code(1);
    docker(&svc, &["rmi", &tag]).success();
}

#[test]
fn docker_run_it_through_a_real_pty() {
    let Some((env, svc)) = docker_env() else {
        return;
    };
    let name = unique("it");
    let line = docker_line(&svc, &["run", "-it", "--name", &name, IMAGE, "sh"]);
    let Some(t) = Tmux::start_line(&line) else {
        return;
    };
    t.expect("/ #");
    t.keys(&[
        "tty; until stty size >/dev/null 2>&1; do sleep 0.1; done; stty size",
        "Enter",
    ]);
    t.expect("/dev/pts/");
    t.expect("30 100");
    // Window-size changes arrive as POST /containers/{id}/resize.
    t.resize(80, 24);
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["clear; stty size", "Enter"]);
    t.expect("24 80");
    t.keys(&["exit 7", "Enter"]);
    t.expect("EXITED 7");

    // The detach keys are the server's business: the container runs on.
    let name2 = unique("it");
    let line = docker_line(&svc, &["run", "-it", "--name", &name2, IMAGE, "sh"]);
    let t = Tmux::start_line(&line).unwrap();
    t.expect("/ #");
    t.keys(&["C-p", "C-q"]);
    t.expect("EXITED 0");
    assert_eq!(env.status(&name2), "running");
    // And docker exec -it gets its own terminal, sized by
    // POST /exec/{id}/resize.
    let e = Tmux::start_line(&docker_line(&svc, &["exec", "-it", &name2, "sh"])).unwrap();
    e.expect("/ #");
    // The client sends the size right after the start: under load the
    // shell may read this line first, so wait for a size to be set.
    e.keys(&[
        "until stty size >/dev/null 2>&1; do sleep 0.1; done; stty size; echo exec-$((2*3)); exit 5",
        "Enter",
    ]);
    e.expect("30 100");
    e.expect("exec-6");
    e.expect("EXITED 5");
    docker(&svc, &["rm", "-f", &name, &name2]).success();
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn docker_events_stream_while_another_client_works() {
    let Some((env, svc)) = docker_env() else {
        return;
    };
    let name = unique("ev");
    let since = (unix_now() - 1).to_string();
    let log = env.path().join("events.txt");
    let mut events = docker_cmd(
        &svc,
        &[
            "events",
            "--since",
            &since,
            "--filter",
            &format!("container={name}"),
            "--filter",
            "event=start",
            "--filter",
            "event=die",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ],
    )
    .stdout(std::fs::File::create(&log).unwrap())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    docker(&svc, &["run", "--name", &name, IMAGE, "true"]).success();
    wait_until("the die event", || {
        std::fs::read_to_string(&log).is_ok_and(|s| s.contains("die"))
    });
    let _ = events.kill();
    let _ = events.wait();
    let seen = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        seen.lines().collect::<Vec<_>>(),
        [format!("start {name}"), format!("die {name}")]
    );
    // since/until without streaming: the past, then it returns.
    let until = (unix_now() + 1).to_string();
    let o = docker(
        &svc,
        &[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "type=container",
            "--filter",
            &format!("container={name}"),
            "--format",
            "{{.Action}}",
        ],
    );
    // berth's own "cleanup" may follow; Docker's clients ignore actions
    // they do not know.
    assert_eq!(o.success().lines()[..3], ["create", "start", "die"]);
    docker(&svc, &["rm", &name]).success();
}

#[test]
fn docker_top_stats_pause_rename_update_prune() {
    let Some((env, svc)) = docker_env() else {
        return;
    };
    let name = unique("mg");
    docker(&svc, &["run", "-d", "--name", &name, IMAGE, "sleep", "300"]).success();
    docker(&svc, &["top", &name])
        .success()
        .stdout_has("sleep 300");
    docker(&svc, &["stats", "--no-stream", &name])
        .success()
        .stdout_has(&name);
    docker(&svc, &["pause", &name]).success();
    let ps = docker(&svc, &["ps", "--format", "{{.Names}} {{.Status}}"]);
    ps.success().stdout_has("(Paused)");
    docker(&svc, &["unpause", &name]).success();
    let renamed = unique("mg2");
    docker(&svc, &["rename", &name, &renamed]).success();
    docker(
        &svc,
        &[
            "update",
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            "--restart",
            "on-failure:2",
            &renamed,
        ],
    )
    .success();
    let h = &env.inspect(&renamed)["HostConfig"];
    assert_eq!(h["Memory"], 64 * 1024 * 1024);
    assert_eq!(h["PidsLimit"], 50);
    assert_eq!(h["RestartPolicy"]["Name"], "on-failure");
    let id = env.inspect(&renamed)["Id"].as_str().unwrap().to_string();
    docker(&svc, &["stop", "-t", "1", &renamed]).success();
    docker(&svc, &["container", "prune", "-f"])
        .success()
        .stdout_has(&id);
    assert!(env.all_ids().is_empty());
}

/// docker-py's high-level API: `run` without detach, exec, archives, and a
/// loop of create/start/wait/remove.
#[test]
fn docker_py_run_exec_archive_and_loop() {
    if skip() || !have_docker_py() {
        return;
    }
    let env = Env::with_busybox();
    let svc = Service::start(&env, "0");
    let script = r#"
import docker, io, sys, tarfile
c = docker.DockerClient(base_url=sys.argv[1], version="auto")
img = sys.argv[2]
assert c.containers.run(img, ["sh", "-c", "echo hi"], remove=True) == b"hi\n"
try:
    c.containers.run(img, ["sh", "-c", "echo bad >&2; exit 2"], remove=True)
    sys.exit("no ContainerError")
except docker.errors.ContainerError as e:
    assert e.exit_status == 2 and e.stderr == b"bad\n", (e.exit_status, e.stderr)

ctr = c.containers.run(img, ["sleep", "300"], detach=True)
r = ctr.exec_run(["sh", "-c", "echo py-exec; exit 5"])
assert (r.exit_code, r.output) == (5, b"py-exec\n"), r
r = ctr.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
assert r.output == (b"o\n", b"e\n"), r

buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    data = b"archived\n"
    info = tarfile.TarInfo("put.txt")
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
assert ctr.put_archive("/tmp", buf.getvalue())
stream, stat = ctr.get_archive("/tmp/put.txt")
assert stat["name"] == "put.txt" and stat["size"] == 9, stat
got = tarfile.open(fileobj=io.BytesIO(b"".join(stream)))
assert got.extractfile("put.txt").read() == b"archived\n"
_, stat = ctr.get_archive("/tmp")
assert stat["mode"] & (1 << 31), stat  # Go's os.ModeDir
try:
    ctr.get_archive("/nope")
    sys.exit("no NotFound")
except docker.errors.NotFound:
    pass

s = ctr.stats(stream=False)
assert s["memory_stats"]["usage"] > 0 and s["pids_stats"]["current"] == 1, s
assert "sleep" in " ".join(ctr.top()["Processes"][0])
ctr.remove(force=True)

for i in range(20):
    x = c.containers.create(img, ["sh", "-c", "exit %d" % (i % 3)])
    x.start()
    assert x.wait()["StatusCode"] == i % 3
    x.remove()
assert c.containers.list(all=True) == []
v = c.volumes.create("pyvol")
assert c.volumes.get("pyvol").name == "pyvol"
v.remove()
print("ok")
"#;
    let mut c = Command::new("python3");
    c.args(["-c", script, &svc.host(), IMAGE]);
    assert_eq!(run_command(c, None).success().out(), "ok");
    assert!(env.all_ids().is_empty());
}

/// Read one HTTP response head from `s`: status line and headers.
fn read_head(s: &mut UnixStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1, "connection closed in the head");
        head.push(b[0]);
    }
    String::from_utf8(head).unwrap()
}

/// The hijacked attach on the wire: `101` with `Upgrade: tcp`, stdin in,
/// Docker's 8-byte frames out, and the stream attached before the start
/// gets every byte.
#[test]
fn attach_hijack_on_the_wire_and_304s() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let svc = Service::start(&env, "0");
    let s = &svc.sock;
    let body = json!({
        "Image": IMAGE, "Cmd": ["sh", "-c", "cat; echo done >&2"],
        "OpenStdin": true, "StdinOnce": true, "AttachStdin": true,
    });
    let r = http(s, "POST", "/v1.41/containers/create", Some(&body));
    let id = r.json()["Id"].as_str().unwrap().to_string();

    let mut conn = UnixStream::connect(s).unwrap();
    conn.set_read_timeout(Some(CMD_TIMEOUT)).unwrap();
    write!(
        conn,
        "POST /v1.41/containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n\
         Host: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let head = read_head(&mut conn);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("upgrade: tcp"), "{head}");
    assert!(
        lower.contains("application/vnd.docker.multiplexed-stream"),
        "{head}"
    );
    assert_eq!(
        http(s, "POST", &format!("/containers/{id}/start"), None).status,
        204
    );
    conn.write_all(b"abc\n").unwrap();
    conn.shutdown(std::net::Shutdown::Write).unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    assert_eq!(demux(&raw), ("abc\n".into(), "done\n".into()));
    let w = http(s, "POST", &format!("/containers/{id}/wait"), None);
    assert_eq!(w.json()["StatusCode"], 0);

    // 304s from the state table; 409 for a state it refuses.
    assert_eq!(
        http(s, "POST", &format!("/containers/{id}/stop"), None).status,
        304
    );
    let body = json!({"Image": IMAGE, "Cmd": ["sleep", "300"]});
    let r = http(s, "POST", "/containers/create", Some(&body));
    let id2 = r.json()["Id"].as_str().unwrap().to_string();
    assert_eq!(
        http(s, "POST", &format!("/containers/{id2}/start"), None).status,
        204
    );
    assert_eq!(
        http(s, "POST", &format!("/containers/{id2}/start"), None).status,
        304
    );
    assert_eq!(
        http(s, "POST", &format!("/containers/{id2}/pause"), None).status,
        204
    );
    let r = http(s, "POST", &format!("/containers/{id2}/start"), None);
    assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        http(s, "POST", &format!("/containers/{id2}/unpause"), None).status,
        204
    );

    // Exec over HTTP: create, detached start, inspect; unknown ones 404.
    let r = http(
        s,
        "POST",
        &format!("/containers/{id2}/exec"),
        Some(&json!({"Cmd": ["sh", "-c", "exit 6"]})),
    );
    assert_eq!(r.status, 201);
    let eid = r.json()["Id"].as_str().unwrap().to_string();
    let ins = http(s, "GET", &format!("/exec/{eid}/json"), None).json();
    assert_eq!(ins["Running"], false);
    let r = http(
        s,
        "POST",
        &format!("/exec/{eid}/start"),
        Some(&json!({"Detach": true})),
    );
    assert_eq!(r.status, 200);
    wait_until("the exec's exit code", || {
        http(s, "GET", &format!("/exec/{eid}/json"), None).json()["ExitCode"] == 6
    });
    let r = http(
        s,
        "POST",
        &format!("/exec/{eid}/start"),
        Some(&json!({"Detach": true})),
    );
    assert_eq!(r.status, 409, "a session starts once");
    assert_eq!(http(s, "GET", "/exec/nosuch/json", None).status, 404);

    // Archive stat header: base64 JSON with Go's mode bits.
    let r = http(
        s,
        "HEAD",
        &format!("/containers/{id2}/archive?path=/etc"),
        None,
    );
    assert_eq!(r.status, 200);
    assert!(r.header("X-Docker-Container-Path-Stat").is_some());
    let r = http(
        s,
        "GET",
        &format!("/containers/{id2}/archive?path=/nope"),
        None,
    );
    assert_eq!(r.status, 404);
    assert_eq!(http(s, "GET", "/volumes/nosuch", None).status, 404);
    let r = http(s, "POST", &format!("/containers/{id2}/kill"), None);
    assert_eq!(r.status, 204);
    assert_eq!(
        http(s, "DELETE", &format!("/containers/{id2}?force=1"), None).status,
        204
    );
    assert_eq!(
        http(s, "DELETE", &format!("/containers/{id}"), None).status,
        204
    );
}
