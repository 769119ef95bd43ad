//! Volumes: named and anonymous, stored in the state database (see
//! `berth_state::VolumeRecord` for why), data in `ROOT/volumes/NAME/_data`.
//!
//! A container's volume mount is a bind mount of that directory whose
//! options carry `berth.volume=NAME` (and `berth.anonymous`), so the
//! container's own record says which volumes it uses: "in use" and `rm -v`
//! need no second table that could disagree with it. `spec.rs` passes only
//! `ro`/`rw` and propagation to runc, never these markers.

use crate::{Container, Runtime};
use berth_state::VolumeRecord;
use berth_types::{ContainerConfig, Error, ErrorKind, MountSpec, Result};
use std::path::{Path, PathBuf};

/// Mount option naming the volume a bind mount comes from.
pub const VOLUME_OPT: &str = "berth.volume=";
/// Mount option marking a volume made for this one container.
pub const ANONYMOUS_OPT: &str = "berth.anonymous";
/// Mount option asking that the image's files not be copied into the
/// volume (`--mount volume-nocopy`, `-v NAME:/dir:nocopy`).
pub const NOCOPY_OPT: &str = "berth.nocopy";

/// The volume `m` mounts, if it is a volume mount.
pub fn volume_name(m: &MountSpec) -> Option<&str> {
    m.options.iter().find_map(|o| o.strip_prefix(VOLUME_OPT))
}

/// What `volume create` is asked for.
#[derive(Debug, Clone, Default)]
pub struct VolumeCreateOptions {
    /// The name; a random 64-hex-digit one when absent.
    pub name: Option<String>,
    /// `--label key=value`.
    pub labels: Vec<String>,
    /// `--opt key=value` (recorded; the local driver uses none).
    pub options: Vec<String>,
    /// `--ignore`: an existing volume of that name is returned as is.
    pub ignore_existing: bool,
}

