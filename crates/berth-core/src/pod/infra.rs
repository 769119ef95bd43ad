//! The infra container: berth's pause image and the container made from it.

use super::PodCreateOptions;
use crate::{CreateOptions, NetOptions, Runtime};
use berth_types::pod::{PodMember, PodRecord};
use berth_types::{ErrorKind, Result};

/// The image infra containers run: one layer holding `/berth-pause`
/// (berth's own static pause program), built locally on first use.
pub const PAUSE_IMAGE: &str = "localhost/berth-pause:latest";

/// Where the pause program sits in the infra container.
const PAUSE_PATH: &str = "/berth-pause";

/// The pause image, built now if it is missing. Concurrent `pod create`s
/// build it once (a named lock).
fn ensure_pause_image(rt: &Runtime) -> Result<()> {
    match rt.lookup_image(PAUSE_IMAGE) {
        Ok(_) => return Ok(()),
        Err(e) if e.kind != ErrorKind::NoSuchImage => return Err(e),
        Err(_) => {}
    }
    let _guard = rt.locks.lock_named("pause-image")?;
    if rt.lookup_image(PAUSE_IMAGE).is_ok() {
        return Ok(());
    }
    let mut layer = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(berth_pause::PAUSE_BINARY.len() as u64);
    header.set_mode(0o755);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    layer
        .append_data(&mut header, &PAUSE_PATH[1..], berth_pause::PAUSE_BINARY)
        .map_err(|e| berth_types::Error::io("building the pause layer", e))?;
    let bytes = layer
        .into_inner()
        .map_err(|e| berth_types::Error::io("building the pause layer", e))?;
    let store = rt.images()?;
    let _staging = store.staging()?;
    let (diff, size) = store.store_layer(&bytes[..], "berth-pause")?;
    let created = jiff::Timestamp::now().to_string();
    let config = serde_json::json!({
        "created": created, "architecture": "amd64", "os": "linux",
        "config": {"Cmd": [PAUSE_PATH], "StopSignal": "SIGTERM"},
        "rootfs": {"type": "layers", "diff_ids": [diff]},
        "history": [{"created": created, "created_by": "berth pause image"}],
    });
    store.create_image(
        &serde_json::to_vec(&config)?,
        &[PAUSE_IMAGE.to_string()],
        &[(diff, size)],
    )?;
    Ok(())
}

/// Create pod `pod`'s infra container; returns its ID.
pub(super) fn create_infra(
    rt: &Runtime,
    pod: &PodRecord,
    opts: &PodCreateOptions,
) -> Result<String> {
    ensure_pause_image(rt)?;
    // Publishing needs a bridge; without ports the pod gets berth's default
    // (a private loopback-only namespace the members share).
    let network = opts
        .network
        .clone()
        .or_else(|| (!opts.publish.is_empty()).then(|| "bridge".to_string()));
    // (`pod.shares` is false until the infra ID is recorded.)
    let share_net = pod.share.iter().any(|s| s == "net");
    let create = CreateOptions {
        image: PAUSE_IMAGE.into(),
        name: Some(format!("{}-infra", &pod.id[..12])),
        command: vec![PAUSE_PATH.into()],
        hostname: Some(pod.hostname.clone()),
        net: NetOptions {
            network: if share_net { network } else { None },
            publish: if share_net {
                opts.publish.clone()
            } else {
                Vec::new()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let ctr = rt.create_container(&create)?;
    let id = ctr.id().to_string();
    let mut rec = rt.store.get(&id)?;
    rec.config.pod = PodMember {
        pod_id: Some(pod.id.clone()),
        infra_id: None,
        infra: true,
    };
    if let Err(e) = rt.store.save_config(&id, &rec.config) {
        let _ = ctr.remove(true, Some(0));
        return Err(e);
    }
    Ok(id)
}
