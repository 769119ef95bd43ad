//! What a container is (its immutable configuration) and where it is (its
//! mutable runtime state). Both are stored by `berth-state` as JSON.

use crate::state::ContainerState;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a mount is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path bind-mounted into the container (`-v HOST:CTR`).
    Bind,
    /// A fresh tmpfs (`--tmpfs PATH[:OPTS]`).
    Tmpfs,
}

/// One user-requested mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    /// Bind mount or tmpfs.
    pub kind: MountKind,
    /// Host path for binds; "tmpfs" for tmpfs.
    pub source: String,
    /// Absolute path inside the container.
    pub destination: String,
    /// Mount options (`ro`, `rw`, `size=64m`, ...).
    pub options: Vec<String>,
}

impl MountSpec {
    /// True when the mount is read-only.
    pub fn read_only(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }
}

/// cgroup limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// CPU quota in CPUs (1.5 = one and a half cores).
    pub cpus: Option<f64>,
    /// Maximum number of processes.
    pub pids_limit: Option<i64>,
}

/// When a container that exited is started again by berth (`--restart`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// `no` (or empty), `on-failure`, `always` or `unless-stopped`.
    pub name: String,
    /// For `on-failure`: the most restarts (0 = no limit).
    pub max_retries: u32,
}

impl RestartPolicy {
    /// Parse `--restart` (`no`, `always`, `unless-stopped`, `on-failure[:N]`).
    pub fn parse(s: &str) -> crate::Result<Self> {
        let (name, count) = s
            .split_once(':')
            .map(|(n, c)| (n, Some(c)))
            .unwrap_or((s, None));
        let bad = || {
            crate::Error::invalid(format!(
                "invalid restart policy {s:?}: use no, on-failure[:N], always or unless-stopped"
            ))
        };
        let max_retries = match (name, count) {
            ("on-failure", Some(c)) => c.parse().map_err(|_| bad())?,
            (_, Some(_)) => return Err(bad()),
            _ => 0,
        };
        match name {
            "" | "no" | "always" | "unless-stopped" | "on-failure" => Ok(RestartPolicy {
                name: if name.is_empty() {
                    "no".into()
                } else {
                    name.into()
                },
                max_retries,
            }),
            _ => Err(bad()),
        }
    }

    /// True when the policy restarts containers at all.
    pub fn is_set(&self) -> bool {
        !matches!(self.name.as_str(), "" | "no")
    }

    /// Whether a container that exited with `exit_code` after `restarts`
    /// restarts should be started again. A user's stop always wins.
    pub fn wants_restart(&self, exit_code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                exit_code != 0 && (self.max_retries == 0 || restarts < self.max_retries)
            }
            _ => false,
        }
    }
}

/// A container's configuration: fixed at create time (except the name,
/// which `rename` changes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// 64 lowercase hex digits.
    pub id: String,
    /// Unique container name.
    pub name: String,
    /// ID of the image the rootfs comes from.
    pub image_id: String,
    /// The image reference the user gave, as resolved (`localhost/busybox:latest`).
    pub image_name: String,
    /// When the container was created.
    pub created: Timestamp,
    /// The process arguments (entrypoint + command, resolved).
    pub args: Vec<String>,
    /// Entrypoint as configured (for inspect).
    pub entrypoint: Vec<String>,
    /// Command as configured (for inspect and ps).
    pub command: Vec<String>,
    /// `KEY=value` pairs: image env, then user env.
    pub env: Vec<String>,
    /// Working directory of the process (absolute).
    pub workdir: String,
    /// `uid[:gid]` or a user name, as given (resolved when the spec is built).
    pub user: String,
    /// Host name inside the container (first 12 ID digits by default).
    pub hostname: String,
    /// Mount the rootfs read-only (`--read-only`).
    pub read_only: bool,
    /// User-requested mounts (`-v`, `--tmpfs`).
    pub mounts: Vec<MountSpec>,
    /// cgroup limits.
    pub resources: Resources,
    /// Signal number used by `stop`.
    pub stop_signal: i32,
    /// Seconds `stop` waits before SIGKILL.
    pub stop_timeout: u64,
    /// Labels: the image's, then `--label`.
    pub labels: BTreeMap<String, String>,
    /// Capabilities added (`CAP_` form, or `ALL`).
    pub cap_add: Vec<String>,
    /// Capabilities dropped (`CAP_` form, or `ALL`).
    pub cap_drop: Vec<String>,
    /// Every capability berth holds, no masked paths (`--privileged`).
    pub privileged: bool,
    /// Keep stdin open (`-i`).
    pub stdin: bool,
    /// Allocate a pseudo-terminal (`-t`).
    pub tty: bool,
    /// With `tty`: the terminal's size (rows, columns) from the start, so
    /// the process never sees a 0x0 terminal before the client's first
    /// resize (the Docker API's `HostConfig.ConsoleSize`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<(u16, u16)>,
    /// Remove the container when it exits (`--rm`).
    pub auto_remove: bool,
    /// Log driver (`k8s-file`).
    pub log_driver: String,
    /// OCI runtime name (`runc` or `crun`), chosen at create time.
    pub runtime: String,
    /// `--restart`.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// `--log-opt max-size` in bytes; 0: no rotation.
    #[serde(default)]
    pub log_max_size: u64,
    /// `--log-opt max-file`: files kept, the live one included (0 means 1).
    #[serde(default)]
    pub log_max_file: u32,
    /// The healthcheck (`--health-*` or the image's), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<crate::health::HealthConfig>,
    /// `--network`, `-p`, `--dns`... (see `crate::net`).
    #[serde(default)]
    pub net: crate::net::NetConfig,
    /// The pod it belongs to, if any (`--pod`).
    #[serde(default)]
    pub pod: crate::pod::PodMember,
    /// Full IDs of the containers it depends on (`--requires`; a pod's
    /// infra container is an implicit one, not listed here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
}

