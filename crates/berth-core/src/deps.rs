//! Container dependencies: `--requires` and the implicit one of a pod
//! member on its pod's infra container. `start` starts the dependencies
//! first in graph order (a cycle is refused), a container cannot be removed
//! while another depends on it, and `rm --depend` removes dependents first.

use crate::{Container, Runtime};
use berth_types::{ContainerConfig, ContainerRecord, Error, ErrorKind, Result};
use std::collections::HashSet;

/// Resolve `cfg.requires` (names as given) to full IDs.
pub(crate) fn resolve_requires(rt: &Runtime, cfg: &mut ContainerConfig) -> Result<()> {
    let mut ids = Vec::new();
    for r in cfg.requires.iter().flat_map(|r| r.split(',')) {
        let r = r.trim();
        if r.is_empty() {
            continue;
        }
        let id = rt
            .store
            .lookup(r)
            .map_err(|e| e.context(format!("container {} requires {r}", cfg.name)))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    cfg.requires = ids;
    Ok(())
}

/// The containers `rec` depends on: its `--requires` and, for a pod member,
/// the pod's infra container.
pub fn dependencies(rec: &ContainerRecord) -> Vec<String> {
    let mut deps = rec.config.requires.clone();
    if let Some(infra) = &rec.config.pod.infra_id {
        if !rec.config.pod.infra && !deps.contains(infra) {
            deps.push(infra.clone());
        }
    }
    deps
}

/// The containers that depend on container `id`, oldest first.
pub fn dependents(all: &[ContainerRecord], id: &str) -> Vec<String> {
    all.iter()
        .filter(|r| dependencies(r).iter().any(|d| d == id))
        .map(|r| r.config.id.clone())
        .collect()
}

/// `id`'s dependencies in start order (deepest first), `id` not included.
/// A cycle is an error naming the container where it closes.
pub fn start_order(all: &[ContainerRecord], id: &str) -> Result<Vec<String>> {
    fn visit(
        all: &[ContainerRecord],
        id: &str,
        path: &mut Vec<String>,
        done: &mut HashSet<String>,
        out: &mut Vec<String>,
    ) -> Result<()> {
        if done.contains(id) {
            return Ok(());
        }
        if path.iter().any(|p| p == id) {
            return Err(Error::invalid(format!(
                "dependency cycle: container {} requires itself through {}",
                name_of(all, id),
                path.iter()
                    .map(|p| name_of(all, p))
                    .collect::<Vec<_>>()
                    .join(" -> ")
            )));
        }
        let Some(rec) = all.iter().find(|r| r.config.id == id) else {
            return Err(Error::no_such_container(id));
        };
        path.push(id.to_string());
        for d in dependencies(rec) {
            visit(all, &d, path, done, out)?;
        }
        path.pop();
        done.insert(id.to_string());
        out.push(id.to_string());
        Ok(())
    }
    let mut out = Vec::new();
    visit(all, id, &mut Vec::new(), &mut HashSet::new(), &mut out)?;
    out.pop();
    Ok(out)
}

fn name_of(all: &[ContainerRecord], id: &str) -> String {
    all.iter()
        .find(|r| r.config.id == id)
        .map(|r| r.config.name.clone())
        .unwrap_or_else(|| id.to_string())
}

/// Start every dependency of container `id` that is not running, in graph
/// order (not `id` itself). Called without any lock held.
pub(crate) fn start_dependencies(rt: &Runtime, id: &str) -> Result<()> {
    let all = rt.store.list()?;
    let Some(rec) = all.iter().find(|r| r.config.id == id) else {
        return Ok(());
    };
    if dependencies(rec).is_empty() {
        return Ok(());
    }
    for dep in start_order(&all, id)? {
        crate::pod::ops::start_if_needed(rt, &dep).map_err(|e| {
            e.context(format!(
                "starting dependency {} of {}",
                name_of(&all, &dep),
                rec.config.name
            ))
        })?;
    }
    Ok(())
}

/// Start `id` after its dependencies (pod start).
pub(crate) fn start_with_dependencies(rt: &Runtime, id: &str) -> Result<()> {
    start_dependencies(rt, id)?;
    crate::pod::ops::start_if_needed(rt, id)
}

/// Refuse to remove container `id` while another container depends on it.
pub(crate) fn check_no_dependents(rt: &Runtime, id: &str) -> Result<()> {
    let all = rt.store.list()?;
    let deps = dependents(&all, id);
    if let Some(d) = deps.first() {
        return Err(Error::new(
            ErrorKind::InUse,
            format!(
                "container {} has dependent containers which must be removed before it: {}",
                name_of(&all, id),
                deps.iter()
                    .map(|d| name_of(&all, d))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with_subject(name_of(&all, d)));
    }
    Ok(())
}

/// Remove container `id` and, first, every container depending on it,
/// transitively (`rm --depend`; pod removal). Returns the removed IDs in
/// removal order.
pub fn remove_with_dependents(
    rt: &Runtime,
    id: &str,
    force: bool,
    timeout: Option<u64>,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    remove_rec(rt, id, force, timeout, &mut removed, &mut Vec::new())?;
    Ok(removed)
}

fn remove_rec(
    rt: &Runtime,
    id: &str,
    force: bool,
    timeout: Option<u64>,
    removed: &mut Vec<String>,
    path: &mut Vec<String>,
) -> Result<()> {
    if removed.iter().any(|r| r == id) || path.iter().any(|p| p == id) {
        return Ok(());
    }
    path.push(id.to_string());
    let all = rt.store.list()?;
    for d in dependents(&all, id) {
        remove_rec(rt, &d, force, timeout, removed, path)?;
    }
    path.pop();
    let cfg = rt.store.get(id).ok().map(|r| r.config);
    match Container::new(rt, id.to_string()).remove_unchecked(force, timeout) {
        Err(e) if e.kind == ErrorKind::NoSuchContainer => {}
        r => r?,
    }
    // Pod members' anonymous volumes (kube's emptyDir) go with them.
    if let Some(cfg) = cfg.filter(|c| c.pod.pod_id.is_some()) {
        crate::volumes::remove_anonymous(rt, &cfg)?;
    }
    removed.push(id.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, requires: &[&str]) -> ContainerRecord {
        let mut r: ContainerRecord = serde_json::from_value(serde_json::json!({
            "config": {
                "id": id, "name": format!("n{id}"), "image_id": "i", "image_name": "i",
                "created": "2024-01-01T00:00:00Z", "args": ["sh"], "entrypoint": [],
                "command": [], "env": [], "workdir": "/", "user": "", "hostname": "h",
                "read_only": false, "mounts": [], "resources": {}, "stop_signal": 15,
                "stop_timeout": 10, "labels": {}, "cap_add": [], "cap_drop": [],
                "privileged": false, "stdin": false, "tty": false, "auto_remove": false,
                "log_driver": "k8s-file", "runtime": "runc",
            },
            "state": serde_json::to_value(berth_types::RuntimeState::default()).unwrap(),
        }))
        .unwrap();
        r.config.requires = requires.iter().map(|s| s.to_string()).collect();
        r
    }

    #[test]
    fn graph_order_and_cycles() {
        let all = vec![rec("a", &[]), rec("b", &["a"]), rec("c", &["b", "a"])];
        assert_eq!(start_order(&all, "c").unwrap(), ["a", "b"]);
        assert_eq!(dependents(&all, "a"), ["b", "c"]);
        let cyc = vec![rec("a", &["c"]), rec("b", &["a"]), rec("c", &["b"])];
        let e = start_order(&cyc, "a").unwrap_err();
        assert!(e.message.contains("cycle"), "{}", e.message);
    }
}
