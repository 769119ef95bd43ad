//! Reconciling a container's stored state with reality: the monitor's exit
//! file, and whether the monitor and the container's init are alive.
//!
//! This is berth's "sync from the runtime". It never calls the OCI runtime
//! (one `runc state` costs milliseconds); the monitor's exit file and
//! signal-0 probes answer the same question in microseconds.

use crate::Runtime;
use berth_types::{ContainerRecord, ContainerState};
use std::time::Duration;

/// True when the process `pid` exists (a zombie counts: its parent has not
/// collected the exit status yet).
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match rustix::process::Pid::from_raw(pid) {
        Some(p) => !matches!(
            rustix::process::test_kill_process(p),
            Err(rustix::io::Errno::SRCH)
        ),
        None => false,
    }
}

/// True when `pid` exists and is not a zombie: a process whose parent died
/// is reparented to pid 1, which may take its time to reap it, and a dead
/// container must not count as running meanwhile.
pub fn pid_running(pid: i32) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the command name's ')'.
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|s| s != "Z" && s != "X"),
        Err(_) => false,
    }
}

/// Read the monitor's exit file: the container's exit code and when it was
/// written.
pub fn read_exit_file(rt: &Runtime, rec: &ContainerRecord) -> Option<(i32, jiff::Timestamp)> {
    let path = rt.paths.exit_file(rec.id(), &rec.state.monitor_token);
    let text = std::fs::read_to_string(&path).ok()?;
    let code = text.trim().parse().ok()?;
    let when = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
        .unwrap_or_else(jiff::Timestamp::now);
    Some((code, when))
}

/// Cheap check (no lock) whether `rec` may be out of date: an active
/// container whose exit file exists or whose monitor is gone.
pub fn needs_sync(rt: &Runtime, rec: &ContainerRecord) -> bool {
    rec.state.state.is_active()
        && (rt
            .paths
            .exit_file(rec.id(), &rec.state.monitor_token)
            .exists()
            || !pid_running(rec.state.monitor_pid))
        || rec.state.state == ContainerState::Created && !pid_running(rec.state.monitor_pid)
}

/// Bring `rec` up to date. Returns true when it changed. Call with the
/// container's lock held.
pub fn sync_record(rt: &Runtime, rec: &mut ContainerRecord) -> bool {
    let st = &rec.state;
    if !(st.state.is_active() || st.state == ContainerState::Created) {
        return false;
    }
    if let Some((code, when)) = read_exit_file(rt, rec) {
        mark_exited(rt, rec, code, when, None);
        return true;
    }
    let st = &rec.state;
    if pid_running(st.monitor_pid) {
        return false;
    }
    // The monitor is gone without writing an exit file (it was killed).
    // While the container's init lives the container is still running; the
    // exit code is lost once it is gone.
    if pid_running(st.pid) {
        return false;
    }
    mark_exited(
        rt,
        rec,
        -1,
        jiff::Timestamp::now(),
        Some("the container's monitor died; exit code unknown"),
    );
    true
}

fn mark_exited(
    rt: &Runtime,
    rec: &mut ContainerRecord,
    code: i32,
    when: jiff::Timestamp,
    error: Option<&str>,
) {
    let oom = rt.paths.oom_file(&rec.config.id).exists();
    let st = &mut rec.state;
    st.state = ContainerState::Exited;
    st.exit_code = Some(code);
    st.finished_at = Some(when);
    st.pid = 0;
    st.monitor_pid = 0;
    st.oom_killed = oom;
    // `stop_requested` stays set until the next start: the restart policy
    // must see that this exit was the user's doing.
    if let Some(e) = error {
        st.error = e.to_string();
    }
}

/// Wait until `pid` has exited (or `timeout` passes). Returns true when it
/// is gone. Uses a pidfd, which becomes readable when the process exits,
/// so no polling loop is needed.
pub fn wait_pid_exit(pid: i32, timeout: Duration) -> bool {
    let Some(p) = rustix::process::Pid::from_raw(pid) else {
        return true;
    };
    let fd = match rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(_) => return !pid_alive(pid),
    };
    let mut fds = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    let ts = rustix::event::Timespec {
        tv_sec: timeout.as_secs() as i64,
        tv_nsec: timeout.subsec_nanos() as i64,
    };
    loop {
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(n) => return n > 0,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return !pid_alive(pid),
        }
    }
}

/// After the init exited, wait (bounded) for the monitor to record the exit
/// code: it writes the exit file right after draining output.
pub fn wait_exit_file(rt: &Runtime, rec: &ContainerRecord, limit: Duration) {
    let exit_file = rt.paths.exit_file(rec.id(), &rec.state.monitor_token);
    let monitor_pid = rec.state.monitor_pid;
    let deadline = std::time::Instant::now() + limit;
    let mut pause = Duration::from_micros(200);
    while !exit_file.exists() && pid_running(monitor_pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
