//! Container verbs: create, run, init, start, stop, kill, restart, rm,
//! pause, unpause, rename, logs, inspect, `container exists|cleanup`.

// A child module so it needs no line in main.rs: `attach` is a container
// verb, and `run`/`start -a`/`exec` share its relay.
#[path = "cmd_attach.rs"]
pub mod cmd_attach;
#[path = "cmd_checkpoint.rs"]
pub mod cmd_checkpoint;

use crate::create_args::CreateArgs;
use crate::format::print_json;
use crate::report::{fail, fail_any, Exit, Outcome};
use berth_core::inspect::{exec_session_json, inspect_json};
use berth_core::{Container, Error, ErrorKind, LogOptions, Runtime};
use clap::{Args, Subcommand};
use std::io::Write;

/// Containers named on the command line, or all of them, or the latest.
#[derive(Args, Debug)]
pub struct Targets {
    /// Act on the latest container berth created.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Containers (names, IDs or unique ID prefixes).
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ManyArgs {
    #[command(flatten)]
    pub targets: Targets,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run in the background and print the container ID.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Key sequence to detach (default ctrl-p,ctrl-q; empty disables).
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the container (non-tty only).
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach to the container's output and return its exit code.
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Keep stdin open and send it to the container.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Key sequence to detach (default ctrl-p,ctrl-q; empty disables).
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the container (non-tty only).
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Start every container that is not running (with --filter: the matching ones).
    #[arg(long)]
    pub all: bool,
    /// With --all: only containers matching (status=, name=, label=, restart-policy=...).
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    #[command(flatten)]
    pub targets: Targets,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(short = 't', long = "time", alias = "timeout")]
    pub time: Option<u64>,
    /// Act on all running containers.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not error on missing containers.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    #[command(flatten)]
    pub targets: Targets,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send (name or number).
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    /// Signal all running containers.
    #[arg(short = 'a', long)]
    pub all: bool,
    #[command(flatten)]
    pub targets: Targets,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Stop and remove running containers.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove all containers.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Remove the container's anonymous volumes too.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Seconds to wait for a graceful stop before killing (with --force).
    #[arg(short = 't', long = "time")]
    pub time: Option<u64>,
    /// Do not error on missing containers.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// Remove the containers that depend on it first.
    #[arg(long)]
    pub depend: bool,
    #[command(flatten)]
    pub targets: Targets,
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show logs since a timestamp (RFC 3339) or a duration ago (10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp or a duration ago.
    #[arg(long)]
    pub until: Option<String>,
    /// Number of lines to show from the end.
    #[arg(long)]
    pub tail: Option<i64>,
    /// Show timestamps.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Prefix each line with the container's name.
    #[arg(short = 'n', long)]
    pub names: bool,
    #[command(flatten)]
    pub targets: Targets,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format the output with a Go template, or `json`.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// What to inspect: container, image, exec (an exec session) or all.
    #[arg(short = 't', long = "type", default_value = "all")]
    pub kind: String,
    /// Inspect the latest container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    pub names: Vec<String>,
}

#[derive(Subcommand)]
pub enum ContainerCommand {
    /// Check whether a container exists (exit 0) or not (exit 1).
    Exists {
        container: String,
    },
    /// Record a container's exit and release its resources (run by berth-mon).
    Cleanup(ManyArgs),
    /// Attach to a running container's streams.
    Attach(cmd_attach::AttachArgs),
    Create(CreateArgs),
    Run(RunArgs),
    Init(ManyArgs),
    Start(StartArgs),
    Stop(StopArgs),
    Kill(KillArgs),
    Restart(StopArgs),
    Wait(crate::cmd_observe::WaitArgs),
    Exec(crate::cmd_exec::ExecArgs),
    Top(crate::cmd_observe::TopArgs),
    Stats(crate::cmd_observe::StatsArgs),
    Update(crate::cmd_observe::UpdateArgs),
    Port(crate::cmd_observe::PortArgs),
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    Pause(ManyArgs),
    Unpause(ManyArgs),
    Rename(RenameArgs),
    #[command(visible_alias = "ls", alias = "list")]
    Ps(crate::cmd_ps::PsArgs),
    Logs(LogsArgs),
    Inspect(InspectArgs),
    /// Export a container's filesystem as a tar archive.
    Export(crate::cmd_image::ExportArgs),
    /// Create an image from a container.
    Commit(crate::cmd_image::CommitArgs),
    /// Show a container's changes against its image.
    Diff(crate::cmd_image::DiffArgs),
    /// Remove every container that is not running.
    Prune {
        /// Do not ask for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Checkpoint running containers with CRIU.
    Checkpoint(cmd_checkpoint::CheckpointArgs),
    /// Restore containers from checkpoints.
    Restore(cmd_checkpoint::RestoreArgs),
    /// The runtime's prestart hook during a restore (run by runc, not users).
    #[command(name = "restore-hook", hide = true)]
    RestoreHook,
}

pub fn container(rt: &Runtime, cmd: &ContainerCommand) -> Exit {
    match cmd {
        ContainerCommand::Exists { container } => match rt.lookup(container) {
            Ok(_) => 0,
            Err(e) if e.kind == ErrorKind::NoSuchContainer => 1,
            Err(e) => fail(&e),
        },
        ContainerCommand::Cleanup(a) => each(rt, &a.targets, false, |c, _| c.cleanup()),
        ContainerCommand::Attach(a) => cmd_attach::attach(rt, a),
        ContainerCommand::Create(a) => create(rt, a),
        ContainerCommand::Run(a) => run(rt, a),
        ContainerCommand::Init(a) => init(rt, a),
        ContainerCommand::Start(a) => start(rt, a),
        ContainerCommand::Stop(a) => stop(rt, a),
        ContainerCommand::Kill(a) => kill(rt, a),
        ContainerCommand::Restart(a) => restart(rt, a),
        ContainerCommand::Wait(a) => crate::cmd_observe::wait(rt, a),
        ContainerCommand::Exec(a) => crate::cmd_exec::exec(rt, a),
        ContainerCommand::Top(a) => crate::cmd_observe::top(rt, a),
        ContainerCommand::Stats(a) => crate::cmd_observe::stats(rt, a),
        ContainerCommand::Update(a) => crate::cmd_observe::update(rt, a),
        ContainerCommand::Port(a) => crate::cmd_observe::port(rt, a),
        ContainerCommand::Rm(a) => rm(rt, a),
        ContainerCommand::Pause(a) => pause(rt, a),
        ContainerCommand::Unpause(a) => unpause(rt, a),
        ContainerCommand::Rename(a) => rename(rt, a),
        ContainerCommand::Ps(a) => crate::cmd_ps::ps(rt, a),
        ContainerCommand::Logs(a) => logs(rt, a),
        ContainerCommand::Inspect(a) => inspect(rt, a),
        ContainerCommand::Export(a) => crate::cmd_image::export(rt, a),
        ContainerCommand::Commit(a) => crate::cmd_image::commit(rt, a),
        ContainerCommand::Diff(a) => crate::cmd_image::diff(rt, a),
        ContainerCommand::Prune { force } => crate::cmd_df::prune_containers(rt, *force),
        ContainerCommand::Checkpoint(a) => cmd_checkpoint::checkpoint(rt, a),
        ContainerCommand::Restore(a) => cmd_checkpoint::restore(rt, a),
        ContainerCommand::RestoreHook => cmd_checkpoint::restore_hook(), // see main.rs
    }
}

/// Resolve the targets: `(what the user typed, container)`.
fn resolve<'r>(
    rt: &'r Runtime,
    t: &Targets,
    all: bool,
) -> Vec<(String, berth_core::Result<Container<'r>>)> {
    if t.latest {
        return vec![("latest".into(), rt.latest())];
    }
    if all {
        return match rt.containers() {
            Ok(list) => list
                .into_iter()
                .map(|r| (r.config.id.clone(), rt.lookup(&r.config.id)))
                .collect(),
            Err(e) => vec![(String::new(), Err(e))],
        };
    }
    t.containers
        .iter()
        .map(|n| (n.clone(), rt.lookup(n)))
        .collect()
}

fn need_targets(t: &Targets, all: bool) -> Option<Exit> {
    if t.containers.is_empty() && !t.latest && !all {
        eprintln!("Error: you must provide at least one container name or ID");
        return Some(125);
    }
    None
}

/// Apply `op` to each target, printing what the user typed on success.
fn each(
    rt: &Runtime,
    t: &Targets,
    all: bool,
    op: impl Fn(&Container, &str) -> berth_core::Result<()>,
) -> Exit {
    if let Some(code) = need_targets(t, all) {
        return code;
    }
    let mut outcome = Outcome::default();
    for (given, c) in resolve(rt, t, all) {
        match c.and_then(|c| op(&c, &given)) {
            Ok(()) => println!("{given}"),
            Err(e) => outcome.error(&e),
        }
    }
    outcome.exit(false)
}

pub fn create(rt: &Runtime, a: &CreateArgs) -> Exit {
    let mut opts = match a.to_options() {
        Ok(o) => o,
        Err(e) => return fail_any(&e),
    };
    if let Err(code) = crate::cmd_registry::pull_for_create(rt, a, &mut opts) {
        return code;
    }
    match rt.create_container(&opts) {
        Ok(c) => {
            println!("{}", c.id());
            0
        }
        Err(e) => fail(&e),
    }
}

/// Remove a `--rm` container after a failed start (nothing may be left).
fn discard(c: &Container, auto_remove: bool) {
    if auto_remove {
        let _ = c.remove(true, None);
    }
}

pub fn run(rt: &Runtime, a: &RunArgs) -> Exit {
    let mut opts = match a.create.to_options() {
        Ok(o) => o,
        Err(e) => return fail_any(&e),
    };
    if let Err(code) = crate::cmd_registry::pull_for_create(rt, &a.create, &mut opts) {
        return code;
    }
    let c = match rt.create_container(&opts) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    if a.detach {
        if let Err(e) = c.start() {
            discard(&c, opts.auto_remove);
            return fail(&e);
        }
        println!("{}", c.id());
        return 0;
    }
    let how = Attached {
        stdin: opts.interactive,
        detach_keys: a.detach_keys.as_deref(),
        sig_proxy: a.sig_proxy,
    };
    attached_run(&c, &how, opts.auto_remove)
}

/// How `run`/`start -a` attach.
struct Attached<'a> {
    stdin: bool,
    detach_keys: Option<&'a str>,
    sig_proxy: bool,
}

