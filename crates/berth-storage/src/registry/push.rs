//! Pushing a stored image: layer tars rebuilt from their tar-split,
//! gzip-compressed to `tmp/` while hashing, uploaded unless the registry
//! already has the blob; then the config and the manifest.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

use berth_types::{Error, Result};
use futures_util::{StreamExt, TryStreamExt};
use oci_client::manifest::{
    OciDescriptor, IMAGE_CONFIG_MEDIA_TYPE, IMAGE_DOCKER_CONFIG_MEDIA_TYPE,
    IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE, IMAGE_LAYER_GZIP_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

use super::client::{map_err, oci_ref, remote, Remote};
use super::conf::RegistriesConf;
use super::{ManifestFormat, Progress, ProgressFn, RegistryOptions};
use crate::load::TmpGuard;
use crate::reference::Reference;
use crate::tarsplit::LayerTar;
use crate::util::make_tmp_dir;
use crate::{ImageInfo, Store};

/// Layers compressed and uploaded at the same time.
const CONCURRENT_LAYERS: usize = 3;

/// Size of the reads that feed an upload.
const CHUNK: usize = 1 << 20;

pub(crate) fn push(
    store: &Store,
    image: &ImageInfo,
    r: &Reference,
    opts: &RegistryOptions,
    conf: &RegistriesConf,
    format: ManifestFormat,
    progress: ProgressFn<'_>,
) -> Result<String> {
    let remote = remote(r, opts, conf)?;
    let rt = super::runtime()?;
    let push = Push {
        store,
        remote: &remote,
        oref: oci_ref(r),
        name: r.to_string(),
        registry: r.domain.clone(),
        format,
        progress,
    };
    std::thread::scope(|scope| rt.block_on(push.run(scope, image)))
}

struct Push<'a> {
    store: &'a Store,
    remote: &'a Remote,
    oref: oci_client::Reference,
    name: String,
    registry: String,
    format: ManifestFormat,
    progress: ProgressFn<'a>,
}

/// Writes through to a file while hashing and counting.
struct HashingWriter {
    out: BufWriter<File>,
    hasher: Sha256,
    count: u64,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Store {
    /// The manifest stored with image `id` (pulled or loaded), if any.
    fn stored_manifest(&self, id: &str) -> Result<Option<String>> {
        self.conn()
            .query_row("SELECT manifest FROM images WHERE id = ?1", [id], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.db_err("reading manifest", e))
    }

    /// Rebuild layer `diff_id`'s tar, gzip it into `path`; return the
    /// compressed blob's (digest, size).
    fn compress_layer(&self, diff_id: &str, path: &std::path::Path) -> Result<(String, u64)> {
        let io_err = |e: io::Error| {
            crate::storage_err(
                format!("compressing layer {diff_id} to {}", path.display()),
                e,
            )
        };
        let mut tar = LayerTar::open(&self.layer_dir(diff_id), diff_id)?;
        let file = File::create(path).map_err(io_err)?;
        let w = HashingWriter {
            out: BufWriter::with_capacity(CHUNK, file),
            hasher: Sha256::new(),
            count: 0,
        };
        // Level 1: pushes are bound by compression speed, and the output is
        // the same bytes every time, so a second push finds its blobs.
        let mut gz = flate2::write::GzEncoder::new(w, flate2::Compression::fast());
        io::copy(&mut tar, &mut gz).map_err(io_err)?;
        let mut w = gz.finish().map_err(io_err)?;
        w.flush().map_err(io_err)?;
        Ok((
            format!("sha256:{}", hex::encode(w.hasher.finalize())),
            w.count,
        ))
    }
}

/// The layer descriptors of a stored manifest, when they describe exactly
/// these layers compressed (a pulled image): their blobs may already be
/// in the destination, and then nothing needs compressing.
fn reusable_layers(manifest: Option<&str>, image: &ImageInfo) -> Option<Vec<OciDescriptor>> {
    let m: serde_json::Value = serde_json::from_str(manifest?).ok()?;
    if m["config"]["digest"].as_str()? != format!("sha256:{}", image.id) {
        return None;
    }
    let layers: Vec<OciDescriptor> = serde_json::from_value(m["layers"].clone()).ok()?;
    let gzip =
        |t: &str| t == IMAGE_LAYER_GZIP_MEDIA_TYPE || t == IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE;
    (layers.len() == image.layers.len()
        && layers.iter().all(|l| {
            gzip(&l.media_type) && crate::util::parse_digest(&l.digest).is_ok() && l.size >= 0
        }))
    .then_some(layers)
}

impl<'a> Push<'a> {
    fn err(&self, what: &str, e: oci_client::errors::OciDistributionError) -> Error {
        map_err(e, what, &self.registry).with_subject(&self.name)
    }

    async fn exists(&self, digest: &str) -> Result<bool> {
        self.remote
            .client
            .blob_exists(&self.oref, digest)
            .await
            .map_err(|e| self.err(&format!("checking blob {digest}"), e))
    }

