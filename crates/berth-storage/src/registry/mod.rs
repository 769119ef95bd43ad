//! Registries: `pull`, `push`, `login`/`logout` over the OCI distribution
//! API with `oci-client`.
//!
//! Pulls never buffer a layer in memory: each blob is streamed into a file
//! under the store's `tmp/` while oci-client verifies its digest, then fed
//! through the same root-confined extraction as `load` (`Store::stage_layer`)
//! and registered with the image in one transaction, so an interrupted or
//! rejected pull leaves no image and nothing `tmp/` sweeping will not
//! remove. Layers whose diff ID is already stored are never fetched.

pub mod auth;
mod client;
pub mod conf;
mod login;
mod manifest;
mod pull;
mod push;

use std::path::PathBuf;

use berth_types::{Error, ErrorKind, Result};

pub use auth::{default_auth_file, Credentials};
pub use conf::RegistriesConf;
pub use login::{check_login, login, logout};

use crate::reference::{self, Reference};
use crate::{ImageInfo, Store};

/// How to reach registries (Podman's `--tls-verify`, `--authfile`,
/// `--creds`) and where `registries.conf` is.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// `Some(false)`: plain HTTP. `None`: as registries.conf says (HTTPS
    /// unless the registry is `insecure`).
    pub tls_verify: Option<bool>,
    /// Auth file; `None` is [`default_auth_file`].
    pub auth_file: Option<PathBuf>,
    /// Credentials given on the command line (they win over the auth file).
    pub creds: Option<Credentials>,
    /// registries.conf to read; `None` is [`RegistriesConf::default_path`].
    pub registries_conf: Option<PathBuf>,
}

impl RegistryOptions {
    /// The auth file these options use.
    pub fn auth_file(&self) -> PathBuf {
        self.auth_file.clone().unwrap_or_else(default_auth_file)
    }

    fn conf(&self) -> Result<RegistriesConf> {
        let path = self
            .registries_conf
            .clone()
            .unwrap_or_else(RegistriesConf::default_path);
        RegistriesConf::load(&path)
    }
}

/// What a transfer is doing, for progress display. Digests are full
/// `sha256:<hex>` strings.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// Pulling from this fully qualified name (Podman's "Trying to pull").
    Trying(&'a str),
    /// A blob transfer starts; `size` in bytes.
    BlobStart {
        /// The blob.
        digest: &'a str,
        /// Its size in bytes.
        size: u64,
    },
    /// `n` more bytes of the blob went over the wire.
    BlobBytes {
        /// The blob.
        digest: &'a str,
        /// Bytes since the last report.
        n: u64,
    },
    /// The blob is complete (and verified, for pulls).
    BlobDone {
        /// The blob.
        digest: &'a str,
    },
    /// Nothing to transfer: the layer is stored / the registry has it.
    BlobSkipped {
        /// The blob.
        digest: &'a str,
    },
    /// The config blob was transferred.
    Config {
        /// The config's digest.
        digest: &'a str,
    },
    /// The manifest is being written.
    WritingManifest,
}

/// A progress sink; called from the thread running the transfer.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress<'_>) + Sync);

