//! Volumes of the `local` driver with options, as Podman's: `volume create
//! -o type=tmpfs -o device=tmpfs -o o=size=2m,uid=1000` mounts that
//! filesystem on the volume's data directory while containers use it.
//!
//! The mount is made when the first container using the volume starts and
//! undone when the last one stops. Who holds it is a list of container IDs
//! in `ROOT/volumes/NAME/holders`, changed only under a `flock` on the
//! volume's directory, so starts and stops in different processes agree.
//! Whether to mount is decided by the mount table, not the list: after a
//! reboot (mounts gone, list stale) the next start mounts again. A holder
//! that died without cleaning up only keeps the mount until `volume rm`.
//! `o=uid=`/`o=gid=` are not mount options: they own the data directory
//! (at create for a plain volume, the mounted root for one with a type).

use berth_types::{Error, Result};
use rustix::mount::MountFlags;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a volume's `type`, `device` and `o` options ask for.
#[derive(Debug, PartialEq)]
pub(crate) struct VolumeMount {
    /// Filesystem type (`mount -t`); empty for a bind mount.
    fstype: String,
    /// What to mount (`tmpfs`, a device, or a directory to bind).
    device: String,
    /// Mount flags from `o` (`ro`, `nosuid`, `bind`, ...).
    flags: rustix::mount::MountFlags,
    /// The rest of `o`, passed to the filesystem (`size=2m`, `mode=1777`).
    data: String,
    /// `o=uid=N`: owner of the volume's root.
    pub uid: Option<u32>,
    /// `o=gid=N`: group of the volume's root.
    pub gid: Option<u32>,
}

impl Default for VolumeMount {
    fn default() -> Self {
        VolumeMount {
            fstype: String::new(),
            device: String::new(),
            flags: rustix::mount::MountFlags::empty(),
            data: String::new(),
            uid: None,
            gid: None,
        }
    }
}

impl VolumeMount {
    /// Whether a filesystem is to be mounted (else only ownership applies).
    pub fn mounts(&self) -> bool {
        !self.device.is_empty()
    }

    /// Whether it is a bind mount of a host directory (`o=bind`).
    fn is_bind(&self) -> bool {
        self.flags.contains(MountFlags::BIND)
    }
}

/// Check a volume's driver options and say what they ask for; the error
/// names the volume and the option.
pub(crate) fn parse(name: &str, options: &BTreeMap<String, String>) -> Result<VolumeMount> {
    use rustix::mount::MountFlags as F;
    let bad = |why: String| Error::invalid(format!("volume {name}: {why}")).with_subject(name);
    let mut m = VolumeMount::default();
    for (k, v) in options {
        match k.as_str() {
            "type" => m.fstype = v.clone(),
            "device" => m.device = v.clone(),
            // Podman's `-o [no]copy`: read by `volumes.rs` at create.
            "o" | "copy" | "nocopy" => {}
            _ => {
                return Err(bad(format!(
                    "invalid option {k:?} for the local driver (type, device, o or [no]copy)"
                )))
            }
        }
    }
    let mut data = Vec::new();
    for o in options.get("o").into_iter().flat_map(|o| o.split(',')) {
        let id = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| bad(format!("{o:?}: not a numeric ID")))
        };
        match o.split_once('=') {
            Some(("uid", v)) => m.uid = Some(id(v)?),
            Some(("gid", v)) => m.gid = Some(id(v)?),
            _ => match o {
                "" => {}
                "ro" => m.flags |= F::RDONLY,
                "rw" => {}
                "nosuid" => m.flags |= F::NOSUID,
                "nodev" => m.flags |= F::NODEV,
                "noexec" => m.flags |= F::NOEXEC,
                "sync" => m.flags |= F::SYNCHRONOUS,
                "noatime" => m.flags |= F::NOATIME,
                "bind" => m.flags |= F::BIND,
                "rbind" => m.flags |= F::BIND | F::REC,
                other => data.push(other.to_string()),
            },
        }
    }
    m.data = data.join(",");
    if m.fstype.is_empty() != m.device.is_empty() && !m.flags.contains(F::BIND) {
        return Err(bad(
            "type and device go together (e.g. -o type=tmpfs -o device=tmpfs)".into(),
        ));
    }
    if !m.mounts() && (!m.data.is_empty() || !m.flags.is_empty()) {
        return Err(bad(format!(
            "mount options {:?} need -o type= and -o device=",
            options.get("o").map(String::as_str).unwrap_or("")
        )));
    }
    Ok(m)
}

/// The volume's directory, locked (`flock`) until the guard is dropped
/// (the lock goes with the descriptor).
struct Locked(#[allow(dead_code)] std::fs::File);

fn lock(dir: &Path) -> Result<Locked> {
    let f =
        std::fs::File::open(dir).map_err(|e| Error::io(format!("opening {}", dir.display()), e))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| Error::io(format!("locking {}", dir.display()), e.into()))?;
    Ok(Locked(f))
}

fn holders_file(dir: &Path) -> PathBuf {
    dir.join("holders")
}

