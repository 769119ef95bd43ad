//! Store-level tests: load docker/oci archives, names, lookup, removal,
//! layer sharing, container layers and overlay mounts. They need root
//! (layer ownership, mounts) and skip with a message otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_storage::Store;
use berth_types::ErrorKind;
use sha2::{Digest, Sha256};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A layer tar with the given regular files.
fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn config(layers: &[Vec<u8>], cmd: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha(l)))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": [cmd], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

fn add(b: &mut tar::Builder<std::fs::File>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_path(name).unwrap();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

/// A docker-archive (`docker save` shape) with one image.
fn docker_archive(out: &Path, layers: &[Vec<u8>], cfg: &[u8], tags: &[&str]) {
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    let cfg_name = format!("{}.json", sha(cfg));
    add(&mut b, &cfg_name, cfg);
    let mut names = Vec::new();
    for l in layers {
        let n = format!("{}/layer.tar", sha(l));
        add(&mut b, &n, l);
        names.push(n);
    }
    let m = serde_json::json!([{"Config": cfg_name, "RepoTags": tags, "Layers": names}]);
    add(&mut b, "manifest.json", &serde_json::to_vec(&m).unwrap());
    b.finish().unwrap();
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// An oci-archive with gzip layers. `tamper` corrupts the first layer blob
/// after its digest was recorded. Returns the manifest digest.
fn oci_archive(
    out: &Path,
    layers: &[Vec<u8>],
    cfg: &[u8],
    name: Option<&str>,
    tamper: bool,
) -> String {
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    add(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add(&mut b, &format!("blobs/sha256/{}", sha(cfg)), cfg);
    let mut descs = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let gz = gzip(l);
        let d = sha(&gz);
        let mut stored = gz.clone();
        if tamper && i == 0 {
            stored = gzip(&layer(&[("evil", b"x")]));
        }
        add(&mut b, &format!("blobs/sha256/{d}"), &stored);
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{d}"), "size": gz.len()}));
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha(cfg)), "size": cfg.len()},
        "layers": descs,
    }))
    .unwrap();
    let md = sha(&manifest);
    add(&mut b, &format!("blobs/sha256/{md}"), &manifest);
    let mut desc = serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{md}"), "size": manifest.len()});
    if let Some(n) = name {
        desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": n});
    }
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [desc]});
    add(&mut b, "index.json", &serde_json::to_vec(&index).unwrap());
    b.finish().unwrap();
    format!("sha256:{md}")
}

