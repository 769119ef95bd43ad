//! `system df`, `system prune` and `container prune`, as Podman shows them.

mod common;
use common::*;

fn df(env: &Env) -> Vec<Value> {
    let v = env
        .berth(&["system", "df", "--format", "json"])
        .success()
        .json();
    v.as_array().expect("df json is a list").clone()
}

fn df_row<'a>(rows: &'a [Value], kind: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["Type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} row in {rows:?}"))
}

#[test]
fn df_counts_images_containers_and_volumes() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let rows = df(&env);
    let images = df_row(&rows, "Images");
    assert_eq!(
        (images["Total"].as_u64(), images["Active"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(images["RawSize"].as_u64().unwrap() > 0);
    assert_eq!(images["RawReclaimable"], images["RawSize"]);

    env.ok(&["volume", "create", "data"]);
    env.ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        "data:/data",
        IMAGE,
        "sh",
        "-c",
        "head -c 300000 /dev/zero > /big; head -c 200000 /dev/zero > /data/f",
    ]);
    let rows = df(&env);
    assert_eq!(df_row(&rows, "Images")["Active"], 1);
    assert_eq!(df_row(&rows, "Images")["RawReclaimable"], 0);
    let ctrs = df_row(&rows, "Containers");
    assert_eq!(
        (ctrs["Total"].as_u64(), ctrs["Active"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(ctrs["RawSize"].as_u64().unwrap() >= 300_000, "{ctrs}");
    assert_eq!(ctrs["RawReclaimable"], ctrs["RawSize"]);
    let vols = df_row(&rows, "Local Volumes");
    assert_eq!(
        (vols["Total"].as_u64(), vols["Active"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(vols["RawSize"], 200_000);

    let table = env.ok(&["system", "df"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("TYPE"), "{table}");
    assert!(lines[0].contains("RECLAIMABLE"), "{table}");
    assert!(
        lines.iter().any(|l| l.starts_with("Local Volumes")),
        "{table}"
    );
    assert_eq!(
        env.ok(&["system", "df", "--format", "{{.Type}}={{.Total}}"]),
        "Images=1\nContainers=1\nLocal Volumes=1"
    );
}

#[test]
fn container_prune_removes_only_what_does_not_run() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let exited = env.ok(&["run", "-d", IMAGE, "true"]).trim().to_string();
    let created = env.ok(&["create", IMAGE, "true"]).trim().to_string();
    let running = env
        .ok(&["run", "-d", IMAGE, "sleep", "1000"])
        .trim()
        .to_string();
    env.wait_status(&exited, "exited");
    // Without -f it asks, and "no" removes nothing.
    let o = env.berth_stdin(&["container", "prune"], b"n\n");
    o.success().stderr_has("Are you sure");
    assert_eq!(env.all_ids().len(), 3);

    let out = env.ok(&["container", "prune", "-f"]);
    let mut removed: Vec<&str> = out.lines().collect();
    removed.sort();
    let mut want = vec![exited.as_str(), created.as_str()];
    want.sort();
    assert_eq!(removed, want);
    assert_eq!(env.all_ids(), vec![running.clone()]);
    assert_eq!(env.status(&running), "running");
}

#[test]
fn system_prune_removes_stopped_containers_unused_images_and_volumes() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["volume", "create", "unused"]);
    env.ok(&["volume", "create", "kept"]);
    env.ok(&["run", "--name", "done", "-v", "kept:/k", IMAGE, "true"]);
    env.ok(&["run", "-d", "--name", "live", IMAGE, "sleep", "1000"]);

    // The image is used by a running container: even -a keeps it.
    let out = env.ok(&["system", "prune", "-a", "-f", "--volumes"]);
    assert!(out.contains("Deleted Containers"), "{out}");
    assert!(out.contains("Deleted Volumes\n"), "{out}");
    assert!(out.contains("unused"), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(env.berth(&["container", "exists", "done"]).code, 1);
    env.ok(&["container", "exists", "live"]);
    env.ok(&["image", "exists", IMAGE]);
    // "kept" was used only by the removed container, so it went too.
    assert_eq!(env.ok(&["volume", "ls", "-q"]).trim(), "");

    env.ok(&["rm", "-f", "live"]);
    let out = env.ok(&["system", "prune", "-f"]);
    assert!(!out.contains("Deleted Images"), "dangling only: {out}");
    env.ok(&["image", "exists", IMAGE]);
    let out = env.ok(&["system", "prune", "-a", "-f"]);
    assert!(out.contains("Deleted Images"), "{out}");
    assert_eq!(env.ok(&["images", "-q"]).trim(), "");
    assert!(df(&env).iter().all(|r| r["RawSize"] == 0), "{:?}", df(&env));
}

/// A volume directory whose record is gone (a crash inside `volume rm`) is
/// named by `system check` and removed by `--repair`; real volumes stay.
#[test]
fn system_check_finds_and_repairs_orphan_volume_directories() {
    if skip() {
        return;
    }
    let env = Env::new();
    env.ok(&["volume", "create", "kept"]);
    let ghost = env.root.join("volumes/ghost/_data");
    std::fs::create_dir_all(&ghost).unwrap();
    std::fs::write(ghost.join("file"), "left behind").unwrap();
    env.expect(&["system", "check"], 1)
        .stdout_has("volume directory")
        .stdout_has("ghost");
    env.ok(&["system", "check", "--repair"]);
    assert!(!env.root.join("volumes/ghost").exists());
    env.ok(&["system", "check"]);
    env.ok(&["volume", "exists", "kept"]);
    assert!(env.root.join("volumes/kept/_data").is_dir());
}

/// Fill the filesystem holding `dir` to the last block with one file,
/// returned so the test can give the room back.
fn fill_disk(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("slack");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![1u8; 4096];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    path
}

/// RELIABILITY 12: with the graph root on a full filesystem, commands fail
/// with one clean ENOSPC error naming the path, nothing half-made appears,
/// and `rm`, `rmi` and `system prune` still work.
#[test]
fn scenario_12_full_disk_gives_clean_errors_and_cleanup_still_works() {
    if skip() {
        return;
    }
    let env = Env::new();
    let root = env.root.to_str().unwrap().to_string();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs", &root])
        .status()
        .unwrap();
    assert!(mounted.success(), "mounting a tmpfs on {root}");
    env.ok(&["load", "-i", busybox_archive().to_str().unwrap()]);

    let o = env.berth(&[
        "run",
        "--name",
        "filler",
        IMAGE,
        "sh",
        "-c",
        "dd if=/dev/zero of=/big bs=1M count=100; echo dd=$?",
    ]);
    o.success().stdout_has("dd=1");
    assert!(o.err().contains("No space left on device"), "{o}");
    // The disk is not quite full once the filler is gone: SQLite empties
    // its WAL on close. A command puts the reserves back first (they keep
    // priority); then a plain file takes what is left.
    env.ok(&["ps", "-a"]);
    let slack = fill_disk(&env.root);

    let clean_enospc = |o: &Out| {
        assert_eq!(o.code, 125, "{o}");
        let err = o.err().trim();
        assert_eq!(err.lines().count(), 1, "{o}");
        assert!(
            err.contains("No space left on device") || err.contains("disk is full"),
            "{o}"
        );
        assert!(err.contains(&root), "the error names the path: {o}");
        assert!(!err.contains("panicked"), "{o}");
    };
    clean_enospc(&env.berth(&["run", "--name", "second", IMAGE, "true"]));
    let images_before = env.ok(&["images", "-q", "--no-trunc"]);
    clean_enospc(&env.berth(&["commit", "filler", "localhost/full"]));
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]), images_before);
    // A new layer from outside (the path load and pull store layers by).
    let tarball = env.path().join("layer.tar");
    let src = env.path().join("layer");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("data"), vec![7u8; 1 << 20]).unwrap();
    let tarred = std::process::Command::new("tar")
        .arg("-C")
        .arg(&src)
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .status()
        .unwrap();
    assert!(tarred.success());
    clean_enospc(&env.berth(&["import", tarball.to_str().unwrap(), "localhost/imported"]));
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]), images_before);
    // Nothing half-made: no orphan layer, no temporary files.
    env.ok(&["system", "check"]);
    let tmp = std::fs::read_dir(env.root.join("storage/tmp")).map(|d| d.count());
    assert!(tmp.unwrap_or(0) == 0, "temporary files left behind");

    env.ok(&["rm", "-f", "-a"]);
    env.ok(&["rmi", IMAGE]);
    env.ok(&["system", "prune", "-a", "-f"]);
    assert!(env.all_ids().is_empty());
    assert!(df(&env).iter().all(|r| r["RawSize"] == 0), "{:?}", df(&env));
    // And the engine is usable again once there is room.
    std::fs::remove_file(slack).unwrap();
    env.ok(&["load", "-i", busybox_archive().to_str().unwrap()]);
    env.ok(&["run", "--rm", IMAGE, "true"]);
}
