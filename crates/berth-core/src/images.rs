//! Engine-level image operations: the rules that need both the image store
//! and the container store (an image in use cannot be removed).

use crate::create::{build_config, CreateOptions, ImageDefaults, Resolved};
use crate::names::random_id;
use crate::{Container, Runtime};
use berth_storage::ImageInfo;
use berth_types::{ContainerRecord, Error, ErrorKind, Result, RuntimeState};
use std::path::Path;

/// How many random names to try before giving up on a free one.
const NAME_ATTEMPTS: usize = 64;

impl Runtime {
    /// Load images from a docker-archive or oci-archive file (plain or
    /// gzip-compressed) or an OCI layout directory.
    pub fn load_images(&self, archive: &Path) -> Result<Vec<ImageInfo>> {
        self.images()?.load_archive(archive)
    }

    /// Load images from an archive arriving on an open file or pipe
    /// (`load` without `-i` reads its stdin, as Podman's does); `label`
    /// names it in errors.
    pub fn load_images_from(&self, input: std::fs::File, label: &str) -> Result<Vec<ImageInfo>> {
        self.images()?.load_archive_from(input, label)
    }

    /// Every image.
    pub fn list_images(&self) -> Result<Vec<ImageInfo>> {
        self.images()?.list_images()
    }

    /// Find an image by reference or ID.
    pub fn lookup_image(&self, reference: &str) -> Result<ImageInfo> {
        self.images()?.lookup_image(reference)
    }

    /// Remove an image (or untag one of its names). Refused while a
    /// container uses it unless `force`, which removes those containers.
    pub fn remove_image(&self, reference: &str, force: bool) -> Result<Vec<String>> {
        let image = self.lookup_image(reference)?;
        let users = self.store.containers_using_image(&image.id)?;
        let untag_only =
            image.names.len() > 1 && image.id != reference && !image.id.starts_with(reference);
        if !users.is_empty() && !untag_only {
            if !force {
                let names: Vec<String> = users
                    .iter()
                    .map(|id| berth_types::id::short_id(id).to_string())
                    .collect();
                return Err(Error::new(
                    ErrorKind::InUse,
                    format!(
                        "image {reference} is in use by container(s) {}: remove them first or use --force",
                        names.join(", ")
                    ),
                )
                .with_subject(reference));
            }
            for id in users {
                Container::new(self, id).remove(true, None)?;
            }
        }
        self.images()?.remove_image(reference)
    }

    /// Create a container from `opts` (Podman's `create`). Nothing is
    /// started; the rootfs layer is allocated and the record saved.
    pub fn create_container(&self, opts: &CreateOptions) -> Result<Container<'_>> {
        let image = self.lookup_image(&opts.image)?;
        let mut defaults = ImageDefaults::from_oci(&self.images()?.image_config(&image)?);
        defaults.healthcheck = crate::container::health::from_image_config(&image.config_json);
        let image_name = image
            .names
            .first()
            .cloned()
            .unwrap_or_else(|| image.id.clone());
        let id = random_id();
        let resolved = Resolved {
            id: id.clone(),
            image_id: image.id.clone(),
            image_name,
            runtime: self.oci_runtime_name().into(),
        };
        let mut config = build_config(opts, &defaults, resolved)?;
        self.resolve_net_config(&mut config)?;
        crate::pod::join_pod(self, opts, &mut config)?;
        crate::deps::resolve_requires(self, &mut config)?;
        // Named volumes it asks for that do not exist yet are created now,
        // and removed again if the create fails.
        let new_volumes = crate::volumes::prepare_mounts(self, &mut config)?;
        if let Err(e) = self.images()?.create_container_layer(&id, &image.id) {
            crate::volumes::remove_created(self, &new_volumes);
            return Err(e);
        }
        berth_types::fault::point("create-layer-allocated");
        let mut attempts = 0;
        loop {
            let rec = ContainerRecord {
                config: config.clone(),
                state: RuntimeState::default(),
            };
            match self.store.add_container(&rec) {
                Ok(()) => {
                    self.emit_container(&rec, "create", None);
                    return Ok(Container::new(self, id));
                }
                Err(e)
                    if e.kind == ErrorKind::NameInUse
                        && opts.name.is_none()
                        && attempts < NAME_ATTEMPTS =>
                {
                    attempts += 1;
                    config.name = crate::names::random_name();
                    if attempts > NAME_ATTEMPTS / 2 {
                        config.name = format!("{}_{}", config.name, &random_id()[..4]);
                    }
                }
                Err(e) => {
                    // Nothing may be left behind by a failed create.
                    let _ = self.images().and_then(|s| s.remove_container_layer(&id));
                    crate::volumes::remove_created(self, &new_volumes);
                    return Err(e);
                }
            }
        }
    }
}