/// A store in a temporary directory (`tmp/storage`), or `None` (and a note)
/// when not running as root.
fn fresh_store() -> Option<(tempfile::TempDir, PathBuf, Store)> {
    if !is_root() {
        eprintln!("skipping: needs root");
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("storage");
    let store = Store::open(&root).unwrap();
    Some((tmp, root, store))
}

fn layer_dirs(root: &Path) -> usize {
    std::fs::read_dir(root.join("layers")).unwrap().count()
}

#[test]
fn load_lookup_tag_move_and_remove() {
    let Some((tmp, root, store)) = fresh_store() else {
        return;
    };
    let base = layer(&[("bin/hello", b"hi")]);
    let top = layer(&[("etc/motd", b"motd")]);
    let cfg = config(&[base.clone(), top.clone()], "sh");
    let ar = tmp.path().join("a.tar");
    docker_archive(
        &ar,
        &[base.clone(), top.clone()],
        &cfg,
        &["busybox", "localhost/bb:1"],
    );

    let loaded = store.load_archive(&ar).unwrap();
    assert_eq!(loaded.len(), 1);
    let img = &loaded[0];
    assert_eq!(img.id, sha(&cfg));
    assert_eq!(
        img.names,
        vec!["docker.io/library/busybox:latest", "localhost/bb:1"]
    );
    assert_eq!(img.layers.len(), 2);
    assert_eq!(img.size, (base.len() + top.len()) as u64);
    assert!(img.digest.starts_with("sha256:"));
    assert_eq!(img.created.as_deref(), Some("2024-01-01T00:00:00Z"));
    assert_eq!(layer_dirs(&root), 2);
    assert_eq!(
        store.image_config(img).unwrap().rootfs().diff_ids().len(),
        2
    );

    // Lookups: full name, short name, short name with tag, ID, ID prefix.
    for r in [
        "docker.io/library/busybox:latest",
        "busybox",
        "busybox:latest",
        "bb:1",
        "localhost/bb:1",
        &img.id,
        &img.id[..12],
        &format!("sha256:{}", img.id),
    ] {
        assert_eq!(store.lookup_image(r).unwrap().id, img.id, "lookup {r}");
    }
    let e = store.lookup_image("nothere").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoSuchImage);
    assert_eq!(e.message, "nothere: image not known");

    // Loading again reuses everything.
    store.load_archive(&ar).unwrap();
    assert_eq!(store.list_images().unwrap().len(), 1);
    assert_eq!(layer_dirs(&root), 2);

    // A different image (same base layer) takes the name busybox.
    let cfg2 = config(std::slice::from_ref(&base), "true");
    let ar2 = tmp.path().join("b.tar");
    docker_archive(
        &ar2,
        std::slice::from_ref(&base),
        &cfg2,
        &["busybox:latest", "quay.io/x/busybox"],
    );
    let img2 = store.load_archive(&ar2).unwrap().remove(0);
    assert_eq!(
        img2.names,
        vec![
            "docker.io/library/busybox:latest",
            "quay.io/x/busybox:latest"
        ]
    );
    assert_eq!(layer_dirs(&root), 2, "shared base layer stored once");
    let old = store.lookup_image(&img.id).unwrap();
    assert_eq!(old.names, vec!["localhost/bb:1"]);
    // Two names of one image matching a short name are not ambiguous.
    assert_eq!(store.lookup_image("busybox").unwrap().id, img2.id);

    // A short name matching two images is ambiguous.
    let cfg3 = config(std::slice::from_ref(&base), "false");
    let ar3 = tmp.path().join("c.tar");
    docker_archive(
        &ar3,
        std::slice::from_ref(&base),
        &cfg3,
        &["quay.io/x/bb:1"],
    );
    let img3 = store.load_archive(&ar3).unwrap().remove(0);
    let e = store.lookup_image("bb:1").unwrap_err();
    match &e.kind {
        ErrorKind::AmbiguousId { candidates } => assert_eq!(candidates.len(), 2),
        k => panic!("expected ambiguity, got {k:?}"),
    }
    assert_eq!(store.lookup_image("quay.io/x/bb:1").unwrap().id, img3.id);

    // img2 has two names: removing by one name only untags.
    assert_eq!(
        store.remove_image("quay.io/x/busybox").unwrap(),
        vec!["Untagged: quay.io/x/busybox:latest"]
    );
    assert_eq!(store.lookup_image(&img2.id).unwrap().names.len(), 1);

    // Removing the old image frees only its own top layer.
    let out = store.remove_image("localhost/bb:1").unwrap();
    assert_eq!(
        out,
        vec![
            "Untagged: localhost/bb:1".to_string(),
            format!("Deleted: {}", img.id)
        ]
    );
    assert_eq!(layer_dirs(&root), 1);
    let out = store.remove_image(&img2.id).unwrap();
    assert_eq!(out.last().unwrap(), &format!("Deleted: {}", img2.id));
    assert_eq!(layer_dirs(&root), 1, "img3 still uses the base layer");
    store.remove_image(&img3.id).unwrap();
    assert_eq!(layer_dirs(&root), 0);
    assert!(store.list_images().unwrap().is_empty());
    assert_eq!(
        store.remove_image("busybox").unwrap_err().kind,
        ErrorKind::NoSuchImage
    );
}

