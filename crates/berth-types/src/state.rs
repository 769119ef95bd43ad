//! The container state machine: states, operations, and the single
//! op × state table that decides what is allowed.
//!
//! Every public container operation in `berth-core` consults [`check_op`]
//! after syncing the container's state and before acting, so the rules live
//! here and nowhere else.

use crate::error::{Error, ErrorKind};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    /// Defined in the database; nothing exists in the runtime.
    Configured,
    /// Created in the OCI runtime (monitor running), not started yet.
    Created,
    /// Its process is running.
    Running,
    /// A stop is in progress (signal sent, waiting for the exit).
    Stopping,
    /// Frozen by the cgroup freezer.
    Paused,
    /// Stopped by the user; runtime resources released.
    Stopped,
    /// Its process exited by itself; runtime resources released.
    Exited,
    /// Being removed.
    Removing,
}

impl ContainerState {
    /// Every state, for exhaustive tests and tables.
    pub const ALL: [ContainerState; 8] = [
        ContainerState::Configured,
        ContainerState::Created,
        ContainerState::Running,
        ContainerState::Stopping,
        ContainerState::Paused,
        ContainerState::Stopped,
        ContainerState::Exited,
        ContainerState::Removing,
    ];

    /// The lowercase word Podman prints (`podman ps --format {{.State}}`).
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Configured => "configured",
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Stopping => "stopping",
            ContainerState::Paused => "paused",
            ContainerState::Stopped => "stopped",
            ContainerState::Exited => "exited",
            ContainerState::Removing => "removing",
        }
    }

    /// Parse the word [`ContainerState::as_str`] prints.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// True while a process of the container may be alive.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            ContainerState::Running | ContainerState::Stopping | ContainerState::Paused
        )
    }
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A public operation on a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Create in the OCI runtime without starting.
    Init,
    /// Start the process.
    Start,
    /// Attach to its stdio.
    Attach,
    /// Stop signal, then SIGKILL after the timeout.
    Stop,
    /// Send a signal.
    Kill,
    /// Stop (if running) and start.
    Restart,
    /// Freeze with the cgroup freezer.
    Pause,
    /// Thaw.
    Unpause,
    /// Remove a container that is not running.
    Remove,
    /// Remove, stopping it first if needed.
    RemoveForce,
    /// Release runtime resources after an exit.
    Cleanup,
    /// Wait for an exit.
    Wait,
    /// Run another process inside.
    Exec,
    /// Change the name.
    Rename,
    /// Mount the rootfs for the user.
    Mount,
    /// Unmount the user's rootfs mount.
    Unmount,
    /// Change cgroup limits.
    Update,
    /// Export the filesystem as a tar.
    Export,
    /// Make an image from the filesystem.
    Commit,
    /// Checkpoint with CRIU.
    Checkpoint,
    /// Restore from a checkpoint.
    Restore,
    /// List its processes.
    Top,
    /// Read resource usage.
    Stats,
}

impl Op {
    /// Every operation, for exhaustive tests.
    pub const ALL: [Op; 23] = [
        Op::Init,
        Op::Start,
        Op::Attach,
        Op::Stop,
        Op::Kill,
        Op::Restart,
        Op::Pause,
        Op::Unpause,
        Op::Remove,
        Op::RemoveForce,
        Op::Cleanup,
        Op::Wait,
        Op::Exec,
        Op::Rename,
        Op::Mount,
        Op::Unmount,
        Op::Update,
        Op::Export,
        Op::Commit,
        Op::Checkpoint,
        Op::Restore,
        Op::Top,
        Op::Stats,
    ];

