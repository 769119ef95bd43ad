//! Attach over a websocket (`GET /containers/{id}/attach/ws`) with a real
//! client: docker-py's `attach_socket(..., ws=True)` and the
//! websocket-client library it uses (Debian `python3-websocket`). docker-py
//! builds the URL and parameters; its connection is pointed at the unix
//! socket (docker-py itself only dials TCP for websockets).

mod common;

use common::*;
use std::process::Command;

#[path = "support/api.rs"]
mod api_support;
use api_support::*;

/// Shared by the scenarios: a docker-py client on the service's socket
/// whose websocket connections go through that socket too, and helpers to
/// read frames until the server's close.
const PRELUDE: &str = r#"
import docker, socket, sys, time, websocket
from websocket import ABNF

SOCK, IMG = sys.argv[1], sys.argv[2]

def client(version="auto"):
    c = docker.APIClient(base_url="unix://" + SOCK, version=version)
    def connect(url):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(SOCK)
        url = url.replace("http+docker://localhost", "ws://localhost", 1)
        return websocket.create_connection(url, socket=s, timeout=60)
    c._create_websocket_connection = connect
    return c

def read_until(ws, want):
    """Frames until the bytes seen contain `want`; returns (opcodes, bytes)."""
    ops, got = set(), b""
    while want not in got:
        op, data = ws.recv_data(control_frame=True)
        assert op != ABNF.OPCODE_CLOSE, ("closed early", got)
        ops.add(op)
        got += data
    return ops, got

def read_to_close(ws):
    """Frames until the server closes; returns (bytes, close code)."""
    got = b""
    while True:
        op, data = ws.recv_data(control_frame=True)
        if op == ABNF.OPCODE_CLOSE:
            return got, int.from_bytes(data[:2], "big")
        assert op == ABNF.OPCODE_BINARY, op
        got += data
"#;

fn run_py(env: &Env, svc: &Service, python: &str, scenario: &str) {
    let mut c = Command::new(python);
    let sock = svc.sock.to_str().unwrap();
    c.args(["-c", &format!("{PRELUDE}\n{scenario}"), sock, IMAGE]);
    assert_eq!(run_command(c, None).success().out(), "ok");
    assert!(
        env.all_ids().is_empty(),
        "the scenario removes its containers"
    );
}

/// The first Python with both docker-py and websocket-client: `python3`
/// on the PATH, else Debian's (a PATH may lead to another Python, such as
/// pyenv's, without the Debian packages).
fn python() -> Option<&'static str> {
    let found = ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|py| have(py, &["-c", "import docker, websocket"]));
    if found.is_none() {
        eprintln!(
            "skipping: no Python with docker-py and websocket-client \
             (Debian packages python3-docker, python3-websocket)"
        );
    }
    found
}

/// The env, the service and the Python to drive it; `None` skips.
fn py_env() -> Option<(Env, Service, &'static str)> {
    if skip() {
        return None;
    }
    let py = python()?;
    let env = Env::with_busybox();
    let svc = Service::start(&env, "0");
    Some((env, svc, py))
}

/// A running `cat`: typed input comes back in binary frames (input sent as
/// binary or text frames alike), and when the container is killed the
/// server closes the websocket with 1000.
#[test]
fn ws_attach_relays_input_and_output_and_closes_with_the_container() {
    let Some((env, svc, py)) = py_env() else {
        return;
    };
    run_py(
        &env,
        &svc,
        py,
        r#"
c = client()
ctr = c.create_container(IMG, ["cat"], stdin_open=True)["Id"]
c.start(ctr)
ws = c.attach_socket(ctr, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}, ws=True)
ws.send_binary(b"hello over ws\n")
ops, got = read_until(ws, b"hello over ws\n")
assert ops == {ABNF.OPCODE_BINARY}, ops
assert got == b"hello over ws\n", got
ws.send("typed as text\n")
ops, got = read_until(ws, b"typed as text\n")
assert got == b"typed as text\n", got

c.kill(ctr)
rest, code = read_to_close(ws)
assert (rest, code) == (b"", 1000), (rest, code)
assert c.wait(ctr)["StatusCode"] == 137
c.remove_container(ctr)
print("ok")
"#,
    );
}

/// Attached before the start (as `docker run` does): both streams arrive
/// unframed, nothing before the attach is lost, and the websocket closes
/// when the process exits. `logs=1` replays what was logged already.
#[test]
fn ws_attach_before_the_start_gets_all_output_then_the_close() {
    let Some((env, svc, py)) = py_env() else {
        return;
    };
    run_py(
        &env,
        &svc,
        py,
        r#"
c = client()
cmd = ["sh", "-c", "echo to-out; echo to-err >&2; sleep 0.2; echo last"]
ctr = c.create_container(IMG, cmd)["Id"]
ws = c.attach_socket(ctr, params={"stdout": 1, "stderr": 1, "stream": 1}, ws=True)
c.start(ctr)
got, code = read_to_close(ws)
assert code == 1000, code
assert sorted(got.decode().splitlines()) == ["last", "to-err", "to-out"], got
assert got.endswith(b"last\n"), got
assert c.wait(ctr)["StatusCode"] == 0

# logs=1 without stream: the log, then the close. Only stderr asked for.
ws = c.attach_socket(ctr, params={"logs": 1, "stream": 0, "stdout": 0, "stderr": 1}, ws=True)
got, code = read_to_close(ws)
assert (got, code) == (b"to-err\n", 1000), (got, code)
c.remove_container(ctr)
print("ok")
"#,
    );
}

/// Docker's version rules and the shared attach machinery: before API 1.28
/// output comes in text frames and before 1.42 every stream is attached
/// whatever the query says; the detach keys end the websocket and leave the
/// container running (a terminal, so the client's end leaves its input
/// open), and another client attaches after; an unknown container is a plain 404 before any
/// handshake.
#[test]
fn ws_attach_old_versions_detach_keys_and_404() {
    let Some((env, svc, py)) = py_env() else {
        return;
    };
    run_py(
        &env,
        &svc,
        py,
        r#"
old = client(version="1.25")
ctr = old.create_container(IMG, ["cat"], stdin_open=True)["Id"]
old.start(ctr)
ws = old.attach_socket(ctr, params={"stdin": 0, "stdout": 0, "stream": 1}, ws=True)
ws.send("old client\n")
ops, got = read_until(ws, b"old client\n")
assert ops == {ABNF.OPCODE_TEXT}, ops
ws.close()
old.remove_container(ctr, force=True)

# A terminal: the client's end never closes its input.
c = client()
ctr = c.create_container(IMG, ["cat"], stdin_open=True, tty=True)["Id"]
c.start(ctr)
ws = c.attach_socket(ctr, params={"stdin": 1, "stdout": 1, "stream": 1, "detachKeys": "ctrl-x"}, ws=True)
ws.send_binary(b"before detach\n")
read_until(ws, b"before detach\r\n")
ws.send_binary(b"\x18")
got, code = read_to_close(ws)
assert code == 1000, code
assert c.inspect_container(ctr)["State"]["Running"], "detaching leaves it running"
ws = c.attach_socket(ctr, params={"stdin": 1, "stdout": 1, "stream": 1}, ws=True)
ws.send_binary(b"again\n")
read_until(ws, b"again\r\n")
ws.close()

try:
    c.attach_socket("nosuch-ws", params={"stream": 1}, ws=True)
    sys.exit("attached to a missing container")
except websocket.WebSocketBadStatusException as e:
    assert e.status_code == 404, e.status_code
c.remove_container(ctr, force=True)
print("ok")
"#,
    );
}
