//! `load_archive`: store the images of a docker-archive or oci-archive.
//!
//! Order of work, so an interrupted load leaves no visible image:
//! 1. each missing layer is extracted into `tmp/…`, its digests verified
//!    while streaming, then renamed to `layers/<hex>` (atomic; an existing
//!    directory of that name is complete by construction and is reused);
//! 2. one `BEGIN IMMEDIATE` transaction, under the store lock, checks the
//!    layer directories are still there and registers layers, image and
//!    names together. Only then does the image exist.

use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use berth_types::{Error, ErrorKind, Result};
use rusqlite::{params, OptionalExtension};

use crate::archive::{self, ImageSource, LayerSource, OuterArchive};
use crate::db::write_tx;
use crate::util::{
    make_tmp_dir, parse_digest, remove_tree, retire_dir, sha256_hex, HashingReader, StoreLock,
};
use crate::{extract, tarsplit, ImageInfo, Store};

/// Removes a temp dir unless disarmed (error paths, panics).
pub(crate) struct TmpGuard(Option<PathBuf>);

impl TmpGuard {
    /// Guard `dir`: it is removed when the guard drops.
    pub(crate) fn new(dir: PathBuf) -> TmpGuard {
        TmpGuard(Some(dir))
    }
}

/// A layer extracted into `tmp/`, verified, not yet in `layers/`.
pub(crate) struct Staged {
    guard: TmpGuard,
    pub(crate) diff_id: String,
    pub(crate) size: u64,
    /// Digest of the blob as read (compressed, if it was).
    pub(crate) blob_digest: String,
}

/// Prefix an error met while reading the archive's image list (a config
/// or manifest blob missing, malformed) with the names the archive gives
/// its images, when it gives any: the user asked for those, not for a file
/// inside the archive (RELIABILITY.md 33). Best effort: an index that
/// cannot be read leaves the error as it is.
fn name_images(ar: &OuterArchive, e: Error) -> Error {
    let names: Vec<String> = if ar.has("manifest.json") {
        ar.read_small("manifest.json")
            .ok()
            .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .flat_map(|e| e["RepoTags"].as_array().cloned().unwrap_or_default())
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect()
    } else {
        ar.read_small("index.json")
            .ok()
            .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
            .and_then(|v| v["manifests"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
            .map(str::to_string)
            .collect()
    };
    if names.is_empty() {
        return e;
    }
    let label = format!("image \"{}\"", names.join("\", \""));
    e.context(&label).with_subject(label)
}

impl Drop for TmpGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            remove_tree(&p);
        }
    }
}

impl Store {
    /// Load every image in the docker-archive, oci-archive or OCI layout
    /// directory at `path` (the archive plain or gzip-compressed; layers
    /// inside may be gzip or plain tar).
    ///
    /// Names are normalized like Podman; a name already held by another
    /// image moves to the loaded one. Layers already stored are reused.
    /// Returns the loaded images in archive order.
    pub fn load_archive(&self, path: &Path) -> Result<Vec<ImageInfo>> {
        let _staging = self.staging()?;
        let ar = OuterArchive::open(path, &self.root.join("tmp"))?;
        self.load_all(ar)
    }

    /// [`Store::load_archive`] from an open file or pipe (`load` reading
    /// its stdin). A pipe or a compressed archive is spooled to an unnamed
    /// file under `tmp/` first; a plain archive in a regular file is read
    /// in place. `label` names the input in errors.
    pub fn load_archive_from(&self, input: std::fs::File, label: &str) -> Result<Vec<ImageInfo>> {
        let _staging = self.staging()?;
        let ar = OuterArchive::from_file(input, label.to_string(), &self.root.join("tmp"))?;
        self.load_all(ar)
    }

    fn load_all(&self, ar: OuterArchive) -> Result<Vec<ImageInfo>> {
        let sources = archive::parse(&ar).map_err(|e| name_images(&ar, e))?;
        let mut out = Vec::with_capacity(sources.len());
        for src in sources {
            out.push(self.load_one(&ar, src)?);
        }
        Ok(out)
    }

