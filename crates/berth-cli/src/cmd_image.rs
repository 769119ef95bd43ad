//! Image verbs of the foundation: load, images, rmi, image inspect/exists.

use crate::format::{
    align, human_duration, human_size, print_json, render_template, since, OutputFormat,
};
use crate::report::{fail, fail_any, Exit, Outcome};
use berth_core::{Error, ErrorKind, ImageInfo, Runtime};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from this archive file (docker-archive or oci-archive).
    #[arg(short = 'i', long = "input")]
    pub input: String,
    /// Print only the loaded image names.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Show all images (accepted; berth has no intermediate images).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Print only image IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate IDs.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// table, json or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Remove images used by containers, removing those containers.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove all images.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not error on missing images.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ImageInspectArgs {
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    pub images: Vec<String>,
}

#[derive(Subcommand)]
pub enum ImageCommand {
    /// Load images from an archive.
    Load(LoadArgs),
    /// List images.
    #[command(visible_alias = "ls")]
    List(ImagesArgs),
    /// Remove images.
    #[command(visible_alias = "remove", alias = "rmi")]
    Rm(RmiArgs),
    /// Show details of images.
    Inspect(ImageInspectArgs),
    /// Check whether an image exists (exit 0) or not (exit 1).
    Exists { image: String },
}

pub fn image(rt: &Runtime, cmd: &ImageCommand) -> Exit {
    match cmd {
        ImageCommand::Load(a) => load(rt, a),
        ImageCommand::List(a) => images(rt, a),
        ImageCommand::Rm(a) => rmi(rt, a),
        ImageCommand::Inspect(a) => inspect(rt, a),
        ImageCommand::Exists { image } => match rt.lookup_image(image) {
            Ok(_) => 0,
            Err(e) if e.kind == ErrorKind::NoSuchImage => 1,
            Err(e) => fail(&e),
        },
    }
}

pub fn load(rt: &Runtime, a: &LoadArgs) -> Exit {
    match rt.load_images(std::path::Path::new(&a.input)) {
        Ok(list) => {
            for img in list {
                let name = img
                    .names
                    .first()
                    .cloned()
                    .unwrap_or_else(|| format!("sha256:{}", img.id));
                if a.quiet {
                    println!("{name}");
                } else {
                    println!("Loaded image: {name}");
                }
            }
            0
        }
        Err(e) => fail(&e),
    }
}

/// Split `registry/repo:tag` into (`registry/repo`, `tag`).
fn repo_tag(name: &str) -> (String, String) {
    let slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    match name[slash..].rfind(':') {
        Some(i) => (
            name[..slash + i].to_string(),
            name[slash + i + 1..].to_string(),
        ),
        None => (name.to_string(), "latest".to_string()),
    }
}

fn created(img: &ImageInfo) -> Option<jiff::Timestamp> {
    img.created.as_deref().and_then(|c| c.parse().ok())
}

