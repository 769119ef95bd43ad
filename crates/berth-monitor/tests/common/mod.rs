//! Test fixture: a busybox bundle, runc, and a berth-mon run with a sync
//! pipe on fd 3.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::Read;
use std::os::unix::io::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use berth_types::monitor::SyncMessage;

pub const RUNC: &str = "/usr/sbin/runc";
pub const MON: &str = env!("CARGO_BIN_EXE_berth-mon");

/// True if the tests can run here (root, runc, busybox); prints why not.
pub fn can_run() -> bool {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: berth-mon integration tests need root");
        return false;
    }
    if !Path::new(RUNC).exists() || busybox().is_none() {
        eprintln!("skipping: needs {RUNC} and a static busybox");
        return false;
    }
    true
}

fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// One container's world: bundle, runc root, monitor files.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub cid: String,
}

impl Env {
    /// A bundle running `args`; `pid_ns` adds a pid namespace.
    pub fn new(args: &[&str], pid_ns: bool) -> Env {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = tempfile::tempdir().unwrap();
        let cid = format!(
            "bmt-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let rootfs = dir.path().join("bundle/rootfs");
        for d in ["bin", "proc", "dev", "sys", "tmp"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy(busybox().unwrap(), rootfs.join("bin/busybox")).unwrap();
        for applet in [
            "sh", "true", "false", "echo", "cat", "sleep", "kill", "touch",
        ] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        let mut namespaces = vec![
            serde_json::json!({"type": "mount"}),
            serde_json::json!({"type": "ipc"}),
            serde_json::json!({"type": "uts"}),
        ];
        if pid_ns {
            namespaces.push(serde_json::json!({"type": "pid"}));
        }
        let config = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": 0, "gid": 0},
                "args": args,
                "env": ["PATH=/bin"],
                "cwd": "/"
            },
            "root": {"path": "rootfs", "readonly": false},
            "hostname": "bmt",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                 "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                 "options": ["nosuid", "noexec", "nodev", "ro"]}
            ],
            "linux": {"namespaces": namespaces}
        });
        std::fs::write(
            dir.path().join("bundle/config.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
        Env { dir, cid }
    }

    /// Change the bundle's config.json.
    pub fn edit_config(&self, edit: impl FnOnce(&mut serde_json::Value)) {
        let path = self.path("bundle/config.json");
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edit(&mut v);
        std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn runc_root(&self) -> PathBuf {
        self.path("runc-root")
    }

    /// The standard monitor command line plus `extra`.
    pub fn monitor_args(&self, extra: &[&str]) -> Vec<String> {
        let p = |n: &str| self.path(n).to_str().unwrap().to_string();
        let mut v: Vec<String> = vec![
            "--cid".into(),
            self.cid.clone(),
            "--bundle".into(),
            p("bundle"),
            "--runtime".into(),
            RUNC.into(),
            "--runtime-root".into(),
            p("runc-root"),
            "--pid-file".into(),
            p("pid"),
            "--exit-file".into(),
            p("exit"),
            "--log-path".into(),
            p("ctr.log"),
            "--attach-socket".into(),
            p("attach"),
            "--sync-fd".into(),
            "3".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    /// Start berth-mon; returns its (parent's) output and the sync message.
    pub fn monitor(&self, extra: &[&str]) -> (Output, SyncMessage) {
        let (out, text) = run_with_sync(&self.monitor_args(extra));
        assert!(out.status.success(), "berth-mon failed: {out:?}");
        (out, parse_sync(&text))
    }

    pub fn runc(&self, args: &[&str]) -> Output {
        let out = Command::new(RUNC)
            .arg("--root")
            .arg(self.runc_root())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "runc {args:?}: {out:?}");
        out
    }

    /// runc's state directory of this container.
    pub fn runc_state(&self) -> PathBuf {
        self.runc_root().join(&self.cid)
    }

    /// The k8s-file log with the timestamps cut off: `STREAM F|P TEXT`.
    pub fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("ctr.log"))
            .unwrap()
            .lines()
            .map(|l| l[36..].to_string())
            .collect()
    }

    pub fn start(&self) {
        self.runc(&["start", &self.cid]);
    }

    /// Wait for the exit file and parse it.
    pub fn exit_code(&self) -> i32 {
        let path = self.path("exit");
        wait_for(|| path.exists(), "exit file");
        std::fs::read_to_string(&path)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = Command::new(RUNC)
            .arg("--root")
            .arg(self.runc_root())
            .args(["delete", "-f", &self.cid])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Run berth-mon with `args` and a pipe on fd 3; returns the parent's
/// output and everything read from the pipe until EOF.
pub fn run_with_sync(args: &[String]) -> (Output, String) {
    let (out, r) = spawn_with_sync(args);
    (out, read_sync(r))
}

/// Run berth-mon with `args` and a pipe on fd 3 until its first process
/// exited (as the engine does); returns that output and the pipe's read end.
pub fn spawn_with_sync(args: &[String]) -> (Output, OwnedFd) {
    let (r, w): (OwnedFd, OwnedFd) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let wfd = w.as_raw_fd();
    let mut cmd = Command::new(MON);
    cmd.args(args).stdin(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if wfd == 3 {
                if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(wfd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // output() returns only when every holder of the stdout/stderr pipes is
    // gone: this also proves the detached monitor does not keep them.
    let out = cmd.output().unwrap();
    drop(w);
    (out, r)
}

/// Read the sync pipe until EOF.
pub fn read_sync(r: OwnedFd) -> String {
    let mut text = String::new();
    std::fs::File::from(r).read_to_string(&mut text).unwrap();
    text
}

/// Parse a sync message.
pub fn parse_sync(text: &str) -> SyncMessage {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("bad sync message {text:?}: {e}"))
}

/// Poll `cond` for up to 20 s.
pub fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait until `pid` is gone from /proc.
pub fn wait_gone(pid: i32) {
    let p = PathBuf::from(format!("/proc/{pid}"));
    wait_for(|| !p.exists(), &format!("pid {pid} to go away"));
}

/// Read attach frames until EOF: (stream byte, data) in order.
pub fn read_frames(mut s: &std::os::unix::net::UnixStream) -> Vec<(u8, Vec<u8>)> {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut frames = Vec::new();
    loop {
        let mut h = [0u8; berth_types::monitor::ATTACH_HEADER_LEN];
        match s.read_exact(&mut h) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return frames,
            Err(e) => panic!("attach read: {e}"),
        }
        let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
        let mut data = vec![0u8; len];
        s.read_exact(&mut data).unwrap();
        frames.push((h[0], data));
    }
}

/// Concatenate the data of frames on `stream`.
pub fn stream_data(frames: &[(u8, Vec<u8>)], stream: u8) -> String {
    let mut out = Vec::new();
    for (s, d) in frames {
        if *s == stream {
            out.extend_from_slice(d);
        }
    }
    String::from_utf8(out).unwrap()
}
