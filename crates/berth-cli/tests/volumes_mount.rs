//! Volumes end to end: an image's `VOLUME` gets an anonymous volume seeded
//! from the image (copy-up), a named volume is seeded on first use only,
//! and `--mount type=volume|bind` work like `-v`.

mod common;

use common::*;

/// An image whose /data holds `seed` and is declared a `VOLUME`.
fn image_with_volume(env: &Env) -> &'static str {
    env.ok(&[
        "run",
        "--name",
        "builder",
        IMAGE,
        "sh",
        "-c",
        "mkdir /data && echo from-image > /data/seed",
    ]);
    env.ok(&[
        "commit",
        "--change",
        "VOLUME=/data",
        "builder",
        "localhost/withvol",
    ]);
    env.ok(&["rm", "builder"]);
    "localhost/withvol"
}

#[test]
fn image_volumes_are_anonymous_volumes_seeded_from_the_image() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let image = image_with_volume(&env);
    let volumes = || env.ok(&["volume", "ls", "-q"]);
    assert_eq!(volumes().trim(), "");

    let out = env.ok(&["run", "--name", "user", image, "cat", "/data/seed"]);
    assert_eq!(out.trim(), "from-image");
    let anon = volumes();
    assert_eq!(anon.lines().count(), 1, "one anonymous volume: {anon}");
    let mounts = env.inspect("user")["Mounts"].clone();
    assert_eq!(mounts[0]["Destination"], "/data", "{mounts}");
    // rm -v takes the anonymous volume with the container.
    env.ok(&["rm", "-v", "user"]);
    assert_eq!(volumes().trim(), "");

    // A named volume is seeded on its first use only: later changes stay.
    env.ok(&[
        "run",
        "--rm",
        "-v",
        "named:/data",
        image,
        "sh",
        "-c",
        "echo changed > /data/seed",
    ]);
    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        "named:/data",
        image,
        "cat",
        "/data/seed",
    ]);
    assert_eq!(out.trim(), "changed");
    // --mount type=volume is the same volume.
    let out = env.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=named,target=/data,readonly",
        image,
        "sh",
        "-c",
        "cat /data/seed; touch /data/x 2>/dev/null || echo read-only",
    ]);
    assert_eq!(out.trim(), "changed\nread-only");
}

#[test]
fn bind_mounts_by_mount_flag_share_the_host_directory() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let host = env.path().join("shared");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("from-host"), "hello\n").unwrap();
    let spec = format!("type=bind,source={},target=/mnt/shared", host.display());
    let out = env.ok(&[
        "run",
        "--rm",
        "--mount",
        &spec,
        IMAGE,
        "sh",
        "-c",
        "cat /mnt/shared/from-host; echo back > /mnt/shared/from-container",
    ]);
    assert_eq!(out.trim(), "hello");
    assert_eq!(
        std::fs::read_to_string(host.join("from-container")).unwrap(),
        "back\n"
    );
    let ro = format!("{spec},ro");
    let o = env.berth(&[
        "run",
        "--rm",
        "--mount",
        &ro,
        IMAGE,
        "touch",
        "/mnt/shared/x",
    ]);
    assert_eq!(o.code, 1, "{o}");
    assert!(!host.join("x").exists());
}