/// A progress sink that ignores everything.
pub fn no_progress(_: Progress<'_>) {}

/// The fully qualified names to try for `name`: itself when it names a
/// registry, else one per `unqualified-search-registries` entry.
pub fn pull_candidates(name: &str, conf: &RegistriesConf) -> Result<Vec<Reference>> {
    if !reference::is_short_name(name) {
        let r = reference::parse(name)?;
        if r.domain == "localhost" {
            return Err(Error::new(
                ErrorKind::NoSuchImage,
                format!("{r}: image not known (localhost/ images are local and never pulled)"),
            )
            .with_subject(name));
        }
        return Ok(vec![r]);
    }
    reference::parse(name)?;
    if conf.unqualified_search_registries.is_empty() {
        return Err(Error::new(
            ErrorKind::NoSuchImage,
            format!(
                "short-name {name:?} did not resolve to an alias and no unqualified-search registries are defined in {:?}",
                conf.path.display().to_string()
            ),
        )
        .with_subject(name));
    }
    conf.unqualified_search_registries
        .iter()
        .map(|reg| reference::parse(&format!("{reg}/{name}")))
        .collect()
}

impl Store {
    /// Pull `name` (resolving a short name through registries.conf) and
    /// store it. Returns the stored image; its names include the fully
    /// qualified name it was pulled as.
    pub fn pull(
        &self,
        name: &str,
        opts: &RegistryOptions,
        progress: ProgressFn<'_>,
    ) -> Result<ImageInfo> {
        let name = name.strip_prefix("docker://").unwrap_or(name);
        let conf = opts.conf()?;
        let candidates = pull_candidates(name, &conf)?;
        let mut errors: Vec<Error> = Vec::new();
        for r in &candidates {
            progress(Progress::Trying(&r.to_string()));
            match pull::pull_one(self, r, opts, &conf, progress) {
                Ok(img) => return Ok(img),
                // A broken image is not a reason to try another registry.
                Err(e)
                    if candidates.len() == 1
                        || e.kind == ErrorKind::InvalidInput && !is_auth(&e) =>
                {
                    return Err(e.with_subject(name))
                }
                Err(e) => errors.push(e),
            }
        }
        let all_unknown = errors.iter().all(|e| e.kind == ErrorKind::NoSuchImage);
        let msgs: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
        Err(Error::new(
            if all_unknown {
                ErrorKind::NoSuchImage
            } else {
                ErrorKind::Io
            },
            format!(
                "pulling {name:?} from the unqualified-search registries failed: {}",
                msgs.join("; ")
            ),
        )
        .with_subject(name))
    }

    /// Push stored image `image` to `dest` (a fully qualified reference).
    /// Returns the manifest digest.
    pub fn push(
        &self,
        image: &ImageInfo,
        dest: &str,
        opts: &RegistryOptions,
        format: ManifestFormat,
        progress: ProgressFn<'_>,
    ) -> Result<String> {
        let dest = dest.strip_prefix("docker://").unwrap_or(dest);
        if reference::is_short_name(dest) {
            return Err(Error::invalid(format!(
                "push destination {dest:?} names no registry: give a fully qualified name (registry.example/{dest})"
            ))
            .with_subject(dest));
        }
        let r = reference::parse(dest)?;
        if r.domain == "localhost" {
            return Err(Error::invalid(format!(
                "{r}: localhost/ names are local; push to a registry (host:port/{})",
                r.path
            ))
            .with_subject(dest));
        }
        push::push(self, image, &r, opts, &opts.conf()?, format, progress)
    }
}

/// Manifest type written by `push`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManifestFormat {
    /// OCI image manifest (Podman's default for images it built).
    #[default]
    Oci,
    /// Docker image manifest v2 schema 2.
    V2s2,
}

impl ManifestFormat {
    /// Parse Podman's `--format` value for push.
    pub fn parse(s: &str) -> Result<ManifestFormat> {
        match s {
            "oci" => Ok(ManifestFormat::Oci),
            "v2s2" | "docker" => Ok(ManifestFormat::V2s2),
            "v2s1" => Err(Error::invalid("manifest format v2s1 is not supported")),
            o => Err(Error::invalid(format!(
                "unknown manifest format {o:?}: use oci or v2s2"
            ))),
        }
    }
}

fn is_auth(e: &Error) -> bool {
    e.message.contains("authentication")
}

/// A tokio runtime for one registry operation. Current-thread: the work
/// that needs CPU (extraction, compression) runs on scoped threads.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the registry client runtime", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_follow_the_search_list() {
        let conf = RegistriesConf {
            unqualified_search_registries: vec!["localhost:5000".into(), "docker.io".into()],
            ..Default::default()
        };
        let c: Vec<String> = pull_candidates("busybox:1", &conf)
            .unwrap()
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(
            c,
            ["localhost:5000/busybox:1", "docker.io/library/busybox:1"]
        );
        let full = pull_candidates("quay.io/a/b", &conf).unwrap();
        assert_eq!(full[0].to_string(), "quay.io/a/b:latest");
        let e = pull_candidates("localhost/busybox", &conf).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NoSuchImage);
        let e = pull_candidates("busybox", &RegistriesConf::default()).unwrap_err();
        assert!(e.message.contains("unqualified-search"), "{e}");
    }
}
