//! Pod records (`pods` table, schema v6): the errors and lookup rules both
//! stores share. A pod's name is unique among pods; its members are
//! containers whose configuration names the pod.

use berth_types::pod::PodRecord;
use berth_types::{Error, ErrorKind, Result};

/// The error for a pod that does not exist (exit 125 as in Podman).
pub fn no_such_pod(name: &str) -> Error {
    Error::new(
        ErrorKind::NoSuchContainer,
        format!("no pod with name or ID {name} found: no such pod"),
    )
    .with_subject(name)
}

/// The error for a pod name already taken.
pub fn pod_exists(name: &str) -> Error {
    Error::new(
        ErrorKind::NameInUse,
        format!("pod {name} already exists: pod already exists"),
    )
    .with_subject(name)
}

/// Checks before a pod is stored.
pub(crate) fn validate_pod(pod: &PodRecord) -> Result<()> {
    if !berth_types::id::is_full_id(&pod.id) {
        return Err(Error::invalid(format!(
            "invalid pod ID {:?}: must be 64 lowercase hex digits",
            pod.id
        )));
    }
    berth_types::id::validate_name(&pod.name)
}

/// Resolve a pod name, ID or unique ID prefix among `pods` (the container
/// rules of [`crate::resolve`], with pod wording).
pub(crate) fn lookup_pod(input: &str, pods: &[PodRecord]) -> Result<String> {
    crate::resolve(input, pods.iter().map(|p| (&p.id, &p.name))).map_err(|e| match e.kind {
        ErrorKind::NoSuchContainer => no_such_pod(input),
        _ => e,
    })
}
