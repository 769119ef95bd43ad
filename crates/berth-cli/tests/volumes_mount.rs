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

#[test]
fn nocopy_leaves_a_new_volume_empty() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let image = image_with_volume(&env);
    let ls = "ls -A /data | wc -l";
    let o = env.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=bare,target=/data,volume-nocopy",
        image,
        "sh",
        "-c",
        ls,
    ]);
    assert_eq!(o.trim(), "0", "volume-nocopy copied the image's files");
    // For good: a later plain use does not copy either.
    let o = env.ok(&["run", "--rm", "-v", "bare:/data", image, "sh", "-c", ls]);
    assert_eq!(o.trim(), "0");
    let o = env.ok(&[
        "run",
        "--rm",
        "-v",
        "other:/data:nocopy",
        image,
        "sh",
        "-c",
        ls,
    ]);
    assert_eq!(o.trim(), "0");
    let o = env.ok(&["run", "--rm", "-v", "copied:/data", image, "sh", "-c", ls]);
    assert_eq!(o.trim(), "1");
}

/// `volume create -o type=tmpfs -o device=tmpfs -o o=size=…,uid=…` (the
/// local driver's options): the filesystem is mounted while containers use
/// the volume, shared by them, and unmounted after the last one.
#[test]
fn volume_with_mount_options_is_mounted_while_in_use() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=2m,uid=1234,gid=4321",
        "scratch",
    ]);
    let data = env.root.join("volumes/scratch/_data");
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(data.to_str().unwrap()))
    };
    assert!(!mounted());
    // A holder left from before a reboot (no mount now) is forgotten.
    std::fs::write(
        env.root.join("volumes/scratch/holders"),
        "gone-before-reboot\n",
    )
    .unwrap();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "holder",
        "-v",
        "scratch:/s",
        IMAGE,
        "sleep",
        "1000",
    ]);
    assert!(mounted());
    let count = || env.ok(&["volume", "inspect", "-f", "{{.MountCount}}", "scratch"]);
    assert_eq!(count().trim(), "1");
    let o = env.ok(&[
        "run",
        "--rm",
        "-v",
        "scratch:/s",
        IMAGE,
        "sh",
        "-c",
        "grep ' /s ' /proc/mounts; stat -c %u:%g /s; echo shared > /s/f",
    ]);
    assert!(o.contains("tmpfs /s tmpfs"), "{o}");
    assert!(o.contains("size=2048k"), "{o}");
    assert!(o.contains("1234:4321"), "{o}");
    // The holder still has it, with what the other container wrote.
    assert!(mounted(), "unmounted while a container still uses it");
    assert_eq!(env.ok(&["exec", "holder", "cat", "/s/f"]).trim(), "shared");
    env.ok(&["rm", "-f", "-t", "0", "holder"]);
    assert!(!mounted(), "still mounted after its last user");
    assert_eq!(count().trim(), "0");
    env.ok(&["volume", "rm", "scratch"]);

    // The local driver's options are checked at create.
    let o = env.expect(&["volume", "create", "-o", "size=2m", "bad"], 125);
    o.stderr_has("volume bad");
    let o = env.expect(&["volume", "create", "-o", "o=size=2m", "bad"], 125);
    o.stderr_has("type=");
    env.expect(&["volume", "exists", "bad"], 1);
    // o=uid/gid alone own a plain volume's directory.
    env.ok(&["volume", "create", "-o", "o=uid=42,gid=43", "owned"]);
    let o = env.ok(&[
        "run", "--rm", "-v", "owned:/o", IMAGE, "stat", "-c", "%u:%g", "/o",
    ]);
    assert_eq!(o.trim(), "42:43");
}

#[test]
fn volume_prune_removes_only_unused_volumes_and_inspect_shows_them() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["volume", "create", "--label", "team=a", "used"]);
    env.ok(&["volume", "create", "free"]);
    env.ok(&["create", "--name", "user", "-v", "used:/u", IMAGE]);
    let doc = env.berth(&["volume", "inspect", "used"]).json();
    assert_eq!(doc[0]["Name"], "used");
    assert_eq!(doc[0]["Labels"]["team"], "a");
    assert_eq!(doc[0]["Driver"], "local");
    env.expect(&["volume", "inspect", "nosuch"], 125)
        .stderr_has("nosuch");
    let pruned = env.ok(&["volume", "prune", "-f"]);
    assert_eq!(pruned.trim(), "free");
    assert_eq!(env.ok(&["volume", "ls", "-q"]).trim(), "used");
    env.ok(&["rm", "user"]);
    assert_eq!(env.ok(&["volume", "prune", "-f"]).trim(), "used");
}

/// `-o type=none -o device=DIR -o o=bind,ro`: a host directory as a
/// volume, read-only as asked (a bind mount needs a remount for that), its
/// owner untouched; `volume rm` unmounts it and never deletes the host's
/// files; `-o nocopy` keeps the image's files out.
#[test]
fn bind_volumes_are_read_only_when_asked_and_rm_keeps_the_host_files() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let host = env.path().join("host-data");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("keep"), "host file\n").unwrap();
    let device = format!("device={}", host.display());
    env.ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        &device,
        "-o",
        "o=bind,ro",
        "hostvol",
    ]);
    let o = env.berth(&[
        "run",
        "--rm",
        "-v",
        "hostvol:/h",
        IMAGE,
        "sh",
        "-c",
        "cat /h/keep; touch /h/new 2>/dev/null || echo refused",
    ]);
    assert_eq!(o.success().out(), "host file\nrefused", "{o}");
    assert!(!host.join("new").exists());
    env.ok(&["volume", "rm", "hostvol"]);
    assert_eq!(
        std::fs::read_to_string(host.join("keep")).unwrap(),
        "host file\n"
    );

    let image = image_with_volume(&env);
    env.ok(&["volume", "create", "-o", "nocopy", "empty"]);
    let o = env.ok(&[
        "run",
        "--rm",
        "-v",
        "empty:/data",
        image,
        "ls",
        "-A",
        "/data",
    ]);
    assert_eq!(o.trim(), "");
}
