//! Lifecycle events: what `berth events` lists and streams.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One event, as stored (one JSON line each) and as `events --format json`
/// prints it (Podman's field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Full ID of the container or image.
    #[serde(rename = "ID")]
    pub id: String,
    /// Image name (for containers: the image they were created from).
    #[serde(rename = "Image", default)]
    pub image: String,
    /// Container name, or image name for image events.
    #[serde(rename = "Name", default)]
    pub name: String,
    /// What happened: `create`, `init`, `start`, `stop`, `kill`, `died`,
    /// `cleanup`, `remove`, `pause`, `unpause`, `rename`, `restart`,
    /// `health_status` (attribute `health_status` holds the status); for
    /// images `load`, `remove`, `untag`.
    #[serde(rename = "Status")]
    pub status: String,
    /// `container` or `image`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// When, RFC 3339 with nanoseconds.
    #[serde(rename = "Time")]
    pub time: String,
    /// The exit code, for `died`.
    #[serde(
        rename = "ContainerExitCode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exit_code: Option<i32>,
    /// Labels and other details.
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}
