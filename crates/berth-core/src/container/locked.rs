//! `LockedContainer`: a container whose lock this process holds. The
//! unlocked internals of every operation live here; the public API in
//! `mod.rs` takes the lock, syncs, checks the op against the state table and
//! calls one of these. `Container::batch` hands one to a closure so several
//! operations run under a single lock hold.

use super::sync::{self, sync_record};
use super::AttachStream;
use crate::spec::{build_spec, write_etc_files};
use crate::user::resolve_user;
use crate::Runtime;
use berth_lock::LockGuard;
use berth_oci::{MonitorAck, MonitorRequest, OciRuntime, PendingMonitor};
use berth_types::{check_op, ContainerRecord, ContainerState, Error, ErrorKind, Op, Result};
use std::cell::Cell;
use std::time::Duration;

/// How long to wait for the monitor to write the exit file once the
/// container's init is gone.
const EXIT_FILE_WAIT: Duration = Duration::from_secs(5);

/// How `launch` puts a container into the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Launch {
    /// `runtime create`; `start` follows separately (`init`, then `start`).
    Create,
    /// One foreground `runtime run` (create, start, wait, delete: two
    /// runtime execs fewer), starting once our attach client is connected.
    /// Used by `start_and_attach`, where the caller stays for the whole run.
    RunAttached,
    /// `runtime restore` from the container's checkpoint (see
    /// `checkpoint.rs`): running once the monitor reports, like a start.
    Restore,
}

/// A container with its lock held. Dropping it releases the lock.
pub struct LockedContainer<'r> {
    pub(crate) rt: &'r Runtime,
    pub(crate) rec: ContainerRecord,
    pub(crate) guard: Option<LockGuard>,
    /// The go-ahead of a monitor launched but not yet recorded: confirmed
    /// by the next successful [`Self::save`]; dropped unconfirmed (this
    /// process failing or dying first), the monitor removes its container.
    pub(crate) ack: Cell<Option<MonitorAck>>,
}

impl<'r> LockedContainer<'r> {
    /// Take the lock for `id` and load and sync its record.
    pub(crate) fn acquire(rt: &'r Runtime, id: &str) -> Result<Self> {
        let guard = rt.locks.lock(id)?;
        // Read after locking: what we read before may be stale.
        let rec = match rt.store.get(id) {
            Ok(rec) => rec,
            Err(e) => {
                // Removed while we waited (`run --rm` and the monitor's
                // cleanup race for it): taking the lock recreated its file,
                // which must not outlive this call.
                if e.kind == ErrorKind::NoSuchContainer {
                    let _ = rt.locks.remove(guard);
                }
                return Err(e);
            }
        };
        let mut locked = LockedContainer {
            rt,
            rec,
            guard: Some(guard),
            ack: Cell::new(None),
        };
        locked.sync()?;
        Ok(locked)
    }

    /// The container's record as of now.
    pub fn record(&self) -> &ContainerRecord {
        &self.rec
    }

    /// The container's current state.
    pub fn state(&self) -> ContainerState {
        self.rec.state.state
    }

    fn name(&self) -> &str {
        &self.rec.config.name
    }

    fn id(&self) -> &str {
        &self.rec.config.id
    }

    /// Reconcile with the monitor's exit file and save if anything changed.
    /// The process that records an exit is the one that reports it
    /// (`died`), so each exit is one event.
    pub fn sync(&mut self) -> Result<()> {
        if sync_record(self.rt, &mut self.rec) {
            self.save()?;
            if self.state() == ContainerState::Exited {
                self.rt
                    .emit_container(&self.rec, "died", self.rec.state.exit_code);
            }
        }
        Ok(())
    }

    /// Record a lifecycle event for this container.
    pub(crate) fn event(&self, status: &str) {
        self.rt.emit_container(&self.rec, status, None);
    }

    /// Check `op` against the state table: `Ok(false)` when already done.
    pub fn check(&self, op: Op) -> Result<bool> {
        check_op(op, self.state(), self.name())
    }

    /// Persist the runtime state.
    pub fn save(&self) -> Result<()> {
        self.rt.store.save_state(self.id(), &self.rec.state)?;
        if let Some(ack) = self.ack.take() {
            ack.confirm();
        }
        Ok(())
    }

