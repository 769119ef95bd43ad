//! `kube play`, `kube down` and `generate kube`: Kubernetes YAML read and
//! written with `k8s-openapi` types (YAML through `serde_norway`), mapped
//! onto berth pods. Podman's conventions: a Pod becomes a berth pod of the
//! same name whose members are named `POD-CONTAINER`; a Deployment with N
//! replicas becomes N pods (`NAME-pod`, then `NAME-pod-1`...); a
//! PersistentVolumeClaim becomes a named volume; ConfigMaps feed `env`
//! (`valueFrom.configMapKeyRef`) and `envFrom`; `hostPort`s are published
//! on the pod.

#![warn(missing_docs)]

mod generate;
mod play;

pub use generate::generate;
pub use play::{down, play, PlayOptions, PlayReport};

use berth_core::{Error, Result};
use serde::Deserialize;

/// The documents of a multi-document YAML stream, as JSON values.
pub(crate) fn documents(yaml: &str) -> Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(yaml) {
        let v = serde_json::Value::deserialize(doc)
            .map_err(|e| Error::invalid(format!("invalid Kubernetes YAML: {e}")))?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// One typed document of `kind` from its JSON value.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    v: &serde_json::Value,
    kind: &str,
) -> Result<T> {
    serde_json::from_value(v.clone())
        .map_err(|e| Error::invalid(format!("invalid Kubernetes {kind}: {e}")))
}
