//! Generating the OCI runtime spec (`config.json`) for a container with
//! `oci-spec`, built field by field (never from `Spec::default()`, which is
//! runc's example and would drift from Podman's defaults).

use crate::user::ExecUser;
use berth_types::{ContainerConfig, Error, MountKind, Result};
use oci_spec::runtime::{
    Capabilities, Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder,
    LinuxDeviceCgroupBuilder, LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResourcesBuilder, Mount, MountBuilder, PosixRlimitBuilder,
    PosixRlimitType, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use std::path::Path;

/// Capabilities a container gets by default (Podman's default set).
const DEFAULT_CAPS: [&str; 11] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// Parse a `CAP_*` name into oci-spec's enum.
pub fn parse_capability(name: &str) -> Result<Capability> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| Error::invalid(format!("unknown capability {name:?}")))
}

/// Every capability this process itself holds in its bounding set: the
/// most a privileged container can get.
pub(crate) fn held_capabilities() -> Capabilities {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(40);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let bnd = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .unwrap_or(u64::MAX);
    (0..=last)
        .filter(|bit| bnd & (1u64 << bit) != 0)
        .filter_map(|bit| cap_name(bit).and_then(|n| parse_capability(n).ok()))
        .collect()
}

fn cap_name(bit: u32) -> Option<&'static str> {
    const NAMES: [&str; 41] = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    NAMES.get(bit as usize).copied()
}

/// The container's capability set: defaults (or all held, when
/// privileged), plus `--cap-add`, minus `--cap-drop`, never more than held.
fn capabilities(cfg: &ContainerConfig) -> Result<Capabilities> {
    let held = held_capabilities();
    let mut caps: Capabilities = if cfg.privileged {
        held.clone()
    } else {
        DEFAULT_CAPS
            .iter()
            .map(|c| parse_capability(c))
            .collect::<Result<_>>()?
    };
    // As in Podman: `--cap-drop ALL` empties the set first, so
    // `--cap-drop ALL --cap-add X` yields exactly X; named drops win over adds.
    if cfg.cap_drop.iter().any(|c| c == "ALL") {
        caps.clear();
    }
    for c in &cfg.cap_add {
        if c == "ALL" {
            caps.extend(held.iter().copied());
        } else {
            caps.insert(parse_capability(c)?);
        }
    }
    for c in cfg.cap_drop.iter().filter(|c| *c != "ALL") {
        caps.remove(&parse_capability(c)?);
    }
    Ok(caps.intersection(&held).copied().collect())
}

/// Every device node under the host's /dev (one level of subdirectories,
/// skipping the per-container mounts), for `--privileged`.
fn host_devices() -> Vec<oci_spec::runtime::LinuxDevice> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut paths = Vec::new();
    let skip = [
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/dev/fd",
        "/dev/console",
    ];
    let mut dirs = vec![std::path::PathBuf::from("/dev")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if skip.iter().any(|s| path == Path::new(s)) {
                continue;
            }
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() && dir == Path::new("/dev") => dirs.push(path),
                Ok(m) if m.file_type().is_char_device() || m.file_type().is_block_device() => {
                    paths.push((path, m))
                }
                _ => {}
            }
        }
    }
    paths
        .into_iter()
        .filter_map(|(path, m)| {
            let typ = if m.file_type().is_char_device() {
                oci_spec::runtime::LinuxDeviceType::C
            } else {
                oci_spec::runtime::LinuxDeviceType::B
            };
            let rdev = m.rdev();
            oci_spec::runtime::LinuxDeviceBuilder::default()
                .path(path)
                .typ(typ)
                .major(rustix::fs::major(rdev) as i64)
                .minor(rustix::fs::minor(rdev) as i64)
                .file_mode(m.mode() & 0o7777)
                .uid(m.uid())
                .gid(m.gid())
                .build()
                .ok()
        })
        .collect()
}

/// Default rlimits, clamped to the hard limits berth itself holds: a
/// process without CAP_SYS_RESOURCE cannot raise them, and runc would fail.
fn rlimits() -> Result<Vec<oci_spec::runtime::PosixRlimit>> {
    let mut out = Vec::new();
    for (typ, resource, want) in [
        (
            PosixRlimitType::RlimitNofile,
            rustix::process::Resource::Nofile,
            1_048_576u64,
        ),
        (
            PosixRlimitType::RlimitNproc,
            rustix::process::Resource::Nproc,
            4_194_304u64,
        ),
    ] {
        let held = rustix::process::getrlimit(resource)
            .maximum
            .unwrap_or(u64::MAX);
        let v = want.min(held);
        out.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .hard(v)
                .soft(v)
                .build()
                .map_err(spec_err)?,
        );
    }
    Ok(out)
}

