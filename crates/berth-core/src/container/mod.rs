//! The public container API: `berth-core`'s product surface, mirroring
//! libpod's Container API. Every operation is
//! lock → sync → check op against the state table → act → save.

pub mod artifacts;
pub mod attach;
pub mod checkpoint;
mod checkpoint_archive;
mod checkpoint_net;
pub mod cp;
pub mod exec;
pub mod health;
mod locked;
pub mod logs;
pub mod mount;
pub mod observe;
pub(crate) mod sync;

pub use attach::AttachStream;
pub use locked::LockedContainer;

use crate::Runtime;
use berth_types::{ContainerRecord, ErrorKind, Op, Result};
use std::time::Duration;

/// A handle on one container. It holds no lock; each call takes it.
pub struct Container<'r> {
    rt: &'r Runtime,
    id: String,
}

impl<'r> Container<'r> {
    pub(crate) fn new(rt: &'r Runtime, id: String) -> Self {
        Container { rt, id }
    }

    /// The container's full ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn lock(&self) -> Result<LockedContainer<'r>> {
        LockedContainer::acquire(self.rt, &self.id).map_err(|e| {
            if e.kind == ErrorKind::NoSuchContainer {
                locked::vanished(&self.id)
            } else {
                e
            }
        })
    }

    /// Run `f` with the lock held once: several operations, one lock hold.
    pub fn batch<T>(&self, f: impl FnOnce(&mut LockedContainer<'r>) -> Result<T>) -> Result<T> {
        let mut locked = self.lock()?;
        f(&mut locked)
    }

    /// Reconcile the stored state with the monitor and the runtime.
    pub fn sync(&self) -> Result<()> {
        self.lock().map(drop)
    }

    /// The container's configuration and state, synced when it may be
    /// stale (an active container whose monitor finished).
    pub fn inspect_record(&self) -> Result<ContainerRecord> {
        let rec = self.rt.store.get(&self.id)?;
        if sync::needs_sync(self.rt, &rec) {
            return Ok(self.lock()?.rec);
        }
        Ok(rec)
    }

    /// Create the container in the OCI runtime without starting it.
    pub fn init(&self) -> Result<()> {
        self.lock()?.init()
    }

    /// Start the container (creating it in the runtime first if needed).
    pub fn start(&self) -> Result<()> {
        crate::deps::start_dependencies(self.rt, &self.id)?;
        self.lock()?.start()
    }

    /// Start the container with a client attached from the first byte of
    /// output: the attach socket is connected between create and start.
    pub fn start_and_attach(&self) -> Result<AttachStream> {
        crate::deps::start_dependencies(self.rt, &self.id)?;
        let mut c = self.lock()?;
        c.check(Op::Start)?;
        if c.state() == berth_types::ContainerState::Created {
            // Already in the runtime (`init`): attach, then `runtime start`.
            let socket = self.rt.paths.attach_socket(&self.id);
            let stream = AttachStream::connect(&socket, c.record().config.stdin)?;
            c.start()?;
            return Ok(stream);
        }
        c.cleanup_runtime()?;
        let stream = c.launch(locked::Launch::RunAttached)?;
        c.save()?;
        c.event("start");
        health::spawn_timer(self.rt, c.record());
        stream.ok_or_else(|| berth_types::Error::internal("attached launch returned no stream"))
    }

    /// After a failed start: remove the container if it was created with
    /// `--rm` (Docker's `AutoRemove`), so nothing is left behind and
    /// clients waiting for its removal return. Best effort.
    pub fn discard_if_auto_remove(&self) {
        let auto_remove = self
            .rt
            .store
            .get(&self.id)
            .is_ok_and(|r| r.config.auto_remove);
        if auto_remove {
            let _ = self.remove(true, None);
        }
    }

    /// Attach to a running container's output (and stdin if it keeps it open).
    pub fn attach(&self) -> Result<AttachStream> {
        let c = self.lock()?;
        c.check(Op::Attach)?;
        AttachStream::connect(
            &self.rt.paths.attach_socket(&self.id),
            c.record().config.stdin,
        )
    }

    /// Set the window size of the container's terminal (no-op for the
    /// monitor when the container has none).
    pub fn resize_tty(&self, rows: u16, cols: u16) -> Result<()> {
        let c = self.lock()?;
        c.check(Op::Attach)?;
        attach::send_resize(&self.rt.paths.attach_socket(&self.id), rows, cols)
    }

    /// Stop with the container's own stop timeout.
    pub fn stop(&self) -> Result<()> {
        let timeout = self.rt.store.get(&self.id)?.config.stop_timeout;
        self.stop_with_timeout(timeout)
    }

    /// Send the stop signal, wait up to `timeout` seconds, then SIGKILL.
    /// The lock is released while waiting so `ps`, `inspect` and `logs`
    /// keep answering (they show the container as "stopping").
    pub fn stop_with_timeout(&self, timeout: u64) -> Result<()> {
        let Some(pid) = self.lock()?.begin_stop(timeout)? else {
            return Ok(());
        };
        if !sync::wait_pid_exit(pid, Duration::from_secs(timeout)) {
            self.lock()?.kill_after_timeout(pid)?;
            sync::wait_pid_exit(pid, Duration::from_secs(30));
        }
        self.lock()?.finish_stop()
    }

    /// Send `signal` to the container's init.
    pub fn kill(&self, signal: i32) -> Result<()> {
        self.lock()?.kill(signal)
    }

    /// Stop (if running) and start again.
    pub fn restart(&self, timeout: Option<u64>) -> Result<()> {
        let mut c = self.lock()?;
        c.check(Op::Restart)?;
        if c.state().is_active() {
            let t = timeout.unwrap_or(c.record().config.stop_timeout);
            drop(c);
            self.stop_with_timeout(t)?;
            c = self.lock()?;
        }
        c.start()?;
        c.event("restart");
        Ok(())
    }

    /// The record, or `Err(code)` when the container was removed meanwhile
    /// (`--rm` and the monitor's cleanup): the store keeps the last exit
    /// code of removed containers.
    fn record_or_exit_code(&self) -> Result<std::result::Result<ContainerRecord, i32>> {
        match self.inspect_record() {
            Ok(rec) => Ok(Ok(rec)),
            Err(e) if e.kind == ErrorKind::NoSuchContainer => {
                Ok(Err(self.rt.store.removed_exit_code(&self.id)?.ok_or(e)?))
            }
            Err(e) => Err(e),
        }
    }

    /// Block until the container is not running and return its exit code.
    pub fn wait_for_exit(&self) -> Result<i32> {
        let mut pause = Duration::from_micros(500);
        loop {
            let rec = match self.record_or_exit_code()? {
                Ok(rec) => rec,
                Err(code) => return Ok(code),
            };
            let active = rec.state.state.is_active()
                || rec.state.state == berth_types::ContainerState::Created;
            if !active {
                return Ok(rec.state.exit_code.unwrap_or(0));
            }
            if rec.state.pid > 0 && rec.state.state != berth_types::ContainerState::Created {
                // Sleep on the pidfd instead of polling while it runs.
                sync::wait_pid_exit(rec.state.pid, Duration::from_secs(1));
                sync::wait_exit_file(self.rt, &rec, Duration::from_secs(1));
                continue;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Block until the container's next run has ended and return its exit
    /// code. `started_before` is the start time the caller last saw
    /// (`state.started_at` of a record it read): a run that began after it
    /// counts even if it started and ended between two looks; a container
    /// that has not started since (Docker's `run` waits before it starts)
    /// is waited for to start first, for as long as `keep_waiting` says
    /// (a client that went away stops it with an error).
    pub fn wait_next_exit(
        &self,
        started_before: Option<jiff::Timestamp>,
        keep_waiting: &dyn Fn() -> bool,
    ) -> Result<i32> {
        let mut pause = Duration::from_millis(1);
        loop {
            if !keep_waiting() {
                return Err(berth_types::Error::internal(format!(
                    "gave up waiting for container {} to start",
                    self.id
                )));
            }
            let rec = match self.record_or_exit_code()? {
                Ok(rec) => rec,
                Err(code) => return Ok(code),
            };
            if rec.state.state.is_active() {
                return self.wait_for_exit();
            }
            if rec.state.started_at != started_before {
                return Ok(rec.state.exit_code.unwrap_or(0));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// The monitor's exit command: record the exit and release resources,
    /// removing the container if it was created with `--rm`. A container
    /// that is already gone is not an error.
    pub fn cleanup(&self) -> Result<()> {
        // A restart policy restarts with a back-off that grows with each
        // restart (100 ms doubling to 10 s), slept without the lock so the
        // user can stop or remove the container meanwhile; `stop` then wins.
        if let Ok(rec) = self.rt.store.get(&self.id) {
            let policy = &rec.config.restart_policy;
            if policy.is_set() && !rec.state.stop_requested {
                let exp = rec.state.restart_count.min(7);
                std::thread::sleep(Duration::from_millis((100u64 << exp).min(10_000)));
            }
        }
        match self.lock() {
            Ok(c) => c.cleanup(),
            Err(e) if e.kind == ErrorKind::NoSuchContainer => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Remove the container; `force` stops a running one first (SIGKILL,
    /// or the stop signal with `timeout` seconds of grace).
    pub fn remove(&self, force: bool, timeout: Option<u64>) -> Result<()> {
        crate::deps::check_no_dependents(self.rt, &self.id)?;
        self.remove_unchecked(force, timeout)
    }

    /// Remove the container without looking for dependents (their removal
    /// is the caller's: `rm --depend`, `pod rm`).
    pub(crate) fn remove_unchecked(&self, force: bool, timeout: Option<u64>) -> Result<()> {
        self.lock()?.remove(force, timeout)
    }

    /// Rename the container.
    pub fn rename(&self, new_name: &str) -> Result<()> {
        self.lock()?.rename(new_name)
    }

    /// Freeze every process of the container.
    pub fn pause(&self) -> Result<()> {
        self.lock()?.pause()
    }

    /// Thaw a paused container.
    pub fn unpause(&self) -> Result<()> {
        self.lock()?.unpause()
    }

    /// Path of the container's log file.
    pub fn log_path(&self) -> std::path::PathBuf {
        self.rt.paths.log_file(&self.id)
    }
}
