//! `save`: write images as a docker-archive, an oci-archive or an OCI
//! layout directory. Layer tars are rebuilt exactly from their tar-split
//! (`tarsplit.rs`), so diff IDs, and so image IDs, survive a save/load.
//!
//! Nothing half-written becomes visible: archive files are written to an
//! unnamed `O_TMPFILE` in the target directory and linked into place only
//! when complete (an interrupted save leaves nothing); a directory is built
//! under a hidden temp name and renamed.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use berth_types::{Error, ErrorKind, Result};
use rusqlite::OptionalExtension;
use serde_json::json;

use crate::tarsplit::LayerTar;
use crate::util::{digest_hex, sha256_hex};
use crate::{ImageInfo, Store};

/// Archive formats of `save`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFormat {
    /// `docker save`'s format (`manifest.json`), Podman's default.
    DockerArchive,
    /// An OCI image layout in a tar.
    OciArchive,
    /// An OCI image layout directory.
    OciDir,
}

impl SaveFormat {
    /// Parse Podman's `--format` value.
    pub fn parse(s: &str) -> Result<SaveFormat> {
        match s {
            "docker-archive" => Ok(SaveFormat::DockerArchive),
            "oci-archive" => Ok(SaveFormat::OciArchive),
            "oci-dir" => Ok(SaveFormat::OciDir),
            "docker-dir" => Err(Error::invalid("format docker-dir is not supported")),
            o => Err(Error::invalid(format!(
                "unknown format {o:?}: use docker-archive, oci-archive or oci-dir"
            ))),
        }
    }
}

/// Where the archive's members go: a tar stream or a directory.
trait Sink {
    fn put(&mut self, path: &str, size: u64, data: &mut dyn io::Read) -> io::Result<()>;
}

struct TarSink<W: Write>(tar::Builder<W>);

impl<W: Write> Sink for TarSink<W> {
    fn put(&mut self, path: &str, size: u64, data: &mut dyn io::Read) -> io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(size);
        h.set_mtime(0);
        self.0.append_data(&mut h, path, data)
    }
}

struct DirSink(PathBuf);

impl Sink for DirSink {
    fn put(&mut self, path: &str, _size: u64, data: &mut dyn io::Read) -> io::Result<()> {
        let p = self.0.join(path);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        let mut f = BufWriter::new(File::create(&p)?);
        io::copy(data, &mut f)?;
        f.into_inner().map_err(|e| e.into_error())?.sync_all()
    }
}

/// One image to save and the names to record for it.
type Item<'a> = (&'a ImageInfo, &'a [String]);

impl Store {
    /// Size in bytes of stored layer `diff_id`'s tar.
    pub fn layer_size(&self, diff_id: &str) -> Result<u64> {
        let s: Option<i64> = self
            .conn()
            .query_row(
                "SELECT size FROM layers WHERE diff_id = ?1",
                [diff_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db_err("looking up layer", e))?;
        s.map(|s| s as u64)
            .ok_or_else(|| Error::new(ErrorKind::Storage, format!("layer {diff_id} is not stored")))
    }

    fn put_layer(&self, sink: &mut dyn Sink, path: &str, diff_id: &str) -> Result<()> {
        let size = self.layer_size(diff_id)?;
        let mut r = LayerTar::open(&self.layer_dir(diff_id), diff_id)?;
        sink.put(path, size, &mut r)
            .map_err(|e| crate::storage_err(format!("saving layer {diff_id}"), e))
    }

    fn write_docker(&self, items: &[Item<'_>], sink: &mut dyn Sink) -> Result<()> {
        let mut done = HashSet::new();
        let mut manifest = Vec::new();
        for (img, names) in items {
            let mut layers = Vec::new();
            for d in &img.layers {
                let member = format!("{}.tar", digest_hex(d));
                if done.insert(member.clone()) {
                    self.put_layer(sink, &member, d)?;
                }
                layers.push(member);
            }
            let cfg = format!("{}.json", img.id);
            if done.insert(cfg.clone()) {
                put_bytes(sink, &cfg, img.config_json.as_bytes())?;
            }
            manifest.push(json!({"Config": cfg, "RepoTags": names, "Layers": layers}));
        }
        let m = serde_json::to_vec(&manifest).unwrap_or_default();
        put_bytes(sink, "manifest.json", &m)
    }

    fn write_oci(&self, items: &[Item<'_>], sink: &mut dyn Sink) -> Result<()> {
        let mut done = HashSet::new();
        let mut index = Vec::new();
        put_bytes(sink, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        for (img, names) in items {
            for d in &img.layers {
                let member = format!("blobs/sha256/{}", digest_hex(d));
                if done.insert(member.clone()) {
                    self.put_layer(sink, &member, d)?;
                }
            }
            let cfg = format!("blobs/sha256/{}", img.id);
            if done.insert(cfg.clone()) {
                put_bytes(sink, &cfg, img.config_json.as_bytes())?;
            }
            let (digest, bytes) = self.oci_manifest(img)?;
            let member = format!("blobs/sha256/{}", digest_hex(&digest));
            if done.insert(member.clone()) {
                put_bytes(sink, &member, &bytes)?;
            }
            let desc = |name: Option<&String>| {
                let mut d = json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": digest, "size": bytes.len(),
                });
                if let Some(n) = name {
                    d["annotations"] = json!({"org.opencontainers.image.ref.name": n});
                }
                d
            };
            if names.is_empty() {
                index.push(desc(None));
            }
            for n in names.iter() {
                index.push(desc(Some(n)));
            }
        }
        let idx = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index});
        put_bytes(
            sink,
            "index.json",
            &serde_json::to_vec(&idx).unwrap_or_default(),
        )
    }