fn kv(list: &[String], what: &str) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for l in list {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        if k.is_empty() {
            return Err(Error::invalid(format!("invalid {what} {l:?}: empty key")));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

impl Runtime {
    fn volumes_dir(&self) -> PathBuf {
        self.paths.root.join("volumes")
    }

    /// Create a volume (`volume create`).
    pub fn create_volume(&self, opts: &VolumeCreateOptions) -> Result<VolumeRecord> {
        let name = opts.name.clone().unwrap_or_else(crate::names::random_id);
        self.new_volume(
            &name,
            kv(&opts.labels, "label")?,
            kv(&opts.options, "option")?,
            false,
        )
        .or_else(|e| match e.kind {
            ErrorKind::NameInUse if opts.ignore_existing => self.volume(&name),
            _ => Err(e),
        })
    }

    fn new_volume(
        &self,
        name: &str,
        labels: std::collections::BTreeMap<String, String>,
        options: std::collections::BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<VolumeRecord> {
        berth_state::validate_volume_name(name)?;
        let wanted = crate::volume_mount::parse(name, &options)?;
        // `-o nocopy`: never filled from an image.
        let copy_up = !options.contains_key("nocopy");
        let dir = self.volumes_dir().join(name);
        let data = dir.join("_data");
        let rec = VolumeRecord {
            name: name.to_string(),
            driver: "local".into(),
            mountpoint: data.to_string_lossy().into_owned(),
            created: jiff::Timestamp::now().to_string(),
            labels,
            options,
            anonymous,
            needs_copy_up: copy_up,
        };
        // Row first: a taken name fails before touching the directory the
        // existing volume owns.
        self.store.add_volume(&rec)?;
        let made = std::fs::create_dir_all(&data)
            .map_err(|e| Error::io(format!("creating {}", data.display()), e).with_subject(name))
            .and_then(|()| match wanted.mounts() {
                true => Ok(()),
                false => crate::volume_mount::own(&wanted, &data),
            });
        if let Err(e) = made {
            let _ = self.store.remove_volume(name);
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok(rec)
    }

    /// The volume named `name`.
    pub fn volume(&self, name: &str) -> Result<VolumeRecord> {
        self.store.get_volume(name)
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<VolumeRecord>> {
        self.store.list_volumes()
    }

    /// Whether a volume named `name` exists.
    pub fn volume_exists(&self, name: &str) -> Result<bool> {
        match self.store.get_volume(name) {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::NoSuchContainer => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// IDs of the containers whose configuration mounts volume `name`.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .list()?
            .into_iter()
            .filter(|r| r.config.mounts.iter().any(|m| volume_name(m) == Some(name)))
            .map(|r| r.config.id)
            .collect())
    }

    /// Remove volume `name`. In use by a container: refused, unless
    /// `force`, which removes those containers first (Podman's `volume rm -f`).
    pub fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        let vol = self.store.get_volume(name)?;
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            if !force {
                return Err(Error::new(
                    ErrorKind::InUse,
                    format!(
                        "volume {name} is being used by the following container(s): {}: volume is being used",
                        users.join(", ")
                    ),
                )
                .with_subject(name));
            }
            for id in users {
                match Container::new(self, id).remove(true, None) {
                    Err(e) if e.kind != ErrorKind::NoSuchContainer => return Err(e),
                    _ => {}
                }
            }
        }
        let dir = Path::new(&vol.mountpoint)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.volumes_dir().join(name));
        // Only ever below ROOT/volumes: a record can never make us delete
        // anything else. Its own filesystem goes first, while the record
        // still names it: a volume whose unmount failed stays listed, and
        // nothing mounted (a bind of a host directory) is ever deleted.
        let ours = dir.starts_with(self.volumes_dir()) && dir != self.volumes_dir();
        if ours {
            crate::volume_mount::unmount(Path::new(&vol.mountpoint))?;
        }
        self.store.remove_volume(name)?;
        if ours {
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(
                        Error::io(format!("removing {}", dir.display()), e).with_subject(name)
                    )
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Remove every volume no container uses (`volume prune`); returns
    /// their names.
    pub fn prune_volumes(&self) -> Result<Vec<String>> {
        let used: std::collections::HashSet<String> = self
            .store
            .list()?
            .iter()
            .flat_map(|r| {
                r.config
                    .mounts
                    .iter()
                    .filter_map(volume_name)
                    .map(String::from)
            })
            .collect();
        let mut out = Vec::new();
        for v in self.store.list_volumes()? {
            if !used.contains(&v.name) {
                match self.remove_volume(&v.name, false) {
                    Ok(()) => out.push(v.name),
                    // Taken into use meanwhile: keep it.
                    Err(e) if e.kind == ErrorKind::InUse => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    }

    /// Remove container `ctr` and, with `volumes` (`rm -v`), its
    /// anonymous volumes that no other container uses.
    pub fn remove_container(
        &self,
        ctr: &Container<'_>,
        force: bool,
        timeout: Option<u64>,
        volumes: bool,
    ) -> Result<()> {
        let cfg = self.store.get(ctr.id())?.config;
        ctr.remove(force, timeout)?;
        if volumes {
            remove_anonymous(self, &cfg)?;
        }
        Ok(())
    }
}

/// Create the volumes `cfg`'s mounts name that do not exist yet and point
/// each volume mount at its data directory. Called by `create` once the
/// configuration is built; returns the volumes it created so a failed
/// create can remove them again ([`remove_created`]).
pub fn prepare_mounts(rt: &Runtime, cfg: &mut ContainerConfig) -> Result<Vec<String>> {
    let mut created = Vec::new();
    let res = (|| {
        for m in cfg.mounts.iter_mut() {
            let Some(name) = volume_name(m).map(String::from) else {
                continue;
            };
            let anonymous = m.options.iter().any(|o| o == ANONYMOUS_OPT);
            let vol = match rt.store.get_volume(&name) {
                Ok(v) => v,
                Err(e) if e.kind == ErrorKind::NoSuchContainer => {
                    let v =
                        rt.new_volume(&name, Default::default(), Default::default(), anonymous)?;
                    created.push(name.clone());
                    v
                }
                Err(e) => return Err(e),
            };
            m.source = vol.mountpoint;
        }
        Ok(())
    })();
    match res {
        Ok(()) => Ok(created),
        Err(e) => {
            remove_created(rt, &created);
            Err(e)
        }
    }
}

/// Undo [`prepare_mounts`] after a failed create (best effort).
pub fn remove_created(rt: &Runtime, created: &[String]) {
    for name in created {
        let _ = rt.remove_volume(name, false);
    }
}

/// `cfg`'s volumes that have a filesystem of their own (`-o type= -o
/// device=`), one entry per volume mount: its name, what to mount and its
/// data directory, or the error looking the volume up. Options berth did
/// not check at create (older records) leave a plain volume, as they
/// always did.
fn own_filesystems(
    rt: &Runtime,
    cfg: &ContainerConfig,
) -> Vec<Result<(String, crate::volume_mount::VolumeMount, PathBuf)>> {
    cfg.mounts
        .iter()
        .filter_map(volume_name)
        .filter_map(|name| {
            let vol = match rt.store.get_volume(name) {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            let wanted = crate::volume_mount::parse(name, &vol.options).ok()?;
            wanted
                .mounts()
                .then(|| Ok((name.to_string(), wanted, PathBuf::from(vol.mountpoint))))
        })
        .collect()
}

/// Mount the filesystems of `cfg`'s volumes created with `-o type= -o
/// device=` for container `cid` (see `volume_mount`), before it starts.
pub(crate) fn mount_volumes(rt: &Runtime, cfg: &ContainerConfig, cid: &str) -> Result<()> {
    for own in own_filesystems(rt, cfg) {
        let (name, wanted, data) = own?;
        crate::volume_mount::acquire(&name, &wanted, &data, cid)?;
    }
    Ok(())
}

/// Container `cid` stopped using `cfg`'s volumes: unmount the filesystems
/// nobody else holds. Best effort: a volume already removed is skipped.
pub(crate) fn release_volumes(rt: &Runtime, cfg: &ContainerConfig, cid: &str) {
    for (_, _, data) in own_filesystems(rt, cfg).into_iter().flatten() {
        let _ = crate::volume_mount::release(&data, cid);
    }
}

/// How many containers hold volume `v`'s own filesystem mounted (Podman's
/// `MountCount`; always 0 for a volume without `-o type=`).
pub fn mount_count(v: &VolumeRecord) -> usize {
    crate::volume_mount::mount_count(Path::new(&v.mountpoint))
}

/// Copy what the image has at each new volume's mount point into the
/// volume, once (Podman's copy-up). `rootfs` is the container's mounted
/// root; paths in it are resolved inside it only, and nothing from the image
/// is executed.
pub fn copy_up(rt: &Runtime, cfg: &ContainerConfig, rootfs: &Path) -> Result<()> {
    for m in &cfg.mounts {
        let Some(name) = volume_name(m) else {
            continue;
        };
        let mut vol = rt.store.get_volume(name)?;
        if !vol.needs_copy_up {
            continue;
        }
        let data = Path::new(&vol.mountpoint);
        let empty = std::fs::read_dir(data)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        // nocopy: this first use leaves the volume as it is, for good.
        if empty && !m.options.iter().any(|o| o == NOCOPY_OPT) {
            berth_storage::copy_dir_out(rootfs, &m.destination, data, &format!("volume {name}"))?;
        }
        vol.needs_copy_up = false;
        rt.store.save_volume(&vol)?;
    }
    Ok(())
}

/// Remove `cfg`'s anonymous volumes that no container uses any more
/// (`rm -v`, and `--rm` containers). Call after the container is gone.
pub fn remove_anonymous(rt: &Runtime, cfg: &ContainerConfig) -> Result<()> {
    for m in &cfg.mounts {
        if !m.options.iter().any(|o| o == ANONYMOUS_OPT) {
            continue;
        }
        let Some(name) = volume_name(m) else {
            continue;
        };
        match rt.remove_volume(name, false) {
            Ok(()) => {}
            Err(e) if matches!(e.kind, ErrorKind::NoSuchContainer | ErrorKind::InUse) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