    /// The verb used in messages ("cannot pause container x: ...").
    pub fn verb(self) -> &'static str {
        match self {
            Op::Init => "init",
            Op::Start => "start",
            Op::Attach => "attach to",
            Op::Stop => "stop",
            Op::Kill => "kill",
            Op::Restart => "restart",
            Op::Pause => "pause",
            Op::Unpause => "unpause",
            Op::Remove | Op::RemoveForce => "remove",
            Op::Cleanup => "clean up",
            Op::Wait => "wait for",
            Op::Exec => "exec in",
            Op::Rename => "rename",
            Op::Mount => "mount",
            Op::Unmount => "unmount",
            Op::Update => "update",
            Op::Export => "export",
            Op::Commit => "commit",
            Op::Checkpoint => "checkpoint",
            Op::Restore => "restore",
            Op::Top => "run top in",
            Op::Stats => "read stats of",
        }
    }
}

/// What the table says about an operation in a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Nothing to do: the container is already where the op would take it
    /// (stopping a stopped container). The op succeeds without acting.
    AlreadyDone,
    /// Refused, with the reason shown to the user.
    Deny(&'static str),
}

/// The op × state table. Exhaustive: adding a state or an op is a compile
/// error here until its row is written.
pub fn verdict(op: Op, state: ContainerState) -> Verdict {
    use ContainerState::*;
    use Verdict::*;
    match op {
        Op::Init => match state {
            Configured | Stopped | Exited => Allow,
            Created | Running | Stopping | Paused => {
                Deny("container has already been created in runtime")
            }
            Removing => Deny("container is being removed"),
        },
        Op::Start => match state {
            Configured | Created | Stopped | Exited => Allow,
            Running | Stopping => Deny("container is already running"),
            Paused => Deny("container is paused, unpause it first"),
            Removing => Deny("container is being removed"),
        },
        // Only a container that is not in the runtime can be restored
        // into it; whether a checkpoint exists is checked by the restore.
        Op::Restore => match state {
            Configured | Stopped | Exited => Allow,
            Created => Deny("container has already been created in runtime"),
            Running | Stopping => Deny("container is already running"),
            Paused => Deny("container is paused"),
            Removing => Deny("container is being removed"),
        },
        Op::Attach => match state {
            Created | Running => Allow,
            Configured | Stopped | Exited | Stopping => {
                Deny("you can only attach to running containers")
            }
            Paused => Deny("container is paused, unpause it first"),
            Removing => Deny("container is being removed"),
        },
        Op::Stop => match state {
            Running | Stopping | Paused => Allow,
            Configured | Created | Stopped | Exited => AlreadyDone,
            Removing => Deny("container is being removed"),
        },
        Op::Kill => match state {
            Running | Stopping | Paused => Allow,
            Configured | Created | Stopped | Exited => Deny("can only kill running containers"),
            Removing => Deny("container is being removed"),
        },
        Op::Restart => match state {
            Configured | Created | Running | Stopped | Exited => Allow,
            Stopping => Deny("container is being stopped"),
            Paused => Deny("container is paused, unpause it first"),
            Removing => Deny("container is being removed"),
        },
        Op::Pause => match state {
            Running => Allow,
            Paused => Deny("container is already paused"),
            Configured | Created | Stopping | Stopped | Exited => Deny("container is not running"),
            Removing => Deny("container is being removed"),
        },
        Op::Unpause => match state {
            Paused => Allow,
            Configured | Created | Running | Stopping | Stopped | Exited => {
                Deny("container is not paused")
            }
            Removing => Deny("container is being removed"),
        },
        Op::Remove => match state {
            Configured | Created | Stopped | Exited => Allow,
            Running | Stopping | Paused => {
                Deny("container is running or paused, stop it first or use --force")
            }
            // Removal runs under the container's lock from start to end, so a
            // container seen in Removing was left by a remover that died:
            // removing it again finishes the job.
            Removing => Allow,
        },
        Op::RemoveForce => Allow,
        Op::Cleanup => match state {
            Configured | Created | Stopped | Exited => Allow,
            Running | Stopping | Paused => {
                Deny("container is running or paused, refusing to clean up")
            }
            Removing => Allow,
        },
        Op::Wait => Allow,
        Op::Exec | Op::Top | Op::Stats | Op::Checkpoint => match state {
            Running => Allow,
            Paused => Deny("container is paused"),
            Configured | Created | Stopping | Stopped | Exited => Deny("container is not running"),
            Removing => Deny("container is being removed"),
        },
        Op::Rename | Op::Mount | Op::Unmount | Op::Update | Op::Export | Op::Commit => {
            match state {
                Removing => Deny("container is being removed"),
                _ => Allow,
            }
        }
    }
}