/// A container's mutable state, rewritten on every transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeState {
    /// Where the container is in its life.
    pub state: ContainerState,
    /// PID of the container's init on the host; 0 when none.
    pub pid: i32,
    /// PID of the container's berth-mon; 0 when none.
    pub monitor_pid: i32,
    /// The last exit code; kept after exit until the next start.
    pub exit_code: Option<i32>,
    /// When the process last started.
    pub started_at: Option<Timestamp>,
    /// When the process last exited.
    pub finished_at: Option<Timestamp>,
    /// The last exit was the kernel's OOM killer.
    pub oom_killed: bool,
    /// Where the rootfs is mounted while it is.
    pub mountpoint: Option<String>,
    /// How many times the container was restarted.
    pub restart_count: u32,
    /// The last error the runtime reported, if any.
    pub error: String,
    /// Set while `stop` waits, so other commands can show "stopping".
    pub stop_requested: bool,
    /// Names the current monitor's exit file. A monitor left by a command
    /// that crashed before saving its token writes an exit file nobody
    /// reads, so it can never end a newer run of the container.
    #[serde(default)]
    pub monitor_token: String,
    /// Healthcheck results of containers that have a healthcheck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::health::HealthState>,
    /// The container's live networking, between setup and teardown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<crate::net::NetState>,
    /// Checkpoint/restore facts (see `crate::checkpoint`).
    #[serde(default)]
    pub checkpoint: crate::checkpoint::CheckpointState,
}

impl Default for RuntimeState {
    fn default() -> Self {
        RuntimeState {
            state: ContainerState::Configured,
            pid: 0,
            monitor_pid: 0,
            exit_code: None,
            started_at: None,
            finished_at: None,
            oom_killed: false,
            mountpoint: None,
            restart_count: 0,
            error: String::new(),
            stop_requested: false,
            monitor_token: String::new(),
            health: None,
            net: None,
            checkpoint: Default::default(),
        }
    }
}

/// A container as stored: configuration plus state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// What the container is.
    pub config: ContainerConfig,
    /// Where it is.
    pub state: RuntimeState,
}

impl ContainerRecord {
    /// The container's ID.
    pub fn id(&self) -> &str {
        &self.config.id
    }
    /// The container's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }
}

#[cfg(test)]
mod tests {
    use super::RestartPolicy;

    #[test]
    fn restart_policies() {
        assert!(!RestartPolicy::parse("no").unwrap().is_set());
        let p = RestartPolicy::parse("on-failure:2").unwrap();
        assert_eq!(p.max_retries, 2);
        assert!(p.wants_restart(1, 1, false));
        assert!(!p.wants_restart(1, 2, false));
        assert!(!p.wants_restart(0, 0, false));
        let a = RestartPolicy::parse("always").unwrap();
        assert!(a.wants_restart(0, 100, false));
        assert!(!a.wants_restart(137, 0, true));
        for bad in ["sometimes", "always:3", "on-failure:x"] {
            assert!(RestartPolicy::parse(bad).is_err(), "{bad}");
        }
    }
}
