//! Artifacts through the library API: stored with the container, gone with it.

use berth_core::{CreateOptions, Runtime, RuntimeOptions};
use std::path::PathBuf;

fn archive() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::temp_dir().join(format!("berth-core-artifacts-{}.tar", std::process::id()));
    let ok = std::process::Command::new("bash")
        .arg(root.join("scripts/build-busybox-image.sh"))
        .arg(&out)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then_some(out)
}

#[test]
fn artifacts_live_and_die_with_their_container() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let Some(archive) = archive() else {
        eprintln!("skipped: cannot build the test image");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open(RuntimeOptions {
        root: Some(dir.path().join("root")),
        runroot: Some(dir.path().join("run")),
        ..Default::default()
    })
    .unwrap();
    rt.load_images(&archive).unwrap();
    let _ = std::fs::remove_file(&archive);
    let c = rt
        .create_container(&CreateOptions {
            image: "localhost/busybox".into(),
            ..Default::default()
        })
        .unwrap();
    c.artifact_add("notes.txt", b"hello").unwrap();
    c.artifact_add("notes.txt", b"hello again").unwrap();
    c.artifact_add("b", b"").unwrap();
    assert_eq!(c.artifact_get("notes.txt").unwrap(), b"hello again");
    assert_eq!(c.artifacts().unwrap(), ["b", "notes.txt"]);
    assert!(c.artifact_get("missing").is_err());
    assert!(c.artifact_add("../escape", b"x").is_err());
    c.artifact_remove("b").unwrap();
    c.artifact_remove("b").unwrap();
    assert_eq!(c.artifacts().unwrap(), ["notes.txt"]);
    let store = dir.path().join("root/containers").join(c.id());
    assert!(store.join("artifacts/notes.txt").exists());
    c.remove(false, None).unwrap();
    assert!(!store.exists());
}
