//! Per-container named artifacts: small blobs stored with the container
//! (under its directory in the root, so they go when it is removed). An
//! add replaces atomically (temp file + rename); every operation takes the
//! container's lock like any other.

use super::Container;
use berth_types::{Error, Result};
use std::path::PathBuf;

/// Longest artifact name.
const MAX_NAME: usize = 128;

/// Artifact names are single path components of safe characters, so a
/// name can never point outside the container's artifact directory.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid artifact name {name:?}: use letters, digits, '.', '_' and '-' (not leading '.'), at most {MAX_NAME}"
        )))
    }
}

impl Container<'_> {
    fn artifact_dir(&self) -> PathBuf {
        self.rt.paths.container_dir(&self.id).join("artifacts")
    }

    /// Store `data` as artifact `name`, replacing any previous one.
    pub fn artifact_add(&self, name: &str, data: &[u8]) -> Result<()> {
        check_name(name)?;
        let _locked = self.lock()?;
        let dir = self.artifact_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, data).map_err(|e| Error::io(format!("writing artifact {name}"), e))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(format!("syncing artifact {name}"), e))?;
        std::fs::rename(&tmp, dir.join(name))
            .map_err(|e| Error::io(format!("storing artifact {name}"), e))
    }

    /// The artifact `name`.
    pub fn artifact_get(&self, name: &str) -> Result<Vec<u8>> {
        check_name(name)?;
        let _locked = self.lock()?;
        std::fs::read(self.artifact_dir().join(name)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::invalid(format!(
                "container {} has no artifact {name:?}",
                &self.id[..12]
            ))
            .with_subject(&self.id),
            _ => Error::io(format!("reading artifact {name}"), e),
        })
    }

    /// Remove the artifact `name` (absent is not an error).
    pub fn artifact_remove(&self, name: &str) -> Result<()> {
        check_name(name)?;
        let _locked = self.lock()?;
        match std::fs::remove_file(self.artifact_dir().join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io(format!("removing artifact {name}"), e))
            }
            _ => Ok(()),
        }
    }

    /// Names of all artifacts, sorted.
    pub fn artifacts(&self) -> Result<Vec<String>> {
        let _locked = self.lock()?;
        let mut names: Vec<String> = match std::fs::read_dir(self.artifact_dir()) {
            Ok(rd) => rd
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        for ok in ["a", "checkpoint.tar", "x-1_2"] {
            assert!(super::check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "../x", "a/b", ".hidden", &"x".repeat(200)] {
            assert!(super::check_name(bad).is_err(), "{bad}");
        }
    }
}