#[test]
fn oci_archive_loads_and_verifies() {
    let Some((tmp, root, store)) = fresh_store() else {
        return;
    };
    let l = layer(&[("a", b"1")]);
    let cfg = config(std::slice::from_ref(&l), "sh");

    // Tampered blob: rejected, names the image, nothing visible, no layer.
    let bad = tmp.path().join("bad.tar");
    oci_archive(
        &bad,
        std::slice::from_ref(&l),
        &cfg,
        Some("localhost/oci:1"),
        true,
    );
    let e = store.load_archive(&bad).unwrap_err();
    assert!(e.message.contains("localhost/oci:1"), "{}", e.message);
    assert!(store.list_images().unwrap().is_empty());
    assert_eq!(layer_dirs(&root), 0);
    assert_eq!(
        std::fs::read_dir(root.join("tmp")).unwrap().count(),
        0,
        "temp dirs cleaned"
    );

    let good = tmp.path().join("good.tar");
    let digest = oci_archive(
        &good,
        std::slice::from_ref(&l),
        &cfg,
        Some("localhost/oci:1"),
        false,
    );
    let img = store.load_archive(&good).unwrap().remove(0);
    assert_eq!(img.names, vec!["localhost/oci:1"]);
    assert_eq!(img.digest, digest);
    assert_eq!(img.layers, vec![format!("sha256:{}", sha(&l))]);

    // No annotation: loaded without a name.
    let cfg2 = config(std::slice::from_ref(&l), "true");
    let anon = tmp.path().join("anon.tar");
    oci_archive(&anon, std::slice::from_ref(&l), &cfg2, None, false);
    let img2 = store.load_archive(&anon).unwrap().remove(0);
    assert!(img2.names.is_empty());
    assert_eq!(layer_dirs(&root), 1);
}

#[test]
fn malformed_archives_are_rejected() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("storage")).unwrap();
    let l = layer(&[("a", b"1")]);
    // Config whose diff ID does not match the layer.
    let cfg = config(&[layer(&[("other", b"2")])], "sh");
    let p = tmp.path().join("x.tar");
    docker_archive(&p, std::slice::from_ref(&l), &cfg, &["localhost/mismatch"]);
    let e = store.load_archive(&p).unwrap_err();
    assert!(e.message.contains("localhost/mismatch"), "{}", e.message);
    // Digest with traversal in index.json.
    let p = tmp.path().join("y.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&p).unwrap());
        add(&mut b, "oci-layout", b"{}");
        add(&mut b, "index.json", br#"{"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../x","size":1}]}"#);
        b.finish().unwrap();
    }
    assert_eq!(
        store.load_archive(&p).unwrap_err().kind,
        ErrorKind::InvalidInput
    );
    // Not an archive at all.
    let p = tmp.path().join("z.tar");
    std::fs::write(&p, b"garbage").unwrap();
    assert!(store.load_archive(&p).is_err());
    assert!(store.list_images().unwrap().is_empty());
}

/// An oci-archive whose blobs are stored as given (`layers` already
/// compressed or not; their descriptors carry their real digests, so only
/// what is wrong inside them can fail), with the config blob left out when
/// `with_config` is false.
fn oci_archive_of(out: &Path, layers: &[Vec<u8>], cfg: &[u8], with_config: bool, name: &str) {
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    add(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    if with_config {
        add(&mut b, &format!("blobs/sha256/{}", sha(cfg)), cfg);
    }
    let mut descs = Vec::new();
    for l in layers {
        add(&mut b, &format!("blobs/sha256/{}", sha(l)), l);
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{}", sha(l)), "size": l.len()}));
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha(cfg)), "size": cfg.len()},
        "layers": descs,
    }))
    .unwrap();
    let md = sha(&manifest);
    add(&mut b, &format!("blobs/sha256/{md}"), &manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{md}"), "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": name}}]});
    add(&mut b, "index.json", &serde_json::to_vec(&index).unwrap());
    b.finish().unwrap();
}