/// Start with output attached, then wait and return the exit code (0
/// after a detach: the container keeps running, and `--rm` waits for its
/// exit).
fn attached_run(c: &Container, how: &Attached, auto_remove: bool) -> Exit {
    if let Some(Err(e)) = how
        .detach_keys
        .map(berth_core::container::attach::parse_detach_keys)
    {
        discard(c, auto_remove);
        return fail(&e);
    }
    let stream = match c.start_and_attach() {
        Ok(s) => s,
        Err(e) => {
            discard(c, auto_remove);
            return fail(&e);
        }
    };
    let rec = c.inspect_record().ok();
    let session = cmd_attach::Session {
        stdin: how.stdin,
        tty: rec.as_ref().is_some_and(|r| r.config.tty),
        detach_keys: how.detach_keys,
        proxy_to: rec.filter(|_| how.sig_proxy).map(|r| r.state.pid),
    };
    match cmd_attach::relay(stream, &session) {
        Ok(true) => return 0,
        Ok(false) => {}
        Err(e) => return fail(&e),
    }
    let code = match c.wait_for_exit() {
        Ok(code) => code,
        Err(e) => return fail(&e),
    };
    if auto_remove {
        match c.remove(true, None) {
            Err(e) if e.kind != ErrorKind::NoSuchContainer => return fail(&e),
            _ => {}
        }
    }
    code
}

