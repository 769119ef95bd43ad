//! Pods: a record in the state database (`pods` table) and an infra
//! container running berth's own pause program (`berth-pause`, copied into
//! the pod's pause image) whose network, IPC and UTS namespaces the members
//! join. Ports are published on the infra container through the ordinary
//! network module, so members reach them and each other over 127.0.0.1.
//!
//! Lock order: a pod's lock (a `berth-lock` lock keyed by the pod ID) is
//! taken before any of its containers' locks, never after one.

mod infra;
pub(crate) mod ops;

pub use ops::{PodStatus, PodSummary};

use crate::{CreateOptions, Runtime};
use berth_types::net::{NetConfig, NetMode};
use berth_types::pod::{PodMember, PodRecord};
use berth_types::{ContainerConfig, ContainerRecord, Error, Result};
use oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType, Spec};
use std::collections::BTreeMap;

/// The namespaces `--share` may name; all three by default (Podman's
/// default also shares cgroup, which berth does not split per pod).
pub const SHAREABLE: [&str; 3] = ["ipc", "net", "uts"];

/// What `pod create` is asked to make.
#[derive(Debug, Clone, Default)]
pub struct PodCreateOptions {
    /// `--name`; random when absent.
    pub name: Option<String>,
    /// `-p`: published on the infra container.
    pub publish: Vec<String>,
    /// `--network`; `bridge` when ports are published, else berth's
    /// default (`none`: loopback only, shared by the members).
    pub network: Option<String>,
    /// `--infra` (default true).
    pub infra: bool,
    /// `--label key=value`.
    pub labels: Vec<String>,
    /// `--share net,ipc,uts`.
    pub share: Option<String>,
    /// `--hostname` (the pod's name by default).
    pub hostname: Option<String>,
}

