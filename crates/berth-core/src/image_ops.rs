//! Engine-level image operations: tag/untag, save, import, export, commit,
//! diff, history and prune. Storage does the byte work (`berth-storage`);
//! this file adds what needs containers or image-config rules.

use std::io::{Read, Write};
use std::path::Path;

use berth_storage::{reference, Change, ImageInfo, SaveFormat};
use berth_types::{ContainerState, Error, ErrorKind, Result};
use serde_json::{json, Value};

use crate::Runtime;

/// One row of `history`, newest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryEntry {
    /// Image ID for the top row, `<missing>` below (Podman's output).
    pub id: String,
    /// When the step ran (RFC 3339), if recorded.
    pub created: Option<String>,
    /// The command of the step.
    pub created_by: String,
    /// Bytes the step's layer holds (0 for empty layers).
    pub size: u64,
    /// The step's comment.
    pub comment: String,
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// `["a","b"]` JSON form, else the shell form Docker wraps in `/bin/sh -c`.
fn exec_form(v: &str) -> Value {
    match serde_json::from_str::<Vec<String>>(v.trim()) {
        Ok(a) => json!(a),
        Err(_) => json!(["/bin/sh", "-c", v]),
    }
}

/// Apply Dockerfile-style `--change` instructions (`CMD=...`, `ENV K=V`,
/// ...) to an image config's `config` object.
pub(crate) fn apply_changes(cfg: &mut Value, changes: &[String]) -> Result<()> {
    if !cfg.is_object() {
        *cfg = json!({});
    }
    for ch in changes {
        let split = ch.find([' ', '=']).unwrap_or(ch.len());
        let (inst, val) = (
            ch[..split].to_ascii_uppercase(),
            ch.get(split + 1..).unwrap_or("").trim(),
        );
        let bad = |why: &str| Error::invalid(format!("invalid change {ch:?}: {why}"));
        let kv = |v: &str| -> Option<(String, String)> {
            let (k, v) = v.split_once('=').or_else(|| v.split_once(' '))?;
            Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        };
        match inst.as_str() {
            "CMD" => cfg["Cmd"] = exec_form(val),
            "ENTRYPOINT" => cfg["Entrypoint"] = exec_form(val),
            "USER" => cfg["User"] = json!(val),
            "STOPSIGNAL" => cfg["StopSignal"] = json!(val),
            "WORKDIR" => {
                let base = cfg["WorkingDir"].as_str().unwrap_or("/").to_string();
                let wd = if val.starts_with('/') {
                    val.to_string()
                } else {
                    format!("{}/{val}", base.trim_end_matches('/'))
                };
                cfg["WorkingDir"] = json!(wd);
            }
            "ENV" => {
                let (k, v) = kv(val).ok_or_else(|| bad("ENV needs KEY=VALUE"))?;
                let mut env: Vec<String> =
                    serde_json::from_value(cfg["Env"].clone()).unwrap_or_default();
                env.retain(|e| e.split('=').next() != Some(k.as_str()));
                env.push(format!("{k}={v}"));
                cfg["Env"] = json!(env);
            }
            "LABEL" => {
                let (k, v) = kv(val).ok_or_else(|| bad("LABEL needs KEY=VALUE"))?;
                if !cfg["Labels"].is_object() {
                    cfg["Labels"] = json!({});
                }
                cfg["Labels"][k] = json!(v);
            }
            "EXPOSE" | "VOLUME" => {
                let key = if inst == "EXPOSE" {
                    "ExposedPorts"
                } else {
                    "Volumes"
                };
                let items: Vec<String> = serde_json::from_str(val)
                    .unwrap_or_else(|_| val.split_whitespace().map(str::to_string).collect());
                if !cfg[key].is_object() {
                    cfg[key] = json!({});
                }
                for i in items {
                    let i = if inst == "EXPOSE" && !i.contains('/') {
                        format!("{i}/tcp")
                    } else {
                        i
                    };
                    cfg[key][i] = json!({});
                }
            }
            "ONBUILD" => {}
            _ => return Err(bad("unknown instruction")),
        }
    }
    Ok(())
}

