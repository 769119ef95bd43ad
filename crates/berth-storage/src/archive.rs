//! Reading image archives: docker-archive (`manifest.json`, including the
//! Docker 25+ shape with an OCI layout beside it) and oci-archive
//! (`oci-layout` + `index.json` + `blobs/sha256`).
//!
//! The outer tar is indexed once (name → byte range) and members are read in
//! place with `pread`, so a multi-GB plain archive is never copied to disk
//! first. Only a compressed archive or one on a pipe is spooled (spool.rs).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use berth_types::{Error, ErrorKind, Result};
use serde::Deserialize;

use crate::util::{parse_digest, sha256_hex, SectionReader};

/// Largest JSON document (manifest, config, index) we read into memory.
const MAX_JSON: u64 = 64 << 20;

enum Item {
    File { offset: u64, size: u64 },
    Link(String),
}

/// An indexed, uncompressed outer tar.
pub(crate) struct OuterArchive {
    file: File,
    /// Set for an OCI layout directory (`oci-dir`): members are files
    /// below it, opened with `RESOLVE_BENEATH` (the directory is input
    /// like any archive; its symlinks must not reach out of it).
    dir: Option<std::os::fd::OwnedFd>,
    items: HashMap<String, Item>,
    /// How errors name the archive (its path).
    pub(crate) label: String,
}

/// Normalize a member name: drop `.`/empty parts, apply `..` lexically.
/// This is only a lookup key inside the archive; nothing is written with it.
fn member_key(base_dir: &str, name: &str) -> String {
    let mut parts: Vec<&str> = if name.starts_with('/') {
        Vec::new()
    } else {
        base_dir.split('/').filter(|p| !p.is_empty()).collect()
    };
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(p),
        }
    }
    parts.join("/")
}