/// A process's `consoleSize` for a terminal of (rows, columns); `None`
/// without a size (or with a zero in it): runc then leaves the size to the
/// first resize.
pub(crate) fn console_size(size: Option<(u16, u16)>) -> Result<Option<oci_spec::runtime::Box>> {
    let Some((rows, cols)) = size.filter(|(r, c)| *r > 0 && *c > 0) else {
        return Ok(None);
    };
    oci_spec::runtime::BoxBuilder::default()
        .height(u64::from(rows))
        .width(u64::from(cols))
        .build()
        .map(Some)
        .map_err(spec_err)
}

fn spec_err(e: oci_spec::OciSpecError) -> Error {
    Error::internal(format!("building the OCI spec: {e}"))
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount> {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(spec_err)
}

/// The mounts every container gets, then /etc files, then the user's.
fn mounts(cfg: &ContainerConfig, userdata: &Path) -> Result<Vec<Mount>> {
    let sys_opts: &[&str] = if cfg.privileged {
        &["nosuid", "noexec", "nodev"]
    } else {
        &["nosuid", "noexec", "nodev", "ro"]
    };
    let mut m = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount("/sys", "sysfs", "sysfs", sys_opts)?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        )?,
    ];
    for (file, dest) in [
        ("hosts", "/etc/hosts"),
        ("resolv.conf", "/etc/resolv.conf"),
        ("hostname", "/etc/hostname"),
    ] {
        let src = userdata.join(file);
        let user_has_it = cfg.mounts.iter().any(|u| u.destination == dest);
        if !user_has_it {
            m.push(mount(
                dest,
                "bind",
                &src.to_string_lossy(),
                &["rbind", "rprivate", "nosuid", "nodev", "noexec"],
            )?);
        }
    }
    for u in &cfg.mounts {
        match u.kind {
            MountKind::Bind => {
                let mut opts: Vec<&str> = vec!["rbind"];
                opts.push(if u.read_only() { "ro" } else { "rw" });
                // Exact words only: volume mounts also carry
                // `berth.volume=NAME`, and a volume may be named "shared".
                let propagation = u.options.iter().find(|o| {
                    matches!(
                        o.as_str(),
                        "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
                    )
                });
                opts.push(propagation.map(String::as_str).unwrap_or("rprivate"));
                m.push(mount(&u.destination, "bind", &u.source, &opts)?);
            }
            MountKind::Tmpfs => {
                let mut opts: Vec<&str> = vec!["nosuid", "nodev"];
                opts.extend(u.options.iter().map(String::as_str));
                if !u.options.iter().any(|o| o.starts_with("mode=")) {
                    opts.push("mode=1777");
                }
                m.push(mount(&u.destination, "tmpfs", "tmpfs", &opts)?);
            }
        }
    }
    Ok(m)
}

