//! `generate kube CTR|POD`: a Pod document that `kube play` turns back into
//! the same pod (same container names, images, commands, env, ports,
//! limits, mounts and restart policy).

use berth_core::{ContainerRecord, Error, ErrorKind, Result, Runtime};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, EnvVar, HostPathVolumeSource,
    PersistentVolumeClaimVolumeSource, Pod, PodSpec, ResourceRequirements, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// Environment entries every container gets from berth or the image's
/// PATH; not written out.
const IMPLICIT_ENV: [&str; 4] = ["PATH=", "HOSTNAME=", "container=", "HOME="];

fn restart_policy(rec: &ContainerRecord) -> &'static str {
    match rec.config.restart_policy.name.as_str() {
        "always" | "unless-stopped" => "Always",
        "on-failure" => "OnFailure",
        _ => "Never",
    }
}

/// The container, its volume mounts, and the pod volumes they need.
fn container(rec: &ContainerRecord, pod: &str, volumes: &mut Vec<Volume>) -> Container {
    let cfg = &rec.config;
    let name = cfg
        .name
        .strip_prefix(&format!("{pod}-"))
        .unwrap_or(&cfg.name)
        .to_string();
    let mut mounts = Vec::new();
    for (i, m) in cfg.mounts.iter().enumerate() {
        if m.kind != berth_types::MountKind::Bind {
            continue;
        }
        let named = m
            .options
            .iter()
            .find_map(|o| o.strip_prefix("berth.volume="));
        let vol_name = format!("{name}-vol{i}");
        let mut vol = Volume {
            name: vol_name.clone(),
            ..Default::default()
        };
        match named {
            Some(v) if berth_types::id::is_full_id(v) => {
                vol.empty_dir = Some(EmptyDirVolumeSource::default())
            }
            Some(v) => {
                vol.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
                    claim_name: v.to_string(),
                    read_only: None,
                })
            }
            None => {
                vol.host_path = Some(HostPathVolumeSource {
                    path: m.source.clone(),
                    type_: None,
                })
            }
        }
        volumes.push(vol);
        mounts.push(VolumeMount {
            name: vol_name,
            mount_path: m.destination.clone(),
            read_only: m.read_only().then_some(true),
            ..Default::default()
        });
    }
    let env: Vec<EnvVar> = cfg
        .env
        .iter()
        .filter(|e| !IMPLICIT_ENV.iter().any(|p| e.starts_with(p)))
        .map(|e| {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            EnvVar {
                name: k.to_string(),
                value: Some(v.to_string()),
                value_from: None,
            }
        })
        .collect();
    let mut limits = BTreeMap::new();
    if let Some(m) = cfg.resources.memory {
        limits.insert("memory".to_string(), Quantity(m.to_string()));
    }
    if let Some(c) = cfg.resources.cpus {
        limits.insert(
            "cpu".to_string(),
            Quantity(format!("{}m", (c * 1000.0).round() as i64)),
        );
    }
    Container {
        name,
        image: Some(cfg.image_name.clone()),
        command: Some(cfg.entrypoint.clone()).filter(|e| !e.is_empty()),
        args: Some(cfg.command.clone()).filter(|c| !c.is_empty()),
        env: Some(env).filter(|e| !e.is_empty()),
        working_dir: Some(cfg.workdir.clone()).filter(|w| w != "/"),
        resources: (!limits.is_empty()).then(|| ResourceRequirements {
            limits: Some(limits),
            ..Default::default()
        }),
        volume_mounts: Some(mounts).filter(|m| !m.is_empty()),
        stdin: cfg.stdin.then_some(true),
        tty: cfg.tty.then_some(true),
        ..Default::default()
    }
}

/// The published ports as container ports with hostPorts.
fn ports(rec: &ContainerRecord) -> Vec<ContainerPort> {
    let mut out = Vec::new();
    for p in &rec.config.net.ports {
        for i in 0..p.range.max(1) {
            out.push(ContainerPort {
                container_port: (p.container_port + i) as i32,
                host_port: Some((p.host_port + i) as i32),
                host_ip: Some(p.host_ip.clone()).filter(|h| !h.is_empty()),
                protocol: Some(p.protocol.to_uppercase()),
                name: None,
            });
        }
    }
    out
}

/// YAML for pod or container `name` (a container outside a pod becomes a
/// pod named `NAME-pod`).
pub fn generate(rt: &Runtime, name: &str) -> Result<String> {
    let (pod_name, members, infra) = match rt.pod(name) {
        Ok(pod) => {
            let all = rt.pod_containers(&pod.id)?;
            let infra = all.iter().find(|c| c.config.pod.infra).cloned();
            let members: Vec<ContainerRecord> =
                all.into_iter().filter(|c| !c.config.pod.infra).collect();
            (pod.name, members, infra)
        }
        Err(e) if e.kind == ErrorKind::NoSuchContainer => {
            let rec = rt.lookup(name)?.inspect_record()?;
            (
                format!("{}-pod", rec.config.name),
                vec![rec.clone()],
                Some(rec),
            )
        }
        Err(e) => return Err(e),
    };
    if members.is_empty() {
        return Err(Error::invalid(format!(
            "pod {pod_name} has no containers to generate"
        )));
    }
    let mut volumes = Vec::new();
    let mut containers: Vec<Container> = members
        .iter()
        .map(|m| container(m, &pod_name, &mut volumes))
        .collect();
    if let Some(infra) = &infra {
        let p = ports(infra);
        if !p.is_empty() {
            containers[0].ports = Some(p);
        }
    }
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(pod_name.clone()),
            labels: Some(BTreeMap::from([("app".to_string(), pod_name)])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers,
            restart_policy: Some(restart_policy(&members[0]).into()),
            volumes: Some(volumes).filter(|v| !v.is_empty()),
            ..Default::default()
        }),
        status: None,
    };
    let mut doc = serde_json::to_value(&pod)?;
    doc["apiVersion"] = "v1".into();
    doc["kind"] = "Pod".into();
    let body =
        serde_norway::to_string(&doc).map_err(|e| Error::internal(format!("writing YAML: {e}")))?;
    Ok(format!("# Generated by berth\n{body}"))
}
