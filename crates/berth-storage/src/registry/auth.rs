//! Credentials in Podman's `auth.json` format:
//! `{"auths": {"host:port": {"auth": base64("user:password")}}}`.
//!
//! Keys may also name a namespace (`host/team`); the most specific key
//! matching a repository wins, as in containers/image. Other top-level keys
//! (`credHelpers`, ...) are kept untouched when berth rewrites the file.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use berth_types::{Error, Result};
use serde_json::{Map, Value};

/// A user name and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    /// Parse `--creds user:password` (the password may contain `:`).
    pub fn parse(s: &str) -> Result<Credentials> {
        match s.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok(Credentials {
                username: u.to_string(),
                password: p.to_string(),
            }),
            _ => Err(Error::invalid(
                "--creds must be USERNAME:PASSWORD with a non-empty user name",
            )),
        }
    }
}

/// The auth file Podman uses when none is given: `$REGISTRY_AUTH_FILE`,
/// else `/run/containers/<uid>/auth.json` (root) or
/// `$XDG_RUNTIME_DIR/containers/auth.json`.
pub fn default_auth_file() -> PathBuf {
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    let uid = rustix::process::geteuid().as_raw();
    if uid != 0 {
        if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            return Path::new(&x).join("containers/auth.json");
        }
    }
    PathBuf::from(format!("/run/containers/{uid}/auth.json"))
}

fn read(path: &Path) -> Result<Map<String, Value>> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::invalid(format!(
            "{}: not a JSON object",
            path.display()
        ))),
        Err(e) => Err(Error::invalid(format!("{}: {e}", path.display()))),
    }
}

fn decode(entry: &Value) -> Option<Credentials> {
    let raw = entry.get("auth")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .ok()?;
    Credentials::parse(std::str::from_utf8(&bytes).ok()?).ok()
}

/// Strip a scheme and trailing path from an auth.json key written by other
/// tools (`https://index.docker.io/v1/` → `index.docker.io`).
fn normalize_key(k: &str) -> String {
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    let k = k.trim_end_matches('/');
    let k = k
        .strip_suffix("/v1")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k);
    if k == "index.docker.io" || k == "registry-1.docker.io" {
        "docker.io".to_string()
    } else {
        k.to_string()
    }
}

/// Credentials for `repo` (`host[:port]/path`) in `path`: the longest key
/// that is the registry or a namespace prefix of the repository.
pub fn lookup(path: &Path, repo: &str) -> Result<Option<Credentials>> {
    let file = read(path)?;
    let Some(Value::Object(auths)) = file.get("auths") else {
        return Ok(None);
    };
    let mut best: Option<(usize, Credentials)> = None;
    for (k, v) in auths {
        let key = normalize_key(k);
        let hit = repo == key || repo.starts_with(&format!("{key}/"));
        if hit && best.as_ref().is_none_or(|(n, _)| key.len() > *n) {
            if let Some(c) = decode(v) {
                best = Some((key.len(), c));
            }
        }
    }
    Ok(best.map(|(_, c)| c))
}

/// Write `key` → `creds` into the file (created 0600 in a 0700 directory).
pub fn store(path: &Path, key: &str, creds: &Credentials) -> Result<()> {
    let mut file = read(path)?;
    let auths = file
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", creds.username, creds.password));
    auths
        .as_object_mut()
        .expect("auths is an object")
        .insert(key.to_string(), serde_json::json!({ "auth": token }));
    write(path, &file)
}

/// Remove `key` (or every entry with `all`). Returns whether anything was
/// removed.
pub fn remove(path: &Path, key: Option<&str>) -> Result<bool> {
    let mut file = read(path)?;
    let removed = match (file.get_mut("auths"), key) {
        (Some(Value::Object(auths)), Some(k)) => {
            let before = auths.len();
            auths.retain(|name, _| normalize_key(name) != k);
            auths.len() != before
        }
        (Some(Value::Object(auths)), None) => {
            let any = !auths.is_empty();
            auths.clear();
            any
        }
        _ => false,
    };
    if removed {
        write(path, &file)?;
    }
    Ok(removed)
}

fn write(path: &Path, file: &Map<String, Value>) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let text = serde_json::to_vec_pretty(&Value::Object(file.clone()))
        .map_err(|e| Error::internal(format!("encoding auth file: {e}")))?;
    crate::save::atomic_write(path, |w| {
        use std::io::Write;
        w.write_all(&text)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        w.get_ref()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(u: &str, p: &str) -> Credentials {
        Credentials {
            username: u.into(),
            password: p.into(),
        }
    }

    #[test]
    fn store_lookup_remove_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sub/auth.json");
        assert_eq!(lookup(&f, "localhost:5000/x").unwrap(), None);
        store(&f, "localhost:5000", &creds("u", "p:w")).unwrap();
        store(&f, "localhost:5000/team", &creds("t", "q")).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.contains("\"auths\""), "{text}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            lookup(&f, "localhost:5000/x").unwrap(),
            Some(creds("u", "p:w"))
        );
        assert_eq!(
            lookup(&f, "localhost:5000/team/img").unwrap(),
            Some(creds("t", "q"))
        );
        assert_eq!(lookup(&f, "localhost:50001/x").unwrap(), None);
        assert!(remove(&f, Some("localhost:5000")).unwrap());
        assert!(!remove(&f, Some("localhost:5000")).unwrap());
        assert!(remove(&f, None).unwrap());
        assert_eq!(lookup(&f, "localhost:5000/team/img").unwrap(), None);
    }

    #[test]
    fn reads_docker_style_keys_and_keeps_other_fields() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.json");
        std::fs::write(
            &f,
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"YTpi"}},"credHelpers":{"x":"y"}}"#,
        )
        .unwrap();
        assert_eq!(
            lookup(&f, "docker.io/library/busybox").unwrap(),
            Some(creds("a", "b"))
        );
        store(&f, "quay.io", &creds("c", "d")).unwrap();
        assert!(std::fs::read_to_string(&f).unwrap().contains("credHelpers"));
    }

    #[test]
    fn creds_flag() {
        assert_eq!(Credentials::parse("a:b:c").unwrap(), creds("a", "b:c"));
        assert!(Credentials::parse(":b").is_err());
        assert!(Credentials::parse("ab").is_err());
    }
}