/// Build the spec for `cfg` with its rootfs at `rootfs` and its /etc files
/// in `userdata`; `user` is the resolved `--user`; `netns` says which
/// network namespace it gets; the matching OCI hooks from `hooks_dirs`
/// (`hooks.d` files, see `crate::hooks`) are injected.
pub fn build_spec(
    cfg: &ContainerConfig,
    rootfs: &Path,
    userdata: &Path,
    user: &ExecUser,
    hooks_dirs: &[std::path::PathBuf],
    netns: &crate::network::SpecNetns,
) -> Result<Spec> {
    let caps = capabilities(cfg)?;
    let mut env = cfg.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={}", cfg.hostname));
    }
    if !env.iter().any(|e| e.starts_with("container=")) {
        env.push("container=berth".into());
    }
    let mut user_b = UserBuilder::default().uid(user.uid).gid(user.gid);
    if !user.additional_gids.is_empty() {
        user_b = user_b.additional_gids(user.additional_gids.clone());
    }
    let process = ProcessBuilder::default()
        .terminal(cfg.tty)
        .user(user_b.build().map_err(spec_err)?)
        .args(cfg.args.clone())
        .env(env)
        .cwd(&cfg.workdir)
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(caps.clone())
                .effective(caps.clone())
                .permitted(caps)
                // The builder's defaults fill these two; an ambient cap
                // outside the bounding set makes runc fail with EPERM.
                .inheritable(Capabilities::new())
                .ambient(Capabilities::new())
                .build()
                .map_err(spec_err)?,
        )
        .rlimits(rlimits()?)
        .no_new_privileges(false)
        .build()
        .map_err(spec_err)?;
    let mut process = process;
    process.set_console_size(console_size(cfg.console_size.filter(|_| cfg.tty))?);

    use crate::network::SpecNetns;
    let namespaces = [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        // `--network none`: a new namespace, loopback only (runc brings it
        // up); bridge and the others: joined by path; host: none at all.
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Cgroup,
    ]
    .into_iter()
    .filter(|t| *t != LinuxNamespaceType::Network || !matches!(netns, SpecNetns::Host))
    .map(|t| {
        let mut b = LinuxNamespaceBuilder::default().typ(t);
        if let (LinuxNamespaceType::Network, SpecNetns::Join(p)) = (t, netns) {
            b = b.path(p);
        }
        b.build().map_err(spec_err)
    })
    .collect::<Result<Vec<_>>>()?;

    let mut resources =
        LinuxResourcesBuilder::default().devices(vec![LinuxDeviceCgroupBuilder::default()
            // Deny every device but runc's defaults, or allow all when privileged.
            .allow(cfg.privileged)
            .access("rwm")
            .build()
            .map_err(spec_err)?]);
    if let Some(mem) = cfg.resources.memory {
        resources = resources.memory(
            LinuxMemoryBuilder::default()
                .limit(mem)
                .build()
                .map_err(spec_err)?,
        );
    }
    if let Some(cpus) = cfg.resources.cpus {
        let period = 100_000u64;
        resources = resources.cpu(
            LinuxCpuBuilder::default()
                .period(period)
                .quota((cpus * period as f64) as i64)
                .build()
                .map_err(spec_err)?,
        );
    }
    if let Some(p) = cfg.resources.pids_limit {
        resources = resources.pids(
            LinuxPidsBuilder::default()
                .limit(p)
                .build()
                .map_err(spec_err)?,
        );
    }

    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources.build().map_err(spec_err)?)
        .cgroups_path(format!("/berth/{}", cfg.id));
    if cfg.privileged {
        // The builder's defaults mask /proc paths; a privileged container
        // gets none of that, and every host device.
        linux = linux
            .masked_paths(Vec::new())
            .readonly_paths(Vec::new())
            .devices(host_devices());
    } else {
        linux = linux
            .masked_paths(oci_spec::runtime::get_default_maskedpaths())
            .readonly_paths(oci_spec::runtime::get_default_readonly_paths());
    }

    let mut annotations = std::collections::HashMap::new();
    annotations.insert("io.berth.container.name".to_string(), cfg.name.clone());
    let subject = crate::hooks::Subject {
        annotations: &annotations,
        command: cfg.args.first().map(String::as_str).unwrap_or_default(),
        has_bind_mounts: crate::hooks::Subject::bind_mounts(cfg),
    };
    let hooks = crate::hooks::hooks_for(hooks_dirs, &subject)
        .map_err(|e| e.with_subject(cfg.name.clone()))?;
    let mut builder = SpecBuilder::default();
    if let Some(h) = hooks {
        builder = builder.hooks(h);
    }
    builder
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path(rootfs)
                .readonly(cfg.read_only)
                .build()
                .map_err(spec_err)?,
        )
        .hostname(cfg.hostname.clone())
        .process(process)
        .mounts(mounts(cfg, userdata)?)
        .linux(linux.build().map_err(spec_err)?)
        .annotations(annotations)
        .build()
        .map_err(spec_err)
}

/// Write the files bind-mounted over /etc/hosts, /etc/hostname and
/// /etc/resolv.conf into the container's userdata directory; `net` is the
/// container's live networking (its addresses and DNS servers).
pub fn write_etc_files(
    cfg: &ContainerConfig,
    userdata: &Path,
    net: Option<&berth_types::net::NetState>,
) -> Result<()> {
    let (hosts, resolv) = crate::network::etc_files(cfg, net)?;
    for (name, body) in [
        ("hosts", hosts),
        ("hostname", format!("{}\n", cfg.hostname)),
        ("resolv.conf", resolv),
    ] {
        let path = userdata.join(name);
        std::fs::write(&path, body).map_err(|e| {
            Error::io(
                format!("container {}: writing {}", cfg.name, path.display()),
                e,
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_parse() {
        assert!(parse_capability("CAP_NET_ADMIN").is_ok());
        assert!(parse_capability("NOPE").is_err());
        for bit in 0..41 {
            assert!(parse_capability(cap_name(bit).unwrap()).is_ok(), "{bit}");
        }
    }

    #[test]
    fn rlimits_never_exceed_what_we_hold() {
        let held = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .maximum
            .unwrap_or(u64::MAX);
        let r = rlimits().unwrap();
        assert!(r[0].hard() <= held);
    }
}
