//! Choosing the OCI runtime: crun when it can work on this host, else runc.

use crate::runc::RuntimeCli;
use berth_types::{Error, Result};
use std::path::{Path, PathBuf};

/// The runtime berth will use, and why it is not the one asked for.
pub struct RuntimeChoice {
    /// The runtime to use.
    pub runtime: RuntimeCli,
    /// Why crun is not used, when it is not (one line).
    pub fallback_reason: Option<String>,
    /// True when the caller asked for the runtime it did not get, so the
    /// reason deserves a warning rather than only a line in `info`.
    pub requested_other: bool,
}

const SEARCH_DIRS: [&str; 4] = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin"];

/// Find a runtime binary by name (or accept an absolute path).
pub fn find_binary(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    SEARCH_DIRS
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// crun refuses the hybrid cgroup layout (cgroup v1 controllers with a
/// cgroup2 hierarchy at /sys/fs/cgroup/unified). Say why when it does.
fn crun_unusable_reason() -> Option<String> {
    let top_is_cgroup2 = is_cgroup2(Path::new("/sys/fs/cgroup"));
    let unified = Path::new("/sys/fs/cgroup/unified");
    if !top_is_cgroup2 && unified.is_dir() && is_cgroup2(unified) {
        return Some(
            "crun does not support the hybrid cgroup layout of this host (cgroup v1 with cgroup2 at /sys/fs/cgroup/unified); using runc"
                .to_string(),
        );
    }
    None
}

fn is_cgroup2(path: &Path) -> bool {
    rustix::fs::statfs(path)
        .map(|s| s.f_type == 0x6367_7270)
        .unwrap_or(false)
}

/// Pick the runtime for `requested` (`runc`, `crun`, a path, or `None` for
/// the default). The default is crun where it works, otherwise runc, and
/// asking for crun where it cannot work falls back to runc with a reason.
pub fn select_runtime(requested: Option<&str>, state_root: &Path) -> Result<RuntimeChoice> {
    let make = |name: &str, path: PathBuf| RuntimeCli::new(name, path, state_root.join(name));
    let wants_crun = matches!(requested, None | Some("crun"));
    if wants_crun {
        let crun = find_binary("crun");
        let reason = match (&crun, crun_unusable_reason()) {
            (Some(path), None) => {
                return Ok(RuntimeChoice {
                    runtime: make("crun", path.clone()),
                    fallback_reason: None,
                    requested_other: false,
                })
            }
            (Some(_), Some(why)) => why,
            (None, _) => "crun is not installed; using runc".to_string(),
        };
        let runc = find_binary("runc").ok_or_else(|| {
            Error::new(
                berth_types::ErrorKind::Runtime,
                "no OCI runtime found: install runc (apt-get install runc)",
            )
        })?;
        // Only a user who asked for crun by name is warned; `info` shows it always.
        return Ok(RuntimeChoice {
            runtime: make("runc", runc),
            fallback_reason: Some(reason),
            requested_other: requested.is_some(),
        });
    }
    let name = requested.unwrap_or("runc");
    let path = find_binary(name).ok_or_else(|| {
        Error::invalid(format!("OCI runtime {name:?} not found")).with_subject(name)
    })?;
    let short = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(name)
        .to_string();
    Ok(RuntimeChoice {
        runtime: make(&short, path),
        fallback_reason: None,
        requested_other: false,
    })
}
