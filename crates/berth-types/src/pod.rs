//! Pods: groups of containers sharing namespaces with an infra container.
//! The record is fixed at `pod create`; a pod's status is derived from its
//! containers' states (see `berth-core`'s `pod` module).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One pod as stored in the state database (`pods` table, schema v6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodRecord {
    /// 64 lowercase hex digits.
    pub id: String,
    /// Unique pod name.
    pub name: String,
    /// When the pod was created.
    pub created: Timestamp,
    /// `--label key=value`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The infra container's ID (`None` with `--infra=false`).
    #[serde(default)]
    pub infra_id: Option<String>,
    /// Namespaces members share with the infra container (`net`, `ipc`,
    /// `uts`), from `--share`.
    #[serde(default)]
    pub share: Vec<String>,
    /// Host name of the pod's UTS namespace.
    #[serde(default)]
    pub hostname: String,
}

impl PodRecord {
    /// True when members join the infra container's `kind` namespace.
    pub fn shares(&self, kind: &str) -> bool {
        self.infra_id.is_some() && self.share.iter().any(|s| s == kind)
    }
}

/// A container's place in a pod, part of its configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodMember {
    /// The pod's ID; `None` for a container outside any pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_id: Option<String>,
    /// The pod's infra container, an implicit dependency of members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infra_id: Option<String>,
    /// This is the pod's infra container.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub infra: bool,
}
