//! `inspect` output in Podman's JSON shape (the fields `podman inspect`
//! prints, with Go's zero values where berth has nothing to say yet).

use crate::signal::signal_name;
use crate::Runtime;
use berth_types::exec::{ExecSession, ExecState};
use berth_types::{ContainerRecord, ContainerState, MountKind};
use serde_json::{json, Value};

/// Go's zero `time.Time`, which Podman prints for "never".
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub(crate) fn time(t: &Option<jiff::Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_else(|| ZERO_TIME.into())
}

/// The state word users see: Podman shows a container that exists only in
/// the database as "created" too.
pub fn status_word(state: ContainerState) -> &'static str {
    match state {
        ContainerState::Configured => "created",
        s => s.as_str(),
    }
}

/// The health status `ps` shows beside "Up ..." (`healthy`, `unhealthy`,
/// `starting`), for running containers that have a healthcheck.
pub fn health_status(rec: &ContainerRecord) -> Option<&str> {
    rec.config.healthcheck.as_ref()?;
    let st = &rec.state;
    if st.state != ContainerState::Running {
        return None;
    }
    Some(
        st.health
            .as_ref()
            .map_or(berth_types::health::HEALTH_STARTING, |h| h.status.as_str()),
    )
}

/// `State.Health`: Podman's shape, empty for containers without a
/// healthcheck.
fn health_json(rec: &ContainerRecord) -> Value {
    match (&rec.config.healthcheck, &rec.state.health) {
        (Some(_), Some(h)) => json!(h),
        (Some(_), None) => json!(berth_types::health::HealthState::default()),
        (None, _) => json!({ "Status": "", "FailingStreak": 0, "Log": null }),
    }
}

