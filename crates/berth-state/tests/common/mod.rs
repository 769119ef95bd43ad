//! Record builders shared by the integration tests.

#![allow(dead_code)] // each test binary uses a different subset

use berth_types::{ContainerConfig, ContainerRecord, Resources, RuntimeState};
use jiff::Timestamp;
use std::collections::BTreeMap;

/// A 64-hex ID starting with `prefix` (padded with `0`).
pub fn id(prefix: &str) -> String {
    assert!(prefix.len() <= 64);
    format!("{prefix}{}", "0".repeat(64 - prefix.len()))
}

/// A container `name` with ID `id(prefix)`, created `secs` after the epoch.
pub fn record(prefix: &str, name: &str, secs: i64) -> ContainerRecord {
    record_with_image(prefix, name, secs, "img1")
}

pub fn record_with_image(prefix: &str, name: &str, secs: i64, image: &str) -> ContainerRecord {
    ContainerRecord {
        config: ContainerConfig {
            id: id(prefix),
            name: name.to_string(),
            image_id: image.to_string(),
            image_name: "localhost/busybox:latest".to_string(),
            created: Timestamp::from_second(1_700_000_000 + secs).unwrap(),
            args: vec!["sh".into(), "-c".into(), "exit 3".into()],
            entrypoint: vec![],
            command: vec!["sh".into()],
            env: vec!["PATH=/bin".into(), "SECRET=x".into()],
            workdir: "/".into(),
            user: "0:0".into(),
            hostname: name.chars().take(12).collect(),
            read_only: false,
            mounts: vec![],
            resources: Resources::default(),
            stop_signal: 15,
            stop_timeout: 10,
            labels: BTreeMap::from([("a".to_string(), "b".to_string())]),
            cap_add: vec![],
            cap_drop: vec![],
            privileged: false,
            stdin: false,
            tty: false,
            console_size: None,
            auto_remove: false,
            log_driver: "k8s-file".into(),
            log_max_size: 0,
            log_max_file: 0,
            runtime: "runc".into(),
            healthcheck: None,
            restart_policy: Default::default(),
            net: Default::default(),
            pod: Default::default(),
            requires: vec![],
        },
        state: RuntimeState::default(),
    }
}