pub fn init(rt: &Runtime, a: &ManyArgs) -> Exit {
    each(rt, &a.targets, false, |c, _| c.init())
}

pub fn start(rt: &Runtime, a: &StartArgs) -> Exit {
    if a.all {
        return start_all(rt, &a.filter);
    }
    if let Some(code) = need_targets(&a.targets, false) {
        return code;
    }
    if a.attach {
        if a.targets.containers.len() > 1 {
            eprintln!("Error: you cannot start and attach multiple containers at once");
            return 125;
        }
        return match resolve(rt, &a.targets, false).pop() {
            Some((_, Ok(c))) => {
                let rm = c
                    .inspect_record()
                    .map(|r| r.config.auto_remove)
                    .unwrap_or(false);
                let how = Attached {
                    stdin: a.interactive,
                    detach_keys: a.detach_keys.as_deref(),
                    sig_proxy: a.sig_proxy,
                };
                attached_run(&c, &how, rm)
            }
            Some((_, Err(e))) => fail(&e),
            None => 125,
        };
    }
    each(rt, &a.targets, false, |c, _| c.start())
}

/// `start --all [--filter ...]`: what a boot unit runs to bring back
/// `--restart always` containers.
fn start_all(rt: &Runtime, filters: &[String]) -> Exit {
    let list = match rt.containers() {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let mut outcome = Outcome::default();
    for rec in list.iter().filter(|r| !r.state.state.is_active()) {
        let mut keep = true;
        for f in filters {
            match crate::cmd_ps::matches(rec, f) {
                Ok(m) => keep &= m,
                Err(msg) => {
                    eprintln!("Error: {msg}");
                    return 125;
                }
            }
        }
        if !keep {
            continue;
        }
        match rt.lookup(&rec.config.id).and_then(|c| c.start()) {
            Ok(()) => println!("{}", rec.config.id),
            Err(e) => outcome.error(&e),
        }
    }
    outcome.exit(false)
}

pub fn stop(rt: &Runtime, a: &StopArgs) -> Exit {
    if let Some(code) = need_targets(&a.targets, a.all) {
        return code;
    }
    let mut outcome = Outcome::default();
    for (given, c) in resolve(rt, &a.targets, a.all) {
        let r = c.and_then(|c| match a.time {
            Some(t) => c.stop_with_timeout(t),
            None => c.stop(),
        });
        match r {
            Ok(()) => println!("{given}"),
            Err(e) if a.ignore && e.kind == ErrorKind::NoSuchContainer => {}
            Err(e) => outcome.error(&e),
        }
    }
    outcome.exit(false)
}

pub fn kill(rt: &Runtime, a: &KillArgs) -> Exit {
    let signal = match berth_core::signal::parse_signal(&a.signal) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if a.all {
        let mut outcome = Outcome::default();
        for rec in rt
            .containers()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.state.state.is_active())
        {
            match rt.lookup(&rec.config.id).and_then(|c| c.kill(signal)) {
                Ok(()) => println!("{}", rec.config.id),
                Err(e) => outcome.error(&e),
            }
        }
        return outcome.exit(false);
    }
    each(rt, &a.targets, false, |c, _| c.kill(signal))
}

