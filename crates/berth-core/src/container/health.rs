//! Healthchecks: the `--health-*` flags and the image's `Healthcheck` turned
//! into a [`HealthConfig`], one check run through the exec machinery with a
//! timeout, its result folded into the container's [`HealthState`] under the
//! container's lock, and the `--health-on-failure` action.
//!
//! Scheduling needs no systemd and no daemon: each start of a container
//! with a check interval spawns one timer process of ours (`berth
//! healthcheck timer ID TOKEN`, detached: new session, no inherited fds).
//! It runs a check, sleeps on a pidfd of the container's init for one
//! interval, and repeats. It exits by itself as soon as the container is
//! gone, not running, or running with another monitor token (restarted:
//! that start spawned its own timer), so no timer outlives its container.

use super::exec::ExecOptions;
use super::sync::{pid_alive, wait_pid_exit};
use super::Container;
use crate::units::parse_go_duration;
use crate::Runtime;
use berth_types::health::{
    HealthConfig, HealthLogEntry, HealthState, HEALTH_HEALTHY, HEALTH_LOG_KEPT, HEALTH_OUTPUT_KEPT,
    HEALTH_STARTING, HEALTH_UNHEALTHY,
};
use berth_types::{ContainerRecord, ContainerState, Error, ErrorKind, Result};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Podman's defaults for checks that do not say.
const DEFAULT_INTERVAL: u64 = 30_000_000_000;
const DEFAULT_TIMEOUT: u64 = 30_000_000_000;
const DEFAULT_RETRIES: u32 = 3;
const SECOND: u64 = 1_000_000_000;

/// The `--health-*` flags of `create`/`run`, as typed.
#[derive(Debug, Clone, Default)]
pub struct HealthOptions {
    /// `--health-cmd`: a shell command, a JSON array, or `none`.
    pub cmd: Option<String>,
    /// `--health-interval` (Go duration, or `disable`).
    pub interval: Option<String>,
    /// `--health-retries`.
    pub retries: Option<u32>,
    /// `--health-timeout` (Go duration).
    pub timeout: Option<String>,
    /// `--health-start-period` (Go duration).
    pub start_period: Option<String>,
    /// `--no-healthcheck`: none, not even the image's.
    pub disable: bool,
    /// `--health-on-failure`: `none`, `kill`, `restart` or `stop`.
    pub on_failure: Option<String>,
}

impl HealthOptions {
    fn any_set(&self) -> bool {
        self.cmd.is_some()
            || self.interval.is_some()
            || self.retries.is_some()
            || self.timeout.is_some()
            || self.start_period.is_some()
    }
}

/// `--health-cmd` as Podman reads it: a JSON array (`CMD` is prepended
/// unless it starts with `CMD`, `CMD-SHELL` or `NONE`), `none`, or a shell
/// command (`CMD-SHELL`).
fn parse_test(cmd: &str) -> Result<Vec<String>> {
    let t = cmd.trim();
    if t.starts_with('[') {
        let arr: Vec<String> = serde_json::from_str(t)
            .map_err(|e| Error::invalid(format!("invalid --health-cmd {cmd:?}: {e}")))?;
        if arr.is_empty() {
            return Err(Error::invalid("invalid --health-cmd: empty command"));
        }
        return Ok(match arr[0].as_str() {
            "CMD" | "CMD-SHELL" | "NONE" => arr,
            _ => std::iter::once("CMD".to_string()).chain(arr).collect(),
        });
    }
    if t.is_empty() {
        return Err(Error::invalid("invalid --health-cmd: empty command"));
    }
    if t.eq_ignore_ascii_case("none") {
        return Ok(vec!["NONE".into()]);
    }
    Ok(vec!["CMD-SHELL".into(), cmd.to_string()])
}

