//! The `Runtime`: one engine instance over a `--root`/`--runroot` pair. It
//! owns the state store, the lock manager, image storage (opened lazily:
//! `ps` never needs it) and the OCI runtime choice.

use crate::container::Container;
use crate::paths::{Paths, DEFAULT_ROOT, DEFAULT_RUNROOT};
use berth_lock::{FileLockManager, LockManager};
use berth_oci::{find_binary, select_runtime, RuntimeCli};
use berth_state::{SqliteStore, StateStore};
use berth_types::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// How to open a [`Runtime`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Persistent root (`--root`), default `/var/lib/berth`.
    pub root: Option<PathBuf>,
    /// Runtime root (`--runroot`), default `/run/berth`.
    pub runroot: Option<PathBuf>,
    /// OCI runtime name or path (`--runtime`): crun where it works, else runc.
    pub runtime: Option<String>,
    /// Path of `berth-mon`; found beside the running binary or on the usual
    /// paths when absent.
    pub monitor_binary: Option<PathBuf>,
    /// Path of the `berth` CLI the monitor calls as its exit command; found
    /// beside `berth-mon` when absent.
    pub berth_binary: Option<PathBuf>,
    /// Directories of OCI hook files (`--hooks-dir`). Empty: the
    /// colon-separated `BERTH_HOOKS_DIR` when set, else Podman's defaults
    /// (`/usr/share/containers/oci/hooks.d`, `/etc/containers/oci/hooks.d`).
    pub hooks_dirs: Vec<PathBuf>,
}

/// An open engine. Cheap to create: the database is opened, nothing else.
pub struct Runtime {
    pub(crate) paths: Paths,
    pub(crate) store: Box<dyn StateStore>,
    pub(crate) locks: Box<dyn LockManager>,
    images: OnceLock<berth_storage::Store>,
    pub(crate) oci: RuntimeCli,
    pub(crate) monitor_binary: PathBuf,
    pub(crate) berth_binary: PathBuf,
    pub(crate) hooks_dirs: Vec<PathBuf>,
    warnings: Vec<String>,
    runtime_note: Option<String>,
}

/// Directories searched for berth's own binaries after the running binary's.
const BIN_DIRS: [&str; 3] = ["/usr/local/bin", "/usr/bin", "/usr/libexec/berth"];