pub fn restart(rt: &Runtime, a: &StopArgs) -> Exit {
    each(rt, &a.targets, a.all, |c, _| c.restart(a.time))
}

pub fn rm(rt: &Runtime, a: &RmArgs) -> Exit {
    if let Some(code) = need_targets(&a.targets, a.all) {
        return code;
    }
    let mut outcome = Outcome::default();
    for (given, c) in resolve(rt, &a.targets, a.all) {
        if a.depend {
            match c
                .and_then(|c| berth_core::deps::remove_with_dependents(rt, c.id(), a.force, a.time))
            {
                Ok(ids) => ids.iter().for_each(|id| println!("{id}")),
                Err(e) if (a.force || a.ignore) && e.kind == ErrorKind::NoSuchContainer => {}
                Err(e) => outcome.error(&e),
            }
            continue;
        }
        match c.and_then(|c| rt.remove_container(&c, a.force, a.time, a.volumes)) {
            Ok(()) => println!("{given}"),
            // Podman: `rm -f` (or -i) of something that is not there is quiet success.
            Err(e) if (a.force || a.ignore) && e.kind == ErrorKind::NoSuchContainer => {}
            Err(e) => outcome.error(&e),
        }
    }
    outcome.exit(true)
}

pub fn pause(rt: &Runtime, a: &ManyArgs) -> Exit {
    each(rt, &a.targets, false, |c, _| c.pause())
}

pub fn unpause(rt: &Runtime, a: &ManyArgs) -> Exit {
    each(rt, &a.targets, false, |c, _| c.unpause())
}