/// Build the inspect document for one container.
pub fn inspect_json(rt: &Runtime, rec: &ContainerRecord) -> Value {
    let c = &rec.config;
    let s = &rec.state;
    let paths = rt.paths();
    let userdata = paths.userdata(&c.id);
    let p = |name: &str| userdata.join(name).to_string_lossy().into_owned();
    let mounts: Vec<Value> = c
        .mounts
        .iter()
        .map(|m| {
            json!({
                "Type": match m.kind { MountKind::Bind => "bind", MountKind::Tmpfs => "tmpfs" },
                "Source": m.source,
                "Destination": m.destination,
                "Driver": "",
                "Mode": "",
                "Options": m.options,
                "RW": !m.read_only(),
                "Propagation": if m.kind == MountKind::Bind { "rprivate" } else { "" },
            })
        })
        .collect();
    let binds: Vec<String> = c
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Bind)
        .map(|m| {
            format!(
                "{}:{}:{}",
                m.source,
                m.destination,
                if m.read_only() { "ro" } else { "rw" }
            )
        })
        .collect();
    let tmpfs: serde_json::Map<String, Value> = c
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Tmpfs)
        .map(|m| (m.destination.clone(), Value::String(m.options.join(","))))
        .collect();
    let path = c.args.first().cloned().unwrap_or_default();
    let args: Vec<String> = c.args.iter().skip(1).cloned().collect();
    let layer_dir = paths.storage().join("containers").join(&c.id);
    let mut doc = json!({
        "Id": c.id,
        "Created": c.created.to_string(),
        "Path": path,
        "Args": args,
        "State": {
            "OciVersion": "1.0.2",
            "Status": status_word(s.state),
            "Running": s.state == ContainerState::Running || s.state == ContainerState::Stopping,
            "Paused": s.state == ContainerState::Paused,
            "Restarting": false,
            "OOMKilled": s.oom_killed,
            "Dead": false,
            "Pid": s.pid,
            "ConmonPid": s.monitor_pid,
            "ExitCode": s.exit_code.unwrap_or(0),
            "Error": s.error,
            "StartedAt": time(&s.started_at),
            "FinishedAt": time(&s.finished_at),
            "Health": health_json(rec),
            // Podman 4's name for the same object, kept for old templates.
            "Healthcheck": health_json(rec),
        },
        "Image": c.image_id,
        "ImageName": c.image_name,
        "Rootfs": "",
        "Pod": "",
        "ResolvConfPath": p("resolv.conf"),
        "HostnamePath": p("hostname"),
        "HostsPath": p("hosts"),
        "StaticDir": userdata.parent().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default(),
        "OCIConfigPath": p("config.json"),
        "OCIRuntime": c.runtime,
        "ConmonPidFile": "",
        "PidFile": paths.pid_file(&c.id).to_string_lossy(),
        "Name": c.name,
        "RestartCount": s.restart_count,
        "Driver": "overlay",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": [],
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "UpperDir": layer_dir.join("diff").to_string_lossy(),
                "WorkDir": layer_dir.join("work").to_string_lossy(),
                "MergedDir": s.mountpoint.clone().unwrap_or_default(),
            }
        },
        "Mounts": mounts,
        "Dependencies": [],
        "NetworkSettings": crate::network::network_settings(rec, &rt.netns_path(&c.id)),
        "Namespace": "",
        "IsInfra": false,
        "Config": {
            "Hostname": c.hostname,
            "Domainname": "",
            "User": c.user,
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
            "Tty": c.tty,
            "OpenStdin": c.stdin,
            "StdinOnce": false,
            "Env": c.env,
            "Cmd": c.command,
            "Image": c.image_name,
            "Volumes": null,
            "WorkingDir": c.workdir,
            "Entrypoint": c.entrypoint.join(" "),
            "OnBuild": null,
            "Labels": c.labels,
            "Annotations": { "io.berth.container.name": c.name },
            "StopSignal": signal_name(c.stop_signal),
            "StopTimeout": c.stop_timeout,
            "CreateCommand": [],
            "Umask": "0022",
            "Timeout": 0,
            "Healthcheck": c.healthcheck.as_ref().map(|h| json!({
                "Test": h.test,
                "Interval": h.interval,
                "Timeout": h.timeout,
                "StartPeriod": h.start_period,
                "Retries": h.retries,
            })),
            "HealthcheckOnFailureAction": c.healthcheck.as_ref().map_or("none", |h| h.on_failure.as_str()),
        },
        "HostConfig": {
            "Binds": binds,
            "AutoRemove": c.auto_remove,
            "CapAdd": c.cap_add,
            "CapDrop": c.cap_drop,
            "Privileged": c.privileged,
            "ReadonlyRootfs": c.read_only,
            "Tmpfs": tmpfs,
            "Memory": c.resources.memory.unwrap_or(0),
            "NanoCpus": c.resources.cpus.map(|x| (x * 1e9) as i64).unwrap_or(0),
            "PidsLimit": c.resources.pids_limit.unwrap_or(0),
            "RestartPolicy": {
                "Name": if c.restart_policy.is_set() { c.restart_policy.name.as_str() } else { "" },
                "MaximumRetryCount": c.restart_policy.max_retries,
            },
            "LogConfig": { "Type": c.log_driver, "Config": null, "Path": paths.log_file(&c.id).to_string_lossy() },
            "NetworkMode": c.net.mode.word(),
            "PortBindings": crate::network::ports_map(&c.net),
            "Runtime": "oci",
        },
    });
    crate::container::checkpoint::add_inspect_state(&mut doc["State"], s);
    doc
}

/// One exec session in the shape of Podman's and Docker's `/exec/ID/json`,
/// with berth's record of when it ran and why it failed, if it did.
pub fn exec_session_json(s: &ExecSession) -> Value {
    let (entrypoint, arguments) = s
        .command
        .split_first()
        .map(|(e, a)| (e.clone(), a.to_vec()))
        .unwrap_or_default();
    json!({
        "ID": s.id,
        "ContainerID": s.container_id,
        "Running": s.state == ExecState::Running,
        "ExitCode": s.exit_code.unwrap_or(0),
        "Pid": s.pid,
        "CanRemove": s.state == ExecState::Exited,
        "DetachKeys": "",
        "OpenStdin": s.interactive,
        "OpenStdout": !s.detached,
        "OpenStderr": !s.detached,
        "ProcessConfig": {
            "entrypoint": entrypoint,
            "arguments": arguments,
            "privileged": s.privileged,
            "tty": s.tty,
            "user": s.user,
        },
        "State": s.state.as_str(),
        "WorkingDir": s.workdir,
        "Env": s.env,
        "CreatedAt": s.created.to_string(),
        "StartedAt": time(&s.started_at),
        "FinishedAt": time(&s.finished_at),
        "Error": s.error,
    })
}