    pub(crate) fn oci(&self) -> berth_oci::RuntimeCli {
        self.rt.oci_for(&self.rec.config.runtime)
    }

    /// Mount the rootfs, write the bundle and create the container in the
    /// runtime under a new monitor. State becomes Created.
    pub fn init(&mut self) -> Result<()> {
        if !self.check(Op::Init)? {
            return Ok(());
        }
        self.launch(Launch::Create)?;
        self.save()?;
        self.event("init");
        Ok(())
    }

    /// Put the container in the runtime under a new monitor, `how` says in
    /// which mode; with `Launch::RunAttached` the returned stream was
    /// connected before the process started. Does not save: callers save
    /// once, after their whole operation.
    pub(crate) fn launch(&mut self, how: Launch) -> Result<Option<AttachStream>> {
        let rt = self.rt;
        let id = self.id().to_string();
        let mountpoint = rt
            .images()?
            .mount(&id)
            .map_err(|e| e.context(format!("mounting container {}", self.name())))?;
        // Undo the mounts of a launch that fails from here on.
        let unmount = |cfg: &berth_types::ContainerConfig| {
            crate::volumes::release_volumes(rt, cfg, &id);
            let _ = rt.images().and_then(|s| s.unmount(&id));
        };
        // Mount volumes that have a filesystem of their own, then fill empty
        // volumes from the image on their first use.
        let volumes = crate::volumes::mount_volumes(rt, &self.rec.config, &id)
            .and_then(|()| crate::volumes::copy_up(rt, &self.rec.config, &mountpoint));
        if let Err(e) = volumes {
            unmount(&self.rec.config);
            return Err(e.context(format!("preparing volumes of container {}", self.name())));
        }
        let token = crate::names::random_id()[..16].to_string();
        // The network namespace and addresses exist before the runtime
        // creates the container; saved at once so a crash cannot lose them.
        let networked = crate::network::setup(rt, &mut self.rec).and_then(|set_up| {
            if set_up {
                self.save()
            } else {
                Ok(())
            }
        });
        if let Err(e) = networked {
            let _ = crate::network::teardown(rt, &mut self.rec);
            unmount(&self.rec.config);
            return Err(e);
        }
        // Taken before the process can start: one that exits at once must
        // not look as if it finished before it started.
        let started = jiff::Timestamp::now();
        let launched = self
            .start_monitor(&mountpoint, &token, how)
            .and_then(|pending| {
                let stream = match how {
                    Launch::RunAttached => {
                        let socket = rt.paths.attach_socket(&id);
                        Some(AttachStream::connect(&socket, self.rec.config.stdin))
                    }
                    _ => None,
                };
                let (msg, ack) = pending
                    .wait_ready_held()
                    .map_err(|e| e.with_subject(self.name().to_string()))?;
                let stream = stream.transpose()?;
                self.ack.set(ack);
                berth_types::fault::point("start-monitor-reported");
                Ok((msg, stream))
            });
        let (msg, stream) = match launched {
            Ok(ok) => ok,
            Err(e) => {
                let _ = crate::network::teardown(rt, &mut self.rec);
                unmount(&self.rec.config);
                self.rec.state.error = e.message.clone();
                let _ = self.save();
                return Err(e);
            }
        };
        let st = &mut self.rec.state;
        if how == Launch::Create {
            st.state = ContainerState::Created;
        } else {
            st.state = ContainerState::Running;
            st.started_at = Some(started);
            st.finished_at = None;
            st.exit_code = None;
            st.oom_killed = false;
            super::health::reset_for_start(&mut self.rec);
        }
        let st = &mut self.rec.state;
        st.pid = msg.pid;
        st.monitor_pid = msg.monitor_pid;
        st.monitor_token = token;
        st.mountpoint = Some(mountpoint.to_string_lossy().into_owned());
        st.error.clear();
        Ok(stream)
    }