pub fn rename(rt: &Runtime, a: &RenameArgs) -> Exit {
    match rt.lookup(&a.container).and_then(|c| c.rename(&a.new_name)) {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

pub fn logs(rt: &Runtime, a: &LogsArgs) -> Exit {
    if let Some(code) = need_targets(&a.targets, false) {
        return code;
    }
    let mut opts = LogOptions {
        follow: a.follow,
        tail: a.tail.filter(|t| *t >= 0).map(|t| t as usize),
        ..Default::default()
    };
    for (flag, slot) in [(&a.since, &mut opts.since), (&a.until, &mut opts.until)] {
        if let Some(s) = flag {
            match berth_core::units::parse_time(s) {
                Ok(t) => *slot = Some(t),
                Err(e) => return fail(&e),
            }
        }
    }
    let mut outcome = Outcome::default();
    let many = a.targets.containers.len() > 1;
    for (_, c) in resolve(rt, &a.targets, false) {
        let r = c.and_then(|c| {
            let rec = c.inspect_record()?;
            let prefix = if a.names || many {
                format!("{} ", rec.config.name)
            } else {
                String::new()
            };
            let still_running = || {
                c.inspect_record()
                    .map(|r| r.state.state.is_active())
                    .unwrap_or(false)
            };
            berth_core::read_log(&c.log_path(), &opts, still_running, |l| {
                let ts = if a.timestamps {
                    format!("{} ", l.timestamp)
                } else {
                    String::new()
                };
                // Bytes, not text: binary output is shown exactly.
                let mut text = format!("{prefix}{ts}").into_bytes();
                text.extend_from_slice(&l.bytes);
                if !l.partial {
                    text.push(b'\n');
                }
                if l.stderr {
                    std::io::stderr().write_all(&text)
                } else {
                    std::io::stdout().write_all(&text)
                }
            })
        });
        if let Err(e) = r {
            outcome.error(&e);
        }
    }
    outcome.exit(false)
}

pub fn inspect(rt: &Runtime, a: &InspectArgs) -> Exit {
    let names: Vec<String> = if a.latest {
        vec![String::new()]
    } else {
        a.names.clone()
    };
    if names.is_empty() {
        eprintln!("Error: no names or IDs specified");
        return 125;
    }
    let mut docs = Vec::new();
    let mut outcome = Outcome::default();
    for n in &names {
        let ctr = if a.kind == "image" || a.kind == "exec" {
            Err(Error::no_such_container(n))
        } else if a.latest {
            rt.latest()
        } else {
            rt.lookup(n)
        };
        let no_such_object = || {
            Error::new(
                ErrorKind::NoSuchContainer,
                format!("no such object: \"{n}\""),
            )
        };
        // Containers first, then images, then exec sessions (by ID).
        let exec_session = || match rt.exec_session(n) {
            Ok(s) => Ok(exec_session_json(&s)),
            Err(e) if e.kind == ErrorKind::NoSuchContainer => Err(no_such_object()),
            Err(e) => Err(e),
        };
        let doc = match ctr.and_then(|c| c.inspect_record()) {
            Ok(rec) => Ok(inspect_json(rt, &rec)),
            Err(_) if a.kind == "exec" => exec_session(),
            Err(e) if e.kind == ErrorKind::NoSuchContainer && a.kind != "container" => {
                match crate::cmd_image::image_json(rt, n) {
                    Err(ie) if ie.kind == ErrorKind::NoSuchImage && a.kind == "all" => {
                        exec_session()
                    }
                    Err(ie) if ie.kind == ErrorKind::NoSuchImage => Err(no_such_object()),
                    other => other,
                }
            }
            Err(e) => Err(e),
        };
        match doc {
            Ok(d) => docs.push(d),
            Err(e) => outcome.error(&e),
        }
    }
    let printed = match crate::format::OutputFormat::parse(a.format.as_deref()) {
        crate::format::OutputFormat::Template { source, .. } => {
            crate::format::render_template(&source, false, &[], &docs).map(|s| print!("{s}"))
        }
        _ => print_json(&docs),
    };
    if let Err(e) = printed {
        return fail_any(&e);
    }
    outcome.exit(false)
}