fn holders(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(holders_file(dir))
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

fn write_holders(dir: &Path, ids: &[String]) -> Result<()> {
    berth_storage::atomic_write(&holders_file(dir), |w| {
        for id in ids {
            writeln!(w, "{id}").map_err(|e| Error::io("writing volume holders", e))?;
        }
        Ok(())
    })
}

/// Whether `path` is a mount point (in this process's mount table; a bind
/// mount from the same filesystem has no device change to show it).
pub(crate) fn is_mount_point(path: &Path) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    // The table holds resolved paths; a root given through a symlink or
    // as a relative path must not make a mounted volume look unmounted.
    let Ok(path) = std::fs::canonicalize(path) else {
        return false;
    };
    let want = path.to_string_lossy();
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|p| unescape(p) == want)
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(p: &str) -> String {
    let mut out = Vec::with_capacity(p.len());
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let octal = |c: &u8| matches!(c, b'0'..=b'7');
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(octal) {
            let n = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            out.push(n as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Container `cid` starts using the volume whose data directory is `data`:
/// mount its filesystem there unless it already is, and record the holder.
pub(crate) fn acquire(name: &str, m: &VolumeMount, data: &Path, cid: &str) -> Result<()> {
    let dir = data.parent().unwrap_or(data);
    let _lock = lock(dir)?;
    let mut ids = holders(dir);
    if !is_mount_point(data) {
        // Whoever the list names lost the mount with it (a reboot, a crash).
        ids.clear();
        mount(name, m, data)?;
    }
    if !ids.iter().any(|i| i == cid) {
        ids.push(cid.to_string());
        write_holders(dir, &ids)?;
    }
    Ok(())
}

/// Container `cid` no longer uses the volume: unmount it when nobody else
/// holds it. Best effort for a volume that is already gone.
pub(crate) fn release(data: &Path, cid: &str) -> Result<()> {
    let dir = data.parent().unwrap_or(data);
    if !dir.exists() {
        return Ok(());
    }
    let _lock = lock(dir)?;
    let mut ids = holders(dir);
    ids.retain(|i| i != cid);
    if ids.is_empty() {
        unmount(data)?;
        let _ = std::fs::remove_file(holders_file(dir));
    } else {
        write_holders(dir, &ids)?;
    }
    Ok(())
}

/// How many containers hold the volume's filesystem mounted (Podman's
/// `MountCount`; 0 when it is not mounted, whatever a stale list says).
pub(crate) fn mount_count(data: &Path) -> usize {
    match is_mount_point(data) {
        true => holders(data.parent().unwrap_or(data)).len(),
        false => 0,
    }
}

/// Unmount the volume's filesystem whoever holds it (`volume rm`), every
/// layer of it: after this, deleting the directory deletes nothing else.
pub(crate) fn unmount(data: &Path) -> Result<()> {
    // Bounded: a mount table that kept naming it would otherwise spin.
    for _ in 0..64 {
        if !is_mount_point(data) {
            return Ok(());
        }
        rustix::mount::unmount(data, rustix::mount::UnmountFlags::DETACH)
            .map_err(|e| Error::io(format!("unmounting {}", data.display()), e.into()))?;
    }
    Err(Error::new(
        berth_types::ErrorKind::Storage,
        format!("{} is still mounted after 64 unmounts", data.display()),
    ))
}

fn mount(name: &str, m: &VolumeMount, data: &Path) -> Result<()> {
    let fstype = if m.fstype.is_empty() && m.is_bind() {
        "none"
    } else {
        &m.fstype
    };
    let opts = std::ffi::CString::new(m.data.as_str())
        .map_err(|_| Error::invalid(format!("volume {name}: NUL in mount options")))?;
    let failed = |e: rustix::io::Errno| {
        Error::io(
            format!(
                "volume {name}: mounting {} ({fstype}) on {}",
                m.device,
                data.display()
            ),
            e.into(),
        )
        .with_subject(name)
    };
    rustix::mount::mount(m.device.as_str(), data, fstype, m.flags, opts.as_c_str())
        .map_err(failed)?;
    if m.is_bind() {
        // A bind mount ignores ro/nosuid/nodev/noexec until remounted; and
        // its root is the host's directory, whose owner is not ours to
        // change.
        let wanted = m.flags & !(MountFlags::BIND | MountFlags::REC);
        if !wanted.is_empty() {
            let done = rustix::mount::mount_remount(data, MountFlags::BIND | wanted, "");
            if let Err(e) = done {
                let _ = unmount(data);
                return Err(failed(e));
            }
        }
        return Ok(());
    }
    own(m, data)
}

/// Apply `o=uid=`/`o=gid=` to the volume's root directory.
pub(crate) fn own(m: &VolumeMount, data: &Path) -> Result<()> {
    if m.uid.is_none() && m.gid.is_none() {
        return Ok(());
    }
    let uid = m.uid.map(rustix::process::Uid::from_raw);
    let gid = m.gid.map(rustix::process::Gid::from_raw);
    rustix::fs::chown(data, uid, gid).map_err(|e| {
        Error::io(
            format!("changing the owner of {}", data.display()),
            e.into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_are_checked_like_the_local_driver() {
        let m = parse(
            "v",
            &opts(&[
                ("type", "tmpfs"),
                ("device", "tmpfs"),
                ("o", "size=2m,uid=1000,gid=7,nosuid,mode=0750"),
            ]),
        )
        .unwrap();
        assert!(m.mounts());
        assert_eq!(m.data, "size=2m,mode=0750");
        assert_eq!((m.uid, m.gid), (Some(1000), Some(7)));
        assert!(m.flags.contains(rustix::mount::MountFlags::NOSUID));

        let owner_only = parse("v", &opts(&[("o", "uid=5")])).unwrap();
        assert!(!owner_only.mounts());
        assert_eq!(owner_only.uid, Some(5));
        assert_eq!(parse("v", &opts(&[])).unwrap(), VolumeMount::default());

        for bad in [
            opts(&[("size", "2m")]),
            opts(&[("type", "tmpfs")]),
            opts(&[("o", "size=2m")]),
            opts(&[("o", "uid=alice")]),
        ] {
            let e = parse("v", &bad).unwrap_err();
            assert!(e.message.starts_with("volume v: "), "{}", e.message);
        }
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape("/a\\040b\\134c"), "/a b\\c");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/not\\999octal"), "/not\\999octal");
    }
}
