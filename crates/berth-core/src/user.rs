//! Resolving `--user` the way runc and Podman do: `uid`, `uid:gid`,
//! `name`, `name:group`, looked up in the container's own /etc/passwd and
//! /etc/group (never the host's).

use crate::rootfs::read_in_root;
use berth_types::{Error, Result};
use std::path::Path;

/// The resolved identity of the container's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups from /etc/group.
    pub additional_gids: Vec<u32>,
    /// Home directory (for `HOME`), `/` when unknown.
    pub home: String,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

fn passwd(root: &Path) -> Result<Vec<PasswdEntry>> {
    let Some(bytes) = read_in_root(root, "/etc/passwd")? else {
        return Ok(Vec::new());
    };
    Ok(String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 6 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect())
}

/// (name, gid, members) from /etc/group.
fn groups(root: &Path) -> Result<Vec<(String, u32, Vec<String>)>> {
    let Some(bytes) = read_in_root(root, "/etc/group")? else {
        return Ok(Vec::new());
    };
    Ok(String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 3 {
                return None;
            }
            let members = f.get(3).map(|m| {
                m.split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            });
            Some((
                f[0].to_string(),
                f[2].parse().ok()?,
                members.unwrap_or_default(),
            ))
        })
        .collect())
}

/// Resolve `spec` (empty means root) against the rootfs at `root`.
pub fn resolve_user(root: &Path, spec: &str, container: &str) -> Result<ExecUser> {
    let spec = if spec.is_empty() { "0" } else { spec };
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let users = passwd(root)?;
    let entry = match user.parse::<u32>() {
        Ok(uid) => users.iter().find(|e| e.uid == uid),
        Err(_) => Some(users.iter().find(|e| e.name == user).ok_or_else(|| {
            Error::invalid(format!("unable to find user {user}: no matching entries in passwd file of container {container}"))
                .with_subject(container)
        })?),
    };
    let uid = match entry {
        Some(e) => e.uid,
        None => user.parse().unwrap_or(0),
    };
    let all_groups = groups(root)?;
    let gid = match group {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => all_groups.iter().find(|(n, _, _)| n == g).map(|(_, gid, _)| *gid).ok_or_else(|| {
                Error::invalid(format!("unable to find group {g}: no matching entries in group file of container {container}"))
                    .with_subject(container)
            })?,
        },
        None => entry.map(|e| e.gid).unwrap_or(0),
    };
    let additional_gids = match entry {
        Some(e) if group.is_none() => all_groups
            .iter()
            .filter(|(_, g, members)| *g != gid && members.contains(&e.name))
            .map(|(_, g, _)| *g)
            .collect(),
        _ => Vec::new(),
    };
    let home = entry
        .map(|e| e.home.clone())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into());
    Ok(ExecUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("etc/group"),
            "root:x:0:\nbob:x:1000:\nwheel:x:10:bob\n",
        )
        .unwrap();
        d
    }

    #[test]
    fn resolves_names_numbers_and_groups() {
        let d = rootfs();
        let r = resolve_user(d.path(), "bob", "c").unwrap();
        assert_eq!(
            (r.uid, r.gid, r.additional_gids.clone(), r.home.as_str()),
            (1000, 1000, vec![10], "/home/bob")
        );
        let r = resolve_user(d.path(), "1000:10", "c").unwrap();
        assert_eq!((r.uid, r.gid), (1000, 10));
        let r = resolve_user(d.path(), "4242", "c").unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (4242, 0, "/"));
        let r = resolve_user(d.path(), "", "c").unwrap();
        assert_eq!((r.uid, r.gid), (0, 0));
        assert!(resolve_user(d.path(), "nobody", "c").is_err());
        assert!(resolve_user(d.path(), "bob:nogroup", "c").is_err());
    }

    #[test]
    fn passwd_symlink_cannot_escape_rootfs() {
        let d = rootfs();
        std::fs::remove_file(d.path().join("etc/passwd")).unwrap();
        // Points at the host's passwd if resolved on the host; inside the
        // root it resolves to <root>/etc/shadow-not-here, which is absent.
        std::os::unix::fs::symlink("/etc/hostname", d.path().join("etc/passwd")).unwrap();
        let r = resolve_user(d.path(), "0", "c").unwrap();
        assert_eq!(r.uid, 0);
        assert!(resolve_user(d.path(), "root", "c").is_err());
    }
}