pub fn images(rt: &Runtime, a: &ImagesArgs) -> Exit {
    let list = match rt.list_images() {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let short = |id: &str| {
        if a.no_trunc {
            format!("sha256:{id}")
        } else {
            id[..12].to_string()
        }
    };
    if a.quiet {
        for img in &list {
            println!("{}", short(&img.id));
        }
        return 0;
    }
    let mut rows = Vec::new();
    for img in &list {
        let names = if img.names.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            img.names.clone()
        };
        for n in names {
            let (repo, tag) = if n == "<none>:<none>" {
                ("<none>".into(), "<none>".into())
            } else {
                repo_tag(&n)
            };
            rows.push(json!({
                "Repository": repo,
                "Tag": tag,
                "ID": short(&img.id),
                "Id": img.id,
                "Digest": img.digest,
                "Created": created(img).map(|t| t.as_second()).unwrap_or(0),
                "CreatedSince": created(img).map(|t| format!("{} ago", human_duration(since(t)))).unwrap_or_default(),
                "CreatedAt": img.created.clone().unwrap_or_default(),
                "Size": human_size(img.size),
                "Names": img.names,
            }));
        }
    }
    let result = match OutputFormat::parse(a.format.as_deref()) {
        OutputFormat::Json => print_json(
            &list
                .iter()
                .map(|img| {
                    json!({
                        "Id": img.id, "ParentId": "", "RepoTags": img.names, "RepoDigests": [],
                        "Size": img.size, "SharedSize": 0, "VirtualSize": img.size, "Labels": null,
                        "Containers": 0, "Names": img.names, "Digest": img.digest,
                        "Created": created(img).map(|t| t.as_second()).unwrap_or(0),
                        "CreatedAt": img.created.clone().unwrap_or_default(),
                    })
                })
                .collect::<Vec<_>>(),
        ),
        OutputFormat::Template { source, table } => render_template(
            &source,
            table,
            &[
                ("Repository", "REPOSITORY"),
                ("Tag", "TAG"),
                ("ID", "IMAGE ID"),
                ("CreatedSince", "CREATED"),
                ("Size", "SIZE"),
            ],
            &rows,
        )
        .map(|s| print!("{s}")),
        OutputFormat::Table => {
            let mut text = if a.digests {
                String::from("REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tCREATED\tSIZE\n")
            } else {
                String::from("REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\n")
            };
            for r in &rows {
                let f = |k: &str| r[k].as_str().unwrap_or("").to_string();
                let mut cols = vec![f("Repository"), f("Tag")];
                if a.digests {
                    cols.push(f("Digest"));
                }
                cols.extend([f("ID"), f("CreatedSince"), f("Size")]);
                text.push_str(&cols.join("\t"));
                text.push('\n');
            }
            print!("{}", align(&text));
            Ok(())
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => fail_any(&e),
    }
}

pub fn rmi(rt: &Runtime, a: &RmiArgs) -> Exit {
    let targets: Vec<String> = if a.all {
        match rt.list_images() {
            Ok(l) => l.into_iter().map(|i| i.id).collect(),
            Err(e) => return fail(&e),
        }
    } else {
        a.images.clone()
    };
    if targets.is_empty() && !a.all {
        eprintln!("Error: image name or ID must be specified");
        return 125;
    }
    let mut outcome = Outcome::default();
    for t in &targets {
        match rt.remove_image(t, a.force) {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) if a.ignore && e.kind == ErrorKind::NoSuchImage => {}
            Err(e) => outcome.error(&e),
        }
    }
    let code = outcome.exit(false);
    // Podman: rmi of an unknown image exits 1.
    if code != 0
        && targets
            .iter()
            .all(|t| matches!(rt.lookup_image(t), Err(ref e) if e.kind == ErrorKind::NoSuchImage))
    {
        return 1;
    }
    code
}

/// The inspect document of one image (Podman's shape).
pub fn image_json(rt: &Runtime, name: &str) -> berth_core::Result<Value> {
    let img = rt.lookup_image(name)?;
    let cfg: Value = serde_json::from_str(&img.config_json)
        .map_err(|e| Error::internal(format!("image {name}: bad config: {e}")))?;
    Ok(json!({
        "Id": img.id,
        "Digest": img.digest,
        "RepoTags": img.names,
        "RepoDigests": [],
        "Parent": "",
        "Comment": cfg.get("comment").cloned().unwrap_or(Value::String(String::new())),
        "Created": img.created.clone().unwrap_or_default(),
        "Config": cfg.get("config").cloned().unwrap_or(json!({})),
        "Version": "",
        "Author": cfg.get("author").cloned().unwrap_or(Value::String(String::new())),
        "Architecture": cfg.get("architecture").cloned().unwrap_or(Value::Null),
        "Os": cfg.get("os").cloned().unwrap_or(Value::Null),
        "Size": img.size,
        "VirtualSize": img.size,
        "GraphDriver": { "Name": "overlay", "Data": {} },
        "RootFS": { "Type": "layers", "Layers": img.layers },
        "Labels": cfg.pointer("/config/Labels").cloned().unwrap_or(Value::Null),
        "Annotations": {},
        "ManifestType": "application/vnd.oci.image.manifest.v1+json",
        "User": cfg.pointer("/config/User").cloned().unwrap_or(Value::String(String::new())),
        "History": cfg.get("history").cloned().unwrap_or(json!([])),
        "NamesHistory": img.names,
    }))
}

fn inspect(rt: &Runtime, a: &ImageInspectArgs) -> Exit {
    let mut docs = Vec::new();
    let mut outcome = Outcome::default();
    for n in &a.images {
        match image_json(rt, n) {
            Ok(d) => docs.push(d),
            Err(e) => outcome.error(&e),
        }
    }
    let printed = match OutputFormat::parse(a.format.as_deref()) {
        OutputFormat::Template { source, .. } => {
            render_template(&source, false, &[], &docs).map(|s| print!("{s}"))
        }
        _ => print_json(&docs),
    };
    if let Err(e) = printed {
        return fail_any(&e);
    }
    outcome.exit(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_repo_and_tag() {
        assert_eq!(
            repo_tag("localhost/busybox:latest"),
            ("localhost/busybox".into(), "latest".into())
        );
        assert_eq!(
            repo_tag("localhost:5000/a/b:1.0"),
            ("localhost:5000/a/b".into(), "1.0".into())
        );
        assert_eq!(
            repo_tag("localhost:5000/a"),
            ("localhost:5000/a".into(), "latest".into())
        );
    }
}
