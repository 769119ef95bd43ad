//! Black-box e2e harness: every test gets its own `--root`/`--runroot` in a
//! temporary directory and drives the real `berth` binary against real runc
//! and real overlay mounts (Podman's bats style, in Rust).
//!
//! `Env::new()` is an empty engine, `Env::with_busybox()` has the test image
//! (`scripts/build-busybox-image.sh`, built once per `target/` directory)
//! loaded. Dropping an `Env` removes its containers, kills whatever is left
//! of them, unmounts anything still mounted below its directory and deletes
//! it, so a failing test leaks nothing.
//!
//! Commands' output goes to anonymous temporary files, not pipes: a process
//! that wrongly keeps an inherited stdout open (a daemonized monitor) cannot
//! make a test hang; it is caught by `monitor.rs` instead.

#![allow(dead_code)] // each test binary uses a different subset

use std::fmt;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use serde_json::Value;

/// The test image's name as `berth load` reports it.
pub const IMAGE: &str = "localhost/busybox:latest";

/// How long any single berth command may take before the test fails (a
/// hang is a bug; this only bounds it, it is not a timing assertion).
pub const CMD_TIMEOUT: Duration = Duration::from_secs(120);

/// How long `wait_until` polls for an asynchronous outcome.
pub const WAIT_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- binaries

/// The `berth` binary cargo built for this test run.
pub fn berth_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("berth")
}

/// `target/debug` (where `berth` and `berth-mon` live).
pub fn bin_dir() -> PathBuf {
    berth_bin()
        .parent()
        .expect("berth binary has a parent directory")
        .to_path_buf()
}

/// The cargo target directory (`target/`).
pub fn target_dir() -> PathBuf {
    let dir = bin_dir();
    dir.parent().map(Path::to_path_buf).unwrap_or(dir)
}

/// The workspace root.
pub fn repo_root() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    p.canonicalize().unwrap_or(p)
}

/// Why these tests cannot run here, if they cannot.
fn skip_reason() -> Option<&'static str> {
    static REASON: OnceLock<Option<&'static str>> = OnceLock::new();
    *REASON.get_or_init(|| {
        if unsafe { libc::geteuid() } != 0 {
            return Some("berth e2e tests need root (runc, overlay mounts)");
        }
        if find_runc().is_none() {
            return Some("berth e2e tests need runc in PATH or /usr/sbin");
        }
        None
    })
}

/// The runc binary, if installed.
pub fn find_runc() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"].map(PathBuf::from))
        .map(|d| d.join("runc"))
        .find(|p| p.is_file())
}

/// True (after printing why) when the e2e tests cannot run on this host.
/// Every test starts with `if skip() { return; }`.
pub fn skip() -> bool {
    match skip_reason() {
        Some(why) => {
            eprintln!("skipping: {why}");
            true
        }
        None => false,
    }
}

/// Make sure `berth-mon` sits beside `berth` (cargo only builds the bins of
/// the package under test); build it once if it is missing.
pub fn ensure_monitor() -> PathBuf {
    static MON: OnceLock<PathBuf> = OnceLock::new();
    MON.get_or_init(|| {
        let mon = bin_dir().join("berth-mon");
        if !mon.is_file() {
            let _lock = DirLock::new(&target_dir().join("berth-e2e-build.lock"));
            if !mon.is_file() {
                let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
                let status = Command::new(cargo)
                    .args(["build", "-p", "berth-monitor", "--bin", "berth-mon"])
                    .current_dir(repo_root())
                    .status()
                    .expect("running cargo build for berth-mon");
                assert!(status.success(), "cargo build -p berth-monitor failed");
            }
        }
        assert!(mon.is_file(), "{} missing after build", mon.display());
        mon
    })
    .clone()
}

/// An exclusive `flock` on a file, held while the value lives: serializes
/// one-time builds between test binaries running in parallel.
struct DirLock(std::fs::File);

