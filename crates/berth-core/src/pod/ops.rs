//! Pod lifecycle: start (infra first), stop (members first), kill, pause,
//! restart, rm, prune, and the status derived from the containers.

use crate::{Container, Runtime};
use berth_types::pod::PodRecord;
use berth_types::{ContainerRecord, ContainerState, Error, ErrorKind, Result};

/// A pod's status, derived from its containers' states (Podman's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodStatus {
    /// No container has run yet.
    Created,
    /// Every container runs.
    Running,
    /// Some run, some do not.
    Degraded,
    /// Every container is paused.
    Paused,
    /// None runs (some have stopped or exited).
    Exited,
}

impl PodStatus {
    /// Podman's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            PodStatus::Created => "Created",
            PodStatus::Running => "Running",
            PodStatus::Degraded => "Degraded",
            PodStatus::Paused => "Paused",
            PodStatus::Exited => "Exited",
        }
    }

    /// The status of a pod whose containers are in `states`.
    pub fn of(states: &[ContainerState]) -> PodStatus {
        use ContainerState as S;
        let running = states
            .iter()
            .filter(|s| matches!(s, S::Running | S::Stopping))
            .count();
        let paused = states.iter().filter(|s| **s == S::Paused).count();
        let ended = states
            .iter()
            .filter(|s| matches!(s, S::Stopped | S::Exited))
            .count();
        match () {
            _ if states.is_empty() => PodStatus::Created,
            _ if paused == states.len() => PodStatus::Paused,
            _ if running + paused == states.len() => PodStatus::Running,
            _ if running + paused > 0 => PodStatus::Degraded,
            _ if ended > 0 => PodStatus::Exited,
            _ => PodStatus::Created,
        }
    }
}

/// A pod with its containers (synced) and status.
#[derive(Debug, Clone)]
pub struct PodSummary {
    /// The record.
    pub pod: PodRecord,
    /// Its containers, oldest first.
    pub containers: Vec<ContainerRecord>,
    /// Derived status.
    pub status: PodStatus,
}

impl Runtime {
    /// Pod `pod_id` with its containers synced.
    pub fn pod_summary(&self, pod: PodRecord) -> Result<PodSummary> {
        let containers: Vec<ContainerRecord> = self
            .containers()?
            .into_iter()
            .filter(|r| r.config.pod.pod_id.as_deref() == Some(pod.id.as_str()))
            .collect();
        let states: Vec<ContainerState> = containers.iter().map(|c| c.state.state).collect();
        Ok(PodSummary {
            status: PodStatus::of(&states),
            pod,
            containers,
        })
    }

    /// (infra, members) IDs of pod `pod`, members oldest first.
    fn pod_parts(&self, pod: &PodRecord) -> Result<(Option<String>, Vec<String>)> {
        let members = self
            .pod_containers(&pod.id)?
            .into_iter()
            .filter(|r| !r.config.pod.infra)
            .map(|r| r.config.id)
            .collect();
        Ok((pod.infra_id.clone(), members))
    }

    /// Start pod `name`: the infra container, then every member (each after
    /// its own dependencies). Returns the pod.
    pub fn start_pod(&self, name: &str) -> Result<PodRecord> {
        let pod = self.pod(name)?;
        let _g = self.locks.lock(&pod.id)?;
        let (infra, members) = self.pod_parts(&pod)?;
        if let Some(i) = &infra {
            start_if_needed(self, i)?;
        }
        for m in &members {
            crate::deps::start_with_dependencies(self, m)?;
        }
        Ok(pod)
    }

    /// Stop pod `name`: members first, then the infra container.
    pub fn stop_pod(&self, name: &str, timeout: Option<u64>) -> Result<PodRecord> {
        let pod = self.pod(name)?;
        let _g = self.locks.lock(&pod.id)?;
        let (infra, members) = self.pod_parts(&pod)?;
        for id in members.iter().chain(infra.iter()) {
            let c = Container::new(self, id.clone());
            let r = match timeout {
                Some(t) => c.stop_with_timeout(t),
                None => c.stop(),
            };
            ignore_benign(r)?;
        }
        Ok(pod)
    }

