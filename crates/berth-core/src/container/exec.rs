//! `exec`: run another process in a running container, as a persisted exec
//! session under its own `berth-mon` in exec mode (protocol in
//! `berth_types::exec`).
//!
//! The monitor runs one foreground `runtime exec --process FILE`, so a
//! session keeps a monitor that records its exit code even when the client
//! is gone (`-d`, or a killed `berth exec`): nothing of a session depends on
//! the client staying alive. Attached sessions start the process only once
//! the client is connected (attach-wait, as `start_and_attach` does), so no
//! output is lost.
//!
//! Session state is reconciled lazily, like containers': the monitor's exit
//! file and a liveness probe of the monitor answer "has it ended".

use super::sync::{pid_alive, wait_pid_exit};
use super::{AttachStream, Container};
use crate::user::resolve_user;
use crate::Runtime;
use berth_oci::{start_monitor_with, MonitorOptions, MonitorRequest, PendingMonitor};
use berth_types::exec::{ExecSession, ExecState};
use berth_types::{ContainerRecord, Error, ErrorKind, Op, Result};
use oci_spec::runtime::{Capabilities, LinuxCapabilitiesBuilder, Process, Spec, UserBuilder};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What to run and how (`berth exec` flags).
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// `KEY=value` pairs added to the container's environment (already
    /// expanded: `-e KEY` and `--env-file` resolved by the caller).
    pub env: Vec<String>,
    /// `--user`; empty means the container's user.
    pub user: String,
    /// `--workdir`; empty means the container's.
    pub workdir: String,
    /// `--privileged`: every capability berth holds.
    pub privileged: bool,
    /// `-i`: keep stdin open and feed it from the client.
    pub interactive: bool,
    /// `-t`: give the command a terminal (relayed by the session's monitor).
    pub tty: bool,
    /// With `tty`: the terminal's size (rows, columns) from its start, so
    /// the command never sees a 0x0 terminal before the first resize (the
    /// Docker API's `ConsoleSize`).
    pub console_size: Option<(u16, u16)>,
}

/// An attached exec session: relay `stream`, then [`Runtime::exec_wait`].
pub struct ExecAttach {
    /// The session's full ID.
    pub session_id: String,
    /// The connection to the session's monitor.
    pub stream: AttachStream,
}

/// A session's files: `RUNROOT/containers/CID/exec/SID/` (removed with the
/// container's run directory) and its attach socket.
struct SessionFiles {
    dir: PathBuf,
    socket: PathBuf,
}