impl Runtime {
    /// Add names to an image (`tag`): short names go to `localhost/`.
    pub fn tag_image(&self, image: &str, targets: &[String]) -> Result<()> {
        let img = self.lookup_image(image)?;
        let names = targets
            .iter()
            .map(|t| reference::normalize_local(t))
            .collect::<Result<Vec<_>>>()?;
        self.images()?.tag_image(&img.id, &names)
    }

    /// Remove names from an image (`untag`); all of them when `names` is
    /// empty. Returns the removed names.
    pub fn untag_image(&self, image: &str, names: &[String]) -> Result<Vec<String>> {
        let img = self.lookup_image(image)?;
        self.images()?.untag_image(&img.id, names)
    }

    /// Save images in `format` to `output`, or to stdout when `None`.
    /// Each image records the name it was asked by (none when by ID).
    pub fn save_images(&self, refs: &[String], format: &str, output: Option<&Path>) -> Result<()> {
        match output {
            Some(p) => {
                let format = SaveFormat::parse(format)?;
                let items = self.save_items(refs)?;
                let refs: Vec<(&ImageInfo, &[String])> =
                    items.iter().map(|(i, n)| (i, n.as_slice())).collect();
                self.images()?.save_to_path(&refs, format, p)
            }
            None => self.save_images_to(refs, format, std::io::stdout().lock()),
        }
    }

    /// [`Runtime::save_images`] to any writer (the API's response body).
    pub fn save_images_to<W: Write>(&self, refs: &[String], format: &str, out: W) -> Result<()> {
        let format = SaveFormat::parse(format)?;
        let items = self.save_items(refs)?;
        let refs: Vec<(&ImageInfo, &[String])> =
            items.iter().map(|(i, n)| (i, n.as_slice())).collect();
        self.images()?.save_to_writer(&refs, format, out).map(drop)
    }

    /// The images `refs` name, each once, with the names they were asked by.
    fn save_items(&self, refs: &[String]) -> Result<Vec<(ImageInfo, Vec<String>)>> {
        let mut items: Vec<(ImageInfo, Vec<String>)> = Vec::new();
        for r in refs {
            let img = self.lookup_image(r)?;
            let named = [reference::normalize(r), reference::normalize_local(r)]
                .into_iter()
                .flatten()
                .find(|n| img.names.contains(n))
                .or_else(|| {
                    let by_id = img.id.starts_with(r.trim_start_matches("sha256:"));
                    (!by_id).then(|| img.names.first().cloned()).flatten()
                });
            match items.iter_mut().find(|(i, _)| i.id == img.id) {
                Some((_, names)) => names.extend(named.filter(|n| !names.contains(n))),
                None => items.push((img, named.into_iter().collect())),
            }
        }
        Ok(items)
    }

