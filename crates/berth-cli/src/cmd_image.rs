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
    /// Read from this archive (docker-archive or oci-archive, plain or
    /// gzip'd; or an OCI layout directory); stdin if omitted.
    #[arg(short = 'i', long = "input")]
    pub input: Option<String>,
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
    /// Filter: dangling=, reference=, label=, before=, since=.
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
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
    /// Pull images from a registry (also top-level `pull`).
    Pull(crate::cmd_registry::PullArgs),
    /// Push an image to a registry (also top-level `push`).
    Push(crate::cmd_registry::PushArgs),
    /// Save images to an archive.
    Save(SaveArgs),
    /// Add names to an image.
    Tag(TagArgs),
    /// Remove names from an image.
    Untag(UntagArgs),
    /// Create an image from a filesystem tarball.
    Import(ImportArgs),
    /// Show an image's history.
    History(HistoryArgs),
    /// Remove unused images.
    Prune(PruneArgs),
    /// Show a container's changes against its image.
    Diff(DiffArgs),
    /// Export a container's filesystem (also top-level `export`).
    #[command(hide = true)]
    Export(ExportArgs),
    /// Create an image from a container (also top-level `commit`).
    #[command(hide = true)]
    Commit(CommitArgs),
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
        ImageCommand::Pull(a) => crate::cmd_registry::pull(rt, a),
        ImageCommand::Push(a) => crate::cmd_registry::push(rt, a),
        ImageCommand::Save(a) => save(rt, a),
        ImageCommand::Tag(a) => tag(rt, a),
        ImageCommand::Untag(a) => untag(rt, a),
        ImageCommand::Import(a) => import(rt, a),
        ImageCommand::History(a) => history(rt, a),
        ImageCommand::Prune(a) => prune(rt, a),
        ImageCommand::Diff(a) => diff(rt, a),
        ImageCommand::Export(a) => export(rt, a),
        ImageCommand::Commit(a) => commit(rt, a),
    }
}

