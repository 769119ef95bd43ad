//! Layer reference counting and container read-write layers.
//!
//! A layer row lives while any image (`image_layers`) or container layer
//! (`container_layers`) refers to it; the refcount is that join, computed in
//! the same transaction that drops a reference, so it cannot drift.

use std::path::PathBuf;

use berth_types::{Error, ErrorKind, Result};
use rusqlite::{params, OptionalExtension, Transaction};

use crate::db::{db_err, write_tx};
use crate::util::{check_cid, make_tmp_dir, remove_tree, retire_dir, StoreLock};
use crate::Store;

/// Delete layer rows nothing refers to any more; return their diff IDs so
/// the caller can retire the directories after commit.
pub(crate) fn unreferenced_layers(tx: &Transaction<'_>) -> Result<Vec<String>> {
    let sel = "SELECT diff_id FROM layers WHERE diff_id NOT IN (SELECT diff_id FROM image_layers) \
               AND diff_id NOT IN (SELECT diff_id FROM container_layers)";
    let dead: Vec<String> = {
        let mut st = tx
            .prepare(sel)
            .map_err(|e| db_err("finding unused layers", e))?;
        let rows = st
            .query_map([], |r| r.get(0))
            .map_err(|e| db_err("finding unused layers", e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| db_err("finding unused layers", e))?
    };
    for d in &dead {
        tx.execute("DELETE FROM layers WHERE diff_id = ?1", [d])
            .map_err(|e| db_err("deleting layer", e))?;
    }
    Ok(dead)
}

impl Store {
    /// Remove layer directories (already unregistered). Call with the store
    /// lock held so a concurrent load cannot register one meanwhile.
    pub(crate) fn retire_layers(&self, diff_ids: &[String]) -> Result<()> {
        for d in diff_ids {
            retire_dir(&self.layer_dir(d), &self.root.join("tmp"))?;
        }
        Ok(())
    }

    /// Create the read-write layer of container `cid` on image `image_id`
    /// (a full image ID): `containers/<cid>/{diff,work,merged}`. The
    /// container pins the image's layers until [`Store::remove_container_layer`].
    pub fn create_container_layer(&self, cid: &str, image_id: &str) -> Result<()> {
        check_cid(cid)?;
        let dir = self.container_dir(cid);
        // Build the directories in tmp/ and rename, so containers/<cid>
        // is complete or absent.
        let tmp = make_tmp_dir(&self.root.join("tmp"))?;
        for d in ["diff", "work", "merged"] {
            if let Err(e) = std::fs::create_dir(tmp.join(d)) {
                remove_tree(&tmp);
                return Err(crate::storage_err(
                    format!("container {cid}: creating {d}"),
                    e,
                ));
            }
        }
        let res = (|| {
            let _lock = StoreLock::take(&self.root)?;
            let mut conn = self.conn();
            let tx = write_tx(&mut conn)?;
            let exists: Option<String> = tx
                .query_row("SELECT cid FROM containers WHERE cid = ?1", [cid], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| self.db_err("looking up container layer", e))?;
            if exists.is_some() || dir.exists() {
                return Err(Error::new(
                    ErrorKind::InUse,
                    format!("container {cid}: a container layer already exists"),
                )
                .with_subject(cid));
            }
            let layers = crate::images::strings(
                &tx,
                "SELECT diff_id FROM image_layers WHERE image_id = ?1 ORDER BY pos",
                image_id,
            )?;
            let known: Option<String> = tx
                .query_row("SELECT id FROM images WHERE id = ?1", [image_id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| self.db_err("looking up image", e))?;
            if known.is_none() {
                return Err(Error::no_such_image(image_id));
            }
            tx.execute(
                "INSERT INTO containers (cid, image_id) VALUES (?1, ?2)",
                params![cid, image_id],
            )
            .map_err(|e| self.db_err("registering container layer", e))?;
            for (pos, d) in layers.iter().enumerate() {
                tx.execute(
                    "INSERT INTO container_layers (cid, pos, diff_id) VALUES (?1, ?2, ?3)",
                    params![cid, pos as i64, d],
                )
                .map_err(|e| self.db_err("registering container layer", e))?;
            }
            std::fs::rename(&tmp, &dir)
                .map_err(|e| crate::storage_err(format!("container {cid}: creating layer"), e))?;
            if let Err(e) = tx.commit() {
                remove_tree(&dir);
                return Err(self.db_err("committing container layer", e));
            }
            Ok(())
        })();
        if res.is_err() {
            remove_tree(&tmp);
        }
        res
    }

    /// IDs of every container that has a read-write layer, registered or
    /// only on disk (a create killed between the directory's rename and
    /// the registration leaves the latter), for `system check`, which
    /// compares them with the container store.
    pub fn container_layers(&self) -> Result<Vec<String>> {
        let mut ids =
            crate::images::all_strings(&self.conn(), "SELECT cid FROM containers ORDER BY cid")?;
        if let Ok(entries) = std::fs::read_dir(self.root.join("containers")) {
            ids.extend(
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| check_cid(n).is_ok()),
            );
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Whether container `cid` has a read-write layer.
    pub fn container_layer_exists(&self, cid: &str) -> bool {
        if check_cid(cid).is_err() {
            return false;
        }
        self.conn()
            .query_row("SELECT 1 FROM containers WHERE cid = ?1", [cid], |_| Ok(()))
            .optional()
            .ok()
            .flatten()
            .is_some()
    }

    /// The lower dirs of container `cid`, top layer first (overlay's order).
    pub(crate) fn container_lowers(&self, cid: &str) -> Result<Vec<PathBuf>> {
        let conn = self.conn();
        let known: Option<String> = conn
            .query_row("SELECT cid FROM containers WHERE cid = ?1", [cid], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.db_err("looking up container layer", e))?;
        if known.is_none() {
            return Err(Error::new(
                ErrorKind::Storage,
                format!("container {cid}: no container layer"),
            )
            .with_subject(cid));
        }
        let diffs = crate::images::strings(
            &conn,
            "SELECT diff_id FROM container_layers WHERE cid = ?1 ORDER BY pos DESC",
            cid,
        )?;
        Ok(diffs
            .iter()
            .map(|d| self.layer_dir(d).join("diff"))
            .collect())
    }

    /// Unmount and delete container `cid`'s layer, then any layers nothing
    /// else uses. Idempotent: no error if it does not exist.
    /// A full disk releases the store's reserve and retries once.
    pub fn remove_container_layer(&self, cid: &str) -> Result<()> {
        self.retry_when_full(|| self.remove_container_layer_once(cid))
    }

    fn remove_container_layer_once(&self, cid: &str) -> Result<()> {
        check_cid(cid)?;
        // Users' mounts end with the container (`rm` of a mounted one).
        self.unmount_user(cid, true, false)?;
        let _lock = StoreLock::take(&self.root)?;
        let dead = {
            let mut conn = self.conn();
            let tx = write_tx(&mut conn)?;
            tx.execute("DELETE FROM containers WHERE cid = ?1", [cid])
                .map_err(|e| self.db_err("deleting container layer", e))?;
            let dead = unreferenced_layers(&tx)?;
            tx.commit()
                .map_err(|e| self.db_err("committing container layer removal", e))?;
            dead
        };
        retire_dir(&self.container_dir(cid), &self.root.join("tmp"))?;
        self.retire_layers(&dead)
    }
}