    /// Create an image from a filesystem tarball (`import`; `-` reads
    /// stdin). Returns the new image.
    pub fn import_image(
        &self,
        source: &str,
        changes: &[String],
        message: Option<&str>,
        name: Option<&str>,
    ) -> Result<ImageInfo> {
        let reader: Box<dyn Read> = if source == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(
                std::fs::File::open(source)
                    .map_err(|e| Error::io(format!("opening {source}"), e).with_subject(source))?,
            )
        };
        self.import_image_from(reader, source, changes, message, name)
    }

    /// [`Runtime::import_image`] from any reader (the API's request body);
    /// `source` names it in messages and in the image's history.
    pub fn import_image_from(
        &self,
        reader: impl Read,
        source: &str,
        changes: &[String],
        message: Option<&str>,
        name: Option<&str>,
    ) -> Result<ImageInfo> {
        let names = name.map(reference::normalize_local).transpose()?;
        let mut cfg = json!({});
        apply_changes(&mut cfg, changes)?;
        let store = self.images()?;
        let _staging = store.staging()?;
        let (diff, size) =
            store.store_layer(std::io::BufReader::new(reader), &format!("import {source}"))?;
        let created = now();
        let config = json!({
            "created": created, "architecture": "amd64", "os": "linux", "config": cfg,
            "rootfs": {"type": "layers", "diff_ids": [diff]},
            "history": [{"created": created, "created_by": format!("/bin/sh -c #(nop) ADD file:{} in /", &diff[7..]), "comment": message.unwrap_or("")}],
        });
        let bytes = serde_json::to_vec(&config).map_err(|e| Error::internal(e.to_string()))?;
        store.create_image(
            &bytes,
            &names.into_iter().collect::<Vec<_>>(),
            &[(diff, size)],
        )
    }

    /// Write container `ctr`'s filesystem as a tar to `output` (stdout
    /// when `None`), never following a symlink out of it.
    pub fn export_container(&self, ctr: &str, output: Option<&Path>) -> Result<()> {
        match output {
            Some(p) => berth_storage::atomic_write(p, |w| self.export_container_to(ctr, w)),
            None => self.export_container_to(ctr, std::io::stdout().lock()),
        }
    }

    /// [`Runtime::export_container`] to any writer (the API's response body).
    pub fn export_container_to<W: Write>(&self, ctr: &str, out: W) -> Result<()> {
        let c = self.lookup(ctr)?;
        let store = self.images()?;
        // Under the container's lock, so it cannot start (and mount) or
        // clean up (and unmount) while we use and maybe unmount the rootfs.
        c.batch(|locked| {
            let id = locked.record().config.id.clone();
            let was_mounted = locked.record().state.mountpoint.is_some();
            let merged = store.mount(&id)?;
            let label = format!("container {}", locked.record().config.name);
            let res = store.export_tree(&merged, out, &label).map(drop);
            if !was_mounted {
                store.unmount(&id)?;
            }
            res
        })
    }

    /// Changes of container `ctr` against its image, sorted by path.
    pub fn container_diff(&self, ctr: &str) -> Result<Vec<Change>> {
        let c = self.lookup(ctr)?;
        self.images()?.container_changes(c.id())
    }

    /// Make an image of container `ctr` (`commit`): its image's layers plus
    /// one layer of its changes; config from the container and `changes`.
    pub fn commit_container(
        &self,
        ctr: &str,
        name: Option<&str>,
        changes: &[String],
        message: Option<&str>,
        author: Option<&str>,
        pause: bool,
    ) -> Result<ImageInfo> {
        let names = name.map(reference::normalize_local).transpose()?;
        let c = self.lookup(ctr)?;
        let rec = c.inspect_record()?;
        let store = self.images()?;
        let mut config: Value = store
            .lookup_image(&rec.config.image_id)
            .ok()
            .and_then(|i| serde_json::from_str(&i.config_json).ok())
            .unwrap_or_else(|| json!({"architecture": "amd64", "os": "linux"}));
        let _staging = store.staging()?;
        let paused = pause && rec.state.state == ContainerState::Running;
        if paused {
            c.pause()?;
        }
        let layer = store.commit_layer(c.id());
        if paused {
            let _ = c.unpause();
        }
        let (diff, size) = layer?;
        let mut diff_ids = store.container_base_layers(c.id())?;
        diff_ids.push(diff.clone());
        let cc = &rec.config;
        let created = now();
        let cfg = &mut config["config"];
        if !cfg.is_object() {
            *cfg = json!({});
        }
        cfg["Env"] = json!(cc.env);
        cfg["Cmd"] = json!(cc.command);
        cfg["Entrypoint"] = if cc.entrypoint.is_empty() {
            Value::Null
        } else {
            json!(cc.entrypoint)
        };
        cfg["WorkingDir"] = json!(cc.workdir);
        if !cc.user.is_empty() {
            cfg["User"] = json!(cc.user);
        }
        if !cc.labels.is_empty() {
            if !cfg["Labels"].is_object() {
                cfg["Labels"] = json!({});
            }
            for (k, v) in &cc.labels {
                cfg["Labels"][k] = json!(v);
            }
        }
        apply_changes(cfg, changes)?;
        config["created"] = json!(created);
        config["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
        if let Some(a) = author {
            config["author"] = json!(a);
        }
        if let Some(m) = message {
            config["comment"] = json!(m);
        }
        let mut step = json!({"created": created, "created_by": cc.args.join(" ")});
        if let Some(a) = author {
            step["author"] = json!(a);
        }
        if let Some(m) = message {
            step["comment"] = json!(m);
        }
        match config["history"].as_array_mut() {
            Some(h) => h.push(step),
            None => config["history"] = json!([step]),
        }
        let bytes = serde_json::to_vec(&config).map_err(|e| Error::internal(e.to_string()))?;
        store.create_image(
            &bytes,
            &names.into_iter().collect::<Vec<_>>(),
            &[(diff, size)],
        )
    }

    /// The build steps of an image (`history`), newest first.
    pub fn image_history(&self, image: &str) -> Result<Vec<HistoryEntry>> {
        let img = self.lookup_image(image)?;
        let store = self.images()?;
        let cfg: Value = serde_json::from_str(&img.config_json).unwrap_or(Value::Null);
        let steps: Vec<Value> = cfg["history"].as_array().cloned().unwrap_or_default();
        let mut layers = img.layers.iter();
        let mut out = Vec::new();
        let mut push = |created: Option<String>,
                        by: String,
                        comment: String,
                        layer: Option<&String>|
         -> Result<()> {
            let size = match layer {
                Some(d) => store.layer_size(d)?,
                None => 0,
            };
            out.push(HistoryEntry {
                id: "<missing>".into(),
                created,
                created_by: by,
                size,
                comment,
            });
            Ok(())
        };
        if steps.is_empty() {
            for d in img.layers.iter() {
                push(img.created.clone(), String::new(), String::new(), Some(d))?;
            }
        }
        for s in &steps {
            let empty = s["empty_layer"].as_bool().unwrap_or(false);
            let layer = if empty { None } else { layers.next() };
            let text = |k: &str| s[k].as_str().unwrap_or("").to_string();
            push(
                s["created"].as_str().map(str::to_string),
                text("created_by"),
                text("comment"),
                layer,
            )?;
        }
        out.reverse();
        if let Some(top) = out.first_mut() {
            top.id = img.id.clone();
        }
        Ok(out)
    }

    /// Remove dangling images (no names), or with `all` every image no
    /// container uses. Returns the removed image IDs.
    pub fn prune_images(&self, all: bool) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for img in self.list_images()? {
            if !(img.names.is_empty() || all)
                || !self.store.containers_using_image(&img.id)?.is_empty()
            {
                continue;
            }
            match self.images()?.remove_image(&img.id) {
                Ok(_) => removed.push(img.id),
                Err(e) if e.kind == ErrorKind::NoSuchImage => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_apply_like_podman() {
        let mut c = json!({"Env": ["PATH=/bin", "A=1"], "WorkingDir": "/srv"});
        let ch: Vec<String> = [
            "CMD=/bin/sh -c 'echo hi'",
            "ENTRYPOINT [\"/bin/echo\"]",
            "ENV A=2",
            "ENV B 3",
            "LABEL x=y",
            "EXPOSE 80 53/udp",
            "WORKDIR app",
            "USER 1000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        apply_changes(&mut c, &ch).unwrap();
        assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "/bin/sh -c 'echo hi'"]));
        assert_eq!(c["Entrypoint"], json!(["/bin/echo"]));
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=2", "B=3"]));
        assert_eq!(c["Labels"]["x"], "y");
        assert!(c["ExposedPorts"]["80/tcp"].is_object());
        assert!(c["ExposedPorts"]["53/udp"].is_object());
        assert_eq!(c["WorkingDir"], "/srv/app");
        assert_eq!(c["User"], "1000");
        assert!(apply_changes(&mut c, &["FROB x".to_string()]).is_err());
    }
}
