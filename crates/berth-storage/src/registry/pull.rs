//! Pulling one fully qualified reference into the store.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};

use berth_types::{Error, ErrorKind, Result};
use futures_util::{StreamExt, TryStreamExt};
use oci_client::errors::DigestError;
use oci_client::manifest::{
    OciDescriptor, OciImageIndex, OciImageManifest, IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE,
    IMAGE_DOCKER_LAYER_TAR_MEDIA_TYPE, IMAGE_LAYER_GZIP_MEDIA_TYPE, IMAGE_LAYER_MEDIA_TYPE,
    IMAGE_LAYER_NONDISTRIBUTABLE_GZIP_MEDIA_TYPE, IMAGE_LAYER_NONDISTRIBUTABLE_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};

use super::client::{map_err, remote, Remote};
use super::conf::RegistriesConf;
use super::{Progress, ProgressFn, RegistryOptions};
use crate::load::{Staged, TmpGuard};
use crate::reference::Reference;
use crate::util::{make_tmp_dir, parse_digest, sha256_hex};
use crate::{ImageInfo, Store};

/// Manifest types berth asks for, image manifests first.
const MANIFEST_TYPES: &[&str] = &[
    OCI_IMAGE_MEDIA_TYPE,
    IMAGE_MANIFEST_MEDIA_TYPE,
    OCI_IMAGE_INDEX_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
];

/// Layer blobs fetched (and extracted) at the same time.
const CONCURRENT_LAYERS: usize = 3;

/// Cap on a config blob (they are a few KiB).
const MAX_CONFIG_BYTES: i64 = 32 << 20;

/// What the manifest bytes turned out to be.
enum Fetched {
    Image(Box<OciImageManifest>),
    Index(OciImageIndex),
}

/// The one place that says what a malformed manifest/config error looks like.
fn malformed(name: &str, what: &str) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("{name}: {what}")).with_subject(name)
}