impl SessionFiles {
    fn new(rt: &Runtime, container_id: &str, session_id: &str) -> Self {
        SessionFiles {
            dir: rt.paths.run_dir(container_id).join("exec").join(session_id),
            // Same directory and length rule as containers' sockets: unix
            // socket paths are limited to 108 bytes.
            socket: rt.paths.attach_socket(session_id),
        }
    }
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    /// Everything but what the store keeps; best effort.
    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl<'r> Container<'r> {
    /// Start `opts` in the container with a client attached from the first
    /// byte; relay the stream, then call [`Runtime::exec_wait`].
    pub fn exec_attached(&self, opts: &ExecOptions) -> Result<ExecAttach> {
        let (session, stream) = self.exec_launch(opts, false)?;
        let stream = stream.ok_or_else(|| Error::internal("attached exec returned no stream"))?;
        Ok(ExecAttach {
            session_id: session.id,
            stream,
        })
    }

    /// Start `opts` in the background (`exec -d`); returns the session ID.
    pub fn exec_detached(&self, opts: &ExecOptions) -> Result<String> {
        Ok(self.exec_launch(opts, true)?.0.id)
    }

    /// The container's exec sessions, oldest first, synced with their
    /// monitors.
    pub fn exec_sessions(&self) -> Result<Vec<ExecSession>> {
        let mut list = self.rt.store.exec_sessions(&self.id)?;
        for s in list.iter_mut() {
            if sync_session(self.rt, s) {
                save_synced(self.rt, s)?;
            }
        }
        Ok(list)
    }

    /// Record a session for `opts` without starting it (the Docker API's
    /// exec create); [`Runtime::exec_start`] starts it. Returns its ID.
    pub fn exec_create(&self, opts: &ExecOptions) -> Result<String> {
        let c = self.lock()?;
        c.check(Op::Exec)?;
        let (s, _) = self.prepare_session(c.record(), opts, false)?;
        self.rt.store.add_exec_session(&s)?;
        Ok(s.id)
    }

    /// Check, record and start a session under the container's lock, so a
    /// concurrent stop or remove cannot slip between the check and the start.
    fn exec_launch(
        &self,
        opts: &ExecOptions,
        detach: bool,
    ) -> Result<(ExecSession, Option<AttachStream>)> {
        let c = self.lock()?;
        c.check(Op::Exec)?;
        // Record how earlier sessions ended while we are here, so none
        // stays "running" after its monitor is gone. Best effort.
        let _ = self.exec_sessions();
        let (mut s, files) = self.prepare_session(c.record(), opts, detach)?;
        s.started_at = Some(jiff::Timestamp::now());
        self.rt.store.add_exec_session(&s)?;
        launch_session(self.rt, c.record(), &files, s, opts, detach)
    }

    /// Validate `opts`, write the session's `process.json` and build its
    /// record (not stored yet).
    fn prepare_session(
        &self,
        rec: &ContainerRecord,
        opts: &ExecOptions,
        detach: bool,
    ) -> Result<(ExecSession, SessionFiles)> {
        if opts.command.is_empty() {
            return Err(Error::invalid("exec requires a command to run"));
        }
        if !opts.workdir.is_empty() && !opts.workdir.starts_with('/') {
            return Err(Error::invalid(format!(
                "invalid workdir {:?}: must be an absolute path",
                opts.workdir
            )));
        }
        let rt = self.rt;
        let sid = crate::names::random_id();
        let files = SessionFiles::new(rt, &self.id, &sid);
        for d in [&files.dir, &files.socket.with_file_name("")] {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
        }
        let written = build_process(rt, rec, opts).and_then(|p| {
            let json = serde_json::to_vec(&p)?;
            std::fs::write(files.file("process.json"), json)
                .map_err(|e| Error::io("writing the exec process.json", e))
        });
        if let Err(e) = written {
            files.remove();
            return Err(e.with_subject(rec.config.name.clone()));
        }
        let mut s = ExecSession::new(sid, self.id.clone(), opts.command.clone());
        s.user = opts.user.clone();
        s.workdir = opts.workdir.clone();
        s.env = opts.env.clone();
        s.privileged = opts.privileged;
        s.interactive = opts.interactive;
        s.tty = opts.tty;
        s.detached = detach;
        Ok((s, files))
    }
}

/// Start the monitor of recorded session `s` (its `started_at` set) and
/// record the outcome; with `detach` false the returned stream was
/// connected before the process started.
fn launch_session(
    rt: &Runtime,
    rec: &ContainerRecord,
    files: &SessionFiles,
    mut s: ExecSession,
    opts: &ExecOptions,
    detach: bool,
) -> Result<(ExecSession, Option<AttachStream>)> {
    let launched = start_exec_monitor(rt, rec, files, opts, detach).and_then(|pending| {
        let stream = if detach {
            None
        } else {
            Some(AttachStream::connect(&files.socket, opts.interactive)?)
        };
        Ok((pending.wait_ready()?, stream))
    });
    match launched {
        Ok((msg, stream)) => {
            s.state = ExecState::Running;
            s.pid = msg.pid;
            s.monitor_pid = msg.monitor_pid;
            rt.store.save_exec_session(&s)?;
            Ok((s, stream))
        }
        Err(e) => {
            s.state = ExecState::Exited;
            s.exit_code = Some(e.exit_code());
            s.finished_at = Some(jiff::Timestamp::now());
            s.error = e.message.clone();
            let _ = rt.store.save_exec_session(&s);
            files.remove();
            Err(e)
        }
    }
}

impl Runtime {
    /// The exec session with this ID or unique ID prefix, synced.
    pub fn exec_session(&self, id_or_prefix: &str) -> Result<ExecSession> {
        let id = self.store.lookup_exec_session(id_or_prefix)?;
        let mut s = self.store.get_exec_session(&id)?;
        if sync_session(self, &mut s) {
            save_synced(self, &s)?;
        }
        Ok(s)
    }

    /// Session `session_id` if [`Runtime::exec_start`] would start it now
    /// (never started, its container running); the error it would give
    /// otherwise. Lets a client be answered before the start (the Docker
    /// API hands over the connection first, then starts the process).
    pub fn exec_startable(&self, session_id: &str) -> Result<ExecSession> {
        let s = self.exec_session(session_id)?;
        if s.started_at.is_some() || s.state != ExecState::Created {
            return Err(Error::new(
                ErrorKind::InUse,
                format!("exec session {} has already been started", &s.id[..12]),
            ));
        }
        let rec = self.lookup(&s.container_id)?.inspect_record()?;
        berth_types::check_op(Op::Exec, rec.state.state, &rec.config.name)?;
        Ok(s)
    }