/// RELIABILITY.md 33: a manifest whose config blob is missing, and a
/// truncated gzip layer (alone, and after a good layer), in both archive
/// forms. Each is refused with one line naming the image, and leaves no
/// image, no layer directory and nothing in `tmp/`.
#[test]
fn missing_config_and_truncated_gzip_leave_nothing() {
    let Some((tmp, root, store)) = fresh_store() else {
        return;
    };
    let good = layer(&[("good", b"fine")]);
    let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let full = layer(&[("big", &big)]);
    let gz = gzip(&full);
    let truncated = gz[..gz.len() / 2].to_vec();
    let cfg = config(&[good.clone(), full.clone()], "sh");
    let cfg_one = config(std::slice::from_ref(&full), "sh");

    let p = |n: &str| tmp.path().join(n);
    // docker-archive, manifest.json names a config the archive lacks.
    {
        let mut b = tar::Builder::new(std::fs::File::create(p("d-nocfg.tar")).unwrap());
        let n = format!("{}/layer.tar", sha(&good));
        add(&mut b, &n, &good);
        let m = serde_json::json!([{"Config": format!("{}.json", sha(&cfg)), "RepoTags": ["localhost/nocfg:d"], "Layers": [n]}]);
        add(&mut b, "manifest.json", &serde_json::to_vec(&m).unwrap());
        b.finish().unwrap();
    }
    docker_archive(
        &p("d-trunc.tar"),
        std::slice::from_ref(&truncated),
        &cfg_one,
        &["localhost/trunc:d"],
    );
    docker_archive(
        &p("d-trunc2.tar"),
        &[good.clone(), truncated.clone()],
        &cfg,
        &["localhost/trunc2:d"],
    );
    oci_archive_of(
        &p("o-nocfg.tar"),
        std::slice::from_ref(&gzip(&good)),
        &cfg_one,
        false,
        "localhost/nocfg:o",
    );
    oci_archive_of(
        &p("o-trunc.tar"),
        std::slice::from_ref(&truncated),
        &cfg_one,
        true,
        "localhost/trunc:o",
    );
    oci_archive_of(
        &p("o-trunc2.tar"),
        &[gzip(&good), truncated.clone()],
        &cfg,
        true,
        "localhost/trunc2:o",
    );

    for (file, image, why) in [
        ("d-nocfg.tar", "localhost/nocfg:d", "is missing"),
        (
            "d-trunc.tar",
            "localhost/trunc:d",
            "truncated or corrupt data",
        ),
        ("d-trunc2.tar", "localhost/trunc2:d", "incomplete"),
        ("o-nocfg.tar", "localhost/nocfg:o", "is missing"),
        (
            "o-trunc.tar",
            "localhost/trunc:o",
            "truncated or corrupt data",
        ),
        ("o-trunc2.tar", "localhost/trunc2:o", "incomplete"),
    ] {
        let e = store.load_archive(&p(file)).unwrap_err();
        assert!(e.message.contains(image), "{file}: {}", e.message);
        assert!(e.message.contains(why), "{file}: {}", e.message);
        assert!(!e.message.contains('\n'), "{file}: {}", e.message);
        assert!(store.list_images().unwrap().is_empty(), "{file}");
        assert_eq!(layer_dirs(&root), 0, "{file}: layer directories left");
        assert_eq!(
            std::fs::read_dir(root.join("tmp")).unwrap().count(),
            0,
            "{file}: temp dirs left"
        );
    }
}

fn build_busybox(out: &Path) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-busybox-image.sh");
    if !Path::new("/bin/busybox").exists() {
        eprintln!("skipping: /bin/busybox absent (apt-get install busybox-static)");
        return false;
    }
    let st = Command::new("bash").arg(&script).arg(out).output().unwrap();
    if !st.status.success() {
        eprintln!(
            "skipping: build-busybox-image.sh failed: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        return false;
    }
    true
}

