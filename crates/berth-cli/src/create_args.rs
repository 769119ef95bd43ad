//! The flags `create` and `run` share (Podman's names and short forms).

use anyhow::{Context, Result};
use berth_core::CreateOptions;
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Pull the image: missing (default), always, never or newer.
    #[arg(long, default_value = "missing", value_name = "POLICY")]
    pub pull: String,
    /// Suppress the pull's progress output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: crate::cmd_registry::RegistryFlags,
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
    /// Attach a mount (type=bind|volume|tmpfs,source=...,target=...[,ro]).
    #[arg(long)]
    pub mount: Vec<String>,
    /// Logging driver: k8s-file (default), json-file or none.
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Logging driver options (max-size=SIZE, max-file=N); may be repeated.
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
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
    /// Healthcheck command: a shell command, a JSON array, or "none".
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between healthchecks (default 30s; "disable" for none scheduled).
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Failures in a row before the container is unhealthy (default 3).
    #[arg(long = "health-retries")]
    pub health_retries: Option<u32>,
    /// Longest a healthcheck may run (default 30s).
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Time after a start during which failures do not count (default 0s).
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Action when the container turns unhealthy: none, kill, restart, stop.
    #[arg(long = "health-on-failure")]
    pub health_on_failure: Option<String>,
    /// Disable any healthcheck, the image's included.
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Override the image's entrypoint (a string or a JSON array).
    #[arg(long)]
    pub entrypoint: Option<String>,
    #[command(flatten)]
    pub net: NetArgs,
    /// Join a pod (`NAME`) or create one (`new:NAME`).
    #[arg(long)]
    pub pod: Option<String>,
    /// Containers to start before this one (`CTR[,CTR]`).
    #[arg(long)]
    pub requires: Vec<String>,
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
        let log = self.log_settings()?;
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
            mounts: self.mount.clone(),
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
            // Podman's way: the terminal starts at the client's size.
            console_size: if self.tty {
                berth_core::terminal_size()
            } else {
                None
            },
            auto_remove: self.rm,
            restart: self.restart.clone(),
            log_driver: Some(log.driver),
            log_max_size: log.max_size,
            log_max_file: log.max_file,
            health: berth_core::container::health::HealthOptions {
                cmd: self.health_cmd.clone(),
                interval: self.health_interval.clone(),
                retries: self.health_retries,
                timeout: self.health_timeout.clone(),
                start_period: self.health_start_period.clone(),
                disable: self.no_healthcheck,
                on_failure: self.health_on_failure.clone(),
            },
            net: self.net.to_options(),
            pod: self.pod.clone(),
            requires: self.requires.clone(),
        })
        .and_then(|o| {
            // Validated now so a typo fails at create time; carried into
            // the config once CreateOptions has log fields (see
            // [`LogSettings`]).
            self.log_settings()?;
            Ok(o)
        })
    }

    /// `--log-driver` and `--log-opt` checked and decoded.
    pub fn log_settings(&self) -> Result<LogSettings> {
        let driver = self.log_driver.clone().unwrap_or_else(|| "k8s-file".into());
        if !["k8s-file", "json-file", "none"].contains(&driver.as_str()) {
            anyhow::bail!(
                "invalid log driver {driver:?}: supported are k8s-file, json-file and none"
            );
        }
        let mut out = LogSettings {
            driver,
            max_size: 0,
            max_file: 1,
        };
        for opt in self.log_opt.iter().flat_map(|o| o.split(',')) {
            let (k, v) = opt
                .split_once('=')
                .with_context(|| format!("invalid log option {opt:?}: expected KEY=VALUE"))?;
            match k {
                "max-size" => out.max_size = parse_size(v)?,
                "max-file" => {
                    out.max_file = v
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .with_context(|| format!("invalid max-file {v:?}: a number >= 1"))?
                }
                // Accepted as Podman does; nothing to do for them here.
                "path" | "tag" | "mode" => {}
                _ => anyhow::bail!("unknown log option {k:?}"),
            }
        }
        Ok(out)
    }
}

/// The networking flags of `create` and `run`.
#[derive(Args, Debug, Clone, Default)]
pub struct NetArgs {
    /// Network mode: none, host, bridge, NAME[,NAME...], container:ID, ns:PATH.
    #[arg(long = "network", visible_alias = "net")]
    pub network: Option<String>,
    /// Publish ports ([hostip:][hostport:]ctrport[/udp], ranges allowed).
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish every port the image exposes on a free host port.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// DNS servers for /etc/resolv.conf.
    #[arg(long)]
    pub dns: Vec<String>,
    /// DNS search domains.
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// DNS resolver options.
    #[arg(long = "dns-option", visible_alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Add a host to /etc/hosts (HOST:IP).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Static IPv4 address on the (first) network.
    #[arg(long)]
    pub ip: Option<String>,
    /// Static MAC address on the (first) network.
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Extra DNS names of the container on its networks.
    #[arg(long = "network-alias")]
    pub network_alias: Vec<String>,
}

impl NetArgs {
    /// The library's options for these flags.
    pub fn to_options(&self) -> berth_core::NetOptions {
        berth_core::NetOptions {
            network: self.network.clone(),
            publish: self.publish.clone(),
            publish_all: self.publish_all,
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_option: self.dns_option.clone(),
            add_host: self.add_host.clone(),
            ip: self.ip.clone(),
            mac_address: self.mac_address.clone(),
            network_alias: self.network_alias.clone(),
        }
    }
}

/// Decoded log flags (what the monitor gets as `--log-driver`,
/// `--log-max-size`, `--log-max-file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `k8s-file`, `json-file` or `none`.
    pub driver: String,
    /// Rotate at this many bytes; 0 never.
    pub max_size: u64,
    /// Files kept, the live one included.
    pub max_file: u32,
}

/// `10`, `10k`, `1m`, `1.5g`, `512kb` (Docker's units, 1024-based) → bytes.
pub fn parse_size(v: &str) -> Result<u64> {
    let t = v.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| *n >= 0.0)
        .with_context(|| format!("invalid size {v:?}"))?;
    Ok((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_log_options() {
        assert_eq!(parse_size("1m").unwrap(), 1 << 20);
        assert_eq!(parse_size("10k").unwrap(), 10240);
        assert_eq!(parse_size("512KB").unwrap(), 512 * 1024);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("x").is_err());
        let mut a = CreateArgs::parse_from(["x", "img"]);
        a.log_opt = vec!["max-size=1m,max-file=3".into()];
        a.log_driver = Some("json-file".into());
        assert_eq!(
            a.log_settings().unwrap(),
            LogSettings {
                driver: "json-file".into(),
                max_size: 1 << 20,
                max_file: 3
            }
        );
        a.log_driver = Some("journald".into());
        assert!(a.log_settings().is_err());
    }

    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        a: CreateArgs,
    }

    impl CreateArgs {
        fn parse_from(args: [&str; 2]) -> CreateArgs {
            use clap::Parser;
            Wrap::parse_from(args).a
        }
    }
}