/// The container's healthcheck: the image's, overridden field by field by
/// the flags; `None` when there is none or it is disabled. Durations the
/// image leaves at 0 take Podman's defaults.
pub(crate) fn resolve(
    opts: &HealthOptions,
    image: Option<&HealthConfig>,
) -> Result<Option<HealthConfig>> {
    if opts.disable {
        if opts.any_set() {
            return Err(Error::invalid(
                "--no-healthcheck conflicts with the other --health-* options",
            ));
        }
        return Ok(None);
    }
    let on_failure = opts.on_failure.clone().unwrap_or_else(|| "none".into());
    if !["none", "kill", "restart", "stop"].contains(&on_failure.as_str()) {
        return Err(Error::invalid(format!(
            "invalid --health-on-failure {on_failure:?}: use none, kill, restart or stop"
        )));
    }
    let mut hc = match (&opts.cmd, image) {
        (Some(cmd), base) => HealthConfig {
            test: parse_test(cmd)?,
            ..base.cloned().unwrap_or_default()
        },
        (None, Some(base)) => base.clone(),
        (None, None) => return Ok(None),
    };
    if hc.command().is_none() {
        return Ok(None);
    }
    let duration = |flag: &str, v: &Option<String>, current: u64| -> Result<u64> {
        match v {
            Some(s) => parse_go_duration(s).map_err(|e| e.context(flag)),
            None => Ok(current),
        }
    };
    hc.interval = match opts.interval.as_deref() {
        Some("disable") => 0,
        other => {
            let v = duration(
                "--health-interval",
                &other.map(String::from),
                if hc.interval == 0 {
                    DEFAULT_INTERVAL
                } else {
                    hc.interval
                },
            )?;
            if v < SECOND {
                return Err(Error::invalid(
                    "--health-interval must be at least 1 second (or \"disable\")",
                ));
            }
            v
        }
    };
    hc.timeout = duration("--health-timeout", &opts.timeout, hc.timeout)?;
    if hc.timeout == 0 {
        hc.timeout = DEFAULT_TIMEOUT;
    }
    if hc.timeout < SECOND {
        return Err(Error::invalid("--health-timeout must be at least 1 second"));
    }
    hc.start_period = duration("--health-start-period", &opts.start_period, hc.start_period)?;
    hc.retries = opts.retries.unwrap_or(hc.retries);
    if hc.retries == 0 {
        if opts.retries == Some(0) {
            return Err(Error::invalid("--health-retries must be greater than 0"));
        }
        hc.retries = DEFAULT_RETRIES;
    }
    hc.on_failure = on_failure;
    Ok(Some(hc))
}

/// The `Healthcheck` of an image's configuration JSON (Docker's extension
/// of the OCI config, kept verbatim by the image store).
pub(crate) fn from_image_config(config_json: &str) -> Option<HealthConfig> {
    let v: serde_json::Value = serde_json::from_str(config_json).ok()?;
    let hc = v.get("config")?.get("Healthcheck")?;
    serde_json::from_value(hc.clone()).ok()
}

/// Fold one result into `state` (Podman's rules): success makes the
/// container healthy and resets the streak; a failure outside the start
/// period lengthens it, and `retries` failures in a row make it unhealthy.
pub(crate) fn record_result(
    state: &mut HealthState,
    cfg: &HealthConfig,
    entry: HealthLogEntry,
    in_start_period: bool,
) {
    if entry.exit_code == 0 {
        state.status = HEALTH_HEALTHY.into();
        state.failing_streak = 0;
    } else if !in_start_period {
        state.failing_streak += 1;
        if state.failing_streak >= cfg.retries {
            state.status = HEALTH_UNHEALTHY.into();
        }
    }
    state.log.push(entry);
    if state.log.len() > HEALTH_LOG_KEPT {
        let extra = state.log.len() - HEALTH_LOG_KEPT;
        state.log.drain(..extra);
    }
}

/// Reset the health status for a new start (the log is kept, as Podman
/// does). No-op for containers without a healthcheck.
pub(crate) fn reset_for_start(rec: &mut ContainerRecord) {
    if rec.config.healthcheck.is_some() {
        let h = rec.state.health.get_or_insert_with(HealthState::default);
        h.status = HEALTH_STARTING.into();
        h.failing_streak = 0;
    }
}