    /// The stored manifest when it describes exactly the stored, uncompressed
    /// layers (keeps the digest over a round trip); else a new OCI manifest.
    fn oci_manifest(&self, img: &ImageInfo) -> Result<(String, Vec<u8>)> {
        let stored: Option<String> = self
            .conn()
            .query_row(
                "SELECT manifest FROM images WHERE id = ?1",
                [&img.id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db_err("reading manifest", e))?;
        if let Some(m) = stored
            .as_deref()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        {
            let oci = m["mediaType"]
                .as_str()
                .unwrap_or("application/vnd.oci.image.manifest.v1+json")
                == "application/vnd.oci.image.manifest.v1+json";
            let layers: Vec<&str> = m["layers"]
                .as_array()
                .map(|a| a.iter().filter_map(|l| l["digest"].as_str()).collect())
                .unwrap_or_default();
            let plain = m["layers"].as_array().is_some_and(|a| {
                a.iter().all(|l| {
                    l["mediaType"].as_str() == Some("application/vnd.oci.image.layer.v1.tar")
                })
            });
            if oci
                && plain
                && layers == img.layers
                && m["config"]["digest"] == format!("sha256:{}", img.id)
            {
                let bytes = stored.unwrap_or_default().into_bytes();
                return Ok((format!("sha256:{}", sha256_hex(&bytes)), bytes));
            }
        }
        let mut layers = Vec::new();
        for d in &img.layers {
            layers.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": self.layer_size(d)?}));
        }
        let m = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", img.id), "size": img.config_json.len()},
            "layers": layers,
        });
        let bytes = serde_json::to_vec(&m).unwrap_or_default();
        Ok((format!("sha256:{}", sha256_hex(&bytes)), bytes))
    }

    /// Write `items` (image, names to record) as a docker-archive or
    /// oci-archive tar to `out` (e.g. stdout); returns `out`.
    pub fn save_to_writer<W: Write>(
        &self,
        items: &[(&ImageInfo, &[String])],
        format: SaveFormat,
        out: W,
    ) -> Result<W> {
        let mut sink = TarSink(tar::Builder::new(out));
        match format {
            SaveFormat::DockerArchive => self.write_docker(items, &mut sink)?,
            SaveFormat::OciArchive => self.write_oci(items, &mut sink)?,
            SaveFormat::OciDir => {
                return Err(Error::invalid("oci-dir output needs a directory (-o DIR)"))
            }
        }
        sink.0
            .into_inner()
            .map_err(|e| crate::storage_err("writing archive", e))
    }

    /// Save `items` to `path` (a file, or a directory for oci-dir),
    /// atomically: it appears complete or not at all.
    pub fn save_to_path(
        &self,
        items: &[(&ImageInfo, &[String])],
        format: SaveFormat,
        path: &Path,
    ) -> Result<()> {
        let label = path.display().to_string();
        let io_err = |e: io::Error| Error::io(format!("writing {label}"), e).with_subject(&label);
        if format == SaveFormat::OciDir {
            if path.exists()
                && std::fs::read_dir(path)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                return Err(Error::invalid(format!(
                    "{label}: already exists and is not an empty directory"
                ))
                .with_subject(&label));
            }
            let tmp = sibling(path, "dir");
            std::fs::create_dir(&tmp).map_err(io_err)?;
            let res = self
                .write_oci(items, &mut DirSink(tmp.clone()))
                .and_then(|_| {
                    if path.exists() {
                        std::fs::remove_dir(path).map_err(io_err)?;
                    }
                    std::fs::rename(&tmp, path).map_err(io_err)
                });
            if res.is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
            return res;
        }
        atomic_write(path, |w| self.save_to_writer(items, format, w).map(drop))
    }
}

/// Create file `path` with what `fill` writes, atomically: the data goes
/// to an unnamed `O_TMPFILE` in the target directory, linked in only when
/// complete, so a failure or a kill at any point leaves no file behind.
pub fn atomic_write(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let label = path.display().to_string();
    let io_err = |e: io::Error| Error::io(format!("writing {label}"), e).with_subject(&label);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let f = rustix::fs::open(
        &dir,
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::TMPFILE | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .map(File::from)
    .map_err(|e| io_err(e.into()))?;
    let mut w = BufWriter::new(f);
    fill(&mut w)?;
    let f = w.into_inner().map_err(|e| io_err(e.into_error()))?;
    f.sync_all().map_err(io_err)?;
    // Link the finished file in under a temp name, then rename over the
    // target (linkat refuses to replace an existing file).
    let tmp = sibling(path, "file");
    let proc_path = format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&f.as_fd())
    );
    rustix::fs::linkat(
        rustix::fs::CWD,
        proc_path.as_str(),
        rustix::fs::CWD,
        &tmp,
        rustix::fs::AtFlags::SYMLINK_FOLLOW,
    )
    .map_err(|e| io_err(e.into()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(e)
    })
}

fn put_bytes(sink: &mut dyn Sink, path: &str, data: &[u8]) -> Result<()> {
    sink.put(path, data.len() as u64, &mut &data[..])
        .map_err(|e| crate::storage_err(format!("writing {path}"), e))
}

/// A hidden temp name beside `path`.
fn sibling(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.berth-{what}-{}", std::process::id()))
}