fn parse_manifest(name: &str, bytes: &[u8]) -> Result<Fetched> {
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
fn choose(name: &str, index: &OciImageIndex) -> Result<String> {
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

/// Pull `r` into `store`.
pub(crate) fn pull_one(
    store: &Store,
    r: &Reference,
    opts: &RegistryOptions,
    conf: &RegistriesConf,
    progress: ProgressFn<'_>,
) -> Result<ImageInfo> {
    let remote = remote(r, opts, conf)?;
    let rt = super::runtime()?;
    std::thread::scope(|scope| {
        rt.block_on(
            Pull {
                store,
                remote: &remote,
                r,
                oref: super::client::oci_ref(r),
                name: r.to_string(),
                progress,
            }
            .run(scope),
        )
    })
}

struct Pull<'a> {
    store: &'a Store,
    remote: &'a Remote,
    r: &'a Reference,
    oref: oci_client::Reference,
    name: String,
    progress: ProgressFn<'a>,
}

impl<'a> Pull<'a> {
    fn registry(&self) -> &str {
        &self.r.domain
    }

    async fn manifest(&self, oref: &oci_client::Reference) -> Result<(Fetched, Vec<u8>, String)> {
        let what = format!(
            "reading manifest {} in {}/{}",
            oref.digest().or(oref.tag()).unwrap_or("latest"),
            self.r.domain,
            self.r.path
        );
        let (bytes, digest) = self
            .remote
            .client
            .pull_manifest_raw(oref, &self.remote.auth, MANIFEST_TYPES)
            .await
            .map_err(|e| map_err(e, &what, self.registry()).with_subject(&self.name))?;
        if bytes.len() > 4 << 20 {
            return Err(malformed(&self.name, "manifest is larger than 4 MiB"));
        }
        // oci-client checked the bytes against the registry's digest header
        // and the reference's digest; the stored digest is over these bytes.
        let want = format!("sha256:{}", sha256_hex(&bytes));
        if digest != want {
            return Err(malformed(
                &self.name,
                &format!("manifest digest mismatch: registry says {digest}, content is {want}"),
            ));
        }
        Ok((parse_manifest(&self.name, &bytes)?, bytes.to_vec(), digest))
    }

    /// Stream blob `d` to `sink`, reporting progress; the digest is
    /// verified by oci-client's stream, the size here.
    async fn fetch(
        &self,
        d: &OciDescriptor,
        mut sink: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let what = format!("fetching blob {}", d.digest);
        let mut s = self
            .remote
            .client
            .pull_blob_stream(&self.oref, d)
            .await
            .map_err(|e| map_err(e, &what, self.registry()).with_subject(&self.name))?;
        let mut n: u64 = 0;
        let want = d.size as u64;
        while let Some(chunk) = s.next().await {
            let chunk = chunk.map_err(|e| {
                if e.get_ref().is_some_and(|x| x.is::<DigestError>()) {
                    malformed(&self.name, &format!("{what}: digest mismatch: {e}"))
                } else {
                    Error::new(
                        ErrorKind::Io,
                        format!("{}: {what}: {}", self.name, super::client::chain(&e)),
                    )
                    .with_subject(&self.name)
                }
            })?;
            n += chunk.len() as u64;
            if n > want {
                return Err(malformed(
                    &self.name,
                    &format!("{what}: more than the {want} bytes the manifest says"),
                ));
            }
            sink(&chunk)?;
            (self.progress)(Progress::BlobBytes {
                digest: &d.digest,
                n: chunk.len() as u64,
            });
        }
        if n != want {
            return Err(malformed(
                &self.name,
                &format!("{what}: got {n} bytes, the manifest says {want}"),
            ));
        }
        Ok(())
    }

    async fn run<'s>(self, scope: &'s std::thread::Scope<'s, '_>) -> Result<ImageInfo>
    where
        'a: 's,
    {
        let (mut fetched, mut bytes, mut digest) = self.manifest(&self.oref).await?;
        if let Fetched::Index(index) = &fetched {
            let d = choose(&self.name, index)?;
            (fetched, bytes, digest) = self.manifest(&self.oref.clone_with_digest(d)).await?;
        }
        let manifest = match fetched {
            Fetched::Image(m) => m,
            Fetched::Index(_) => {
                return Err(malformed(
                    &self.name,
                    "manifest list entry is itself a manifest list",
                ))
            }
        };

        let mut config = Vec::with_capacity(manifest.config.size as usize);
        self.fetch(&manifest.config, |c| {
            config.extend_from_slice(c);
            Ok(())
        })
        .await?;
        let id = sha256_hex(&config);
        let cfg: oci_spec::image::ImageConfiguration = serde_json::from_slice(&config)
            .map_err(|e| malformed(&self.name, &format!("invalid image config: {e}")))?;
        let diff_ids = cfg.rootfs().diff_ids().clone();
        for d in &diff_ids {
            parse_digest(d).map_err(|e| malformed(&self.name, &format!("config rootfs: {e}")))?;
        }
        if diff_ids.len() != manifest.layers.len() {
            return Err(malformed(
                &self.name,
                &format!(
                    "config lists {} layers but the manifest has {}",
                    diff_ids.len(),
                    manifest.layers.len()
                ),
            ));
        }

        // Retry when a concurrent removal deleted a layer we meant to reuse.
        for _ in 0..3 {
            let sizes = self.layers(scope, &manifest.layers, &diff_ids).await?;
            (self.progress)(Progress::Config {
                digest: &manifest.config.digest,
            });
            if let Some(info) = self.store.register(
                &id,
                &config,
                Some(&(digest.clone(), bytes.clone())),
                &diff_ids,
                &sizes,
                std::slice::from_ref(&self.name),
                cfg.created().as_deref(),
            )? {
                (self.progress)(Progress::WritingManifest);
                return Ok(info);
            }
        }
        Err(Error::new(
            ErrorKind::Storage,
            format!(
                "{}: layers kept disappearing during pull (concurrent removal?)",
                self.name
            ),
        )
        .with_subject(&self.name))
    }

    /// Make every layer present; return the layers' sizes in order.
    async fn layers<'s>(
        &self,
        scope: &'s std::thread::Scope<'s, '_>,
        layers: &[OciDescriptor],
        diff_ids: &[String],
    ) -> Result<Vec<u64>>
    where
        'a: 's,
    {
        let mut sizes: Vec<Option<u64>> = vec![None; layers.len()];
        let mut missing = Vec::new();
        for (i, (desc, diff)) in layers.iter().zip(diff_ids).enumerate() {
            sizes[i] = self.store.stored_layer_size(diff)?;
            if sizes[i].is_some() {
                (self.progress)(Progress::BlobSkipped {
                    digest: &desc.digest,
                });
            } else if !missing.iter().any(|&(_, _, d)| d == diff) {
                // The same layer twice in one image is fetched once.
                missing.push((i, desc, diff));
            }
        }
        let staged: Vec<(usize, Staged)> = futures_util::stream::iter(missing)
            .map(|(i, desc, diff)| async move {
                Ok::<_, Error>((i, self.layer(scope, desc, diff).await?))
            })
            .buffer_unordered(CONCURRENT_LAYERS)
            .try_collect()
            .await?;
        for (i, s) in staged {
            sizes[i] = Some(s.size);
            let label = format!("{}: layer {}", self.name, &s.diff_id);
            self.store.place_layer(s, &label)?;
        }
        let mut out = Vec::with_capacity(sizes.len());
        for (size, diff) in sizes.into_iter().zip(diff_ids) {
            // A repeated layer has the size of its first occurrence.
            out.push(match size {
                Some(s) => s,
                None => self.store.stored_layer_size(diff)?.unwrap_or(0),
            });
        }
        Ok(out)
    }

    /// Download one layer blob to `tmp/`, then extract it on a scoped
    /// thread through the load path; check both digests.
    async fn layer<'s>(
        &self,
        scope: &'s std::thread::Scope<'s, '_>,
        desc: &OciDescriptor,
        diff_id: &str,
    ) -> Result<Staged>
    where
        'a: 's,
    {
        let tmp = make_tmp_dir(&self.store.root().join("tmp"))?;
        let guard = TmpGuard::new(tmp.clone());
        let path = tmp.join("blob");
        let io = |e: std::io::Error| Error::io(format!("writing {}", path.display()), e);
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&path).map_err(io)?);
        (self.progress)(Progress::BlobStart {
            digest: &desc.digest,
            size: desc.size as u64,
        });
        self.fetch(desc, |c| out.write_all(c).map_err(io)).await?;
        out.flush().map_err(io)?;
        drop(out);
        (self.progress)(Progress::BlobDone {
            digest: &desc.digest,
        });

        let label = format!("{}: layer {}", self.name, &desc.digest);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let store = self.store;
        let subject = self.name.clone();
        let extract_label = label.clone();
        scope.spawn(move || {
            let res = File::open(&path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))
                .and_then(|f| {
                    store.stage_layer(
                        BufReader::with_capacity(1 << 20, f),
                        &extract_label,
                        &subject,
                    )
                });
            // The downloaded blob goes as soon as it is extracted.
            drop(guard);
            let _ = tx.send(res);
        });
        let staged = rx
            .await
            .map_err(|_| Error::internal(format!("{label}: extraction thread died")))??;
        if staged.blob_digest != desc.digest {
            return Err(malformed(
                &self.name,
                &format!(
                    "layer digest mismatch: manifest says {}, content is {}",
                    desc.digest, staged.blob_digest
                ),
            ));
        }
        if staged.diff_id != diff_id {
            return Err(malformed(
                &self.name,
                &format!(
                    "layer {} does not match diff ID {diff_id} (content is {})",
                    desc.digest, staged.diff_id
                ),
            ));
        }
        Ok(staged)
    }
}