pub fn load(rt: &Runtime, a: &LoadArgs) -> Exit {
    let loaded = match &a.input {
        Some(path) => rt.load_images(std::path::Path::new(path)),
        None => {
            use std::io::IsTerminal;
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("Error: cannot read from terminal, use command-line redirection or the --input flag");
                return 125;
            }
            match std::os::fd::AsFd::as_fd(&stdin).try_clone_to_owned() {
                Ok(fd) => rt.load_images_from(fd.into(), "stdin"),
                Err(e) => Err(Error::io("reading stdin", e)),
            }
        }
    };
    match loaded {
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
    let list = match rt
        .list_images()
        .and_then(|l| rt.filter_images(l, &a.filter))
    {
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
    // Per image: (labels, repo digests, containers using it).
    let mut facts = Vec::with_capacity(list.len());
    for img in &list {
        let containers = match rt.image_container_count(&img.id) {
            Ok(n) => n,
            Err(e) => return fail(&e),
        };
        facts.push((
            berth_core::image_labels(img),
            berth_core::repo_digests(img),
            containers,
        ));
    }
    let mut rows = Vec::new();
    for (img, (labels, digests, containers)) in list.iter().zip(&facts) {
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
                "Labels": labels,
                "RepoDigests": digests,
                "Containers": containers,
            }));
        }
    }
    let result = match OutputFormat::parse(a.format.as_deref()) {
        OutputFormat::Json => print_json(
            &list
                .iter()
                .zip(&facts)
                .map(|(img, (labels, digests, containers))| {
                    // Podman writes `null` for an image without labels.
                    let labels = if labels.is_empty() { Value::Null } else { json!(labels) };
                    json!({
                        "Id": img.id, "ParentId": "", "RepoTags": img.names, "RepoDigests": digests,
                        "Size": img.size, "SharedSize": 0, "VirtualSize": img.size, "Labels": labels,
                        "Containers": containers, "Names": img.names, "Digest": img.digest,
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
        "RepoDigests": berth_core::repo_digests(&img),
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

// ------------------------------------------------------------ image ops

/// `save`: write images to an archive.
#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to this file (a directory for oci-dir); stdout if omitted.
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    /// docker-archive (default), oci-archive or oci-dir.
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
    /// Allow several images in one docker-archive (always allowed).
    #[arg(short = 'm', long = "multi-image-archive")]
    pub multi_image_archive: bool,
    /// Suppress progress output (berth prints none).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Images to save.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// `tag IMAGE TARGET...`.
#[derive(Args, Debug)]
pub struct TagArgs {
    /// The image.
    pub image: String,
    /// New names.
    #[arg(required = true)]
    pub targets: Vec<String>,
}

/// `untag IMAGE [NAME...]`.
#[derive(Args, Debug)]
pub struct UntagArgs {
    /// The image.
    pub image: String,
    /// Names to remove (all when none).
    pub names: Vec<String>,
}

/// `import FILE|- [NAME]`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Dockerfile instructions to apply (CMD=..., ENV=K=V, ...).
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Commit message.
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Print only the image ID.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Tarball path, or `-` for stdin.
    pub source: String,
    /// Name of the new image.
    pub reference: Option<String>,
}

/// `export -o FILE CTR`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    /// The container.
    pub container: String,
}

/// `commit CTR [NAME]`.
#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Dockerfile instructions to apply (CMD=..., ENV=K=V, ...).
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Commit message.
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Author.
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Pause the container while committing. A Go-style boolean: a value
    /// only as `--pause=false`, so `commit -p CTR` keeps CTR as the container.
    #[arg(short = 'p', long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub pause: Option<bool>,
    /// Print only the image ID.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Image format, oci or docker (berth writes one config that both
    /// read; other values are refused).
    #[arg(short = 'f', long, value_parser = ["oci", "docker"])]
    pub format: Option<String>,
    /// The container.
    pub container: String,
    /// Name of the new image.
    pub image: Option<String>,
}

/// `diff CTR`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// `json` for a JSON document.
    #[arg(long)]
    pub format: Option<String>,
    /// The container.
    pub container: String,
}

/// `history IMAGE`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Do not truncate IDs and commands.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Print only IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Human-readable sizes and times (default).
    #[arg(short = 'H', long, num_args = 0..=1, default_value = "true", default_missing_value = "true")]
    pub human: bool,
    /// table, json or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// The image.
    pub image: String,
}

/// `image prune`.
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove every image no container uses, not only dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// `save`.
pub fn save(rt: &Runtime, a: &SaveArgs) -> Exit {
    if a.output.is_none() && unsafe { libc::isatty(1) } == 1 {
        eprintln!("Error: refusing to save to terminal. Use -o flag or redirect");
        return 125;
    }
    let out = a.output.as_deref().map(std::path::Path::new);
    match rt.save_images(&a.images, &a.format, out) {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

/// `tag`.
pub fn tag(rt: &Runtime, a: &TagArgs) -> Exit {
    match rt.tag_image(&a.image, &a.targets) {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

/// `untag`.
pub fn untag(rt: &Runtime, a: &UntagArgs) -> Exit {
    match rt.untag_image(&a.image, &a.names) {
        Ok(_) => 0,
        Err(e) => fail(&e),
    }
}

/// `import`: prints the new image's ID.
pub fn import(rt: &Runtime, a: &ImportArgs) -> Exit {
    match rt.import_image(
        &a.source,
        &a.change,
        a.message.as_deref(),
        a.reference.as_deref(),
    ) {
        Ok(img) => {
            println!("sha256:{}", img.id);
            0
        }
        Err(e) => fail(&e),
    }
}

/// `export`.
pub fn export(rt: &Runtime, a: &ExportArgs) -> Exit {
    if a.output.is_none() && unsafe { libc::isatty(1) } == 1 {
        eprintln!("Error: refusing to export to terminal. Use -o flag or redirect");
        return 125;
    }
    match rt.export_container(&a.container, a.output.as_deref().map(std::path::Path::new)) {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

/// `commit`: prints the new image's ID.
pub fn commit(rt: &Runtime, a: &CommitArgs) -> Exit {
    let res = rt.commit_container(
        &a.container,
        a.image.as_deref(),
        &a.change,
        a.message.as_deref(),
        a.author.as_deref(),
        a.pause.unwrap_or(false),
    );
    match res {
        Ok(img) => {
            println!("{}", img.id);
            0
        }
        Err(e) => fail(&e),
    }
}

/// `diff`: `A|C|D path` lines.
pub fn diff(rt: &Runtime, a: &DiffArgs) -> Exit {
    let changes = match rt.container_diff(&a.container) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    if a.format.as_deref() == Some("json") {
        let pick = |k: char| {
            changes
                .iter()
                .filter(|c| c.kind == k)
                .map(|c| c.path.clone())
                .collect::<Vec<_>>()
        };
        let doc = json!({"changed": pick('C'), "added": pick('A'), "deleted": pick('D')});
        return match print_json(&doc) {
            Ok(()) => 0,
            Err(e) => fail_any(&e),
        };
    }
    for c in &changes {
        println!("{} {}", c.kind, c.path);
    }
    0
}

/// `history`.
pub fn history(rt: &Runtime, a: &HistoryArgs) -> Exit {
    let steps = match rt.image_history(&a.image) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let short = |id: &str| {
        if a.no_trunc || id.len() < 12 {
            id.to_string()
        } else {
            id[..12].to_string()
        }
    };
    if a.quiet {
        steps.iter().for_each(|s| println!("{}", short(&s.id)));
        return 0;
    }
    let rows: Vec<Value> = steps
        .iter()
        .map(|s| {
            let t = s.created.as_deref().and_then(|c| c.parse::<jiff::Timestamp>().ok());
            let by = if a.no_trunc || s.created_by.chars().count() <= 45 {
                s.created_by.clone()
            } else {
                format!("{}...", s.created_by.chars().take(42).collect::<String>())
            };
            json!({
                "ID": short(&s.id), "id": s.id,
                "Created": t.map(|t| if a.human { format!("{} ago", human_duration(since(t))) } else { t.to_string() }).unwrap_or_default(),
                "created": s.created.clone().unwrap_or_default(),
                "CreatedBy": by, "Size": if a.human { human_size(s.size) } else { s.size.to_string() },
                "size": s.size, "Comment": s.comment, "comment": s.comment,
            })
        })
        .collect();
    let result = match OutputFormat::parse(a.format.as_deref()) {
        OutputFormat::Json => print_json(&rows),
        OutputFormat::Template { source, table } => render_template(
            &source,
            table,
            &[
                ("ID", "ID"),
                ("Created", "CREATED"),
                ("CreatedBy", "CREATED BY"),
                ("Size", "SIZE"),
                ("Comment", "COMMENT"),
            ],
            &rows,
        )
        .map(|s| print!("{s}")),
        OutputFormat::Table => {
            let mut text = String::from("ID\tCREATED\tCREATED BY\tSIZE\tCOMMENT\n");
            for r in &rows {
                let f = |k: &str| r[k].as_str().unwrap_or("").replace('\t', " ");
                text.push_str(
                    &[
                        f("ID"),
                        f("Created"),
                        f("CreatedBy"),
                        f("Size"),
                        f("Comment"),
                    ]
                    .join("\t"),
                );
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

/// `image prune`: prints the removed image IDs.
pub fn prune(rt: &Runtime, a: &PruneArgs) -> Exit {
    if !a.force {
        let what = if a.all {
            " all images not used by a container."
        } else {
            " all dangling images."
        };
        if !crate::report::confirm(what) {
            return 0;
        }
    }
    match rt.prune_images(a.all) {
        Ok(ids) => {
            ids.iter().for_each(|i| println!("{i}"));
            0
        }
        Err(e) => fail(&e),
    }
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
