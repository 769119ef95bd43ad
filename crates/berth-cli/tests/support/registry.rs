//! Debian's `docker-registry` on 127.0.0.1 for tests (without or with
//! htpasswd basic auth), killed on drop. Shared by `registry.rs` and
//! `api_networks.rs`.

#![allow(dead_code)] // each test binary uses a different subset

use crate::common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether the registry tests can run (root, runc, docker-registry).
pub fn no_registry() -> bool {
    if skip() {
        return true;
    }
    if Command::new("docker-registry")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: docker-registry is not installed (scripts/install-deps.sh)");
        return true;
    }
    false
}

/// One `GET /v2/` on `port`, returning the status line if anything answers.
pub fn probe(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    Some(line)
}

/// A `docker-registry serve` on 127.0.0.1 with storage in a temp dir;
/// killed (and waited for) on drop.
pub struct Registry {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Start one; `auth` turns on htpasswd basic auth for that user.
    pub fn start(auth: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("berth-registry-")
            .tempdir()
            .unwrap();
        let mut auth_conf = String::new();
        if let Some((user, pass)) = auth {
            let o = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("running htpasswd (apache2-utils)");
            assert!(o.status.success(), "htpasswd failed");
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, &o.stdout).unwrap();
            auth_conf = format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                file.display()
            );
        }
        // The port can be taken between our probe and the registry's bind:
        // then the registry exits and we try another one.
        for _ in 0..5 {
            let port = free_port();
            let conf = dir.path().join("config.yml");
            std::fs::write(
                &conf,
                format!(
                    "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth_conf}",
                    dir.path().join("data").display()
                ),
            )
            .unwrap();
            // Access log and messages both go to one file.
            let log = dir.path().join("registry.log");
            let log_f = std::fs::File::create(&log).unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(log_f.try_clone().unwrap())
                .stderr(log_f)
                .spawn()
                .expect("starting docker-registry");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if probe(port).is_some() {
                    return Registry {
                        child,
                        port,
                        log,
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    /// Where the registry keeps its blobs (`sha256/XX/DIGEST/data`).
    pub fn blobs_dir(&self) -> PathBuf {
        self._dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How many times the registry served `GET` for blob `short` (a
    /// 12-hex-digit digest prefix).
    pub fn blob_gets(&self, short: &str) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let needle = format!("/blobs/sha256:{short}");
        log.lines()
            .filter(|l| l.contains("\"GET ") && l.contains(&needle))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