#[test]
fn busybox_image_mounts() {
    if !is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ar: PathBuf = tmp.path().join("busybox.tar");
    if !build_busybox(&ar) {
        return;
    }
    let root = tmp.path().join("storage");
    let store = Store::open(&root).unwrap();
    let img = store.load_archive(&ar).unwrap().remove(0);
    assert_eq!(img.names, vec!["localhost/busybox:latest"]);
    assert_eq!(store.lookup_image("busybox").unwrap().id, img.id);
    let cfg = store.image_config(&img).unwrap();
    assert_eq!(
        cfg.config().as_ref().unwrap().cmd().as_ref().unwrap(),
        &vec!["sh".to_string()]
    );

    let cid = "c0ffee";
    store.create_container_layer(cid, &img.id).unwrap();
    assert!(store.container_layer_exists(cid));
    assert_eq!(
        store.create_container_layer(cid, &img.id).unwrap_err().kind,
        ErrorKind::InUse
    );
    let merged = store.mount(cid).unwrap();
    assert_eq!(store.mount(cid).unwrap(), merged, "mount is idempotent");
    assert!(merged.join("bin/busybox").is_file());
    assert!(std::fs::symlink_metadata(merged.join("bin/sh"))
        .unwrap()
        .file_type()
        .is_symlink());
    let tmpdir = std::fs::metadata(merged.join("tmp")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&tmpdir.permissions()) & 0o7777,
        0o1777
    );
    // Writes land in the container's diff, not the image layer.
    std::fs::write(merged.join("etc/new"), b"x").unwrap();
    assert!(root
        .join("containers")
        .join(cid)
        .join("diff/etc/new")
        .exists());

    // The image can be removed while the container pins its layers.
    store.remove_image(&img.id).unwrap();
    assert!(merged.join("bin/busybox").is_file());
    store.unmount(cid).unwrap();
    store.unmount(cid).unwrap();
    assert!(!merged.join("bin/busybox").exists());
    assert_eq!(layer_dirs(&root), 1, "layer still pinned by the container");
    store.remove_container_layer(cid).unwrap();
    store.remove_container_layer(cid).unwrap();
    assert!(!store.container_layer_exists(cid));
    assert_eq!(layer_dirs(&root), 0);
}

#[test]
fn image_without_layers_mounts_and_reopen_keeps_state() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("storage");
    let cfg = config(&[], "sh");
    let ar = tmp.path().join("empty.tar");
    docker_archive(&ar, &[], &cfg, &["localhost/scratch"]);
    let id = {
        let store = Store::open(&root).unwrap();
        store.load_archive(&ar).unwrap().remove(0).id
    };
    let store = Store::open(&root).unwrap();
    assert_eq!(store.lookup_image("localhost/scratch").unwrap().id, id);
    store.create_container_layer("empty1", &id).unwrap();
    let merged = store.mount("empty1").unwrap();
    assert_eq!(std::fs::read_dir(&merged).unwrap().count(), 0);
    store.remove_container_layer("empty1").unwrap();
    assert!(!root.join("containers/empty1").exists());
}

#[test]
fn many_layers_exceed_one_page_of_mount_options() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("storage");
    let store = Store::open(&root).unwrap();
    let names: Vec<String> = (0..70).map(|i| format!("f{i}")).collect();
    let layers: Vec<Vec<u8>> = names
        .iter()
        .map(|n| layer(&[(n.as_str(), n.as_bytes())]))
        .collect();
    let cfg = config(&layers, "sh");
    let ar = tmp.path().join("deep.tar");
    docker_archive(&ar, &layers, &cfg, &["localhost/deep"]);
    let img = store.load_archive(&ar).unwrap().remove(0);
    store.create_container_layer("deep", &img.id).unwrap();
    let merged = store.mount("deep").unwrap();
    assert_eq!(std::fs::read(merged.join("f0")).unwrap(), b"f0");
    assert_eq!(std::fs::read(merged.join("f69")).unwrap(), b"f69");
    store.remove_container_layer("deep").unwrap();
}

#[test]
fn concurrent_loads_of_one_archive() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("storage");
    Store::open(&root).unwrap();
    let l = layer(&[("a", b"1")]);
    let cfg = config(std::slice::from_ref(&l), "sh");
    let ar = tmp.path().join("a.tar");
    docker_archive(&ar, std::slice::from_ref(&l), &cfg, &["localhost/race"]);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (root, ar) = (root.clone(), ar.clone());
            std::thread::spawn(move || {
                Store::open(&root)
                    .unwrap()
                    .load_archive(&ar)
                    .unwrap()
                    .remove(0)
                    .id
            })
        })
        .collect();
    let ids: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(ids.iter().all(|i| *i == ids[0]));
    let store = Store::open(&root).unwrap();
    assert_eq!(store.list_images().unwrap().len(), 1);
    assert_eq!(layer_dirs(&root), 1);
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
}