/// What one `healthcheck run` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// The check command succeeded.
    pub passed: bool,
    /// The container's health status after this check.
    pub status: String,
}

/// Output of a check: stdout and stderr interleaved, the first bytes kept.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Keep a little more than the log keeps (it cuts at a character
        // boundary); drain the rest so the monitor never blocks.
        let room = (HEALTH_OUTPUT_KEPT * 4).saturating_sub(v.len());
        v.extend_from_slice(&buf[..buf.len().min(room)]);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The first [`HEALTH_OUTPUT_KEPT`] characters of `bytes`.
fn log_output(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .take(HEALTH_OUTPUT_KEPT)
        .collect()
}

fn no_healthcheck(rec: &ContainerRecord) -> Error {
    Error::invalid(format!(
        "container {} has no defined healthcheck",
        rec.config.name
    ))
    .with_subject(rec.config.name.clone())
}

impl<'r> Container<'r> {
    /// Run the container's healthcheck once (`healthcheck run`), record
    /// the result and apply `--health-on-failure` when it turned
    /// unhealthy. Errors: no healthcheck, or the container is not running.
    pub fn healthcheck_run(&self) -> Result<CheckOutcome> {
        self.check_health(None)
    }

    /// One check; with `token`, only for the run of the container that
    /// monitor token names (the timer's own run).
    fn check_health(&self, token: Option<&str>) -> Result<CheckOutcome> {
        let rec = self.inspect_record()?;
        let Some((hc, command)) = rec
            .config
            .healthcheck
            .clone()
            .and_then(|h| h.command().map(|c| (h, c)))
        else {
            return Err(no_healthcheck(&rec));
        };
        if rec.state.state != ContainerState::Running {
            return Err(Error::new(
                ErrorKind::StateImproper {
                    state: rec.state.state.as_str().into(),
                    op: "healthcheck".into(),
                },
                format!("container {} is not running", rec.config.name),
            )
            .with_subject(rec.config.name.clone()));
        }
        let start = jiff::Timestamp::now();
        let (exit_code, output) = self.run_check(command, Duration::from_nanos(hc.timeout))?;
        let entry = HealthLogEntry {
            start: start.to_string(),
            end: jiff::Timestamp::now().to_string(),
            exit_code,
            output,
        };
        let status = self.batch(|c| {
            let st = &c.rec.state;
            if token.is_some_and(|t| t != st.monitor_token) || !st.state.is_active() {
                // Restarted or stopped meanwhile: this result belongs to
                // a run that is over.
                return Ok(None);
            }
            let in_start_period = st.started_at.is_some_and(|s| {
                let end = s.checked_add(jiff::SignedDuration::from_nanos(hc.start_period as i64));
                end.is_ok_and(|end| start < end)
            });
            let health = c.rec.state.health.get_or_insert_with(HealthState::default);
            record_result(health, &hc, entry, in_start_period);
            let status = health.status.clone();
            c.save()?;
            c.rt.emit_container_with(&c.rec, "health_status", None, &[("health_status", &status)]);
            Ok(Some(status))
        })?;
        let passed = exit_code == 0;
        let Some(status) = status else {
            let status = if passed {
                HEALTH_HEALTHY
            } else {
                HEALTH_UNHEALTHY
            };
            return Ok(CheckOutcome {
                passed,
                status: status.into(),
            });
        };
        if status == HEALTH_UNHEALTHY {
            self.on_failure(&hc.on_failure)?;
        }
        Ok(CheckOutcome { passed, status })
    }

    /// `--health-on-failure`, through the ordinary lifecycle operations
    /// (each takes the container's lock).
    fn on_failure(&self, action: &str) -> Result<()> {
        let r = match action {
            "kill" => self.kill(9),
            "stop" => self.stop(),
            "restart" => self.restart(None),
            _ => Ok(()),
        };
        // The container may have stopped on its own meanwhile.
        match r {
            Err(e) if matches!(e.kind, ErrorKind::StateImproper { .. }) => Ok(()),
            other => other,
        }
    }

