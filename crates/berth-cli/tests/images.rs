//! Images: load, images, image inspect/exists, rmi (Podman's 010-images,
//! 120-load).

mod common;

use common::*;

#[test]
fn load_prints_the_name() {
    if skip() {
        return;
    }
    let env = Env::new();
    let archive = busybox_archive();
    let o = env.expect(&["load", "-i", archive.to_str().unwrap()], 0);
    assert_eq!(o.stdout, format!("Loaded image: {IMAGE}\n"), "{o}");
    // Loading again is idempotent.
    let o = env.expect(&["load", "--input", archive.to_str().unwrap()], 0);
    assert_eq!(o.stdout, format!("Loaded image: {IMAGE}\n"), "{o}");
    let o = env.expect(&["load", "-q", "-i", archive.to_str().unwrap()], 0);
    assert_eq!(o.out(), IMAGE, "{o}");
    assert_eq!(env.ok(&["images", "-q"]).lines().count(), 1);
}

#[test]
fn load_errors() {
    if skip() {
        return;
    }
    let env = Env::new();
    let o = env.expect(&["load", "-i", "/nonexistent/archive.tar"], 125);
    o.stderr_has("/nonexistent/archive.tar");
    let junk = env.path().join("junk.tar");
    std::fs::write(&junk, b"this is not a tar archive").unwrap();
    env.expect(&["load", "-i", junk.to_str().unwrap()], 125);
    assert_eq!(env.ok(&["images", "-q"]), "");
}

#[test]
fn images_lists_it() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let o = env.expect(&["images"], 0);
    let lines = o.lines();
    assert_eq!(lines.len(), 2, "{o}");
    let header: Vec<&str> = lines[0]
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        vec!["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "{o}"
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], "localhost/busybox", "{o}");
    assert_eq!(row[1], "latest", "{o}");
    let id = env.ok(&["inspect", "--type", "image", "-f", "{{.Id}}", IMAGE]);
    assert_eq!(row[2], &id[..12], "{o}");

    assert_eq!(env.ok(&["images", "-q"]), &id[..12]);
    assert_eq!(
        env.ok(&["images", "-q", "--no-trunc"]),
        format!("sha256:{id}")
    );
    let v = env.expect(&["images", "--format", "json"], 0).json();
    assert_eq!(v[0]["Id"], id.as_str(), "{v}");
    assert_eq!(v[0]["Names"], serde_json::json!([IMAGE]), "{v}");
    assert_eq!(
        env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        IMAGE
    );
}

#[test]
fn image_exists() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.expect(&["image", "exists", IMAGE], 0);
    env.expect(&["image", "exists", "busybox"], 0);
    let o = env.expect(&["image", "exists", "localhost/nosuch:latest"], 1);
    assert_eq!(o.stderr, "", "{o}");
}

#[test]
fn rmi_in_use_and_force() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let ctr = env.ok(&["create", "--name", "user", IMAGE, "true"]);
    let o = env.expect(&["rmi", IMAGE], 125);
    o.stderr_has("in use").stderr_has(&ctr[..12]);
    assert_eq!(o.err().lines().count(), 1, "{o}");
    env.expect(&["inspect", "--type", "image", IMAGE], 0);
    env.expect(&["container", "exists", "user"], 0);
    env.expect(&["start", "-a", "user"], 0);

    // -f removes the image and the containers using it (Podman).
    env.expect(&["rmi", "-f", IMAGE], 0);
    env.expect(&["container", "exists", "user"], 1);
    assert_eq!(env.ok(&["images", "-q"]), "");
    assert_eq!(env.container_dirs(), Vec::<std::path::PathBuf>::new());
}

#[test]
fn rmi_missing_and_plain() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let o = env.expect(&["rmi", "localhost/nosuch:latest"], 1);
    o.stderr_has("nosuch");
    env.expect(&["rmi", "-i", "localhost/nosuch:latest"], 0);

    let id = env.ok(&["inspect", "--type", "image", "-f", "{{.Id}}", IMAGE]);
    let o = env.expect(&["rmi", IMAGE], 0);
    assert!(!o.stdout.is_empty(), "rmi prints what it removed\n{o}");
    assert_eq!(env.ok(&["images", "-q"]), "");
    env.expect(&["inspect", "--type", "image", IMAGE], 125);
    let storage = env.root.join("storage");
    let leftover: Vec<String> = walk(&storage)
        .into_iter()
        .filter(|p| p.contains(&id))
        .collect();
    assert!(leftover.is_empty(), "image files remain: {leftover:?}");
    env.expect(&["run", IMAGE, "true"], 125);

    // And it can be loaded again.
    let archive = busybox_archive();
    env.ok(&["load", "-i", archive.to_str().unwrap()]);
    env.expect(&["run", IMAGE, "true"], 0);
}

/// Every path below `dir`.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.to_string_lossy().into_owned());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            }
        }
    }
    out
}
