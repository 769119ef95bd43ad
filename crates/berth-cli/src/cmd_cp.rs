//! `cp`, `mount`, `unmount`: a container's filesystem from the host,
//! always resolved inside the container's root (never following a link out
//! of it, never running anything from the image).

use crate::report::{fail, Exit, Outcome};
use berth_core::{Error, Runtime};
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct CpArgs {
    /// `CTR:PATH`, a host path, or `-` (a tar stream on stdin).
    pub src: String,
    /// `CTR:PATH`, a host path, or `-` (a tar stream on stdout).
    pub dest: String,
}

#[derive(Args, Debug)]
pub struct MountArgs {
    /// Containers to mount (prints each mount point).
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UnmountArgs {
    /// Unmount even if other users still hold a mount.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Containers to unmount.
    pub containers: Vec<String>,
}

/// `CTR:PATH` → (CTR, PATH); a host path (absolute, `./`, or without a
/// colon) → None.
fn split_container(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('/') || s.starts_with('.') {
        return None;
    }
    s.split_once(':').filter(|(c, _)| !c.is_empty())
}

fn copy(rt: &Runtime, a: &CpArgs) -> berth_core::Result<()> {
    match (split_container(&a.src), split_container(&a.dest)) {
        (Some(_), Some(_)) => Err(Error::invalid(
            "copying between containers is not supported: one side must be the host",
        )),
        (None, None) => Err(Error::invalid(
            "one of source and destination must be CONTAINER:PATH",
        )),
        (None, Some((ctr, path))) => {
            let c = rt.lookup(ctr)?;
            if a.src == "-" {
                c.copy_in_tar(std::io::stdin().lock(), path)
            } else {
                c.copy_in(Path::new(&a.src), path)
            }
        }
        (Some((ctr, path)), None) => {
            let c = rt.lookup(ctr)?;
            if a.dest == "-" {
                c.copy_out_tar(path, std::io::stdout().lock()).map(drop)
            } else {
                c.copy_out(path, Path::new(&a.dest))
            }
        }
    }
}

pub fn cp(rt: &Runtime, a: &CpArgs) -> Exit {
    match copy(rt, a) {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

pub fn mount(rt: &Runtime, a: &MountArgs) -> Exit {
    let mut outcome = Outcome::default();
    for n in &a.containers {
        match rt.lookup(n).and_then(|c| c.mount()) {
            Ok(p) => println!("{}", p.display()),
            Err(e) => outcome.error(&e),
        }
    }
    outcome.exit(false)
}

pub fn unmount(rt: &Runtime, a: &UnmountArgs) -> Exit {
    let mut outcome = Outcome::default();
    for n in &a.containers {
        match rt.lookup(n).and_then(|c| c.unmount(a.force)) {
            Ok(_) => println!("{n}"),
            Err(e) => outcome.error(&e),
        }
    }
    outcome.exit(false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn container_paths() {
        use super::split_container;
        assert_eq!(
            split_container("web:/etc/hosts"),
            Some(("web", "/etc/hosts"))
        );
        assert_eq!(split_container("/tmp/x"), None);
        assert_eq!(split_container("./a:b"), None);
        assert_eq!(split_container("file"), None);
        assert_eq!(split_container("-"), None);
    }
}
