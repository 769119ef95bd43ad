//! Image queries and removal.

use berth_types::{Error, ErrorKind, Result};
use rusqlite::{params, Connection, OptionalExtension};

use crate::db::{db_err, write_tx};
use crate::reference;
use crate::util::StoreLock;
use crate::{ImageInfo, Store};

/// Read one image by full ID.
pub(crate) fn get_image(conn: &Connection, id: &str) -> Result<Option<ImageInfo>> {
    let row = conn
        .query_row(
            "SELECT digest, created, size, config FROM images WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .optional()
        .map_err(|e| db_err("reading image", e))?;
    let Some((digest, created, size, config_json)) = row else {
        return Ok(None);
    };
    let names = strings(
        conn,
        "SELECT name FROM names WHERE image_id = ?1 ORDER BY seq",
        id,
    )?;
    let layers = strings(
        conn,
        "SELECT diff_id FROM image_layers WHERE image_id = ?1 ORDER BY pos",
        id,
    )?;
    Ok(Some(ImageInfo {
        id: id.to_string(),
        names,
        digest,
        created,
        size: size as u64,
        layers,
        config_json,
    }))
}

pub(crate) fn strings(conn: &Connection, sql: &str, arg: &str) -> Result<Vec<String>> {
    let mut st = conn
        .prepare_cached(sql)
        .map_err(|e| db_err("preparing query", e))?;
    let rows = st
        .query_map([arg], |r| r.get::<_, String>(0))
        .map_err(|e| db_err("querying", e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| db_err("querying", e))
}

pub(crate) fn all_strings(conn: &Connection, sql: &str) -> Result<Vec<String>> {
    let mut st = conn
        .prepare_cached(sql)
        .map_err(|e| db_err("preparing query", e))?;
    let rows = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| db_err("querying", e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| db_err("querying", e))
}

/// How a reference matched: by one of its names, or by ID.
enum Matched {
    Name(String),
    Id,
}

impl Store {
    /// All images, newest (by config creation time) first.
    pub fn list_images(&self) -> Result<Vec<ImageInfo>> {
        let conn = self.conn();
        let ids = all_strings(
            &conn,
            "SELECT id FROM images ORDER BY created DESC, loaded DESC, id",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(i) = get_image(&conn, &id)? {
                out.push(i);
            }
        }
        Ok(out)
    }

    /// Find an image by name, short name, full ID or unique ID prefix.
    ///
    /// Order (Podman's): the exact normalized name; then a short name
    /// (`busybox`, `busybox:tag`) matching any stored `*/busybox:tag` if
    /// unique; then a full ID or unique ID prefix (optionally `sha256:`).
    /// Errors: `AmbiguousId` listing candidates; `NoSuchImage`
    /// (`<ref>: image not known`).
    pub fn lookup_image(&self, reference_or_id: &str) -> Result<ImageInfo> {
        self.resolve(reference_or_id).map(|(i, _)| i)
    }

    fn resolve(&self, r: &str) -> Result<(ImageInfo, Matched)> {
        let conn = self.conn();
        let by_name = |name: &str| -> Result<Option<String>> {
            conn.query_row("SELECT image_id FROM names WHERE name = ?1", [name], |x| {
                x.get(0)
            })
            .optional()
            .map_err(|e| self.db_err("looking up name", e))
        };
        if let Ok(parsed) = reference::parse(r) {
            let full = parsed.to_string();
            if let Some(id) = by_name(&full)? {
                return found(&conn, &id, Matched::Name(full));
            }
            if let Some(d) = &parsed.digest {
                // name@digest: the named repository's image with that manifest digest.
                let repo = format!("{}/{}:", parsed.domain, parsed.path);
                let mut st = conn
                    .prepare_cached("SELECT i.id FROM images i JOIN names n ON n.image_id = i.id WHERE i.digest = ?1 AND substr(n.name, 1, length(?2)) = ?2")
                    .map_err(|e| self.db_err("preparing query", e))?;
                let id: Option<String> = st
                    .query_row(params![d, repo], |x| x.get(0))
                    .optional()
                    .map_err(|e| self.db_err("querying", e))?;
                if let Some(id) = id {
                    return found(&conn, &id, Matched::Id);
                }
            }
            if reference::is_short_name(r) && parsed.digest.is_none() {
                let p = reference::split(r)?;
                let suffix = format!("/{}:{}", p.path, p.tag.as_deref().unwrap_or("latest"));
                let mut st = conn
                    .prepare_cached("SELECT name, image_id FROM names WHERE substr(name, -length(?1)) = ?1 ORDER BY seq")
                    .map_err(|e| self.db_err("preparing query", e))?;
                let mut hits: Vec<(String, String)> = st
                    .query_map([&suffix], |x| Ok((x.get(0)?, x.get(1)?)))
                    .map_err(|e| self.db_err("querying", e))?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(|e| self.db_err("querying", e))?;
                // Several names of one image are one match.
                let first_id = hits.first().map(|h| h.1.clone());
                if hits.iter().all(|h| Some(&h.1) == first_id.as_ref()) {
                    hits.truncate(1);
                }
                match hits.len() {
                    0 => {}
                    1 => return found(&conn, &hits[0].1, Matched::Name(hits[0].0.clone())),
                    _ => {
                        let names: Vec<String> = hits.into_iter().map(|(n, _)| n).collect();
                        return Err(Error::new(
                            ErrorKind::AmbiguousId {
                                candidates: names.clone(),
                            },
                            format!(
                                "short name {r:?} matches several images: {}",
                                names.join(", ")
                            ),
                        )
                        .with_subject(r));
                    }
                }
            }
        }
        let prefix = r.strip_prefix("sha256:").unwrap_or(r);
        if !prefix.is_empty()
            && prefix.len() <= 64
            && prefix
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            let mut st = conn
                .prepare_cached(
                    "SELECT id FROM images WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id",
                )
                .map_err(|e| self.db_err("preparing query", e))?;
            let ids: Vec<String> = st
                .query_map([prefix], |x| x.get(0))
                .map_err(|e| self.db_err("querying", e))?
                .collect::<rusqlite::Result<_>>()
                .map_err(|e| self.db_err("querying", e))?;
            match ids.len() {
                0 => {}
                1 => return found(&conn, &ids[0], Matched::Id),
                n => {
                    return Err(Error::new(
                        ErrorKind::AmbiguousId {
                            candidates: ids.clone(),
                        },
                        format!("{r}: image ID prefix is ambiguous: matches {n} images"),
                    )
                    .with_subject(r))
                }
            }
        }
        Err(Error::no_such_image(r))
    }

    /// Parse the image's config (oci-spec type).
    pub fn image_config(&self, image: &ImageInfo) -> Result<oci_spec::image::ImageConfiguration> {
        serde_json::from_str(&image.config_json).map_err(|e| {
            Error::new(
                ErrorKind::Storage,
                format!(
                    "image {}: stored config is invalid: {e}",
                    &image.id[..12.min(image.id.len())]
                ),
            )
            .with_subject(&image.id)
        })
    }

    /// Remove an image, or only a name of it.
    ///
    /// Referenced by a name while the image has several names: only that
    /// name goes (`Untagged: x`). Otherwise the image is deleted with all its
    /// names, and every layer no other image or container layer uses.
    /// Returns Podman's `Untagged: name` / `Deleted: <id>` lines. Whether a
    /// container uses the image is the caller's business.
    /// A full disk releases the store's reserve and retries once.
    pub fn remove_image(&self, id_or_name: &str) -> Result<Vec<String>> {
        self.retry_when_full(|| self.remove_image_once(id_or_name))
    }

    fn remove_image_once(&self, id_or_name: &str) -> Result<Vec<String>> {
        let (info, how) = self.resolve(id_or_name)?;
        let _lock = StoreLock::take(&self.root)?;
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        let mut out = Vec::new();
        if let Matched::Name(n) = &how {
            if info.names.len() > 1 {
                tx.execute("DELETE FROM names WHERE name = ?1", [n])
                    .map_err(|e| self.db_err("untagging", e))?;
                tx.commit()
                    .map_err(|e| self.db_err("committing untag", e))?;
                return Ok(vec![format!("Untagged: {n}")]);
            }
        }
        let deleted = tx
            .execute("DELETE FROM images WHERE id = ?1", [&info.id])
            .map_err(|e| self.db_err("deleting image", e))?;
        if deleted == 0 {
            // Removed concurrently between lookup and lock.
            return Err(Error::no_such_image(id_or_name));
        }
        for n in &info.names {
            out.push(format!("Untagged: {n}"));
        }
        out.push(format!("Deleted: {}", info.id));
        let dead = crate::layers::unreferenced_layers(&tx)?;
        tx.commit()
            .map_err(|e| self.db_err("committing removal", e))?;
        drop(conn);
        self.retire_layers(&dead)?;
        Ok(out)
    }
}

fn found(conn: &Connection, id: &str, how: Matched) -> Result<(ImageInfo, Matched)> {
    match get_image(conn, id)? {
        Some(i) => Ok((i, how)),
        None => Err(Error::no_such_image(id)),
    }
}