    fn load_one(&self, ar: &OuterArchive, src: ImageSource) -> Result<ImageInfo> {
        let id = sha256_hex(&src.config);
        let mut names = Vec::new();
        for n in &src.names {
            // An OCI ref.name that is a bare tag ("latest") names no
            // repository: such an image is loaded without a name.
            if !n.contains('/')
                && !n.contains(':')
                && ar.has("oci-layout")
                && !ar.has("manifest.json")
            {
                continue;
            }
            let norm = crate::reference::normalize(n).map_err(|e| e.context(&ar.label))?;
            if !names.contains(&norm) {
                names.push(norm);
            }
        }
        let label = format!(
            "image \"{}\"",
            names
                .first()
                .cloned()
                .unwrap_or_else(|| id[..12].to_string())
        );
        let bad = |msg: String| {
            Error::new(ErrorKind::InvalidInput, format!("{label}: {msg}")).with_subject(&label)
        };

        let config: oci_spec::image::ImageConfiguration = serde_json::from_slice(&src.config)
            .map_err(|e| bad(format!("invalid image config: {e}")))?;
        let diff_ids: Vec<String> = config.rootfs().diff_ids().clone();
        for d in &diff_ids {
            parse_digest(d).map_err(|e| bad(format!("config rootfs: {e}")))?;
        }
        if diff_ids.len() != src.layers.len() {
            return Err(bad(format!(
                "config lists {} layers but the manifest has {}",
                diff_ids.len(),
                src.layers.len()
            )));
        }
        let created = config.created().clone();

        // Layer directories this load put in `layers/`: taken back if the
        // image is not registered, so a bad later layer leaves no garbage.
        let mut placed = Vec::new();
        let mut attempt = || -> Result<ImageInfo> {
            // Retry when a concurrent removal deleted a layer we meant to reuse.
            for _ in 0..3 {
                let mut sizes = Vec::with_capacity(diff_ids.len());
                for (layer, diff_id) in src.layers.iter().zip(&diff_ids) {
                    sizes.push(self.ensure_layer(ar, layer, diff_id, &label, &mut placed)?);
                }
                if let Some(info) = self.register(
                    &id,
                    &src.config,
                    src.manifest.as_ref(),
                    &diff_ids,
                    &sizes,
                    &names,
                    created.as_deref(),
                )? {
                    return Ok(info);
                }
            }
            Err(Error::new(
                ErrorKind::Storage,
                format!("{label}: layers kept disappearing during load (concurrent removal?)"),
            )
            .with_subject(&label))
        };
        let loaded = attempt();
        if loaded.is_err() {
            self.drop_unregistered(&placed);
        }
        loaded
    }

    /// Remove those of the layer directories `placed` that no image
    /// registered. Under the store lock, so a concurrent load that reuses
    /// one either registered it first (it stays) or finds it gone at its
    /// registration and extracts it again; a commit or import that made the
    /// very same layer in that moment fails at its registration ("a layer
    /// disappeared") and can be run again. Best effort: what is left is garbage `system
    /// prune` collects.
    fn drop_unregistered(&self, placed: &[String]) {
        if placed.is_empty() {
            return;
        }
        let Ok(_lock) = StoreLock::take(&self.root) else {
            return;
        };
        for d in placed {
            let known = self
                .conn()
                .query_row("SELECT 1 FROM layers WHERE diff_id = ?1", [d], |_| Ok(()))
                .optional();
            if matches!(known, Ok(None)) {
                let _ = retire_dir(&self.layer_dir(d), &self.root.join("tmp"));
            }
        }
    }

    /// Make sure layer `diff_id` is stored; return its size.
    fn ensure_layer(
        &self,
        ar: &OuterArchive,
        layer: &LayerSource,
        diff_id: &str,
        image_label: &str,
        placed: &mut Vec<String>,
    ) -> Result<u64> {
        if let Some(size) = self.stored_layer_size(diff_id)? {
            return Ok(size);
        }
        let label = format!(
            "{image_label} layer {}",
            &diff_id[..std::cmp::min(diff_id.len(), 19)]
        );
        let bad = |msg: String| {
            Error::new(ErrorKind::InvalidInput, format!("{label}: {msg}")).with_subject(image_label)
        };

        let (section, _) = ar.reader(&layer.member)?;
        let staged = self.stage_layer(section, &label, image_label)?;
        if let Some(want) = &layer.blob_digest {
            if &staged.blob_digest != want {
                return Err(bad(format!(
                    "blob digest mismatch: archive says {want}, content is {}",
                    staged.blob_digest
                )));
            }
        }
        if staged.diff_id != diff_id {
            return Err(bad(format!(
                "content does not match diff ID (got {})",
                staged.diff_id
            )));
        }
        let size = staged.size;
        if self.place_layer(staged, &label)? {
            placed.push(diff_id.to_string());
        }
        Ok(size)
    }