    /// Write the bundle and start the monitor (which starts the runtime).
    fn start_monitor(
        &mut self,
        rootfs: &std::path::Path,
        token: &str,
        how: Launch,
    ) -> Result<PendingMonitor> {
        let rt = self.rt;
        let cfg = &self.rec.config;
        let paths = &rt.paths;
        let userdata = paths.userdata(&cfg.id);
        let run_dir = paths.run_dir(&cfg.id);
        for d in [
            &userdata,
            &run_dir,
            &paths.attach_socket(&cfg.id).with_file_name(""),
        ] {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
        }
        // Exit files of earlier monitors (any token) go, and the oom marker.
        if let Ok(entries) = std::fs::read_dir(&run_dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with("exit-") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        for stale in [
            paths.oom_file(&cfg.id),
            paths.pid_file(&cfg.id),
            paths.attach_socket(&cfg.id),
        ] {
            let _ = std::fs::remove_file(stale);
        }
        write_etc_files(cfg, &userdata, self.rec.state.net.as_ref())?;
        let user = resolve_user(rootfs, &cfg.user, &cfg.name)?;
        crate::rootfs::ensure_workdir(cfg, rootfs, (user.uid, user.gid))?;
        let netns = crate::network::spec_netns(rt, &self.rec)?;
        let mut spec = build_spec(cfg, rootfs, &userdata, &user, &rt.hooks_dirs, &netns)?;
        crate::pod::apply_joins(rt, &self.rec, &mut spec)?;
        if how == Launch::Restore {
            super::checkpoint::add_restore_hook(rt, &mut spec)?;
        }
        let spec_json = serde_json::to_vec_pretty(&spec)?;
        let spec_path = userdata.join("config.json");
        std::fs::write(&spec_path, spec_json).map_err(|e| {
            Error::io(
                format!("container {}: writing {}", cfg.name, spec_path.display()),
                e,
            )
        })?;
        let oci = self.oci();
        // A leftover from a crash between create and delete would make
        // `create` fail with "container already exists".
        oci.delete(&cfg.id, true)?;
        let req = MonitorRequest {
            monitor_binary: rt.monitor_binary.clone(),
            container_id: cfg.id.clone(),
            bundle: userdata.clone(),
            pid_file: paths.pid_file(&cfg.id),
            exit_file: paths.exit_file(&cfg.id, token),
            log_path: paths.log_file(&cfg.id),
            attach_socket: paths.attach_socket(&cfg.id),
            stdin: cfg.stdin,
            run: how == Launch::RunAttached,
            attach_wait: how == Launch::RunAttached,
            exec_process: None,
            exit_command: rt.berth_argv(&cfg.runtime, &["container", "cleanup", &cfg.id]),
        };
        let mut log = berth_oci::MonitorOptions {
            ack_lock_file: Some(paths.locks().join(format!("{}.lock", cfg.id))),
            log_driver: cfg.log_driver.clone(),
            log_max_size: cfg.log_max_size,
            log_max_file: cfg.log_max_file,
            ..Default::default()
        };
        if how == Launch::Restore {
            super::checkpoint::restore_monitor_options(rt, &self.rec, &mut log)?;
        }
        berth_oci::start_monitor_with(&oci, &req, &log)
            .map_err(|e| e.with_subject(cfg.name.clone()))
    }

    /// Start the container, creating it in the runtime first if needed.
    pub fn start(&mut self) -> Result<()> {
        if !self.check(Op::Start)? {
            return Ok(());
        }
        if self.state() != ContainerState::Created {
            // Create mode, not run mode: a detached container may live
            // long, and a foreground `runc run` would stay beside it for
            // its whole life (about 9 MB private, measured).
            self.cleanup_runtime()?;
            self.launch(Launch::Create)?;
        }
        // Taken before the start: a process that exits at once must not
        // look as if it finished before it started.
        let started = jiff::Timestamp::now();
        if let Err(e) = self.oci().start(self.id()) {
            // Leave nothing half-started: the container goes back to
            // "created in the database only" with the error recorded.
            let _ = self.oci().delete(self.id(), true);
            sync::wait_pid_exit(self.rec.state.pid, Duration::from_secs(5));
            self.cleanup_runtime()?;
            self.rec.state.state = ContainerState::Configured;
            self.rec.state.error = e.message.clone();
            self.save()?;
            return Err(e);
        }
        let st = &mut self.rec.state;
        st.state = ContainerState::Running;
        st.started_at = Some(started);
        st.finished_at = None;
        st.exit_code = None;
        st.oom_killed = false;
        st.stop_requested = false;
        super::health::reset_for_start(&mut self.rec);
        self.save()?;
        self.event("start");
        super::health::spawn_timer(self.rt, &self.rec);
        Ok(())
    }

    /// Send `signal` to the container's init.
    pub fn kill(&mut self, signal: i32) -> Result<()> {
        self.check(Op::Kill)?;
        self.signal(signal, false)?;
        if self.state() == ContainerState::Paused && signal == 9 {
            let _ = self.oci().resume(self.id());
        }
        self.event("kill");
        Ok(())
    }

    /// Deliver a signal; a container that exited meanwhile is not an error.
    fn signal(&self, signal: i32, all: bool) -> Result<()> {
        match self.oci().kill(self.id(), signal, all) {
            Ok(()) => Ok(()),
            Err(_) if !sync::pid_running(self.rec.state.pid) => Ok(()),
            Err(e)
                if e.message.contains("not running")
                    || e.message.contains("process already finished") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Send the stop signal and mark the container Stopping. Returns the
    /// init's pid to wait for, or `None` when there is nothing to stop.
    pub(crate) fn begin_stop(&mut self, timeout: u64) -> Result<Option<i32>> {
        if !self.check(Op::Stop)? {
            // Already down, perhaps waiting out a restart back-off: the
            // user's stop must still win over that pending restart.
            if self.rec.config.restart_policy.is_set() && !self.rec.state.stop_requested {
                self.rec.state.stop_requested = true;
                self.save()?;
            }
            return Ok(None);
        }
        let was_paused = self.state() == ContainerState::Paused;
        let signal = if timeout == 0 {
            9
        } else {
            self.rec.config.stop_signal
        };
        self.signal(signal, signal == 9)?;
        if was_paused {
            let _ = self.oci().resume(self.id());
        }
        self.rec.state.state = ContainerState::Stopping;
        self.rec.state.stop_requested = true;
        self.save()?;
        Ok(Some(self.rec.state.pid))
    }

    /// Escalate to SIGKILL when the stop signal did not end the container.
    pub(crate) fn kill_after_timeout(&self, pid: i32) -> Result<()> {
        if sync::pid_alive(pid) {
            self.signal(9, true)?;
        }
        Ok(())
    }

    /// After the init is gone: record the exit and release runtime resources.
    pub(crate) fn finish_stop(&mut self) -> Result<()> {
        sync::wait_exit_file(self.rt, &self.rec, EXIT_FILE_WAIT);
        self.sync()?;
        if self.state().is_active() && !sync::pid_running(self.rec.state.pid) {
            // The monitor is alive but silent: record the exit ourselves.
            self.rec.state.state = ContainerState::Exited;
            self.rec.state.exit_code.get_or_insert(137);
            self.rec.state.finished_at = Some(jiff::Timestamp::now());
        }
        self.cleanup_runtime()?;
        self.save()?;
        self.event("stop");
        Ok(())
    }

    /// Stop while holding the lock throughout (batch use): signal, wait up to
    /// `timeout` seconds, SIGKILL, wait, clean up.
    pub fn stop(&mut self, timeout: u64) -> Result<()> {
        let Some(pid) = self.begin_stop(timeout)? else {
            return Ok(());
        };
        if !sync::wait_pid_exit(pid, Duration::from_secs(timeout)) {
            self.kill_after_timeout(pid)?;
            sync::wait_pid_exit(pid, Duration::from_secs(30));
        }
        self.finish_stop()
    }

    /// Release what the runtime holds for a container that is not running:
    /// the runtime's record, the rootfs mount, the monitor's files.
    pub fn cleanup_runtime(&mut self) -> Result<()> {
        if self.state().is_active() {
            return Err(check_op(Op::Cleanup, self.state(), self.name()).unwrap_err());
        }
        let id = self.id().to_string();
        self.oci().delete(&id, true)?;
        // Addresses and the namespace go even when netavark fails; its
        // error does not keep the container from stopping or going away.
        let _ = crate::network::teardown(self.rt, &mut self.rec);
        crate::volumes::release_volumes(self.rt, &self.rec.config, &id);
        self.rt.images()?.unmount(&id)?;
        self.rec.state.mountpoint = None;
        let paths = &self.rt.paths;
        for f in [paths.pid_file(&id), paths.attach_socket(&id)] {
            let _ = std::fs::remove_file(f);
        }
        if self.state() == ContainerState::Created {
            // Created but never started, and its monitor is gone.
            self.rec.state.state = ContainerState::Configured;
        }
        self.rec.state.pid = 0;
        self.rec.state.monitor_pid = 0;
        Ok(())
    }

    /// The monitor's exit command: record the exit, release runtime
    /// resources and remove the container if it was run with `--rm`.
    pub fn cleanup(mut self) -> Result<()> {
        self.check(Op::Cleanup)?;
        self.cleanup_runtime()?;
        self.save()?;
        self.event("cleanup");
        if self.wants_restart() {
            // Restart policy: start it again (create mode, as any start).
            self.rec.state.restart_count += 1;
            self.start()?;
            self.event("restart");
            return Ok(());
        }
        if self.rec.config.auto_remove && self.state() == ContainerState::Exited {
            // `--rm` takes the container's anonymous volumes with it.
            let (rt, cfg) = (self.rt, self.rec.config.clone());
            self.remove(true, None)?;
            return crate::volumes::remove_anonymous(rt, &cfg);
        }
        Ok(())
    }

    /// Whether the restart policy asks for a start after this exit.
    pub(crate) fn wants_restart(&self) -> bool {
        let st = &self.rec.state;
        st.state == ContainerState::Exited
            && self.rec.config.restart_policy.wants_restart(
                st.exit_code.unwrap_or(0),
                st.restart_count,
                st.stop_requested,
            )
    }

    /// Remove the container: stop it first when forced (SIGKILL at once,
    /// or the stop signal with `timeout` seconds of grace), then delete
    /// everything it owns. Consumes the lock (its file goes too).
    pub fn remove(mut self, force: bool, timeout: Option<u64>) -> Result<()> {
        self.check(if force { Op::RemoveForce } else { Op::Remove })?;
        if self.state().is_active() {
            self.stop(timeout.unwrap_or(0))?;
        }
        // Everything below runs under the lock; a crash part-way leaves a
        // `removing` record (saved first, so nobody starts a half-removed
        // container) that `rm` removes again (each step is idempotent).
        self.rec.state.state = ContainerState::Removing;
        self.save()?;
        self.cleanup_runtime()?;
        let id = self.id().to_string();
        let rt = self.rt;
        rt.images()?.remove_container_layer(&id)?;
        berth_types::fault::point("remove-layer-gone");
        for dir in [rt.paths.container_dir(&id), rt.paths.run_dir(&id)] {
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(format!("removing {}", dir.display()), e)
                        .with_subject(self.name()));
                }
                _ => {}
            }
        }
        rt.store.remove(&id)?;
        self.event("remove");
        if let Some(guard) = self.guard.take() {
            rt.locks.remove(guard)?;
        }
        Ok(())
    }

    /// Give the container a new name.
    pub fn rename(&mut self, new_name: &str) -> Result<()> {
        self.check(Op::Rename)?;
        berth_types::id::validate_name(new_name)?;
        self.rt.store.rename(self.id(), new_name)?;
        self.rec.config.name = new_name.to_string();
        self.event("rename");
        Ok(())
    }

    /// Freeze the container.
    pub fn pause(&mut self) -> Result<()> {
        self.check(Op::Pause)?;
        self.oci().pause(self.id())?;
        self.rec.state.state = ContainerState::Paused;
        self.save()?;
        self.event("pause");
        Ok(())
    }

    /// Thaw the container.
    pub fn unpause(&mut self) -> Result<()> {
        self.check(Op::Unpause)?;
        self.oci().resume(self.id())?;
        self.rec.state.state = ContainerState::Running;
        self.save()?;
        self.event("unpause");
        Ok(())
    }
}

/// Lookup errors for containers that vanished between lookup and lock.
pub(crate) fn vanished(id: &str) -> Error {
    Error::new(
        ErrorKind::NoSuchContainer,
        format!("no container with ID {id} found: no such container"),
    )
    .with_subject(id)
}
