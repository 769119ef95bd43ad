//! The flags `create` and `run` share (Podman's names and short forms).

use anyhow::{Context, Result};
use berth_core::CreateOptions;
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (KEY=value, or KEY to copy berth's).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Username or UID[:GID] to run as.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Container host name.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Mount the container's root filesystem read-only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Bind mount a volume (HOST-DIR:CONTAINER-DIR[:ro|rw]).
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Mount a tmpfs (PATH[:OPTIONS]).
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Memory limit (e.g. 512m, 1g).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Tune the container's pids limit.
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// Signal to stop the container.
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Seconds to wait before forcibly stopping the container.
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<u64>,
    /// Set metadata on the container (key=value).
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Add capabilities.
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop capabilities.
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to the container.
    #[arg(long)]
    pub privileged: bool,
    /// Keep stdin open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Restart policy: no, on-failure[:N], always, unless-stopped.
    #[arg(long)]
    pub restart: Option<String>,
    /// Override the image's entrypoint (a string or a JSON array).
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// The image to create the container from.
    pub image: String,
    /// Command and arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl CreateArgs {
    /// The library's options for these flags.
    pub fn to_options(&self) -> Result<CreateOptions> {
        let mut env_files = Vec::new();
        for f in &self.env_file {
            env_files
                .push(std::fs::read_to_string(f).with_context(|| format!("reading env file {f}"))?);
        }
        let entrypoint = self.entrypoint.as_ref().map(|e| {
            if e.trim_start().starts_with('[') {
                serde_json::from_str::<Vec<String>>(e).unwrap_or_else(|_| vec![e.clone()])
            } else if e.is_empty() {
                Vec::new()
            } else {
                vec![e.clone()]
            }
        });
        Ok(CreateOptions {
            image: self.image.clone(),
            name: self.name.clone(),
            command: self.command.clone(),
            entrypoint,
            env: self.env.clone(),
            env_files,
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            read_only: self.read_only,
            volumes: self.volume.clone(),
            tmpfs: self.tmpfs.clone(),
            memory: self.memory.clone(),
            cpus: self.cpus,
            pids_limit: self.pids_limit,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            labels: self.label.clone(),
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            privileged: self.privileged,
            interactive: self.interactive,
            tty: self.tty,
            auto_remove: self.rm,
            restart: self.restart.clone(),
        })
    }
}
