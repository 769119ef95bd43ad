//! Pulling one fully qualified reference into the store.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};

use berth_types::{Error, ErrorKind, Result};
use futures_util::{StreamExt, TryStreamExt};
use oci_client::errors::DigestError;
use oci_client::manifest::OciDescriptor;

use super::client::{map_err, remote, Remote};
use super::conf::RegistriesConf;
use super::manifest::{choose, malformed, parse_manifest, Fetched, MANIFEST_TYPES};
use super::{Progress, ProgressFn, RegistryOptions};
use crate::load::{Staged, TmpGuard};
use crate::reference::Reference;
use crate::util::{make_tmp_dir, parse_digest, sha256_hex};
use crate::{ImageInfo, Store};

/// Layer blobs fetched (and extracted) at the same time.
const CONCURRENT_LAYERS: usize = 3;

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

    /// Stream blob `d` (`kind`: "blob", "config blob") to `sink`,
    /// reporting progress; the digest is verified by oci-client's stream,
    /// the size here.
    async fn fetch(
        &self,
        d: &OciDescriptor,
        kind: &str,
        mut sink: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let what = format!("fetching {kind} {}", d.digest);
        let mut s = self
            .remote
            .client
            .pull_blob_stream(&self.oref, d)
            .await
            .map_err(|e| {
                map_err(e, &format!("{}: {what}", self.name), self.registry())
                    .with_subject(&self.name)
            })?;
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
        self.fetch(&manifest.config, "config blob", |c| {
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

        // Layers placed but not yet registered are live work, not garbage
        // for `system prune` (see gc.rs).
        let _staging = self.store.staging()?;
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
        self.fetch(desc, "blob", |c| out.write_all(c).map_err(io))
            .await?;
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
