//! Adding and removing image names (`tag`, `untag`).

use berth_types::{Error, ErrorKind, Result};
use rusqlite::{params, OptionalExtension, Transaction};

use crate::db::{db_err, write_tx};
use crate::Store;

/// Give `name` to image `id`, taking it from whichever image held it
/// (Podman: a name belongs to one image; the newest claim wins).
pub(crate) fn claim_name(tx: &Transaction<'_>, name: &str, id: &str) -> Result<()> {
    let owner: Option<String> = tx
        .query_row("SELECT image_id FROM names WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| db_err("looking up name", e))?;
    if owner.as_deref() == Some(id) {
        return Ok(());
    }
    tx.execute("DELETE FROM names WHERE name = ?1", [name])
        .map_err(|e| db_err("moving name", e))?;
    tx.execute(
        "INSERT INTO names (name, image_id, seq) VALUES (?1, ?2, (SELECT coalesce(max(seq), 0) + 1 FROM names))",
        params![name, id],
    )
    .map_err(|e| db_err("naming image", e))?;
    Ok(())
}

impl Store {
    /// Add normalized `names` to image `id` (a full ID).
    pub fn tag_image(&self, id: &str, names: &[String]) -> Result<()> {
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        let known: Option<String> = tx
            .query_row("SELECT id FROM images WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| self.db_err("looking up image", e))?;
        if known.is_none() {
            return Err(Error::no_such_image(id));
        }
        for n in names {
            claim_name(&tx, n, id)?;
        }
        tx.commit().map_err(|e| self.db_err("committing tag", e))
    }

    /// Remove names from image `id`: every name when `names` is empty.
    /// A name is matched exactly, then by its short form (`busybox:1`
    /// matches `*/busybox:1` when unique on this image). Returns the
    /// removed names; an unknown name fails the whole call.
    /// A full disk releases the store's reserve and retries once.
    pub fn untag_image(&self, id: &str, names: &[String]) -> Result<Vec<String>> {
        self.retry_when_full(|| self.untag_image_once(id, names))
    }

    fn untag_image_once(&self, id: &str, names: &[String]) -> Result<Vec<String>> {
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        let have = crate::images::strings(
            &tx,
            "SELECT name FROM names WHERE image_id = ?1 ORDER BY seq",
            id,
        )?;
        let mut gone = Vec::new();
        if names.is_empty() {
            gone = have;
        } else {
            for n in names {
                let full = crate::reference::normalize(n).ok();
                let local = crate::reference::normalize_local(n).ok();
                let hit = have
                    .iter()
                    .find(|h| Some(*h) == full.as_ref() || Some(*h) == local.as_ref())
                    .cloned();
                match hit {
                    Some(h) => gone.push(h),
                    None => {
                        let shown = local.unwrap_or_else(|| n.clone());
                        return Err(Error::new(
                            ErrorKind::NoSuchImage,
                            format!("{shown}: tag not known"),
                        )
                        .with_subject(n));
                    }
                }
            }
        }
        for g in &gone {
            tx.execute("DELETE FROM names WHERE name = ?1", [g])
                .map_err(|e| self.db_err("untagging", e))?;
        }
        tx.commit()
            .map_err(|e| self.db_err("committing untag", e))?;
        Ok(gone)
    }
}