    /// Send `signal` to every running container of pod `name`.
    pub fn kill_pod(&self, name: &str, signal: i32) -> Result<PodRecord> {
        let pod = self.pod(name)?;
        let (infra, members) = self.pod_parts(&pod)?;
        for id in members.iter().chain(infra.iter()) {
            let c = Container::new(self, id.clone());
            if c.inspect_record()?.state.state.is_active() {
                ignore_benign(c.kill(signal))?;
            }
        }
        Ok(pod)
    }

    /// Stop, then start pod `name`.
    pub fn restart_pod(&self, name: &str) -> Result<PodRecord> {
        self.stop_pod(name, None)?;
        self.start_pod(name)
    }

    /// Freeze (`pause = true`) or thaw every container of pod `name`.
    pub fn pause_pod(&self, name: &str, pause: bool) -> Result<PodRecord> {
        let pod = self.pod(name)?;
        let (infra, members) = self.pod_parts(&pod)?;
        for id in members.iter().chain(infra.iter()) {
            let c = Container::new(self, id.clone());
            let state = c.inspect_record()?.state.state;
            if pause && state == ContainerState::Running {
                c.pause()?;
            } else if !pause && state == ContainerState::Paused {
                c.unpause()?;
            }
        }
        Ok(pod)
    }

    /// Remove pod `name_or_id` and its containers (members first, then the
    /// infra). Without `force` a pod with a running container is refused.
    pub fn remove_pod(
        &self,
        name_or_id: &str,
        force: bool,
        timeout: Option<u64>,
    ) -> Result<PodRecord> {
        let pod = self.pod(name_or_id)?;
        let guard = self.locks.lock(&pod.id)?;
        let summary = self.pod_summary(pod.clone())?;
        if !force {
            if let Some(c) = summary
                .containers
                .iter()
                .find(|c| c.state.state.is_active())
            {
                return Err(Error::new(
                    ErrorKind::InUse,
                    format!(
                        "pod {} has running container {}: stop it first or use --force",
                        pod.name, c.config.name
                    ),
                )
                .with_subject(&pod.name));
            }
        }
        let (infra, members) = self.pod_parts(&pod)?;
        // Members (and containers outside the pod that require them) go
        // first; the infra container last.
        for id in members.iter().chain(infra.iter()) {
            match crate::deps::remove_with_dependents(self, id, force, timeout) {
                Err(e) if e.kind == ErrorKind::NoSuchContainer => {}
                r => drop(r?),
            }
        }
        self.store.remove_pod(&pod.id)?;
        let _ = self.locks.remove(guard);
        Ok(pod)
    }

    /// Remove every pod none of whose containers is running.
    pub fn prune_pods(&self) -> Result<Vec<PodRecord>> {
        let mut removed = Vec::new();
        for pod in self.pods()? {
            let s = self.pod_summary(pod)?;
            if !s.containers.iter().any(|c| c.state.state.is_active()) {
                match self.remove_pod(&s.pod.id, false, None) {
                    Ok(p) => removed.push(p),
                    Err(e) if e.kind == ErrorKind::NoSuchContainer => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }
}

/// Start container `id` unless it is already running.
pub(crate) fn start_if_needed(rt: &Runtime, id: &str) -> Result<()> {
    let c = Container::new(rt, id.to_string());
    match c.inspect_record()?.state.state {
        ContainerState::Running | ContainerState::Paused | ContainerState::Stopping => Ok(()),
        _ => c.start(),
    }
}

/// Stopping something already stopped, or gone, is fine for a pod.
fn ignore_benign(r: Result<()>) -> Result<()> {
    match r {
        Err(e)
            if matches!(
                e.kind,
                ErrorKind::NoSuchContainer | ErrorKind::StateImproper { .. }
            ) =>
        {
            Ok(())
        }
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContainerState as S;

    #[test]
    fn status_words() {
        assert_eq!(PodStatus::of(&[]), PodStatus::Created);
        assert_eq!(
            PodStatus::of(&[S::Created, S::Configured]),
            PodStatus::Created
        );
        assert_eq!(PodStatus::of(&[S::Running, S::Running]), PodStatus::Running);
        assert_eq!(PodStatus::of(&[S::Running, S::Exited]), PodStatus::Degraded);
        assert_eq!(PodStatus::of(&[S::Paused, S::Paused]), PodStatus::Paused);
        assert_eq!(PodStatus::of(&[S::Stopped, S::Exited]), PodStatus::Exited);
        assert_eq!(PodStatus::of(&[S::Exited, S::Created]), PodStatus::Exited);
    }
}