/// Check `op` against `state` for container `name`: `Ok(true)` to act,
/// `Ok(false)` when it is already done, or a one-line `StateImproper` error
/// naming the container, its state and the operation.
pub fn check_op(op: Op, state: ContainerState, name: &str) -> Result<bool, Error> {
    match verdict(op, state) {
        Verdict::Allow => Ok(true),
        Verdict::AlreadyDone => Ok(false),
        Verdict::Deny(why) => Err(Error::new(
            ErrorKind::StateImproper {
                state: state.as_str().into(),
                op: op.verb().into(),
            },
            format!(
                "cannot {} container {name} (state {state}): {why}",
                op.verb()
            ),
        )
        .with_subject(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContainerState::*;

    /// The expected table, written out independently of `verdict` so that a
    /// change to either side is caught. 'A' allow, 'D' already done, '-' deny.
    /// Columns: Configured Created Running Stopping Paused Stopped Exited Removing.
    const TABLE: [(Op, &str); 23] = [
        (Op::Init, "A----AA-"),
        (Op::Start, "AA---AA-"),
        (Op::Attach, "-AA-----"),
        (Op::Stop, "DDAAADD-"),
        (Op::Kill, "--AAA---"),
        (Op::Restart, "AAA--AA-"),
        (Op::Pause, "--A-----"),
        (Op::Unpause, "----A---"),
        (Op::Remove, "AA---AAA"),
        (Op::RemoveForce, "AAAAAAAA"),
        (Op::Cleanup, "AA---AAA"),
        (Op::Wait, "AAAAAAAA"),
        (Op::Exec, "--A-----"),
        (Op::Rename, "AAAAAAA-"),
        (Op::Mount, "AAAAAAA-"),
        (Op::Unmount, "AAAAAAA-"),
        (Op::Update, "AAAAAAA-"),
        (Op::Export, "AAAAAAA-"),
        (Op::Commit, "AAAAAAA-"),
        (Op::Checkpoint, "--A-----"),
        (Op::Restore, "A----AA-"),
        (Op::Top, "--A-----"),
        (Op::Stats, "--A-----"),
    ];

    #[test]
    fn every_op_state_pair_matches_the_written_table() {
        assert_eq!(TABLE.len(), Op::ALL.len());
        for (op, row) in TABLE {
            assert_eq!(row.len(), ContainerState::ALL.len(), "row for {op:?}");
            for (state, want) in ContainerState::ALL.into_iter().zip(row.chars()) {
                let got = match verdict(op, state) {
                    Verdict::Allow => 'A',
                    Verdict::AlreadyDone => 'D',
                    Verdict::Deny(_) => '-',
                };
                assert_eq!(got, want, "{op:?} in {state:?}");
            }
        }
    }

    #[test]
    fn denial_names_container_state_and_op() {
        let err = check_op(Op::Unpause, Running, "web").unwrap_err();
        assert_eq!(err.exit_code(), 125);
        assert!(
            err.message.contains("web")
                && err.message.contains("running")
                && err.message.contains("unpause")
        );
        assert_eq!(check_op(Op::Stop, Exited, "web"), Ok(false));
        assert_eq!(check_op(Op::Start, Exited, "web"), Ok(true));
    }

    #[test]
    fn state_words_round_trip() {
        for s in ContainerState::ALL {
            assert_eq!(ContainerState::parse(s.as_str()), Some(s));
        }
    }
}
