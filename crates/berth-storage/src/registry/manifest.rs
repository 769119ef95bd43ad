//! Manifests as fetched: parsed from the raw bytes (kept for the digest),
//! checked before anything they name is fetched, and an index resolved to
//! this machine's linux platform.

use berth_types::{Error, ErrorKind, Result};
use oci_client::manifest::{
    OciDescriptor, OciImageIndex, OciImageManifest, IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE,
    IMAGE_DOCKER_LAYER_TAR_MEDIA_TYPE, IMAGE_LAYER_GZIP_MEDIA_TYPE, IMAGE_LAYER_MEDIA_TYPE,
    IMAGE_LAYER_NONDISTRIBUTABLE_GZIP_MEDIA_TYPE, IMAGE_LAYER_NONDISTRIBUTABLE_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};

use crate::util::parse_digest;

/// Manifest types berth asks for, image manifests first.
pub(crate) const MANIFEST_TYPES: &[&str] = &[
    OCI_IMAGE_MEDIA_TYPE,
    IMAGE_MANIFEST_MEDIA_TYPE,
    OCI_IMAGE_INDEX_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
];

/// Cap on a config blob (they are a few KiB).
const MAX_CONFIG_BYTES: i64 = 32 << 20;

/// What the manifest bytes turned out to be.
pub(crate) enum Fetched {
    Image(Box<OciImageManifest>),
    Index(OciImageIndex),
}

/// The one place that says what a malformed manifest/config error looks like.
pub(crate) fn malformed(name: &str, what: &str) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("{name}: {what}")).with_subject(name)
}

pub(crate) fn parse_manifest(name: &str, bytes: &[u8]) -> Result<Fetched> {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| malformed(name, &format!("malformed manifest: {e}")))?;
    if v["schemaVersion"].as_i64() != Some(2) {
        return Err(malformed(
            name,
            &format!(
                "unsupported manifest schema version {} (only 2 is supported)",
                v["schemaVersion"]
            ),
        ));
    }
    let media = v["mediaType"].as_str().unwrap_or("");
    let is_index = media == OCI_IMAGE_INDEX_MEDIA_TYPE
        || media == IMAGE_MANIFEST_LIST_MEDIA_TYPE
        || (media.is_empty() && v.get("manifests").is_some());
    let bad = |e: serde_json::Error| malformed(name, &format!("malformed manifest: {e}"));
    if is_index {
        return Ok(Fetched::Index(serde_json::from_value(v).map_err(bad)?));
    }
    if !(media.is_empty() || media == OCI_IMAGE_MEDIA_TYPE || media == IMAGE_MANIFEST_MEDIA_TYPE) {
        return Err(malformed(
            name,
            &format!("unsupported manifest media type {media:?}"),
        ));
    }
    let m: OciImageManifest = serde_json::from_value(v).map_err(bad)?;
    check_descriptor(name, "config", &m.config)?;
    if m.config.size > MAX_CONFIG_BYTES {
        return Err(malformed(
            name,
            &format!("config blob of {} bytes is too large", m.config.size),
        ));
    }
    for l in &m.layers {
        check_descriptor(name, "layer", l)?;
        let ok = [
            IMAGE_LAYER_MEDIA_TYPE,
            IMAGE_LAYER_GZIP_MEDIA_TYPE,
            IMAGE_DOCKER_LAYER_TAR_MEDIA_TYPE,
            IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE,
            IMAGE_LAYER_NONDISTRIBUTABLE_MEDIA_TYPE,
            IMAGE_LAYER_NONDISTRIBUTABLE_GZIP_MEDIA_TYPE,
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        ];
        if !ok.contains(&l.media_type.as_str()) {
            return Err(malformed(
                name,
                &format!("unsupported layer media type {:?}", l.media_type),
            ));
        }
    }
    Ok(Fetched::Image(Box::new(m)))
}

/// Digests become file names and sizes bound downloads: check both.
fn check_descriptor(name: &str, what: &str, d: &OciDescriptor) -> Result<()> {
    parse_digest(&d.digest).map_err(|e| malformed(name, &format!("manifest {what}: {e}")))?;
    if d.size < 0 {
        return Err(malformed(
            name,
            &format!("manifest {what} {} has a negative size", d.digest),
        ));
    }
    Ok(())
}

/// The OCI architecture name of this machine.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Pick linux/<host arch> from an index.
pub(crate) fn choose(name: &str, index: &OciImageIndex) -> Result<String> {
    let arch = host_arch();
    index
        .manifests
        .iter()
        .find(|m| {
            m.platform
                .as_ref()
                .is_some_and(|p| p.os.to_string() == "linux" && p.architecture.to_string() == arch)
        })
        .map(|m| m.digest.clone())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NoSuchImage,
                format!("{name}: no image for linux/{arch} in the manifest list"),
            )
            .with_subject(name)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_picks_linux_of_this_arch_and_bad_manifests_are_refused() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [
            {"mediaType": OCI_IMAGE_MEDIA_TYPE, "digest": d('a'), "size": 1,
             "platform": {"os": "linux", "architecture": "s390x"}},
            {"mediaType": OCI_IMAGE_MEDIA_TYPE, "digest": d('b'), "size": 1,
             "platform": {"os": "linux", "architecture": host_arch()}}]});
        match parse_manifest("x", index.to_string().as_bytes()).unwrap() {
            Fetched::Index(i) => assert_eq!(choose("x", &i).unwrap(), d('b')),
            Fetched::Image(_) => panic!("an index parsed as an image"),
        }
        let image = |digest: &str, media: &str| {
            serde_json::json!({"schemaVersion": 2, "mediaType": IMAGE_MANIFEST_MEDIA_TYPE,
                "config": {"mediaType": "c", "digest": d('c'), "size": 2},
                "layers": [{"mediaType": media, "digest": digest, "size": 3}]})
            .to_string()
        };
        assert!(matches!(
            parse_manifest(
                "x",
                image(&d('e'), IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE).as_bytes()
            ),
            Ok(Fetched::Image(_))
        ));
        for bad in [
            image("sha256:../../x", IMAGE_LAYER_GZIP_MEDIA_TYPE),
            image(&d('e'), "application/vnd.oci.image.layer.v1.tar+zstd"),
            r#"{"schemaVersion": 1}"#.to_string(),
            "[".to_string(),
        ] {
            let e = parse_manifest("x", bad.as_bytes()).err().expect(&bad);
            assert_eq!(e.kind, ErrorKind::InvalidInput, "{bad}");
        }
    }
}
