//! Fault injection for the crash tests (RELIABILITY 1-14): in debug builds
//! only, `BERTH_FAULT=NAME` makes the process SIGKILL itself when it reaches
//! the point called NAME, so a test can crash a command at an exact step
//! instead of guessing with timers. Release builds compile it to nothing.
//!
//! Points: `create-layer-allocated` (container layer made, row not yet
//! inserted), `monitor-exit-file` (berth-mon wrote and synced the exit
//! file's temp copy, not yet renamed), `remove-layer-gone` (`rm` deleted the
//! container's layer, not yet its record).

/// SIGKILL this process if `BERTH_FAULT` names this point (debug builds).
#[inline]
pub fn point(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os("BERTH_FAULT").is_some_and(|v| v == name) {
        // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}