    async fn run<'s>(
        self,
        scope: &'s std::thread::Scope<'s, '_>,
        image: &ImageInfo,
    ) -> Result<String>
    where
        'a: 's,
    {
        self.remote
            .client
            .store_auth_if_needed(self.oref.resolve_registry(), &self.remote.auth)
            .await;
        let stored = self.store.stored_manifest(&image.id)?;
        let reuse = reusable_layers(stored.as_deref(), image);
        let layer_type = match self.format {
            ManifestFormat::Oci => IMAGE_LAYER_GZIP_MEDIA_TYPE,
            ManifestFormat::V2s2 => IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE,
        };
        let this = &self;
        let jobs = image.layers.iter().enumerate().map(|(i, diff)| {
            let candidate = reuse.as_ref().map(|l| l[i].clone());
            async move { this.layer(scope, diff, candidate, layer_type).await }
        });
        let layers: Vec<OciDescriptor> = futures_util::stream::iter(jobs)
            .buffered(CONCURRENT_LAYERS)
            .try_collect()
            .await?;

        let config_digest = format!("sha256:{}", image.id);
        if !self.exists(&config_digest).await? {
            self.remote
                .client
                .push_blob(
                    &self.oref,
                    image.config_json.clone().into_bytes(),
                    &config_digest,
                )
                .await
                .map_err(|e| self.err("writing config", e))?;
        }
        (self.progress)(Progress::Config {
            digest: &config_digest,
        });

        let (manifest_type, config_type) = match self.format {
            ManifestFormat::Oci => (OCI_IMAGE_MEDIA_TYPE, IMAGE_CONFIG_MEDIA_TYPE),
            ManifestFormat::V2s2 => (IMAGE_MANIFEST_MEDIA_TYPE, IMAGE_DOCKER_CONFIG_MEDIA_TYPE),
        };
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {
                "mediaType": config_type,
                "digest": config_digest,
                "size": image.config_json.len(),
            },
            "layers": layers.iter().map(|l| serde_json::json!({
                "mediaType": l.media_type,
                "digest": l.digest,
                "size": l.size,
            })).collect::<Vec<_>>(),
        });
        let bytes = serde_json::to_vec(&manifest)
            .map_err(|e| Error::internal(format!("encoding manifest: {e}")))?;
        let digest = format!("sha256:{}", crate::util::sha256_hex(&bytes));
        (self.progress)(Progress::WritingManifest);
        let content_type = reqwest::header::HeaderValue::from_static(manifest_type);
        self.remote
            .client
            .push_manifest_raw(&self.oref, bytes, content_type)
            .await
            .map_err(|e| self.err("writing manifest", e))?;
        Ok(digest)
    }

    /// Make layer `diff_id` present in the registry; return its descriptor.
    async fn layer<'s>(
        &self,
        scope: &'s std::thread::Scope<'s, '_>,
        diff_id: &str,
        candidate: Option<OciDescriptor>,
        media_type: &str,
    ) -> Result<OciDescriptor>
    where
        'a: 's,
    {
        if let Some(c) = candidate {
            if self.exists(&c.digest).await? {
                (self.progress)(Progress::BlobSkipped { digest: &c.digest });
                return Ok(OciDescriptor {
                    media_type: media_type.to_string(),
                    ..c
                });
            }
        }
        let tmp = make_tmp_dir(&self.store.root().join("tmp"))?;
        let guard = TmpGuard::new(tmp.clone());
        let path = tmp.join("blob.gz");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let store = self.store;
        let (diff, p) = (diff_id.to_string(), path.clone());
        scope.spawn(move || {
            let _ = tx.send(store.compress_layer(&diff, &p));
        });
        let (digest, size) = rx
            .await
            .map_err(|_| Error::internal(format!("layer {diff_id}: compression thread died")))??;
        let desc = OciDescriptor {
            media_type: media_type.to_string(),
            digest: digest.clone(),
            size: size as i64,
            ..Default::default()
        };
        if self.exists(&digest).await? {
            (self.progress)(Progress::BlobSkipped { digest: &digest });
            return Ok(desc);
        }
        (self.progress)(Progress::BlobStart {
            digest: &digest,
            size,
        });
        self.upload(&path, &digest, size).await?;
        drop(guard);
        (self.progress)(Progress::BlobDone { digest: &digest });
        Ok(desc)
    }

    /// Stream the file at `path` to the registry as blob `digest`.
    async fn upload(&self, path: &std::path::Path, digest: &str, size: u64) -> Result<()> {
        let file =
            File::open(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        // The body stream must be 'static; it reports bytes sent over a
        // channel that this task drains into the progress callback.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let body = futures_util::stream::unfold((file, tx), |(mut f, tx)| async move {
            let mut buf = vec![0u8; CHUNK];
            match f.read(&mut buf) {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    let _ = tx.send(n as u64);
                    Some((Ok(bytes::Bytes::from(buf)), (f, tx)))
                }
                Err(e) => Some((Err(e.into()), (f, tx))),
            }
        });
        let send = self
            .remote
            .client
            .push_blob_stream(&self.oref, body, digest, Some(size));
        let report = async {
            while let Some(n) = rx.recv().await {
                (self.progress)(Progress::BlobBytes { digest, n });
            }
        };
        let (res, ()) = futures_util::future::join(send, report).await;
        res.map_err(|e| self.err(&format!("writing blob {digest}"), e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_only_matching_compressed_layers() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let img = ImageInfo {
            id: "c".repeat(64),
            names: vec![],
            digest: d('f'),
            created: None,
            size: 0,
            layers: vec![d('1')],
            config_json: "{}".into(),
        };
        let m = serde_json::json!({"config": {"digest": d('c')}, "layers": [
            {"mediaType": IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE, "digest": d('a'), "size": 3}]})
        .to_string();
        assert_eq!(reusable_layers(Some(&m), &img).unwrap()[0].digest, d('a'));
        let plain = m.replace(
            IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE,
            "application/vnd.oci.image.layer.v1.tar",
        );
        assert!(reusable_layers(Some(&plain), &img).is_none());
        let other = m.replace(&d('c'), &d('e'));
        assert!(reusable_layers(Some(&other), &img).is_none());
        assert!(reusable_layers(None, &img).is_none());
    }
}