    /// Start session `session_id` recorded by [`Container::exec_create`]:
    /// in the background with `detach`, else with a client attached from
    /// the first byte (relay the stream, then [`Runtime::exec_wait`]).
    /// A session starts once; its container must be running.
    pub fn exec_start(&self, session_id: &str, detach: bool) -> Result<Option<AttachStream>> {
        let s = self.exec_startable(session_id)?;
        let ctr = self.lookup(&s.container_id)?;
        let c = ctr.lock()?;
        c.check(Op::Exec)?;
        let opts = ExecOptions {
            command: s.command.clone(),
            env: s.env.clone(),
            user: s.user.clone(),
            workdir: s.workdir.clone(),
            privileged: s.privileged,
            interactive: s.interactive,
            tty: s.tty,
            // Written into the session's process.json at create time.
            console_size: None,
        };
        let files = SessionFiles::new(self, &s.container_id, &s.id);
        let mut s = s;
        s.detached = detach;
        s.started_at = Some(jiff::Timestamp::now());
        Ok(launch_session(self, c.record(), &files, s, &opts, detach)?.1)
    }

    /// Set the window size of exec session `session_id`'s terminal.
    pub fn exec_resize(&self, session_id: &str, rows: u16, cols: u16) -> Result<()> {
        let s = self.exec_session(session_id)?;
        if s.state != ExecState::Running {
            return Err(Error::new(
                ErrorKind::InUse,
                format!("exec session {} is not running", &s.id[..12]),
            ));
        }
        super::attach::send_resize(&self.paths.attach_socket(&s.id), rows, cols)
    }