impl DirLock {
    fn new(path: &Path) -> DirLock {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("opening lock {}: {e}", path.display()));
        f.lock()
            .unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
        DirLock(f)
    }
}

/// The busybox docker-archive, built once per target dir (and again when the
/// script is newer than the archive). Built to a temporary name and renamed
/// under a flock, so parallel test binaries never see a partial file.
pub fn busybox_archive() -> PathBuf {
    static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
    ARCHIVE
        .get_or_init(|| {
            let dir = target_dir().join("test-images");
            let out = dir.join("busybox.tar");
            let script = repo_root().join("scripts/build-busybox-image.sh");
            let fresh = |out: &Path| {
                let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
                match (mtime(out), mtime(&script)) {
                    (Some(a), Some(s)) => a >= s,
                    (Some(_), None) => true,
                    _ => false,
                }
            };
            if fresh(&out) {
                return out;
            }
            let _lock = DirLock::new(&dir.join(".build.lock"));
            if !fresh(&out) {
                let tmp = dir.join(format!("busybox.tar.tmp{}", std::process::id()));
                let o = Command::new("bash")
                    .arg(&script)
                    .arg(&tmp)
                    .stdin(Stdio::null())
                    .output()
                    .expect("running build-busybox-image.sh");
                assert!(
                    o.status.success(),
                    "{} {} failed: {}\n{}",
                    script.display(),
                    tmp.display(),
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                std::fs::rename(&tmp, &out).unwrap();
            }
            out
        })
        .clone()
}

// ---------------------------------------------------------------- output

/// One finished command: what ran, its output and exit code (`-N` when it
/// was killed by signal N).
#[derive(Clone)]
pub struct Out {
    pub cmd: String,
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$ {}\n[exit {}]\n--- stdout ---\n{}--- stderr ---\n{}--------------",
            self.cmd, self.code, self.stdout, self.stderr
        )
    }
}

impl fmt::Debug for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Out {
    /// Panic (showing command and output) unless the exit code is `code`.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Out {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }

    /// Panic unless the command succeeded.
    #[track_caller]
    pub fn success(&self) -> &Out {
        self.code(0)
    }

    /// Trimmed stdout.
    pub fn out(&self) -> &str {
        self.stdout.trim()
    }

    /// Trimmed stderr.
    pub fn err(&self) -> &str {
        self.stderr.trim()
    }

    /// Non-empty stdout lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// Panic unless stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Out {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
        self
    }

    /// Panic unless stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Out {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{self}"
        );
        self
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
}

fn quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// Shell-like rendering of a command line for messages.
pub fn render(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run `cmd` to completion with `stdin` (or /dev/null), capturing output in
/// anonymous files, killing it after `CMD_TIMEOUT`.
pub fn run_command(mut cmd: Command, stdin: Option<&[u8]>) -> Out {
    let rendered = render(&cmd);
    let mut out_f = tempfile::tempfile().unwrap();
    let mut err_f = tempfile::tempfile().unwrap();
    cmd.stdout(out_f.try_clone().unwrap())
        .stderr(err_f.try_clone().unwrap())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {rendered}: {e}"));
    drop(cmd); // closes our copies of the output files' descriptors
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        })
    });
    let status = wait_child(&mut child, CMD_TIMEOUT)
        .unwrap_or_else(|| panic!("timed out after {CMD_TIMEOUT:?}: {rendered}"));
    if let Some(w) = writer {
        let _ = w.join();
    }
    let read = |f: &mut std::fs::File| {
        let mut s = Vec::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut s).unwrap();
        String::from_utf8_lossy(&s).into_owned()
    };
    use std::os::unix::process::ExitStatusExt;
    Out {
        cmd: rendered,
        stdout: read(&mut out_f),
        stderr: read(&mut err_f),
        code: status
            .code()
            .unwrap_or_else(|| -status.signal().unwrap_or(0)),
    }
}