    /// Run `command` as an exec session, bounded by `timeout`: its exit
    /// code (-1 on timeout, 126/127 when it cannot run) and output. The
    /// session is removed afterwards, as Podman hides healthcheck execs.
    fn run_check(&self, command: Vec<String>, timeout: Duration) -> Result<(i32, String)> {
        let opts = ExecOptions {
            command,
            ..Default::default()
        };
        let attached = match self.exec_attached(&opts) {
            Ok(a) => a,
            Err(e) if matches!(e.kind, ErrorKind::CannotInvoke | ErrorKind::CommandNotFound) => {
                return Ok((e.exit_code(), log_output(e.message.as_bytes())));
            }
            Err(e) => return Err(e),
        };
        let sid = attached.session_id;
        let captured = Captured::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let (mut out, mut err) = (captured.clone(), captured.clone());
        let stream = attached.stream;
        std::thread::spawn(move || {
            let _ = tx.send(stream.relay(None::<std::io::Empty>, &mut out, &mut err));
        });
        let timed_out = rx.recv_timeout(timeout).is_err();
        if timed_out {
            if let Ok(s) = self.rt.exec_session(&sid) {
                kill_pid(s.pid);
            }
        }
        let code = self.rt.exec_wait(&sid);
        let _ = self.rt.store.remove_exec_session(&sid);
        if timed_out {
            let secs = timeout.as_secs_f64();
            return Ok((
                -1,
                format!("healthcheck command exceeded timeout of {secs}s"),
            ));
        }
        let bytes = captured.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok((code?, log_output(&bytes)))
    }

    /// The timer's loop (`berth healthcheck timer ID TOKEN`): a check per
    /// interval while the container runs with monitor token `token`.
    /// Returns when that run is over.
    pub fn health_timer(&self, token: &str) -> Result<()> {
        loop {
            let Ok(rec) = self.inspect_record() else {
                return Ok(()); // removed
            };
            let st = &rec.state;
            let interval = rec.config.healthcheck.as_ref().map_or(0, |h| h.interval);
            if st.monitor_token != token || !st.state.is_active() || interval == 0 {
                return Ok(());
            }
            if st.state == ContainerState::Running {
                // A failed check is recorded; an error (it stopped
                // meanwhile) is noticed at the top of the loop.
                let _ = self.check_health(Some(token));
            }
            let pid = st.pid;
            let interval = Duration::from_nanos(interval);
            if pid > 0 && pid_alive(pid) {
                // Wakes at once when the container's init exits.
                wait_pid_exit(pid, interval);
            } else {
                std::thread::sleep(interval.min(Duration::from_secs(1)));
            }
        }
    }
}

