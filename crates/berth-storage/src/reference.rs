//! Image name normalization, Podman/Docker style.
//!
//! `busybox` → `docker.io/library/busybox:latest`,
//! `localhost/busybox` → `localhost/busybox:latest`,
//! `quay.io/a/b:1` unchanged. A first component is a registry when it has a
//! `.` or `:` or is `localhost` (docker/distribution's rule).

use berth_types::{Error, Result};

/// A parsed, normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host (`docker.io`, `localhost`, `quay.io:443`).
    pub domain: String,
    /// Repository path (`library/busybox`).
    pub path: String,
    /// Tag, if given (`latest` is filled in by [`Reference::to_string`] only
    /// when there is neither tag nor digest).
    pub tag: Option<String>,
    /// Digest `sha256:<hex>`, if given.
    pub digest: Option<String>,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        match (&self.tag, &self.digest) {
            (Some(t), Some(d)) => write!(f, ":{t}@{d}"),
            (Some(t), None) => write!(f, ":{t}"),
            (None, Some(d)) => write!(f, "@{d}"),
            (None, None) => write!(f, ":latest"),
        }
    }
}

/// Parts of a reference as the user wrote it (before normalization).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parts {
    pub domain: Option<String>,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

fn invalid(s: &str, why: &str) -> Error {
    Error::invalid(format!("invalid reference format {s:?}: {why}")).with_subject(s)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
        && b[b.len() - 1].is_ascii_lowercase() | b[b.len() - 1].is_ascii_digit()
        && b.iter().all(|&x| {
            x.is_ascii_lowercase() || x.is_ascii_digit() || x == b'.' || x == b'_' || x == b'-'
        })
        && !c.contains("..")
        && !c.contains("___")
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || x == b'_' || x == b'.' || x == b'-')
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.bytes().all(|x| {
            x.is_ascii_alphanumeric()
                || x == b'.'
                || x == b'-'
                || x == b':'
                || x == b'['
                || x == b']'
        })
}

/// Split and validate without applying defaults.
pub(crate) fn split(s: &str) -> Result<Parts> {
    if s.is_empty() {
        return Err(invalid(s, "empty"));
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => {
            crate::util::parse_digest(d).map_err(|e| invalid(s, &e))?;
            (r, Some(d.to_string()))
        }
        None => (s, None),
    };
    let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (
            &rest[..last_slash + i],
            Some(rest[last_slash + i + 1..].to_string()),
        ),
        None => (rest, None),
    };
    if let Some(t) = &tag {
        if !valid_tag(t) {
            return Err(invalid(s, "bad tag"));
        }
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, remainder))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            if !valid_domain(first) {
                return Err(invalid(s, "bad registry"));
            }
            (Some(first.to_string()), remainder.to_string())
        }
        _ => (None, name.to_string()),
    };
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(invalid(s, "repository name must be lowercase"));
    }
    if !path.split('/').all(valid_component) {
        return Err(invalid(s, "bad repository name"));
    }
    Ok(Parts {
        domain,
        path,
        tag,
        digest,
    })
}

/// Parse and normalize a reference.
pub fn parse(s: &str) -> Result<Reference> {
    let p = split(s)?;
    let (domain, path) = match p.domain.as_deref() {
        None | Some("index.docker.io") | Some("docker.io") => {
            let path = if p.path.contains('/') {
                p.path
            } else {
                format!("library/{}", p.path)
            };
            ("docker.io".to_string(), path)
        }
        Some(d) => (d.to_string(), p.path),
    };
    Ok(Reference {
        domain,
        path,
        tag: p.tag,
        digest: p.digest,
    })
}

/// Normalize a name to its full form (`busybox` → `docker.io/library/busybox:latest`).
pub fn normalize(s: &str) -> Result<String> {
    Ok(parse(s)?.to_string())
}

/// Normalize a name Podman's way for names berth gives images itself
/// (`tag`, `commit`, `import`): a name without a registry goes to
/// `localhost/` (`myimg` → `localhost/myimg:latest`), not to Docker Hub.
pub fn normalize_local(s: &str) -> Result<String> {
    if is_short_name(s) {
        normalize(&format!("localhost/{s}"))
    } else {
        normalize(s)
    }
}

/// True when `s` names no registry (`busybox`, `foo/bar:1`), i.e. it is a
/// short name that may match a stored image from any registry.
pub fn is_short_name(s: &str) -> bool {
    matches!(split(s), Ok(Parts { domain: None, .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_podman() {
        assert_eq!(
            normalize("busybox").unwrap(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            normalize("busybox:1.36").unwrap(),
            "docker.io/library/busybox:1.36"
        );
        assert_eq!(
            normalize("docker.io/busybox").unwrap(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            normalize("localhost/busybox").unwrap(),
            "localhost/busybox:latest"
        );
        assert_eq!(normalize("quay.io/a/b:1").unwrap(), "quay.io/a/b:1");
        assert_eq!(
            normalize("localhost:5000/x/y").unwrap(),
            "localhost:5000/x/y:latest"
        );
        assert_eq!(normalize("foo/bar").unwrap(), "docker.io/foo/bar:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            normalize(&format!("quay.io/a/b@{d}")).unwrap(),
            format!("quay.io/a/b@{d}")
        );
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "Busybox",
            "a//b",
            "a:",
            "a@sha256:../../x",
            "-a",
            "a/../b",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn local_names() {
        assert_eq!(normalize_local("myimg").unwrap(), "localhost/myimg:latest");
        assert_eq!(normalize_local("a/b:1").unwrap(), "localhost/a/b:1");
        assert_eq!(
            normalize_local("docker.io/busybox").unwrap(),
            "docker.io/library/busybox:latest"
        );
        assert!(normalize_local("Bad").is_err());
    }

    #[test]
    fn short_names() {
        assert!(is_short_name("busybox"));
        assert!(is_short_name("busybox:1"));
        assert!(is_short_name("foo/busybox"));
        assert!(!is_short_name("localhost/busybox"));
        assert!(!is_short_name("quay.io/busybox"));
    }
}