    /// Block until exec session `session_id` has ended and return its exit
    /// code (recording it).
    pub fn exec_wait(&self, session_id: &str) -> Result<i32> {
        let mut pause = Duration::from_micros(200);
        loop {
            let s = self.exec_session(session_id)?;
            if s.state == ExecState::Exited {
                return s.exit_code.ok_or_else(|| {
                    Error::new(
                        ErrorKind::Runtime,
                        format!("exec session {}: {}", &s.id[..12], s.error),
                    )
                });
            }
            if s.monitor_pid > 0 {
                // Sleep on the monitor's pidfd: it exits right after
                // writing the exit file.
                wait_pid_exit(s.monitor_pid, Duration::from_secs(1));
            } else {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    }
}

/// How long a session may sit in `created` without a monitor PID before it
/// counts as abandoned (its starter died between recording and reporting).
const START_GRACE: Duration = Duration::from_secs(30);

/// Reconcile `s` with its monitor. Returns true when it changed.
fn sync_session(rt: &Runtime, s: &mut ExecSession) -> bool {
    if s.state == ExecState::Exited {
        return false;
    }
    let files = SessionFiles::new(rt, &s.container_id, &s.id);
    if read_exit(&files, s) {
        return true;
    }
    if s.monitor_pid > 0 && pid_alive(s.monitor_pid) {
        return false;
    }
    if s.monitor_pid == 0 {
        // Created through the API and not started: it waits for a start.
        let Some(started) = s.started_at else {
            return false;
        };
        let age = jiff::Timestamp::now().duration_since(started);
        if age < jiff::SignedDuration::try_from(START_GRACE).unwrap_or_default() {
            return false;
        }
    }
    // The exit file may have been written between the first look and the
    // monitor's exit.
    if read_exit(&files, s) {
        return true;
    }
    s.state = ExecState::Exited;
    s.pid = 0;
    s.monitor_pid = 0;
    s.finished_at = Some(jiff::Timestamp::now());
    s.error = "the exec session's monitor died; exit code unknown".into();
    files.remove();
    true
}

/// Take the exit code from the monitor's exit file, if it is there.
fn read_exit(files: &SessionFiles, s: &mut ExecSession) -> bool {
    let path = files.file("exit");
    let Some(code) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    else {
        return false;
    };
    let when = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
        .unwrap_or_else(jiff::Timestamp::now);
    s.state = ExecState::Exited;
    s.exit_code = Some(code);
    s.finished_at = Some(when);
    s.pid = 0;
    s.monitor_pid = 0;
    // The store has the code now; the files have served their purpose.
    files.remove();
    true
}

/// Save a synced session; one removed meanwhile (its container went) is
/// not an error.
fn save_synced(rt: &Runtime, s: &ExecSession) -> Result<()> {
    match rt.store.save_exec_session(s) {
        Err(e) if e.kind == ErrorKind::NoSuchContainer => Ok(()),
        other => other,
    }
}

/// The exec process: the container's own process from its bundle's
/// `config.json`, with the session's command, environment, user and
/// working directory, and a terminal with `-t`.
fn build_process(rt: &Runtime, rec: &ContainerRecord, opts: &ExecOptions) -> Result<Process> {
    let cfg = &rec.config;
    let bundle = rt.paths.userdata(&cfg.id).join("config.json");
    let text = std::fs::read(&bundle)
        .map_err(|e| Error::io(format!("reading {}", bundle.display()), e))?;
    let spec: Spec = serde_json::from_slice(&text)?;
    let mut p = spec
        .process()
        .clone()
        .ok_or_else(|| Error::internal("the container's config.json has no process"))?;
    p.set_args(Some(opts.command.clone()));
    p.set_terminal(Some(opts.tty));
    p.set_console_size(crate::spec::console_size(
        opts.console_size.filter(|_| opts.tty),
    )?);
    let mut env = p.env().clone().unwrap_or_default();
    if !opts.user.is_empty() {
        let rootfs = rec
            .state
            .mountpoint
            .as_deref()
            .map(Path::new)
            .ok_or_else(|| Error::internal("running container without a rootfs mount"))?;
        let user = resolve_user(rootfs, &opts.user, &cfg.name)?;
        let mut b = UserBuilder::default().uid(user.uid).gid(user.gid);
        if !user.additional_gids.is_empty() {
            b = b.additional_gids(user.additional_gids.clone());
        }
        p.set_user(b.build().map_err(spec_err)?);
        // HOME follows the exec user unless the container set it itself.
        if !cfg.env.iter().any(|e| e.starts_with("HOME=")) {
            set_env(&mut env, &format!("HOME={}", user.home));
        }
    }
    for e in &opts.env {
        set_env(&mut env, e);
    }
    p.set_env(Some(env));
    if !opts.workdir.is_empty() {
        p.set_cwd(PathBuf::from(&opts.workdir));
    }
    if opts.privileged {
        let caps = crate::spec::held_capabilities();
        p.set_capabilities(Some(
            LinuxCapabilitiesBuilder::default()
                .bounding(caps.clone())
                .effective(caps.clone())
                .permitted(caps)
                .inheritable(Capabilities::new())
                .ambient(Capabilities::new())
                .build()
                .map_err(spec_err)?,
        ));
        p.set_apparmor_profile(None);
        p.set_selinux_label(None);
    }
    Ok(p)
}

/// Set `KEY=value` in `env`, replacing an earlier value of KEY.
fn set_env(env: &mut Vec<String>, entry: &str) {
    let key = entry.split('=').next().unwrap_or(entry);
    env.retain(|e| e.split('=').next() != Some(key));
    env.push(entry.to_string());
}

fn spec_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("building the exec process: {e}"))
}

/// Start `berth-mon --exec` for `files` and return once it detached (its
/// attach socket exists then): the same launch and handshake as containers,
/// through berth-oci, in exec mode.
fn start_exec_monitor(
    rt: &Runtime,
    rec: &ContainerRecord,
    files: &SessionFiles,
    opts: &ExecOptions,
    detach: bool,
) -> Result<PendingMonitor> {
    let oci = rt.oci_for(&rec.config.runtime);
    let req = MonitorRequest {
        monitor_binary: rt.monitor_binary.clone(),
        container_id: rec.id().to_string(),
        bundle: rt.paths.userdata(rec.id()),
        pid_file: files.file("pid"),
        exit_file: files.file("exit"),
        // Attached output goes to the client only; a detached session's
        // output is kept beside its exit file until the session is synced.
        log_path: if detach {
            files.file("log")
        } else {
            PathBuf::from("/dev/null")
        },
        attach_socket: files.socket.clone(),
        stdin: opts.interactive && !detach,
        run: false,
        attach_wait: !detach,
        exit_command: Vec::new(),
        exec_process: Some(files.file("process.json")),
    };
    start_monitor_with(&oci, &req, &MonitorOptions::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_entries_replace_earlier_values() {
        let mut env = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        set_env(&mut env, "A=2");
        set_env(&mut env, "B=");
        assert_eq!(env, ["PATH=/bin", "A=2", "B="]);
    }
}