fn kill_pid(pid: i32) {
    if pid > 0 {
        // SAFETY: plain kill(2) on a pid the session recorded.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Start the health timer for the run `rec` describes, when its
/// healthcheck has an interval. Best effort: a container without its timer
/// still answers `healthcheck run`.
pub(crate) fn spawn_timer(rt: &Runtime, rec: &ContainerRecord) {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let Some(hc) = &rec.config.healthcheck else {
        return;
    };
    if hc.interval == 0 || hc.command().is_none() {
        return;
    }
    let argv = rt.berth_argv(
        &rec.config.runtime,
        &["healthcheck", "timer", rec.id(), &rec.state.monitor_token],
    );
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe; the timer must not share our
    // session (a terminal's SIGHUP would end it).
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    // The timer forks and its first process exits at once (see
    // [`detach_timer_process`]), so this wait is short and leaves no zombie.
    if let Ok(mut child) = cmd.spawn() {
        let _ = child.wait();
    }
}

/// Detach the calling process for `healthcheck timer`: close every
/// inherited descriptor above stderr and fork; the parent exits at once
/// (its spawner waits for that), the child carries on reparented. Call
/// before opening anything (the database, locks).
pub fn detach_timer_process() -> Result<()> {
    // SAFETY: close_range on fds we do not use; fork in a process that is
    // still single-threaded (called first thing).
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        match libc::fork() {
            -1 => Err(Error::io(
                "forking the health timer",
                std::io::Error::last_os_error(),
            )),
            0 => Ok(()),
            _ => libc::_exit(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(cmd: &str) -> HealthOptions {
        HealthOptions {
            cmd: Some(cmd.into()),
            ..Default::default()
        }
    }

    #[test]
    fn flags_and_defaults() {
        let hc = resolve(&opts("curl -f localhost"), None).unwrap().unwrap();
        assert_eq!(hc.test, ["CMD-SHELL", "curl -f localhost"]);
        assert_eq!(
            (hc.interval, hc.timeout, hc.retries),
            (30 * SECOND, 30 * SECOND, 3)
        );
        assert_eq!(hc.on_failure, "none");
        let hc = resolve(&opts(r#"["true","x"]"#), None).unwrap().unwrap();
        assert_eq!(hc.test, ["CMD", "true", "x"]);
        assert!(resolve(&opts("none"), None).unwrap().is_none());
        let mut o = opts("true");
        o.interval = Some("disable".into());
        o.on_failure = Some("kill".into());
        let hc = resolve(&o, None).unwrap().unwrap();
        assert_eq!((hc.interval, hc.on_failure.as_str()), (0, "kill"));
        for bad in [
            HealthOptions {
                interval: Some("10ms".into()),
                ..opts("true")
            },
            HealthOptions {
                on_failure: Some("explode".into()),
                ..opts("true")
            },
            HealthOptions {
                retries: Some(0),
                ..opts("true")
            },
            HealthOptions {
                disable: true,
                ..opts("true")
            },
        ] {
            assert!(resolve(&bad, None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn image_healthcheck_is_honoured_and_overridden() {
        let json = r#"{"config":{"Healthcheck":{"Test":["CMD-SHELL","check"],"Interval":5000000000,"Retries":2}}}"#;
        let img = from_image_config(json).unwrap();
        let hc = resolve(&HealthOptions::default(), Some(&img))
            .unwrap()
            .unwrap();
        assert_eq!(hc.test, ["CMD-SHELL", "check"]);
        assert_eq!(
            (hc.interval, hc.timeout, hc.retries),
            (5 * SECOND, 30 * SECOND, 2)
        );
        let o = HealthOptions {
            retries: Some(7),
            ..Default::default()
        };
        assert_eq!(resolve(&o, Some(&img)).unwrap().unwrap().retries, 7);
        let o = HealthOptions {
            disable: true,
            ..Default::default()
        };
        assert!(resolve(&o, Some(&img)).unwrap().is_none());
        assert!(from_image_config(r#"{"config":{}}"#).is_none());
    }

    #[test]
    fn results_follow_podman() {
        let cfg = HealthConfig {
            retries: 2,
            ..Default::default()
        };
        let entry = |code| HealthLogEntry {
            start: String::new(),
            end: String::new(),
            exit_code: code,
            output: String::new(),
        };
        let mut st = HealthState::default();
        record_result(&mut st, &cfg, entry(1), true);
        assert_eq!((st.status.as_str(), st.failing_streak), ("starting", 0));
        record_result(&mut st, &cfg, entry(1), false);
        assert_eq!((st.status.as_str(), st.failing_streak), ("starting", 1));
        record_result(&mut st, &cfg, entry(1), false);
        assert_eq!((st.status.as_str(), st.failing_streak), ("unhealthy", 2));
        record_result(&mut st, &cfg, entry(0), false);
        assert_eq!((st.status.as_str(), st.failing_streak), ("healthy", 0));
        for _ in 0..10 {
            record_result(&mut st, &cfg, entry(0), false);
        }
        assert_eq!(st.log.len(), HEALTH_LOG_KEPT);
    }
}
