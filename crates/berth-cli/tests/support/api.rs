//! Driving `berth system service` from tests: the service on a socket in
//! the env's temp dir, one raw HTTP/1.1 exchange, and real clients (the
//! docker CLI) pointed at it. Shared by `api.rs` and `api_clients.rs`.

#![allow(dead_code)] // each test binary uses a different subset

use crate::common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `berth system service` on a socket in the env's temp dir.
pub struct Service {
    pub child: Child,
    pub sock: PathBuf,
}

impl Service {
    pub fn start(env: &Env, time: &str) -> Service {
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

    pub fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// SIGTERM and reap; true if it exited within the limit.
    pub fn stop(&mut self) -> bool {
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
pub struct Resp {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
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

pub fn http(sock: &Path, method: &str, path: &str, body: Option<&Value>) -> Resp {
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
pub fn demux(mut b: &[u8]) -> (String, String) {
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

pub fn have(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A `docker ARGS` command pointed at `svc` (its own client config dir).
pub fn docker_cmd(svc: &Service, args: &[&str]) -> Command {
    let mut c = Command::new("docker");
    c.env("DOCKER_HOST", svc.host())
        .env(
            "DOCKER_CONFIG",
            svc.sock.parent().unwrap().join("docker-config"),
        )
        .args(args);
    c
}

/// `docker ARGS` against `svc` as a shell command line (for a tmux pane).
pub fn docker_line(svc: &Service, args: &[&str]) -> String {
    let cmd = docker_cmd(svc, args);
    let env: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v?.to_str()?)))
        .collect();
    format!("{} {}", env.join(" "), render(&cmd))
}

/// Run `docker ARGS` against `svc`.
pub fn docker(svc: &Service, args: &[&str]) -> Out {
    run_command(docker_cmd(svc, args), None)
}

/// Run `docker ARGS` against `svc` with `stdin` as its input.
pub fn docker_stdin(svc: &Service, args: &[&str], stdin: &[u8]) -> Out {
    run_command(docker_cmd(svc, args), Some(stdin))
}

/// True when the docker CLI is installed (client only: Debian's docker.io
/// or docker-cli); says why a test is skipped otherwise.
pub fn have_docker() -> bool {
    let ok = have("docker", &["--version"]);
    if !ok {
        eprintln!("skipping: no docker CLI (Debian package docker.io)");
    }
    ok
}

/// True when docker-py is importable.
pub fn have_docker_py() -> bool {
    let ok = have("python3", &["-c", "import docker"]);
    if !ok {
        eprintln!("skipping: no docker-py (Debian package python3-docker)");
    }
    ok
}
