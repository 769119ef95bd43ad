//! `registries.conf` (containers-registries.conf(5), version 2), the parts
//! berth uses: `unqualified-search-registries` for short names and
//! `[[registry]] location/insecure` for plain-HTTP registries, with the
//! drop-ins of containers-registries.conf.d(5) beside the system file.

use std::path::{Path, PathBuf};

use berth_types::{Error, Result};
use serde::Deserialize;

/// The system file Podman reads.
pub const DEFAULT_REGISTRIES_CONF: &str = "/etc/containers/registries.conf";

/// Drop-ins read after the system file, in name order.
pub const DEFAULT_REGISTRIES_CONF_D: &str = "/etc/containers/registries.conf.d";

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

    /// Read `path`; a missing file gives the empty configuration. The
    /// system file also takes its drop-ins; a file named by
    /// `$CONTAINERS_REGISTRIES_CONF` stands alone, so a caller that points
    /// berth at its own file gets only that file.
    pub fn load(path: &Path) -> Result<RegistriesConf> {
        let dropins = (path == Path::new(DEFAULT_REGISTRIES_CONF))
            .then_some(Path::new(DEFAULT_REGISTRIES_CONF_D));
        Self::load_with_dropins(path, dropins)
    }

    /// Read `path`, then every `*.conf` in `dropins` in name order: a
    /// drop-in that sets `unqualified-search-registries` replaces the list,
    /// and its `[[registry]]` tables replace those of the same location.
    pub fn load_with_dropins(path: &Path, dropins: Option<&Path>) -> Result<RegistriesConf> {
        let mut conf: RegistriesConf = parse(path)?.unwrap_or_default();
        conf.path = path.to_path_buf();
        let mut files: Vec<PathBuf> = dropins
            .and_then(|d| std::fs::read_dir(d).ok())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
        files.sort();
        for file in files {
            let Some(d) = parse::<DropIn>(&file)? else {
                continue;
            };
            if let Some(list) = d.unqualified_search_registries {
                conf.unqualified_search_registries = list;
            }
            for entry in d.registry {
                conf.registry.retain(|r| r.key() != entry.key());
                conf.registry.push(entry);
            }
        }
        Ok(conf)
    }

    /// Whether `registry` (`host[:port]`) is marked `insecure = true`.
    pub fn insecure(&self, registry: &str) -> bool {
        self.registry
            .iter()
            .any(|r| r.insecure && r.key().split('/').next() == Some(registry))
    }
}

impl RegistryEntry {
    /// What the entry applies to: its `location`, else its `prefix`.
    fn key(&self) -> &str {
        if self.location.is_empty() {
            &self.prefix
        } else {
            &self.location
        }
    }
}

/// A drop-in: like the main file, but a list it does not set is left alone.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct DropIn {
    unqualified_search_registries: Option<Vec<String>>,
    #[serde(default)]
    registry: Vec<RegistryEntry>,
}

/// Parse the TOML file at `path`; `None` when it does not exist.
fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    toml::from_str(&text).map(Some).map_err(|e| {
        Error::invalid(format!(
            "{}: {}",
            path.display(),
            e.message().trim().replace('\n', "; ")
        ))
    })
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

    #[test]
    fn dropins_override_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("registries.conf");
        let d = dir.path().join("registries.conf.d");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(
            &main,
            "unqualified-search-registries = [\"a.io\"]\n\
             [[registry]]\nlocation = \"a.io\"\ninsecure = true\n",
        )
        .unwrap();
        // No list here: a.io stays searched, but is no longer insecure.
        std::fs::write(
            d.join("10-a.conf"),
            "[[registry]]\nlocation = \"a.io\"\ninsecure = false\n",
        )
        .unwrap();
        std::fs::write(
            d.join("20-b.conf"),
            "unqualified-search-registries = [\"b.io\", \"a.io\"]\n\
             [[registry]]\nprefix = \"b.io\"\ninsecure = true\n",
        )
        .unwrap();
        std::fs::write(d.join("ignored.txt"), "not toml [").unwrap();
        let c = RegistriesConf::load_with_dropins(&main, Some(&d)).unwrap();
        assert_eq!(c.unqualified_search_registries, ["b.io", "a.io"]);
        assert!(!c.insecure("a.io"));
        assert!(c.insecure("b.io"));
        // A file named explicitly stands alone.
        let alone = RegistriesConf::load(&main).unwrap();
        assert_eq!(alone.unqualified_search_registries, ["a.io"]);
        assert!(alone.insecure("a.io"));
    }
}
