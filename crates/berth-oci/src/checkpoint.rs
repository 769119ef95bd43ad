//! CRIU underneath the runtime: finding a `criu` that works, `runtime
//! checkpoint`, and the line of CRIU's log that explains a failure (the
//! runtime itself only says "criu failed").

use crate::runc::RuntimeCli;
use berth_types::{Error, ErrorKind, Result};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where `scripts/install-criu.sh` installs a CRIU that works on current
/// kernels; preferred over whatever the distribution ships (Debian 12's
/// 3.17 fails on recent kernels with "Unexpected rt vDSO area bounds").
pub const PREFERRED_CRIU: &str = "/usr/local/sbin/criu";

/// The oldest CRIU major version runc's checkpoint/restore works with.
const MIN_MAJOR: u32 = 3;

/// A CRIU binary that answered `--version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criu {
    /// Its path, passed to the runtime as `--criu PATH`.
    pub path: PathBuf,
    /// What it reported (`4.2`).
    pub version: String,
}

/// Find a usable CRIU: [`PREFERRED_CRIU`] first, then `criu` in `PATH`.
/// The error says what was found and how to install one.
pub fn find_criu() -> Result<Criu> {
    first_usable(candidates())
}

fn first_usable(candidates: Vec<PathBuf>) -> Result<Criu> {
    let mut seen = Vec::new();
    for path in candidates {
        match version_of(&path) {
            Some(v) if major(&v) >= MIN_MAJOR => return Ok(Criu { path, version: v }),
            Some(v) => seen.push(format!("{} is version {v}", path.display())),
            None => seen.push(format!("{} does not run", path.display())),
        }
    }
    let found = if seen.is_empty() {
        format!("no criu at {PREFERRED_CRIU} or in PATH")
    } else {
        seen.join(", ")
    };
    Err(Error::new(
        ErrorKind::Runtime,
        format!(
            "checkpoint/restore needs CRIU {MIN_MAJOR}.x or newer and none is usable ({found}): install CRIU 4.x (scripts/install-criu.sh)"
        ),
    ))
}

fn candidates() -> Vec<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    let mut out: Vec<PathBuf> = Vec::new();
    let dirs = std::iter::once(PathBuf::from(PREFERRED_CRIU))
        .chain(std::env::split_paths(&path).map(|d| d.join("criu")))
        .chain(["/usr/sbin/criu", "/sbin/criu"].map(PathBuf::from));
    for p in dirs {
        if p.is_absolute() && p.is_file() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// `criu --version` prints `Version: 4.2` (and maybe a `GitID:` line).
fn version_of(path: &Path) -> Option<String> {
    let out = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_version(&String::from_utf8_lossy(&out.stdout))
}

fn parse_version(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn major(version: &str) -> u32 {
    version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

impl RuntimeCli {
    /// `runtime --criu CRIU checkpoint ARGS... ID`: dump the container's
    /// processes into the image directory named in `args`.
    pub fn checkpoint(&self, id: &str, criu: &Criu, args: &[&str]) -> Result<()> {
        let mut words = vec!["checkpoint"];
        words.extend_from_slice(args);
        words.push(id);
        let global = [OsStr::new("--criu"), criu.path.as_os_str()];
        self.run_with(&global, id, &words).map(drop)
    }
}

/// The line of a CRIU log (`dump.log`, `restore.log`) that says why it
/// failed: the first `Error` line (CRIU logs the cause first, then the
/// failures that follow from it), without its timestamp and task prefix.
/// Errors CRIU logs and then carries on from (it may not raise its own
/// `RLIMIT_NOFILE` inside a container's user) are not the cause.
pub fn criu_log_excerpt(log: &Path) -> Option<String> {
    let text = std::fs::read(log).ok()?;
    let text = String::from_utf8_lossy(&text);
    error_line(&text)
}

/// CRIU errors that do not stop it.
const HARMLESS: [&str; 1] = ["RLIMIT_NOFILE"];

fn error_line(text: &str) -> Option<String> {
    // "(00.012345)      7: Error (criu/x.c:1): why" → "Error (criu/x.c:1): why"
    text.lines()
        .filter_map(|l| l.find("Error (").map(|i| l[i..].trim()))
        .find(|l| !HARMLESS.iter().any(|h| l.contains(h)))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_old_or_broken_criu_is_a_clear_error() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = |name: &str, body: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p
        };
        let old = script("old", "echo 'Version: 2.9'");
        let broken = script("broken", "exit 1");
        let good = script("good", "echo 'Version: 4.2'; echo 'GitID: v4.2'");
        let e = first_usable(vec![old.clone(), broken.clone()]).unwrap_err();
        assert!(e.message.contains("version 2.9"), "{}", e.message);
        assert!(e.message.contains("does not run"), "{}", e.message);
        assert!(e.message.contains("install-criu.sh"), "{}", e.message);
        let e = first_usable(vec![]).unwrap_err();
        assert!(e.message.contains(PREFERRED_CRIU), "{}", e.message);
        let found = first_usable(vec![old, broken, good.clone()]).unwrap();
        assert_eq!((found.path, found.version.as_str()), (good, "4.2"));
    }

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("Version: 4.2\nGitID: v4.2\n").as_deref(),
            Some("4.2")
        );
        assert_eq!(parse_version("nothing"), None);
        assert_eq!(major("3.17.1"), 3);
        assert_eq!(major("x"), 0);
    }

    #[test]
    fn cause_line_without_timestamp() {
        let log = "(00.001) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted\n(00.001) Dumping\n(00.002)      7: Error (criu/sk-inet.c:199): inet: Connected TCP socket, consider using --tcp-established option.\n(00.002) Error (criu/cr-dump.c:1698): Dump files (pid: 3325) failed with -1\n(00.003) Error (criu/cr-dump.c:1): Dumping FAILED.\n";
        assert_eq!(
            error_line(log).as_deref(),
            Some("Error (criu/sk-inet.c:199): inet: Connected TCP socket, consider using --tcp-established option.")
        );
        assert_eq!(error_line("(0.1) fine\n"), None);
    }
}