impl OuterArchive {
    /// Open the archive at `path`: an OCI layout directory (`oci-dir`), a
    /// plain tar read in place, or a compressed tar spooled (decompressed)
    /// into `tmp_root` first.
    pub(crate) fn open(path: &Path, tmp_root: &Path) -> Result<OuterArchive> {
        let label = path.display().to_string();
        let file = File::open(path).map_err(|e| Error::io(format!("opening {label}"), e))?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            let dir = file
                .try_clone()
                .map_err(|e| Error::io(format!("opening {label}"), e))?;
            return Ok(OuterArchive {
                dir: Some(dir.into()),
                file,
                items: HashMap::new(),
                label,
            });
        }
        Self::from_file(file, label, tmp_root)
    }

    /// An archive in an open file (`load` reading stdin): read in place
    /// when it is a regular file holding a plain tar, else spooled into
    /// `tmp_root` (a pipe cannot be read at offsets; a compressed tar must
    /// be decompressed once). `label` names it in errors.
    pub(crate) fn from_file(file: File, label: String, tmp_root: &Path) -> Result<OuterArchive> {
        let err = |what: &str, e: &dyn std::fmt::Display| {
            Error::new(ErrorKind::InvalidInput, format!("{label}: {what}: {e}"))
                .with_subject(&label)
        };
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        let mut head = [0u8; 6];
        // pread: the tar reader below must start at offset 0.
        let n = if regular {
            std::os::unix::fs::FileExt::read_at(&file, &mut head, 0)
                .map_err(|e| err("reading", &e))?
        } else {
            0
        };
        if regular {
            // The tar reader and the spooler read from the file's offset.
            std::io::Seek::rewind(&mut &file).map_err(|e| err("reading", &e))?;
        }
        let file = if !regular || crate::util::compressed(&head[..n]) {
            crate::spool::spool(file, tmp_root, &label)?
        } else {
            file
        };
        let mut items = HashMap::new();
        {
            let mut ar = tar::Archive::new(&file);
            for ent in ar.entries().map_err(|e| err("reading archive", &e))? {
                let ent = ent.map_err(|e| err("reading archive", &e))?;
                let name = String::from_utf8_lossy(&ent.path_bytes()).into_owned();
                let key = member_key("", &name);
                let dir = key
                    .rsplit_once('/')
                    .map(|(d, _)| d.to_string())
                    .unwrap_or_default();
                match ent.header().entry_type() {
                    tar::EntryType::Regular | tar::EntryType::Continuous => {
                        items.insert(
                            key,
                            Item::File {
                                offset: ent.raw_file_position(),
                                size: ent.size(),
                            },
                        );
                    }
                    // Older `docker save` shares identical layers via symlinks.
                    tar::EntryType::Symlink => {
                        if let Some(t) = ent.link_name_bytes() {
                            items.insert(
                                key,
                                Item::Link(member_key(&dir, &String::from_utf8_lossy(&t))),
                            );
                        }
                    }
                    tar::EntryType::Link => {
                        if let Some(t) = ent.link_name_bytes() {
                            items.insert(
                                key,
                                Item::Link(member_key("", &String::from_utf8_lossy(&t))),
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(OuterArchive {
            file,
            dir: None,
            items,
            label,
        })
    }

    fn err(&self, msg: impl std::fmt::Display) -> Error {
        Error::new(ErrorKind::InvalidInput, format!("{}: {msg}", self.label))
            .with_subject(&self.label)
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        if self.dir.is_some() {
            return self.open_in_dir(name).is_ok();
        }
        self.items.contains_key(&member_key("", name))
    }

    fn open_in_dir(&self, name: &str) -> Result<File> {
        use rustix::fs::{Mode, OFlags, ResolveFlags};
        let dir = self
            .dir
            .as_ref()
            .ok_or_else(|| self.err("not a directory"))?;
        let key = member_key("", name);
        let fd = rustix::fs::openat2(
            dir,
            key.as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| self.err(format!("{name:?}: {e}")))?;
        let f = File::from(fd);
        match f.metadata() {
            Ok(m) if m.is_file() => Ok(f),
            _ => Err(self.err(format!("{name:?} is not a regular file"))),
        }
    }

    /// A reader over member `name` and its size.
    pub(crate) fn reader(&self, name: &str) -> Result<(Box<dyn Read + '_>, u64)> {
        if self.dir.is_some() {
            let f = self.open_in_dir(name)?;
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            return Ok((Box::new(f), size));
        }
        let mut key = member_key("", name);
        for _ in 0..16 {
            match self.items.get(&key) {
                Some(Item::File { offset, size }) => {
                    return Ok((
                        Box::new(SectionReader::new(&self.file, *offset, *size)),
                        *size,
                    ))
                }
                Some(Item::Link(t)) => key = t.clone(),
                None => return Err(self.err(format!("{name:?} is missing from the archive"))),
            }
        }
        Err(self.err(format!("{name:?}: too many levels of links")))
    }

    /// Read a small member fully (JSON documents).
    pub(crate) fn read_small(&self, name: &str) -> Result<Vec<u8>> {
        let (mut r, size) = self.reader(name)?;
        if size > MAX_JSON {
            return Err(self.err(format!("{name:?} is too large ({size} bytes)")));
        }
        let mut v = Vec::with_capacity(size as usize);
        r.read_to_end(&mut v)
            .map_err(|e| self.err(format!("reading {name:?}: {e}")))?;
        Ok(v)
    }

    /// Read blob `digest` from `blobs/sha256/`, verifying digest (and size
    /// when known).
    fn read_blob(&self, digest: &str, size: Option<u64>) -> Result<Vec<u8>> {
        let hex = parse_digest(digest).map_err(|e| self.err(e))?;
        let data = self.read_small(&format!("blobs/sha256/{hex}"))?;
        if sha256_hex(&data) != hex {
            return Err(self.err(format!("blob {digest} does not match its digest")));
        }
        if let Some(s) = size {
            if s != data.len() as u64 {
                return Err(self.err(format!(
                    "blob {digest} has size {} but its descriptor says {s}",
                    data.len()
                )));
            }
        }
        Ok(data)
    }
}

/// One image found in an archive, not yet stored.
pub(crate) struct ImageSource {
    /// Raw config blob; the image ID is its sha256.
    pub config: Vec<u8>,
    /// Manifest digest and raw bytes, when the archive has a real manifest.
    pub manifest: Option<(String, Vec<u8>)>,
    /// Layers, bottom first.
    pub layers: Vec<LayerSource>,
    /// Names as written in the archive (not yet normalized).
    pub names: Vec<String>,
}

/// Where one layer blob is in the archive.
pub(crate) struct LayerSource {
    pub member: String,
    /// Digest of the blob as stored (compressed), when the format gives one.
    pub blob_digest: Option<String>,
}

#[derive(Deserialize)]
struct DockerEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Deserialize, Clone)]
struct Desc {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    annotations: HashMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize, Clone)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Desc>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Desc,
    #[serde(default)]
    layers: Vec<Desc>,
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Parse the archive's image list.
pub(crate) fn parse(ar: &OuterArchive) -> Result<Vec<ImageSource>> {
    if ar.has("manifest.json") {
        parse_docker(ar)
    } else if ar.has("index.json") {
        parse_oci(ar)
    } else {
        Err(ar.err("not a docker-archive or oci-archive (no manifest.json or index.json)"))
    }
}

fn parse_docker(ar: &OuterArchive) -> Result<Vec<ImageSource>> {
    let raw = ar.read_small("manifest.json")?;
    let entries: Vec<DockerEntry> =
        serde_json::from_slice(&raw).map_err(|e| ar.err(format!("invalid manifest.json: {e}")))?;
    if entries.is_empty() {
        return Err(ar.err("manifest.json lists no images"));
    }
    // Docker 25+ also writes an OCI layout: use its real manifests (and so
    // the real manifest digests) when one matches the config.
    let oci: Vec<(String, Vec<u8>, Manifest)> = if ar.has("index.json") {
        oci_manifests(ar)
            .unwrap_or_default()
            .into_iter()
            .map(|(_, d, b, m)| (d, b, m))
            .collect()
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for e in entries {
        let config = ar.read_small(&e.config)?;
        let id = sha256_hex(&config);
        // A content-addressed config path must match what it holds.
        let base = e
            .config
            .rsplit('/')
            .next()
            .unwrap_or("")
            .trim_end_matches(".json");
        if base.len() == 64 && base.bytes().all(|b| b.is_ascii_hexdigit()) && base != id {
            return Err(ar.err(format!("config {} does not match its digest", e.config)));
        }
        let manifest = oci
            .iter()
            .find(|(_, _, m)| m.config.digest == format!("sha256:{id}"))
            .map(|(d, b, _)| (d.clone(), b.clone()));
        let layers = e
            .layers
            .iter()
            .map(|l| LayerSource {
                member: l.clone(),
                blob_digest: blob_digest_of_path(l),
            })
            .collect();
        out.push(ImageSource {
            config,
            manifest,
            layers,
            names: e.repo_tags.unwrap_or_default(),
        });
    }
    Ok(out)
}

/// `blobs/sha256/<hex>` paths are content-addressed: verify them too.
fn blob_digest_of_path(p: &str) -> Option<String> {
    let key = member_key("", p);
    let hex = key.strip_prefix("blobs/sha256/")?;
    Some(format!("sha256:{hex}"))
}

/// The manifests of index.json (one level of nested index followed, picking
/// this machine's platform): (ref name, digest, raw bytes, parsed).
/// One manifest of an OCI index: (ref name, digest, raw bytes, parsed).
type OciManifest = (Option<String>, String, Vec<u8>, Manifest);

fn oci_manifests(ar: &OuterArchive) -> Result<Vec<OciManifest>> {
    let raw = ar.read_small("index.json")?;
    let index: Index =
        serde_json::from_slice(&raw).map_err(|e| ar.err(format!("invalid index.json: {e}")))?;
    let mut out = Vec::new();
    for d in index.manifests {
        let name = d.annotations.get(REF_NAME).cloned();
        let mut desc = d.clone();
        if desc.media_type.contains("index") || desc.media_type.contains("manifest.list") {
            let nested_raw = ar.read_blob(&desc.digest, desc.size)?;
            let nested: Index = serde_json::from_slice(&nested_raw)
                .map_err(|e| ar.err(format!("invalid index {}: {e}", desc.digest)))?;
            let arch = match std::env::consts::ARCH {
                "x86_64" => "amd64",
                "aarch64" => "arm64",
                a => a,
            };
            let pick = nested
                .manifests
                .iter()
                .find(|m| {
                    m.platform
                        .as_ref()
                        .is_some_and(|p| p.architecture == arch && p.os == "linux")
                })
                .or_else(|| nested.manifests.first())
                .cloned()
                .ok_or_else(|| ar.err(format!("index {} lists no manifests", desc.digest)))?;
            desc = pick;
        }
        if !desc.media_type.is_empty() && !desc.media_type.contains("manifest") {
            return Err(ar.err(format!(
                "unsupported manifest media type {:?}",
                desc.media_type
            )));
        }
        let bytes = ar.read_blob(&desc.digest, desc.size)?;
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| ar.err(format!("invalid manifest {}: {e}", desc.digest)))?;
        out.push((name, desc.digest.clone(), bytes, m));
    }
    Ok(out)
}

fn parse_oci(ar: &OuterArchive) -> Result<Vec<ImageSource>> {
    if !ar.has("oci-layout") {
        return Err(ar.err("index.json without oci-layout: not an oci-archive"));
    }
    let mut out = Vec::new();
    for (name, digest, bytes, m) in oci_manifests(ar)? {
        let config = ar.read_blob(&m.config.digest, m.config.size)?;
        let mut layers = Vec::new();
        for l in &m.layers {
            if l.media_type.contains("zstd") {
                return Err(ar.err(format!(
                    "layer {}: zstd compression is not supported",
                    l.digest
                )));
            }
            if l.media_type.contains("encrypted") || l.media_type.contains("nondistributable") {
                return Err(ar.err(format!(
                    "layer {}: unsupported media type {:?}",
                    l.digest, l.media_type
                )));
            }
            let hex = parse_digest(&l.digest).map_err(|e| ar.err(e))?;
            layers.push(LayerSource {
                member: format!("blobs/sha256/{hex}"),
                blob_digest: Some(l.digest.clone()),
            });
        }
        out.push(ImageSource {
            config,
            manifest: Some((digest, bytes)),
            layers,
            names: name.into_iter().collect(),
        });
    }
    if out.is_empty() {
        return Err(ar.err("index.json lists no images"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::member_key;

    #[test]
    fn member_keys_are_lexical() {
        assert_eq!(member_key("", "./a/./b"), "a/b");
        assert_eq!(member_key("x/y", "../z/layer.tar"), "x/z/layer.tar");
        assert_eq!(member_key("x", "/abs"), "abs");
    }
}
