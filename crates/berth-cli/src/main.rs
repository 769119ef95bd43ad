//! `berth`: Podman's command line over `berth-core`. This crate parses
//! flags, calls the library and prints; it holds no lifecycle rules.

mod cmd_container;
mod cmd_cp;
mod cmd_df;
mod cmd_events;
mod cmd_exec;
mod cmd_health;
mod cmd_image;
mod cmd_kube;
mod cmd_network;
mod cmd_observe;
mod cmd_pod;
mod cmd_ps;
mod cmd_registry;
mod cmd_service;
mod cmd_system;
mod cmd_volume;
mod create_args;
mod format;
mod report;

use clap::{Parser, Subcommand};
use report::Exit;
use std::path::PathBuf;

/// berth: a daemonless container engine (Podman's CLI).
#[derive(Parser)]
#[command(name = "berth", version, about, disable_help_subcommand = true)]
pub struct Cli {
    /// Path to the persistent storage root.
    #[arg(long, global = true, env = "BERTH_ROOT", value_name = "PATH")]
    root: Option<PathBuf>,
    /// Path to the runtime state root (tmpfs).
    #[arg(long, global = true, env = "BERTH_RUNROOT", value_name = "PATH")]
    runroot: Option<PathBuf>,
    /// OCI runtime to use (crun where it works, else runc).
    #[arg(long, global = true, env = "BERTH_RUNTIME")]
    runtime: Option<String>,
    /// Directories of OCI hook files (hooks.d); may be repeated or ':'-separated.
    #[arg(
        long = "hooks-dir",
        global = true,
        env = "BERTH_HOOKS_DIR",
        value_delimiter = ':',
        value_name = "PATH"
    )]
    hooks_dir: Vec<PathBuf>,
    /// Log level (accepted for Podman compatibility).
    #[arg(long, global = true, hide = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a container.
    Create(create_args::CreateArgs),
    /// Run a command in a new container.
    Run(cmd_container::RunArgs),
    /// Create containers in the runtime without starting them.
    Init(cmd_container::ManyArgs),
    /// Attach to a running container.
    Attach(cmd_container::cmd_attach::AttachArgs),
    /// Start containers.
    Start(cmd_container::StartArgs),
    /// Stop containers.
    Stop(cmd_container::StopArgs),
    /// Send a signal to containers.
    Kill(cmd_container::KillArgs),
    /// Restart containers.
    Restart(cmd_container::StopArgs),
    /// Wait for containers to reach a condition and print their exit codes.
    Wait(cmd_observe::WaitArgs),
    /// Run a command in a running container.
    Exec(cmd_exec::ExecArgs),
    /// Run container healthchecks.
    Healthcheck {
        #[command(subcommand)]
        command: cmd_health::HealthcheckCommand,
    },
    /// Show the processes of a container.
    Top(cmd_observe::TopArgs),
    /// Show containers' resource use.
    Stats(cmd_observe::StatsArgs),
    /// Change containers' cgroup limits.
    Update(cmd_observe::UpdateArgs),
    /// List a container's port mappings.
    Port(cmd_observe::PortArgs),
    /// Remove containers.
    #[command(visible_alias = "remove")]
    Rm(cmd_container::RmArgs),
    /// Pause containers.
    Pause(cmd_container::ManyArgs),
    /// Unpause containers.
    Unpause(cmd_container::ManyArgs),
    /// Rename a container.
    Rename(cmd_container::RenameArgs),
    /// List containers.
    #[command(visible_alias = "list", alias = "ls")]
    Ps(cmd_ps::PsArgs),
    /// Show containers' logs.
    Logs(cmd_container::LogsArgs),
    /// Show details of containers or images.
    Inspect(cmd_container::InspectArgs),
    /// Manage containers.
    Container {
        #[command(subcommand)]
        command: cmd_container::ContainerCommand,
    },
    /// Copy files between a container and the host.
    Cp(cmd_cp::CpArgs),
    /// Mount containers' root filesystems and print where.
    Mount(cmd_cp::MountArgs),
    /// Unmount containers' root filesystems.
    #[command(alias = "umount")]
    Unmount(cmd_cp::UnmountArgs),
    /// Manage volumes.
    Volume {
        #[command(subcommand)]
        command: cmd_volume::VolumeCommand,
    },
    /// Manage networks.
    Network {
        #[command(subcommand)]
        command: cmd_network::NetworkCommand,
    },
    /// Manage pods.
    Pod {
        #[command(subcommand)]
        command: cmd_pod::PodCommand,
    },
    /// Play or tear down Kubernetes YAML.
    Kube {
        #[command(subcommand)]
        command: cmd_kube::KubeCommand,
    },
    /// Generate Kubernetes YAML.
    Generate {
        #[command(subcommand)]
        command: cmd_kube::GenerateCommand,
    },
    /// Show and stream lifecycle events.
    Events(cmd_events::EventsArgs),
    /// Load images from an archive.
    Load(cmd_image::LoadArgs),
    /// List images.
    Images(cmd_image::ImagesArgs),
    /// Remove images.
    Rmi(cmd_image::RmiArgs),
    /// Save images to an archive.
    Save(cmd_image::SaveArgs),
    /// Add names to an image.
    Tag(cmd_image::TagArgs),
    /// Remove names from an image.
    Untag(cmd_image::UntagArgs),
    /// Create an image from a filesystem tarball.
    Import(cmd_image::ImportArgs),
    /// Export a container's filesystem as a tar archive.
    Export(cmd_image::ExportArgs),
    /// Create an image from a container.
    Commit(cmd_image::CommitArgs),
    /// Show a container's changes against its image.
    Diff(cmd_image::DiffArgs),
    /// Show an image's history.
    History(cmd_image::HistoryArgs),
    /// Pull images from a registry.
    Pull(cmd_registry::PullArgs),
    /// Push an image to a registry.
    Push(cmd_registry::PushArgs),
    /// Log in to a registry.
    Login(cmd_registry::LoginArgs),
    /// Log out of a registry.
    Logout(cmd_registry::LogoutArgs),
    /// Manage images.
    Image {
        #[command(subcommand)]
        command: cmd_image::ImageCommand,
    },
    /// Show version information.
    Version(cmd_system::VersionArgs),
    /// Show system information.
    Info(cmd_system::InfoArgs),
    /// Manage berth itself.
    System {
        #[command(subcommand)]
        command: cmd_system::SystemCommand,
    },
}