fn find_own_binary(name: &str) -> PathBuf {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)));
    beside
        .into_iter()
        .chain(BIN_DIRS.iter().map(|d| Path::new(d).join(name)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// The hook directories to use: the configured ones, else
/// `BERTH_HOOKS_DIR`, else Podman's defaults.
fn hooks_dirs(configured: Vec<PathBuf>) -> Vec<PathBuf> {
    if !configured.is_empty() {
        return configured;
    }
    match std::env::var_os("BERTH_HOOKS_DIR").filter(|v| !v.is_empty()) {
        Some(v) => std::env::split_paths(&v).collect(),
        None => crate::hooks::DEFAULT_HOOKS_DIRS
            .iter()
            .map(PathBuf::from)
            .collect(),
    }
}

/// The environment variable that caps the bytes one image layer may expand
/// to when it is loaded, pulled, imported or committed (decompression
/// bombs, RELIABILITY.md 34); a size such as `512m` or `10g`. Unset:
/// `berth_storage::DEFAULT_MAX_LAYER_BYTES` (64 GiB).
const MAX_LAYER_BYTES_ENV: &str = "BERTH_MAX_LAYER_BYTES";

/// The layer size limit [`MAX_LAYER_BYTES_ENV`] sets, if it sets one.
fn max_layer_bytes() -> Result<Option<u64>> {
    let Some(v) = std::env::var_os(MAX_LAYER_BYTES_ENV).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let v = v.to_string_lossy();
    match crate::units::parse_bytes(&v) {
        Ok(n) if n > 0 => Ok(Some(n as u64)),
        _ => Err(Error::invalid(format!(
            "invalid {MAX_LAYER_BYTES_ENV} {v:?}: want a size such as 512m or 10g"
        ))),
    }
}

fn mkdir(p: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(p)
        .map_err(|e| Error::io(format!("creating {}", p.display()), e))
}

impl Runtime {
    /// Open the engine with `opts`. The first command after a reboot
    /// resets the state of containers that were running (see `refresh.rs`).
    pub fn open(opts: RuntimeOptions) -> Result<Runtime> {
        let paths = Paths::new(
            opts.root.unwrap_or_else(|| DEFAULT_ROOT.into()),
            opts.runroot.unwrap_or_else(|| DEFAULT_RUNROOT.into()),
        );
        mkdir(&paths.root, 0o700)?;
        mkdir(&paths.runroot, 0o700)?;
        let store = SqliteStore::open(&paths.database())?;
        let locks = FileLockManager::new(&paths.locks())?;
        let choice = select_runtime(opts.runtime.as_deref(), &paths.runtime_state())?;
        let monitor_binary = opts
            .monitor_binary
            .or_else(|| std::env::var_os("BERTH_MONITOR").map(PathBuf::from))
            .unwrap_or_else(|| find_own_binary(berth_types::monitor::MONITOR_BINARY));
        let berth_binary = opts.berth_binary.unwrap_or_else(|| {
            let beside_monitor = monitor_binary
                .parent()
                .map(|d| d.join("berth"))
                .filter(|p| p.is_file());
            beside_monitor.unwrap_or_else(|| find_own_binary("berth"))
        });
        let hooks_dirs = hooks_dirs(opts.hooks_dirs);
        let rt = Runtime {
            paths,
            store: Box::new(store),
            locks: Box::new(locks),
            images: OnceLock::new(),
            oci: choice.runtime,
            monitor_binary,
            berth_binary,
            hooks_dirs,
            warnings: choice
                .fallback_reason
                .iter()
                .filter(|_| choice.requested_other)
                .cloned()
                .collect(),
            runtime_note: choice.fallback_reason,
        };
        crate::refresh::ensure_fresh(&rt)?;
        Ok(rt)
    }

    /// The directories OCI hook files are read from.
    pub fn hooks_dirs(&self) -> &[PathBuf] {
        &self.hooks_dirs
    }

    /// Warnings from opening (e.g. why crun was not used), for stderr.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Why the default runtime (crun) is not used here, if it is not.
    pub fn runtime_note(&self) -> Option<&str> {
        self.runtime_note.as_deref()
    }

    /// The on-disk layout.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Name of the OCI runtime new containers get.
    pub fn oci_runtime_name(&self) -> &str {
        use berth_oci::OciRuntime;
        self.oci.name()
    }

    /// Image storage, opened on first use.
    pub fn images(&self) -> Result<&berth_storage::Store> {
        if let Some(s) = self.images.get() {
            return Ok(s);
        }
        let mut store = berth_storage::Store::open(&self.paths.storage())?;
        if let Some(max) = max_layer_bytes()? {
            store.set_max_layer_bytes(max);
        }
        Ok(self.images.get_or_init(|| store))
    }

    /// The OCI runtime a container was created with.
    pub(crate) fn oci_for(&self, runtime_name: &str) -> RuntimeCli {
        use berth_oci::OciRuntime;
        if runtime_name == self.oci.name() {
            return self.oci.clone();
        }
        match find_binary(runtime_name) {
            Some(path) => RuntimeCli::new(
                runtime_name,
                path,
                self.paths.runtime_state().join(runtime_name),
            ),
            None => self.oci.clone(),
        }
    }

    /// The command line that runs this `berth` binary on the same root,
    /// runroot and OCI runtime with `args` (the monitor's exit command, the
    /// health timer).
    pub(crate) fn berth_argv(&self, runtime: &str, args: &[&str]) -> Vec<String> {
        let mut argv = vec![
            self.berth_binary.to_string_lossy().into_owned(),
            "--root".into(),
            self.paths.root.to_string_lossy().into_owned(),
            "--runroot".into(),
            self.paths.runroot.to_string_lossy().into_owned(),
            "--runtime".into(),
            runtime.to_string(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        argv
    }

    /// Find a container by name, full ID or unique ID prefix.
    pub fn lookup(&self, name_or_id: &str) -> Result<Container<'_>> {
        let id = self.store.lookup(name_or_id)?;
        Ok(Container::new(self, id))
    }

    /// The most recently created container (`--latest`).
    pub fn latest(&self) -> Result<Container<'_>> {
        match self.store.latest()? {
            Some(id) => Ok(Container::new(self, id)),
            None => Err(Error::new(
                berth_types::ErrorKind::NoSuchContainer,
                "no containers to act on with --latest",
            )),
        }
    }

    /// Every container, with states synced from the monitors' exit files.
    pub fn containers(&self) -> Result<Vec<berth_types::ContainerRecord>> {
        let mut all = self.store.list()?;
        for rec in all.iter_mut() {
            if crate::container::sync::needs_sync(self, rec) {
                // Another process may be acting on it; the locked sync
                // re-reads the record, so the result is always current.
                if let Ok(fresh) = Container::new(self, rec.config.id.clone()).inspect_record() {
                    *rec = fresh;
                }
            }
        }
        Ok(all)
    }
}
