//! Decompression bombs (RELIABILITY.md 34): a small gzip layer that expands
//! past the configured limit (`BERTH_MAX_LAYER_BYTES`) is refused with one
//! line naming the image, exit 125, and leaves no image and nothing in the
//! store's `tmp/` or `layers/`.

mod common;

use common::*;
use std::io::Write;
use std::path::Path;
use std::process::Command;

fn sha256(data: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("running sha256sum");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

fn append(b: &mut tar::Builder<std::fs::File>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_data(&mut h, name, data).unwrap();
}

/// A docker-archive of `name` whose one layer is a gzip of a tar holding
/// `size` zero bytes (tiny compressed, `size` bytes extracted). A valid
/// image in every other respect: the config's diff ID is the layer's.
fn bomb_archive(out: &Path, name: &str, size: usize) -> usize {
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    layer
        .append_data(
            &mut h,
            "zeros",
            std::io::Read::take(std::io::repeat(0), size as u64),
        )
        .unwrap();
    let layer = layer.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&layer).unwrap();
    let gz = gz.finish().unwrap();
    let cfg = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/zeros"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256(&layer))]},
    }))
    .unwrap();
    let cfg_name = format!("{}.json", sha256(&cfg));
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    append(&mut b, &cfg_name, &cfg);
    append(&mut b, "layer/layer.tar", &gz);
    let m = serde_json::json!([{"Config": cfg_name, "RepoTags": [name], "Layers": ["layer/layer.tar"]}]);
    append(&mut b, "manifest.json", &serde_json::to_vec(&m).unwrap());
    b.finish().unwrap();
    gz.len()
}

/// Names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn layer_expanding_past_the_limit_is_refused_and_leaves_nothing() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let archive = env.path().join("bomb.tar");
    let compressed = bomb_archive(&archive, "localhost/bomb:1", 8 << 20);
    assert!(
        compressed < 64 << 10,
        "the bomb is small: {compressed} bytes"
    );
    let storage = env.root.join("storage");
    let before = (
        listing(&storage.join("layers")),
        listing(&storage.join("tmp")),
    );
    let images_before = env.ok(&["images", "-q", "--no-trunc"]);

    let mut cmd = env.command(&["load", "-i", archive.to_str().unwrap()]);
    cmd.env("BERTH_MAX_LAYER_BYTES", "1m");
    let o = run_command(cmd, None);
    o.code(125);
    let err = o.err().trim();
    assert_eq!(err.lines().count(), 1, "one line\n{o}");
    assert!(
        err.contains("localhost/bomb:1") && err.contains(&(1u64 << 20).to_string()),
        "names the image and the limit\n{o}"
    );
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]), images_before);
    assert_eq!(
        (
            listing(&storage.join("layers")),
            listing(&storage.join("tmp"))
        ),
        before,
        "the store's layers/ and tmp/ hold nothing new"
    );

    // A limit that is not a size is a clean error, not a silent default.
    let mut cmd = env.command(&["load", "-i", archive.to_str().unwrap()]);
    cmd.env("BERTH_MAX_LAYER_BYTES", "lots");
    let o = run_command(cmd, None);
    o.code(125);
    o.stderr_has("BERTH_MAX_LAYER_BYTES");
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]), images_before);

    // Under the default limit the same archive is a good image: it was the
    // limit that refused it.
    env.ok(&["load", "-i", archive.to_str().unwrap()]);
    let size = env.ok(&["image", "inspect", "-f", "{{.Size}}", "localhost/bomb:1"]);
    assert!(size.parse::<u64>().unwrap() >= 8 << 20, "{size}");
}
