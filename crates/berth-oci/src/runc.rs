//! The OCI runtime driven through its command line (runc and crun share it).

use crate::{OciRuntime, RuntimeStatus};
use berth_types::{Error, ErrorKind, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// An OCI runtime binary with berth's state root.
#[derive(Debug, Clone)]
pub struct RuntimeCli {
    name: String,
    path: PathBuf,
    root: PathBuf,
}

impl RuntimeCli {
    /// A runtime called `name` at `path` keeping its state under `root`.
    pub fn new(name: &str, path: PathBuf, root: PathBuf) -> Self {
        RuntimeCli {
            name: name.to_string(),
            path,
            root,
        }
    }

    /// Run `runtime --root ROOT args...`; stderr becomes the error text.
    fn run(&self, id: &str, args: &[&str]) -> Result<Vec<u8>> {
        self.run_with(&[], id, args)
    }

    /// [`Self::run`] with global options (`--criu PATH`) before `--root`.
    pub(crate) fn run_with(
        &self,
        global: &[&std::ffi::OsStr],
        id: &str,
        args: &[&str],
    ) -> Result<Vec<u8>> {
        let out = Command::new(&self.path)
            .args(global)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io(format!("running {}", self.path.display()), e))?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        let mut text = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if text.is_empty() {
            text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        Err(runtime_error(
            &self.name,
            args.first().copied().unwrap_or(""),
            id,
            &text,
        ))
    }
}

/// True when runtime output says the container does not exist.
fn is_not_found(text: &str) -> bool {
    text.contains("does not exist") || text.contains("not found") && text.contains("container")
}

/// Turn a runtime failure into berth's error, keeping Podman's exit-code
/// conventions for commands that cannot be found (127) or run (126). For
/// `exec` a missing working directory counts as not found, as in Podman.
pub fn runtime_error(runtime: &str, verb: &str, id: &str, text: &str) -> Error {
    let text = clean_runtime_text(text);
    let kind = if text.contains("executable file not found")
        || text.contains("no such file or directory") && (text.contains("exec") || verb == "exec")
    {
        ErrorKind::CommandNotFound
    } else if text.contains("permission denied") && text.contains("exec") {
        ErrorKind::CannotInvoke
    } else if is_not_found(&text) {
        ErrorKind::NoSuchContainer
    } else {
        ErrorKind::Runtime
    };
    // runc wraps every create error in the same two prefixes; they add nothing.
    let text = text
        .trim_start_matches("runc create failed: ")
        .trim_start_matches("runc run failed: ")
        .trim_start_matches("exec failed: ")
        .trim_start_matches("unable to start container process: ");
    let hint = match kind {
        ErrorKind::CommandNotFound => {
            ": OCI runtime attempted to invoke a command that was not found"
        }
        ErrorKind::CannotInvoke => ": OCI runtime permission denied error",
        _ => "",
    };
    Error::new(
        kind,
        format!(
            "{runtime} {verb} of container {}: {text}{hint}",
            berth_types::id::short_id(id)
        ),
    )
    .with_subject(id)
}

/// runc prints its errors as JSON log lines (`{"level":"error","msg":...}`)
/// or logfmt (`time=... level=error msg="..."`); keep only the messages.
fn clean_runtime_text(text: &str) -> String {
    let mut msgs = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with('{') {
            if let Some(m) = serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v["msg"].as_str().map(String::from))
            {
                msgs.push(m);
                continue;
            }
        }
        if let Some(m) = logfmt_msg(line) {
            msgs.push(m);
            continue;
        }
        msgs.push(line.to_string());
    }
    msgs.join("; ")
}

/// The `msg="..."` value of a logfmt line, unescaped.
fn logfmt_msg(line: &str) -> Option<String> {
    let start = line.find("msg=")? + 4;
    let rest = &line[start..];
    let Some(quoted) = rest.strip_prefix('"') else {
        return Some(rest.split(' ').next().unwrap_or("").to_string());
    };
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            // An escaped newline separates lines of one message.
            '\\' if chars.clone().next() == Some('n') => {
                chars.next();
                out.push_str("; ");
            }
            '\\' => out.extend(chars.next()),
            '"' => break,
            c => out.push(c),
        }
    }
    Some(out)
}

impl OciRuntime for RuntimeCli {
    fn name(&self) -> &str {
        &self.name
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn state_root(&self) -> &Path {
        &self.root
    }

    fn start(&self, id: &str) -> Result<()> {
        self.run(id, &["start", id]).map(drop)
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let sig = signal.to_string();
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend([id, sig.as_str()]);
        self.run(id, &args).map(drop)
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        // The runtime keeps its record in ROOT/ID: without it there is
        // nothing to delete, and a stat is far cheaper than an exec.
        if !self.root.join(id).exists() {
            return Ok(());
        }
        let args: &[&str] = if force {
            &["delete", "--force", id]
        } else {
            &["delete", id]
        };
        match self.run(id, args) {
            Err(e) if e.kind == ErrorKind::NoSuchContainer => Ok(()),
            other => other.map(drop),
        }
    }

    fn pause(&self, id: &str) -> Result<()> {
        self.run(id, &["pause", id]).map(drop)
    }

    fn resume(&self, id: &str) -> Result<()> {
        self.run(id, &["resume", id]).map(drop)
    }

    fn state(&self, id: &str) -> Result<Option<RuntimeStatus>> {
        let out = match self.run(id, &["state", id]) {
            Err(e) if e.kind == ErrorKind::NoSuchContainer => return Ok(None),
            other => other?,
        };
        let v: serde_json::Value = serde_json::from_slice(&out)?;
        Ok(Some(RuntimeStatus {
            status: v["status"].as_str().unwrap_or("unknown").to_string(),
            pid: v["pid"].as_i64().unwrap_or(0) as i32,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_commands_map_to_127() {
        let e = runtime_error(
            "runc",
            "create",
            "abc",
            r#"{"level":"error","msg":"runc create failed: unable to start container process: exec: \"nosuch\": executable file not found in $PATH"}"#,
        );
        assert_eq!(e.exit_code(), 127);
        assert!(!e.message.contains('{'));
        let e = runtime_error("runc", "create", "abc", "exec: \"/etc\": permission denied");
        assert_eq!(e.exit_code(), 126);
        let e = runtime_error(
            "runc",
            "create",
            "abc",
            r#"time="2026-11-26T23:06:50Z" level=error msg="runc create failed: exec: \"x\": executable file not found in $PATH""#,
        );
        assert_eq!(e.exit_code(), 127);
        assert!(
            e.message
                .contains(": exec: \"x\": executable file not found in $PATH"),
            "{}",
            e.message
        );
        // exec: runc's "exec failed" prefix goes, and a missing working
        // directory is "not found" as in Podman.
        let e = runtime_error(
            "runc",
            "exec",
            "abc",
            r#"time="x" level=error msg="exec failed: unable to start container process: chdir to cwd (\"/nope\"): no such file or directory""#,
        );
        assert_eq!(e.exit_code(), 127);
        assert!(e.message.contains(": chdir to cwd"), "{}", e.message);
        let e = runtime_error("runc", "delete", "abc", "container does not exist");
        assert_eq!(e.kind, ErrorKind::NoSuchContainer);
    }
}