    /// The size of layer `diff_id` if it is registered and its directory
    /// is there (then it never needs fetching or extracting again).
    pub(crate) fn stored_layer_size(&self, diff_id: &str) -> Result<Option<u64>> {
        let known: Option<i64> = self
            .conn()
            .query_row(
                "SELECT size FROM layers WHERE diff_id = ?1",
                [diff_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db_err("looking up layer", e))?;
        Ok(known
            .filter(|_| self.layer_dir(diff_id).join("diff").is_dir())
            .map(|s| s as u64))
    }

    /// Extract a layer blob (gzip or plain tar) into `tmp/`, recording its
    /// tar-split and digests on the way.
    pub(crate) fn stage_layer(
        &self,
        blob: impl Read,
        label: &str,
        subject: &str,
    ) -> Result<Staged> {
        let bad = |msg: String| {
            Error::new(ErrorKind::InvalidInput, format!("{label}: {msg}")).with_subject(subject)
        };
        let tmp = make_tmp_dir(&self.root.join("tmp"))?;
        let guard = TmpGuard(Some(tmp.clone()));
        let diff = tmp.join("diff");
        std::fs::create_dir(&diff)
            .map_err(|e| crate::storage_err(format!("creating {}", diff.display()), e))?;
        let mut raw = HashingReader::new(blob, u64::MAX);
        let (diff_id, size) = {
            let buf = BufReader::with_capacity(256 << 10, &mut raw);
            let inner = crate::util::tar_stream(buf).map_err(bad)?;
            // The tar stream itself is capped too (headers of a flood of
            // empty entries); twice the data limit leaves room for headers.
            let mut plain =
                HashingReader::new(inner, self.max_layer_bytes.saturating_mul(2).max(1 << 20));
            let ranges: tarsplit::Ranges = Default::default();
            let mut rec = tarsplit::Recorder::new(
                &mut plain,
                &tmp.join(tarsplit::TAR_SPLIT),
                ranges.clone(),
            )?;
            let opts = extract::ExtractOptions {
                max_bytes: self.max_layer_bytes,
                plain: false,
            };
            extract::extract_layer_observed(&mut rec, &diff, label, &opts, &mut |off, n, p| {
                ranges.borrow_mut().push_back((off, n, p.to_vec()))
            })?;
            // Tar padding and trailing blocks are part of the diff ID.
            io::copy(&mut rec, &mut io::sink()).map_err(|e| bad(format!("reading: {e}")))?;
            rec.finish()?;
            let n = plain.count();
            (plain.digest(), n)
        };
        io::copy(&mut raw, &mut io::sink()).map_err(|e| bad(format!("reading: {e}")))?;
        Ok(Staged {
            guard,
            diff_id,
            size,
            blob_digest: raw.digest(),
        })
    }

    /// Rename a staged layer to `layers/<hex>`. True when this put it
    /// there, false when it was there already.
    pub(crate) fn place_layer(&self, mut staged: Staged, label: &str) -> Result<bool> {
        let tmp = staged.guard.0.clone().expect("staged layer has a dir");
        let dir = self.layer_dir(&staged.diff_id);
        match std::fs::rename(&tmp, &dir) {
            Ok(()) => {
                staged.guard.0 = None;
                Ok(true)
            }
            // Someone else stored it meanwhile (or an earlier crashed load
            // left it unregistered): such a dir is complete, use it.
            Err(_) if dir.join("diff").is_dir() => Ok(false),
            Err(e) => Err(crate::storage_err(format!("{label}: storing layer"), e)),
        }
    }

    /// Store one layer from a tar stream (plain or gzip) whose diff ID is
    /// not known up front (`commit`, `import`). Returns (diff ID, size).
    /// The layer is not registered until an image using it is created
    /// with [`Store::create_image`].
    pub fn store_layer(&self, blob: impl Read, label: &str) -> Result<(String, u64)> {
        let staged = self.stage_layer(blob, label, label)?;
        let out = (staged.diff_id.clone(), staged.size);
        self.place_layer(staged, label)?;
        Ok(out)
    }

    /// Create an image from a config blob whose layers are all stored
    /// (`new_layers` gives the sizes of layers stored by
    /// [`Store::store_layer`] and not registered yet). `names` must be
    /// normalized; a name held by another image moves to this one.
    pub fn create_image(
        &self,
        config: &[u8],
        names: &[String],
        new_layers: &[(String, u64)],
    ) -> Result<ImageInfo> {
        let id = sha256_hex(config);
        let cfg: oci_spec::image::ImageConfiguration = serde_json::from_slice(config)
            .map_err(|e| Error::invalid(format!("image {}: invalid config: {e}", &id[..12])))?;
        let diff_ids = cfg.rootfs().diff_ids().clone();
        let mut sizes = Vec::with_capacity(diff_ids.len());
        for d in &diff_ids {
            parse_digest(d).map_err(|e| Error::invalid(format!("image {}: {e}", &id[..12])))?;
            let known = new_layers.iter().find(|(n, _)| n == d).map(|(_, s)| *s);
            let size = match known {
                Some(s) => s,
                None => self
                    .conn()
                    .query_row("SELECT size FROM layers WHERE diff_id = ?1", [d], |r| {
                        r.get::<_, i64>(0)
                    })
                    .optional()
                    .map_err(|e| self.db_err("looking up layer", e))?
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::Storage,
                            format!("image {}: layer {d} is not stored", &id[..12]),
                        )
                    })? as u64,
            };
            sizes.push(size);
        }
        self.register(
            &id,
            config,
            None,
            &diff_ids,
            &sizes,
            names,
            cfg.created().as_deref(),
        )?
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Storage,
                format!(
                    "image {}: a layer disappeared (concurrent removal?)",
                    &id[..12]
                ),
            )
        })
    }

    /// Register the image in one transaction. `Ok(None)` asks the caller to
    /// retry because a layer directory vanished (concurrent removal).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn register(
        &self,
        id: &str,
        config: &[u8],
        manifest: Option<&(String, Vec<u8>)>,
        diff_ids: &[String],
        sizes: &[u64],
        names: &[String],
        created: Option<&str>,
    ) -> Result<Option<ImageInfo>> {
        let _lock = StoreLock::take(&self.root)?;
        for d in diff_ids {
            if !self.layer_dir(d).join("diff").is_dir() {
                return Ok(None);
            }
        }
        let (digest, manifest) = match manifest {
            Some((d, b)) => (d.clone(), b.clone()),
            None => synth_manifest(config, id, diff_ids, sizes),
        };
        let manifest = String::from_utf8(manifest)
            .map_err(|_| Error::invalid(format!("manifest of image {id} is not UTF-8")))?;
        let config = String::from_utf8(config.to_vec())
            .map_err(|_| Error::invalid(format!("config of image {id} is not UTF-8")))?;
        let total: u64 = sizes.iter().sum();
        let now = jiff::Timestamp::now().to_string();
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        for (d, s) in diff_ids.iter().zip(sizes) {
            tx.execute(
                "INSERT OR IGNORE INTO layers (diff_id, size) VALUES (?1, ?2)",
                params![d, *s as i64],
            )
            .map_err(|e| self.db_err("registering layer", e))?;
        }
        let inserted = tx
            .execute(
                "INSERT OR IGNORE INTO images (id, digest, created, size, config, manifest, loaded) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, digest, created, total as i64, config, manifest, now],
            )
            .map_err(|e| self.db_err("registering image", e))?;
        if inserted == 1 {
            for (pos, d) in diff_ids.iter().enumerate() {
                tx.execute(
                    "INSERT INTO image_layers (image_id, pos, diff_id) VALUES (?1, ?2, ?3)",
                    params![id, pos as i64, d],
                )
                .map_err(|e| self.db_err("registering image layers", e))?;
            }
        }
        for n in names {
            // Podman semantics: a name moves to the newly loaded image.
            crate::names::claim_name(&tx, n, id)?;
        }
        tx.commit()
            .map_err(|e| self.db_err("committing image", e))?;
        let info = crate::images::get_image(&conn, id)?
            .ok_or_else(|| Error::internal(format!("image {id} vanished after load")))?;
        Ok(Some(info))
    }
}

/// A docker-archive carries no manifest; build the schema-2 manifest Podman
/// would (uncompressed layers), so the image has a stable digest.
fn synth_manifest(
    config: &[u8],
    id: &str,
    diff_ids: &[String],
    sizes: &[u64],
) -> (String, Vec<u8>) {
    let layers: Vec<serde_json::Value> = diff_ids
        .iter()
        .zip(sizes)
        .map(|(d, s)| serde_json::json!({"mediaType": "application/vnd.docker.image.rootfs.diff.tar", "size": s, "digest": d}))
        .collect();
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": format!("sha256:{id}")},
        "layers": layers,
    });
    let bytes = serde_json::to_vec(&m).unwrap_or_default();
    (format!("sha256:{}", sha256_hex(&bytes)), bytes)
}
