//! Exec sessions: a process started with `berth exec` inside a running
//! container, and the monitor's exec mode that runs it.
//!
//! Monitor protocol addition (the rest is in [`crate::monitor`]): with
//! [`MONITOR_EXEC_FLAG`] and [`MONITOR_PROCESS_FLAG`]` FILE` the monitor runs
//! `RUNTIME ... exec --process FILE --pid-file PID CID` in the foreground,
//! exactly like run mode (`--bundle` is then optional): the sync message is
//! sent once the pid file exists, the exit file gets the runtime's exit
//! status (the process's exit code, 128+N for a signal), and a runtime that
//! exits before writing the pid file reports its output as the error.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Monitor flag selecting exec mode.
pub const MONITOR_EXEC_FLAG: &str = "--exec";
/// Monitor flag naming the OCI `process.json` for exec mode.
pub const MONITOR_PROCESS_FLAG: &str = "--process";

/// How many finished sessions the store keeps per container (older ones
/// go when a new session is added), so a container exec'd into in a loop
/// does not grow the database without bound.
pub const EXEC_SESSIONS_KEPT: usize = 64;

/// Where an exec session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecState {
    /// Recorded; its monitor is starting the process.
    Created,
    /// The process runs.
    Running,
    /// The process is gone; `exit_code` says how it ended.
    Exited,
}

impl ExecState {
    /// The lowercase word stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecState::Created => "created",
            ExecState::Running => "running",
            ExecState::Exited => "exited",
        }
    }
}

/// One exec session as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecSession {
    /// 64 lowercase hex digits.
    pub id: String,
    /// Full ID of the container it runs in.
    pub container_id: String,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Where it is in its life.
    pub state: ExecState,
    /// Exit code once exited (`None` when it could not be known).
    pub exit_code: Option<i32>,
    /// Host PID of the process while it runs; 0 when none.
    pub pid: i32,
    /// PID of its berth-mon; 0 when none.
    pub monitor_pid: i32,
    /// `--user` as given (empty: the container's user).
    pub user: String,
    /// `--workdir` as given (empty: the container's).
    pub workdir: String,
    /// Extra environment (`KEY=value`) given with `-e`/`--env-file`.
    pub env: Vec<String>,
    /// Started with `--privileged`.
    pub privileged: bool,
    /// Started with `-i` (stdin kept open).
    pub interactive: bool,
    /// Started with `-d`.
    pub detached: bool,
    /// Started with `-t`.
    #[serde(default)]
    pub tty: bool,
    /// When the session was created.
    pub created: Timestamp,
    /// When the process started.
    pub started_at: Option<Timestamp>,
    /// When the process exited.
    pub finished_at: Option<Timestamp>,
    /// Why it could not be started or observed, if so.
    #[serde(default)]
    pub error: String,
}

impl ExecSession {
    /// A new session in state [`ExecState::Created`].
    pub fn new(id: String, container_id: String, command: Vec<String>) -> Self {
        ExecSession {
            id,
            container_id,
            command,
            state: ExecState::Created,
            exit_code: None,
            pid: 0,
            monitor_pid: 0,
            user: String::new(),
            workdir: String::new(),
            env: Vec::new(),
            privileged: false,
            interactive: false,
            detached: false,
            tty: false,
            created: Timestamp::now(),
            started_at: None,
            finished_at: None,
            error: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let mut s = ExecSession::new("a".repeat(64), "b".repeat(64), vec!["true".into()]);
        s.state = ExecState::Exited;
        s.exit_code = Some(3);
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains("\"state\":\"exited\""));
        let back: ExecSession = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        assert_eq!(ExecState::Running.as_str(), "running");
    }
}
