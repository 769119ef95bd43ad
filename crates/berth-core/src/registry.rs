//! Registry operations of the engine: pull, push, login/logout and the
//! `--pull` policy of `create`/`run`. The transfer itself lives in
//! `berth_storage::registry`; this module holds the rules around it.

use berth_storage::registry::{self, ManifestFormat, ProgressFn, RegistryOptions};
use berth_storage::{reference, ImageInfo};
use berth_types::{Error, ErrorKind, Result};

use crate::Runtime;

/// When `create`/`run` pull their image (Podman's `--pull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// Pull only when the image is not stored (the default).
    #[default]
    Missing,
    /// Always pull (a stored image is replaced if the registry has newer).
    Always,
    /// Never pull: a missing image is an error.
    Never,
    /// Pull, but keep using the stored image if the pull fails.
    Newer,
}

impl PullPolicy {
    /// Parse Podman's `--pull` value.
    pub fn parse(s: &str) -> Result<PullPolicy> {
        match s {
            "missing" | "ifmissing" | "" => Ok(PullPolicy::Missing),
            "always" | "true" => Ok(PullPolicy::Always),
            "never" | "false" => Ok(PullPolicy::Never),
            "newer" | "ifnewer" => Ok(PullPolicy::Newer),
            o => Err(Error::invalid(format!(
                "invalid pull policy {o:?}: use missing, always, never or newer"
            ))),
        }
    }
}

impl Runtime {
    /// Pull `name` from its registry (short names through registries.conf).
    pub fn pull_image(
        &self,
        name: &str,
        opts: &RegistryOptions,
        progress: ProgressFn<'_>,
    ) -> Result<ImageInfo> {
        self.images()?.pull(name, opts, progress)
    }

    /// Push stored image `name` to `dest` (default: `name` itself).
    /// Returns the pushed manifest's digest.
    pub fn push_image(
        &self,
        name: &str,
        dest: Option<&str>,
        opts: &RegistryOptions,
        format: ManifestFormat,
        progress: ProgressFn<'_>,
    ) -> Result<String> {
        let image = self.lookup_image(name)?;
        let dest = match dest {
            Some(d) => d.to_string(),
            // A short name the user typed means the stored name it matched.
            None if reference::is_short_name(name) => {
                stored_name_for(&image, name).unwrap_or_else(|| name.to_string())
            }
            None => name.to_string(),
        };
        self.images()?.push(&image, &dest, opts, format, progress)
    }

    /// The image `create`/`run` should use for `name` under `policy`,
    /// pulling it when the policy says so. Returns the image and whether
    /// it was pulled.
    pub fn image_for_create(
        &self,
        name: &str,
        policy: PullPolicy,
        opts: &RegistryOptions,
        progress: ProgressFn<'_>,
    ) -> Result<(ImageInfo, bool)> {
        let local = match self.lookup_image(name) {
            Ok(i) => Some(i),
            Err(e) if e.kind == ErrorKind::NoSuchImage => None,
            Err(e) => return Err(e),
        };
        match (policy, local) {
            (PullPolicy::Never, None) => Err(Error::no_such_image(name)),
            (PullPolicy::Never | PullPolicy::Missing, Some(i)) => Ok((i, false)),
            (PullPolicy::Newer, Some(i)) => Ok(match self.pull_image(name, opts, progress) {
                Ok(p) => (p, true),
                Err(_) => (i, false),
            }),
            (PullPolicy::Missing | PullPolicy::Always | PullPolicy::Newer, _) => {
                Ok((self.pull_image(name, opts, progress)?, true))
            }
        }
    }
}

/// The stored name of `image` that short name `short` matched
/// (`busybox` → `localhost:5000/busybox:latest`).
fn stored_name_for(image: &ImageInfo, short: &str) -> Option<String> {
    let last = short.rsplit('/').next().unwrap_or(short);
    let with_tag = if last.contains(':') {
        short.to_string()
    } else {
        format!("{short}:latest")
    };
    let suffix = format!("/{with_tag}");
    image.names.iter().find(|n| n.ends_with(&suffix)).cloned()
}

/// Docker's transport default for a registry: one on the loopback
/// (`localhost:PORT`, `127.0.0.0/8`, `[::1]`) is reached over plain HTTP
/// (`Some(false)`, as `--tls-verify=false`); any other as registries.conf
/// says (`None`). The Docker API's pull and push use it: Docker clients
/// have no per-request TLS switch and count on this rule.
pub fn docker_tls_verify(name: &str) -> Option<bool> {
    let r = reference::parse(name).ok()?;
    let host = match r.domain.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => r.domain.as_str(),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback.then_some(false)
}

/// Check credentials against `registry` and save them (Podman's `login`).
/// Returns the auth-file key used.
pub fn login(
    registry: &str,
    creds: &registry::Credentials,
    opts: &RegistryOptions,
) -> Result<String> {
    registry::login(registry, creds, opts)
}

/// Check credentials against `registry` without saving them (the Docker
/// API's `/auth`). Returns the registry's auth-file key.
pub fn check_login(
    registry: &str,
    creds: &registry::Credentials,
    opts: &RegistryOptions,
) -> Result<String> {
    registry::check_login(registry, creds, opts)
}

/// Forget the credentials of `registry`, or of every registry with `None`.
pub fn logout(registry: Option<&str>, opts: &RegistryOptions) -> Result<()> {
    registry::logout(registry, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_plain_http_for_docker_clients() {
        assert_eq!(
            docker_tls_verify("127.0.0.1:5000/busybox:latest"),
            Some(false)
        );
        assert_eq!(docker_tls_verify("localhost:5000/a/b"), Some(false));
        assert_eq!(docker_tls_verify("127.3.4.5:80/x"), Some(false));
        assert_eq!(docker_tls_verify("quay.io/x/y:1"), None);
        assert_eq!(docker_tls_verify("busybox"), None);
        assert_eq!(docker_tls_verify("10.0.0.1:5000/x"), None);
    }
}