/// Wait for `child` at most `limit`; on timeout kill it and return `None`.
pub fn wait_child(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let _ = tx.send(child.wait());
        });
        match rx.recv_timeout(limit) {
            Ok(r) => Some(r.expect("waiting for child")),
            Err(_) => {
                unsafe { libc::kill(pid, libc::SIGKILL) };
                let _ = rx.recv();
                None
            }
        }
    })
}

/// Poll `cond` until it holds; panic naming `what` after `WAIT_LIMIT`.
#[track_caller]
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut nap = Duration::from_millis(5);
    while !cond() {
        assert!(start.elapsed() < WAIT_LIMIT, "gave up waiting for {what}");
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------- env

/// One isolated berth world: `DIR/root` and `DIR/run`.
pub struct Env {
    dir: tempfile::TempDir,
    pub root: PathBuf,
    pub run: PathBuf,
}

impl Env {
    /// An empty engine (no images).
    pub fn new() -> Env {
        ensure_monitor();
        let dir = tempfile::Builder::new()
            .prefix("berth-e2e-")
            .tempdir()
            .expect("creating temp dir");
        let root = dir.path().join("root");
        let run = dir.path().join("run");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&run).unwrap();
        Env { dir, root, run }
    }

    /// An engine with the busybox test image (`IMAGE`) loaded.
    pub fn with_busybox() -> Env {
        let env = Env::new();
        let archive = busybox_archive();
        env.ok(&["load", "-i", archive.to_str().unwrap()]);
        env
    }

    /// The temp directory holding root/ and run/.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A `berth --root R --runroot RR ARGS` command, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(berth_bin());
        cmd.arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.run)
            .args(args)
            .env_remove("BERTH_ROOT")
            .env_remove("BERTH_RUNROOT")
            .env_remove("BERTH_RUNTIME")
            .env_remove("BERTH_MONITOR");
        cmd
    }

    /// Run berth with `args`; never panics on a non-zero exit.
    pub fn berth(&self, args: &[&str]) -> Out {
        run_command(self.command(args), None)
    }

    /// Run berth with `input` on its stdin.
    pub fn berth_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        run_command(self.command(args), Some(input))
    }

    /// Run berth, assert exit code `code`, return the result.
    #[track_caller]
    pub fn expect(&self, args: &[&str], code: i32) -> Out {
        let o = self.berth(args);
        o.code(code);
        o
    }

    /// Run berth, assert success, return trimmed stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.berth(args);
        o.success();
        o.out().to_string()
    }

    /// `berth inspect NAME` as the single JSON document.
    #[track_caller]
    pub fn inspect(&self, name: &str) -> Value {
        let o = self.berth(&["inspect", name]);
        o.success();
        let v = o.json();
        let arr = v
            .as_array()
            .unwrap_or_else(|| panic!("inspect is not an array\n{o}"));
        assert_eq!(
            arr.len(),
            1,
            "inspect returned {} documents\n{o}",
            arr.len()
        );
        arr[0].clone()
    }

    /// `State.Status` of a container.
    #[track_caller]
    pub fn status(&self, name: &str) -> String {
        self.inspect(name)["State"]["Status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Wait until the container's `State.Status` is `want`.
    #[track_caller]
    pub fn wait_status(&self, name: &str, want: &str) {
        wait_until(&format!("{name} to be {want}"), || {
            self.status(name) == want
        });
    }

    /// Full IDs of every container (`ps -a -q --no-trunc`).
    #[track_caller]
    pub fn all_ids(&self) -> Vec<String> {
        let o = self.berth(&["ps", "-a", "-q", "--no-trunc"]);
        o.success();
        o.lines().into_iter().map(str::to_string).collect()
    }

    /// Everything mounted at or below this env's directory.
    pub fn mounts(&self) -> Vec<PathBuf> {
        mounts_under(self.path())
    }

    /// Live `berth-mon` processes working for this env.
    pub fn monitors(&self) -> Vec<i32> {
        let needle = self.run.to_string_lossy().into_owned();
        processes()
            .into_iter()
            .filter(|p| p.comm == "berth-mon" && p.cmdline.contains(&needle))
            .map(|p| p.pid)
            .collect()
    }

    /// Per-container files and directories: everything directly under
    /// `root/containers`, `root/storage/containers`, `run/containers`,
    /// `run/locks`, `run/attach` and the OCI runtimes' state dirs. Empty
    /// when no container exists.
    pub fn container_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![
            self.root.join("containers"),
            self.root.join("storage/containers"),
            self.run.join("containers"),
            self.run.join("locks"),
            self.run.join("attach"),
        ];
        if let Ok(rd) = std::fs::read_dir(self.run.join("runtime")) {
            dirs.extend(rd.flatten().map(|e| e.path()));
        }
        let mut v = Vec::new();
        for d in dirs {
            if let Ok(rd) = std::fs::read_dir(&d) {
                v.extend(rd.flatten().map(|e| e.path()));
            }
        }
        v.sort();
        v
    }

    /// Kill runc containers and monitors that `rm -a -f` left behind.
    fn kill_leftovers(&self) {
        let needle = self.path().to_string_lossy().into_owned();
        for p in processes() {
            if p.comm == "berth-mon" && p.cmdline.contains(&needle) {
                unsafe { libc::kill(p.pid, libc::SIGKILL) };
            }
        }
        let Some(runc) = find_runc() else { return };
        let Ok(rd) = std::fs::read_dir(self.run.join("runtime")) else {
            return;
        };
        for state_root in rd.flatten().map(|e| e.path()) {
            let Ok(ctrs) = std::fs::read_dir(&state_root) else {
                continue;
            };
            for c in ctrs.flatten() {
                let id = c.file_name().to_string_lossy().into_owned();
                let _ = Command::new(&runc)
                    .arg("--root")
                    .arg(&state_root)
                    .args(["delete", "--force", &id])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = run_command(self.command(&["rm", "-a", "-f", "-t", "0"]), None);
        self.kill_leftovers();
        let mut mounts = self.mounts();
        // Deepest first.
        mounts.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
        for m in mounts {
            if let Ok(c) = std::ffi::CString::new(m.as_os_str().as_encoded_bytes()) {
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        // TempDir's own Drop deletes the directory.
    }
}

// ---------------------------------------------------------------- /proc

/// Decode mountinfo's octal escapes (`\040` for a space).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let digits = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("x");
            if let Ok(v) = u8::from_str_radix(digits, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points at or below `dir` (from /proc/self/mountinfo).
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape_mountinfo(m)))
        .filter(|m| m.starts_with(dir))
        .collect()
}

/// A process as /proc shows it.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub state: char,
    pub comm: String,
    pub cmdline: String,
}

/// Read /proc/PID (None when it vanished).
pub fn process(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm is in parentheses and may contain spaces: split at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let mut rest = stat[close + 2..].split(' ');
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default();
    Some(Proc {
        pid,
        ppid,
        state,
        comm,
        cmdline,
    })
}

/// Every process on the host.
pub fn processes() -> Vec<Proc> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter_map(process)
                .collect()
        })
        .unwrap_or_default()
}

/// True while /proc/PID exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    process(pid).is_some_and(|p| p.state != 'Z')
}

/// A random-enough suffix for names (pid + counter).
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// True if `s` is a full 64-hex container ID.
pub fn is_full_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A host port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /index.html` from 127.0.0.1:`port`; the response if it is a 200.
pub fn fetch(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.contains("200 OK").then_some(out)
}

/// True (after saying why) when netavark or iptables are missing.
pub fn no_netavark() -> bool {
    let found = ["/usr/libexec/podman/netavark", "/usr/lib/podman/netavark"]
        .iter()
        .any(|p| Path::new(p).is_file());
    let iptables = Path::new("/usr/sbin/iptables-save").is_file();
    if !found || !iptables {
        eprintln!("skipping: needs netavark and iptables (scripts/install-deps.sh)");
    }
    !found || !iptables
}
