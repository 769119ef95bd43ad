//! `kube play FILE` and `kube down FILE`.

use crate::{documents, typed};
use berth_core::{CreateOptions, Error, PodCreateOptions, Result, Runtime, VolumeCreateOptions};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, PersistentVolumeClaim, Pod, PodSpec, Volume,
};
use std::collections::BTreeMap;

/// `kube play` flags.
#[derive(Debug, Clone, Default)]
pub struct PlayOptions {
    /// `--network`: the pods' network (`bridge` when a hostPort is
    /// published, else berth's default).
    pub network: Option<String>,
    /// `--start=false`: create only.
    pub no_start: bool,
}

/// What `kube play` made.
#[derive(Debug, Clone, Default)]
pub struct PlayReport {
    /// Pod names, with their container names.
    pub pods: Vec<(String, Vec<String>)>,
    /// Volumes created for PersistentVolumeClaims.
    pub volumes: Vec<String>,
}

/// The pods a file describes: (pod name, spec).
fn pods_of(docs: &[serde_json::Value]) -> Result<Vec<(String, PodSpec)>> {
    let mut out = Vec::new();
    for d in docs {
        match d["kind"].as_str().unwrap_or_default() {
            "Pod" => {
                let p: Pod = typed(d, "Pod")?;
                let name = p
                    .metadata
                    .name
                    .clone()
                    .ok_or_else(|| Error::invalid("a Pod needs metadata.name"))?;
                out.push((name, p.spec.unwrap_or_default()));
            }
            "Deployment" => {
                let dep: Deployment = typed(d, "Deployment")?;
                let name = dep
                    .metadata
                    .name
                    .clone()
                    .ok_or_else(|| Error::invalid("a Deployment needs metadata.name"))?;
                let spec = dep.spec.unwrap_or_default();
                let replicas = spec.replicas.unwrap_or(1).max(0);
                let pod_spec = spec.template.spec.unwrap_or_default();
                for i in 0..replicas {
                    let pod = if i == 0 {
                        format!("{name}-pod")
                    } else {
                        format!("{name}-pod-{i}")
                    };
                    out.push((pod, pod_spec.clone()));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Kubernetes quantity → bytes (`128Mi`, `1G`, `500k`, `1e6`).
pub(crate) fn memory_bytes(q: &str) -> Result<i64> {
    const UNITS: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let bad = || Error::invalid(format!("invalid memory quantity {q:?}"));
    for (suffix, mult) in UNITS {
        if let Some(n) = q.strip_suffix(suffix) {
            return n
                .parse::<f64>()
                .map(|n| (n * mult) as i64)
                .map_err(|_| bad());
        }
    }
    q.parse::<f64>().map(|n| n as i64).map_err(|_| bad())
}

/// Kubernetes CPU quantity → CPUs (`500m` → 0.5, `2` → 2.0).
pub(crate) fn cpus(q: &str) -> Result<f64> {
    let bad = || Error::invalid(format!("invalid cpu quantity {q:?}"));
    match q.strip_suffix('m') {
        Some(m) => m.parse::<f64>().map(|m| m / 1000.0).map_err(|_| bad()),
        None => q.parse::<f64>().map_err(|_| bad()),
    }
}

fn restart_word(policy: Option<&str>) -> &'static str {
    match policy {
        Some("OnFailure") => "on-failure",
        Some("Never") => "no",
        _ => "always",
    }
}

fn env_of(c: &Container, maps: &BTreeMap<String, BTreeMap<String, String>>) -> Result<Vec<String>> {
    let mut env = Vec::new();
    let map = |name: &str| {
        maps.get(name)
            .ok_or_else(|| Error::invalid(format!("ConfigMap {name} not found in the file")))
    };
    for from in c.env_from.iter().flatten() {
        if let Some(r) = &from.config_map_ref {
            match map(&r.name) {
                Ok(m) => {
                    env.extend(m.iter().map(|(k, v)| {
                        format!("{}{k}={v}", from.prefix.clone().unwrap_or_default())
                    }))
                }
                Err(_) if r.optional == Some(true) => {}
                Err(e) => return Err(e),
            }
        }
    }
    for e in c.env.iter().flatten() {
        if let Some(v) = &e.value {
            env.push(format!("{}={v}", e.name));
        } else if let Some(r) = e
            .value_from
            .as_ref()
            .and_then(|f| f.config_map_key_ref.as_ref())
        {
            match map(&r.name).and_then(|m| {
                m.get(&r.key).cloned().ok_or_else(|| {
                    Error::invalid(format!("key {} not in ConfigMap {}", r.key, r.name))
                })
            }) {
                Ok(v) => env.push(format!("{}={v}", e.name)),
                Err(_) if r.optional == Some(true) => {}
                Err(err) => return Err(err),
            }
        } else {
            env.push(format!("{}=", e.name));
        }
    }
    Ok(env)
}

fn mounts_of(c: &Container, volumes: &[Volume]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let v = volumes.iter().find(|v| v.name == m.name).ok_or_else(|| {
            Error::invalid(format!("volumeMount {} names no volume of the pod", m.name))
        })?;
        let ro = if m.read_only == Some(true) { ":ro" } else { "" };
        if let Some(pvc) = &v.persistent_volume_claim {
            out.push(format!("{}:{}{ro}", pvc.claim_name, m.mount_path));
        } else if let Some(hp) = &v.host_path {
            out.push(format!("{}:{}{ro}", hp.path, m.mount_path));
        } else if v.empty_dir.is_some() {
            out.push(m.mount_path.clone());
        } else {
            return Err(Error::invalid(format!(
                "volume {}: berth supports persistentVolumeClaim, hostPath and emptyDir",
                v.name
            )));
        }
    }
    Ok(out)
}

/// `-p` values for the hostPorts of `spec`'s containers.
fn publish_of(spec: &PodSpec) -> Vec<String> {
    let mut out = Vec::new();
    for c in &spec.containers {
        for p in c.ports.iter().flatten() {
            if let Some(hp) = p.host_port {
                let ip = p
                    .host_ip
                    .as_deref()
                    .map(|i| format!("{i}:"))
                    .unwrap_or_default();
                let proto = p.protocol.as_deref().unwrap_or("TCP").to_lowercase();
                out.push(format!("{ip}{hp}:{}/{proto}", p.container_port));
            }
        }
    }
    out
}

fn create_options(
    pod: &str,
    c: &Container,
    spec: &PodSpec,
    maps: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<CreateOptions> {
    let image = c
        .image
        .clone()
        .ok_or_else(|| Error::invalid(format!("container {} has no image", c.name)))?;
    let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref());
    let memory = limits
        .and_then(|l| l.get("memory"))
        .map(|q| memory_bytes(&q.0).map(|b| b.to_string()))
        .transpose()?;
    let cpus = limits
        .and_then(|l| l.get("cpu"))
        .map(|q| cpus(&q.0))
        .transpose()?;
    Ok(CreateOptions {
        image,
        name: Some(format!("{pod}-{}", c.name)),
        entrypoint: c.command.clone(),
        command: c.args.clone().unwrap_or_default(),
        env: env_of(c, maps)?,
        workdir: c.working_dir.clone(),
        volumes: mounts_of(c, spec.volumes.as_deref().unwrap_or_default())?,
        memory,
        cpus,
        restart: Some(restart_word(spec.restart_policy.as_deref()).into()),
        pod: Some(pod.to_string()),
        interactive: c.stdin == Some(true),
        tty: c.tty == Some(true),
        ..Default::default()
    })
}

/// Play `yaml`: volumes for claims, then each pod with its containers,
/// started unless `no_start`. A pod that fails is removed again.
pub fn play(rt: &Runtime, yaml: &str, opts: &PlayOptions) -> Result<PlayReport> {
    let docs = documents(yaml)?;
    let mut report = PlayReport::default();
    let mut maps = BTreeMap::new();
    for d in &docs {
        match d["kind"].as_str().unwrap_or_default() {
            "ConfigMap" => {
                let m: ConfigMap = typed(d, "ConfigMap")?;
                let name = m.metadata.name.clone().unwrap_or_default();
                maps.insert(name, m.data.unwrap_or_default());
            }
            "PersistentVolumeClaim" => {
                let c: PersistentVolumeClaim = typed(d, "PersistentVolumeClaim")?;
                let name =
                    c.metadata.name.clone().ok_or_else(|| {
                        Error::invalid("a PersistentVolumeClaim needs metadata.name")
                    })?;
                rt.create_volume(&VolumeCreateOptions {
                    name: Some(name.clone()),
                    ignore_existing: true,
                    ..Default::default()
                })?;
                report.volumes.push(name);
            }
            "Pod" | "Deployment" => {}
            other => {
                return Err(Error::invalid(format!(
                    "kube play: unsupported kind {other:?}"
                )))
            }
        }
    }
    for (pod, spec) in pods_of(&docs)? {
        let publish = publish_of(&spec);
        let network = opts
            .network
            .clone()
            .or_else(|| (!publish.is_empty()).then(|| "bridge".into()));
        rt.create_pod(&PodCreateOptions {
            name: Some(pod.clone()),
            publish,
            network,
            infra: true,
            ..Default::default()
        })?;
        let made = (|| -> Result<Vec<String>> {
            let mut names = Vec::new();
            for c in &spec.containers {
                let o = create_options(&pod, c, &spec, &maps)?;
                names.push(rt.create_container(&o)?.id().to_string());
            }
            if !opts.no_start {
                rt.start_pod(&pod)?;
            }
            Ok(names)
        })();
        match made {
            Ok(ids) => report.pods.push((pod, ids)),
            Err(e) => {
                let _ = rt.remove_pod(&pod, true, Some(0));
                return Err(e.context(format!("playing pod {pod}")));
            }
        }
    }
    Ok(report)
}

/// `kube down`: remove the pods `yaml` describes (volumes stay, as in
/// Podman without `--force`). Returns the removed pods' names.
pub fn down(rt: &Runtime, yaml: &str) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for (pod, _) in pods_of(&documents(yaml)?)? {
        match rt.remove_pod(&pod, true, Some(0)) {
            Ok(_) => removed.push(pod),
            Err(e) if e.kind == berth_core::ErrorKind::NoSuchContainer => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(memory_bytes("128Mi").unwrap(), 128 << 20);
        assert_eq!(memory_bytes("1G").unwrap(), 1_000_000_000);
        assert_eq!(memory_bytes("4096").unwrap(), 4096);
        assert!(memory_bytes("x").is_err());
        assert_eq!(cpus("500m").unwrap(), 0.5);
        assert_eq!(cpus("2").unwrap(), 2.0);
    }

    #[test]
    fn deployment_replicas_become_pods() {
        let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: c, image: busybox}\n";
        let pods = pods_of(&documents(yaml).unwrap()).unwrap();
        let names: Vec<&str> = pods.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["web-pod", "web-pod-1", "web-pod-2"]);
    }
}
