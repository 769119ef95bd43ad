//! `registries.conf` (containers-registries.conf(5), version 2), the parts
//! berth uses: `unqualified-search-registries` for short names and
//! `[[registry]] location/insecure` for plain-HTTP registries.

use std::path::{Path, PathBuf};

use berth_types::{Error, Result};
use serde::Deserialize;

/// The system file Podman reads.
pub const DEFAULT_REGISTRIES_CONF: &str = "/etc/containers/registries.conf";

/// The parsed file; a missing file is an empty configuration.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RegistriesConf {
    /// Registries tried, in order, for a name without a registry.
    #[serde(default)]
    pub unqualified_search_registries: Vec<String>,
    /// Per-registry settings.
    #[serde(default)]
    pub registry: Vec<RegistryEntry>,
    /// Where it was read from (for messages).
    #[serde(skip)]
    pub path: PathBuf,
}

/// One `[[registry]]` table.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct RegistryEntry {
    /// `host[:port][/namespace]` the entry applies to.
    #[serde(default)]
    pub location: String,
    /// Alternative spelling of `location` used by some files.
    #[serde(default)]
    pub prefix: String,
    /// Talk plain HTTP (or unverified TLS) to this registry.
    #[serde(default)]
    pub insecure: bool,
}

impl RegistriesConf {
    /// The file Podman would read: `$CONTAINERS_REGISTRIES_CONF`, else the
    /// system file.
    pub fn default_path() -> PathBuf {
        std::env::var_os("CONTAINERS_REGISTRIES_CONF")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_REGISTRIES_CONF))
    }

    /// Read `path`; a missing file gives the empty configuration.
    pub fn load(path: &Path) -> Result<RegistriesConf> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(RegistriesConf {
                    path: path.to_path_buf(),
                    ..Default::default()
                })
            }
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        let mut conf: RegistriesConf = toml::from_str(&text).map_err(|e| {
            Error::invalid(format!(
                "{}: {}",
                path.display(),
                e.message().trim().replace('\n', "; ")
            ))
        })?;
        conf.path = path.to_path_buf();
        Ok(conf)
    }

    /// Whether `registry` (`host[:port]`) is marked `insecure = true`.
    pub fn insecure(&self, registry: &str) -> bool {
        self.registry.iter().any(|r| {
            let loc = if r.location.is_empty() {
                &r.prefix
            } else {
                &r.location
            };
            r.insecure && loc.split('/').next() == Some(registry)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_search_list_and_insecure_registries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.conf");
        std::fs::write(
            &p,
            "unqualified-search-registries = [\"localhost:5000\", \"docker.io\"]\n\
             short-name-mode = \"permissive\"\n\
             [[registry]]\nlocation = \"localhost:5000\"\ninsecure = true\n",
        )
        .unwrap();
        let c = RegistriesConf::load(&p).unwrap();
        assert_eq!(
            c.unqualified_search_registries,
            ["localhost:5000", "docker.io"]
        );
        assert!(c.insecure("localhost:5000"));
        assert!(!c.insecure("docker.io"));
        let missing = RegistriesConf::load(&dir.path().join("nope")).unwrap();
        assert!(missing.unqualified_search_registries.is_empty());
        std::fs::write(&p, "unqualified-search-registries = 3").unwrap();
        assert!(RegistriesConf::load(&p).is_err());
    }
}
