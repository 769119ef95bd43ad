//! `berth mount` / `berth unmount`: a container's rootfs mounted for the
//! user, reference counted in the image store so a container that stops
//! keeps a user's mount, and the last `unmount` takes it down (unless the
//! container runs on it).

use super::Container;
use berth_types::{ErrorKind, Result};
use std::path::PathBuf;

impl Container<'_> {
    /// Mount the container's root filesystem for the user and count one
    /// more user; returns the mount point.
    pub fn mount(&self) -> Result<PathBuf> {
        self.batch(|c| {
            if c.state() == berth_types::ContainerState::Removing {
                return Err(berth_types::Error::new(
                    ErrorKind::StateImproper {
                        state: "removing".into(),
                        op: "mount".into(),
                    },
                    format!("container {} is being removed", c.record().config.name),
                ));
            }
            c.rt.images()?.mount_user(&c.rec.config.id)
        })
    }

    /// Count one user fewer (every user with `force`) and unmount when none
    /// remain and the container is not running on it. Returns the users
    /// left.
    pub fn unmount(&self, force: bool) -> Result<u32> {
        self.batch(|c| {
            let keep = c.state().is_active() || c.state() == berth_types::ContainerState::Created;
            c.rt.images()?.unmount_user(&c.rec.config.id, force, keep)
        })
    }

    /// Where the rootfs is mounted now, if it is.
    pub fn mountpoint(&self) -> Result<Option<PathBuf>> {
        let store = self.rt.images()?;
        Ok(store.is_mounted(&self.id)?.then(|| {
            store
                .root()
                .join("containers")
                .join(&self.id)
                .join("merged")
        }))
    }
}
