//! Turning what the user asked for (`CreateOptions`, the flags of `berth
//! create`/`run`) and the image's configuration into a `ContainerConfig`.
//! All parsing of flag values lives here so the CLI and the API share it.

use crate::names::random_name;
use crate::signal::parse_signal;
use crate::units::parse_bytes;
use berth_types::{ContainerConfig, Error, MountKind, MountSpec, Resources, Result};
use std::collections::BTreeMap;

/// Default seconds `stop` waits before SIGKILL (Podman's default).
pub const DEFAULT_STOP_TIMEOUT: u64 = 10;
/// PATH given to containers whose image sets none.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What `berth create` is asked to make. Every field mirrors a Podman flag.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Image reference or ID.
    pub image: String,
    /// `--name`; a random `adjective_name` when absent.
    pub name: Option<String>,
    /// Command and arguments after the image (replace the image's CMD).
    pub command: Vec<String>,
    /// `--entrypoint` (a single string is split like a JSON array or words).
    pub entrypoint: Option<Vec<String>>,
    /// `-e KEY=value` or `-e KEY` (taken from berth's environment).
    pub env: Vec<String>,
    /// Contents of `--env-file` files, already read.
    pub env_files: Vec<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-u uid[:gid]` or a name.
    pub user: Option<String>,
    /// `--hostname`.
    pub hostname: Option<String>,
    /// `--read-only`.
    pub read_only: bool,
    /// `-v HOST:CTR[:OPTIONS]`, `-v NAME:CTR[:OPTIONS]` (a named volume,
    /// created when missing) or `-v CTR` (an anonymous volume).
    pub volumes: Vec<String>,
    /// `--mount type=bind|volume|tmpfs,source=...,target=...[,ro]`.
    pub mounts: Vec<String>,
    /// `--tmpfs PATH[:OPTIONS]`.
    pub tmpfs: Vec<String>,
    /// `--memory 512m`.
    pub memory: Option<String>,
    /// `--cpus 1.5`.
    pub cpus: Option<f64>,
    /// `--pids-limit N`.
    pub pids_limit: Option<i64>,
    /// `--stop-signal`.
    pub stop_signal: Option<String>,
    /// `--stop-timeout`.
    pub stop_timeout: Option<u64>,
    /// `-l key=value`.
    pub labels: Vec<String>,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `-i`.
    pub interactive: bool,
    /// `-t`.
    pub tty: bool,
    /// With `-t`: the client's terminal size (rows, columns) to start with.
    pub console_size: Option<(u16, u16)>,
    /// `--rm`.
    pub auto_remove: bool,
    /// `--restart` (`no`, `on-failure[:N]`, `always`, `unless-stopped`).
    pub restart: Option<String>,
    /// `--log-driver`: `k8s-file` (default), `json-file` or `none`.
    pub log_driver: Option<String>,
    /// `--log-opt max-size`, in bytes; 0: no rotation.
    pub log_max_size: u64,
    /// `--log-opt max-file`.
    pub log_max_file: u32,
    /// `--health-*`, `--no-healthcheck`, `--health-on-failure`.
    pub health: crate::container::health::HealthOptions,
    /// `--network`, `-p`, `-P`, `--dns`... (see `crate::network`).
    pub net: crate::network::NetOptions,
    /// `--pod NAME` or `--pod new:NAME`.
    pub pod: Option<String>,
    /// `--requires CTR[,CTR]`.
    pub requires: Vec<String>,
}

/// The parts of an image's configuration a container is built from.
#[derive(Debug, Clone, Default)]
pub struct ImageDefaults {
    /// `Env`.
    pub env: Vec<String>,
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `WorkingDir`.
    pub workdir: String,
    /// `User`.
    pub user: String,
    /// `Labels`.
    pub labels: BTreeMap<String, String>,
    /// `StopSignal`.
    pub stop_signal: Option<String>,
    /// `Volumes`: each becomes an anonymous volume unless a mount covers it.
    pub volumes: Vec<String>,
    /// `Healthcheck` (Docker's extension, not in the OCI config).
    pub healthcheck: Option<berth_types::health::HealthConfig>,
    /// `ExposedPorts` (`80/tcp`), published by `-P`.
    pub exposed: Vec<String>,
}

impl ImageDefaults {
    /// Read the defaults out of an OCI image configuration.
    pub fn from_oci(cfg: &oci_spec::image::ImageConfiguration) -> Self {
        let Some(c) = cfg.config() else {
            return ImageDefaults::default();
        };
        ImageDefaults {
            env: c.env().clone().unwrap_or_default(),
            entrypoint: c.entrypoint().clone().unwrap_or_default(),
            cmd: c.cmd().clone().unwrap_or_default(),
            workdir: c.working_dir().clone().unwrap_or_default(),
            user: c.user().clone().unwrap_or_default(),
            labels: c.labels().clone().unwrap_or_default().into_iter().collect(),
            stop_signal: c.stop_signal().clone(),
            volumes: c.volumes().clone().unwrap_or_default(),
            healthcheck: None,
            exposed: c.exposed_ports().clone().unwrap_or_default(),
        }
    }
}

/// Merge `KEY=value` lists: later keys replace earlier ones, order kept.
fn merge_env(base: &[String], overrides: &[String]) -> Vec<String> {
    let mut out: Vec<String> = base.to_vec();
    for kv in overrides {
        let key = kv.split('=').next().unwrap_or(kv);
        match out.iter_mut().find(|e| e.split('=').next() == Some(key)) {
            Some(slot) => *slot = kv.clone(),
            None => out.push(kv.clone()),
        }
    }
    out
}

/// `-e KEY` takes KEY from berth's own environment (dropped if unset);
/// `-e KEY=v` is kept as is; `KEY=` sets an empty value.
fn expand_env(entries: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in entries {
        let e = e.trim_end_matches(['\r', '\n']);
        if e.is_empty() || e.starts_with('#') {
            continue;
        }
        match e.split_once('=') {
            Some(("", _)) => {
                return Err(Error::invalid(format!(
                    "invalid environment variable {e:?}: empty name"
                )))
            }
            Some(_) => out.push(e.to_string()),
            None => {
                if let Ok(v) = std::env::var(e) {
                    out.push(format!("{e}={v}"));
                }
            }
        }
    }
    Ok(out)
}

/// Parse the lines of an `--env-file`.
pub fn parse_env_file(contents: &str) -> Result<Vec<String>> {
    let lines: Vec<String> = contents
        .lines()
        .map(|l| l.trim_start().to_string())
        .collect();
    expand_env(&lines)
}

fn parse_volume(spec: &str) -> Result<MountSpec> {
    let parts: Vec<&str> = spec.split(':').collect();
    let bad = || {
        Error::invalid(format!(
            "invalid volume specification {spec:?}: expected HOST-DIR:CONTAINER-DIR[:OPTIONS]"
        ))
    };
    let (source, destination, opts) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] if !d.starts_with('/') && s.starts_with('/') && VOLUME_OPTS.contains(d) => {
            ("", *s, *d)
        }
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(bad()),
    };
    if !destination.starts_with('/') || destination.split('/').any(|c| c == "..") {
        return Err(Error::invalid(format!(
            "invalid volume {spec:?}: container path must be absolute and without \"..\""
        )));
    }
    if !source.starts_with('/') {
        if source.starts_with('.') {
            return Err(Error::invalid(format!(
                "invalid volume {spec:?}: the host path must be absolute"
            )));
        }
        let options = mount_options(opts, spec)?;
        return volume_mount(source, destination, options);
    }
    if !std::path::Path::new(source).exists() {
        return Err(Error::invalid(format!(
            "invalid volume {spec:?}: host path {source} does not exist"
        )));
    }
    Ok(MountSpec {
        kind: MountKind::Bind,
        source: source.into(),
        destination: destination.into(),
        options: mount_options(opts, spec)?,
    })
}

/// The `-v` options berth knows (`z`/`Z` are accepted and ignored: no SELinux).
const VOLUME_OPTS: [&str; 10] = [
    "ro", "rw", "z", "Z", "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

fn mount_options(opts: &str, spec: &str) -> Result<Vec<String>> {
    let mut options = Vec::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "z" | "Z" => {}
            "nocopy" => options.push(crate::volumes::NOCOPY_OPT.to_string()),
            _ if VOLUME_OPTS.contains(&o) => options.push(o.to_string()),
            _ => {
                return Err(Error::invalid(format!(
                    "invalid volume option {o:?} in {spec:?}"
                )))
            }
        }
    }
    Ok(options)
}

/// A volume mount: `name` empty makes an anonymous volume. The source
/// (the volume's data directory) is filled in by
/// [`crate::volumes::prepare_mounts`], which also creates missing volumes.
fn volume_mount(name: &str, destination: &str, mut options: Vec<String>) -> Result<MountSpec> {
    if name.is_empty() {
        options.push(crate::volumes::ANONYMOUS_OPT.to_string());
        options.push(format!(
            "{}{}",
            crate::volumes::VOLUME_OPT,
            crate::names::random_id()
        ));
    } else {
        berth_state::validate_volume_name(name)?;
        options.push(format!("{}{name}", crate::volumes::VOLUME_OPT));
    }
    Ok(MountSpec {
        kind: MountKind::Bind,
        source: String::new(),
        destination: destination.into(),
        options,
    })
}

/// Parse one `--mount` value (Docker's comma-separated `key=value` list).
fn parse_mount(spec: &str) -> Result<MountSpec> {
    let mut typ = "volume";
    let (mut source, mut target) = ("", "");
    let mut options = Vec::new();
    let mut tmpfs = Vec::new();
    for kv in spec.split(',').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match (k, v) {
            ("type", t) => typ = t,
            ("source" | "src", s) => source = s,
            ("target" | "destination" | "dst", t) => target = t,
            ("ro" | "readonly", "" | "true" | "1") => options.push("ro".to_string()),
            ("ro" | "readonly", "false" | "0") => options.push("rw".to_string()),
            ("bind-propagation", p) if VOLUME_OPTS[4..].contains(&p) => options.push(p.to_string()),
            ("tmpfs-size", n) => tmpfs.push(format!("size={n}")),
            ("tmpfs-mode", m) => tmpfs.push(format!("mode={m}")),
            ("volume-nocopy", "" | "true" | "1") => {
                options.push(crate::volumes::NOCOPY_OPT.to_string())
            }
            ("relabel" | "consistency" | "bind-nonrecursive" | "volume-nocopy", _) => {}
            _ => {
                return Err(Error::invalid(format!(
                    "invalid mount option {kv:?} in {spec:?}"
                )))
            }
        }
    }
    if !target.starts_with('/') || target.split('/').any(|c| c == "..") {
        return Err(Error::invalid(format!(
            "invalid mount {spec:?}: target must be an absolute path without \"..\""
        )));
    }
    match typ {
        "bind" => {
            if !source.starts_with('/') || !std::path::Path::new(source).exists() {
                return Err(Error::invalid(format!(
                    "invalid mount {spec:?}: bind source must be an existing absolute host path"
                )));
            }
            Ok(MountSpec {
                kind: MountKind::Bind,
                source: source.into(),
                destination: target.into(),
                options,
            })
        }
        "volume" => volume_mount(source, target, options),
        "tmpfs" => {
            if options.iter().any(|o| o == "ro") {
                tmpfs.push("ro".into());
            }
            Ok(MountSpec {
                kind: MountKind::Tmpfs,
                source: "tmpfs".into(),
                destination: target.into(),
                options: tmpfs,
            })
        }
        t => Err(Error::invalid(format!(
            "invalid mount {spec:?}: unknown type {t:?} (bind, volume or tmpfs)"
        ))),
    }
}

fn parse_tmpfs(spec: &str) -> Result<MountSpec> {
    let (dest, opts) = spec.split_once(':').unwrap_or((spec, ""));
    if !dest.starts_with('/') || dest.split('/').any(|c| c == "..") {
        return Err(Error::invalid(format!(
            "invalid tmpfs {spec:?}: path must be absolute and without \"..\""
        )));
    }
    let options = opts
        .split(',')
        .filter(|o| !o.is_empty())
        .map(String::from)
        .collect();
    Ok(MountSpec {
        kind: MountKind::Tmpfs,
        source: "tmpfs".into(),
        destination: dest.into(),
        options,
    })
}

fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for l in labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        if k.is_empty() {
            return Err(Error::invalid(format!("invalid label {l:?}: empty key")));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Check capability names (`NET_ADMIN` or `CAP_NET_ADMIN`, `ALL`), returning
/// them in the `CAP_` form.
fn parse_caps(caps: &[String]) -> Result<Vec<String>> {
    caps.iter()
        .map(|c| {
            let up = c.to_ascii_uppercase();
            if up == "ALL" {
                return Ok(up);
            }
            let full = if up.starts_with("CAP_") {
                up
            } else {
                format!("CAP_{up}")
            };
            crate::spec::parse_capability(&full).map(|_| full)
        })
        .collect()
}

/// Everything `create` decided that is not in the user's options.
pub struct Resolved {
    pub id: String,
    pub image_id: String,
    pub image_name: String,
    pub runtime: String,
}

/// Build a container configuration. Pure: no I/O beyond checking that
/// bind-mount sources exist, so it is unit-testable.
pub fn build_config(
    opts: &CreateOptions,
    image: &ImageDefaults,
    r: Resolved,
) -> Result<ContainerConfig> {
    let name = match &opts.name {
        Some(n) => {
            berth_types::id::validate_name(n)?;
            n.clone()
        }
        None => random_name(),
    };
    let entrypoint = opts
        .entrypoint
        .clone()
        .unwrap_or_else(|| image.entrypoint.clone());
    // As in Docker, an explicit --entrypoint drops the image's CMD.
    let command = if !opts.command.is_empty() {
        opts.command.clone()
    } else if opts.entrypoint.is_some() {
        Vec::new()
    } else {
        image.cmd.clone()
    };
    let args: Vec<String> = entrypoint.iter().chain(command.iter()).cloned().collect();
    if args.is_empty() {
        return Err(Error::invalid(format!(
            "no command or entrypoint provided, and no CMD or ENTRYPOINT in image {}",
            r.image_name
        ))
        .with_subject(&r.image_name));
    }
    let mut env_in = Vec::new();
    for f in &opts.env_files {
        env_in.extend(parse_env_file(f)?);
    }
    env_in.extend(expand_env(&opts.env)?);
    let mut env = merge_env(&[DEFAULT_PATH.to_string()], &image.env);
    env = merge_env(&env, &env_in);
    let mut mounts = Vec::new();
    for v in &opts.volumes {
        mounts.push(parse_volume(v)?);
    }
    for t in &opts.tmpfs {
        mounts.push(parse_tmpfs(t)?);
    }
    for m in &opts.mounts {
        mounts.push(parse_mount(m)?);
    }
    // Image VOLUMEs nothing else covers become anonymous volumes.
    for v in &image.volumes {
        let dest = v.trim_end_matches('/');
        let dest = if dest.is_empty() { "/" } else { dest };
        if !mounts
            .iter()
            .any(|m| m.destination.trim_end_matches('/') == dest)
        {
            mounts.push(volume_mount("", dest, Vec::new())?);
        }
    }
    let mut dests: Vec<&str> = mounts
        .iter()
        .map(|m| m.destination.trim_end_matches('/'))
        .collect();
    dests.sort_unstable();
    if let Some(w) = dests.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::invalid(format!(
            "duplicate mount destination {}",
            w[0]
        )));
    }
    let memory = opts.memory.as_deref().map(parse_bytes).transpose()?;
    if let Some(m) = memory {
        if m < 6 * 1024 * 1024 {
            return Err(Error::invalid("minimum memory limit allowed is 6MB"));
        }
    }
    if let Some(c) = opts.cpus {
        if c.is_nan() || c <= 0.0 || c > 1024.0 {
            return Err(Error::invalid(format!(
                "invalid --cpus {c}: must be greater than 0"
            )));
        }
    }
    let stop_signal = match opts.stop_signal.as_deref().or(image.stop_signal.as_deref()) {
        Some(s) => parse_signal(s)?,
        None => 15,
    };
    let workdir = opts
        .workdir
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| image.workdir.clone());
    if !workdir.is_empty() && !workdir.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid workdir {workdir:?}: must be an absolute path"
        )));
    }
    let mut labels = image.labels.clone();
    labels.extend(parse_labels(&opts.labels)?);
    let restart_policy = match &opts.restart {
        Some(r) => berth_types::RestartPolicy::parse(r)?,
        None => berth_types::RestartPolicy::default(),
    };
    if restart_policy.is_set() && opts.auto_remove {
        return Err(Error::invalid("the --rm option conflicts with --restart"));
    }
    let hostname = opts
        .hostname
        .clone()
        .unwrap_or_else(|| r.id[..12].to_string());
    if hostname.is_empty() || hostname.len() > 64 || hostname.contains(['/', ' ', '\n']) {
        return Err(Error::invalid(format!("invalid hostname {hostname:?}")));
    }
    Ok(ContainerConfig {
        id: r.id,
        name,
        image_id: r.image_id,
        image_name: r.image_name,
        created: jiff::Timestamp::now(),
        args,
        entrypoint,
        command,
        env,
        workdir: if workdir.is_empty() {
            "/".into()
        } else {
            workdir
        },
        user: opts.user.clone().unwrap_or_else(|| image.user.clone()),
        hostname,
        read_only: opts.read_only,
        mounts,
        resources: Resources {
            memory,
            cpus: opts.cpus,
            pids_limit: opts.pids_limit,
        },
        stop_signal,
        stop_timeout: opts.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
        labels,
        cap_add: parse_caps(&opts.cap_add)?,
        cap_drop: parse_caps(&opts.cap_drop)?,
        privileged: opts.privileged,
        stdin: opts.interactive,
        tty: opts.tty,
        console_size: opts.console_size.filter(|_| opts.tty),
        auto_remove: opts.auto_remove,
        log_driver: opts.log_driver.clone().unwrap_or_else(|| "k8s-file".into()),
        log_max_size: opts.log_max_size,
        log_max_file: opts.log_max_file,
        runtime: r.runtime,
        restart_policy,
        healthcheck: crate::container::health::resolve(&opts.health, image.healthcheck.as_ref())?,
        net: crate::network::build_net_config(&opts.net, &image.exposed)?,
        pod: Default::default(),
        // Names as given; `create_container` resolves them to IDs.
        requires: opts.requires.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved() -> Resolved {
        Resolved {
            id: "a".repeat(64),
            image_id: "b".repeat(64),
            image_name: "localhost/busybox:latest".into(),
            runtime: "runc".into(),
        }
    }

    fn image() -> ImageDefaults {
        ImageDefaults {
            env: vec!["PATH=/bin".into(), "A=1".into()],
            cmd: vec!["sh".into()],
            ..Default::default()
        }
    }

    #[test]
    fn command_entrypoint_and_env() {
        let opts = CreateOptions {
            command: vec!["echo".into(), "hi".into()],
            env: vec!["A=2".into(), "B=3".into()],
            ..Default::default()
        };
        let c = build_config(&opts, &image(), resolved()).unwrap();
        assert_eq!(c.args, ["echo", "hi"]);
        assert_eq!(c.env, ["PATH=/bin", "A=2", "B=3"]);
        assert_eq!(c.hostname, "a".repeat(12));
        let opts = CreateOptions {
            entrypoint: Some(vec!["/bin/true".into()]),
            ..Default::default()
        };
        assert_eq!(
            build_config(&opts, &image(), resolved()).unwrap().args,
            ["/bin/true"]
        );
        let c = build_config(&CreateOptions::default(), &image(), resolved()).unwrap();
        assert_eq!(c.args, ["sh"]);
    }

    #[test]
    fn bad_input_is_rejected() {
        for name in ["", "a/b", "-x", ".."] {
            let opts = CreateOptions {
                name: Some(name.into()),
                ..Default::default()
            };
            assert!(build_config(&opts, &image(), resolved()).is_err(), "{name}");
        }
        for o in [
            CreateOptions {
                volumes: vec!["./relative:/x".into()],
                ..Default::default()
            },
            CreateOptions {
                volumes: vec!["bad/name:/x".into()],
                ..Default::default()
            },
            CreateOptions {
                mounts: vec!["type=nfs,target=/x".into()],
                ..Default::default()
            },
            CreateOptions {
                mounts: vec!["type=volume,target=rel".into()],
                ..Default::default()
            },
            CreateOptions {
                mounts: vec!["type=bind,source=/nonexistent-berth,target=/x".into()],
                ..Default::default()
            },
            CreateOptions {
                volumes: vec!["/tmp:rel".into()],
                ..Default::default()
            },
            CreateOptions {
                volumes: vec!["/tmp:/x:bogus".into()],
                ..Default::default()
            },
            CreateOptions {
                memory: Some("1k".into()),
                ..Default::default()
            },
            CreateOptions {
                stop_signal: Some("NOPE".into()),
                ..Default::default()
            },
            CreateOptions {
                cap_add: vec!["NOT_A_CAP".into()],
                ..Default::default()
            },
            CreateOptions {
                workdir: Some("rel".into()),
                ..Default::default()
            },
            CreateOptions {
                tmpfs: vec!["/a".into(), "/a".into()],
                ..Default::default()
            },
            CreateOptions {
                restart: Some("sometimes".into()),
                ..Default::default()
            },
            CreateOptions {
                restart: Some("always".into()),
                auto_remove: true,
                ..Default::default()
            },
        ] {
            assert!(build_config(&o, &image(), resolved()).is_err(), "{o:?}");
        }
    }

    #[test]
    fn volumes_and_mounts() {
        use crate::volumes::{volume_name, ANONYMOUS_OPT};
        let opts = CreateOptions {
            volumes: vec!["data:/data:ro".into(), "/anon".into(), "/tmp:/host".into()],
            mounts: vec![
                "type=volume,source=v2,target=/v2".into(),
                "type=volume,target=/v3".into(),
                "type=bind,src=/tmp,dst=/b,readonly".into(),
                "type=tmpfs,target=/t,tmpfs-size=1m".into(),
            ],
            ..Default::default()
        };
        let img = ImageDefaults {
            volumes: vec!["/data/".into(), "/img".into()],
            ..image()
        };
        let c = build_config(&opts, &img, resolved()).unwrap();
        let by = |d: &str| c.mounts.iter().find(|m| m.destination == d).unwrap();
        assert_eq!(volume_name(by("/data")), Some("data"));
        assert!(by("/data").read_only());
        let anon = by("/anon");
        assert!(anon.options.iter().any(|o| o == ANONYMOUS_OPT));
        assert_eq!(volume_name(anon).unwrap().len(), 64);
        assert_eq!(volume_name(by("/host")), None);
        assert_eq!(by("/host").source, "/tmp");
        assert_eq!(volume_name(by("/v2")), Some("v2"));
        assert!(volume_name(by("/v3")).is_some());
        assert!(by("/b").read_only());
        assert_eq!(by("/t").kind, MountKind::Tmpfs);
        assert_eq!(by("/t").options, ["size=1m"]);
        // The image's /data is covered by the user's volume; /img is not.
        assert!(volume_name(by("/img")).is_some());
        assert_eq!(c.mounts.len(), 8);
    }

    #[test]
    fn env_file_lines() {
        let env = parse_env_file("# comment\nA=1\n\n  B=two words\n").unwrap();
        assert_eq!(env, ["A=1", "B=two words"]);
    }
}
