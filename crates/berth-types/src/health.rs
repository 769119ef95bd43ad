//! Healthcheck records: what a container's healthcheck is (stored with its
//! configuration) and how it has fared (stored with its runtime state). The
//! rules that run checks and update these live in `berth-core`
//! (`container/health.rs`).
//!
//! Field names are Docker's and Podman's (`Test`, `Interval`, ...;
//! `Status`, `FailingStreak`, `Log`), so an image's `Healthcheck` decodes
//! straight into [`HealthConfig`] and [`HealthState`] is what `inspect`
//! prints as `State.Health`.

use serde::{Deserialize, Serialize};

/// `Status` before the first successful check (and after each start).
pub const HEALTH_STARTING: &str = "starting";
/// `Status` after a successful check.
pub const HEALTH_HEALTHY: &str = "healthy";
/// `Status` after `Retries` failures in a row outside the start period.
pub const HEALTH_UNHEALTHY: &str = "unhealthy";

/// How many results `Log` keeps (Podman's default).
pub const HEALTH_LOG_KEPT: usize = 5;
/// How much of a check's output a `Log` entry keeps (Podman's default).
pub const HEALTH_OUTPUT_KEPT: usize = 500;

/// A healthcheck, in the image config's shape (durations in nanoseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `["CMD", arg...]`, `["CMD-SHELL", "script"]` or `["NONE"]`.
    #[serde(default)]
    pub test: Vec<String>,
    /// Time between checks; 0 means no scheduled checks (`disable`).
    #[serde(default)]
    pub interval: u64,
    /// How long one check may take before it counts as failed.
    #[serde(default)]
    pub timeout: u64,
    /// Failures during this time after a start do not count.
    #[serde(default)]
    pub start_period: u64,
    /// Failures in a row that make the container unhealthy.
    #[serde(default)]
    pub retries: u32,
    /// What berth does when the container turns unhealthy:
    /// `none`, `kill`, `restart` or `stop` (`--health-on-failure`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub on_failure: String,
}

impl HealthConfig {
    /// The command a check runs, or `None` when the test disables checks.
    /// `CMD-SHELL` runs through `/bin/sh -c`, as Podman does.
    pub fn command(&self) -> Option<Vec<String>> {
        let cmd = match self.test.first().map(String::as_str) {
            None | Some("" | "NONE") => return None,
            Some("CMD") => self.test[1..].to_vec(),
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), self.test[1..].join(" ")],
            Some(_) => self.test.clone(),
        };
        cmd.first().filter(|c| !c.is_empty()).map(|_| cmd.clone())
    }
}

/// One check's result (`State.Health.Log[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLogEntry {
    /// When the check started (RFC 3339).
    pub start: String,
    /// When it ended (RFC 3339).
    pub end: String,
    /// The command's exit code (-1: it timed out).
    pub exit_code: i32,
    /// The start of its output (stdout and stderr together).
    pub output: String,
}

/// How a container's healthchecks have fared (`State.Health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthState {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Failed checks in a row (outside the start period).
    pub failing_streak: u32,
    /// The last [`HEALTH_LOG_KEPT`] results, oldest first.
    pub log: Vec<HealthLogEntry>,
}

impl Default for HealthState {
    fn default() -> Self {
        HealthState {
            status: HEALTH_STARTING.into(),
            failing_streak: 0,
            log: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_forms() {
        let hc = |t: &[&str]| HealthConfig {
            test: t.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert_eq!(
            hc(&["CMD-SHELL", "a", "b"]).command().unwrap(),
            ["/bin/sh", "-c", "a b"]
        );
        assert_eq!(hc(&["CMD", "true"]).command().unwrap(), ["true"]);
        assert_eq!(hc(&["true", "x"]).command().unwrap(), ["true", "x"]);
        assert!(hc(&["NONE"]).command().is_none());
        assert!(hc(&["CMD"]).command().is_none());
        assert!(hc(&[]).command().is_none());
    }
}