fn runtime(cli: &Cli) -> berth_core::Result<berth_core::Runtime> {
    let rt = berth_core::Runtime::open(berth_core::RuntimeOptions {
        root: cli.root.clone(),
        runroot: cli.runroot.clone(),
        runtime: cli.runtime.clone(),
        hooks_dirs: cli.hooks_dir.clone(),
        ..Default::default()
    })?;
    for w in rt.warnings() {
        eprintln!("WARN: {w}");
    }
    Ok(rt)
}

fn dispatch(cli: &Cli) -> Exit {
    match &cli.command {
        Command::Version(a) => return cmd_system::version(a),
        // Credentials only: no engine to open.
        Command::Login(a) => return cmd_registry::login(a),
        Command::Logout(a) => return cmd_registry::logout(a),
        _ => {}
    }
    // runc runs this hook mid-restore; it needs no engine state.
    if let Command::Container {
        command: cmd_container::ContainerCommand::RestoreHook,
    } = &cli.command
    {
        return cmd_container::cmd_checkpoint::restore_hook();
    }
    // The API service owns its Runtime (it shares it across threads).
    if let Command::System {
        command: cmd_system::SystemCommand::Service(a),
    } = &cli.command
    {
        return cmd_service::service(cli, a);
    }
    if let Command::Healthcheck { command } = &cli.command {
        if cmd_health::is_timer(command) {
            if let Err(e) = berth_core::container::health::detach_timer_process() {
                return report::fail(&e);
            }
        }
    }
    let rt = match runtime(cli) {
        Ok(rt) => rt,
        Err(e) => return report::fail(&e),
    };
    match &cli.command {
        Command::Create(a) => cmd_container::create(&rt, a),
        Command::Run(a) => cmd_container::run(&rt, a),
        Command::Init(a) => cmd_container::init(&rt, a),
        Command::Attach(a) => cmd_container::cmd_attach::attach(&rt, a),
        Command::Start(a) => cmd_container::start(&rt, a),
        Command::Stop(a) => cmd_container::stop(&rt, a),
        Command::Kill(a) => cmd_container::kill(&rt, a),
        Command::Restart(a) => cmd_container::restart(&rt, a),
        Command::Wait(a) => cmd_observe::wait(&rt, a),
        Command::Exec(a) => cmd_exec::exec(&rt, a),
        Command::Healthcheck { command } => cmd_health::healthcheck(&rt, command),
        Command::Top(a) => cmd_observe::top(&rt, a),
        Command::Stats(a) => cmd_observe::stats(&rt, a),
        Command::Update(a) => cmd_observe::update(&rt, a),
        Command::Port(a) => cmd_observe::port(&rt, a),
        Command::Rm(a) => cmd_container::rm(&rt, a),
        Command::Pause(a) => cmd_container::pause(&rt, a),
        Command::Unpause(a) => cmd_container::unpause(&rt, a),
        Command::Rename(a) => cmd_container::rename(&rt, a),
        Command::Ps(a) => cmd_ps::ps(&rt, a),
        Command::Logs(a) => cmd_container::logs(&rt, a),
        Command::Inspect(a) => cmd_container::inspect(&rt, a),
        Command::Container { command } => cmd_container::container(&rt, command),
        Command::Network { command } => cmd_network::network(&rt, command),
        Command::Pod { command } => cmd_pod::pod(&rt, command),
        Command::Kube { command } => cmd_kube::kube(&rt, command),
        Command::Generate { command } => cmd_kube::generate(&rt, command),
        Command::Events(a) => cmd_events::events(&rt, a),
        Command::Cp(a) => cmd_cp::cp(&rt, a),
        Command::Mount(a) => cmd_cp::mount(&rt, a),
        Command::Unmount(a) => cmd_cp::unmount(&rt, a),
        Command::Volume { command } => cmd_volume::volume(&rt, command),
        Command::Load(a) => cmd_image::load(&rt, a),
        Command::Images(a) => cmd_image::images(&rt, a),
        Command::Rmi(a) => cmd_image::rmi(&rt, a),
        Command::Save(a) => cmd_image::save(&rt, a),
        Command::Tag(a) => cmd_image::tag(&rt, a),
        Command::Untag(a) => cmd_image::untag(&rt, a),
        Command::Import(a) => cmd_image::import(&rt, a),
        Command::Export(a) => cmd_image::export(&rt, a),
        Command::Commit(a) => cmd_image::commit(&rt, a),
        Command::Diff(a) => cmd_image::diff(&rt, a),
        Command::History(a) => cmd_image::history(&rt, a),
        Command::Pull(a) => cmd_registry::pull(&rt, a),
        Command::Push(a) => cmd_registry::push(&rt, a),
        Command::Image { command } => cmd_image::image(&rt, command),
        Command::Info(a) => cmd_system::info(&rt, a),
        Command::System { command } => cmd_system::system(&rt, command),
        Command::Version(_) | Command::Login(_) | Command::Logout(_) => {
            unreachable!("handled above")
        }
    }
}

fn main() {
    // Die quietly on a closed pipe (`berth ps | head`) like other Unix
    // tools, instead of panicking on the failed write.
    // SAFETY: called first thing, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = dispatch(&cli);
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_tree_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