fn parse_share(s: Option<&str>) -> Result<Vec<String>> {
    let Some(s) = s else {
        return Ok(SHAREABLE.iter().map(|s| s.to_string()).collect());
    };
    let mut out = Vec::new();
    for k in s.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        if !SHAREABLE.contains(&k) {
            return Err(Error::invalid(format!(
                "invalid --share {k:?}: berth pods share ipc, net and uts"
            )));
        }
        out.push(k.to_string());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>> {
    labels
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            if k.is_empty() {
                return Err(Error::invalid(format!("invalid label {l:?}")));
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

impl Runtime {
    /// Create a pod (and its infra container unless `--infra=false`).
    /// Nothing is started.
    pub fn create_pod(&self, opts: &PodCreateOptions) -> Result<PodRecord> {
        let name = match &opts.name {
            Some(n) => n.clone(),
            None => crate::names::random_name(),
        };
        let share = parse_share(opts.share.as_deref())?;
        if !opts.infra && !opts.publish.is_empty() {
            return Err(Error::invalid(
                "a pod without an infra container cannot publish ports",
            ));
        }
        let mut pod = PodRecord {
            id: crate::names::random_id(),
            hostname: opts.hostname.clone().unwrap_or_else(|| name.clone()),
            name,
            created: jiff::Timestamp::now(),
            labels: parse_labels(&opts.labels)?,
            infra_id: None,
            share,
        };
        self.store.add_pod(&pod)?;
        if opts.infra {
            match infra::create_infra(self, &pod, opts) {
                Ok(id) => {
                    pod.infra_id = Some(id);
                    if let Err(e) = self.store.save_pod(&pod) {
                        let _ = self.remove_pod(&pod.id, true, Some(0));
                        return Err(e);
                    }
                }
                Err(e) => {
                    let _ = self.store.remove_pod(&pod.id);
                    return Err(e.with_subject(pod.name.clone()));
                }
            }
        }
        Ok(pod)
    }

    /// The pod named or identified by `name_or_id`.
    pub fn pod(&self, name_or_id: &str) -> Result<PodRecord> {
        let id = self.store.lookup_pod(name_or_id)?;
        self.store.get_pod(&id)
    }

    /// Every pod, oldest first.
    pub fn pods(&self) -> Result<Vec<PodRecord>> {
        self.store.list_pods()
    }

    /// The containers of pod `pod_id`, oldest first (the infra first).
    pub fn pod_containers(&self, pod_id: &str) -> Result<Vec<ContainerRecord>> {
        Ok(self
            .store
            .list()?
            .into_iter()
            .filter(|r| r.config.pod.pod_id.as_deref() == Some(pod_id))
            .collect())
    }
}

/// `create --pod NAME|new:NAME`: make `cfg` a member of the pod (created
/// first for `new:`, with the container's `--network`/`-p`). Members of a
/// pod sharing `net` have no networking of their own: they join the infra
/// container's namespace, and ports are the pod's.
pub(crate) fn join_pod(
    rt: &Runtime,
    opts: &CreateOptions,
    cfg: &mut ContainerConfig,
) -> Result<()> {
    let Some(spec) = opts.pod.as_deref() else {
        return Ok(());
    };
    let own_net = opts.net.network.is_some() || !opts.net.publish.is_empty();
    let pod = match spec.strip_prefix("new:") {
        Some(name) => rt.create_pod(&PodCreateOptions {
            name: Some(name.to_string()),
            publish: opts.net.publish.clone(),
            network: opts.net.network.clone(),
            infra: true,
            ..Default::default()
        })?,
        None => {
            let pod = rt.pod(spec)?;
            if own_net && pod.shares("net") {
                return Err(Error::invalid(format!(
                    "container {} joins pod {}'s network: publish ports and choose networks on the pod",
                    cfg.name, pod.name
                )));
            }
            pod
        }
    };
    if let Some(infra) = pod.infra_id.as_ref().filter(|_| pod.shares("net")) {
        cfg.net = NetConfig {
            mode: NetMode::Container(infra.clone()),
            ..Default::default()
        };
    }
    if pod.shares("uts") && opts.hostname.is_none() {
        cfg.hostname = pod.hostname.clone();
    }
    cfg.pod = PodMember {
        infra_id: pod.infra_id.clone(),
        pod_id: Some(pod.id),
        infra: false,
    };
    Ok(())
}

/// Point the spec's IPC and UTS namespaces at the infra container's when
/// `rec` is a pod member sharing them (the network namespace is joined by
/// the network module: members are `--network container:INFRA`).
pub(crate) fn apply_joins(rt: &Runtime, rec: &ContainerRecord, spec: &mut Spec) -> Result<()> {
    let Some(pod_id) = rec.config.pod.pod_id.as_deref() else {
        return Ok(());
    };
    if rec.config.pod.infra {
        return Ok(());
    }
    let pod = rt.store.get_pod(pod_id)?;
    let Some(infra_id) = &pod.infra_id else {
        return Ok(());
    };
    let kinds: Vec<(LinuxNamespaceType, &str)> = [
        (LinuxNamespaceType::Ipc, "ipc"),
        (LinuxNamespaceType::Uts, "uts"),
    ]
    .into_iter()
    .filter(|(_, k)| pod.shares(k))
    .collect();
    if kinds.is_empty() {
        return Ok(());
    }
    let infra = rt.store.get(infra_id)?;
    if infra.state.pid <= 0 || !infra.state.state.is_active() {
        return Err(
            Error::invalid(format!("pod {}'s infra container is not running", pod.name))
                .with_subject(&rec.config.name),
        );
    }
    let Some(linux) = spec.linux_mut() else {
        return Ok(());
    };
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    for (typ, word) in kinds {
        let path = format!("/proc/{}/ns/{word}", infra.state.pid);
        namespaces.retain(|n| n.typ() != typ);
        namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(typ)
                .path(path)
                .build()
                .map_err(|e| Error::internal(e.to_string()))?,
        );
    }
    linux.set_namespaces(Some(namespaces));
    Ok(())
}
